/*
 * store_queue.c - the bounded queue of unwritten results.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "core/log.h"
#include "store/store_queue.h"

void store_queue_init(struct store_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->queued = 0;
	q->dropped = 0;
}

/* Make room: drop the oldest result that may go, if there is one. */
static void store_queue_drop_one(struct store_queue *q, unsigned in_flight)
{
	struct store_result **pp = &q->head;
	unsigned skip = in_flight;

	while (*pp != NULL &&
	       (skip > 0 || (*pp)->outcome == OUTCOME_VERIFIED)) {
		if (skip > 0)
			skip--;
		pp = &(*pp)->next;
	}
	if (*pp != NULL) {
		struct store_result *victim = *pp;
		*pp = victim->next;
		if (q->tail == &victim->next)
			q->tail = pp;
		free(victim);
		q->queued--;
		q->dropped++;
	}
}

bool store_queue_push(struct store_queue *q, const struct store_result *r,
		      unsigned max, unsigned in_flight)
{
	struct store_result *copy;

	if (q->queued >= max)
		store_queue_drop_one(q, in_flight);
	copy = malloc(sizeof(*copy));
	if (copy == NULL) {
		log_err("database: out of memory, result for row %" PRId64
			" lost",
			r->id);
		q->dropped++;
		return false;
	}
	*copy = *r;
	copy->next = NULL;
	*q->tail = copy;
	q->tail = &copy->next;
	q->queued++;
	return true;
}

void store_queue_pop(struct store_queue *q, unsigned n)
{
	while (n-- > 0 && q->head != NULL) {
		struct store_result *r = q->head;
		q->head = r->next;
		free(r);
		q->queued--;
	}
	if (q->head == NULL)
		q->tail = &q->head;
}

void store_queue_move_head(struct store_queue *from, struct store_queue *to)
{
	struct store_result *r = from->head;

	if (r == NULL)
		return;
	from->head = r->next;
	if (from->head == NULL)
		from->tail = &from->head;
	from->queued--;
	r->next = NULL;
	*to->tail = r;
	to->tail = &r->next;
	to->queued++;
}

void store_queue_splice_front(struct store_queue *q, struct store_queue *from)
{
	if (from->head == NULL)
		return;
	*from->tail = q->head;
	if (q->head == NULL)
		q->tail = from->tail;
	q->head = from->head;
	q->queued += from->queued;
	store_queue_init(from);
}

void store_queue_clear(struct store_queue *q)
{
	store_queue_pop(q, q->queued);
}

unsigned store_queue_foreach(const struct store_queue *q,
			     void (*fn)(void *arg, const struct store_result *r),
			     void *arg)
{
	unsigned n = 0;

	for (const struct store_result *r = q->head; r != NULL; r = r->next) {
		fn(arg, r);
		n++;
	}
	return n;
}
