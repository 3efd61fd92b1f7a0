/*
 * counters.h - what the daemon counts since it started: attempts by
 * outcome, the round-trip histogram and the last few outcomes. Plain data
 * and pure functions, so the status renderers and the unit tests use them
 * without a daemon or an event loop.
 */
#ifndef NTPVERIFY_COUNTERS_H
#define NTPVERIFY_COUNTERS_H

#include <stdint.h>

#include "core/outcome.h"
#include "store/store.h"

/* Upper bounds (seconds) of the round-trip histogram buckets. */
#define RTT_BUCKETS 11
extern const double rtt_bucket_bounds[RTT_BUCKETS];

/* The last few attempts, for /status (never the token). */
#define RECENT_MAX 16
struct recent_outcome {
	double at;                    /* wall clock, seconds */
	int64_t id;                   /* verification.id */
	char server[STORE_SERVER_LEN];/* probed address */
	enum outcome outcome;         /* what the attempt found */
	char detail[OUTCOME_DETAIL_MAX]; /* why, for humans; no secrets */
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
	uint64_t leases_given_back;               /* not startable within the lease */
	uint64_t rtt_buckets[RTT_BUCKETS];        /* non-cumulative counts */
	uint64_t rtt_count;                       /* attempts with a mode 6 reply */
	double rtt_sum_s;                         /* their total, seconds */
	struct recent_outcome recent[RECENT_MAX]; /* ring */
	unsigned recent_next;                     /* next slot to write */
	unsigned recent_n;                        /* slots used */
};

/*
 * The histogram bucket a round trip of rtt_s seconds falls in, or -1 when
 * it is above the last bound (counted only in +Inf, i.e. rtt_count).
 */
int rtt_bucket_index(double rtt_s);

/*
 * Count one finished attempt: its outcome, its round trip (rtt_ms < 0:
 * none) and an entry in the recent ring, which keeps the RECENT_MAX
 * newest. server and detail are copied (truncated to fit).
 */
void counters_count_attempt(struct daemon_counters *c, int64_t id,
			    const char *server, enum outcome outcome,
			    double rtt_ms, double at, const char *detail);

/* The k-th newest recent outcome (k = 0 is the newest), or NULL. */
const struct recent_outcome *counters_recent(const struct daemon_counters *c,
					     unsigned k);

#endif
