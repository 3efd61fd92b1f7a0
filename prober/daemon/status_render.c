/*
 * status_render.c - the /metrics and /status documents, rendered from a
 * snapshot. Pure: no clock, no daemon, no event loop. One table
 * (status_counters) feeds both documents, so the JSON and the Prometheus
 * names cannot drift apart.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/textout.h"
#include "daemon/status_render.h"

/* --- the counters both documents show -------------------------------- */

struct status_counter {
	const char *metric; /* ntpverify_<metric>_total */
	const char *json;   /* key in /status "counters" */
	const char *help;   /* # HELP text */
	uint64_t value;
};

#define STATUS_N_COUNTERS 11

static void status_counters(const struct status_snapshot *d,
			    struct status_counter out[STATUS_N_COUNTERS])
{
	const struct status_counter c[STATUS_N_COUNTERS] = {
		{ "attempts_started", "attempts_started",
		  "Verification attempts put on the wire.",
		  d->c.probes_started },
		{ "packets_sent", "packets_sent",
		  "NTP datagrams sent, first sends and retransmits.",
		  d->c.packets_sent },
		{ "packets_received", "packets_received",
		  "NTP datagrams received from probed servers.",
		  d->c.packets_received },
		{ "ratelimit_packets_held", "packets_held",
		  "Packets held back by the rate limits.",
		  d->c.held_by_ratelimit },
		{ "database_errors", "database_errors",
		  "Failed database statements and connections.",
		  d->db_errors },
		{ "database_reconnects", "database_reconnects",
		  "Database connections re-established after a loss.",
		  d->db_reconnects },
		{ "stale_results_discarded", "stale_results_discarded",
		  "Results discarded because the lease was lost.",
		  d->c.discarded },
		{ "leases_given_back", "leases_given_back",
		  "Leases given back unprobed: the rate limits would not let "
		  "the attempt start before the lease ended.",
		  d->c.leases_given_back },
		{ "results_dropped", "results_dropped",
		  "Results dropped because too many were waiting for the "
		  "database.",
		  d->results_dropped },
		{ "results_rejected", "results_rejected",
		  "Unverified results dropped because the database rejected "
		  "their data.",
		  d->results_rejected },
		{ "corroborations", "corroborations",
		  "Results of this prober that made its perspective "
		  "corroborate a verification.",
		  d->corroborations },
	};
	memcpy(out, c, sizeof(c));
}

/* Rate-limit deferrals by the reason ratelimit_may_start() gave. */
struct status_deferral {
	const char *reason; /* label value and JSON key */
	uint64_t value;
};

#define STATUS_N_DEFERRALS 7

static void status_deferrals(const struct status_snapshot *d,
			     struct status_deferral out[STATUS_N_DEFERRALS])
{
	out[0] = (struct status_deferral){ "destination_interval",
					   d->deferred_interval };
	out[1] = (struct status_deferral){ "kod_holdoff", d->deferred_kod };
	out[2] = (struct status_deferral){ "global_rate", d->deferred_global };
	out[3] = (struct status_deferral){ "daily_budget", d->deferred_daily };
	out[4] = (struct status_deferral){ "prefix_interval",
					   d->deferred_prefix_interval };
	out[5] = (struct status_deferral){ "prefix_daily_budget",
					   d->deferred_prefix_daily };
	out[6] = (struct status_deferral){ "destination_table_full",
					   d->deferred_table_full };
}

/* Packets held back by the rate limits, by reason (same shape). */
#define STATUS_N_HOLDS 5

static void status_holds(const struct status_snapshot *d,
			 struct status_deferral out[STATUS_N_HOLDS])
{
	out[0] = (struct status_deferral){ "global_rate", d->held_global };
	out[1] = (struct status_deferral){ "daily_budget", d->held_daily };
	out[2] = (struct status_deferral){ "kod_holdoff", d->held_kod };
	out[3] = (struct status_deferral){ "prefix_daily_budget",
					   d->held_prefix_daily };
	out[4] = (struct status_deferral){ "destination_table_full",
					   d->held_table_full };
}

/* The status server's refusals and pauses, by reason (same shape). */
#define STATUS_N_REJECTS 3
#define STATUS_N_PAUSES 2

