/*
 * store_sql.c - the statements, the WRITE's array parameters and the
 * reading of result rows. Every column a statement returns is read by a
 * name from the enum written next to its RETURNING or SELECT list.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sql.h"

const char store_sql_listen[] = "LISTEN ntpverify_due";

/*
 * Claim due rows. The CTE locks at most $1 rows and skips rows another
 * prober holds, so several probers share one database safely; the lease
 * token proves ownership when the result is written.
 */
const char store_sql_lease[] =
	"WITH due AS ("
	" SELECT id FROM verification"
	" WHERE state = 'pending' AND next_probe_at <= now()"
	"   AND expires_at > now()"
	"   AND created_at > now() - $4::double precision * interval '1 millisecond'"
	"   AND (lease_until IS NULL OR lease_until < now())"
	" ORDER BY next_probe_at"
	" LIMIT $1"
	" FOR UPDATE SKIP LOCKED)"
	" UPDATE verification v"
	" SET lease_owner = $2, lease_token = gen_random_uuid(),"
	"     lease_until = now() + $3::double precision * interval '1 millisecond'"
	" FROM due WHERE v.id = due.id"
	" RETURNING v.id, host(v.server_ip), v.token, v.attempts,"
	"           v.lease_token::text, v.method, v.key_id, v.key_type,"
	"           v.key_secret";

/* The columns of sql_lease's RETURNING list, in order. */
enum lease_col {
	LEASE_COL_ID,
	LEASE_COL_SERVER,
	LEASE_COL_TOKEN,
	LEASE_COL_ATTEMPTS,
	LEASE_COL_LEASE_TOKEN,
	LEASE_COL_METHOD,
	LEASE_COL_KEY_ID,
	LEASE_COL_KEY_TYPE,
	LEASE_COL_KEY_SECRET,
};

/*
 * Pending rows past their expiry end without another packet: past the web
 * site's expires_at, or older than the prober's own retry.expiry ($1 ms).
 */
const char store_sql_expire[] =
	"UPDATE verification"
	" SET state = 'expired', lease_owner = NULL, lease_token = NULL,"
	"     lease_until = NULL"
	" WHERE state = 'pending'"
	"   AND (expires_at <= now()"
	"        OR created_at <= now() - $1::double precision * interval '1 millisecond')"
	"   AND (lease_until IS NULL OR lease_until < now())"
	" RETURNING id, host(server_ip)";

/* The columns of sql_expire's RETURNING list. */
enum expire_col {
	EXPIRE_COL_ID,
	EXPIRE_COL_SERVER,
};

/*
 * Record a batch of attempts in one statement. A row is updated only while
 * it is pending and we still hold its lease; a verified result is applied
 * even after the lease was lost (it is a fact, and writing it twice is a
 * no-op because the row is then no longer pending). Rows with a NULL
 * outcome are leases given back unprobed. The audit row is inserted only
 * for attempts that were applied, so a retried write never duplicates it.
 * attempts stops at the schema's bound (migration 003's CHECK): a row the
 * web site wrote at the bound still takes its result (in bigint, so that
 * not even a row from before the CHECK can overflow it).
 */
