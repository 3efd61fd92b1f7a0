/*
 * daemon.c - `ntpverify run`: the scheduler that puts leased jobs on the
 * wire (destination policy, source address, rate limits), and the
 * daemon's lifecycle: options, start-up, the loop, tear-down. The rest of
 * the daemon is in jobs.c, control.c and reload.c (see daemon_int.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/evtime.h"
#include "core/log.h"
#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "daemon/notify.h"
#include "daemon/status.h"
#include "engine/admission.h"
#include "engine/ratelimit_config.h"
#include "nv_version.h"

/* --- the scheduler ----------------------------------------------------- */

static bool gate(void *arg, const struct sockaddr *dst)
{
	struct daemon *d = arg;
	uint64_t now = evtime_mono_ms();

	if (ratelimit_take_packet(d->rl, dst, now)) {
		lease_bucket_take(&d->bucket, &d->cfg, now);
		return true;
	}
	d->c.held_by_ratelimit++;
	return false;
}

/* What to send for this job; admission picks the source. */
static void job_request(struct daemon *d, const struct job *j,
			struct probe_request *req)
{
	memset(req, 0, sizeof(*req));
	req->dst = j->dst;
	req->dstlen = j->dstlen;
	req->variable = d->cfg.variable;
	if (j->lease.key_method) {
		req->method = PROBE_KEY;
		req->key = &j->key;
	} else if (j->lease.refid_method) {
		req->method = PROBE_REFID;
		req->refid_code = j->lease.refid_code;
	} else {
		req->token = j->lease.token;
	}
	req->timeout_ms = d->cfg.probe.timeout_ms;
	req->retransmit_ms = d->cfg.probe.retransmit_ms;
	req->gate = gate;
	req->gate_arg = d;
}

/*
 * Nothing could be sent (no route, the source address gone, no
 * descriptors): an attempt like any other, outcome send_failed, retried on
 * the schedule. The log says so once when sending starts failing (or fails
 * differently), not once per attempt: the attempts are in the database and
 * in the metrics.
 */
static void send_failed(struct daemon *d, struct job *j)
{
	const char *detail = j->probe.result.detail;

	if (!d->send_failing || strcmp(d->send_fail_detail, detail) != 0) {
		log_warn("cannot send probes: %s (verification %" PRId64
			 ", %s); recorded as send_failed and retried on the "
			 "schedule, further failures logged at debug",
			 detail, j->lease.id, j->lease.server);
		d->send_failing = true;
		d->send_fail_quiet = 0;
		snprintf(d->send_fail_detail, sizeof(d->send_fail_detail),
			 "%s", detail);
	} else {
		d->send_fail_quiet++;
	}
	job_finish(d, j, OUTCOME_SEND_FAILED, detail, NULL,
		   retry_delay_s(&d->cfg, j->lease.attempts));
}

/* A probe went out: end the failing state, if any, with one line. */
static void send_works(struct daemon *d)
{
	if (!d->send_failing)
		return;
	log_info("probes are sent again (%" PRIu64 " more send_failed "
		 "attempts since the warning)",
		 d->send_fail_quiet);
	d->send_failing = false;
	d->send_fail_detail[0] = '\0';
}

/* Try to put one waiting job on the wire. Returns false to keep it waiting. */
static bool try_start(struct daemon *d, struct job *j, uint64_t now,
		      uint64_t *wake)
{
	const struct admission rules = {
		.rl = d->rl,
		.allow_private = d->cfg.allow_private_targets,
		.sources = d->cfg.sources,
		.n_sources = d->cfg.n_sources,
		.next_source = d->next_source,
	};
	struct admission_decision ad;
	struct probe_request req;

	job_request(d, j, &req);
	admission_start(&rules, &req, now, &j->probe, d->pio, probe_done, j,
			&ad);
	switch (ad.status) {
	case ADMISSION_REFUSED:
	case ADMISSION_NO_SOURCE:
		d->c.refused_by_policy++;
		job_finish(d, j, OUTCOME_REFUSED_BY_POLICY, ad.why, NULL,
			   retry_delay_s(&d->cfg, j->lease.attempts));
		return true;
	case ADMISSION_DEFERRED: {
		uint64_t not_before = ad.not_before_ms;
		if (not_before == UINT64_MAX || not_before > j->start_by_ms) {
			/* Not before the lease's usable time ends: give it back. */
			double after = not_before == UINT64_MAX
					       ? retry_delay_s(&d->cfg, RETRY_LAST_STEP)
					       : (double)(not_before - now) / 1000.0;
			log_debug("verification %" PRId64 " (%s): deferred, %s",
				  j->lease.id, j->lease.server, ad.why);
			release_job(d, j, after);
			return true;
		}
		j->not_before_ms = not_before;
		if (not_before < *wake)
			*wake = not_before;
		return false;
	}
	case ADMISSION_NO_MEMORY:
		log_warn("rate limiter out of memory; verification %" PRId64
			 " deferred",
			 j->lease.id);
		j->not_before_ms = now + 1000;
		if (j->not_before_ms < *wake)
			*wake = j->not_before_ms;
		return false;
	case ADMISSION_FAILED:
		send_failed(d, j);
		return true;
	case ADMISSION_STARTED:
		break;
	}
	send_works(d);
	TAILQ_REMOVE(&d->waiting, j, link);
	d->n_waiting--;
	TAILQ_INSERT_TAIL(&d->probing, j, link);
	d->n_probing++;
	j->probing = true;
	d->c.probes_started++;
	return true;
}

