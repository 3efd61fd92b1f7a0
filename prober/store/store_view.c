/*
 * store_view.c - what the owner reads of a store without changing it:
 * the status socket's counters, the results not yet written, and whether
 * nothing is left to do (store.h).
 */
#include <string.h>

#include "store/store_int.h"

bool store_idle(const struct store *s)
{
	/* A LEASE in flight may still hand us rows to give back. */
	return s->q.head == NULL && s->parked.head == NULL &&
	       s->op == STORE_OP_NONE;
}

void store_stats(const struct store *s, struct store_stats *out)
{
	out->errors = s->n_errors;
	out->reconnects = s->n_reconnects;
	out->connects = s->n_connects;
	out->dropped = s->q.dropped;
	out->rejected = s->n_rejected;
	memcpy(out->refused, s->n_refused, sizeof(out->refused));
	out->writes_blocked = s->faults[STORE_OP_WRITE].failures > 0;
	out->queued = s->q.queued + s->parked.queued;
	out->last_lease_at = s->last_lease_at;
	out->pending_seen = s->pending_seen;
	memcpy(out->exceptions_seen, s->exceptions_seen,
	       sizeof(out->exceptions_seen));
	out->corroborations = s->n_corroborations;
	out->decided_verified = s->n_decided_verified;
	out->decided_pending = s->n_decided_pending;
}

unsigned store_foreach_unwritten(const struct store *s,
				 void (*fn)(void *arg,
					    const struct store_result *r),
				 void *arg)
{
	return store_queue_foreach(&s->q, fn, arg) +
	       store_queue_foreach(&s->parked, fn, arg);
}
