/*
 * daemon.c - `ntpverify run`: lease, schedule, probe, record.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "daemon/daemon.h"
#include <openssl/crypto.h>

#include "core/evtime.h"
#include "nv_version.h"
#include "engine/ratelimit_config.h"
#include "core/log.h"
#include "daemon/notify.h"
#include "engine/admission.h"
#include "daemon/status.h"

/* How long SIGTERM waits for the database once probes are done. */
#define DRAIN_DB_GRACE_MS 15000
#define PRUNE_INTERVAL_MS 60000

static void sched_run(struct daemon *d);
static void send_status(struct daemon *d, const char *prefix);

const double rtt_bucket_bounds[RTT_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

static void count_attempt(struct daemon *d, const struct job *j,
			  const struct store_result *res)
{
	int outcome = res->outcome;
	double rtt_ms = res->rtt_ms;
	struct daemon_counters *c = &d->c;
	struct recent_outcome *r = &c->recent[c->recent_next];

	c->outcomes[outcome]++;
	if (rtt_ms >= 0) {
		double s = rtt_ms / 1000.0;
		c->rtt_count++;
		c->rtt_sum_s += s;
		for (int i = 0; i < RTT_BUCKETS; i++) {
			if (s <= rtt_bucket_bounds[i]) {
				c->rtt_buckets[i]++;
				break;
			}
		}
	}
	r->at = res->attempted_at;
	r->id = j->lease.id;
	snprintf(r->server, sizeof(r->server), "%s", j->lease.server);
	r->outcome = (enum outcome)outcome;
	snprintf(r->detail, sizeof(r->detail), "%s", res->detail);
	c->recent_next = (c->recent_next + 1) % RECENT_MAX;
	if (c->recent_n < RECENT_MAX)
		c->recent_n++;
}

/* Delay before the next attempt after `attempts` earlier ones. */
static double retry_delay_s(const struct nv_config *cfg, int attempts)
{
	size_t i = attempts < 0 ? 0 : (size_t)attempts;

	if (i >= cfg->retry.n_schedule)
		i = cfg->retry.n_schedule - 1;
	return (double)cfg->retry.schedule_ms[i] / 1000.0;
}

/* Rows we hold (waiting or probing) vs what we may hold. */
static void maybe_lease(struct daemon *d)
{
	unsigned held = d->n_waiting + d->n_probing;
	unsigned cap = d->cfg.probe.max_in_flight;

	if (d->draining || !d->db_up || held >= cap)
		return;
	unsigned n = cap - held;
	if (n > d->cfg.queue.lease_batch)
		n = d->cfg.queue.lease_batch;
	store_want_lease(&d->store, n);
}

static void job_free(struct daemon *d, struct job *j)
{
	if (j->probing) {
		TAILQ_REMOVE(&d->probing, j, link);
		d->n_probing--;
	} else {
		TAILQ_REMOVE(&d->waiting, j, link);
		d->n_waiting--;
	}
	probe_cancel(&j->probe);
	OPENSSL_cleanse(j, sizeof(*j)); /* token and key */
	free(j);
}

/* Record an outcome (or, with outcome < 0, give the lease back). */
static void job_finish(struct daemon *d, struct job *j, int outcome,
		       const char *detail, const struct probe_result *pr,
		       double retry_after_s)
{
	struct store_result r;

	memset(&r, 0, sizeof(r));
	r.id = j->lease.id;
	snprintf(r.lease_token, sizeof(r.lease_token), "%s",
		 j->lease.lease_token);
	r.outcome = outcome;
	snprintf(r.detail, sizeof(r.detail), "%s", detail ? detail : "");
	r.rtt_ms = pr ? pr->rtt_ms : -1;
	if (pr != NULL)
		snprintf(r.source, sizeof(r.source), "%s", pr->source);
	r.attempted_at = evtime_wall_s();
	r.retry_after_s = retry_after_s;

	if (outcome >= 0) {
		count_attempt(d, j, &r);
		log_debug("verification %" PRId64 " (%s): %s (%s)", r.id,
			  j->lease.server, outcome_name((enum outcome)outcome),
			  r.detail);
	}
	store_push_result(&d->store, &r);
	job_free(d, j);
}

static void release_job(struct daemon *d, struct job *j, double after_s)
{
	job_finish(d, j, -1, NULL, NULL, after_s);
}

static bool gate(void *arg, const struct sockaddr *dst)
{
	struct daemon *d = arg;

	if (ratelimit_take_packet(d->rl, dst, evtime_mono_ms()))
		return true;
	d->c.held_by_ratelimit++;
	return false;
}

static void probe_done(struct probe *p, void *arg)
{
	struct job *j = arg;
	struct daemon *d = j->d;
	const struct probe_result *r = &p->result;
	double after = retry_delay_s(&d->cfg, j->lease.attempts);

	d->c.packets_sent += r->sent;
	d->c.packets_received += r->received;
	if (r->outcome == OUTCOME_RATE_LIMITED) {
		if (!ratelimit_kod(d->rl, (struct sockaddr *)&j->dst, evtime_mono_ms()))
			log_warn("rate limiter out of memory");
		double hold = (double)d->cfg.rate_limit.kod_holdoff_ms / 1000.0;
		if (hold > after)
			after = hold;
	}
	job_finish(d, j, (int)r->outcome, r->detail, r, after);
	maybe_lease(d);
	sched_run(d);
	if (d->draining && d->n_probing == 0 && store_idle(&d->store))
		event_base_loopexit(d->base, NULL);
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
	} else {
		req->token = j->lease.token;
	}
	req->timeout_ms = d->cfg.probe.timeout_ms;
	req->retransmit_ms = d->cfg.probe.retransmit_ms;
	req->gate = gate;
	req->gate_arg = d;
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
	admission_start(&rules, &req, now, &j->probe, d->base, probe_done, j,
			&ad);
	switch (ad.status) {
	case ADMISSION_REFUSED:
	case ADMISSION_NO_SOURCE:
		d->c.refused_by_policy++;
		job_finish(d, j, OUTCOME_REFUSED_BY_POLICY, ad.why, NULL,
			   retry_delay_s(&d->cfg, j->lease.attempts));
		return true;
	case ADMISSION_DEFERRED: {
		uint64_t lease_left = d->cfg.queue.lease_time_ms / 2;
		uint64_t not_before = ad.not_before_ms;
		if (not_before == UINT64_MAX || not_before > now + lease_left) {
			/* Too far off to sit on the lease: give it back. */
			double after = not_before == UINT64_MAX
					       ? retry_delay_s(&d->cfg, 1 << 30)
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
		/* A local problem (no fds, source address gone): retry soon. */
		log_warn("verification %" PRId64 " (%s): cannot probe: %s",
			 j->lease.id, j->lease.server, j->probe.result.detail);
		release_job(d, j, 10.0);
		return true;
	case ADMISSION_STARTED:
		break;
	}
	TAILQ_REMOVE(&d->waiting, j, link);
	d->n_waiting--;
	TAILQ_INSERT_TAIL(&d->probing, j, link);
	d->n_probing++;
	j->probing = true;
	d->c.probes_started++;
	return true;
}

static void sched_run(struct daemon *d)
{
	uint64_t now = evtime_mono_ms();
	uint64_t wake = UINT64_MAX;
	struct job *j, *next;

	if (d->draining)
		return;
	for (j = TAILQ_FIRST(&d->waiting); j != NULL; j = next) {
		next = TAILQ_NEXT(j, link);
		if (d->n_probing >= d->cfg.probe.max_in_flight)
			break;
		if (j->not_before_ms > now) {
			if (j->not_before_ms < wake)
				wake = j->not_before_ms;
			continue;
		}
		try_start(d, j, now, &wake);
	}
	evtimer_del(&d->ev_sched);
	if (wake != UINT64_MAX)
		evtime_add_ms(&d->ev_sched, wake > now ? wake - now : 0);
}

static void sched_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sched_run(arg);
}

/* --- store hooks ------------------------------------------------------ */

static void on_leased(void *arg, const struct store_lease *lease)
{
	struct daemon *d = arg;
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL) {
		/* The lease simply runs out and the row is probed later. */
		log_err("out of memory; verification %" PRId64 " left leased",
			lease->id);
		return;
	}
	j->d = d;
	j->lease = *lease;
	if (config_parse_address(lease->server, &j->dst, &j->dstlen) < 0) {
		j->dst.ss_family = AF_UNSPEC;
	} else if (j->dst.ss_family == AF_INET) {
		((struct sockaddr_in *)&j->dst)->sin_port = htons(d->cfg.ntp_port);
	} else {
		((struct sockaddr_in6 *)&j->dst)->sin6_port =
			htons(d->cfg.ntp_port);
	}
	TAILQ_INSERT_TAIL(&d->waiting, j, link);
	d->n_waiting++;
	if (d->draining) {
		/* A LEASE that was in flight at SIGTERM: give the row back. */
		release_job(d, j, 0);
		return;
	}
	if (lease->key_method) {
		enum ntpauth_type type;
		if (ntpauth_type_parse(lease->key_type, &type) < 0 ||
		    ntpauth_key_parse(lease->key_secret, lease->key_id, type,
				      &j->key) < 0) {
			/* The schema's CHECK should make this impossible. */
			job_finish(d, j, OUTCOME_MALFORMED,
				   "the key in the database is unusable", NULL,
				   retry_delay_s(&d->cfg, 1 << 30));
			return;
		}
		OPENSSL_cleanse(j->lease.key_secret, sizeof(j->lease.key_secret));
	}
}