/*
 * A job still waiting when its lease's usable time is over goes back to
 * the database unprobed (a release, not an attempt): started any later,
 * the probe could outlive the lease, and the row would be leased again
 * while we still held it. Due again at once, it is leased anew.
 */
static void give_back_late(struct daemon *d, struct job *j)
{
	d->c.leases_given_back++;
	log_debug("verification %" PRId64 " (%s): not started within the "
		  "lease, given back",
		  j->lease.id, j->lease.server);
	release_job(d, j, 0);
}

static void wake_at(uint64_t *wake, uint64_t t)
{
	if (t < *wake)
		*wake = t;
}

void sched_run(struct daemon *d)
{
	uint64_t now = evtime_mono_ms();
	uint64_t wake = UINT64_MAX;
	unsigned given_back = 0;
	struct job *j, *next;

	if (d->draining)
		return;
	for (j = TAILQ_FIRST(&d->waiting); j != NULL; j = next) {
		next = TAILQ_NEXT(j, link);
		if (j->start_by_ms < now) {
			give_back_late(d, j);
			given_back++;
			continue;
		}
		/* Past start_by_ms, the next run gives it back. */
		wake_at(&wake, j->start_by_ms + 1);
		if (j->not_before_ms > now) {
			wake_at(&wake, j->not_before_ms);
			continue;
		}
		if (d->n_probing >= d->cfg.probe.max_in_flight)
			continue; /* probe_done() runs us again */
		try_start(d, j, now, &wake);
	}
	evtimer_del(&d->ev_sched);
	if (wake != UINT64_MAX)
		evtime_add_ms(&d->ev_sched, wake > now ? wake - now : 0);
	if (given_back > 0)
		maybe_lease(d);
}

static void sched_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sched_run(arg);
}

/* --- the command ------------------------------------------------------ */

/*
 * Say at start-up, once, if a published address is not on this machine:
 * otherwise every probe from it fails with the same error. Not fatal, as
 * the address may be configured a moment later.
 */
