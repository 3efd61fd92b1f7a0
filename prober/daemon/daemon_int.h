/*
 * daemon_int.h - the daemon's state, shared by the files of `ntpverify
 * run` (daemon.c, jobs.c, control.c, reload.c) and by nothing else: the
 * status server gets snapshots (status_snapshot.h), never this struct.
 *
 *   daemon.c   the scheduler (policy, source address, rate limits) and the
 *              lifecycle: cmd_run, start-up and tear-down
 *   jobs.c     leases become jobs, jobs become results; the store's hooks
 *   control.c  signals, timers, draining, systemd status, snapshots
 *   reload.c   SIGHUP
 *   lease.c    how much may be leased (pure; lease.h)
 */
#ifndef NTPVERIFY_DAEMON_INT_H
#define NTPVERIFY_DAEMON_INT_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include "config/config.h"
#include "core/outcome.h"
#include "daemon/counters.h"
#include "daemon/daemon.h"
#include "daemon/job_table.h"
#include "daemon/lease.h"
#include "daemon/retry.h"
#include "daemon/status_snapshot.h"
#include "engine/probe.h"
#include "engine/ratelimit.h"
#include "store/store.h"

/*
 * SIGTERM's bound, independent of probe.timeout: probes in flight get at
 * most DRAIN_PROBE_GRACE_MS to finish (then they are cancelled and their
 * leases given back), then the database gets at most DRAIN_DB_GRACE_MS to
 * take the results. No wait at all for probes when none is in flight.
 * DRAIN_MAX_MS stays well under the unit's TimeoutStopSec (30 s).
 */
#define DRAIN_PROBE_GRACE_MS 5000
#define DRAIN_DB_GRACE_MS 10000
#define DRAIN_MAX_MS (DRAIN_PROBE_GRACE_MS + DRAIN_DB_GRACE_MS)
#define PRUNE_INTERVAL_MS 60000

/*
 * cmd_run's exit status when the database's schema is not the one this
 * binary needs at start-up (ntpverify(8), EXIT STATUS; the unit's
 * RestartPreventExitStatus=): 0, 1 and 2 mean what commands.h says.
 */

/* One leased verification, from lease to written result. */
struct job {
	TAILQ_ENTRY(job) link;        /* in waiting or probing */
	struct store_lease lease;     /* what the store handed us */
	struct ntpauth_key key;       /* key method: parsed from the lease */
	struct sockaddr_storage dst;  /* server address, NTP port */
	socklen_t dstlen;             /* sizeof the address in dst */
	uint64_t not_before_ms;       /* monotonic; rate limits said wait */
	uint64_t start_by_ms;         /* monotonic; not started by then: give back */
	bool probing;                 /* in the probing list */
	struct probe probe;           /* the attempt on the wire */
	struct daemon *d;             /* back pointer for callbacks */
};

TAILQ_HEAD(job_list, job);

struct daemon {
	struct event_base *base;      /* the one loop */
	struct probe_io *pio;         /* the probes' sockets on it */
	struct nv_config cfg;         /* current configuration */
	const char *config_path;      /* for reloads */
	struct store *store;          /* the database; owned */
	struct ratelimit *rl;         /* packet and attempt limits */
	struct status *status;        /* the status socket (status.h) */
	struct job_list waiting;      /* leased, not yet on the wire */
	struct job_list probing;      /* on the wire */
	unsigned n_waiting, n_probing;/* lengths of those lists */
	struct job_table jobs;        /* every job of both, by verification id */
	unsigned next_source[2];      /* round-robin per family (v4, v6) */
	bool db_up;                   /* store connected */
	bool draining;                /* SIGTERM: finish and exit */
	bool drain_db_phase;          /* draining: probes done, waiting for the database */
	bool lease_more;              /* last lease was full: ask again */
	struct lease_bucket bucket;   /* the global bucket, as we count it */
	int exit_status;              /* for cmd_run */
	struct event ev_sched;        /* next waiting job may start */
	struct event ev_poll;         /* lease even without NOTIFY */
	struct event ev_prune;        /* rate-limit table housekeeping */
	struct event ev_drain;        /* drain deadline */
	struct event ev_sigterm, ev_sigint, ev_sighup; /* signal events */
	struct event ev_watchdog;     /* WATCHDOG=1 to systemd */
	bool ready_sent;              /* READY=1 went out */
	bool send_failing;            /* the last probe could not be sent */
	char send_fail_detail[OUTCOME_DETAIL_MAX]; /* its error, as logged */
	uint64_t send_fail_quiet;     /* send_failed attempts not logged since */
	char schema_why[256];         /* the schema refusal last logged; "" none */
	uint64_t reloads;             /* successful SIGHUP reloads */
	uint64_t reload_failures;     /* rejected configurations */
	struct timespec started;      /* for uptime */
	struct daemon_counters c;     /* since start */
};

/* daemon.c: start every waiting job the limits allow; arm ev_sched. */
void sched_run(struct daemon *d);

/* jobs.c */
/* Lease what can be probed before the leases end (see jobs.c). */
void maybe_lease(struct daemon *d);
void job_free(struct daemon *d, struct job *j);
/* Record an outcome (or, with outcome < 0, give the lease back). */
void job_finish(struct daemon *d, struct job *j, int outcome,
		const char *detail, const struct probe_result *pr,
		double retry_after_s);
void release_job(struct daemon *d, struct job *j, double after_s);
void probe_done(struct probe *p, void *arg);
/* The store's callbacks, all with d as their argument. */
struct store_hooks daemon_store_hooks(struct daemon *d);

/* control.c */
/* Draining, no probe on the wire and nothing left for the store: done. */
bool daemon_drained(const struct daemon *d);
/* Leave the loop if daemon_drained(). */
void daemon_exit_if_drained(struct daemon *d);
/* One STATUS= line for `systemctl status`, after prefix (e.g. READY=1). */
void send_status(struct daemon *d, const char *prefix);
/* Assign and arm the timers and signals (not ev_sched); and remove them. */
void daemon_events_start(struct daemon *d);
void daemon_events_stop(struct daemon *d);
/* The status server's snapshot callback; arg is the daemon. */
void daemon_snapshot(void *arg, struct status_snapshot *out);

/* reload.c: SIGHUP */
void reload(struct daemon *d);

#endif
