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
#include "cli/admin_json.h"
#include "cli/commands.h"
#include "cli/timefmt.h"
#include "core/outcome.h"
#include "store/admin_exception.h"

/* Room for a row's two times as people read them. */
struct view_times {
	char next[TIMEFMT_MAX];    /* next probe */
	char expires[TIMEFMT_MAX]; /* expiry */
};

/* ---- list ------------------------------------------------------------- */

/* One cell of an aligned table; the last one ends the line unpadded. */
static void put_cell(const char *text, int width, bool last)
{
	if (last)
		printf("%s\n", text);
	else
		printf("%-*s  ", width, text);
}

/* The cells of one row, in column order; t holds the times' text. */
static void row_cells(const struct admin_db_row *row, const char **cell,
		      struct view_times *t)
{
	cell[0] = row->id;
	cell[1] = row->server;
	cell[2] = row->method;
	cell[3] = row->state;
	cell[4] = row->attempts;
	cell[5] = row->last_outcome;
	cell[6] = timefmt_human(row->next_probe, t->next, sizeof(t->next));
	cell[7] = timefmt_human(row->expires, t->expires, sizeof(t->expires));
	cell[8] = row->proof;
	cell[9] = row->quorum;
}

/* The table of rows, each column as wide as its widest cell. The proof
 * column appears when some row is an exception (not proven by NTP), the
 * quorum column once some perspective has registered. */
static void print_rows(const struct admin_db_rows *rows)
{
	/* The method column names a key by ID and type, never the secret. */
	static const char *const heads[] = { "id", "server", "method",
		"state", "attempts", "last outcome", "next probe", "expires",
		"proof", "quorum" };
	enum { MAXCOLS = sizeof(heads) / sizeof(heads[0]) };
	const char *cell[MAXCOLS];
	int width[MAXCOLS], col[MAXCOLS], ncols = 0;
	bool proof = false, quorum = false;
	struct view_times t;

	for (size_t i = 0; i < rows->n; i++) {
		proof |= strcmp(rows->row[i].proof, "ntp") != 0;
		quorum |= strcmp(rows->row[i].quorum, "-") != 0;
	}
	/* col[]: the columns shown, in order. */
	for (int c = 0; c < MAXCOLS; c++)
		if ((c != MAXCOLS - 2 || proof) && (c != MAXCOLS - 1 || quorum))
			col[ncols++] = c;
	for (int c = 0; c < ncols; c++)
		width[c] = (int)strlen(heads[col[c]]);
	for (size_t i = 0; i < rows->n; i++) {
		row_cells(&rows->row[i], cell, &t);
		for (int c = 0; c < ncols; c++)
			if ((int)strlen(cell[col[c]]) > width[c])
				width[c] = (int)strlen(cell[col[c]]);
	}
	for (int c = 0; c < ncols; c++)
		put_cell(heads[col[c]], width[c], c + 1 == ncols);
	for (size_t i = 0; i < rows->n; i++) {
		row_cells(&rows->row[i], cell, &t);
		for (int c = 0; c < ncols; c++)
			put_cell(cell[col[c]], width[c], c + 1 == ncols);
	}
}

int cmd_list(int argc, char **argv)
{
	struct admin_opts o;
	struct admin a;
	struct admin_db_rows rows;
	int first = admin_parse(argc, argv, "list", &o);
	int rc;

	if (first < 0)
		return EXIT_USAGE;
	if (first != argc) {
		command_extra_operand("list", argv[first]);
		return EXIT_USAGE;
	}
	rc = admin_open(&a, "list", o.config_path, true);
	if (rc != 0)
		return rc;
	if (admin_db_list(a.db, o.state, &rows) != ADMIN_DB_DONE) {
		admin_fail(&a, "listing verifications");
		admin_close(&a);
		return EXIT_USAGE;
	}
	if (o.json) /* one object per line; nothing for none */
		for (size_t i = 0; i < rows.n; i++)
			admin_json_row(&rows.row[i]);
	else if (rows.n == 0)
		printf("no verifications%s%s\n", o.state ? " in state " : "",
		       o.state ? o.state : "");
	else
		print_rows(&rows);
	admin_db_rows_free(&rows);
	admin_close(&a);
	return 0;
}

/* ---- show ------------------------------------------------------------- */

