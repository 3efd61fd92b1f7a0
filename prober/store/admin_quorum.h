/*
 * admin_quorum.h - corroborated verification as the admin commands see
 * it: the verification policy (`ntpverify policy`), the registered
 * perspectives (`ntpverify add` prints their source addresses) and one
 * verification's per-perspective state (`ntpverify show`). Queries run on
 * an admin_db connection (admin_db.h); strings are heap copies freed with
 * the matching _free().
 */
#ifndef NTPVERIFY_ADMIN_QUORUM_H
#define NTPVERIFY_ADMIN_QUORUM_H

#include <stddef.h>

#include "store/admin_db.h"

/* The policy, as the database holds it. */
struct admin_db_policy {
	int quorum;             /* corroborating perspectives needed */
	int min_regions;        /* distinct regions among them */
	int confirmations;      /* verified probes per perspective */
	double gap_s;           /* confirmation_gap, seconds */
	double window_s;        /* corroboration_window, seconds */
};

/* A change: each field NULL (unchanged) or the text the admin typed. */
struct admin_db_policy_change {
	const char *quorum;         /* whole number */
	const char *min_regions;    /* whole number */
	const char *confirmations;  /* whole number */
	const char *gap_ms;         /* confirmation_gap in milliseconds */
	const char *window_ms;      /* corroboration_window in milliseconds */
};

/* Read the policy: DONE or ERROR. */
enum admin_db_result admin_db_policy_get(struct admin_db *db,
					 struct admin_db_policy *out)
	__attribute__((warn_unused_result));
/*
 * Apply a change in one statement (all or nothing) and read the result
 * back into out: DONE or ERROR. A value the schema refuses is reported by
 * admin_db_error() as one line that names the rule.
 */
enum admin_db_result admin_db_policy_set(struct admin_db *db,
					 const struct admin_db_policy_change *ch,
					 struct admin_db_policy *out)
	__attribute__((warn_unused_result));

/* Strings of a small result: n rows of `cols` cells, row-major. */
struct admin_db_table {
	char **cell;  /* n * cols strings, never NULL ("-" for SQL NULL) */
	size_t n;     /* rows */
	size_t cols;  /* cells per row */
};
void admin_db_table_free(struct admin_db_table *t);

/*
 * Every source address of every registered perspective, one cell per
 * row, ascending: DONE (maybe none) or ERROR.
 */
enum admin_db_result admin_db_perspective_sources(struct admin_db *db,
						  struct admin_db_table *out)
	__attribute__((warn_unused_result));

/*
 * Verification `id`'s perspectives, one row each, by name: perspective,
 * region, attempts, last outcome, last probe time, confirmations,
 * corroborated_at (time of the stance, "-" if none or voided), contrary
 * outcome ("-"), contrary time ("-"), current ("t": counts for the
 * current proof within the window). DONE (maybe none) or ERROR.
 */
enum admin_db_result admin_db_probe_rows(struct admin_db *db, int64_t id,
					 struct admin_db_table *out)
	__attribute__((warn_unused_result));
#define ADMIN_DB_PROBE_COLS 10

/*
 * Verification `id`'s quorum progress: corroborating, quorum, regions,
 * min_regions, contrary, contrary allowed, observing; one row (none for no
 * such id). DONE or ERROR.
 */
enum admin_db_result admin_db_progress(struct admin_db *db, int64_t id,
				       struct admin_db_table *out)
	__attribute__((warn_unused_result));
#define ADMIN_DB_PROGRESS_COLS 7

#endif
