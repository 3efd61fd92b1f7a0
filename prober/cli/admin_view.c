/*
 * admin_view.c - `ntpverify list` and `ntpverify show`: read-only views
 * of the queue and of one verification's attempt history. Neither ever
 * prints a token or a key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/commands.h"

/* ---- list ------------------------------------------------------------- */

/* One cell of an aligned table; the last one ends the line unpadded. */
static void put_cell(const char *text, int width, bool last)
{
	if (last)
		printf("%s\n", text);
	else
		printf("%-*s  ", width, text);
}

int cmd_list(int argc, char **argv)
{
	static const char sql[] =
		"SELECT id, host(server_ip),"
		"  CASE method WHEN 'key' THEN 'key ' || key_id || ' ' || key_type"
		"       ELSE method END,"
		"  state, attempts, coalesce(last_outcome, '-'),"
		"  CASE WHEN state <> 'pending' THEN '-'"
		"       WHEN lease_token IS NOT NULL AND lease_until > now()"
		"            THEN 'probing now'"
		"       ELSE " SQL_UTC("next_probe_at") " END,"
		"  " SQL_UTC("expires_at")
		" FROM verification"
		" WHERE $1::text IS NULL OR state = $1::text"
		" ORDER BY id";
	/* The method column names a key by ID and type, never the secret. */
	static const char *const heads[] = { "id", "server", "method",
		"state", "attempts", "last outcome", "next probe", "expires" };
	enum { NCOLS = sizeof(heads) / sizeof(heads[0]) };
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, "list", &o);
	int width[NCOLS];
	const char *values[1];
	PGresult *r;
	int rc, rows;

	if (first < 0)
		return EXIT_USAGE;
	if (first != argc) {
		admin_usage(stderr, "list");
		return EXIT_USAGE;
	}
	rc = admin_open(&a, "list", o.config_path, true);
	if (rc != 0)
		return rc;
	values[0] = o.state;
	r = PQexecParams(a.conn, sql, 1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		admin_db_error(&a, "listing verifications", r);
		PQclear(r);
		admin_close(&a);
		return EXIT_USAGE;
	}
	rows = PQntuples(r);
	if (rows == 0) {
		printf("no verifications%s%s\n", o.state ? " in state " : "",
		       o.state ? o.state : "");
		PQclear(r);
		admin_close(&a);
		return 0;
	}
	for (int c = 0; c < NCOLS; c++) {
		width[c] = (int)strlen(heads[c]);
		for (int i = 0; i < rows; i++) {
			int w = PQgetlength(r, i, c);

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < NCOLS; c++)
		put_cell(heads[c], width[c], c + 1 == NCOLS);
	for (int i = 0; i < rows; i++)
		for (int c = 0; c < NCOLS; c++)
			put_cell(admin_col(r, i, c), width[c], c + 1 == NCOLS);
	PQclear(r);
	admin_close(&a);
	return 0;
}

/* ---- show ------------------------------------------------------------- */

