/*
 * status.c - the status socket: /metrics and /status over evhttp.
 *
 * Both documents are rendered from the daemon's in-memory counters into a
 * memory stream and handed to evhttp in one piece; nothing here blocks or
 * waits on the database. One table (status_counters) feeds both documents,
 * so the JSON and the Prometheus names cannot drift apart.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "core/log.h"
#include "daemon/status.h"
#include "core/textout.h"

#include "nv_version.h"

/* After accept() runs out of descriptors, pause accepting this long. */
#define STATUS_ACCEPT_PAUSE_MS 250

#define STATUS_CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define STATUS_CT_JSON "application/json"
#define STATUS_CT_TEXT "text/plain; charset=utf-8"

struct status {
	struct daemon *d;                 /* not owned; outlives us */
	struct evhttp *http;              /* serves both listeners */
	struct evhttp_bound_socket *unix_bs; /* owns the unix socket fd */
	struct evhttp_bound_socket *tcp_bs;  /* NULL without status_listen */
	char *unix_path;                  /* to unlink at close; owned */
	dev_t unix_dev;                   /* identity of the socket file we */
	ino_t unix_ino;                   /*   made, so close unlinks only it */
	struct event ev_resume;           /* re-enable accepting after EMFILE */
	time_t last_pause_log;            /* monotonic s: one warning a minute */
};

/*
 * evconnlistener passes its error callback evhttp's user data, not ours,
 * so the one status server of the process is found through this pointer.
 */
static struct status *status_current;

/* --- the counters both documents show -------------------------------- */

struct status_counter {
	const char *metric; /* ntpverify_<metric>_total */
	const char *json;   /* key in /status "counters" */
	const char *help;   /* # HELP text */
	uint64_t value;
};

#define STATUS_N_COUNTERS 9

static void status_counters(const struct daemon *d,
			    struct status_counter out[STATUS_N_COUNTERS])
{
	const struct status_counter c[STATUS_N_COUNTERS] = {
		{ "probes_started", "probes_started",
		  "Verification attempts put on the wire.",
		  d->c.probes_started },
		{ "packets_sent", "packets_sent",
		  "NTP datagrams sent, first sends and retransmits.",
		  d->c.packets_sent },
		{ "packets_received", "packets_received",
		  "NTP datagrams received from probed servers.",
		  d->c.packets_received },
		{ "attempts_refused_by_policy", "refused_by_policy",
		  "Attempts refused by the destination policy; nothing sent.",
		  d->c.refused_by_policy },
		{ "ratelimit_packets_held", "packets_held",
		  "Packets held back by the rate limits.",
		  d->c.held_by_ratelimit },
		{ "database_errors", "database_errors",
		  "Failed database statements and connections.",
		  d->store.n_errors },
		{ "database_reconnects", "database_reconnects",
		  "Database connections re-established after a loss.",
		  d->store.n_reconnects },
		{ "stale_results_discarded", "stale_results_discarded",
		  "Results discarded because the lease was lost.",
		  d->c.discarded },
		{ "results_dropped", "results_dropped",
		  "Results dropped because too many were waiting for the "
		  "database.",
		  d->store.dropped },
	};
	memcpy(out, c, sizeof(c));
}

/* Rate-limit deferrals by the reason ratelimit_may_start() gave. */
struct status_deferral {
	const char *reason; /* label value and JSON key */
	uint64_t value;
};

#define STATUS_N_DEFERRALS 4

static void status_deferrals(const struct daemon *d,
			     struct status_deferral out[STATUS_N_DEFERRALS])
{
	struct ratelimit_stats rs;

	memset(&rs, 0, sizeof(rs));
	if (d->rl != NULL)
		ratelimit_stats(d->rl, &rs);
	out[0] = (struct status_deferral){ "destination_interval",
					   rs.deferred_interval };
	out[1] = (struct status_deferral){ "kod_holdoff", rs.deferred_kod };
	out[2] = (struct status_deferral){ "global_rate", rs.deferred_global };
	out[3] = (struct status_deferral){ "daily_budget", rs.deferred_daily };
}