static void status_rejects(const struct status_snapshot *d,
			   struct status_deferral out[STATUS_N_REJECTS],
			   struct status_deferral pauses[STATUS_N_PAUSES])
{
	out[0] = (struct status_deferral){ "not_allowed",
					   d->http.rejected_not_allowed };
	out[1] = (struct status_deferral){ "deadline",
					   d->http.rejected_deadline };
	out[2] = (struct status_deferral){ "bad_request",
					   d->http.rejected_bad_request };
	pauses[0] = (struct status_deferral){ "max_clients",
					      d->http.paused_max_clients };
	pauses[1] = (struct status_deferral){ "descriptors",
					      d->http.paused_descriptors };
}

/* "2024-05-01T12:00:00.123Z"; false for times before the epoch or unset. */
static bool status_iso8601(double t, char *buf, size_t len)
{
	struct tm tm;
	time_t s;
	char base[32];

	if (!(t > 0) || t > 253402300799.0) /* year 9999 */
		return false;
	s = (time_t)t;
	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return false;
	snprintf(buf, len, "%s.%03dZ", base,
		 (int)((t - (double)s) * 1000.0) % 1000);
	return true;
}

/* --- Prometheus text format 0.0.4 ------------------------------------ */

/* Label values: backslash, double quote and newline are escaped. */
static void prom_label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* The shortest %g form that reads back to the same double. */
static void prom_double(FILE *f, double v)
{
	char buf[40];

	if (isnan(v)) {
		fputs("NaN", f);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* A family named exactly NAME (the standard process_* ones). */
static void prom_family_as(FILE *f, const char *name, const char *type,
			   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	char full[96];

	snprintf(full, sizeof(full), "ntpverify_%s", name);
	prom_family_as(f, full, type, help);
}

static void prom_gauge(FILE *f, const char *name, const char *help, double v)
{
	prom_family(f, name, "gauge", help);
	fprintf(f, "ntpverify_%s ", name);
	prom_double(f, v);
	fputc('\n', f);
}

static void prom_histogram(FILE *f, const struct daemon_counters *c)
{
	uint64_t cum = 0;

	prom_family(f, "attempt_rtt_seconds", "histogram",
		    "Round-trip time of the first mode 6 reply per attempt.");
	for (int i = 0; i < RTT_BUCKETS; i++) {
		/* The struct counts per bucket; Prometheus wants "<= le". */
		cum += c->rtt_buckets[i];
		fputs("ntpverify_attempt_rtt_seconds_bucket{le=\"", f);
		prom_double(f, rtt_bucket_bounds[i]);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "ntpverify_attempt_rtt_seconds_bucket{le=\"+Inf\"} %" PRIu64
		   "\n",
		c->rtt_count);
	fputs("ntpverify_attempt_rtt_seconds_sum ", f);
	prom_double(f, c->rtt_sum_s);
	fprintf(f, "\nntpverify_attempt_rtt_seconds_count %" PRIu64 "\n",
		c->rtt_count);
}

/* The counter families: totals, attempts by outcome, final states, deferrals. */
static void prom_counters(const struct status_snapshot *d, FILE *f)
{
	struct status_counter cs[STATUS_N_COUNTERS];
	struct status_deferral df[STATUS_N_DEFERRALS];

	status_counters(d, cs);
	status_deferrals(d, df);

	for (size_t i = 0; i < STATUS_N_COUNTERS; i++) {
		char name[80];
		snprintf(name, sizeof(name), "%s_total", cs[i].metric);
		prom_family(f, name, "counter", cs[i].help);
		fprintf(f, "ntpverify_%s %" PRIu64 "\n", name, cs[i].value);
	}

	prom_family(f, "attempts_total", "counter",
		    "Finished verification attempts by outcome.");
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		/* `read` is what `check` says without a token; never here. */
		if (o == OUTCOME_READ)
			continue;
		fputs("ntpverify_attempts_total{outcome=", f);
		prom_label_value(f, outcome_name((enum outcome)o));
		fprintf(f, "} %" PRIu64 "\n", d->c.outcomes[o]);
	}

	prom_family(f, "verifications_total", "counter",
		    "Verifications this prober brought to a final state.");
	fprintf(f,
		"ntpverify_verifications_total{state=\"verified\"} %" PRIu64
		"\nntpverify_verifications_total{state=\"expired\"} %" PRIu64
		"\n",
		d->c.verified, d->c.expired);

	prom_family(f, "quorum_decisions_total", "counter",
		    "Quorum decisions the database took on this prober's "
		    "results: verified, or the quorum not (yet) met.");
	fprintf(f,
		"ntpverify_quorum_decisions_total{result=\"verified\"} %" PRIu64
		"\nntpverify_quorum_decisions_total{result=\"pending\"} %" PRIu64
		"\n",
		d->decided_verified, d->decided_pending);

	prom_family(f, "database_writes_refused_total", "counter",
		    "Writes the database refused, by SQLSTATE class.");
	for (size_t i = 0; i < d->n_db_refused; i++) {
		fputs("ntpverify_database_writes_refused_total{class=", f);
		prom_label_value(f, d->db_refused[i].cls);
		fprintf(f, "} %" PRIu64 "\n", d->db_refused[i].n);
	}

	prom_family(f, "ratelimit_deferrals_total", "counter",
		    "Attempt starts postponed by the rate limits, by reason.");
	for (size_t i = 0; i < STATUS_N_DEFERRALS; i++) {
		fputs("ntpverify_ratelimit_deferrals_total{reason=", f);
		prom_label_value(f, df[i].reason);
		fprintf(f, "} %" PRIu64 "\n", df[i].value);
	}
}

/* One counter family with a reason label per entry. */
static void prom_by_reason(FILE *f, const char *name, const char *help,
			   const struct status_deferral *v, size_t n)
{
	prom_family(f, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "ntpverify_%s{reason=", name);
		prom_label_value(f, v[i].reason);
		fprintf(f, "} %" PRIu64 "\n", v[i].value);
	}
}

