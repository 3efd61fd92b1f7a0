/*
 * ratelimit.c - global token bucket and per-destination limits.
 *
 * The bucket is fixed point: one packet is RL_UNIT units and the refill
 * rate is whole units per millisecond, global_pps truncated to 1e-6
 * packets/s. Integers make the promise exact: over any span of d ms at
 * most burst + d * rate / RL_UNIT packets leave, so no 1-second window can
 * see more than global_pps + global_burst, however the calls fall.
 *
 * Destinations live in ratelimit_table.c: one entry per host address and
 * one per IPv6 prefix, in one bounded table.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ratelimit.h"
#include "engine/ratelimit_table.h"

/* Bucket units per packet: fine enough for rates down to 1e-6 pps. */
#define RL_UNIT UINT64_C(1000000000)

struct ratelimit {
	struct ratelimit_params params; /* current limits, a copy of the caller's */
	uint64_t rate_per_ms;     /* bucket refill in units per ms, rounded down */
	uint64_t bucket_cap;      /* global_burst in units */
	uint64_t bucket_level;    /* units available at bucket_time_ms */
	uint64_t bucket_time_ms;  /* refilled up to here; never moves backwards */
	struct rl_table table;    /* addresses and IPv6 prefixes */
	struct ratelimit_stats stats; /* counters handed out by ratelimit_stats() */
};

/* The entries one destination is charged to. */
struct rl_keys {
	struct rl_entry addr;   /* the host: IPv4 (folded) or IPv6 address */
	struct rl_entry prefix; /* its IPv6 prefix; kind 0 when there is none */
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---- keys ------------------------------------------------------------ */

static size_t max_entries(const struct ratelimit_params *p)
{
	return p->max_destinations != 0 ? p->max_destinations
					 : RATELIMIT_DEFAULT_MAX_DESTINATIONS;
}

static unsigned prefix_len(const struct ratelimit_params *p)
{
	return p->ipv6_prefix_len != 0 ? p->ipv6_prefix_len
				       : RATELIMIT_DEFAULT_IPV6_PREFIX_LEN;
}

static unsigned prefix_daily(const struct ratelimit_params *p)
{
	return p->per_prefix_daily_packets != 0 ? p->per_prefix_daily_packets
						: p->per_destination_daily_packets;
}

/* k->prefix: the first plen bits of the IPv6 address a (plen < 128). */
static void prefix_key(struct rl_keys *k, const uint8_t *a, unsigned plen)
{
	unsigned whole = plen / 8, rest = plen % 8;

	k->prefix.kind = RL_KIND_PREFIX;
	k->prefix.plen = (uint8_t)plen;
	memcpy(k->prefix.addr, a, whole);
	if (rest != 0)
		k->prefix.addr[whole] = (uint8_t)(a[whole] & (0xff << (8 - rest)));
}

/*
 * Fill *k from sa. Addresses that deliver to one IPv4 host fold to it (as
 * in policy.c), so each host has one budget, not several: IPv4-mapped,
 * NAT64 64:ff9b::/96 and 6to4 by the address they embed. The local-use
 * NAT64 64:ff9b:1::/48 may carry its IPv4 at several offsets (RFC 6052):
 * it folds by the last 32 bits (the /96 form) and is charged to its /64
 * (or the configured prefix, if shorter) as well, which bounds a host
 * whatever form its operator chose. Other IPv6 addresses are charged to
 * the address and to their prefix.
 */
static bool keys_of(const struct sockaddr *sa, unsigned plen, struct rl_keys *k)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(k->addr.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		k->addr.kind = RL_KIND_V4;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;

	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		memcpy(k->addr.addr, a + 12, 4);
		k->addr.kind = RL_KIND_V4;
	} else if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4 2002:V4ADDR::/48 */
		memcpy(k->addr.addr, a + 2, 4);
		k->addr.kind = RL_KIND_V4;
	} else if (memcmp(a, nat64_local, 6) == 0) {
		memcpy(k->addr.addr, a + 12, 4);
		k->addr.kind = RL_KIND_V4;
		prefix_key(k, a, plen < 64 ? plen : 64);
	} else {
		memcpy(k->addr.addr, a, 16);
		k->addr.kind = RL_KIND_V6;
		if (plen < 128)
			prefix_key(k, a, plen);
	}
	return true;
}

/* ---- per-destination state -------------------------------------------- */

/* Close the daily window once 24 h have passed since it opened. */
static void window_roll(struct rl_entry *e, uint64_t now)
{
	if (e != NULL && e->window_packets > 0 &&
	    now >= sat_add(e->window_start_ms, RATELIMIT_DAY_MS))
		e->window_packets = 0;
}

static uint32_t window_used(const struct rl_entry *e)
{
	return e != NULL ? e->window_packets : 0;
}