static double status_uptime_s(const struct daemon *d)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	return (double)(now.tv_sec - d->started.tv_sec) +
	       (double)(now.tv_nsec - d->started.tv_nsec) / 1e9;
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

static void prom_family(FILE *f, const char *name, const char *type,
			const char *help)
{
	fprintf(f, "# HELP ntpverify_%s %s\n# TYPE ntpverify_%s %s\n", name,
		help, name, type);
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

	prom_family(f, "probe_rtt_seconds", "histogram",
		    "Round-trip time of the first mode 6 reply per attempt.");
	for (int i = 0; i < RTT_BUCKETS; i++) {
		/* The struct counts per bucket; Prometheus wants "<= le". */
		cum += c->rtt_buckets[i];
		fputs("ntpverify_probe_rtt_seconds_bucket{le=\"", f);
		prom_double(f, rtt_bucket_bounds[i]);
		fprintf(f, "\"} %" PRIu64 "\n", cum);
	}
	fprintf(f, "ntpverify_probe_rtt_seconds_bucket{le=\"+Inf\"} %" PRIu64
		   "\n",
		c->rtt_count);
	fputs("ntpverify_probe_rtt_seconds_sum ", f);
	prom_double(f, c->rtt_sum_s);
	fprintf(f, "\nntpverify_probe_rtt_seconds_count %" PRIu64 "\n",
		c->rtt_count);
}

int status_write_metrics(const struct daemon *d, FILE *f)
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

	prom_family(f, "ratelimit_deferrals_total", "counter",
		    "Attempt starts postponed by the rate limits, by reason.");
	for (size_t i = 0; i < STATUS_N_DEFERRALS; i++) {
		fputs("ntpverify_ratelimit_deferrals_total{reason=", f);
		prom_label_value(f, df[i].reason);
		fprintf(f, "} %" PRIu64 "\n", df[i].value);
	}

	/* -1 means "not counted yet": an absent series, not a false zero. */
	if (d->store.pending_seen >= 0)
		prom_gauge(f, "pending_rows",
			   "Pending verifications in the database at the last "
			   "count.",
			   (double)d->store.pending_seen);
	prom_gauge(f, "leases_held",
		   "Verifications leased by this prober, waiting or probing.",
		   (double)(d->n_waiting + d->n_probing));
	prom_gauge(f, "probes_in_flight", "Probes on the wire now.",
		   (double)d->n_probing);
	prom_gauge(f, "database_connected",
		   "1 when the database connection is up.",
		   d->db_up ? 1.0 : 0.0);
	prom_gauge(f, "results_waiting",
		   "Results waiting to be written to the database.",
		   (double)d->store.queued);
	prom_gauge(f, "last_lease_timestamp_seconds",
		   "Unix time of the last successful lease query; 0 = none "
		   "yet.",
		   d->store.last_lease_at);
	prom_gauge(f, "ratelimit_destinations",
		   "Destinations the rate limiter holds state for.",
		   d->rl != NULL ? (double)ratelimit_tracked(d->rl) : 0.0);
	prom_gauge(f, "uptime_seconds", "Seconds since the daemon started.",
		   status_uptime_s(d));

	prom_histogram(f, &d->c);

	prom_family(f, "build_info", "gauge",
		    "Always 1; the labels name the build and the prober.");
	fputs("ntpverify_build_info{version=", f);
	prom_label_value(f, NTPVERIFY_VERSION);
	fputs(",prober=", f);
	prom_label_value(f, d->cfg.prober_name != NULL ? d->cfg.prober_name
						       : "");
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

static void json_counters(const struct daemon *d, FILE *f)
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
		   ",\"expired\":%" PRIu64 "},\"ratelimit_deferrals\":{",
		d->c.verified, d->c.expired);
	for (size_t i = 0; i < STATUS_N_DEFERRALS; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", df[i].reason,
			df[i].value);
	fputs("}}", f);
}