/* Holds by reason, and the status server's own clients. */
static void prom_limits(const struct status_snapshot *d, FILE *f)
{
	struct status_deferral held[STATUS_N_HOLDS];
	struct status_deferral rej[STATUS_N_REJECTS], pause[STATUS_N_PAUSES];

	status_holds(d, held);
	status_rejects(d, rej, pause);
	prom_by_reason(f, "ratelimit_holds_total",
		       "Packets held back by the rate limits, by reason.", held,
		       STATUS_N_HOLDS);
	prom_gauge(f, "status_clients",
		   "Status socket connections open now, all listeners.",
		   (double)d->http.clients);
	prom_by_reason(f, "status_clients_rejected_total",
		       "Status clients closed without their document, by "
		       "reason.",
		       rej, STATUS_N_REJECTS);
	prom_by_reason(f, "status_accept_paused_total",
		       "Times a status listener stopped accepting, by reason.",
		       pause, STATUS_N_PAUSES);
}

/* What is true now: queue, leases, connection, limiter, uptime. */
static void prom_gauges(const struct status_snapshot *d, FILE *f)
{
	/* -1 means "not counted yet": an absent series, not a false zero. */
	if (d->pending_seen >= 0)
		prom_gauge(f, "pending_rows",
			   "Pending verifications in the database at the last "
			   "count.",
			   (double)d->pending_seen);
	if (d->exceptions_seen[0] >= 0 && d->exceptions_seen[1] >= 0) {
		prom_family(f, "exception_rows", "gauge",
			    "Verifications by an admin's exception at the last "
			    "count: awaiting approval, or verified.");
		fprintf(f, "ntpverify_exception_rows{state=\"awaiting_approval\"} "
			"%" PRId64 "\nntpverify_exception_rows{state=\"verified\"} "
			"%" PRId64 "\n", d->exceptions_seen[0], d->exceptions_seen[1]);
	}
	prom_gauge(f, "leases_held",
		   "Verifications leased by this prober, waiting or probing.",
		   (double)d->leases_held);
	prom_gauge(f, "attempts_in_flight", "Attempts on the wire now.",
		   (double)d->in_flight);
	prom_gauge(f, "database_connected",
		   "1 when the database connection is up.",
		   d->db_connected ? 1.0 : 0.0);
	prom_gauge(f, "database_writes_blocked",
		   "1 while the database refuses writes; results wait in "
		   "memory.",
		   d->db_writes_blocked ? 1.0 : 0.0);
	prom_gauge(f, "results_waiting",
		   "Results waiting to be written to the database.",
		   (double)d->results_waiting);
	prom_gauge(f, "last_lease_timestamp_seconds",
		   "Unix time of the last successful lease query; 0 = none "
		   "yet.",
		   d->last_lease_at);
	prom_gauge(f, "ratelimit_destinations",
		   "Destinations the rate limiter holds state for.",
		   (double)d->ratelimit_destinations);
	prom_gauge(f, "uptime_seconds", "Seconds since the daemon started.",
		   d->uptime_s);
}

