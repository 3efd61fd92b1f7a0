/*
 * job_table.h - the jobs the daemon holds, by verification id: a LEASE
 * hands over up to a batch of rows at once, and each must be looked up
 * among the jobs held (a row leased again while we hold it). A list walk
 * per row made a batch quadratic in the jobs held (max_in_flight may be
 * 65,536).
 *
 * Open addressing with linear probing, grown at half full; deletion by
 * backward shift (no tombstones). Stores pointers it does not own.
 */
#ifndef NTPVERIFY_JOB_TABLE_H
#define NTPVERIFY_JOB_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct job;

struct job_table {
	int64_t *ids;      /* the key of each slot */
	struct job **jobs; /* NULL: the slot is free */
	size_t cap;        /* slots, a power of two (0 before the first put) */
	size_t n;          /* slots used */
};

/* Empty; nothing allocated until the first put. */
void job_table_init(struct job_table *t);
/* Free the table (not the jobs); it is empty and usable again. */
void job_table_reset(struct job_table *t);
/* Add id -> j (id not in the table). false: out of memory, unchanged. */
bool job_table_put(struct job_table *t, int64_t id, struct job *j)
	__attribute__((warn_unused_result));
/* The job of id, or NULL. */
struct job *job_table_get(const struct job_table *t, int64_t id);
/* Remove id, if present. */
void job_table_del(struct job_table *t, int64_t id);

#endif