static int show_attempts(struct admin *a, const char *idtext)
{
	static const char sql[] =
		"SELECT " SQL_UTC("attempted_at") ", prober,"
		"  coalesce(host(source_address), '-'), outcome,"
		"  CASE WHEN rtt_ms IS NULL THEN '-'"
		"       ELSE to_char(rtt_ms, 'FM999990.000') || ' ms' END,"
		"  coalesce(detail, '')"
		" FROM probe_attempt WHERE verification_id = $1::bigint"
		" ORDER BY attempted_at, id";
	const char *values[1] = { idtext };
	PGresult *r = PQexecParams(a->conn, sql, 1, NULL, values, NULL, NULL, 0);
	int rows, wp = 6, ws = 6, wo = 7;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		admin_db_error(a, "reading the attempt history", r);
		PQclear(r);
		return EXIT_USAGE;
	}
	rows = PQntuples(r);
	if (rows == 0) {
		printf("\nno attempts yet\n");
		PQclear(r);
		return 0;
	}
	for (int i = 0; i < rows; i++) {
		if (PQgetlength(r, i, 1) > wp)
			wp = PQgetlength(r, i, 1);
		if (PQgetlength(r, i, 2) > ws)
			ws = PQgetlength(r, i, 2);
		if (PQgetlength(r, i, 3) > wo)
			wo = PQgetlength(r, i, 3);
	}
	printf("\nattempts (%d, oldest first):\n", rows);
	printf("%-20s  %-*s  %-*s  %-*s  %-9s  %s\n", "time", wp, "prober", ws,
	       "source", wo, "outcome", "rtt", "detail");
	for (int i = 0; i < rows; i++) {
		printf("%-20s  ", PQgetvalue(r, i, 0));
		admin_put_text(PQgetvalue(r, i, 1));
		printf("%*s  %-*s  %-*s  %-9s  ",
		       wp - PQgetlength(r, i, 1), "", ws, PQgetvalue(r, i, 2),
		       wo, PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
		admin_put_text(PQgetvalue(r, i, 5));
		printf("\n");
	}
	PQclear(r);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	/* length(token) and the key's ID and type, never the secrets. */
	static const char sql[] =
		"SELECT id, host(server_ip), state, length(token),"
		"  " SQL_UTC("created_at") ", " SQL_UTC("expires_at") ","
		"  CASE WHEN state = 'pending' THEN " SQL_UTC("next_probe_at")
		"  END, attempts, " SQL_UTC("last_probe_at") ","
		"  last_outcome, last_detail,"
		"  CASE WHEN lease_token IS NOT NULL THEN lease_owner END,"
		"  " SQL_UTC("lease_until") ","
		"  " SQL_UTC("verified_at") ", verified_by,"
		"  method, key_id, key_type"
		" FROM verification WHERE id = $1::bigint";
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, "show", &o);
	char idtext[24];
	const char *values[1] = { idtext };
	int64_t id;
	PGresult *r;
	int rc;

	rc = admin_single_id(argc, argv, first, "show", &id);
	if (rc != 0)
		return rc;
	rc = admin_open(&a, "show", o.config_path, true);
	if (rc != 0)
		return rc;
	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	r = PQexecParams(a.conn, sql, 1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		admin_db_error(&a, "reading the verification", r);
		PQclear(r);
		admin_close(&a);
		return EXIT_USAGE;
	}
	if (PQntuples(r) == 0) {
		fprintf(stderr, "ntpverify show: no verification with id %s\n",
			idtext);
		PQclear(r);
		admin_close(&a);
		return EXIT_NEGATIVE;
	}
	printf("verification %s\n", admin_col(r, 0, 0));
	printf("  %-13s %s\n", "server", admin_col(r, 0, 1));
	printf("  %-13s %s\n", "state", admin_col(r, 0, 2));
	printf("  %-13s %s\n", "method", admin_col(r, 0, 15));
	if (strcmp(admin_col(r, 0, 15), "key") == 0)
		printf("  %-13s %s %s (secret not shown)\n", "key",
		       admin_col(r, 0, 16), admin_col(r, 0, 17));
	else
		printf("  %-13s %s characters (not shown)\n", "token",
		       admin_col(r, 0, 3));
	printf("  %-13s %s\n", "created", admin_col(r, 0, 4));
	printf("  %-13s %s\n", "expires", admin_col(r, 0, 5));
	printf("  %-13s %s\n", "next probe", admin_col(r, 0, 6));
	printf("  %-13s %s\n", "attempts", admin_col(r, 0, 7));
	printf("  %-13s %s\n", "last probe", admin_col(r, 0, 8));
	printf("  %-13s %s", "last outcome", admin_col(r, 0, 9));
	if (!PQgetisnull(r, 0, 10)) {
		printf(": ");
		admin_put_text(PQgetvalue(r, 0, 10));
	}
	printf("\n");
	if (!PQgetisnull(r, 0, 11)) {
		printf("  %-13s ", "leased by");
		admin_put_text(PQgetvalue(r, 0, 11));
		printf(" until %s\n", admin_col(r, 0, 12));
	}
	if (!PQgetisnull(r, 0, 13)) {
		printf("  %-13s %s by ", "verified", admin_col(r, 0, 13));
		admin_put_text(admin_col(r, 0, 14));
		printf("\n");
	}
	PQclear(r);
	rc = show_attempts(&a, idtext);
	admin_close(&a);
	return rc;
}

