/*
 * The status documents, byte for byte. The golden files under
 * tests/data/status/ were rendered by the status server before it was
 * split from the daemon (with the version label fixed to 9.9.9-golden and
 * a fixed clock); these tests render the same three daemons from
 * snapshots, so a change to what `ntpverify status`, Prometheus or a
 * human with curl sees shows up here as a diff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/status_render.h"
#include "golden.h"

#define GOLDEN_VERSION "9.9.9-golden"

typedef int (*render_fn)(const struct status_snapshot *, FILE *);

/* Render s and compare with the golden file; on a mismatch say where. */
static void assert_golden(const struct status_snapshot *s, render_fn render,
			  const char *golden)
{
	char *got = NULL, *want;
	size_t got_len = 0, want_len, i;
	FILE *f = open_memstream(&got, &got_len);
	char name[128];

	snprintf(name, sizeof(name), "status/%s", golden);
	assert_non_null(f);
	assert_int_equal(render(s, f), 0);
	assert_int_equal(fclose(f), 0);
	if (golden_updating())
		golden_write(name, got, got_len);
	want = golden_read(name, &want_len);
	for (i = 0; i < got_len && i < want_len && got[i] == want[i]; i++)
		;
	if (i != got_len || i != want_len) {
		size_t from = i > 40 ? i - 40 : 0;
		fprintf(stderr,
			"%s differs at byte %zu:\n got: %.80s\nwant: %.80s\n",
			golden, i, got + from, want + from);
		fail();
	}
	free(got);
	free(want);
}

/* A daemon that has run a while: what /proc/self says of it. */
static void snapshot_full_process(struct status_process *p)
{
	p->ok = true;
	p->start_time_s = 1699999000.5;
	p->cpu_s = 12.5;
	p->open_fds = 23;
	p->max_fds = 65536;
	p->resident_bytes = 5242880;
	p->virtual_bytes = 104857600;
}

/* A busy daemon with hostile strings everywhere a string can be. */
static void snapshot_full(struct status_snapshot *s)
{
	static const char prober[] = "pool \"east\"\\1\nx";

	memset(s, 0, sizeof(*s));
	s->version = GOLDEN_VERSION;
	s->uptime_s = 124.25;
	s->prober = prober;
	s->perspective = "fra1", s->region = "RIPE\"\n";
	s->corroborations = 7, s->decided_verified = 5, s->decided_pending = 12;
	s->sources[0] = "192.0.2.10";
	s->sources[1] = "2001:db8::10";
	s->sources[2] = "a\"b\\c", s->n_sources = 3;
	s->db_connected = true;
	s->pending_seen = 42;
	s->exceptions_seen[0] = 2, s->exceptions_seen[1] = 5;
	s->results_waiting = 3;
	s->last_lease_at = 1700000000.25;
	s->db_errors = 7;
	s->db_reconnects = 2;
	s->results_dropped = 1;
	s->results_rejected = 4;
	s->db_writes_blocked = true;
	s->db_refused[0].cls = "data";
	s->db_refused[0].n = 3;
	s->db_refused[1].cls = "resources";
	s->db_refused[1].n = 9;
	s->n_db_refused = 2;
	s->in_flight = 2;
	s->leases_held = 7;
	s->ratelimit_destinations = 13;
	s->deferred_interval = 5;
	s->deferred_kod = 6;
	s->deferred_global = 7;
	s->deferred_daily = 8;
	s->deferred_prefix_interval = 9;
	s->deferred_prefix_daily = 10;
	s->deferred_table_full = 11;
	s->held_global = 12;
	s->held_daily = 13;
	s->held_kod = 14;
	s->held_prefix_daily = 15;
	s->held_table_full = 16;
	s->http.clients = 3;
	s->http.rejected_not_allowed = 17;
	s->http.rejected_deadline = 18;
	s->http.rejected_bad_request = 19;
	s->http.paused_max_clients = 20;
	s->http.paused_descriptors = 21;
	snapshot_full_process(&s->proc);

	/* Twenty attempts through the ring of sixteen: it wraps. */
	for (int k = 0; k < 20; k++) {
		char server[32], detail[OUTCOME_DETAIL_MAX];
		snprintf(server, sizeof(server), "192.0.2.%d", k);
		if (k == 19)
			snprintf(detail, sizeof(detail),
				 "quote \" backslash \\ newline \n ctl \x01 "
				 "high \xff <end>");
		else if (k == 18)
			detail[0] = '\0';
		else
			snprintf(detail, sizeof(detail), "detail %d", k);
		counters_count_attempt(&s->c, 1000 + k, server,
				       (enum outcome)(k % OUTCOME_COUNT), -1,
				       1700000000.0 + k + 0.5, detail);
	}
	s->c.probes_started = 100;
	s->c.packets_sent = 250;
	s->c.packets_received = 180;
	s->c.refused_by_policy = 4;
	s->c.held_by_ratelimit = 9;
	s->c.discarded = 6;
	s->c.verified = 11, s->c.expired = 3;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		s->c.outcomes[o] = (uint64_t)o * 10 + 1;
	for (int i = 0; i < RTT_BUCKETS; i++)
		s->c.rtt_buckets[i] = (uint64_t)i + 1;
	s->c.rtt_count = 70;
	s->c.rtt_sum_s = 12.345;
}

/* Just started: no name, no database, nothing counted. */
static void snapshot_empty(struct status_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->version = GOLDEN_VERSION;
	s->pending_seen = -1;
	s->exceptions_seen[0] = s->exceptions_seen[1] = -1;
}

