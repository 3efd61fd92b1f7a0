/*
 * job_table.c - the jobs held, by verification id (job_table.h).
 */
#include <stdlib.h>

#include "daemon/job_table.h"

#define JOB_TABLE_MIN 64 /* slots of the first allocation */

/* The slot id hashes to: a multiplicative hash of the id's 64 bits. */
static size_t slot_of(const struct job_table *t, int64_t id)
{
	uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);

	return (size_t)(h >> 32) & (t->cap - 1);
}

void job_table_init(struct job_table *t)
{
	t->ids = NULL;
	t->jobs = NULL;
	t->cap = 0;
	t->n = 0;
}

void job_table_reset(struct job_table *t)
{
	free(t->ids);
	free(t->jobs);
	job_table_init(t);
}

/* Place id -> j in a table with room and without id. */
static void place(struct job_table *t, int64_t id, struct job *j)
{
	size_t i = slot_of(t, id);

	while (t->jobs[i] != NULL)
		i = (i + 1) & (t->cap - 1);
	t->ids[i] = id;
	t->jobs[i] = j;
	t->n++;
}

static bool grow(struct job_table *t)
{
	struct job_table bigger;
	size_t cap = t->cap ? t->cap * 2 : JOB_TABLE_MIN;

	bigger.ids = malloc(cap * sizeof(*bigger.ids));
	bigger.jobs = calloc(cap, sizeof(*bigger.jobs));
	if (bigger.ids == NULL || bigger.jobs == NULL) {
		free(bigger.ids);
		free(bigger.jobs);
		return false;
	}
	bigger.cap = cap;
	bigger.n = 0;
	for (size_t i = 0; i < t->cap; i++)
		if (t->jobs[i] != NULL)
			place(&bigger, t->ids[i], t->jobs[i]);
	free(t->ids);
	free(t->jobs);
	*t = bigger;
	return true;
}

bool job_table_put(struct job_table *t, int64_t id, struct job *j)
{
	if (2 * (t->n + 1) > t->cap && !grow(t))
		return false;
	place(t, id, j);
	return true;
}

struct job *job_table_get(const struct job_table *t, int64_t id)
{
	if (t->cap == 0)
		return NULL;
	for (size_t i = slot_of(t, id); t->jobs[i] != NULL;
	     i = (i + 1) & (t->cap - 1))
		if (t->ids[i] == id)
			return t->jobs[i];
	return NULL;
}

void job_table_del(struct job_table *t, int64_t id)
{
	size_t mask = t->cap - 1, i;

	if (t->cap == 0)
		return;
	for (i = slot_of(t, id); t->jobs[i] != NULL && t->ids[i] != id;
	     i = (i + 1) & mask)
		;
	if (t->jobs[i] == NULL)
		return;
	t->jobs[i] = NULL;
	t->n--;
	/*
	 * Backward shift: move up each entry of the run after i that may sit
	 * at i (its home slot is not in (i, j]), so that no lookup stops at
	 * the hole early.
	 */
	for (size_t j = (i + 1) & mask; t->jobs[j] != NULL; j = (j + 1) & mask) {
		size_t home = slot_of(t, t->ids[j]);
		bool in_between = i <= j ? (i < home && home <= j)
					 : (i < home || home <= j);
		if (in_between)
			continue;
		t->ids[i] = t->ids[j];
		t->jobs[i] = t->jobs[j];
		t->jobs[j] = NULL;
		i = j;
	}
}
