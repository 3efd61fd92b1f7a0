/*
 * admin_quorum.c - the admin commands' queries on perspectives and the
 * verification policy (see admin_quorum.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin_db_int.h"
#include "store/admin_quorum.h"
#include "store/pg_rows.h"

/* The policy's columns, as numbers: quorum .. window in seconds. */
#define POLICY_COLS "quorum, min_regions, confirmations," \
	" extract(epoch FROM confirmation_gap)::float8," \
	" extract(epoch FROM corroboration_window)::float8"

static void policy_row(const PGresult *r, struct admin_db_policy *out)
{
	out->quorum = atoi(PQgetvalue(r, 0, 0));
	out->min_regions = atoi(PQgetvalue(r, 0, 1));
	out->confirmations = atoi(PQgetvalue(r, 0, 2));
	out->gap_s = strtod(PQgetvalue(r, 0, 3), NULL);
	out->window_s = strtod(PQgetvalue(r, 0, 4), NULL);
}

/* The policy row of a statement's result r (freed here), or an error. */
static enum admin_db_result policy_result(struct admin_db *db, PGresult *r,
					  struct admin_db_policy *out)
{
	if (PQntuples(r) != 1) {
		PQclear(r);
		admin_db_fail(db, "the verification_policy row is missing: "
				  "run 'ntpverify migrate'");
		return ADMIN_DB_ERROR;
	}
	policy_row(r, out);
	PQclear(r);
	return ADMIN_DB_DONE;
}

enum admin_db_result admin_db_policy_get(struct admin_db *db,
					 struct admin_db_policy *out)
{
	PGresult *r = admin_db_exec(db, "SELECT " POLICY_COLS
				    " FROM verification_policy", 0, NULL);

	if (r == NULL)
		return ADMIN_DB_ERROR;
	return policy_result(db, r, out);
}

/* The schema's CHECKs (sql/schema.sql), as the rule an admin reads. */
static const struct {
	const char *constraint; /* name in the server's message */
	const char *rule;       /* what to say instead */
} policy_rules[] = {
	{ "verification_policy_quorum_range", "quorum must be 1 to 64" },
	{ "verification_policy_min_regions_range",
	  "min_regions must be 1 to 64" },
	{ "verification_policy_regions_within_quorum",
	  "min_regions must be at most quorum" },
	{ "verification_policy_confirmations_range",
	  "confirmations must be 1 to 16" },
	{ "verification_policy_gap_range",
	  "confirmation_gap must be 0 to 1d" },
	{ "verification_policy_window_range",
	  "corroboration_window must be more than 0, at most 30d, and longer "
	  "than confirmation_gap times (confirmations - 1)" },
};

enum admin_db_result admin_db_policy_set(struct admin_db *db,
					 const struct admin_db_policy_change *ch,
					 struct admin_db_policy *out)
{
	static const char sql[] =
		"UPDATE verification_policy SET"
		" quorum = COALESCE($1::integer, quorum),"
		" min_regions = COALESCE($2::integer, min_regions),"
		" confirmations = COALESCE($3::integer, confirmations),"
		" confirmation_gap = COALESCE($4::float8 * interval '1 millisecond',"
		"                             confirmation_gap),"
		" corroboration_window = COALESCE($5::float8 * interval '1 millisecond',"
		"                                 corroboration_window)"
		" RETURNING " POLICY_COLS;
	const char *values[5] = { ch->quorum, ch->min_regions,
				  ch->confirmations, ch->gap_ms, ch->window_ms };
	PGresult *r = admin_db_exec(db, sql, 5, values);

	if (r == NULL) {
		const char *why = admin_db_error(db);
		for (size_t i = 0; i < sizeof(policy_rules) / sizeof(policy_rules[0]); i++)
			if (strstr(why, policy_rules[i].constraint) != NULL) {
				admin_db_fail(db, policy_rules[i].rule);
				break;
			}
		return ADMIN_DB_ERROR;
	}
	return policy_result(db, r, out);
}

void admin_db_table_free(struct admin_db_table *t)
{
	for (size_t i = 0; t->cell != NULL && i < t->n * t->cols; i++)
		free(t->cell[i]);
	free(t->cell);
	memset(t, 0, sizeof(*t));
}

/* Copy every cell of r into out ("-" for NULL). */
static enum admin_db_result table_from(struct admin_db *db, PGresult *r,
				       struct admin_db_table *out)
{
	size_t rows, cols;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return ADMIN_DB_ERROR;
	rows = (size_t)PQntuples(r);
	cols = (size_t)PQnfields(r);
	out->cell = calloc(rows * cols + 1, sizeof(char *));
	out->cols = cols;
	bool ok = out->cell != NULL;

	for (size_t i = 0; ok && i < rows; i++) {
		out->n++;
		for (size_t c = 0; ok && c < cols; c++)
			out->cell[i * cols + c] = pg_cell(r, (int)i, (int)c,
							  "-", &ok);
	}
	if (!ok)
		goto oom;
	PQclear(r);
	return ADMIN_DB_DONE;
oom:
	PQclear(r);
	admin_db_table_free(out);
	admin_db_fail(db, "out of memory");
	return ADMIN_DB_ERROR;
}

enum admin_db_result admin_db_table_exec(struct admin_db *db, const char *sql,
					 int n, const char *const *values,
					 struct admin_db_table *out)
{
	return table_from(db, admin_db_exec(db, sql, n, values), out);
}

enum admin_db_result admin_db_perspective_sources(struct admin_db *db,
						  struct admin_db_table *out)
{
	return table_from(db, admin_db_exec(db,
		"SELECT DISTINCT host(a) FROM perspective, unnest(source_addresses) a"
		" ORDER BY 1", 0, NULL), out);
}

/* A query on one id ($1), as a table. */
static enum admin_db_result table_id(struct admin_db *db, const char *sql,
				     int64_t id, struct admin_db_table *out)
{
	char idtext[24];
	const char *values[1] = { idtext };

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	return table_from(db, admin_db_exec(db, sql, 1, values), out);
}

enum admin_db_result admin_db_probe_rows(struct admin_db *db, int64_t id,
					 struct admin_db_table *out)
{
	static const char sql[] =
		"SELECT p.perspective, s.region, p.attempts,"
		"  p.last_outcome, " SQL_UTC("p.last_probe_at") ","
		"  CASE WHEN cur THEN p.confirmations ELSE 0 END,"
		"  CASE WHEN cur THEN " SQL_UTC("p.corroborated_at") " END,"
		"  CASE WHEN cur THEN p.contrary_outcome END,"
		"  CASE WHEN cur THEN " SQL_UTC("p.contrary_at") " END,"
		"  CASE WHEN cur THEN 't' ELSE 'f' END"
		" FROM verification_probe p"
		" JOIN perspective s ON s.name = p.perspective"
		" JOIN verification v ON v.id = p.verification_id"
		" CROSS JOIN verification_policy pol,"
		" LATERAL (SELECT p.proof_version = v.proof_version"
		"   AND (p.last_probe_at IS NULL"
		"        OR p.last_probe_at > now() - pol.corroboration_window) AS cur) c"
		" WHERE p.verification_id = $1::bigint"
		" ORDER BY p.perspective";

	return table_id(db, sql, id, out);
}

enum admin_db_result admin_db_progress(struct admin_db *db, int64_t id,
				       struct admin_db_table *out)
{
	static const char sql[] =
		"SELECT corroborating, quorum, regions, min_regions, contrary,"
		"  verification_contrary_allowed(observing), observing"
		" FROM verification_progress WHERE verification_id = $1::bigint";

	return table_id(db, sql, id, out);
}