/* The attempt table of show, from list (not freed here). */
static void show_attempts(const struct admin_db_attempts *list)
{
	char at[TIMEFMT_MAX];
	int wp = 6, ws = 6, wo = 7;

	if (list->n == 0) {
		printf("\nno attempts yet\n");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		if ((int)strlen(list->a[i].prober) > wp)
			wp = (int)strlen(list->a[i].prober);
		if ((int)strlen(list->a[i].source) > ws)
			ws = (int)strlen(list->a[i].source);
		if ((int)strlen(list->a[i].outcome) > wo)
			wo = (int)strlen(list->a[i].outcome);
	}
	printf("\nattempts (%zu, oldest first):\n", list->n);
	printf("%-20s  %-*s  %-*s  %-*s  %-9s  %s\n", "time", wp, "prober", ws,
	       "source", wo, "outcome", "rtt", "detail");
	for (size_t i = 0; i < list->n; i++) {
		const struct admin_db_attempt *t = &list->a[i];

		printf("%-20s  ", timefmt_human(t->at, at, sizeof(at)));
		admin_put_text(t->prober);
		printf("%*s  %-*s  %-*s  %-9s  ", wp - (int)strlen(t->prober), "",
		       ws, t->source, wo, t->outcome, t->rtt);
		admin_put_text(t->detail);
		printf("\n");
	}
}

/* "  name          time" for a time column (NULL: "-"). */
static void show_time(const char *name, const char *t)
{
	char buf[TIMEFMT_MAX];

	printf("  %-13s %s\n", name, timefmt_human(t, buf, sizeof(buf)));
}

/* The proof column for people: NTP-proven or which exception. */
static const char *proof_words(const char *proof)
{
	if (strcmp(proof, "ntp") == 0)
		return "ntp (the probers' quorum)";
	if (strcmp(proof, "indirect") == 0)
		return "indirect (exception: linked to a verified neighbour, "
		       "approved by an admin)";
	if (strcmp(proof, "manual") == 0)
		return "manual (exception: checked out of band, approved by "
		       "an admin)";
	return proof;
}

/* The verification's own lines; nothing secret is in v. */
static void show_verification(const struct admin_db_verification *v)
{
	char buf[TIMEFMT_MAX];

	printf("verification %s\n", admin_col(v->id));
	printf("  %-13s %s\n", "server", admin_col(v->server));
	printf("  %-13s %s\n", "state", admin_col(v->state));
	printf("  %-13s %s\n", "method", admin_col(v->method));
	printf("  %-13s %s\n", "proof", proof_words(admin_col(v->proof)));
	if (strcmp(admin_col(v->method), "key") == 0)
		printf("  %-13s %s %s (secret not shown)\n", "key",
		       admin_col(v->key_id), admin_col(v->key_type));
	else if (strcmp(admin_col(v->method), "refid") == 0)
		printf("  %-13s %s (the refid of a stratum-1 reference "
		       "clock)\n", "refid code", admin_col(v->refid_code));
	else
		printf("  %-13s %s characters (not shown)\n", "token",
		       admin_col(v->token_len));
	show_time("created", v->created);
	show_time("expires", v->expires);
	show_time("next probe", v->next_probe);
	printf("  %-13s %s\n", "attempts", admin_col(v->attempts));
	show_time("last probe", v->last_probe);
	printf("  %-13s %s", "last outcome", admin_col(v->last_outcome));
	if (v->last_detail != NULL) {
		printf(": ");
		admin_put_text(v->last_detail);
	}
	printf("\n");
	if (v->lease_owner != NULL) {
		printf("  %-13s ", "leased by");
		admin_put_text(v->lease_owner);
		printf(" until %s\n", timefmt_human(v->lease_until, buf,
						      sizeof(buf)));
	}
	if (v->verified_at != NULL) {
		printf("  %-13s %s by ", "verified",
		       timefmt_human(v->verified_at, buf, sizeof(buf)));
		admin_put_text(admin_col(v->verified_by));
		printf("\n");
	}
}

/* One audit row's lines; cells as admin_db_exception_trail() gives them. */
static void trail_row(char *const *c)
{
	char at[TIMEFMT_MAX], ev[TIMEFMT_MAX];

	printf("  %-20s  %-7s  by ", timefmt_human(c[0], at, sizeof(at)), c[1]);
	admin_put_text(c[2]);
	printf(" (database role ");
	admin_put_text(c[3]);
	printf("): %s -> %s\n", c[5], c[6]);
	if (strcmp(c[7], "-") != 0) {
		printf("      evidence: verification %s, %s, method %s, "
		       "verified %s", c[7], c[8], c[9],
		       timefmt_human(c[10], ev, sizeof(ev)));
		if (strcmp(c[11], "-") != 0)
			printf("; same /%s", c[11]);
		printf("\n");
	}
	printf("      reason: ");
	admin_put_text(c[4]);
	printf("\n");
}

