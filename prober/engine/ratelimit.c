/*
 * ratelimit.c - global token bucket and per-destination limits.
 *
 * The bucket is fixed point: one packet is RL_UNIT units and the refill
 * rate is whole units per millisecond, global_pps truncated to 1e-6
 * packets/s. Integers make the promise exact: over any span of d ms at
 * most burst + d * rate / RL_UNIT packets leave, so no 1-second window can
 * see more than global_pps + global_burst, however the calls fall.
 *
 * Destinations live in an open-addressing table with linear probing and
 * backward-shift deletion (no tombstones, so lookups never slow down after
 * many prunes). The slot is chosen by SipHash-2-4 under a per-instance
 * random key: the addresses are chosen by strangers, and with a fixed hash
 * they could pick ones that all land in one probe run.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/random.h"
#include "engine/ratelimit.h"

/* Bucket units per packet: fine enough for rates down to 1e-6 pps. */
#define RL_UNIT UINT64_C(1000000000)

/* Smallest table; also what prune shrinks back to. Power of two. */
#define RL_MIN_CAPACITY ((size_t)16)

/* One destination. family 0 marks an empty slot. */
struct rl_entry {
	uint64_t last_start_ms;   /* last attempt start; meaningful when started */
	uint64_t window_start_ms; /* first packet of the 24 h window; when window_packets > 0 */
	uint64_t kod_until_ms;    /* nothing goes out before this; 0 = never kissed */
	uint32_t window_packets;  /* packets charged in the current window; 0 = no window */
	uint8_t addr[16];         /* IPv6, or IPv4 in the first 4 octets and zeros */
	uint8_t family;           /* 0 empty, 4 or 6 */
	uint8_t started;          /* an attempt start has been recorded */
};

struct ratelimit {
	struct ratelimit_params params; /* current limits, a copy of the caller's */
	uint64_t rate_per_ms;     /* bucket refill in units per ms, rounded down */
	uint64_t bucket_cap;      /* global_burst in units */
	uint64_t bucket_level;    /* units available at bucket_time_ms */
	uint64_t bucket_time_ms;  /* refilled up to here; never moves backwards */
	uint64_t seed[2];         /* SipHash key, from getrandom() */
	struct rl_entry *slots;   /* the table; capacity entries */
	size_t capacity;          /* power of two, >= RL_MIN_CAPACITY */
	size_t count;             /* occupied slots; always < capacity */
	struct ratelimit_stats stats; /* counters handed out by ratelimit_stats() */
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* ---- hashing ---------------------------------------------------------- */

static uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3) do {                                    \
	v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);        \
	v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                           \
	v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                           \
	v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);        \
} while (0)

/*
 * SipHash-2-4 of the 17 octets addr || family, words loaded in host order
 * (the key is random, so byte order does not weaken it).
 */
static uint64_t entry_hash(const struct ratelimit *rl, const struct rl_entry *k)
{
	uint64_t v0 = rl->seed[0] ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = rl->seed[1] ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = rl->seed[0] ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = rl->seed[1] ^ UINT64_C(0x7465646279746573);
	uint64_t m[3];

	memcpy(&m[0], k->addr, 8);
	memcpy(&m[1], k->addr + 8, 8);
	m[2] = (uint64_t)k->family | (UINT64_C(17) << 56);
	for (int i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND(v0, v1, v2, v3);
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	for (int i = 0; i < 4; i++)
		SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static size_t home_slot(const struct ratelimit *rl, const struct rl_entry *k)
{
	return (size_t)entry_hash(rl, k) & (rl->capacity - 1);
}

/*
 * Fill the key part of *k from sa. Addresses that deliver to one IPv4 host
 * fold to it (as in policy.c), so each host has one budget, not several.
 */
static bool key_of(const struct sockaddr *sa, struct rl_entry *k)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	memset(k, 0, sizeof(*k));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		memcpy(k->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		k->family = 4;
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;

	const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		memcpy(k->addr, a + 12, 4);
		k->family = 4;
	} else if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4 2002:V4ADDR::/48 */
		memcpy(k->addr, a + 2, 4);
		k->family = 4;
	} else {
		memcpy(k->addr, a, 16);
		k->family = 6;
	}
	return true;
}

static bool same_key(const struct rl_entry *a, const struct rl_entry *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0;
}

/* ---- per-destination state -------------------------------------------- */

/* Close the daily window once 24 h have passed since it opened. */
static void window_roll(struct rl_entry *e, uint64_t now)
{
	if (e->window_packets > 0 &&
	    now >= sat_add(e->window_start_ms, RATELIMIT_DAY_MS))
		e->window_packets = 0;
}

/* Anything still to enforce at now? If not, the entry can go. */
static bool entry_live(const struct ratelimit *rl, const struct rl_entry *e,
		       uint64_t now)
{
	if (e->window_packets > 0 &&
	    now < sat_add(e->window_start_ms, RATELIMIT_DAY_MS))
		return true;
	if (e->started &&
	    now < sat_add(e->last_start_ms, rl->params.per_destination_interval_ms))
		return true;
	return now < e->kod_until_ms;
}

