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

/*
 * After connecting: our session waits at most lock_timeout_ms (0: as long
 * as it takes) for a row lock another session holds, then fails with
 * 55P03 instead of stalling every statement behind it; and LISTEN.
 */
void store_sql_listen_text(char *buf, size_t len, uint64_t lock_timeout_ms)
{
	snprintf(buf, len, "SET lock_timeout = %" PRIu64 "; LISTEN ntpverify_due",
		 lock_timeout_ms);
}

/*
 * Claim our perspective's due rows ($5): ntpverify_lease() (migration 10,
 * sql/schema.sql) locks at most $1 rows of verification_probe in
 * next_probe_at order and skips rows another prober of the same
 * perspective holds; other perspectives have rows of their own and never
 * block us. The lease token proves ownership when the result is written.
 * $2 prober_name, $3 the lease's length and $4 retry.expiry in ms.
 */
const char store_sql_lease[] =
	"SELECT id, server, token, attempts, lease_token, method, key_id,"
	"       key_type, key_secret, proof_version, refid_code"
	" FROM ntpverify_lease($1::integer, $2, $3::double precision,"
	" $4::double precision, $5)";

/* The columns of sql_lease's SELECT list, in order. */
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
	LEASE_COL_PROOF_VERSION,
	LEASE_COL_REFID_CODE,
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
	"   AND NOT EXISTS (SELECT 1 FROM verification_probe p"
	"       WHERE p.verification_id = verification.id AND p.active"
	"         AND p.lease_until >= now())"
	" RETURNING id, host(server_ip)";

/* The columns of sql_expire's RETURNING list. */
enum expire_col {
	EXPIRE_COL_ID,
	EXPIRE_COL_SERVER,
};

/*
 * Record a batch of attempts in one statement: ntpverify_record() (see
 * sql/schema.sql) applies them to our perspective's rows while the row is
 * pending and the lease is ours (a verified result also without it, once),
 * writes the audit rows and takes the quorum decision, atomically. Rows
 * with a NULL outcome are leases given back unprobed. $3 false: a verified
 * result alone, without its audit row (the database rejected that).
 */
const char store_sql_write[] =
	"SELECT id, server, state, verified_by, next_in, corroborated, decided"
	" FROM ntpverify_record("
	" $1, $2, $3::boolean, $4::bigint[], $5::uuid[], $6::text[], $7::text[],"
	" $8::inet[], $9::float8[], $10::float8[], $11::float8[],"
	" $12::boolean[], $13::integer[])";

/*
 * Register our perspective and process: $1 perspective, $2 region, $3 the
 * source addresses we publish now, $4 prober_name. The heartbeat takes the
 * same parameters and only refreshes last_seen (migration 9).
 */
const char store_sql_register[] =
	"SELECT ntpverify_register($1, $2, $3::inet[], $4)";
const char store_sql_heartbeat[] =
	"SELECT ntpverify_heartbeat($1, $2, $3::inet[], $4)";

/* The columns of sql_write's final SELECT list. */
enum write_col {
	WRITE_COL_ID,
	WRITE_COL_SERVER,
	WRITE_COL_STATE,
	WRITE_COL_VERIFIED_BY,
	WRITE_COL_NEXT_IN,
	WRITE_COL_CORROBORATED,
	WRITE_COL_DECIDED,
};

/* The arrays $4..$13 of sql_write, in order (indexes into arrays[]). */
enum write_param {
	WRITE_PARAM_ID,
	WRITE_PARAM_LEASE_TOKEN,
	WRITE_PARAM_OUTCOME,
	WRITE_PARAM_DETAIL,
	WRITE_PARAM_SOURCE,
	WRITE_PARAM_RTT_MS,
	WRITE_PARAM_ATTEMPTED_AT,
	WRITE_PARAM_RETRY_AFTER,
	WRITE_PARAM_CONTRARY,
	WRITE_PARAM_PROOF_VERSION,
};

/* The scalar parameters before the arrays. */
#define WRITE_SCALARS 3 /* $1 perspective, $2 prober, $3 audit */

/*
 * Pending rows, and the exceptions (migration 8: rows an admin linked and
 * that await approval, rows verified by an admin's exception). Each count
 * reads a partial index: one of those on pending rows
 * (verification_expiring), verification_by_exception.
 */