/* Every number at its limit, times that do not print, a NaN. */
static void snapshot_extreme(struct status_snapshot *s)
{
	char server[STORE_SERVER_LEN + 8], detail[OUTCOME_DETAIL_MAX + 8];

	memset(s, 0, sizeof(*s));
	s->version = GOLDEN_VERSION;
	s->uptime_s = 1000.75;
	s->prober = "";
	s->perspective = "";
	s->region = "";
	s->corroborations = s->decided_verified = UINT64_MAX;
	s->decided_pending = UINT64_MAX;
	s->pending_seen = INT64_MAX;
	s->exceptions_seen[0] = s->exceptions_seen[1] = INT64_MAX;
	s->results_waiting = UINT_MAX;
	s->last_lease_at = NAN;
	s->db_errors = s->db_reconnects = s->results_dropped = UINT64_MAX;
	s->in_flight = UINT_MAX - 7;
	s->leases_held = UINT_MAX;
	s->ratelimit_destinations = SIZE_MAX;
	s->deferred_interval = s->deferred_kod = UINT64_MAX;
	s->deferred_global = s->deferred_daily = UINT64_MAX;
	s->deferred_table_full = s->held_table_full = UINT64_MAX;
	s->http.clients = UINT_MAX;
	s->http.rejected_deadline = s->http.paused_descriptors = UINT64_MAX;
	/* An unlimited descriptor limit: no process_max_fds series. */
	s->proc.ok = true;
	s->proc.start_time_s = 253402300799.0;
	s->proc.cpu_s = 1e300;
	s->proc.open_fds = s->proc.resident_bytes = UINT64_MAX;
	s->proc.virtual_bytes = UINT64_MAX;
	s->proc.max_fds = 0;

	/* Longer than the ring's fields: truncated to what fits. */
	memset(server, 'z', sizeof(server) - 1);
	server[sizeof(server) - 1] = '\0';
	memset(detail, '\x80', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	counters_count_attempt(&s->c, INT64_MIN, server,
			       OUTCOME_KEY_NOT_ACCEPTED, -1, -5, detail);
	counters_count_attempt(&s->c, 1, "", OUTCOME_VERIFIED, -1,
			       253402300800.0, "");

	s->c.probes_started = s->c.packets_sent = UINT64_MAX;
	s->c.packets_received = s->c.refused_by_policy = UINT64_MAX;
	s->c.held_by_ratelimit = s->c.discarded = UINT64_MAX;
	s->c.verified = s->c.expired = UINT64_MAX;
	for (int o = 0; o < OUTCOME_COUNT; o++)
		s->c.outcomes[o] = UINT64_MAX;
	s->c.rtt_buckets[RTT_BUCKETS - 1] = UINT64_MAX;
	s->c.rtt_count = UINT64_MAX;
	s->c.rtt_sum_s = 1e300;
}

static void test_full_metrics(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_full(&s);
	assert_golden(&s, status_render_metrics, "full.metrics.golden");
}

static void test_full_json(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_full(&s);
	assert_golden(&s, status_render_json, "full.status.golden");
}

static void test_empty_metrics(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_empty(&s);
	assert_golden(&s, status_render_metrics, "empty.metrics.golden");
}

static void test_empty_json(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_empty(&s);
	assert_golden(&s, status_render_json, "empty.status.golden");
}

static void test_extreme_metrics(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_extreme(&s);
	assert_golden(&s, status_render_metrics, "extreme.metrics.golden");
}

static void test_extreme_json(void **state)
{
	struct status_snapshot s;

	(void)state;
	snapshot_extreme(&s);
	assert_golden(&s, status_render_json, "extreme.status.golden");
}

/* The parts a scraper or a browser would trip over, spelled out. */
static void test_hostile_strings_escaped(void **state)
{
	struct status_snapshot s;
	char *m = NULL, *j = NULL;
	size_t mlen = 0, jlen = 0;
	FILE *f;

	(void)state;
	snapshot_full(&s);
	f = open_memstream(&m, &mlen);
	assert_non_null(f);
	assert_int_equal(status_render_metrics(&s, f), 0);
	fclose(f);
	f = open_memstream(&j, &jlen);
	assert_non_null(f);
	assert_int_equal(status_render_json(&s, f), 0);
	fclose(f);

	assert_non_null(strstr(m, "prober=\"pool \\\"east\\\"\\\\1\\nx\"} 1\n"));
	assert_non_null(strstr(m, "region=\"RIPE\\\"\\n\"} 1\n"));
	assert_non_null(strstr(j, "\"region\":\"RIPE\\\"\\n\""));
	assert_non_null(strstr(j, "\"prober\":\"pool \\\"east\\\"\\\\1\\nx\""));
	assert_non_null(strstr(j, "ctl \\u0001 high \\u00ff <end>"));
	/* No raw newline inside the one-line JSON document. */
	assert_ptr_equal(strchr(j, '\n'), j + jlen - 1);
	/* `read` is never an attempt outcome on /metrics. */
	assert_null(strstr(m, "outcome=\"read\""));
	free(m);
	free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_metrics),
		cmocka_unit_test(test_full_json),
		cmocka_unit_test(test_empty_metrics),
		cmocka_unit_test(test_empty_json),
		cmocka_unit_test(test_extreme_metrics),
		cmocka_unit_test(test_extreme_json),
		cmocka_unit_test(test_hostile_strings_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
