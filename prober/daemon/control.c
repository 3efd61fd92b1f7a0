/*
 * control.c - what steers the daemon from outside the probe path:
 * signals, the poll and prune timers, draining at SIGTERM, systemd's
 * status line and watchdog, and the snapshots the status server renders.
 */
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/evtime.h"
#include "core/log.h"
#include "daemon/daemon_int.h"
#include "daemon/notify.h"
#include "nv_version.h"

_Static_assert(STATUS_MAX_SOURCES >= CONFIG_MAX_SOURCES,
	       "a snapshot holds every configured source address");

bool daemon_drained(const struct daemon *d)
{
	return d->draining && d->n_probing == 0 && store_idle(d->store);
}

/* Probes are over (finished or cancelled): the database's turn. */
static void drain_db_phase(struct daemon *d)
{
	d->drain_db_phase = true;
	evtimer_del(&d->ev_drain);
	evtime_add_ms(&d->ev_drain, DRAIN_DB_GRACE_MS);
}

void daemon_exit_if_drained(struct daemon *d)
{
	if (!d->draining)
		return;
	if (!d->drain_db_phase && d->n_probing == 0)
		drain_db_phase(d);
	if (daemon_drained(d))
		event_base_loopexit(d->base, NULL);
}

/* --- systemd --------------------------------------------------------- */

void send_status(struct daemon *d, const char *prefix)
{
	char msg[256];
	struct store_stats ss;

	store_stats(d->store, &ss);
	snprintf(msg, sizeof(msg),
		 "%sSTATUS=database %s, %u probing, %u waiting, %" PRIu64
		 " verified, %u results unwritten",
		 prefix, d->db_up ? "connected" : "disconnected", d->n_probing,
		 d->n_waiting, d->c.verified, ss.queued);
	notify_send(msg);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	notify_send("WATCHDOG=1");
	send_status(d, "");
	evtime_add_ms(&d->ev_watchdog, notify_watchdog_ms());
}

/* --- the status server's view ----------------------------------------- */

static double uptime_s(const struct daemon *d)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		return 0;
	return (double)(now.tv_sec - d->started.tv_sec) +
	       (double)(now.tv_nsec - d->started.tv_nsec) / 1e9;
}

/* Descriptors in /proc/self/fd, less the one reading it. */
static bool proc_open_fds(uint64_t *out)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (dir == NULL)
		return false;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(dir))
			n++;
	closedir(dir);
	*out = n;
	return true;
}

/* The boot time, Unix seconds: /proc/stat's btime line; 0 on failure. */
static double proc_boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	unsigned long long bt = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "btime %llu", &bt) == 1)
			break;
	fclose(f);
	return (double)bt;
}

/*
 * The standard process_* values, at the moment of the request, from
 * /proc/self/stat (proc(5): utime, stime, starttime in clock ticks;
 * vsize in bytes; rss in pages). The command name, field 2, may hold
 * spaces and parentheses, so parsing starts after its last ')'.
 */
static void proc_snapshot(struct status_process *p)
{
	char buf[1024], *s;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n;
	unsigned long long ut, st, start, vsize, rss;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	double boot = proc_boot_time();
	struct rlimit rl;

	if (f == NULL)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	/* Fields 3..24: state, then 10 skipped, utime, stime, 6 skipped,
	 * starttime, vsize, rss. */
	if (s == NULL || tick <= 0 || page <= 0 || boot <= 0 ||
	    sscanf(s + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
		   " %*d %*d %*d %*d %*d %*d %llu %llu %llu",
		   &ut, &st, &start, &vsize, &rss) != 5 ||
	    !proc_open_fds(&p->open_fds))
		return;
	p->cpu_s = (double)(ut + st) / (double)tick;
	p->start_time_s = boot + (double)start / (double)tick;
	p->virtual_bytes = vsize;
	p->resident_bytes = rss * (uint64_t)page;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		p->max_fds = (uint64_t)rl.rlim_cur;
	p->ok = true;
}

void daemon_snapshot(void *arg, struct status_snapshot *out)
{
	const struct daemon *d = arg;
	struct store_stats ss;
	struct ratelimit_stats rs;

	out->version = NTPVERIFY_VERSION;
	out->uptime_s = uptime_s(d);
	out->prober = d->cfg.prober_name;
	out->perspective = d->cfg.perspective;
	out->region = d->cfg.region;
	out->n_sources = d->cfg.n_sources;
	for (size_t i = 0; i < d->cfg.n_sources; i++)
		out->sources[i] = d->cfg.sources[i].text;

	store_stats(d->store, &ss);
	out->db_connected = d->db_up;
	out->pending_seen = ss.pending_seen;
	out->exceptions_seen[0] = ss.exceptions_seen[0];
	out->exceptions_seen[1] = ss.exceptions_seen[1];
	out->results_waiting = ss.queued;
	out->last_lease_at = ss.last_lease_at;
	out->db_errors = ss.errors;
	out->db_reconnects = ss.reconnects;
	out->results_dropped = ss.dropped;
	out->results_rejected = ss.rejected;
	out->corroborations = ss.corroborations;
	out->decided_verified = ss.decided_verified;
	out->decided_pending = ss.decided_pending;
	out->db_writes_blocked = ss.writes_blocked;
	for (int c = 0; c < STORE_ERR_COUNT && c < STATUS_MAX_ERR_CLASSES; c++) {
		out->db_refused[c].cls =
			store_err_class_name((enum store_err_class)c);
		out->db_refused[c].n = ss.refused[c];
		out->n_db_refused = (size_t)c + 1;
	}

	out->in_flight = d->n_probing;
	out->leases_held = d->n_waiting + d->n_probing;

	memset(&rs, 0, sizeof(rs));
	if (d->rl != NULL) {
		ratelimit_stats(d->rl, &rs);
		out->ratelimit_destinations = ratelimit_tracked(d->rl);
	}
	out->deferred_interval = rs.deferred_interval;
	out->deferred_kod = rs.deferred_kod;
	out->deferred_global = rs.deferred_global;
	out->deferred_daily = rs.deferred_daily;
	out->deferred_prefix_interval = rs.deferred_prefix_interval;
	out->deferred_prefix_daily = rs.deferred_prefix_daily;
	out->deferred_table_full = rs.deferred_table_full;
	out->held_global = rs.held_global;
	out->held_daily = rs.held_daily;
	out->held_kod = rs.held_kod;
	out->held_prefix_daily = rs.held_prefix_daily;
	out->held_table_full = rs.held_table_full;
	out->c = d->c;
	proc_snapshot(&out->proc);
}

