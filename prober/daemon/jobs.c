/*
 * jobs.c - leases become jobs, jobs become results: the store's hooks,
 * the end of a probe, and giving leases back.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/evtime.h"
#include "core/log.h"
#include "core/refid_code.h"
#include "daemon/daemon_int.h"

/*
 * Lease only what can be probed before the lease ends: the rows we hold
 * stay within max_in_flight, and the rows waiting for a start within what
 * the global limit lets start in a lease's usable time. A lease taken
 * beyond that would sit in the waiting list until it ran out, and the row
 * would be leased again (by us too) while the first job still held it.
 * The per-destination limits are only known once a row is leased; a job
 * they hold back past its start_by_ms is given back (sched_run).
 */
void maybe_lease(struct daemon *d)
{
	unsigned held = d->n_waiting + d->n_probing;
	unsigned cap = d->cfg.probe.max_in_flight;
	unsigned starts;

	lease_bucket_refill(&d->bucket, &d->cfg, evtime_mono_ms());
	starts = lease_start_capacity(&d->cfg, d->bucket.level);

	if (d->draining || !d->db_up || held >= cap || d->n_waiting >= starts)
		return;
	unsigned n = cap - held;
	if (n > starts - d->n_waiting)
		n = starts - d->n_waiting;
	if (n > d->cfg.queue.lease_batch)
		n = d->cfg.queue.lease_batch;
	/* Room for half a batch or more: hungry (store_want_lease). */
	store_want_lease(d->store, n, 2 * n >= d->cfg.queue.lease_batch);
}

void job_free(struct daemon *d, struct job *j)
{
	if (j->probing) {
		TAILQ_REMOVE(&d->probing, j, link);
		d->n_probing--;
	} else {
		TAILQ_REMOVE(&d->waiting, j, link);
		d->n_waiting--;
	}
	job_table_del(&d->jobs, j->lease.id);
	probe_cancel(&j->probe);
	OPENSSL_cleanse(j, sizeof(*j)); /* token and key */
	free(j);
}

void job_finish(struct daemon *d, struct job *j, int outcome,
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
	r.contrary = pr != NULL && pr->contrary;
	r.proof_version = j->lease.proof_version;

	if (outcome >= 0) {
		counters_count_attempt(&d->c, j->lease.id, j->lease.server,
				       (enum outcome)outcome, r.rtt_ms,
				       r.attempted_at, r.detail);
		log_debug("verification %" PRId64 " (%s): %s (%s)", r.id,
			  j->lease.server, outcome_name((enum outcome)outcome),
			  r.detail);
	}
	store_push_result(d->store, &r);
	job_free(d, j);
}

void release_job(struct daemon *d, struct job *j, double after_s)
{
	job_finish(d, j, -1, NULL, NULL, after_s);
}

void probe_done(struct probe *p, void *arg)
{
	struct job *j = arg;
	struct daemon *d = j->d;
	const struct probe_result *r = &p->result;
	double after = retry_delay_s(&d->cfg, j->lease.attempts);

	d->c.packets_sent += r->sent;
	d->c.packets_received += r->received;
	/*
	 * Any RATE, DENY or RSTR kiss holds the address off, also when the
	 * attempt verified on a signed kiss (probe_sm.h, `kissed`): the
	 * server asked to be left alone, and other rows may name it.
	 */
	if (r->outcome == OUTCOME_RATE_LIMITED || r->kissed) {
		if (!ratelimit_kod(d->rl, (struct sockaddr *)&j->dst, evtime_mono_ms()))
			log_warn("rate limiter out of memory");
		double hold = (double)d->cfg.rate_limit.kod_holdoff_ms / 1000.0;
		if (hold > after)
			after = hold;
	}
	job_finish(d, j, (int)r->outcome, r->detail, r, after);
	maybe_lease(d);
	sched_run(d);
	daemon_exit_if_drained(d);
}

/* --- store hooks ------------------------------------------------------ */

/* The server's address with the NTP port; AF_UNSPEC if it does not parse. */
static void job_set_destination(struct daemon *d, struct job *j)
{
	if (config_parse_address(j->lease.server, &j->dst, &j->dstlen) < 0) {
		j->dst.ss_family = AF_UNSPEC;
	} else if (j->dst.ss_family == AF_INET) {
		((struct sockaddr_in *)&j->dst)->sin_port = htons(d->cfg.ntp_port);
	} else {
		((struct sockaddr_in6 *)&j->dst)->sin6_port =
			htons(d->cfg.ntp_port);
	}
}

/*
 * A row we already hold came back in a LEASE: our lease on it ran out and
 * the statement handed it to us again. The database now knows only the
 * new lease token, so the job we have takes it over (and, still waiting,
 * a fresh start_by_ms): its result is then written, not discarded as
 * stale, and no second job probes the row again.
 */