/* The exception audit trail of `id`, when it has one. */
static void show_trail(const struct admin_db_table *t)
{
	if (t->n == 0)
		return;
	printf("\nexceptions (%zu, oldest first):\n", t->n);
	for (size_t i = 0; i < t->n; i++)
		trail_row(&t->cell[i * t->cols]);
}

/*
 * A hint for the last attempt, with what the history shows: mode 6 from
 * the same source answered before means the server's restrict line for
 * it is there and a flag on it drops queries now; any answer before and
 * silence now points at 'limited' (or a stopped ntpd). Never the token:
 * show prints none, so the setvar line gets the placeholder.
 */
static void show_hint(const struct admin *a,
		      const struct admin_db_attempts *list)
{
	const struct admin_db_attempt *last;
	struct outcome_hint_in in = { 0 };
	char hint[512];
	int o;

	if (list->n == 0)
		return;
	last = &list->a[list->n - 1];
	if ((o = outcome_from_name(last->outcome)) < 0)
		return;
	in.outcome = (enum outcome)o;
	in.prober_addr = strcmp(last->source, "-") != 0 ? last->source : NULL;
	in.variable = a->cfg.variable ? a->cfg.variable : "ntppool_verify";
	for (size_t i = 0; i + 1 < list->n; i++) {
		/* The schema's CHECK allows only known names. */
		int e = outcome_from_name(list->a[i].outcome);
		if (e < 0 || strcmp(list->a[i].source, last->source) != 0)
			continue;
		if (outcome_mode6_answered((enum outcome)e))
			in.restrict_line = HINT_RESTRICT_PRESENT;
		if (outcome_answered((enum outcome)e))
			in.answered_before = true;
	}
	if (outcome_hint_for(&in, hint, sizeof(hint)) != NULL) {
		printf("\nhint (last attempt): ");
		admin_put_text(hint);
		printf("\n");
	}
}

/* Verification v (found) and its attempts, as text or JSON. */
static int show_one(struct admin *a, const struct admin_db_verification *v,
		    int64_t id, bool json)
{
	struct admin_db_attempts list;
	struct admin_db_table trail;
	int rc = 0;

	if (admin_db_exception_trail(a->db, id, &trail) != ADMIN_DB_DONE) {
		admin_fail(a, "reading the exception audit trail");
		return EXIT_USAGE;
	}
	if (admin_db_attempts(a->db, id, &list) != ADMIN_DB_DONE) {
		admin_fail(a, "reading the attempt history");
		admin_db_table_free(&trail);
		return EXIT_USAGE;
	}
	if (json) {
		admin_json_show(v, &list, &trail);
	} else {
		show_verification(v);
		rc = admin_show_progress(a, id, admin_col(v->state));
		if (rc == 0) {
			show_trail(&trail);
			show_attempts(&list);
			show_hint(a, &list);
		}
	}
	admin_db_attempts_free(&list);
	admin_db_table_free(&trail);
	return rc;
}

int cmd_show(int argc, char **argv)
{
	struct admin_opts o;
	struct admin a;
	struct admin_db_verification v;
	int first = admin_parse(argc, argv, "show", &o);
	int64_t id;
	int rc;

	rc = admin_single_id(argc, argv, first, "show", &id);
	if (rc != 0)
		return rc;
	rc = admin_open(&a, "show", o.config_path, true);
	if (rc != 0)
		return rc;
	switch (admin_db_show(a.db, id, &v)) {
	case ADMIN_DB_DONE:
		rc = show_one(&a, &v, id, o.json);
		admin_db_verification_free(&v);
		break;
	case ADMIN_DB_NONE:
		fprintf(stderr, "ntpverify show: no verification with id %" PRId64
				"\n", id);
		rc = EXIT_NEGATIVE;
		break;
	default:
		admin_fail(&a, "reading the verification");
		rc = EXIT_USAGE;
		break;
	}
	admin_close(&a);
	return rc;
}
