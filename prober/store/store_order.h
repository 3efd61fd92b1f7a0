/*
 * store_order.h - which statement the store sends next, when several have
 * work: the order of WRITE and LEASE under load. Pure (no I/O), so the
 * rule is tested on its own (tests/unit/test_store_order.c).
 *
 * Private to prober/store/.
 */
#ifndef NTPVERIFY_STORE_ORDER_H
#define NTPVERIFY_STORE_ORDER_H

#include <stdbool.h>

/* The statements; one is in flight at a time. */
enum store_op {
	STORE_OP_NONE = 0,
	STORE_OP_SCHEMA, /* after connecting, before LISTEN (store_schema.h) */
	STORE_OP_LISTEN,
	STORE_OP_REGISTER,
	STORE_OP_WRITE,
	STORE_OP_EXPIRE,
	STORE_OP_LEASE,
	STORE_OP_COUNT,
	STORE_OP_HEARTBEAT, /* our perspective and process are alive */
	STORE_OP_N, /* the number of ops */
};

/* What the order remembers between statements. Zeroed: nothing yet. */
struct store_order {
	bool lease_turn;   /* a WRITE just went: a wanted LEASE goes next */
	bool write_turn;   /* a LEASE went before queued results: they go next */
	bool lease_full;   /* the last LEASE came back full: a backlog */
	bool lease_hungry; /* the daemon's wish: its engine has room to spare */
};

/*
 * The statement to send now among those ready (ready[op]: it has work and
 * is not waiting out a backoff; only WRITE, EXPIRE, HEARTBEAT, LEASE and
 * COUNT are looked at), or STORE_OP_NONE. queued: results are waiting to
 * be written. Remembers the choice in o.
 */
enum store_op store_order_next(struct store_order *o,
			       const bool ready[STORE_OP_N], bool queued);

#endif
