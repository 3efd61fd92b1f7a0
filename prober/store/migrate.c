/*
 * migrate.c - apply the embedded sql/migrations/ to a database.
 *
 * Every step runs in a transaction that first takes one transaction-level
 * advisory lock, so two probers starting at once (or `ntpverify migrate`
 * run beside a starting daemon) apply each migration exactly once: the
 * second waits for the lock, then sees the version already recorded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrate.h"

/*
 * "ntpverif" as a big-endian 64-bit number: one lock key for the whole
 * schema, unlikely to collide with an application's own advisory locks.
 */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(7959110095280957798)"

/*
 * schema_version as 001_initial.sql defines it (there with IF NOT EXISTS):
 * it must exist before we can ask which migrations are applied.
 * admin_db.sh compares the resulting schema with sql/schema.sql.
 */
static const char sql_create_version_table[] =
	"CREATE TABLE IF NOT EXISTS schema_version ("
	" version integer PRIMARY KEY,"
	" applied_at timestamptz NOT NULL DEFAULT now(),"
	" description text NOT NULL)";

/*
 * The roles that may create objects in the schema the migrations go to
 * but hold neither the schema owner's nor our rights (PUBLIC: every role,
 * the default of schema public before PostgreSQL 15; a group role counts
 * by what its members could do, not by our being in it). An operator or
 * function such a role plants there runs inside ntpverify's functions
 * with the rights of whoever calls them, the owner's among them: migrate
 * refuses such a schema. By name, not through regnamespace, which would
 * fold the case of a quoted name.
 */
static const char sql_schema_creators[] =
	"SELECT quote_ident(n.nspname), string_agg(CASE WHEN a.grantee = 0"
	"  THEN 'PUBLIC' ELSE a.grantee::regrole::text END, ', '"
	"  ORDER BY a.grantee), quote_ident(current_user),"
	"  n.nspowner::regrole::text"
	" FROM pg_namespace n,"
	"  aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a"
	" WHERE n.nspname = current_schema()"
	"  AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner"
	"  AND (a.grantee = 0"
	"       OR NOT (pg_has_role(a.grantee, n.nspowner, 'MEMBER')"
	"               OR pg_has_role(a.grantee, current_user, 'MEMBER')"
	"               OR coalesce((SELECT r.rolsuper FROM pg_roles r"
	"                            WHERE r.oid = a.grantee), false)))"
	" GROUP BY n.nspname, n.nspowner";

/* libpq's error text without its trailing newline. */
static void log_pg_error(FILE *log, const char *what, const char *msg)
{
	size_t n = strlen(msg);

	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	if (log)
		fprintf(log, "migrate: %s: %.*s\n", what, (int)n, msg);
}