static void charge(struct rl_entry *e, uint64_t now)
{
	if (e->window_packets == 0)
		e->window_start_ms = now;
	/* ratelimit_params_valid keeps every budget at or below the bound. */
	if (e->window_packets < RL_WINDOW_MAX)
		e->window_packets++;
	/* In the window (under 24 h): fits; a clock going back counts as 0. */
	e->last_packet_off = now > e->window_start_ms
				     ? (uint32_t)(now - e->window_start_ms)
				     : 0;
}

/* When the packet gap after the last packet to e ends; 0: no packet. */
static uint64_t gap_end(const struct ratelimit *rl, const struct rl_entry *e)
{
	if (e == NULL || e->window_packets == 0 || rl->params.packet_gap_ms == 0)
		return 0;
	return sat_add(e->window_start_ms + e->last_packet_off,
		       rl->params.packet_gap_ms);
}

/* Entries of k that are not in the table yet. */
static size_t missing(struct ratelimit *rl, const struct rl_keys *k,
		      struct rl_entry **e, struct rl_entry **pe)
{
	*e = rl_table_find(&rl->table, &k->addr);
	*pe = k->prefix.kind != 0 ? rl_table_find(&rl->table, &k->prefix) : NULL;
	return (*e == NULL) + (k->prefix.kind != 0 && *pe == NULL);
}

/*
 * The entries for k, created (zero state) where missing. Reserving room
 * may sweep or rebuild the table, which moves entries and drops dead ones,
 * so look again afterwards; a second round is needed only when the sweep
 * dropped one of ours, and finds everything live.
 */
static enum rl_room entries_for(struct ratelimit *rl, const struct rl_keys *k,
				uint64_t now, struct rl_entry **e,
				struct rl_entry **pe)
{
	for (;;) {
		size_t need = missing(rl, k, e, pe);
		if (need == 0)
			return RL_ROOM;
		enum rl_room room = rl_table_reserve(&rl->table, &rl->params,
						     need, now, NULL);
		if (room != RL_ROOM)
			return room;
		if (missing(rl, k, e, pe) > need)
			continue;
		if (*e == NULL)
			*e = rl_table_insert(&rl->table, &k->addr);
		if (k->prefix.kind != 0 && *pe == NULL)
			*pe = rl_table_insert(&rl->table, &k->prefix);
		/* Inserting never moves entries: *e is still valid. */
		return RL_ROOM;
	}
}

/* Count a refusal by entries_for(); false always. */
static bool entries_refused(struct ratelimit *rl, enum rl_room room)
{
	if (room == RL_FULL)
		rl->stats.held_table_full++;
	else
		rl->stats.no_memory++;
	return false;
}

/* ---- the global bucket ------------------------------------------------ */

static void bucket_set(struct ratelimit *rl, const struct ratelimit_params *p)
{
	/* Truncation rounds the rate down: never more than asked for. */
	rl->rate_per_ms = (uint64_t)(p->global_pps * 1e6);
	rl->bucket_cap = (uint64_t)p->global_burst * RL_UNIT;
	if (rl->bucket_level > rl->bucket_cap)
		rl->bucket_level = rl->bucket_cap;
}

static void bucket_refill(struct ratelimit *rl, uint64_t now)
{
	/* A clock that went backwards refills nothing. */
	if (now <= rl->bucket_time_ms)
		return;
	uint64_t elapsed = now - rl->bucket_time_ms;
	uint64_t room = rl->bucket_cap - rl->bucket_level;

	rl->bucket_time_ms = now;
	if (rl->rate_per_ms == 0)
		return;
	/* elapsed <= room / rate keeps elapsed * rate <= room: no overflow. */
	if (elapsed > room / rl->rate_per_ms)
		rl->bucket_level = rl->bucket_cap;
	else
		rl->bucket_level += elapsed * rl->rate_per_ms;
}

/* When the (refilled) bucket will next hold `units`. */
static uint64_t bucket_units_at(const struct ratelimit *rl, uint64_t units)
{
	if (rl->bucket_level >= units)
		return rl->bucket_time_ms;
	if (rl->rate_per_ms == 0 || rl->bucket_cap < units)
		return UINT64_MAX;
	uint64_t need = units - rl->bucket_level;
	uint64_t ms = need / rl->rate_per_ms + (need % rl->rate_per_ms != 0);
	return sat_add(rl->bucket_time_ms, ms);
}

/*
 * What a new attempt needs in the bucket: one token, for its first
 * transmit, which is one packet (mode 6 or the keyed request; the plain
 * mode 3 follows only a pacing gap later, if at all).
 */
static uint64_t bucket_start_units(const struct ratelimit *rl)
{
	(void)rl;
	return RL_UNIT;
}

/* ---- API -------------------------------------------------------------- */

