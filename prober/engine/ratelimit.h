/*
 * ratelimit.h - how much traffic the prober may send, and where.
 *
 * Anyone can type any address into the pool's web site, so the prober must
 * never become a traffic source for abuse. This module holds the limits and
 * nothing else: no sockets, no event loop, no clock of its own. Time comes
 * in as milliseconds on a monotonic clock (CLOCK_MONOTONIC); a value that
 * goes backwards is treated as "no time has passed", never as a refill.
 *
 * Three limits, all enforced here:
 *
 *   global       a token bucket over every packet the prober sends:
 *                global_pps tokens per second, at most global_burst stored,
 *                full at start. In any 1-second window at most
 *                global_pps + global_burst packets pass.
 *   destination  a minimum gap between attempt starts to one address, a
 *                packet budget per address per 24 h window (the window is
 *                fixed: it opens at the first packet and closes 24 h later),
 *                and a holdoff after a Kiss-o'-Death RATE.
 *
 * A destination is its address only: the port is ignored, and an IPv6
 * address that delivers to one IPv4 host (IPv4-mapped ::ffff:0:0/96, NAT64
 * 64:ff9b::/96, 6to4 2002:V4ADDR::/48) counts as that IPv4 address, the
 * same folding policy.c uses, so one host cannot be given several budgets.
 *
 * Use, from the single event-loop thread (nothing here locks):
 *
 *	if (!ratelimit_may_start(rl, dst, now, &when, &why))
 *		reschedule at `when`, log `why`;
 *	else if (!ratelimit_started(rl, dst, now))
 *		out of memory: reschedule;
 *	else for each packet of the attempt (first send and retransmits):
 *		if (!ratelimit_take_packet(rl, dst, now)) hold it back;
 *
 * and call ratelimit_prune() now and then (once a minute is plenty) so that
 * memory follows the destinations that still have state to enforce.
 *
 * Every limit fails closed: a zero budget, rate or burst means "send
 * nothing", and when memory for a new destination cannot be found the
 * packet or attempt is refused, never let through unaccounted.
 */
#ifndef NTPVERIFY_RATELIMIT_H
#define NTPVERIFY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_WARN_UNUSED __attribute__((warn_unused_result))

/* Length of the per-destination packet budget window. */
#define RATELIMIT_DAY_MS (24u * 60u * 60u * 1000u)

/* Largest global_pps accepted; beyond it the fixed-point bucket overflows. */
#define RATELIMIT_MAX_PPS 1e9

/* The limits; copied in, so the caller keeps ownership of its struct. */
struct ratelimit_params {
	/* Packets per second, all destinations; 0 = nothing after the burst. */
	double global_pps;
	/* Bucket depth in packets; 0 = send nothing. */
	unsigned global_burst;
	/* Minimum gap between attempt starts to one address. */
	uint64_t per_destination_interval_ms;
	/* Packets per address per 24 h window; 0 = send nothing. */
	unsigned per_destination_daily_packets;
	/* After a RATE kiss, send nothing to that address for this long. */
	uint64_t kod_holdoff_ms;
};

/* Counters since ratelimit_new(); never reset, they only grow. */
struct ratelimit_stats {
	uint64_t held_global;       /* take_packet refused: no global token */
	uint64_t held_daily;        /* take_packet refused: daily budget spent */
	uint64_t held_kod;          /* take_packet refused: KoD holdoff (kiss mid-attempt) */
	uint64_t deferred_interval; /* may_start refused: "destination interval" */
	uint64_t deferred_kod;      /* may_start refused: "kod holdoff" */
	uint64_t deferred_global;   /* may_start refused: "global rate" */
	uint64_t deferred_daily;    /* may_start refused: "daily budget" */
	uint64_t no_memory;         /* refused because a new entry could not be stored */
};

/* Opaque: the bucket, the per-destination table and the counters. */
struct ratelimit;

/*
 * Check params without building anything: false when global_pps is NaN,
 * negative or above RATELIMIT_MAX_PPS. Config validation can call this.
 */