/* Newest first; the ring never holds a token (see struct recent_outcome). */
static void json_recent(const struct daemon *d, FILE *f)
{
	const struct daemon_counters *c = &d->c;
	unsigned n = c->recent_n < STATUS_RECENT_SHOWN ? c->recent_n
						       : STATUS_RECENT_SHOWN;

	fputc('[', f);
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (c->recent_next + RECENT_MAX - 1 - k) % RECENT_MAX;
		const struct recent_outcome *r = &c->recent[i];

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

int status_write_json(const struct daemon *d, FILE *f)
{
	fputs("{\"version\":", f);
	json_put_cstr(f, NTPVERIFY_VERSION);
	fprintf(f, ",\"uptime_s\":%" PRIu64 ",\"prober\":",
		(uint64_t)status_uptime_s(d));
	json_put_cstr(f, d->cfg.prober_name);
	fputs(",\"sources\":[", f);
	for (size_t i = 0; i < d->cfg.n_sources; i++) {
		if (i > 0)
			fputc(',', f);
		json_put_cstr(f, d->cfg.sources[i].text);
	}
	fprintf(f, "],\"database\":{\"connected\":%s,\"pending_seen\":",
		d->db_up ? "true" : "false");
	/* -1: not counted yet. */
	if (d->store.pending_seen >= 0)
		fprintf(f, "%" PRId64, d->store.pending_seen);
	else
		fputs("null", f);
	fprintf(f, ",\"results_waiting\":%u,\"last_lease_at\":",
		d->store.queued);
	json_time_or_null(f, d->store.last_lease_at);
	fprintf(f, "},\"in_flight\":%u,\"leases_held\":%u,"
		   "\"ratelimit_destinations\":%zu,\"counters\":",
		d->n_probing, d->n_waiting + d->n_probing,
		d->rl != NULL ? ratelimit_tracked(d->rl) : 0);
	json_counters(d, f);
	fputs(",\"recent\":", f);
	json_recent(d, f);
	fputs("}\n", f);

	return ferror(f) ? -1 : 0;
}

/* --- HTTP ------------------------------------------------------------- */

static void status_reply(struct evhttp_request *req, int code,
			 const char *reason, const char *ctype,
			 const char *body, size_t len)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char clen[24];
	bool ok;

	/*
	 * evhttp sends whatever is in the buffer, HEAD or not: for HEAD give
	 * the length a GET would have and leave the body out.
	 */
	snprintf(clen, sizeof(clen), "%zu", len);
	ok = out != NULL && evhttp_add_header(oh, "Content-Type", ctype) == 0 &&
	     evhttp_add_header(oh, "Cache-Control", "no-store") == 0 &&
	     (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD
		      ? evhttp_add_header(oh, "Content-Length", clen) == 0
		      : evbuffer_add(out, body, len) == 0);
	if (ok)
		evhttp_send_reply(req, code, reason, out);
	else
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
	if (out != NULL)
		evbuffer_free(out);
}

static void status_reply_text(struct evhttp_request *req, int code,
			      const char *reason, const char *text)
{
	status_reply(req, code, reason, STATUS_CT_TEXT, text, strlen(text));
}

/* Render one document into memory and send it; 500 if that failed. */
static void status_serve(struct evhttp_request *req, const struct daemon *d,
			 int (*render)(const struct daemon *, FILE *),
			 const char *ctype)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL) {
		log_warn("status: cannot render a reply: %s", strerror(errno));
		status_reply_text(req, HTTP_INTERNAL, "Internal Server Error",
				  "out of memory\n");
		return;
	}
	rc = render(d, f);
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0) {
		free(buf);
		log_warn("status: cannot render a reply: out of memory");
		status_reply_text(req, HTTP_INTERNAL, "Internal Server Error",
				  "out of memory\n");
		return;
	}
	status_reply(req, HTTP_OK, "OK", ctype, buf, len);
	free(buf);
}