static void check_sources(const struct nv_config *cfg)
{
	for (size_t i = 0; i < cfg->n_sources; i++) {
		const struct config_source *src = &cfg->sources[i];
		int fd = socket(src->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (bind(fd, (const struct sockaddr *)&src->addr,
			 src->addrlen) < 0)
			log_warn("source address %s cannot be used now (%s): "
				 "probes from it will fail until it is "
				 "configured on this machine",
				 src->text, strerror(errno));
		close(fd);
	}
}

/* Load and check the configuration; a new daemon, or NULL (reported). */
static struct daemon *daemon_new(const char *path, config_error_fn err,
				 void *err_arg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char msg[512];

	if (d == NULL)
		return NULL;
	if (config_load(&d->cfg, path, err, err_arg) < 0) {
		free(d);
		return NULL;
	}
	if (d->cfg.prober_name == NULL || d->cfg.prober_name[0] == '\0') {
		snprintf(msg, sizeof(msg),
			 "%s: prober_name must be set to run the daemon", path);
		err(err_arg, msg);
		config_free(&d->cfg);
		free(d);
		return NULL;
	}
	if (d->cfg.n_sources == 0)
		log_warn("no source_addresses configured: probes leave from "
			 "whatever address the kernel picks, which operators "
			 "cannot know for their restrict lines");
	check_sources(&d->cfg);

	d->config_path = path;
	d->exit_status = 0;
	TAILQ_INIT(&d->waiting);
	TAILQ_INIT(&d->probing);
	job_table_init(&d->jobs);
	lease_bucket_init(&d->bucket, &d->cfg, evtime_mono_ms());
	clock_gettime(CLOCK_MONOTONIC, &d->started);
	return d;
}

/*
 * The loop with a precise clock. libevent's default on Linux is
 * CLOCK_MONOTONIC_COARSE, which moves in jiffies (4 ms on the bench's
 * kernel), with millisecond epoll timeouts: a timer fired up to a jiffy
 * late (or early, and then again). Each such delay of the store's due
 * wake-up lands on a second confirmation, which is meant to come
 * confirmation_gap after the first and no later. PRECISE_TIMER reads
 * CLOCK_MONOTONIC and arms a timerfd: one more system call per pass of
 * the loop.
 */
static struct event_base *daemon_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	if (event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER) < 0)
		log_warn("libevent: no precise timers; due rows may wait for the poll");
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* The loop, the limiter, the store and the status socket; -1 if one failed. */
static int daemon_open(struct daemon *d)
{
	struct ratelimit_params rp = limits_from_config(&d->cfg);

	d->base = daemon_base_new();
	if (d->base == NULL || (d->pio = probe_io_new(d->base)) == NULL ||
	    (d->rl = ratelimit_new(&rp)) == NULL) {
		log_err("cannot start: %s", strerror(errno));
		return -1;
	}

	const char *sources[CONFIG_MAX_SOURCES];
	for (size_t i = 0; i < d->cfg.n_sources; i++)
		sources[i] = d->cfg.sources[i].text;
	struct store_params sp = {
		.conninfo = d->cfg.database,
		.prober_name = d->cfg.prober_name,
		.perspective = d->cfg.perspective,
		.region = d->cfg.region,
		.sources = sources,
		.n_sources = d->cfg.n_sources,
		.lease_time_ms = d->cfg.queue.lease_time_ms,
		.reconnect_max_ms = d->cfg.queue.reconnect_max_ms,
		.max_unwritten = d->cfg.queue.max_unwritten,
		.expiry_ms = d->cfg.retry.expiry_ms,
		.poll_interval_ms = d->cfg.queue.poll_interval_ms,
		.lock_timeout_ms = d->cfg.queue.lock_timeout_ms,
	};
	struct store_hooks hooks = daemon_store_hooks(d);
	d->store = store_new(d->base, &sp, &hooks);
	if (d->store == NULL) {
		log_err("cannot start: %s", strerror(errno));
		return -1;
	}
	struct status_params stp = {
		.socket_path = d->cfg.status_socket,
		.listen = d->cfg.status_listen,
		.max_clients = d->cfg.status_max_clients,
		.max_in_flight = d->cfg.probe.max_in_flight,
		.allow = d->cfg.status_allow,
		.n_allow = d->cfg.n_status_allow,
	};
	d->status = status_open(d->base, &stp, daemon_snapshot, d);
	if (d->status == NULL)
		return -1;

	evtimer_assign(&d->ev_sched, d->base, sched_cb, d);
	daemon_events_start(d);
	return 0;
}

/* Undo daemon_open() (any part of it) and daemon_new(). */
static void daemon_free(struct daemon *d)
{
	struct job *j;

	if (d->status != NULL) {
		/* Events are only armed once the status socket is open. */
		event_del(&d->ev_sched);
		daemon_events_stop(d);
	}
	while ((j = TAILQ_FIRST(&d->probing)) != NULL)
		job_free(d, j);
	while ((j = TAILQ_FIRST(&d->waiting)) != NULL)
		job_free(d, j);
	job_table_reset(&d->jobs);
	status_close(d->status);
	store_free(d->store);
	ratelimit_free(d->rl);
	probe_io_free(d->pio);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(&d->cfg);
	free(d);
}

int daemon_run(const char *path, config_error_fn err, void *err_arg)
{
	struct daemon *d;
	int status;

	if (log_stderr_is_journal(getenv("JOURNAL_STREAM")))
		log_set_journal(true);
	if (notify_init() < 0)
		log_warn("systemd notifications disabled");

	d = daemon_new(path, err, err_arg);
	if (d == NULL)
		return DAEMON_EXIT_CONFIG;
	if (daemon_open(d) < 0) {
		daemon_free(d);
		notify_close();
		return DAEMON_EXIT_CONFIG;
	}

	log_info("ntpverify %s: prober %s, %zu source address%s, up to %u "
		 "probes in flight",
		 NTPVERIFY_VERSION, d->cfg.prober_name, d->cfg.n_sources,
		 d->cfg.n_sources == 1 ? "" : "es", d->cfg.probe.max_in_flight);

	event_base_dispatch(d->base);

	log_info("stopped: %" PRIu64 " probe%s, %" PRIu64 " verified, %" PRIu64
		 " expired",
		 d->c.probes_started, d->c.probes_started == 1 ? "" : "s",
		 d->c.verified, d->c.expired);
	status = d->exit_status;
	daemon_free(d);
	notify_close();
	return status;
}