const char store_sql_write[] =
	"WITH r AS ("
	" SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[],"
	"                      $5::inet[], $6::float8[], $7::float8[], $8::float8[])"
	"   AS r(id, lease_token, outcome, detail, source, rtt_ms, attempted_at,"
	"        retry_after)),"
	" upd AS ("
	" UPDATE verification v SET"
	"  state = CASE WHEN r.outcome = 'verified' THEN 'verified' ELSE v.state END,"
	"  attempts = LEAST(v.attempts::bigint + CASE WHEN r.outcome IS NULL THEN 0 ELSE 1 END,"
	"                   " STORE_ATTEMPTS_MAX_TEXT "),"
	"  last_probe_at = COALESCE(to_timestamp(r.attempted_at), v.last_probe_at),"
	"  last_outcome = COALESCE(r.outcome, v.last_outcome),"
	"  last_detail = CASE WHEN r.outcome IS NULL THEN v.last_detail ELSE r.detail END,"
	"  verified_at = CASE WHEN r.outcome = 'verified' THEN to_timestamp(r.attempted_at)"
	"                ELSE v.verified_at END,"
	"  verified_by = CASE WHEN r.outcome = 'verified'"
	"                THEN $9 || ' ' || host(r.source) ELSE v.verified_by END,"
	"  next_probe_at = now() + r.retry_after * interval '1 second',"
	"  lease_owner = NULL, lease_token = NULL, lease_until = NULL"
	" FROM r"
	" WHERE v.id = r.id AND v.state = 'pending'"
	"   AND (v.lease_token = r.lease_token OR r.outcome = 'verified')"
	" RETURNING v.id, host(v.server_ip) AS server, v.state, v.verified_by,"
	"           r.outcome, r.detail, r.source, r.rtt_ms, r.attempted_at),"
	" ins AS ("
	" INSERT INTO probe_attempt (verification_id, attempted_at, prober,"
	"                            source_address, outcome, detail, rtt_ms)"
	" SELECT id, to_timestamp(attempted_at), $9, source, outcome, detail, rtt_ms"
	" FROM upd WHERE outcome IS NOT NULL)"
	" SELECT id, server, state, verified_by FROM upd";

/*
 * A verified result whose full WRITE the database rejected as data: only
 * the state change, no attempt row, no detail, attempts untouched. Same
 * columns as sql_write's final SELECT.
 */
const char store_sql_write_verified[] =
	"UPDATE verification SET state = 'verified',"
	"  verified_at = to_timestamp($2::float8),"
	"  verified_by = $4 || ' ' || host($3::inet),"
	"  lease_owner = NULL, lease_token = NULL, lease_until = NULL"
	" WHERE id = $1::bigint AND state = 'pending'"
	" RETURNING id, host(server_ip) AS server, state, verified_by";

/* The columns of sql_write's final SELECT list. */
enum write_col {
	WRITE_COL_ID,
	WRITE_COL_SERVER,
	WRITE_COL_STATE,
	WRITE_COL_VERIFIED_BY,
};

/* The arrays $1..$8 of sql_write's unnest(), in order. */
enum write_param {
	WRITE_PARAM_ID,
	WRITE_PARAM_LEASE_TOKEN,
	WRITE_PARAM_OUTCOME,
	WRITE_PARAM_DETAIL,
	WRITE_PARAM_SOURCE,
	WRITE_PARAM_RTT_MS,
	WRITE_PARAM_ATTEMPTED_AT,
	WRITE_PARAM_RETRY_AFTER,
	WRITE_PARAM_PROBER, /* $9, a plain text parameter */
};

const char store_sql_count[] =
	"SELECT count(*) FROM verification WHERE state = 'pending'";

/* The one column of sql_count. */
enum count_col {
	COUNT_COL_N,
};

/* --- LEASE and EXPIRE parameters --------------------------------------- */

void store_sql_lease_params(struct store_sql_params *p, unsigned n,
			    const char *prober_name, uint64_t lease_time_ms,
			    uint64_t expiry_ms)
{
	snprintf(p->buf[0], sizeof(p->buf[0]), "%u", n);
	snprintf(p->buf[2], sizeof(p->buf[2]), "%" PRIu64, lease_time_ms);
	snprintf(p->buf[3], sizeof(p->buf[3]), "%" PRIu64, expiry_ms);
	p->values[0] = p->buf[0];
	p->values[1] = prober_name;
	p->values[2] = p->buf[2];
	p->values[3] = p->buf[3];
	p->n = 4;
}

void store_sql_expire_params(struct store_sql_params *p, uint64_t expiry_ms)
{
	snprintf(p->buf[0], sizeof(p->buf[0]), "%" PRIu64, expiry_ms);
	p->values[0] = p->buf[0];
	p->n = 1;
}

const char *store_sql_error_text(const char *msg, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%s", msg);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf[0] ? buf : "connection lost";
}