/* ---- the table -------------------------------------------------------- */

static struct rl_entry *lookup(struct ratelimit *rl, const struct rl_entry *k)
{
	size_t mask = rl->capacity - 1;

	/* Ends: count < capacity always leaves an empty slot. */
	for (size_t i = home_slot(rl, k);; i = (i + 1) & mask) {
		struct rl_entry *e = &rl->slots[i];
		if (e->family == 0)
			return NULL;
		if (same_key(e, k))
			return e;
	}
}

/* Place e (not present) at the first empty slot of its probe run. */
static struct rl_entry *place(struct ratelimit *rl, const struct rl_entry *e)
{
	size_t mask = rl->capacity - 1;
	size_t i = home_slot(rl, e);

	while (rl->slots[i].family != 0)
		i = (i + 1) & mask;
	rl->slots[i] = *e;
	rl->count++;
	return &rl->slots[i];
}

/*
 * Move the entries still live at now into a fresh table with room for
 * `extra` more at load <= 1/2; dead entries are dropped on the way, so
 * growing doubles as pruning. False on ENOMEM, the old table untouched.
 */
static bool rebuild(struct ratelimit *rl, uint64_t now, size_t extra)
{
	size_t live = 0;

	for (size_t i = 0; i < rl->capacity; i++)
		if (rl->slots[i].family != 0 && entry_live(rl, &rl->slots[i], now))
			live++;

	size_t cap = RL_MIN_CAPACITY;
	while (cap / 2 < live + extra) {
		if (cap > SIZE_MAX / 2 / sizeof(struct rl_entry))
			return false;
		cap *= 2;
	}
	struct rl_entry *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return false;

	struct rl_entry *old = rl->slots;
	size_t old_cap = rl->capacity;
	rl->slots = slots;
	rl->capacity = cap;
	rl->count = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].family != 0 && entry_live(rl, &old[i], now))
			place(rl, &old[i]);
	free(old);
	return true;
}

/* The entry for k, made empty if new; NULL when it cannot be stored. */
static struct rl_entry *lookup_or_insert(struct ratelimit *rl,
					 const struct rl_entry *k, uint64_t now)
{
	struct rl_entry *e = lookup(rl, k);

	if (e != NULL)
		return e;
	/* Keep load <= 3/4 so probe runs stay short. */
	if ((rl->count + 1) > rl->capacity / 4 * 3 && !rebuild(rl, now, 1)) {
		/* No memory: use the slack, but always keep one slot empty. */
		if (rl->count + 2 > rl->capacity)
			return NULL;
	}
	return place(rl, k);
}

/*
 * Empty slot i and pull later members of the probe run back over the hole
 * so every entry stays reachable from its home slot without tombstones.
 * An entry at j may move to the hole h only if its home is not in (h, j]
 * cyclically; otherwise the hole would sit before its home.
 */