/* One process_* sample, its family named as the Prometheus clients do. */
static void prom_process_one(FILE *f, const char *name, const char *type,
			     const char *help, double v)
{
	prom_family_as(f, name, type, help);
	fprintf(f, "%s ", name);
	prom_double(f, v);
	fputc('\n', f);
}

/* The standard process metrics; absent when /proc could not be read. */
static void prom_process(const struct status_process *p, FILE *f)
{
	if (!p->ok)
		return;
	prom_process_one(f, "process_cpu_seconds_total", "counter",
			 "CPU time of the daemon, user plus system, seconds.",
			 p->cpu_s);
	prom_process_one(f, "process_open_fds", "gauge",
			 "File descriptors the daemon has open now.",
			 (double)p->open_fds);
	/* An unlimited RLIMIT_NOFILE has no number: leave the series out. */
	if (p->max_fds > 0)
		prom_process_one(f, "process_max_fds", "gauge",
				 "The daemon's soft limit on open descriptors.",
				 (double)p->max_fds);
	prom_process_one(f, "process_virtual_memory_bytes", "gauge",
			 "The daemon's virtual memory size, bytes.",
			 (double)p->virtual_bytes);
	prom_process_one(f, "process_resident_memory_bytes", "gauge",
			 "The daemon's resident set size, bytes.",
			 (double)p->resident_bytes);
	prom_process_one(f, "process_start_time_seconds", "gauge",
			 "Unix time the daemon's process started.",
			 p->start_time_s);
}

int status_render_metrics(const struct status_snapshot *d, FILE *f)
{
	prom_counters(d, f);
	prom_gauges(d, f);
	prom_histogram(f, &d->c);
	prom_limits(d, f);

	prom_family(f, "build_info", "gauge",
		    "Always 1; the labels name the build and the prober.");
	fputs("ntpverify_build_info{version=", f);
	prom_label_value(f, d->version != NULL ? d->version : "");
	fputs(",prober=", f);
	prom_label_value(f, d->prober != NULL ? d->prober : "");
	fputs("} 1\n", f);
	prom_process(&d->proc, f);

	prom_family(f, "perspective_info", "gauge",
		    "Always 1; the labels name the perspective this prober "
		    "probes from and its region.");
	fputs("ntpverify_perspective_info{perspective=", f);
	prom_label_value(f, d->perspective != NULL ? d->perspective : "");
	fputs(",region=", f);
	prom_label_value(f, d->region != NULL ? d->region : "");
	fputs("} 1\n", f);

	return ferror(f) ? -1 : 0;
}

/* --- /status JSON ------------------------------------------------------ */

/* Keys are this file's own constants; values from outside are escaped. */
static void json_time_or_null(FILE *f, double t)
{
	char buf[40];

	if (status_iso8601(t, buf, sizeof(buf)))
		json_put_cstr(f, buf);
	else
		fputs("null", f);
}

/* ,"KEY":{"reason":n,...} */
static void json_by_reason(FILE *f, const char *key,
			   const struct status_deferral *v, size_t n)
{
	fprintf(f, ",\"%s\":{", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", v[i].reason,
			v[i].value);
	fputc('}', f);
}

/* The same counters as prom_limits(), inside "counters". */
static void json_limits(const struct status_snapshot *d, FILE *f)
{
	struct status_deferral held[STATUS_N_HOLDS];
	struct status_deferral rej[STATUS_N_REJECTS], pause[STATUS_N_PAUSES];

	status_holds(d, held);
	status_rejects(d, rej, pause);
	json_by_reason(f, "ratelimit_holds", held, STATUS_N_HOLDS);
	json_by_reason(f, "status_clients_rejected", rej, STATUS_N_REJECTS);
	json_by_reason(f, "status_accept_paused", pause, STATUS_N_PAUSES);
}