void store_sql_verified_params(struct store_sql_params *p,
			       const struct store_result *r,
			       const char *prober_name)
{
	snprintf(p->buf[0], sizeof(p->buf[0]), "%" PRId64, r->id);
	snprintf(p->buf[1], sizeof(p->buf[1]), "%.6f", r->attempted_at);
	p->values[0] = p->buf[0];
	p->values[1] = p->buf[1];
	p->values[2] = r->source[0] ? r->source : NULL;
	p->values[3] = prober_name;
	p->n = 4;
}

/* --- array literals ---------------------------------------------------- */

static void pg_array_reserve(struct pg_array *a, size_t more)
{
	if (a->len + more + 1 <= a->cap)
		return;
	size_t ncap = (a->len + more + 1) * 2;
	char *n = realloc(a->buf, ncap);
	if (n == NULL)
		abort(); /* a few kilobytes; nothing sensible left to do */
	a->buf = n;
	a->cap = ncap;
}

void pg_array_open(struct pg_array *a)
{
	a->buf = NULL;
	a->len = a->cap = 0;
	pg_array_reserve(a, 256);
	a->buf[a->len++] = '{';
	a->buf[a->len] = '\0';
}

void pg_array_push(struct pg_array *a, const char *val, bool quote)
{
	pg_array_reserve(a, (val ? strlen(val) * 2 : 4) + 4);
	char *p = a->buf + a->len;
	if (a->len > 1)
		*p++ = ',';
	if (val == NULL) {
		memcpy(p, "NULL", 4);
		p += 4;
	} else {
		if (quote)
			*p++ = '"';
		for (const char *c = val; *c; c++) {
			if (quote && (*c == '"' || *c == '\\'))
				*p++ = '\\';
			*p++ = *c;
		}
		if (quote)
			*p++ = '"';
	}
	*p = '\0';
	a->len = (size_t)(p - a->buf);
}

void pg_array_close(struct pg_array *a)
{
	pg_array_reserve(a, 1);
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
}

void pg_array_free(struct pg_array *a)
{
	free(a->buf);
	a->buf = NULL;
	a->len = a->cap = 0;
}

/* --- the WRITE's parameters -------------------------------------------- */

/* v with `decimals` digits after the point, or NULL when !present. */
static void push_double(struct pg_array *a, bool present, int decimals,
			double v)
{
	char num[64];

	if (!present) {
		pg_array_push(a, NULL, false);
		return;
	}
	snprintf(num, sizeof(num), "%.*f", decimals, v);
	pg_array_push(a, num, false);
}

static void push_result(struct pg_array *a, const struct store_result *r)
{
	char num[32];
	bool probed = r->outcome >= 0;

	snprintf(num, sizeof(num), "%" PRId64, r->id);
	pg_array_push(&a[WRITE_PARAM_ID], num, false);
	pg_array_push(&a[WRITE_PARAM_LEASE_TOKEN],
		      r->lease_token[0] ? r->lease_token : NULL, true);
	pg_array_push(&a[WRITE_PARAM_OUTCOME],
		      probed ? outcome_name((enum outcome)r->outcome) : NULL,
		      true);
	pg_array_push(&a[WRITE_PARAM_DETAIL], probed ? r->detail : NULL, true);
	pg_array_push(&a[WRITE_PARAM_SOURCE], r->source[0] ? r->source : NULL,
		      true);
	push_double(&a[WRITE_PARAM_RTT_MS], r->rtt_ms >= 0, 3, r->rtt_ms);
	push_double(&a[WRITE_PARAM_ATTEMPTED_AT], probed, 6,
		    r->attempted_at);
	push_double(&a[WRITE_PARAM_RETRY_AFTER], true, 3,
		    r->retry_after_s);
}

void store_write_params_build(struct store_write_params *wp,
			      const struct store_result *head, unsigned limit,
			      const char *prober_name)
{
	wp->n = 0;
	for (int i = 0; i < STORE_WRITE_ARRAYS; i++)
		pg_array_open(&wp->arrays[i]);
	for (const struct store_result *r = head; r && wp->n < limit;
	     r = r->next, wp->n++)
		push_result(wp->arrays, r);
	for (int i = 0; i < STORE_WRITE_ARRAYS; i++) {
		pg_array_close(&wp->arrays[i]);
		wp->values[i] = wp->arrays[i].buf;
	}
	wp->values[WRITE_PARAM_PROBER] = prober_name;
}