static void on_lease_done(void *arg, unsigned n)
{
	struct daemon *d = arg;

	if (d->draining) {
		if (d->n_probing == 0 && store_idle(&d->store))
			event_base_loopexit(d->base, NULL);
		return;
	}
	sched_run(d);
	/* A full batch: more rows are probably due. */
	if (n > 0 && n >= d->cfg.queue.lease_batch)
		maybe_lease(d);
}

static void on_state_changed(void *arg, int64_t id, const char *server,
			     const char *state, const char *by)
{
	struct daemon *d = arg;

	if (strcmp(state, "verified") == 0) {
		d->c.verified++;
		log_info("verification %" PRId64 " (%s): verified by %s", id,
			 server, by);
	} else {
		if (strcmp(state, "expired") == 0)
			d->c.expired++;
		log_info("verification %" PRId64 " (%s): %s", id, server,
			 state);
	}
}

static void on_discarded(void *arg, int64_t id)
{
	struct daemon *d = arg;

	d->c.discarded++;
	log_debug("verification %" PRId64 ": lease lost, result discarded", id);
}

static void on_settled(void *arg)
{
	struct daemon *d = arg;

	if (d->draining && d->n_probing == 0 && store_idle(&d->store))
		event_base_loopexit(d->base, NULL);
}

