/*
 * admin_db.c - the admin commands' queries on the verification queue
 * (see admin_db.h), over one blocking libpq connection.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin_db_int.h"
#include "store/migrate.h"
#include "store/pg_rows.h"

/* Discard NOTICEs: nothing these commands run is worth one on stderr. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Remember `msg` without its trailing newlines and blanks. */
static void set_error_text(struct admin_db *db, const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	free(db->err);
	db->err = strndup(msg, n);
}

/* The primary message of a failed statement: never its DETAIL. */
static void set_error(struct admin_db *db, const PGresult *r)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", st ? st : "");
	if (m == NULL || *m == '\0')
		m = PQerrorMessage(db->conn);
	set_error_text(db, m);
}

const char *admin_db_error(const struct admin_db *db)
{
	return db->err ? db->err : "out of memory";
}

const char *admin_db_hint_for(const char *sqlstate)
{
	if (sqlstate == NULL)
		return NULL;
	if (strcmp(sqlstate, "42501") == 0)
		return "this database role may not do that: the admin "
		       "commands need the role that owns the tables (the "
		       "admin configuration, not the prober's; see "
		       "docs/admins.md)";
	if (strcmp(sqlstate, "42P01") == 0 || strcmp(sqlstate, "42703") == 0)
		return "the schema is missing or old: run 'ntpverify migrate'";
	if (strcmp(sqlstate, "3D000") == 0 || strncmp(sqlstate, "28", 2) == 0)
		return "check the connection string (the 'database' setting: "
		       "dbname, user, password)";
	return NULL;
}

const char *admin_db_hint(const struct admin_db *db)
{
	return admin_db_hint_for(db->sqlstate);
}

/*
 * libpq's connection failure on one line: "connection to server ...
 * failed: FATAL:  role ..." loses its line breaks and doubled blanks.
 */
static void one_line(const char *msg, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = msg; *p != '\0' && o + 1 < len; p++) {
		char ch = *p == '\n' || *p == '\t' ? ' ' : *p;

		if (ch == ' ' && (o == 0 || out[o - 1] == ' '))
			continue;
		out[o++] = ch;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

struct admin_db *admin_db_open(const char *conninfo, char *err, size_t errlen)
{
	struct admin_db *db = calloc(1, sizeof(*db));

	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->conn = PQconnectdb(conninfo);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		/* libpq's message names host and user, never the password. */
		if (db->conn == NULL)
			snprintf(err, errlen, "out of memory");
		else
			one_line(PQerrorMessage(db->conn), err, errlen);
		admin_db_close(db);
		return NULL;
	}
	PQsetNoticeProcessor(db->conn, quiet_notice, NULL);
	return db;
}

void admin_db_close(struct admin_db *db)
{
	if (db == NULL)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db->err);
	free(db);
}

int admin_db_schema_latest(void)
{
	return migrate_latest();
}

int admin_db_schema_current(struct admin_db *db, int *version)
{
	if (migrate_current(db->conn, version) < 0) {
		set_error(db, NULL);
		return -1;
	}
	return 0;
}

/*
 * Copy migrate's "applied migration" lines to log and keep the first
 * other line as the reason, without its "migrate: " and "ERROR:  ": the
 * LINE/caret block libpq adds is dropped.
 */
static void migrate_report(const char *report, FILE *log, char *reason,
			   size_t len)
{
	reason[0] = '\0';
	for (const char *p = report; *p != '\0';) {
		size_t n = strcspn(p, "\n");
		const char *e;

		if (strncmp(p, "migrate: applied ", 17) == 0) {
			/* Only `ntpverify migrate` calls this: its prefix. */
			fprintf(log, "ntpverify %.*s\n", (int)n, p);
		} else if (reason[0] == '\0') {
			if (strncmp(p, "migrate: ", 9) == 0) {
				p += 9;
				n -= 9;
			}
			e = strstr(p, "ERROR:  ");
			if (e != NULL && (size_t)(e - p) < n)
				snprintf(reason, len, "%.*s%.*s", (int)(e - p),
					 p, (int)(n - (size_t)(e - p) - 8),
					 e + 8);
			else
				snprintf(reason, len, "%.*s", (int)n, p);
		}
		p += n;
		if (*p == '\n')
			p++;
	}
}

int admin_db_migrate(struct admin_db *db, FILE *log)
{
	char *report = NULL, reason[512];
	size_t report_len = 0;
	FILE *mem = open_memstream(&report, &report_len);
	int rc;

	if (mem == NULL)
		return migrate_apply(db->conn, log);
	rc = migrate_apply(db->conn, mem);
	fclose(mem);
	migrate_report(report ? report : "", log, reason, sizeof(reason));
	if (rc != 0) {
		/* The code for the hint went with the result; its words did
		 * not (an English server's: otherwise no hint). */
		set_error_text(db, reason[0] ? reason : "failed");
		snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
			 strstr(reason, "permission denied") ||
					 strstr(reason, "must be owner")
				 ? "42501" : "");
	}
	free(report);
	return rc;
}