/* --- timers and signals --------------------------------------------- */

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	maybe_lease(d);
	store_request_count(d->store);
	evtime_add_ms(&d->ev_poll, d->cfg.queue.poll_interval_ms);
}

static void prune_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	ratelimit_prune(d->rl, evtime_mono_ms());
	evtime_add_ms(&d->ev_prune, PRUNE_INTERVAL_MS);
}

/*
 * One line per result the database never took, so that an admin can
 * replay it (docs/admins.md): what a WRITE would have recorded, minus the
 * lease token. Given-back leases are only counted: they need no replay.
 */
static void log_unwritten_one(void *arg, const struct store_result *r)
{
	unsigned *releases = arg;
	char when[32] = "?", rtt[32] = "-";
	time_t t = (time_t)r->attempted_at;
	struct tm tm;

	if (r->outcome < 0) {
		(*releases)++;
		return;
	}
	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (r->rtt_ms >= 0)
		snprintf(rtt, sizeof(rtt), "%.3f", r->rtt_ms);
	log_err("shutdown: unwritten result: verification %" PRId64
		" outcome %s attempted_at %s source %s rtt_ms %s",
		r->id, outcome_name((enum outcome)r->outcome), when,
		r->source[0] != '\0' ? r->source : "-", rtt);
}

static void log_unwritten(struct daemon *d)
{
	unsigned releases = 0;
	unsigned n = store_foreach_unwritten(d->store, log_unwritten_one,
					     &releases);

	log_err("shutdown: %u results could not be written to the database "
		"(%u of them leases given back, which need no replay)",
		n, releases);
}

static void drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (!d->drain_db_phase) {
		/* Their grace is over: cancel them, give the rows back. */
		struct job *j;
		log_info("shutdown: %u probes cancelled after %d ms, their "
			 "leases given back",
			 d->n_probing, DRAIN_PROBE_GRACE_MS);
		while ((j = TAILQ_FIRST(&d->probing)) != NULL)
			release_job(d, j, 0);
		daemon_exit_if_drained(d);
		return;
	}
	log_unwritten(d);
	d->exit_status = 1;
	event_base_loopexit(d->base, NULL);
}

static void start_drain(struct daemon *d, const char *why)
{
	struct job *j;

	if (d->draining)
		return;
	log_info("%s: stopping; %u probes in flight, %u leases to give back",
		 why, d->n_probing, d->n_waiting);
	notify_send("STOPPING=1\nSTATUS=stopping: finishing probes, "
		    "writing results");
	d->draining = true;
	evtimer_del(&d->ev_poll);
	evtimer_del(&d->ev_sched);
	while ((j = TAILQ_FIRST(&d->waiting)) != NULL)
		release_job(d, j, 0);
	/* Results waiting for another session's lock: one more try now. */
	store_unpark_all(d->store);
	/* No wait for probes when none is in flight (then the database phase). */
	if (d->n_probing > 0)
		evtime_add_ms(&d->ev_drain, DRAIN_PROBE_GRACE_MS);
	daemon_exit_if_drained(d);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		reload(arg);
	else
		start_drain(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
}

void daemon_events_start(struct daemon *d)
{
	evtimer_assign(&d->ev_poll, d->base, poll_cb, d);
	evtimer_assign(&d->ev_prune, d->base, prune_cb, d);
	evtimer_assign(&d->ev_drain, d->base, drain_deadline_cb, d);
	evsignal_assign(&d->ev_sigterm, d->base, SIGTERM, signal_cb, d);
	evsignal_assign(&d->ev_sigint, d->base, SIGINT, signal_cb, d);
	evsignal_assign(&d->ev_sighup, d->base, SIGHUP, signal_cb, d);
	evsignal_add(&d->ev_sigterm, NULL);
	evsignal_add(&d->ev_sigint, NULL);
	evsignal_add(&d->ev_sighup, NULL);
	evtimer_assign(&d->ev_watchdog, d->base, watchdog_cb, d);
	if (notify_watchdog_ms() > 0)
		evtime_add_ms(&d->ev_watchdog, notify_watchdog_ms());
	evtime_add_ms(&d->ev_poll, d->cfg.queue.poll_interval_ms);
	evtime_add_ms(&d->ev_prune, PRUNE_INTERVAL_MS);
}

void daemon_events_stop(struct daemon *d)
{
	event_del(&d->ev_poll);
	event_del(&d->ev_prune);
	event_del(&d->ev_drain);
	event_del(&d->ev_sigterm);
	event_del(&d->ev_sigint);
	event_del(&d->ev_sighup);
	event_del(&d->ev_watchdog);
}