void store_write_params_free(struct store_write_params *wp)
{
	for (int i = 0; i < STORE_WRITE_ARRAYS; i++)
		pg_array_free(&wp->arrays[i]);
}

/* --- result rows -------------------------------------------------------- */

static int64_t col_int64(const PGresult *res, int i, int col)
{
	return strtoll(PQgetvalue(res, i, col), NULL, 10);
}

static void col_copy(const PGresult *res, int i, int col, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s", PQgetvalue(res, i, col));
}

void store_sql_lease_row(const PGresult *res, int i, struct store_lease *l)
{
	memset(l, 0, sizeof(*l));
	l->id = col_int64(res, i, LEASE_COL_ID);
	col_copy(res, i, LEASE_COL_SERVER, l->server, sizeof(l->server));
	col_copy(res, i, LEASE_COL_TOKEN, l->token, sizeof(l->token));
	l->attempts = atoi(PQgetvalue(res, i, LEASE_COL_ATTEMPTS));
	col_copy(res, i, LEASE_COL_LEASE_TOKEN, l->lease_token,
		 sizeof(l->lease_token));
	l->key_method = strcmp(PQgetvalue(res, i, LEASE_COL_METHOD), "key") == 0;
	if (l->key_method) {
		l->key_id = (unsigned)atoi(PQgetvalue(res, i, LEASE_COL_KEY_ID));
		col_copy(res, i, LEASE_COL_KEY_TYPE, l->key_type,
			 sizeof(l->key_type));
		col_copy(res, i, LEASE_COL_KEY_SECRET, l->key_secret,
			 sizeof(l->key_secret));
	}
}

void store_sql_written_row(const PGresult *res, int i,
			   struct store_written *out)
{
	out->id = col_int64(res, i, WRITE_COL_ID);
	out->server = PQgetvalue(res, i, WRITE_COL_SERVER);
	out->state = verification_state_parse(PQgetvalue(res, i, WRITE_COL_STATE));
	out->verified_by = PQgetvalue(res, i, WRITE_COL_VERIFIED_BY);
}

int64_t store_sql_written_id(const PGresult *res, int i)
{
	return col_int64(res, i, WRITE_COL_ID);
}

void store_sql_expired_row(const PGresult *res, int i,
			   struct store_written *out)
{
	out->id = col_int64(res, i, EXPIRE_COL_ID);
	out->server = PQgetvalue(res, i, EXPIRE_COL_SERVER);
	out->state = VERIFICATION_EXPIRED;
	out->verified_by = "";
}

bool store_sql_written_has(const PGresult *res, int64_t id)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (col_int64(res, i, WRITE_COL_ID) == id)
			return true;
	return false;
}

int64_t store_sql_count_value(const PGresult *res)
{
	return col_int64(res, 0, COUNT_COL_N);
}

/* --- verification states ------------------------------------------------ */

static const char *const verification_state_names[] = {
	[VERIFICATION_PENDING] = "pending",
	[VERIFICATION_VERIFIED] = "verified",
	[VERIFICATION_EXPIRED] = "expired",
	[VERIFICATION_CANCELLED] = "cancelled",
	[VERIFICATION_UNKNOWN] = "unknown",
};

const char *verification_state_name(enum verification_state s)
{
	if ((unsigned)s > VERIFICATION_UNKNOWN)
		s = VERIFICATION_UNKNOWN;
	return verification_state_names[s];
}

enum verification_state verification_state_parse(const char *text)
{
	for (unsigned s = 0; s < VERIFICATION_UNKNOWN; s++)
		if (strcmp(text, verification_state_names[s]) == 0)
			return (enum verification_state)s;
	return VERIFICATION_UNKNOWN;
}