/*
 * Run `sql` with text parameters; the result when it returned rows, NULL
 * (error recorded) otherwise. The caller PQclear()s it.
 */
static PGresult *query(struct admin_db *db, const char *sql, int n,
		       const char *const *values)
{
	PGresult *r = PQexecParams(db->conn, sql, n, NULL, values, NULL, NULL,
				   0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		set_error(db, r);
		PQclear(r);
		return NULL;
	}
	return r;
}

PGresult *admin_db_exec(struct admin_db *db, const char *sql, int n,
			const char *const *values)
{
	return query(db, sql, n, values);
}

void admin_db_fail(struct admin_db *db, const char *msg)
{
	set_error_text(db, msg);
	db->sqlstate[0] = '\0';
}

/* A query on one id ($1) returning rows; see query(). */
static PGresult *query_id(struct admin_db *db, const char *sql, int64_t id)
{
	char idtext[24];
	const char *values[1] = { idtext };

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	return query(db, sql, 1, values);
}

/* Copy a cell into a fixed buffer (short values: times, hosts). */
static void cell_copy(const PGresult *r, int row, int c, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s", PQgetvalue(r, row, c));
}

/* ---- add -------------------------------------------------------------- */

enum admin_db_result admin_db_add(struct admin_db *db,
				  const struct admin_db_new *v,
				  struct admin_db_added *out)
{
	/* ON CONFLICT names (a predicate implying) the partial unique
	 * index's, so only "another open row for this address" (pending or
	 * awaiting approval) is swallowed. */
#define ADD_ON_CONFLICT \
	" ON CONFLICT (server_ip) WHERE state = 'pending' DO NOTHING" \
	" RETURNING id, " SQL_UTC("expires_at")
	static const char sql_insert_token[] =
		"INSERT INTO verification (server_ip, token)"
		" VALUES ($1::inet, $2)" ADD_ON_CONFLICT;
	static const char sql_insert_key[] =
		"INSERT INTO verification"
		"  (server_ip, method, key_id, key_type, key_secret)"
		" VALUES ($1::inet, 'key', $2::integer, $3, $4)" ADD_ON_CONFLICT;
	static const char sql_insert_refid[] =
		"INSERT INTO verification (server_ip, method, refid_code)"
		" VALUES ($1::inet, 'refid', $2)" ADD_ON_CONFLICT;
#undef ADD_ON_CONFLICT
	static const char sql_pending[] =
		"SELECT id FROM verification"
		" WHERE server_ip = $1::inet"
		" AND state IN ('pending', 'awaiting_approval')";
	bool key = v->key_hex != NULL;
	char key_id[12];
	const char *values[4] = { v->server, v->token };
	const char *insert = key ? sql_insert_key : sql_insert_token;
	int n_values = key ? 4 : 2;

	memset(out, 0, sizeof(*out));
	if (key) {
		snprintf(key_id, sizeof(key_id), "%u", v->key_id);
		values[1] = key_id;
		values[2] = v->key_type;
		values[3] = v->key_hex;
	} else if (v->refid_code != NULL) {
		values[1] = v->refid_code;
		insert = sql_insert_refid;
	}
	/* Twice at most: the pending row we collide with may finish between
	 * the INSERT and the SELECT. */
	for (int tries = 0; tries < 2; tries++) {
		PGresult *r = query(db, insert, n_values, values);

		if (r == NULL)
			return ADMIN_DB_ERROR;
		if (PQntuples(r) == 1) {
			out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			cell_copy(r, 0, 1, out->expires, sizeof(out->expires));
			PQclear(r);
			return ADMIN_DB_DONE;
		}
		PQclear(r);
		r = query(db, sql_pending, 1, values);
		if (r == NULL)
			return ADMIN_DB_ERROR;
		if (PQntuples(r) == 1) {
			out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			PQclear(r);
			return ADMIN_DB_PENDING;
		}
		PQclear(r);
	}
	return ADMIN_DB_RACE;
}

/* ---- list ------------------------------------------------------------- */

