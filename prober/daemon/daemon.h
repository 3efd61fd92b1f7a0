/*
 * daemon.h - `ntpverify run`: the long-running prober.
 *
 * Data flows one way: the store leases due verifications, the scheduler
 * applies the destination policy and the rate limits, a probe runs on the
 * wire, its outcome goes back to the store (and to the counters).
 */
#ifndef NTPVERIFY_DAEMON_H
#define NTPVERIFY_DAEMON_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config/config.h"
#include "core/outcome.h"
#include "engine/probe.h"
#include "engine/ratelimit.h"
#include "store/store.h"

/* One leased verification, from lease to written result. */
struct job {
	TAILQ_ENTRY(job) link;        /* in waiting or probing */
	struct store_lease lease;     /* what the store handed us */
	struct ntpauth_key key;       /* key method: parsed from the lease */
	struct sockaddr_storage dst;  /* server address, NTP port */
	socklen_t dstlen;
	uint64_t not_before_ms;       /* monotonic; rate limits said wait */
	bool probing;                 /* in the probing list */
	struct probe probe;           /* the attempt on the wire */
	struct daemon *d;             /* back pointer for callbacks */
};

TAILQ_HEAD(job_list, job);

/* Upper bounds (seconds) of the round-trip histogram buckets. */
#define RTT_BUCKETS 11
extern const double rtt_bucket_bounds[RTT_BUCKETS];

/* The last few attempts, for /status (never the token). */
#define RECENT_MAX 16
struct recent_outcome {
	double at;                    /* wall clock, seconds */
	int64_t id;                   /* verification.id */
	char server[STORE_SERVER_LEN];/* probed address */
	enum outcome outcome;
	char detail[OUTCOME_DETAIL_MAX];
};

/* Counters since start, for logs and the status socket. */
struct daemon_counters {
	uint64_t probes_started;                  /* attempts put on the wire */
	uint64_t packets_sent;                    /* datagrams sent */
	uint64_t packets_received;                /* datagrams received */
	uint64_t outcomes[OUTCOME_COUNT];         /* attempts by outcome */
	uint64_t verified;                        /* rows that became verified */
	uint64_t expired;                         /* rows that became expired */
	uint64_t refused_by_policy;               /* attempts refused, no packet */
	uint64_t held_by_ratelimit;               /* packets held back */
	uint64_t discarded;                       /* stale results dropped */
	uint64_t rtt_buckets[RTT_BUCKETS];        /* non-cumulative counts */
	uint64_t rtt_count;                       /* attempts with a mode 6 reply */
	double rtt_sum_s;                         /* their total, seconds */
	struct recent_outcome recent[RECENT_MAX]; /* ring */
	unsigned recent_next;                     /* next slot to write */
	unsigned recent_n;                        /* slots used */
};

struct daemon {
	struct event_base *base;      /* the one loop */
	struct nv_config cfg;         /* current configuration */
	const char *config_path;      /* for reloads */
	struct store store;           /* the database */
	struct ratelimit *rl;         /* packet and attempt limits */
	struct status *status;        /* the status socket (status.h) */
	struct job_list waiting;      /* leased, not yet on the wire */
	struct job_list probing;      /* on the wire */
	unsigned n_waiting, n_probing;
	unsigned next_source[2];      /* round-robin per family (v4, v6) */
	bool db_up;                   /* store connected */
	bool draining;                /* SIGTERM: finish and exit */
	bool lease_more;              /* last lease was full: ask again */
	int exit_status;              /* for cmd_run */
	struct event ev_sched;        /* next waiting job may start */
	struct event ev_poll;         /* lease even without NOTIFY */
	struct event ev_prune;        /* rate-limit table housekeeping */
	struct event ev_drain;        /* drain deadline */
	struct event ev_sigterm, ev_sigint, ev_sighup;
	struct event ev_watchdog;     /* WATCHDOG=1 to systemd */
	bool ready_sent;              /* READY=1 went out */
	uint64_t reloads;             /* successful SIGHUP reloads */
	uint64_t reload_failures;     /* rejected configurations */
	struct timespec started;      /* for uptime */
	struct daemon_counters c;
};

int cmd_run(int argc, char **argv);

#endif