static void on_notified(void *arg)
{
	maybe_lease(arg);
}

static void on_connection(void *arg, bool up)
{
	struct daemon *d = arg;

	d->db_up = up;
	if (up && !d->ready_sent) {
		/* Sockets are bound and the database answers: ready. */
		d->ready_sent = true;
		send_status(d, "READY=1\n");
	}
	if (up) {
		/* Notifications sent while we were away are gone: rescan. */
		maybe_lease(d);
		store_request_count(&d->store);
	}
	if (d->draining && up && d->n_probing == 0 && store_idle(&d->store))
		event_base_loopexit(d->base, NULL);
}

/* --- systemd --------------------------------------------------------- */

/* One line for `systemctl status`. */
static void send_status(struct daemon *d, const char *prefix)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "%sSTATUS=database %s, %u probing, %u waiting, %" PRIu64
		 " verified, %u results unwritten",
		 prefix, d->db_up ? "connected" : "disconnected", d->n_probing,
		 d->n_waiting, d->c.verified, d->store.queued);
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

static void log_config_error(void *arg, const char *message)
{
	(void)arg;
	log_err("%s", message);
}

/* Settings that only a restart applies: name each one that changed. */
static void report_fixed(const struct nv_config *old,
			 const struct nv_config *new)
{
#define STR_CHANGED(f) \
	(strcmp(old->f ? old->f : "", new->f ? new->f : "") != 0)
	if (STR_CHANGED(prober_name))
		log_warn("reload: prober_name changed; restart to apply");
	if (STR_CHANGED(database))
		log_warn("reload: database changed; restart to apply");
	if (STR_CHANGED(status_socket))
		log_warn("reload: status_socket changed; restart to apply");
	if (STR_CHANGED(status_listen))
		log_warn("reload: status_listen changed; restart to apply");
#undef STR_CHANGED
}