static void json_counters(const struct status_snapshot *d, FILE *f)
{
	struct status_counter cs[STATUS_N_COUNTERS];
	struct status_deferral df[STATUS_N_DEFERRALS];
	const char *sep = "";

	status_counters(d, cs);
	status_deferrals(d, df);
	fputc('{', f);
	for (size_t i = 0; i < STATUS_N_COUNTERS; i++)
		fprintf(f, "\"%s\":%" PRIu64 ",", cs[i].json, cs[i].value);
	fputs("\"attempts\":{", f);
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		if (o == OUTCOME_READ)
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, sep,
			outcome_name((enum outcome)o), d->c.outcomes[o]);
		sep = ",";
	}
	fprintf(f, "},\"verifications\":{\"verified\":%" PRIu64
		   ",\"expired\":%" PRIu64 "},\"quorum_decisions\":{"
		   "\"verified\":%" PRIu64 ",\"pending\":%" PRIu64 "},"
		   "\"ratelimit_deferrals\":{",
		d->c.verified, d->c.expired, d->decided_verified,
		d->decided_pending);
	for (size_t i = 0; i < STATUS_N_DEFERRALS; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", df[i].reason,
			df[i].value);
	fputc('}', f);
	json_limits(d, f);
	fputc('}', f);
}

/* Newest first; the ring never holds a token (see struct recent_outcome). */
static void json_recent(const struct status_snapshot *d, FILE *f)
{
	const struct recent_outcome *r;

	fputc('[', f);
	for (unsigned k = 0; k < STATUS_RECENT_SHOWN &&
			     (r = counters_recent(&d->c, k)) != NULL;
	     k++) {

		fputs(k > 0 ? ",{\"at\":" : "{\"at\":", f);
		json_time_or_null(f, r->at);
		fprintf(f, ",\"id\":%" PRId64 ",\"server\":", r->id);
		json_put_cstr(f, r->server);
		fputs(",\"outcome\":", f);
		json_put_cstr(f, outcome_name(r->outcome));
		fputs(",\"detail\":", f);
		json_put_cstr(f, r->detail);
		fputc('}', f);
	}
	fputc(']', f);
}

int status_render_json(const struct status_snapshot *d, FILE *f)
{
	fputs("{\"version\":", f);
	json_put_cstr(f, d->version);
	fprintf(f, ",\"uptime_s\":%" PRIu64 ",\"prober\":",
		(uint64_t)d->uptime_s);
	json_put_cstr(f, d->prober);
	fputs(",\"perspective\":", f);
	json_put_cstr(f, d->perspective);
	fputs(",\"region\":", f);
	json_put_cstr(f, d->region);
	fputs(",\"sources\":[", f);
	for (size_t i = 0; i < d->n_sources; i++) {
		if (i > 0)
			fputc(',', f);
		json_put_cstr(f, d->sources[i]);
	}
	fprintf(f, "],\"database\":{\"connected\":%s,\"pending_seen\":",
		d->db_connected ? "true" : "false");
	/* -1: not counted yet. */
	if (d->pending_seen >= 0)
		fprintf(f, "%" PRId64, d->pending_seen);
	else
		fputs("null", f);
	fprintf(f, ",\"results_waiting\":%u,\"writes_blocked\":%s,"
		   "\"writes_refused\":{",
		d->results_waiting, d->db_writes_blocked ? "true" : "false");
	for (size_t i = 0; i < d->n_db_refused; i++) {
		fputs(i > 0 ? "," : "", f);
		json_put_cstr(f, d->db_refused[i].cls);
		fprintf(f, ":%" PRIu64, d->db_refused[i].n);
	}
	fputs("},\"last_lease_at\":", f);
	json_time_or_null(f, d->last_lease_at);
	fprintf(f, "},\"in_flight\":%u,\"leases_held\":%u,"
		   "\"ratelimit_destinations\":%zu,\"status_clients\":%u,"
		   "\"counters\":",
		d->in_flight, d->leases_held, d->ratelimit_destinations,
		d->http.clients);
	json_counters(d, f);
	fputs(",\"recent\":", f);
	json_recent(d, f);
	fputs("}\n", f);

	return ferror(f) ? -1 : 0;
}