bool ratelimit_params_valid(const struct ratelimit_params *p) RATELIMIT_WARN_UNUSED;

/*
 * A new limiter with a full bucket and no destinations. The hash seed is
 * drawn from getrandom() so a hostile list of addresses cannot be built to
 * collide. Returns NULL with errno EINVAL (params not valid), ENOMEM, or
 * the getrandom() error. The caller frees it with ratelimit_free().
 */
struct ratelimit *ratelimit_new(const struct ratelimit_params *p) RATELIMIT_WARN_UNUSED;

/* Frees everything ratelimit_new() made; NULL is fine. */
void ratelimit_free(struct ratelimit *rl);

/*
 * Live reload. The bucket is first refilled at the old rate up to now_ms,
 * then clamped to the new burst; per-destination state (last start, window,
 * packets used, KoD holdoff) is kept and judged by the new limits from now
 * on. False, with nothing changed, when p is not valid.
 */
bool ratelimit_set_params(struct ratelimit *rl, const struct ratelimit_params *p,
			  uint64_t now_ms) RATELIMIT_WARN_UNUSED;

/*
 * One packet is about to go to dst (first send or a retransmit). True:
 * one global token and one unit of dst's daily budget have been charged,
 * send it. False: hold it back, nothing charged — KoD holdoff in force,
 * daily budget spent, no global token, dst not AF_INET/AF_INET6, or no
 * memory for a new entry.
 */
bool ratelimit_take_packet(struct ratelimit *rl, const struct sockaddr *dst,
			   uint64_t now_ms) RATELIMIT_WARN_UNUSED;

/*
 * May a new attempt to dst start now? Checks, in this order: KoD holdoff,
 * minimum interval since the last recorded start, at least one packet left
 * in the daily budget (an attempt that needs more is cut short by
 * take_packet), two global tokens for the attempt's first transmit (one
 * when the burst is 1). Charges nothing.
 *
 * On false: *reason is the first failing check as a static string —
 * "kod holdoff", "destination interval", "daily budget", "global rate"
 * (or "unsupported address" for a non-IP dst) — and *not_before_ms the
 * earliest time at which none of the failing checks would fail: the latest
 * of their clear times. For the global bucket that is when a token will
 * have been refilled, which other destinations may take first.
 * UINT64_MAX means never under the current params (zero budget, burst or
 * rate). Both out-pointers may be NULL; they are untouched on true.
 */
bool ratelimit_may_start(struct ratelimit *rl, const struct sockaddr *dst,
			 uint64_t now_ms, uint64_t *not_before_ms,
			 const char **reason) RATELIMIT_WARN_UNUSED;

/*
 * Record that an attempt to dst starts now (call right after may_start
 * said yes). False only when dst is not an IP address or no memory could
 * be found for a new entry: then the attempt must not start, because its
 * interval could not be enforced.
 */
bool ratelimit_started(struct ratelimit *rl, const struct sockaddr *dst,
		       uint64_t now_ms) RATELIMIT_WARN_UNUSED;

/*
 * A Kiss-o'-Death RATE came from dst: nothing more goes there (neither
 * new attempts nor retransmits) until now_ms + kod_holdoff_ms. A later
 * kiss extends the holdoff, never shortens it. False as for started().
 */
bool ratelimit_kod(struct ratelimit *rl, const struct sockaddr *dst,
		   uint64_t now_ms) RATELIMIT_WARN_UNUSED;

/* Destinations with an entry now (including any not yet pruned). */
size_t ratelimit_tracked(const struct ratelimit *rl);

/* Bytes of heap the limiter holds now: for the status page and tests. */
size_t ratelimit_memory(const struct ratelimit *rl);

/*
 * Drop every entry with nothing left to enforce at now_ms: window closed
 * (or no packets in it), interval since the last start passed, KoD
 * holdoff over. Shrinks the table when it has become mostly empty.
 */
void ratelimit_prune(struct ratelimit *rl, uint64_t now_ms);

/* Copy the counters out. */
void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *out);

#endif
