/*
 * ratelimit_table.c - the rate limiter's per-destination table.
 *
 * Linear probing with backward-shift deletion (no tombstones, so lookups
 * never slow down after many prunes). The slot is chosen by SipHash-2-4
 * under a per-instance random key: the addresses are chosen by strangers,
 * and with a fixed hash they could pick ones that all land in one probe
 * run.
 *
 * The bound is on entries, not on the traffic behind them: at the bound a
 * new destination is refused, and no entry that still has a window, an
 * interval or a holdoff to enforce is ever dropped to make room, because
 * forgetting a budget early would hand out a fresh one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/random.h"
#include "engine/ratelimit_table.h"

/* ratelimit.h states the memory bound in 48-byte slots. */
_Static_assert(sizeof(struct rl_entry) <= 48, "rl_entry grew past 48 bytes");

/* A full table sweeps at most this often, however often it is asked. */
#define RL_FULL_SWEEP_GAP_MS 1000u

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

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
 * SipHash-2-4 of the 18 octets addr || kind || plen, words loaded in host
 * order (the key is random, so byte order does not weaken it).
 */
static uint64_t entry_hash(const struct rl_table *t, const struct rl_entry *k)
{
	uint64_t v0 = t->seed[0] ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = t->seed[1] ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = t->seed[0] ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = t->seed[1] ^ UINT64_C(0x7465646279746573);
	uint64_t m[3];

	memcpy(&m[0], k->addr, 8);
	memcpy(&m[1], k->addr + 8, 8);
	m[2] = (uint64_t)k->kind | (uint64_t)k->plen << 8 | (UINT64_C(18) << 56);
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

static size_t home_slot(const struct rl_table *t, const struct rl_entry *k)
{
	return (size_t)entry_hash(t, k) & (t->capacity - 1);
}

static bool same_key(const struct rl_entry *a, const struct rl_entry *b)
{
	return a->kind == b->kind && a->plen == b->plen &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

uint64_t rl_entry_gap_end(const struct rl_entry *e,
			  const struct ratelimit_params *p)
{
	/* The gap is kept per address; a prefix has none of its own. */
	if (e->kind == RL_KIND_PREFIX || e->window_packets == 0 ||
	    p->packet_gap_ms == 0)
		return 0;
	return sat_add(e->window_start_ms + e->last_packet_off,
		       p->packet_gap_ms);
}

/* When the entry will have nothing left to enforce. */
static uint64_t entry_expiry(const struct rl_entry *e,
			     const struct ratelimit_params *p)
{
	uint64_t interval = e->kind == RL_KIND_PREFIX ?
		p->per_prefix_interval_ms : p->per_destination_interval_ms;
	uint64_t end = e->kod_until_ms;
	uint64_t t;

	if (e->window_packets > 0) {
		t = sat_add(e->window_start_ms, RATELIMIT_DAY_MS);
		end = t > end ? t : end;
		/* The packet gap may run past the window's end. */
		t = rl_entry_gap_end(e, p);
		end = t > end ? t : end;
	}
	if (e->started) {
		t = sat_add(e->last_start_ms, interval);
		end = t > end ? t : end;
	}
	return end;
}

bool rl_entry_live(const struct rl_entry *e, const struct ratelimit_params *p,
		   uint64_t now)
{
	return now < entry_expiry(e, p);
}

size_t rl_table_capacity_for(size_t max_entries)
{
	size_t cap = RL_MIN_CAPACITY;

	/* max_entries is bounded by RATELIMIT_MAX_DESTINATIONS: no overflow. */
	while (cap / 4 * 3 < max_entries)
		cap *= 2;
	return cap;
}

int rl_table_init(struct rl_table *t, size_t max_entries)
{
	memset(t, 0, sizeof(*t));
	if (random_bytes(t->seed, sizeof(t->seed)) < 0)
		return -1;
	t->slots = calloc(RL_MIN_CAPACITY, sizeof(*t->slots));
	if (t->slots == NULL)
		return -1;
	t->capacity = RL_MIN_CAPACITY;
	rl_table_set_max(t, max_entries);
	return 0;
}

void rl_table_reset(struct rl_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->capacity = 0;
	t->count = 0;
	t->n_prefixes = 0;
}

void rl_table_set_max(struct rl_table *t, size_t max_entries)
{
	t->max_entries = max_entries;
	t->max_capacity = rl_table_capacity_for(max_entries);
}

struct rl_entry *rl_table_find(struct rl_table *t, const struct rl_entry *k)
{
	size_t mask = t->capacity - 1;

	/* Ends: count < capacity always leaves an empty slot. */
	for (size_t i = home_slot(t, k);; i = (i + 1) & mask) {
		struct rl_entry *e = &t->slots[i];
		if (e->kind == 0)
			return NULL;
		if (same_key(e, k))
			return e;
	}
}

struct rl_entry *rl_table_insert(struct rl_table *t, const struct rl_entry *k)
{
	size_t mask = t->capacity - 1;
	size_t i = home_slot(t, k);

	while (t->slots[i].kind != 0)
		i = (i + 1) & mask;
	t->slots[i] = *k;
	t->count++;
	if (k->kind == RL_KIND_PREFIX)
		t->n_prefixes++;
	return &t->slots[i];
}

/*
 * Move the entries still live at now into a fresh table with room for
 * `extra` more at load <= 1/2, but never more than max_capacity slots (at
 * load <= 3/4 then); dead entries are dropped on the way, so growing
 * doubles as pruning. False on ENOMEM or when the live entries would not
 * fit, the old table untouched.
 */
static bool rebuild(struct rl_table *t, const struct ratelimit_params *p,
		    uint64_t now, size_t extra)
{
	size_t live = 0;

	for (size_t i = 0; i < t->capacity; i++)
		if (t->slots[i].kind != 0 && rl_entry_live(&t->slots[i], p, now))
			live++;

	size_t cap = RL_MIN_CAPACITY;
	while (cap / 2 < live + extra && cap < t->max_capacity)
		cap *= 2;
	if (cap / 4 * 3 < live + extra)
		return false; /* only after a reload lowered the bound */
	struct rl_entry *slots = calloc(cap, sizeof(*slots));
	if (slots == NULL)
		return false;

	struct rl_entry *old = t->slots;
	size_t old_cap = t->capacity;
	uint64_t next_free = UINT64_MAX;
	t->slots = slots;
	t->capacity = cap;
	t->count = 0;
	t->n_prefixes = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i].kind == 0 || !rl_entry_live(&old[i], p, now))
			continue;
		rl_table_insert(t, &old[i]);
		uint64_t end = entry_expiry(&old[i], p);
		next_free = end < next_free ? end : next_free;
	}
	t->next_free_ms = next_free;
	free(old);
	return true;
}

