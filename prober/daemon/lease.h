/*
 * lease.h - how much the daemon may lease: the arithmetic that keeps the
 * rows it holds within what its rate limits let it probe before the
 * leases end. Pure (no loop, no clock of its own), for the unit tests.
 */
#ifndef NTPVERIFY_LEASE_H
#define NTPVERIFY_LEASE_H

#include <stdint.h>

#include "config/config.h"

/*
 * Of a lease, the end is kept free: a probe starts at the latest
 * probe.timeout + LEASE_MARGIN_MS before the lease ends, so that its result
 * reaches the database while the row is still ours (clock skew between us
 * and PostgreSQL, the LEASE's round trip, the WRITE's). With a lease only
 * a little longer than probe.timeout the margin shrinks to half the slack.
 */
#define LEASE_MARGIN_MS 2000

/*
 * Of a lease, the milliseconds in which a probe may still start:
 * lease_time - timeout - margin. Since config_load() checks lease_time >
 * timeout, usable + timeout < lease_time always: a probe started in it
 * (up to and including its last millisecond) ends before the lease does.
 */
uint64_t lease_usable_ms(const struct nv_config *cfg);

/*
 * Attempts the global limit lets start within lease_usable_ms(), with
 * `tokens` in the bucket now: an attempt counts as the two tokens
 * ratelimit_may_start() wants before its first packet (one when the burst
 * is 1). At least 1, at most probe.max_in_flight.
 */
unsigned lease_start_capacity(const struct nv_config *cfg, double tokens);

/*
 * Our count of the global bucket: refilled at global_pps up to
 * global_burst, one token less per packet sent. ratelimit.c enforces the
 * limit; this only estimates it, from outside, for lease_start_capacity().
 */
struct lease_bucket {
	double level;    /* tokens, 0..global_burst */
	uint64_t at_ms;  /* monotonic time of level */
};

/* Full at now_ms, as ratelimit_new() starts. */
void lease_bucket_init(struct lease_bucket *b, const struct nv_config *cfg,
		       uint64_t now_ms);
/* Refill up to now_ms at cfg's rate, clamped to cfg's burst. */
void lease_bucket_refill(struct lease_bucket *b, const struct nv_config *cfg,
			 uint64_t now_ms);
/* A packet went out at now_ms. */
void lease_bucket_take(struct lease_bucket *b, const struct nv_config *cfg,
		       uint64_t now_ms);

#endif