/*
 * SIGHUP: re-read the configuration. A broken file changes nothing: every
 * error is logged and the daemon keeps running on the old settings.
 */
static void reload(struct daemon *d)
{
	struct nv_config fresh;

	notify_send("RELOADING=1\nSTATUS=reloading configuration");
	log_info("SIGHUP: reloading %s", d->config_path);
	if (config_load(&fresh, d->config_path, log_config_error, NULL) < 0) {
		d->reload_failures++;
		log_err("reload: %s has errors; keeping the running "
			"configuration",
			d->config_path);
		send_status(d, "READY=1\n");
		return;
	}
	report_fixed(&d->cfg, &fresh);

	/* Keep what cannot change live; take everything else. */
	struct nv_config old = d->cfg;
	d->cfg = fresh;
	char *keep[4] = { old.prober_name, old.database, old.status_socket,
			  old.status_listen };
	old.prober_name = fresh.prober_name;
	old.database = fresh.database;
	old.status_socket = fresh.status_socket;
	old.status_listen = fresh.status_listen;
	d->cfg.prober_name = keep[0];
	d->cfg.database = keep[1];
	d->cfg.status_socket = keep[2];
	d->cfg.status_listen = keep[3];
	config_free(&old);

	struct ratelimit_params rp = limits_from_config(&d->cfg);
	if (!ratelimit_set_params(d->rl, &rp, evtime_mono_ms()))
		log_err("reload: rate limits rejected by the limiter");
	store_set_params(&d->store, d->cfg.queue.lease_time_ms,
			 d->cfg.queue.reconnect_max_ms,
			 d->cfg.queue.max_unwritten, d->cfg.retry.expiry_ms);
	d->next_source[0] = d->next_source[1] = 0;
	evtimer_del(&d->ev_poll);
	evtime_add_ms(&d->ev_poll, d->cfg.queue.poll_interval_ms);
	d->reloads++;
	log_info("reload: done; %zu source address%s, %g packets/s, "
		 "destination interval %" PRIu64 " ms",
		 d->cfg.n_sources, d->cfg.n_sources == 1 ? "" : "es",
		 d->cfg.rate_limit.global_pps,
		 d->cfg.rate_limit.per_destination_interval_ms);
	send_status(d, "READY=1\n");
	maybe_lease(d);
	sched_run(d);
}

/* --- timers and signals --------------------------------------------- */

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	maybe_lease(d);
	store_request_count(&d->store);
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

