/*
 * admin_db_int.h - what admin_db.c shares with the other admin query
 * files of prober/store/ (admin_quorum.c): the connection struct, the SQL
 * fragments and running a query. Private to prober/store/.
 */
#ifndef NTPVERIFY_ADMIN_DB_INT_H
#define NTPVERIFY_ADMIN_DB_INT_H

#include <libpq-fe.h>

#include "store/admin_db.h"
#include "store/admin_quorum.h"

/*
 * Timestamps are RFC 3339 in UTC with milliseconds, the same on every
 * admin's machine; the commands shorten them for people (cli/timefmt.h).
 */
#define SQL_UTC(col) \
	"to_char(" col " AT TIME ZONE 'UTC'," \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A prober (of any perspective) holds a live lease on the row. */
#define SQL_PROBING "EXISTS (SELECT 1 FROM verification_probe p" \
	" WHERE p.verification_id = verification.id AND p.active" \
	" AND p.lease_until > now())"

struct admin_db {
	PGconn *conn;      /* blocking, CONNECTION_OK */
	char *err;         /* the last failure's message, heap; NULL: none */
	char sqlstate[6];  /* the last failure's SQLSTATE, "" if none */
};

/*
 * Run `sql` with text parameters; the result when it returned rows, NULL
 * (error recorded: admin_db_error()) otherwise. The caller PQclear()s it.
 */
PGresult *admin_db_exec(struct admin_db *db, const char *sql, int n,
			const char *const *values);

/*
 * Run `sql` with text parameters and copy its rows into out ("-" for
 * NULL): DONE, or ERROR (admin_db_error(), and db->sqlstate).
 */
enum admin_db_result admin_db_table_exec(struct admin_db *db, const char *sql,
					 int n, const char *const *values,
					 struct admin_db_table *out)
	__attribute__((warn_unused_result));

/* Record `msg` as the failure admin_db_error() reports (no SQLSTATE). */
void admin_db_fail(struct admin_db *db, const char *msg);

#endif