static void status_request_cb(struct evhttp_request *req, void *arg)
{
	struct status *st = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		if (evhttp_add_header(evhttp_request_get_output_headers(req),
				      "Allow", "GET, HEAD") < 0) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		status_reply_text(req, 405, "Method Not Allowed",
				  "only GET and HEAD\n");
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0)
		status_serve(req, st->d, status_write_metrics,
			     STATUS_CT_METRICS);
	else if (path != NULL && strcmp(path, "/status") == 0)
		status_serve(req, st->d, status_write_json, STATUS_CT_JSON);
	else
		status_reply_text(req, HTTP_NOTFOUND, "Not Found",
				  "not found: try /metrics or /status\n");
}

/* --- listeners ----------------------------------------------------------- */

static void status_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status *st = arg;

	(void)fd;
	(void)what;
	if (st->unix_bs != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(st->unix_bs)) < 0)
		log_warn("status: cannot resume accepting on the unix socket");
	if (st->tcp_bs != NULL &&
	    evconnlistener_enable(evhttp_bound_socket_get_listener(st->tcp_bs)) < 0)
		log_warn("status: cannot resume accepting on %s",
			 st->d->cfg.status_listen);
}

/*
 * accept() failed for a reason other than "try again". When the process is
 * out of descriptors the listening socket stays readable, and the loop
 * would spin on it: stop accepting for a moment instead; clients wait in
 * the backlog and probes get the descriptors that free up first.
 */
static void status_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct status *st = status_current;
	int err = errno;
	struct timeval tv = { 0, STATUS_ACCEPT_PAUSE_MS * 1000 };
	struct timespec now;

	(void)arg;
	if (st == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (st->last_pause_log == 0 || now.tv_sec - st->last_pause_log >= 60) {
		st->last_pause_log = now.tv_sec;
		log_warn("status: accept: %s; pausing for %d ms (said once a "
			 "minute)",
			 strerror(err), STATUS_ACCEPT_PAUSE_MS);
	}
	if (evconnlistener_disable(lev) < 0 ||
	    evtimer_add(&st->ev_resume, &tv) < 0)
		log_err("status: cannot pause accepting");
}

/* Hand a listening fd to evhttp; on failure the fd is closed. */
static struct evhttp_bound_socket *status_serve_fd(struct status *st, int fd,
						   const char *what)
{
	struct evhttp_bound_socket *bs =
		evhttp_accept_socket_with_handle(st->http, fd);

	if (bs == NULL) {
		log_err("status socket %s: cannot serve it", what);
		close(fd);
		return NULL;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bs),
				    status_accept_error_cb);
	return bs;
}

/*
 * A socket file left by a daemon that died is replaced; one that accepts
 * connections belongs to a live process and is left alone, and so is
 * anything that is not a socket (a typo must not delete a file).
 */
