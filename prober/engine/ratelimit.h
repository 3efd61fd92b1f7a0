/*
 * ratelimit.h - how much traffic the prober may send, and where.
 *
 * Anyone can type any address into the pool's web site, so the prober must
 * never become a traffic source for abuse. This module holds the limits and
 * nothing else: no sockets, no event loop, no clock of its own. Time comes
 * in as milliseconds on a monotonic clock (CLOCK_MONOTONIC); a value that
 * goes backwards is treated as "no time has passed", never as a refill.
 *
 * The limits, all enforced here:
 *
 *   global       a token bucket over every packet the prober sends:
 *                global_pps tokens per second, at most global_burst stored,
 *                full at start. In any 1-second window at most
 *                global_pps + global_burst packets pass.
 *   destination  a minimum gap between attempt starts to one address, a
 *                minimum gap between any two packets to it (packet_gap_ms:
 *                the probe paces its own packets, this keeps the next
 *                attempt's first packet, or an overlapping attempt's, away
 *                from the last one; ntp.org ntpd's `limited` drops a packet
 *                less than about 2 s after the previous one), a packet
 *                budget per address per 24 h window (the window is fixed:
 *                it opens at the first packet and closes 24 h later), and
 *                a holdoff after a Kiss-o'-Death RATE.
 *   prefix       an IPv6 address is also charged to its prefix (default
 *                /64): a budget per prefix per 24 h window, and a minimum
 *                gap between attempt starts into the prefix. Addresses in
 *                one /64 are usually one operator, often one host, so
 *                without it 5,000 addresses of one /64 drew 5,000 budgets.
 *   table        at most max_destinations entries (addresses and IPv6
 *                prefixes, each one entry) at once. At the bound a
 *                destination with no entry is refused (may_start says
 *                "destination table full", take_packet holds the packet);
 *                nothing that still has a window, interval or holdoff to
 *                enforce is ever dropped to make room, since forgetting it
 *                would hand out a fresh budget.
 *
 * A destination is its address only: the port is ignored, and an IPv6
 * address that delivers to one IPv4 host (IPv4-mapped ::ffff:0:0/96, NAT64
 * 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002:V4ADDR::/48) counts as that
 * IPv4 address, the same folding policy.c uses, so one host cannot be
 * given several budgets. The local-use NAT64 /48 folds by its last 32
 * bits and is charged to its /64 as well, whatever RFC 6052 form the
 * operator uses.
 *
 * Memory: 48 bytes per slot on LP64; the table has at most
 * ratelimit_memory_max() bytes: the smallest power of two of slots that
 * holds max_destinations at load 3/4 (300,000 entries: 524,288 slots,
 * 24 MiB). While the table grows into its last size the half-size one is
 * still allocated: the peak is 1.5 times that table (36 MiB at 300,000),
 * never more, and growth never goes past the bound.
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

/* Table bound used when ratelimit_params.max_destinations is 0. */
#define RATELIMIT_DEFAULT_MAX_DESTINATIONS ((size_t)300000)

/* Largest max_destinations accepted (2^25 slots, 1.5 GiB). */
#define RATELIMIT_MAX_DESTINATIONS ((size_t)1 << 24)