bool ratelimit_params_valid(const struct ratelimit_params *p)
{
	/* Written so that NaN fails too. */
	return p != NULL && p->global_pps >= 0 &&
	       p->global_pps <= RATELIMIT_MAX_PPS &&
	       p->max_destinations <= RATELIMIT_MAX_DESTINATIONS &&
	       p->ipv6_prefix_len <= 128 &&
	       p->per_destination_daily_packets <= RL_WINDOW_MAX &&
	       p->per_prefix_daily_packets <= RL_WINDOW_MAX;
}

struct ratelimit *ratelimit_new(const struct ratelimit_params *p)
{
	if (!ratelimit_params_valid(p)) {
		errno = EINVAL;
		return NULL;
	}
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	if (rl_table_init(&rl->table, max_entries(p)) < 0) {
		int saved = errno;
		free(rl);
		errno = saved;
		return NULL;
	}
	rl->params = *p;
	/* Start full: bucket_set clamps the level down to the burst. */
	rl->bucket_level = UINT64_MAX;
	bucket_set(rl, p);
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	rl_table_reset(&rl->table);
	free(rl);
}

bool ratelimit_set_params(struct ratelimit *rl, const struct ratelimit_params *p,
			  uint64_t now_ms)
{
	if (!ratelimit_params_valid(p))
		return false;
	/* Time already passed earns tokens at the rate that was in force. */
	bucket_refill(rl, now_ms);
	rl->params = *p;
	bucket_set(rl, p);
	/* A lower bound drops nothing: new destinations wait until it holds. */
	rl_table_set_max(&rl->table, max_entries(p));
	return true;
}

bool ratelimit_take_packet(struct ratelimit *rl, const struct sockaddr *dst,
			   uint64_t now_ms)
{
	struct rl_keys k;
	struct rl_entry *e, *pe;

	if (!keys_of(dst, prefix_len(&rl->params), &k))
		return false;
	(void)missing(rl, &k, &e, &pe);
	window_roll(e, now_ms);
	window_roll(pe, now_ms);
	/* A kiss mid-attempt stops the retransmits too. */
	if (e != NULL && now_ms < e->kod_until_ms) {
		rl->stats.held_kod++;
		return false;
	}
	/* Another attempt's packet went there too recently. */
	if (now_ms < gap_end(rl, e)) {
		rl->stats.held_gap++;
		return false;
	}
	if (window_used(e) >= rl->params.per_destination_daily_packets) {
		rl->stats.held_daily++;
		return false;
	}
	if (k.prefix.kind != 0 && window_used(pe) >= prefix_daily(&rl->params)) {
		rl->stats.held_prefix_daily++;
		return false;
	}
	bucket_refill(rl, now_ms);
	if (rl->bucket_level < RL_UNIT) {
		rl->stats.held_global++;
		return false;
	}
	enum rl_room room = entries_for(rl, &k, now_ms, &e, &pe);
	if (room != RL_ROOM)
		return entries_refused(rl, room);

	rl->bucket_level -= RL_UNIT;
	charge(e, now_ms);
	if (pe != NULL)
		charge(pe, now_ms);
	return true;
}

/* Fill may_start's out-pointers for a refusal. */
static bool refuse(uint64_t *not_before_ms, const char **reason,
		   uint64_t until, const char *why)
{
	if (not_before_ms != NULL)
		*not_before_ms = until;
	if (reason != NULL)
		*reason = why;
	return false;
}

/* may_start's verdict so far: the first failing check and the latest clear time. */
struct rl_verdict {
	const char *why;    /* first failing check; NULL = none yet */
	uint64_t *counter;  /* its stats counter */
	uint64_t until;     /* latest clear time of all failing checks */
};

static void fails(struct rl_verdict *v, const char *why, uint64_t *counter,
		  uint64_t until)
{
	if (v->why == NULL) {
		v->why = why;
		v->counter = counter;
	}
	v->until = max_u64(v->until, until);
}

/* The interval and daily checks for one entry (address or prefix). */
static void check_entry(struct ratelimit *rl, struct rl_verdict *v,
			const struct rl_entry *e, uint64_t now, bool prefix)
{
	const struct ratelimit_params *p = &rl->params;
	uint64_t interval = prefix ? p->per_prefix_interval_ms
				   : p->per_destination_interval_ms;
	unsigned budget = prefix ? prefix_daily(p) : p->per_destination_daily_packets;

	uint64_t clear = e != NULL && e->started
				 ? sat_add(e->last_start_ms, interval) : 0;
	/* The first packet must keep the gap after the last one, too. */
	if (!prefix)
		clear = max_u64(clear, gap_end(rl, e));
	if (now < clear)
		fails(v, prefix ? "prefix interval" : "destination interval",
		      prefix ? &rl->stats.deferred_prefix_interval
			     : &rl->stats.deferred_interval,
		      clear);
	uint32_t used = window_used(e);
	if (used >= budget)
		/* used == 0 here means a zero budget: never. */
		fails(v, prefix ? "prefix daily budget" : "daily budget",
		      prefix ? &rl->stats.deferred_prefix_daily
			     : &rl->stats.deferred_daily,
		      used == 0 ? UINT64_MAX
				: sat_add(e->window_start_ms, RATELIMIT_DAY_MS));
}

