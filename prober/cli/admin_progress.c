/*
 * admin_progress.c - the corroboration part of `ntpverify show`: the
 * quorum progress, why a pending row is still pending, and every
 * perspective's stance (last outcome, confirmations, corroboration,
 * contrary observation).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "cli/timefmt.h"
#include "store/admin_quorum.h"

/* Why the quorum is not met, from progress cells; "" when it is. */
static void progress_why(char *const *g, const char *state, char *buf,
			 size_t len)
{
	long corr = atol(g[0]), quorum = atol(g[1]), regions = atol(g[2]);
	long min_regions = atol(g[3]), contrary = atol(g[4]);
	long allowed = atol(g[5]);

	buf[0] = '\0';
	if (strcmp(state, "pending") != 0)
		return;
	if (corr < quorum)
		snprintf(buf, len, "%ld more corroborating perspective%s needed",
			 quorum - corr, quorum - corr == 1 ? "" : "s");
	else if (regions < min_regions)
		snprintf(buf, len, "corroborations from %ld region%s, %ld needed",
			 regions, regions == 1 ? "" : "s", min_regions);
	else if (contrary > allowed)
		snprintf(buf, len, "%ld perspectives saw another value or a "
			 "refusal, at most %ld allowed", contrary, allowed);
	else
		snprintf(buf, len, "quorum met: decided with the next result");
}

/* One perspective's line; cells as admin_db_probe_rows() gives them. */
static void probe_line(char *const *c, int wp, int wo)
{
	char corr[TIMEFMT_MAX], contra[TIMEFMT_MAX];

	printf("  ");
	admin_put_text(c[0]);
	printf("%*s  ", wp - (int)strlen(c[0]), "");
	admin_put_text(c[1]);
	printf("%*s  %-8s  %-*s  %-13s  %-20s  ",
	       8 - (int)strlen(c[1]) > 0 ? 8 - (int)strlen(c[1]) : 0, "",
	       c[2], wo, c[3], c[5],
	       timefmt_human(strcmp(c[6], "-") ? c[6] : NULL, corr,
			     sizeof(corr)));
	if (strcmp(c[7], "-") == 0)
		printf("-\n");
	else
		printf("%s at %s\n", c[7],
		       timefmt_human(c[8], contra, sizeof(contra)));
}

/* The perspectives' table of verification `id`. */
static int show_probes(struct admin *a, int64_t id)
{
	struct admin_db_table t;
	int wp = 11, wo = 12;

	if (admin_db_probe_rows(a->db, id, &t) != ADMIN_DB_DONE) {
		admin_fail(a, "reading the perspectives");
		return EXIT_USAGE;
	}
	if (t.n == 0) {
		printf("\nno perspective has this verification yet (no prober "
		       "registered since it was added)\n");
		admin_db_table_free(&t);
		return 0;
	}
	for (size_t i = 0; i < t.n; i++) {
		char *const *c = &t.cell[i * t.cols];
		if ((int)strlen(c[0]) > wp)
			wp = (int)strlen(c[0]);
		if ((int)strlen(c[3]) > wo)
			wo = (int)strlen(c[3]);
	}
	printf("\nperspectives (%zu):\n", t.n);
	printf("  %-*s  %-8s  %-8s  %-*s  %-13s  %-20s  %s\n", wp,
	       "perspective", "region", "attempts", wo, "last outcome",
	       "confirmations", "corroborated", "contrary");
	for (size_t i = 0; i < t.n; i++)
		probe_line(&t.cell[i * t.cols], wp, wo);
	admin_db_table_free(&t);
	return 0;
}

int admin_show_progress(struct admin *a, int64_t id, const char *state)
{
	struct admin_db_table g;
	char why[160];

	if (admin_db_progress(a->db, id, &g) != ADMIN_DB_DONE) {
		admin_fail(a, "reading the quorum progress");
		return EXIT_USAGE;
	}
	if (g.n == 1) {
		char *const *c = g.cell;
		printf("  %-13s %s/%s corroborating (regions %s, %s needed; "
		       "contrary %s, %s allowed)\n", "quorum", c[0], c[1], c[2],
		       c[3], c[4], c[5]);
		progress_why(c, state, why, sizeof(why));
		if (why[0] != '\0')
			printf("  %-13s %s\n", "pending", why);
	}
	admin_db_table_free(&g);
	return show_probes(a, id);
}
