/*
 * store_order.c - which statement goes next (store_order.h).
 */
#include "store/store_order.h"

enum store_op store_order_next(struct store_order *o,
			       const bool ready[STORE_OP_N], bool queued)
{
	/*
	 * Writes go first, but a lease the daemon asked for goes out after
	 * each write rather than after the whole queue is written: under load
	 * results arrive all the time, and the next batch should be on the
	 * wire while the last one's results are being written.
	 *
	 * With a backlog (the last LEASE came back full), a hungry engine's
	 * lease goes even before the write: writing a batch takes longer than
	 * probing the next one, which would otherwise wait for it
	 * (bench/results.md, "Schema 11"). Once only: the results then go
	 * before any further lease, so writes are never starved. Not without
	 * a backlog, so that a single new row's result is not held back by a
	 * LEASE that finds nothing.
	 */
	bool lease_first = ready[STORE_OP_LEASE] &&
			   (o->lease_turn ||
			    (o->lease_full && o->lease_hungry && !o->write_turn));

	if (ready[STORE_OP_WRITE] && !lease_first) {
		o->lease_turn = true;
		o->write_turn = false;
		return STORE_OP_WRITE;
	}
	if (ready[STORE_OP_EXPIRE])
		return STORE_OP_EXPIRE;
	/* Once a minute at most, one row: before leases, never starved. */
	if (ready[STORE_OP_HEARTBEAT])
		return STORE_OP_HEARTBEAT;
	if (ready[STORE_OP_LEASE]) {
		o->lease_turn = false;
		o->write_turn = queued;
		return STORE_OP_LEASE;
	}
	if (ready[STORE_OP_COUNT])
		return STORE_OP_COUNT;
	return STORE_OP_NONE;
}