static int status_clear_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat sb;
	int fd, rc, err;

	if (lstat(path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("status socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		log_err("status socket %s: exists and is not a socket; not "
			"replacing it",
			path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("status socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN) {
		log_err("status socket %s: another process is listening on it "
			"(is ntpverify already running?)",
			path);
		return -1;
	}
	if (err != ECONNREFUSED) {
		log_err("status socket %s: %s", path, strerror(err));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("status socket %s: cannot remove the stale socket: %s",
			path, strerror(errno));
		return -1;
	}
	log_debug("status socket %s: removed a stale socket", path);
	return 0;
}

static int status_listen_unix(struct status *st, const char *path)
{
	struct sockaddr_un sun;
	struct stat sb;
	mode_t old_mask;
	int fd, rc, err;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (path[0] == '\0' || strlen(path) >= sizeof(sun.sun_path)) {
		log_err("status socket '%s': the path must be 1 to %zu bytes",
			path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (status_clear_stale(path, &sun) < 0)
		return -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("status socket %s: socket: %s", path, strerror(errno));
		return -1;
	}
	/* Created 0660 from the start: no window with looser permissions. */
	old_mask = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	err = errno;
	umask(old_mask);
	if (rc < 0) {
		log_err("status socket %s: cannot bind: %s%s", path,
			strerror(err),
			err == ENOENT ? " (its directory must exist; under "
					"systemd, RuntimeDirectory= makes it)"
				      : "");
		close(fd);
		return -1;
	}
	if (chmod(path, 0660) < 0 || stat(path, &sb) < 0) {
		log_err("status socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	st->unix_dev = sb.st_dev;
	st->unix_ino = sb.st_ino;
	st->unix_path = strdup(path);
	if (st->unix_path == NULL || listen(fd, SOMAXCONN) < 0) {
		log_err("status socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	st->unix_bs = status_serve_fd(st, fd, path);
	if (st->unix_bs == NULL) {
		unlink(path);
		return -1;
	}
	return 0;
}

static int status_listen_tcp(struct status *st, const char *text)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (config_parse_listen(text, &ss, &len) < 0) {
		log_err("status_listen '%s': not ADDRESS:PORT or [IPV6]:PORT",
			text);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		log_err("status_listen %s: socket: %s", text, strerror(errno));
		return -1;
	}
	/* A restart must not wait for old connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		log_err("status_listen %s: setsockopt: %s", text,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		log_err("status_listen %s: cannot listen: %s", text,
			strerror(errno));
		close(fd);
		return -1;
	}
	st->tcp_bs = status_serve_fd(st, fd, text);
	return st->tcp_bs != NULL ? 0 : -1;
}

/* A thousand status clients plus the probes' sockets need room. */
static void status_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t old;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	if (rl.rlim_cur >= rl.rlim_max) {
		log_debug("open file limit: %ju", (uintmax_t)rl.rlim_cur);
		return;
	}
	old = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("cannot raise the open file limit from %ju to %ju: %s",
			 (uintmax_t)old, (uintmax_t)rl.rlim_max,
			 strerror(errno));
		return;
	}
	log_debug("open file limit raised from %ju to %ju", (uintmax_t)old,
		  (uintmax_t)rl.rlim_cur);
}

struct status *status_open(struct daemon *d)
{
	struct status *st;
	const char *path = d->cfg.status_socket;

	if (path == NULL) {
		log_err("status socket: no status_socket configured");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		log_err("status socket: %s", strerror(errno));
		return NULL;
	}
	st->d = d;
	evtimer_assign(&st->ev_resume, d->base, status_resume_cb, st);
	status_raise_nofile();

	st->http = evhttp_new(d->base);
	if (st->http == NULL) {
		log_err("status socket: cannot create the HTTP server");
		free(st);
		return NULL;
	}
	evhttp_set_max_headers_size(st->http, STATUS_MAX_HEADERS);
	evhttp_set_max_body_size(st->http, STATUS_MAX_BODY);
	evhttp_set_timeout(st->http, STATUS_TIMEOUT_S);
	/* Let every method reach the handler, which answers 405 + Allow. */
	evhttp_set_allowed_methods(
		st->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				  EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
				  EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(st->http, STATUS_CT_TEXT);
	evhttp_set_gencb(st->http, status_request_cb, st);
	status_current = st;

	if (status_listen_unix(st, path) < 0 ||
	    (d->cfg.status_listen != NULL && d->cfg.status_listen[0] != '\0' &&
	     status_listen_tcp(st, d->cfg.status_listen) < 0)) {
		status_close(st);
		return NULL;
	}
	log_info("status socket %s%s%s", path,
		 st->tcp_bs != NULL ? ", metrics also on " : "",
		 st->tcp_bs != NULL ? d->cfg.status_listen : "");
	return st;
}

void status_close(struct status *st)
{
	struct stat sb;

	if (st == NULL)
		return;
	evtimer_del(&st->ev_resume);
	/* Frees the bound sockets (closing their fds) and every client. */
	if (st->http != NULL)
		evhttp_free(st->http);
	/* A successor may already have bound the path: only remove ours. */
	if (st->unix_path != NULL && stat(st->unix_path, &sb) == 0 &&
	    sb.st_dev == st->unix_dev && sb.st_ino == st->unix_ino &&
	    unlink(st->unix_path) < 0)
		log_warn("status socket %s: cannot remove it: %s",
			 st->unix_path, strerror(errno));
	if (status_current == st)
		status_current = NULL;
	free(st->unix_path);
	free(st);
}
