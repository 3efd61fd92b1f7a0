/*
 * store_fault.h - what a failed statement means, and when to try again.
 *
 * A SQLSTATE is either about the row's own data (STORE_ERR_DATA: only
 * that result is at fault) or about the database (every other class: a
 * sequence ran out, a right was revoked, the disk is full, a standby is
 * read-only). The second kind pauses the statement with a doubling
 * backoff; the log says so once when the state changes, not once a try.
 * Pure: no connection, no clock (the caller passes monotonic ms).
 *
 * Private to prober/store/. Embedded in struct store, one per statement.
 */
#ifndef NTPVERIFY_STORE_FAULT_H
#define NTPVERIFY_STORE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_FAULT_MIN_MS 500 /* the first wait after a failure */

/* The class of a SQLSTATE (five characters); NULL or junk is "other". */
enum store_err_class store_fault_classify(const char *sqlstate);

/* What the admin can do about it, one phrase; NULL when nothing to say. */
const char *store_fault_hint(const char *sqlstate);

/* One statement's failures since its last success. */
struct store_fault {
	unsigned failures;    /* consecutive failed tries; 0 = working */
	char sqlstate[6];     /* of the last failure; "" none */
	uint64_t backoff_ms;  /* the wait after the last failure */
	uint64_t retry_at_ms; /* monotonic ms: not tried again before */
};

/* The wait after one of last_ms (0: none yet): STORE_FAULT_MIN_MS first,
 * then twice the last, at most cap_ms. */
uint64_t store_fault_next_wait(uint64_t last_ms, uint64_t cap_ms);

/*
 * Record a failure at now_ms: wait STORE_FAULT_MIN_MS after the first,
 * then twice as long each time, at most cap_ms. Returns true when it is
 * news worth a log line: the first failure, or another SQLSTATE.
 */
bool store_fault_fail(struct store_fault *f, const char *sqlstate,
		      uint64_t now_ms, uint64_t cap_ms);

/* A success: returns the failures it ends (0: there is nothing to say). */
unsigned store_fault_clear(struct store_fault *f);

/* Whether the statement may be sent at now_ms. */
bool store_fault_ready(const struct store_fault *f, uint64_t now_ms);

#endif