/*
 * Empty slot i and pull later members of the probe run back over the hole
 * so every entry stays reachable from its home slot without tombstones.
 * An entry at j may move to the hole h only if its home is not in (h, j]
 * cyclically; otherwise the hole would sit before its home.
 */
static void remove_at(struct rl_table *t, size_t hole)
{
	size_t mask = t->capacity - 1;

	if (t->slots[hole].kind == RL_KIND_PREFIX)
		t->n_prefixes--;
	for (size_t j = (hole + 1) & mask; t->slots[j].kind != 0;
	     j = (j + 1) & mask) {
		size_t home = home_slot(t, &t->slots[j]);
		bool stays = hole <= j ? (hole < home && home <= j)
				       : (hole < home || home <= j);
		if (stays)
			continue;
		t->slots[hole] = t->slots[j];
		hole = j;
	}
	memset(&t->slots[hole], 0, sizeof(t->slots[hole]));
	t->count--;
}

void rl_table_sweep(struct rl_table *t, const struct ratelimit_params *p,
		    uint64_t now, bool shrink)
{
	uint64_t next_free = UINT64_MAX;

	/*
	 * Backward shift only moves entries towards the hole, and the hole
	 * starts at i, so an unvisited entry can only land at i or later:
	 * re-examine i after a removal instead of stepping on. An entry that
	 * wraps from the front to the back was already judged live.
	 */
	for (size_t i = 0; i < t->capacity;) {
		struct rl_entry *e = &t->slots[i];
		if (e->kind != 0 && !rl_entry_live(e, p, now)) {
			remove_at(t, i);
			continue;
		}
		if (e->kind != 0) {
			uint64_t end = entry_expiry(e, p);
			next_free = end < next_free ? end : next_free;
		}
		i++;
	}
	t->next_free_ms = next_free;
	/* Give memory back once the table is mostly empty; failure is harmless. */
	if (shrink && t->capacity > RL_MIN_CAPACITY && t->count < t->capacity / 8)
		(void)rebuild(t, p, now, 0);
}

enum rl_room rl_table_reserve(struct rl_table *t, const struct ratelimit_params *p,
			      size_t need, uint64_t now, uint64_t *free_at)
{
	if (need == 0)
		return RL_ROOM;
	if (t->count + need > t->max_entries) {
		/* Expiries are spread out: sweep when one is due, not on every ask. */
		if (now >= t->next_free_ms &&
		    (t->full_sweep_ms == 0 ||
		     now >= sat_add(t->full_sweep_ms, RL_FULL_SWEEP_GAP_MS))) {
			t->full_sweep_ms = now;
			rl_table_sweep(t, p, now, false);
		}
		if (t->count + need > t->max_entries) {
			if (free_at != NULL) {
				uint64_t gap = sat_add(t->full_sweep_ms,
						       RL_FULL_SWEEP_GAP_MS);
				uint64_t at = t->next_free_ms > gap ?
					t->next_free_ms : gap;
				*free_at = at > now ? at : now + 1;
			}
			return RL_FULL;
		}
	}
	/* Keep load <= 3/4 so probe runs stay short. */
	if (t->count + need > t->capacity / 4 * 3 && t->capacity < t->max_capacity &&
	    !rebuild(t, p, now, need)) {
		/* No memory: use the slack, but always keep one slot empty. */
		if (t->count + need + 1 > t->capacity)
			return RL_NOMEM;
	}
	/* Only after a reload shrank the bound below the table in use. */
	if (t->count + need + 1 > t->capacity)
		return RL_NOMEM;
	return RL_ROOM;
}