const char store_sql_count[] =
	"SELECT count(*),"
	" (SELECT count(*) FROM verification"
	"  WHERE proof <> 'ntp' AND state = 'awaiting_approval'),"
	" (SELECT count(*) FROM verification"
	"  WHERE proof <> 'ntp' AND state = 'verified')"
	" FROM verification WHERE state = 'pending'";

/* The columns of sql_count. */
enum count_col {
	COUNT_COL_N,
	COUNT_COL_AWAITING,
	COUNT_COL_EXCEPTIONS,
};

/* --- LEASE and EXPIRE parameters --------------------------------------- */

void store_sql_lease_params(struct store_sql_params *p, unsigned n,
			    const char *prober_name, uint64_t lease_time_ms,
			    uint64_t expiry_ms, const char *perspective)
{
	snprintf(p->buf[0], sizeof(p->buf[0]), "%u", n);
	snprintf(p->buf[2], sizeof(p->buf[2]), "%" PRIu64, lease_time_ms);
	snprintf(p->buf[3], sizeof(p->buf[3]), "%" PRIu64, expiry_ms);
	p->values[0] = p->buf[0];
	p->values[1] = prober_name;
	p->values[2] = p->buf[2];
	p->values[3] = p->buf[3];
	p->values[4] = perspective;
	p->n = 5;
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

char *store_sql_sources_literal(const char *const *sources, size_t n)
{
	struct pg_array a;

	pg_array_open(&a);
	for (size_t i = 0; i < n; i++)
		pg_array_push(&a, sources[i], true);
	pg_array_close(&a);
	return a.buf;
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
	pg_array_push(&a[WRITE_PARAM_CONTRARY], r->contrary ? "t" : "f", false);
	snprintf(num, sizeof(num), "%d", r->proof_version);
	pg_array_push(&a[WRITE_PARAM_PROOF_VERSION], num, false);
}

void store_write_params_build(struct store_write_params *wp,
			      const struct store_result *head, unsigned limit,
			      const struct store_write_who *who)
{
	wp->n = 0;
	for (int i = 0; i < STORE_WRITE_ARRAYS; i++)
		pg_array_open(&wp->arrays[i]);
	for (const struct store_result *r = head; r && wp->n < limit;
	     r = r->next, wp->n++)
		push_result(wp->arrays, r);
	wp->values[0] = who->perspective;
	wp->values[1] = who->prober_name;
	wp->values[2] = who->audit ? "t" : "f";
	for (int i = 0; i < STORE_WRITE_ARRAYS; i++) {
		pg_array_close(&wp->arrays[i]);
		wp->values[WRITE_SCALARS + i] = wp->arrays[i].buf;
	}
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
	l->refid_method = strcmp(PQgetvalue(res, i, LEASE_COL_METHOD),
				 "refid") == 0;
	if (l->refid_method)
		col_copy(res, i, LEASE_COL_REFID_CODE, l->refid_code,
			 sizeof(l->refid_code));
	l->proof_version = atoi(PQgetvalue(res, i, LEASE_COL_PROOF_VERSION));
}

void store_sql_written_row(const PGresult *res, int i,
			   struct store_written *out)
{
	out->id = col_int64(res, i, WRITE_COL_ID);
	out->server = PQgetvalue(res, i, WRITE_COL_SERVER);
	out->state = verification_state_parse(PQgetvalue(res, i, WRITE_COL_STATE));
	out->verified_by = PQgetvalue(res, i, WRITE_COL_VERIFIED_BY);
	out->next_in_s = PQgetisnull(res, i, WRITE_COL_NEXT_IN)
				 ? -1
				 : strtod(PQgetvalue(res, i, WRITE_COL_NEXT_IN), NULL);
	out->corroborated = PQgetisnull(res, i, WRITE_COL_CORROBORATED) == 0 &&
			    PQgetvalue(res, i, WRITE_COL_CORROBORATED)[0] == 't';
	out->decided = PQgetisnull(res, i, WRITE_COL_DECIDED) == 0 &&
		       PQgetvalue(res, i, WRITE_COL_DECIDED)[0] == 't';
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
	out->next_in_s = -1;
	out->corroborated = out->decided = false;
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

void store_sql_count_exceptions(const PGresult *res, int64_t out[2])
{
	out[0] = col_int64(res, 0, COUNT_COL_AWAITING);
	out[1] = col_int64(res, 0, COUNT_COL_EXCEPTIONS);
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