/* The fields of a row in column order. */
static int list_fields(void *elem, char **dst[])
{
	struct admin_db_row *x = elem;
	char **const f[] = { &x->id, &x->server, &x->method, &x->state,
		&x->attempts, &x->last_outcome, &x->next_probe, &x->expires,
		&x->method_name, &x->key_id, &x->key_type, &x->next_probe_at,
		&x->leased, &x->quorum, &x->refid_code, &x->proof };

	_Static_assert(sizeof(f) / sizeof(f[0]) <= PG_ROWS_MAX_FIELDS, "");
	memcpy(dst, f, sizeof(f));
	return (int)(sizeof(f) / sizeof(f[0]));
}

static const struct pg_rows_kind list_rows = {
	sizeof(struct admin_db_row), list_fields,
};

enum admin_db_result admin_db_list(struct admin_db *db, const char *state,
				   struct admin_db_rows *out)
{
	static const char sql[] =
		"SELECT id, host(server_ip),"
		"  CASE method WHEN 'key' THEN 'key ' || key_id || ' ' || key_type"
		"       WHEN 'refid' THEN 'refid ' || refid_code ELSE method END,"
		"  state, attempts, coalesce(last_outcome, '-'),"
		"  CASE WHEN state <> 'pending' THEN '-'"
		"       WHEN " SQL_PROBING " THEN 'probing now'"
		"       ELSE " SQL_UTC("next_probe_at") " END,"
		"  " SQL_UTC("expires_at") ", method, key_id, key_type,"
		"  CASE WHEN state = 'pending' THEN " SQL_UTC("next_probe_at")
		"  END,"
		"  CASE WHEN state = 'pending' AND " SQL_PROBING " THEN 't' ELSE 'f' END,"
		"  (SELECT g.corroborating || '/' || g.quorum FROM verification_progress g"
		"   WHERE g.verification_id = verification.id"
		"   AND EXISTS (SELECT 1 FROM perspective)),"
		"  coalesce(refid_code, '-'), proof"
		" FROM verification"
		" WHERE $1::text IS NULL OR state = $1::text"
		" ORDER BY id";
	const char *values[1] = { state };
	PGresult *r = query(db, sql, 1, values);
	void *arr;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	ok = pg_rows_copy(r, &list_rows, &arr, &out->n);
	out->row = arr;
	PQclear(r);
	if (!ok) {
		admin_db_rows_free(out);
		set_error_text(db, "out of memory");
		return ADMIN_DB_ERROR;
	}
	return ADMIN_DB_DONE;
}

void admin_db_rows_free(struct admin_db_rows *rows)
{
	pg_rows_free(rows->row, rows->n, &list_rows);
	memset(rows, 0, sizeof(*rows));
}

/* ---- show ------------------------------------------------------------- */

#define VERIFICATION_FIELDS(x) { &(x)->id, &(x)->server, &(x)->state, \
	&(x)->token_len, &(x)->created, &(x)->expires, &(x)->next_probe, \
	&(x)->attempts, &(x)->last_probe, &(x)->last_outcome, \
	&(x)->last_detail, &(x)->lease_owner, &(x)->lease_until, \
	&(x)->verified_at, &(x)->verified_by, &(x)->method, &(x)->key_id, \
	&(x)->key_type, &(x)->refid_code, &(x)->proof }
#define VERIFICATION_NFIELDS 20

enum admin_db_result admin_db_show(struct admin_db *db, int64_t id,
				   struct admin_db_verification *out)
{
	/* length(token) and the key's ID and type, never the secrets. */
	static const char sql[] =
		"SELECT id, host(server_ip), state, length(token),"
		"  " SQL_UTC("created_at") ", " SQL_UTC("expires_at") ","
		"  CASE WHEN state = 'pending' THEN " SQL_UTC("next_probe_at")
		"  END, attempts, " SQL_UTC("last_probe_at") ","
		"  last_outcome, last_detail,"
		"  (SELECT string_agg(p.lease_owner, ', ') FROM verification_probe p"
		"   WHERE p.verification_id = id AND p.lease_until > now()),"
		"  (SELECT " SQL_UTC("max(p.lease_until)") " FROM verification_probe p"
		"   WHERE p.verification_id = id AND p.lease_until > now()),"
		"  " SQL_UTC("verified_at") ", verified_by,"
		"  method, key_id, key_type, refid_code, proof"
		" FROM verification WHERE id = $1::bigint";
	char **const dst[VERIFICATION_NFIELDS] = VERIFICATION_FIELDS(out);
	PGresult *r = query_id(db, sql, id);
	enum admin_db_result rc = ADMIN_DB_DONE;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	if (PQntuples(r) == 0) {
		rc = ADMIN_DB_NONE;
	} else if (!pg_cells(r, 0, dst, VERIFICATION_NFIELDS, NULL)) {
		admin_db_verification_free(out);
		set_error_text(db, "out of memory");
		rc = ADMIN_DB_ERROR;
	}
	PQclear(r);
	return rc;
}