static void job_take_lease(struct daemon *d, struct job *j,
			   const struct store_lease *lease)
{
	log_debug("verification %" PRId64 " (%s): leased again while held; "
		  "the job keeps the row",
		  lease->id, lease->server);
	snprintf(j->lease.lease_token, sizeof(j->lease.lease_token), "%s",
		 lease->lease_token);
	if (!j->probing)
		j->start_by_ms = evtime_mono_ms() + lease_usable_ms(&d->cfg);
}

static void on_leased(void *arg, const struct store_lease *lease)
{
	struct daemon *d = arg;
	struct job *j = job_table_get(&d->jobs, lease->id);

	if (j != NULL) {
		job_take_lease(d, j, lease);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || !job_table_put(&d->jobs, lease->id, j)) {
		/* The lease simply runs out and the row is probed later. */
		free(j);
		log_err("out of memory; verification %" PRId64 " left leased",
			lease->id);
		return;
	}
	j->d = d;
	j->lease = *lease;
	j->start_by_ms = evtime_mono_ms() + lease_usable_ms(&d->cfg);
	job_set_destination(d, j);
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
				   retry_delay_s(&d->cfg, RETRY_LAST_STEP));
			return;
		}
		OPENSSL_cleanse(j->lease.key_secret, sizeof(j->lease.key_secret));
	}
	if (lease->refid_method) {
		/* The CHECK gives the shape; a well-known refid would verify
		 * servers that never saw the code (core/refid_code.c). */
		const char *why = refid_code_valid(lease->refid_code)
					  ? refid_code_reserved(lease->refid_code)
					  : "not 4 characters of A-Z 0-9";
		if (why != NULL) {
			char detail[OUTCOME_DETAIL_MAX];
			snprintf(detail, sizeof(detail), "the refid code in the "
				 "database is unusable: %s", why);
			job_finish(d, j, OUTCOME_MALFORMED, detail, NULL,
				   retry_delay_s(&d->cfg, RETRY_LAST_STEP));
			return;
		}
	}
}

static void on_lease_done(void *arg, unsigned n, bool more)
{
	struct daemon *d = arg;

	(void)n;
	if (d->draining) {
		daemon_exit_if_drained(d);
		return;
	}
	sched_run(d);
	/*
	 * A full batch (more may be due) or a wish made while this LEASE was
	 * in flight: ask again; maybe_lease() bounds what we take. Not after
	 * every lease: an extra LEASE in flight would delay the next WRITE.
	 */
	if (more)
		maybe_lease(d);
}

static void on_state_changed(void *arg, int64_t id, const char *server,
			     enum verification_state state, const char *by)
{
	struct daemon *d = arg;

	if (state == VERIFICATION_VERIFIED) {
		d->c.verified++;
		log_info("verification %" PRId64 " (%s): verified by %s", id,
			 server, by);
	} else {
		if (state == VERIFICATION_EXPIRED)
			d->c.expired++;
		log_info("verification %" PRId64 " (%s): %s", id, server,
			 verification_state_name(state));
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
	daemon_exit_if_drained(arg);
}

static void on_notified(void *arg)
{
	maybe_lease(arg);
}

/*
 * The database is not at the schema this binary needs. At start-up, before
 * READY=1, that is fatal with its own exit status (the unit does not
 * restart for it); later (a reconnect to a database restored from an older
 * dump, or replaced) leasing stays stopped while the store checks again at
 * each reconnect, and the log says so once per different finding.
 */
static void on_schema_refused(void *arg, const char *why)
{
	struct daemon *d = arg;

	if (!d->ready_sent) {
		log_err("%s", why);
		d->exit_status = DAEMON_EXIT_SCHEMA;
		event_base_loopbreak(d->base);
		return;
	}
	if (strcmp(d->schema_why, why) == 0) {
		log_debug("%s", why);
		return;
	}
	log_err("%s; no leases until then, checked again at each reconnect",
		why);
	snprintf(d->schema_why, sizeof(d->schema_why), "%s", why);
}

static void on_connection(void *arg, bool up)
{
	struct daemon *d = arg;

	d->db_up = up;
	if (up && d->schema_why[0] != '\0') {
		log_info("database: the schema is as needed again; leasing");
		d->schema_why[0] = '\0';
	}
	if (up && !d->ready_sent) {
		/* Sockets are bound and the database answers: ready. */
		d->ready_sent = true;
		send_status(d, "READY=1\n");
	}
	if (up) {
		/* Notifications sent while we were away are gone: rescan. */
		maybe_lease(d);
		store_request_count(d->store);
		daemon_exit_if_drained(d);
	}
}

struct store_hooks daemon_store_hooks(struct daemon *d)
{
	return (struct store_hooks){
		.leased = on_leased,
		.lease_done = on_lease_done,
		.state_changed = on_state_changed,
		.discarded = on_discarded,
		.notified = on_notified,
		.settled = on_settled,
		.connection = on_connection,
		.schema_refused = on_schema_refused,
		.arg = d,
	};
}