/* IPv6 prefix length used when ratelimit_params.ipv6_prefix_len is 0. */
#define RATELIMIT_DEFAULT_IPV6_PREFIX_LEN 64u

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
	/*
	 * The fields below came later; a 0 (what an initializer that does
	 * not name them leaves) picks the documented default.
	 */
	/* Entries (addresses and IPv6 prefixes) at most; 0 = RATELIMIT_DEFAULT_MAX_DESTINATIONS. */
	size_t max_destinations;
	/* IPv6 prefix sharing a budget, 1..128 bits; 128 = per address only; 0 = 64. */
	unsigned ipv6_prefix_len;
	/* Packets per IPv6 prefix per 24 h window; 0 = per_destination_daily_packets. */
	unsigned per_prefix_daily_packets;
	/* Minimum gap between attempt starts into one IPv6 prefix; 0 = none. */
	uint64_t per_prefix_interval_ms;
	/* Minimum time between two packets to one address, whatever attempts
	 * they belong to (probe.retransmit); 0 = none. */
	uint64_t packet_gap_ms;
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
	uint64_t held_prefix_daily; /* take_packet refused: the IPv6 prefix's daily budget spent */
	uint64_t held_table_full;   /* take_packet, started or kod refused: table at max_destinations */
	uint64_t deferred_prefix_interval; /* may_start refused: "prefix interval" */
	uint64_t deferred_prefix_daily;    /* may_start refused: "prefix daily budget" */
	uint64_t deferred_table_full;      /* may_start refused: "destination table full" */
	uint64_t held_gap;          /* take_packet refused: inside packet_gap_ms of the last packet */
};

/* Opaque: the bucket, the per-destination table and the counters. */
struct ratelimit;

/*
 * Check params without building anything: false when global_pps is NaN,
 * negative or above RATELIMIT_MAX_PPS, max_destinations is above
 * RATELIMIT_MAX_DESTINATIONS, ipv6_prefix_len above 128 or a daily budget
 * above 1,048,575 (what an entry can count; the config allows 1,000,000
 * at most). Config
 * validation can call this.
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
 * send it (and for IPv6 one unit of its prefix's budget). False: hold it
 * back, nothing charged — KoD holdoff in force, less than packet_gap_ms
 * since the last packet to dst, daily budget (of the address or its
 * prefix) spent, no global token, dst not AF_INET/AF_INET6, the table at
 * max_destinations with no entry for dst, or no memory for a new entry.
 */
bool ratelimit_take_packet(struct ratelimit *rl, const struct sockaddr *dst,
			   uint64_t now_ms) RATELIMIT_WARN_UNUSED;

/*
 * May a new attempt to dst start now? Checks, in this order: KoD holdoff,
 * minimum interval since the last recorded start and packet_gap_ms since
 * the last packet (both "destination interval"), the interval for dst's IPv6
 * prefix, at least one packet left in the daily budget (an attempt that
 * needs more is cut short by take_packet), the same for the prefix, one
 * global token for the attempt's first transmit (one packet), room in
 * the table for dst's entries. Charges nothing.
 *
 * On false: *reason is the first failing check as a static string —
 * "kod holdoff", "destination interval", "prefix interval", "daily
 * budget", "prefix daily budget", "global rate", "destination table full"
 * (or "unsupported address" for a non-IP dst) — and *not_before_ms the
 * earliest time at which none of the failing checks would fail: the latest
 * of their clear times. For the global bucket that is when a token will
 * have been refilled, which other destinations may take first; for a full
 * table, when the first entry can be dropped (at least a second after the
 * last sweep), which other destinations may take first too.
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

/* Destinations (addresses) with an entry now (including any not yet pruned). */
size_t ratelimit_tracked(const struct ratelimit *rl);

/* IPv6 prefixes with an entry now; they count against max_destinations too. */
size_t ratelimit_tracked_prefixes(const struct ratelimit *rl);

/* Bytes of heap the limiter holds now: for the status page and tests. */
size_t ratelimit_memory(const struct ratelimit *rl);

/*
 * The most ratelimit_memory() can reach under p; *peak (may be NULL) gets
 * the transient peak while the table grows into its last size.
 */
size_t ratelimit_memory_max(const struct ratelimit_params *p, size_t *peak);

/*
 * Drop every entry with nothing left to enforce at now_ms: window closed
 * (or no packets in it), interval since the last start passed, KoD
 * holdoff over. Shrinks the table when it has become mostly empty.
 */
void ratelimit_prune(struct ratelimit *rl, uint64_t now_ms);

/* Copy the counters out. */
void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *out);

#endif