bool ratelimit_may_start(struct ratelimit *rl, const struct sockaddr *dst,
			 uint64_t now_ms, uint64_t *not_before_ms,
			 const char **reason)
{
	struct rl_keys k;
	struct rl_entry *e, *pe;
	struct rl_verdict v = { .until = now_ms };

	if (!keys_of(dst, prefix_len(&rl->params), &k))
		return refuse(not_before_ms, reason, UINT64_MAX,
			      "unsupported address");

	/* Every failing check pushes `until`; the first one names the reason. */
	size_t need = missing(rl, &k, &e, &pe);
	window_roll(e, now_ms);
	window_roll(pe, now_ms);
	if (e != NULL && now_ms < e->kod_until_ms)
		fails(&v, "kod holdoff", &rl->stats.deferred_kod, e->kod_until_ms);
	check_entry(rl, &v, e, now_ms, false);
	if (k.prefix.kind != 0)
		check_entry(rl, &v, pe, now_ms, true);
	bucket_refill(rl, now_ms);
	if (rl->bucket_level < bucket_start_units(rl))
		fails(&v, "global rate", &rl->stats.deferred_global,
		      bucket_units_at(rl, bucket_start_units(rl)));
	/* Last: it may sweep the table, after which e and pe are stale. */
	uint64_t free_at;
	if (rl_table_reserve(&rl->table, &rl->params, need, now_ms, &free_at) ==
	    RL_FULL)
		fails(&v, "destination table full", &rl->stats.deferred_table_full,
		      free_at);
	if (v.why == NULL)
		return true;
	(*v.counter)++;
	return refuse(not_before_ms, reason, v.until, v.why);
}

bool ratelimit_started(struct ratelimit *rl, const struct sockaddr *dst,
		       uint64_t now_ms)
{
	struct rl_keys k;
	struct rl_entry *e, *pe;

	if (!keys_of(dst, prefix_len(&rl->params), &k))
		return false;
	enum rl_room room = entries_for(rl, &k, now_ms, &e, &pe);
	if (room != RL_ROOM)
		return entries_refused(rl, room);
	/* A clock step backwards must not shorten the interval. */
	if (!e->started || now_ms > e->last_start_ms)
		e->last_start_ms = now_ms;
	e->started = 1;
	if (pe != NULL) {
		if (!pe->started || now_ms > pe->last_start_ms)
			pe->last_start_ms = now_ms;
		pe->started = 1;
	}
	return true;
}

bool ratelimit_kod(struct ratelimit *rl, const struct sockaddr *dst,
		   uint64_t now_ms)
{
	struct rl_keys k;
	struct rl_entry *e, *pe;

	if (!keys_of(dst, prefix_len(&rl->params), &k))
		return false;
	/* The kiss came from one host: hold off that address only. */
	memset(&k.prefix, 0, sizeof(k.prefix));
	enum rl_room room = entries_for(rl, &k, now_ms, &e, &pe);
	if (room != RL_ROOM)
		return entries_refused(rl, room);
	e->kod_until_ms = max_u64(e->kod_until_ms,
				  sat_add(now_ms, rl->params.kod_holdoff_ms));
	return true;
}

size_t ratelimit_tracked(const struct ratelimit *rl)
{
	return rl->table.count - rl->table.n_prefixes;
}

size_t ratelimit_tracked_prefixes(const struct ratelimit *rl)
{
	return rl->table.n_prefixes;
}

size_t ratelimit_memory(const struct ratelimit *rl)
{
	return sizeof(*rl) + rl->table.capacity * sizeof(struct rl_entry);
}

size_t ratelimit_memory_max(const struct ratelimit_params *p, size_t *peak)
{
	size_t slots = rl_table_capacity_for(max_entries(p));
	size_t steady = sizeof(struct ratelimit) + slots * sizeof(struct rl_entry);

	/* Growing to the last size holds the half-size table as well. */
	if (peak != NULL)
		*peak = steady + slots / 2 * sizeof(struct rl_entry);
	return steady;
}

void ratelimit_prune(struct ratelimit *rl, uint64_t now_ms)
{
	rl_table_sweep(&rl->table, &rl->params, now_ms, true);
}

void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *out)
{
	*out = rl->stats;
}
