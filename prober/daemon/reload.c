/*
 * reload.c - SIGHUP: re-read the configuration and apply what can change
 * while running.
 */
#include <inttypes.h>
#include <string.h>

#include "core/evtime.h"
#include "core/log.h"
#include "daemon/daemon_int.h"
#include "daemon/notify.h"
#include "engine/ratelimit_config.h"

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
	if (STR_CHANGED(perspective))
		log_warn("reload: perspective changed; restart to apply");
	if (STR_CHANGED(region))
		log_warn("reload: region changed; restart to apply");
	if (STR_CHANGED(database))
		log_warn("reload: database changed; restart to apply");
	if (old->queue.lock_timeout_ms != new->queue.lock_timeout_ms)
		log_warn("reload: queue.lock_timeout changed; restart to apply");
	if (STR_CHANGED(status_socket))
		log_warn("reload: status_socket changed; restart to apply");
	if (STR_CHANGED(status_listen))
		log_warn("reload: status_listen changed; restart to apply");
	if (old->status_max_clients != new->status_max_clients)
		log_warn("reload: status_max_clients changed; restart to apply");
	if (old->n_status_allow != new->n_status_allow ||
	    memcmp(old->status_allow, new->status_allow,
		   sizeof(old->status_allow)) != 0)
		log_warn("reload: status_allow changed; restart to apply");
#undef STR_CHANGED
}

/* Take fresh as the configuration but keep what only a restart changes. */
static void take_config(struct daemon *d, struct nv_config *fresh)
{
	struct nv_config old = d->cfg;

	d->cfg = *fresh;
	/* Swap each restart-only string back: the old value stays in use,
	 * the fresh one is freed with old. */
	char **fields[][2] = {
		{ &d->cfg.prober_name, &old.prober_name },
		{ &d->cfg.perspective, &old.perspective },
		{ &d->cfg.region, &old.region },
		{ &d->cfg.database, &old.database },
		{ &d->cfg.status_socket, &old.status_socket },
		{ &d->cfg.status_listen, &old.status_listen },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *kept = *fields[i][1];
		*fields[i][1] = *fields[i][0];
		*fields[i][0] = kept;
	}
	/* The listeners' limits too: they were set up with the old ones, and
	 * a later reload must compare against what is in use, or it would
	 * not warn again. */
	d->cfg.status_max_clients = old.status_max_clients;
	memcpy(d->cfg.status_allow, old.status_allow,
	       sizeof(d->cfg.status_allow));
	d->cfg.n_status_allow = old.n_status_allow;
	d->cfg.queue.lock_timeout_ms = old.queue.lock_timeout_ms;
	config_free(&old);
}

/*
 * SIGHUP: re-read the configuration. A broken file changes nothing: every
 * error is logged and the daemon keeps running on the old settings.
 */
void reload(struct daemon *d)
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
	/* Our bucket count, like the limiter's: the old rate up to now. */
	lease_bucket_refill(&d->bucket, &d->cfg, evtime_mono_ms());
	take_config(d, &fresh);

	struct ratelimit_params rp = limits_from_config(&d->cfg);
	if (!ratelimit_set_params(d->rl, &rp, evtime_mono_ms()))
		log_err("reload: rate limits rejected by the limiter");
	store_set_params(d->store, d->cfg.queue.lease_time_ms,
			 d->cfg.queue.reconnect_max_ms,
			 d->cfg.queue.max_unwritten, d->cfg.retry.expiry_ms,
			 d->cfg.queue.poll_interval_ms);
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