static void remove_at(struct ratelimit *rl, size_t hole)
{
	size_t mask = rl->capacity - 1;

	for (size_t j = (hole + 1) & mask; rl->slots[j].family != 0;
	     j = (j + 1) & mask) {
		size_t home = home_slot(rl, &rl->slots[j]);
		bool stays = hole <= j ? (hole < home && home <= j)
				       : (hole < home || home <= j);
		if (stays)
			continue;
		rl->slots[hole] = rl->slots[j];
		hole = j;
	}
	memset(&rl->slots[hole], 0, sizeof(rl->slots[hole]));
	rl->count--;
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
 * What a new attempt needs in the bucket: its first transmit sends two
 * packets (mode 6 or the keyed request, and the plain mode 3), and a mode 3
 * held back there would turn mode6_silent into no_response. With a burst
 * of one, one token is all there can ever be.
 */
static uint64_t bucket_start_units(const struct ratelimit *rl)
{
	return rl->bucket_cap >= 2 * RL_UNIT ? 2 * RL_UNIT : RL_UNIT;
}

/* ---- API -------------------------------------------------------------- */

bool ratelimit_params_valid(const struct ratelimit_params *p)
{
	/* Written so that NaN fails too. */
	return p != NULL && p->global_pps >= 0 &&
	       p->global_pps <= RATELIMIT_MAX_PPS;
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

	if (random_bytes(rl->seed, sizeof(rl->seed)) < 0) {
		int saved = errno;
		free(rl);
		errno = saved;
		return NULL;
	}

	rl->slots = calloc(RL_MIN_CAPACITY, sizeof(*rl->slots));
	if (rl->slots == NULL) {
		free(rl);
		return NULL;
	}
	rl->capacity = RL_MIN_CAPACITY;
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
	free(rl->slots);
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
	return true;
}

bool ratelimit_take_packet(struct ratelimit *rl, const struct sockaddr *dst,
			   uint64_t now_ms)
{
	struct rl_entry k;

	if (!key_of(dst, &k))
		return false;

	struct rl_entry *e = lookup(rl, &k);
	if (e != NULL)
		window_roll(e, now_ms);
	/* A kiss mid-attempt stops the retransmits too. */
	if (e != NULL && now_ms < e->kod_until_ms) {
		rl->stats.held_kod++;
		return false;
	}
	uint32_t used = e != NULL ? e->window_packets : 0;
	if (used >= rl->params.per_destination_daily_packets) {
		rl->stats.held_daily++;
		return false;
	}
	bucket_refill(rl, now_ms);
	if (rl->bucket_level < RL_UNIT) {
		rl->stats.held_global++;
		return false;
	}
	if (e == NULL && (e = lookup_or_insert(rl, &k, now_ms)) == NULL) {
		rl->stats.no_memory++;
		return false;
	}

	rl->bucket_level -= RL_UNIT;
	if (e->window_packets == 0)
		e->window_start_ms = now_ms;
	e->window_packets++;
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

bool ratelimit_may_start(struct ratelimit *rl, const struct sockaddr *dst,
			 uint64_t now_ms, uint64_t *not_before_ms,
			 const char **reason)
{
	struct rl_entry k;
	const char *why = NULL;
	uint64_t until = now_ms;
	uint64_t *counter = NULL;

	if (!key_of(dst, &k))
		return refuse(not_before_ms, reason, UINT64_MAX,
			      "unsupported address");

	/* Every failing check pushes `until`; the first one names the reason. */
	struct rl_entry *e = lookup(rl, &k);
	if (e != NULL) {
		window_roll(e, now_ms);
		if (now_ms < e->kod_until_ms) {
			why = "kod holdoff";
			counter = &rl->stats.deferred_kod;
			until = max_u64(until, e->kod_until_ms);
		}
		uint64_t next = sat_add(e->last_start_ms,
					rl->params.per_destination_interval_ms);
		if (e->started && now_ms < next) {
			if (why == NULL) {
				why = "destination interval";
				counter = &rl->stats.deferred_interval;
			}
			until = max_u64(until, next);
		}
	}
	uint32_t used = e != NULL ? e->window_packets : 0;
	if (used >= rl->params.per_destination_daily_packets) {
		if (why == NULL) {
			why = "daily budget";
			counter = &rl->stats.deferred_daily;
		}
		/* used == 0 here means a zero budget: never. */
		until = used == 0 ? UINT64_MAX
				  : max_u64(until, sat_add(e->window_start_ms,
							   RATELIMIT_DAY_MS));
	}
	bucket_refill(rl, now_ms);
	if (rl->bucket_level < bucket_start_units(rl)) {
		if (why == NULL) {
			why = "global rate";
			counter = &rl->stats.deferred_global;
		}
		until = max_u64(until, bucket_units_at(rl, bucket_start_units(rl)));
	}
	if (why == NULL)
		return true;
	(*counter)++;
	return refuse(not_before_ms, reason, until, why);
}

bool ratelimit_started(struct ratelimit *rl, const struct sockaddr *dst,
		       uint64_t now_ms)
{
	struct rl_entry k;

	if (!key_of(dst, &k))
		return false;
	struct rl_entry *e = lookup_or_insert(rl, &k, now_ms);
	if (e == NULL) {
		rl->stats.no_memory++;
		return false;
	}
	/* A clock step backwards must not shorten the interval. */
	if (!e->started || now_ms > e->last_start_ms)
		e->last_start_ms = now_ms;
	e->started = 1;
	return true;
}

bool ratelimit_kod(struct ratelimit *rl, const struct sockaddr *dst,
		   uint64_t now_ms)
{
	struct rl_entry k;

	if (!key_of(dst, &k))
		return false;
	struct rl_entry *e = lookup_or_insert(rl, &k, now_ms);
	if (e == NULL) {
		rl->stats.no_memory++;
		return false;
	}
	e->kod_until_ms = max_u64(e->kod_until_ms,
				  sat_add(now_ms, rl->params.kod_holdoff_ms));
	return true;
}

size_t ratelimit_tracked(const struct ratelimit *rl)
{
	return rl->count;
}

size_t ratelimit_memory(const struct ratelimit *rl)
{
	return sizeof(*rl) + rl->capacity * sizeof(*rl->slots);
}

void ratelimit_prune(struct ratelimit *rl, uint64_t now_ms)
{
	/*
	 * Backward shift only moves entries towards the hole, and the hole
	 * starts at i, so an unvisited entry can only land at i or later:
	 * re-examine i after a removal instead of stepping on. An entry that
	 * wraps from the front to the back was already judged live.
	 */
	for (size_t i = 0; i < rl->capacity;) {
		struct rl_entry *e = &rl->slots[i];
		if (e->family != 0 && !entry_live(rl, e, now_ms))
			remove_at(rl, i);
		else
			i++;
	}
	/* Give memory back once the table is mostly empty; failure is harmless. */
	if (rl->capacity > RL_MIN_CAPACITY && rl->count < rl->capacity / 8)
		(void)rebuild(rl, now_ms, 0);
}

void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *out)
{
	*out = rl->stats;
}