/* Run one statement (or several without parameters); 0 when it succeeded. */
static int exec_ok(PGconn *conn, const char *sql, FILE *log, const char *what)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	int rc = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_pg_error(log, what,
			     r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

/* After a failure: leave no transaction open on the caller's connection. */
static void rollback(PGconn *conn)
{
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
}

/* Start a transaction holding the migration lock, notices silenced. */
static int begin_locked(PGconn *conn, FILE *log)
{
	/*
	 * IF NOT EXISTS and friends send NOTICEs that libpq would print to
	 * stderr; they are expected here and say nothing useful.
	 */
	if (exec_ok(conn, "BEGIN", log, "BEGIN") < 0 ||
	    exec_ok(conn, "SET LOCAL client_min_messages = warning", log,
		    "SET client_min_messages") < 0 ||
	    exec_ok(conn, MIGRATE_LOCK_SQL, log, "advisory lock") < 0) {
		rollback(conn);
		return -1;
	}
	return 0;
}

static int commit(PGconn *conn, FILE *log)
{
	if (exec_ok(conn, "COMMIT", log, "COMMIT") < 0) {
		rollback(conn);
		return -1;
	}
	return 0;
}

/* *found = whether schema_version has `version`. */
static int version_recorded(PGconn *conn, int version, int *found, FILE *log)
{
	char v[16];
	const char *values[1] = { v };
	PGresult *r;
	int rc = 0;

	snprintf(v, sizeof(v), "%d", version);
	r = PQexecParams(conn,
			 "SELECT 1 FROM schema_version WHERE version = $1::integer",
			 1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_pg_error(log, "reading schema_version",
			     r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
		rc = -1;
	} else {
		*found = PQntuples(r) > 0;
	}
	PQclear(r);
	return rc;
}

/* 0 when nobody but the trusted roles may create in our schema. */
static int schema_closed(PGconn *conn, FILE *log)
{
	PGresult *r = PQexec(conn, sql_schema_creators);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_pg_error(log, "reading the schema's rights",
			     r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
		rc = -1;
	} else if (PQntuples(r) > 0) {
		/*
		 * Before PostgreSQL 15 schema public belongs to postgres and
		 * we create in it through PUBLIC's right: the owner hands that
		 * right to us first, then takes the others'.
		 */
		if (log)
			fprintf(log,
				"migrate: schema %s: %s may create objects in "
				"it, and ntpverify's functions would then run "
				"theirs; as its owner (%s): GRANT CREATE "
				"ON SCHEMA %s TO %s; REVOKE CREATE ON SCHEMA %s "
				"FROM %s (docs/admins.md)\n",
				PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
				PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 0),
				PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 0),
				PQgetvalue(r, 0, 1));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

static int ensure_version_table(PGconn *conn, FILE *log)
{
	if (begin_locked(conn, log) < 0)
		return -1;
	if (exec_ok(conn, sql_create_version_table, log,
		    "creating schema_version") < 0) {
		rollback(conn);
		return -1;
	}
	return commit(conn, log);
}

/* Apply one migration unless it is recorded; *applied says which. */
static int apply_one(PGconn *conn, const struct migration *m, int *applied,
		     FILE *log)
{
	char what[128];
	int found = 0;

	*applied = 0;
	if (begin_locked(conn, log) < 0)
		return -1;
	if (version_recorded(conn, m->version, &found, log) < 0)
		goto fail;
	if (found)
		return commit(conn, log);

	snprintf(what, sizeof(what), "migration %03d (%s) failed", m->version,
		 m->name);
	/* A migration file is several statements: the simple-query protocol
	 * runs them all inside our transaction. */
	if (exec_ok(conn, m->sql, log, what) < 0)
		goto fail;
	if (version_recorded(conn, m->version, &found, log) < 0)
		goto fail;
	if (!found) {
		/* A file that forgets its INSERT would be applied again on
		 * every start: refuse it instead. */
		if (log)
			fprintf(log, "migrate: migration %03d (%s) did not "
				     "record itself in schema_version\n",
				m->version, m->name);
		goto fail;
	}
	if (commit(conn, log) < 0)
		return -1;
	*applied = 1;
	return 0;
fail:
	rollback(conn);
	return -1;
}

int migrate_latest(void)
{
	return migration_count > 0 ? migration_table[migration_count - 1].version
				   : 0;
}

int migrate_current(PGconn *conn, int *version)
{
	PGresult *r;
	int exists;

	r = PQexec(conn, "SELECT to_regclass('schema_version') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!exists) {
		*version = 0;
		return 0;
	}
	r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	*version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

int migrate_apply(PGconn *conn, FILE *log)
{
	int current = 0;

	if (PQstatus(conn) != CONNECTION_OK) {
		log_pg_error(log, "not connected", PQerrorMessage(conn));
		return -1;
	}
	if (schema_closed(conn, log) < 0 || ensure_version_table(conn, log) < 0)
		return -1;
	for (size_t i = 0; i < migration_count; i++) {
		const struct migration *m = &migration_table[i];
		int applied;

		if (apply_one(conn, m, &applied, log) < 0)
			return -1;
		if (applied && log)
			fprintf(log, "migrate: applied migration %03d (%s)\n",
				m->version, m->name);
	}
	if (migrate_current(conn, &current) < 0) {
		log_pg_error(log, "reading schema_version", PQerrorMessage(conn));
		return -1;
	}
	if (current > migrate_latest() && log)
		fprintf(log, "migrate: the database is at schema version %d, "
			     "newer than this ntpverify knows (%d)\n",
			current, migrate_latest());
	return 0;
}