void admin_db_verification_free(struct admin_db_verification *v)
{
	char **const dst[VERIFICATION_NFIELDS] = VERIFICATION_FIELDS(v);

	pg_cells_free(dst, VERIFICATION_NFIELDS);
}

static int attempt_fields(void *elem, char **dst[])
{
	struct admin_db_attempt *x = elem;
	char **const f[] = { &x->at, &x->prober, &x->source, &x->outcome,
		&x->rtt, &x->detail, &x->rtt_ms };

	_Static_assert(sizeof(f) / sizeof(f[0]) <= PG_ROWS_MAX_FIELDS, "");
	memcpy(dst, f, sizeof(f));
	return (int)(sizeof(f) / sizeof(f[0]));
}

static const struct pg_rows_kind attempt_rows = {
	sizeof(struct admin_db_attempt), attempt_fields,
};

enum admin_db_result admin_db_attempts(struct admin_db *db, int64_t id,
				       struct admin_db_attempts *out)
{
	static const char sql[] =
		"SELECT " SQL_UTC("attempted_at") ", prober,"
		"  coalesce(host(source_address), '-'), outcome,"
		"  CASE WHEN rtt_ms IS NULL THEN '-'"
		"       ELSE to_char(rtt_ms, 'FM999990.000') || ' ms' END,"
		"  coalesce(detail, ''),"
		"  coalesce(to_char(rtt_ms, 'FM999990.000'), '-')"
		" FROM probe_attempt WHERE verification_id = $1::bigint"
		" ORDER BY attempted_at, id";
	PGresult *r = query_id(db, sql, id);
	void *arr;
	bool ok;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	ok = pg_rows_copy(r, &attempt_rows, &arr, &out->n);
	out->a = arr;
	PQclear(r);
	if (!ok) {
		admin_db_attempts_free(out);
		set_error_text(db, "out of memory");
		return ADMIN_DB_ERROR;
	}
	return ADMIN_DB_DONE;
}

void admin_db_attempts_free(struct admin_db_attempts *list)
{
	pg_rows_free(list->a, list->n, &attempt_rows);
	memset(list, 0, sizeof(*list));
}

/* ---- retry and cancel ------------------------------------------------- */

enum admin_db_result admin_db_retry(struct admin_db *db, int64_t id,
				    struct admin_db_change *out)
{
	/*
	 * Due now. A lease that ran out (its prober died) is cleared too, so
	 * the trigger's "not leased" test passes and the probers are woken;
	 * a live lease is left alone: that probe is under way.
	 */
	static const char sql[] =
		"UPDATE verification SET next_probe_at = now(),"
		"  lease_owner = CASE WHEN lease_until > now() THEN lease_owner END,"
		"  lease_token = CASE WHEN lease_until > now() THEN lease_token END,"
		"  lease_until = CASE WHEN lease_until > now() THEN lease_until END"
		" WHERE id = $1::bigint AND state = 'pending'"
		" RETURNING lease_token IS NOT NULL OR " SQL_PROBING ","
		"  expires_at <= now(),"
		"  " SQL_UTC("expires_at");
	PGresult *r = query_id(db, sql, id);

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return ADMIN_DB_NONE;
	}
	out->leased = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	out->expired = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	cell_copy(r, 0, 2, out->expires, sizeof(out->expires));
	PQclear(r);
	return ADMIN_DB_DONE;
}

enum admin_db_result admin_db_cancel(struct admin_db *db, int64_t id,
				     struct admin_db_change *out)
{
	/*
	 * Clearing the lease makes a probe in flight lose it, so its result
	 * is discarded rather than written over the cancellation.
	 */
	static const char sql[] =
		"UPDATE verification SET state = 'cancelled',"
		"  lease_owner = NULL, lease_token = NULL, lease_until = NULL"
		" WHERE id = $1::bigint"
		" AND state IN ('pending', 'awaiting_approval')"
		" RETURNING host(server_ip)";
	PGresult *r = query_id(db, sql, id);

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return ADMIN_DB_NONE;
	}
	cell_copy(r, 0, 0, out->server, sizeof(out->server));
	PQclear(r);
	return ADMIN_DB_DONE;
}

enum admin_db_result admin_db_state(struct admin_db *db, int64_t id,
				    char *state, size_t len)
{
	PGresult *r = query_id(db, "SELECT state FROM verification"
				   " WHERE id = $1::bigint", id);
	enum admin_db_result rc = ADMIN_DB_NONE;

	if (r == NULL)
		return ADMIN_DB_ERROR;
	if (PQntuples(r) > 0) {
		cell_copy(r, 0, 0, state, len);
		rc = ADMIN_DB_DONE;
	}
	PQclear(r);
	return rc;
}
