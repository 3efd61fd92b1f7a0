/*
 * ratelimit_table.h - the rate limiter's per-destination table. Private to
 * ratelimit.c; nothing else includes it.
 *
 * An open-addressing hash table with linear probing and backward-shift
 * deletion, bounded twice: at most max_entries entries, and never more
 * than max_capacity slots (the smallest power of two that holds
 * max_entries at load 3/4). Growth doubles the table, so while it runs
 * the old table (max_capacity / 2 slots at most) and the new one are
 * both allocated: the peak is 1.5 * max_capacity slots, never more.
 */
#ifndef NTPVERIFY_RATELIMIT_TABLE_H
#define NTPVERIFY_RATELIMIT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/ratelimit.h"

/* Entry kinds, stored in rl_entry.kind; 0 marks an empty slot. */
#define RL_KIND_V4 4     /* an IPv4 host (or an IPv6 form that reaches one) */
#define RL_KIND_V6 6     /* one IPv6 address */
#define RL_KIND_PREFIX 7 /* an IPv6 prefix: addr masked to plen bits */

/* Smallest table; also what prune shrinks back to. Power of two. */
#define RL_MIN_CAPACITY ((size_t)16)

/* Largest window_packets can count: above every budget the config allows. */
#define RL_WINDOW_MAX ((1u << 20) - 1)

/* One destination (address or prefix). 48 bytes on LP64. */
struct rl_entry {
	uint64_t last_start_ms;   /* last attempt start; meaningful when started */
	uint64_t window_start_ms; /* first packet of the 24 h window; when window_packets > 0 */
	uint64_t kod_until_ms;    /* nothing goes out before this; 0 = never kissed */
	unsigned window_packets : 20; /* packets charged in the current window;
					 0 = no window; at most RL_WINDOW_MAX */
	unsigned kind : 3;        /* 0 empty, RL_KIND_* */
	unsigned started : 1;     /* an attempt start has been recorded */
	unsigned plen : 8;        /* prefix length for RL_KIND_PREFIX, else 0 */
	uint32_t last_packet_off; /* last packet charged, in ms after
				     window_start_ms; when window_packets > 0 */
	uint8_t addr[16];         /* IPv6 (masked for a prefix), or IPv4 in the first 4 octets */
};

/* The table; one per limiter, owned by it. */
struct rl_table {
	struct rl_entry *slots;   /* capacity entries */
	size_t capacity;          /* power of two, >= RL_MIN_CAPACITY */
	size_t count;             /* occupied slots; always < capacity */
	size_t n_prefixes;        /* of those, RL_KIND_PREFIX entries */
	size_t max_entries;       /* no insert beyond this count */
	size_t max_capacity;      /* growth stops at this many slots */
	uint64_t next_free_ms;    /* earliest an entry may die; from the last sweep */
	uint64_t full_sweep_ms;   /* last sweep forced by a full table */
	uint64_t seed[2];         /* SipHash key, from getrandom() */
};

/* What rl_table_reserve() found. */
enum rl_room {
	RL_ROOM = 0,   /* the entries fit: inserts will not fail */
	RL_FULL,       /* max_entries reached and nothing could be pruned */
	RL_NOMEM,      /* the table could not grow */
};

/* Slots needed for max_entries at load <= 3/4; a power of two. */
size_t rl_table_capacity_for(size_t max_entries);

/* Empty table at RL_MIN_CAPACITY with a fresh seed; -1 with errno set. */
int rl_table_init(struct rl_table *t, size_t max_entries)
	__attribute__((warn_unused_result));

/* Free the slots; the struct itself is the caller's. */
void rl_table_reset(struct rl_table *t);

/* New bounds (live reload). Entries over the new bound are kept, never dropped. */
void rl_table_set_max(struct rl_table *t, size_t max_entries);

/* Anything still to enforce at now? If not, the entry can go. */
bool rl_entry_live(const struct rl_entry *e, const struct ratelimit_params *p,
		   uint64_t now);

/* The entry matching k's kind, plen and addr, or NULL. */
struct rl_entry *rl_table_find(struct rl_table *t, const struct rl_entry *k);

/*
 * Make sure `need` entries can be inserted without failing. At the bound,
 * first drops entries with nothing left to enforce (a full sweep, at most
 * once a second); otherwise may grow the table, which also drops them.
 * Either way pointers from rl_table_find() are stale afterwards. On
 * RL_FULL, *free_at (may be NULL) is the earliest time a retry could find
 * room.
 */
enum rl_room rl_table_reserve(struct rl_table *t, const struct ratelimit_params *p,
			      size_t need, uint64_t now, uint64_t *free_at)
	__attribute__((warn_unused_result));

/* Insert k (absent; room reserved) with its state zero; returns the slot. */
struct rl_entry *rl_table_insert(struct rl_table *t, const struct rl_entry *k);

/* Drop every entry not live at now; shrink if mostly empty and `shrink`. */
void rl_table_sweep(struct rl_table *t, const struct ratelimit_params *p,
		    uint64_t now, bool shrink);

#endif