static void drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->n_probing > 0) {
		/* Probes are bounded by their timeout; this is a backstop. */
		struct job *j;
		while ((j = TAILQ_FIRST(&d->probing)) != NULL)
			release_job(d, j, 0);
		evtime_add_ms(&d->ev_drain, DRAIN_DB_GRACE_MS);
		return;
	}
	log_err("shutdown: %u results could not be written to the database",
		d->store.queued);
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
	evtime_add_ms(&d->ev_drain, d->cfg.probe.timeout_ms + 1000);
	if (d->n_probing == 0 && store_idle(&d->store))
		event_base_loopexit(d->base, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	if (sig == SIGHUP)
		reload(arg);
	else
		start_drain(arg, sig == SIGINT ? "SIGINT" : "SIGTERM");
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

static void run_usage(FILE *f)
{
	fprintf(f, "usage: ntpverify run [--config FILE] [--debug]\n");
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG_PATH;
	struct daemon *d;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		run_usage(stderr);
		return EXIT_USAGE;
	}
	if (getenv("JOURNAL_STREAM") != NULL)
		log_set_journal(true);
	if (notify_init() < 0)
		log_warn("systemd notifications disabled");

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return EXIT_USAGE;
	if (config_load(&d->cfg, path, print_config_error, NULL) < 0) {
		free(d);
		return EXIT_USAGE;
	}
	if (d->cfg.prober_name == NULL || d->cfg.prober_name[0] == '\0') {
		fprintf(stderr, "%s: prober_name must be set to run the daemon\n",
			path);
		config_free(&d->cfg);
		free(d);
		return EXIT_USAGE;
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
	clock_gettime(CLOCK_MONOTONIC, &d->started);

	struct ratelimit_params rp = limits_from_config(&d->cfg);
	d->base = event_base_new();
	d->rl = ratelimit_new(&rp);
	if (d->base == NULL || d->rl == NULL) {
		log_err("cannot start: %s", strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}

	struct store_params sp = {
		.conninfo = d->cfg.database,
		.prober_name = d->cfg.prober_name,
		.lease_time_ms = d->cfg.queue.lease_time_ms,
		.reconnect_max_ms = d->cfg.queue.reconnect_max_ms,
		.max_unwritten = d->cfg.queue.max_unwritten,
		.expiry_ms = d->cfg.retry.expiry_ms,
	};
	struct store_hooks hooks = {
		.leased = on_leased,
		.lease_done = on_lease_done,
		.state_changed = on_state_changed,
		.discarded = on_discarded,
		.notified = on_notified,
		.settled = on_settled,
		.connection = on_connection,
		.arg = d,
	};
	if (store_init(&d->store, d->base, &sp, &hooks) < 0) {
		log_err("cannot start: %s", strerror(errno));
		status = EXIT_USAGE;
		goto out;
	}
	d->status = status_open(d);
	if (d->status == NULL) {
		store_reset(&d->store);
		status = EXIT_USAGE;
		goto out;
	}

	evtimer_assign(&d->ev_sched, d->base, sched_cb, d);
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

	log_info("ntpverify %s: prober %s, %zu source address%s, up to %u "
		 "probes in flight",
		 NTPVERIFY_VERSION, d->cfg.prober_name, d->cfg.n_sources,
		 d->cfg.n_sources == 1 ? "" : "es", d->cfg.probe.max_in_flight);

	event_base_dispatch(d->base);

	log_info("stopped: %" PRIu64 " probes, %" PRIu64 " verified, %" PRIu64
		 " expired",
		 d->c.probes_started, d->c.verified, d->c.expired);
	status = d->exit_status;

	event_del(&d->ev_sched);
	event_del(&d->ev_poll);
	event_del(&d->ev_prune);
	event_del(&d->ev_drain);
	event_del(&d->ev_sigterm);
	event_del(&d->ev_sigint);
	event_del(&d->ev_sighup);
	event_del(&d->ev_watchdog);
	{
		struct job *j;
		while ((j = TAILQ_FIRST(&d->probing)) != NULL)
			job_free(d, j);
		while ((j = TAILQ_FIRST(&d->waiting)) != NULL)
			job_free(d, j);
	}
	status_close(d->status);
	store_reset(&d->store);
out:
	ratelimit_free(d->rl);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(&d->cfg);
	free(d);
	notify_close();
	return status;
}
