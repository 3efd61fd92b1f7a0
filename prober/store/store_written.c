/*
 * store_written.c - what a WRITE's result rows change: the counters, the
 * rows due again soon, the daemon's hooks for finished and discarded
 * rows, and the end of a wait for another session's row lock.
 */
#include <inttypes.h>

#include "core/log.h"
#include "store/store_int.h"
#include "store/store_sql.h"

static void handle_write_result(struct store *s, const PGresult *res)
{
	int rows = PQntuples(res);
	unsigned applied = 0;
	struct store_written w;

	for (int i = 0; i < rows; i++) {
		store_sql_written_row(res, i, &w);
		applied++;
		s->n_corroborations += w.corroborated;
		if (w.decided && w.state == VERIFICATION_VERIFIED)
			s->n_decided_verified++;
		else if (w.decided)
			s->n_decided_pending++;
		if (w.state == VERIFICATION_PENDING && w.next_in_s >= 0)
			store_due_add(&s->due, w.next_in_s);
		if (w.state != VERIFICATION_PENDING && s->hooks.state_changed)
			s->hooks.state_changed(s->hooks.arg, w.id, w.server,
					       w.state, w.verified_by);
	}
	/* Results that were not applied: their lease was lost. */
	if (s->hooks.discarded != NULL && applied < s->writing) {
		struct store_result *r = s->q.head;
		for (unsigned k = 0; k < s->writing && r; k++, r = r->next) {
			if (!store_sql_written_has(res, r->id))
				s->hooks.discarded(s->hooks.arg, r->id);
		}
	}
}

/*
 * Results that waited for another session's lock: said when written; and
 * the lock has ended, so the next parked result is tried soon.
 */
static void written_after_lock(struct store *s, const PGresult *res)
{
	const struct store_result *r = s->q.head;
	bool waited = false;

	for (unsigned k = 0; k < s->writing && r != NULL; k++, r = r->next) {
		if (!r->lock_waited)
			continue;
		waited = true;
		if (store_sql_written_has(res, r->id))
			log_info("database: the result for verification %" PRId64
				 " written after the other session's lock ended",
				 r->id);
	}
	if (waited) {
		s->parked_wait_ms = STORE_FAULT_MIN_MS;
		store_park_arm(s);
	}
}

void store_write_done(struct store *s, const PGresult *res)
{
	handle_write_result(s, res);
	written_after_lock(s, res);
}
