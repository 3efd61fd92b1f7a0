/*
 * admin_exception.h - the exception process as the admin commands see it
 * (`ntpverify link`, `approve`, `reject`; the audit trail `show` prints).
 * Each action is one call of a database function (ntpverify_link(),
 * ntpverify_approve(), ntpverify_reject(), sql/schema.sql) that locks the
 * row, checks and records the audit row in one transaction, so two admins
 * acting at once cannot both succeed. Queries run on an admin_db
 * connection (admin_db.h); tables are freed with admin_db_table_free().
 */
#ifndef NTPVERIFY_ADMIN_EXCEPTION_H
#define NTPVERIFY_ADMIN_EXCEPTION_H

#include <stdint.h>

#include "store/admin_db.h"
#include "store/admin_quorum.h"

/* Which exception action. */
enum admin_exception_action {
	ADMIN_EXCEPTION_LINK,    /* pending -> awaiting_approval */
	ADMIN_EXCEPTION_APPROVE, /* awaiting_approval or pending -> verified */
	ADMIN_EXCEPTION_REJECT,  /* awaiting_approval -> pending */
};

/* One action as the admin typed it; strings are the caller's. */
struct admin_exception_request {
	enum admin_exception_action action; /* what to do */
	int64_t id;          /* the verification */
	int64_t evidence_id; /* link: the neighbour verified by NTP */
	int prefix_length;   /* link: 0 for /24 (IPv4) or /64 (IPv6) */
	const char *admin;   /* the admin's name; NULL: the database role */
	const char *reason;  /* why, on what evidence; required */
};

/*
 * Apply one action: DONE with one row in out (link: server, neighbour,
 * network; approve: server, proof, verified_by; reject: server, state
 * after), NONE when the database refused it (admin_db_error() says why in
 * one line; nothing was changed), or ERROR.
 */
enum admin_db_result admin_db_exception(struct admin_db *db,
					const struct admin_exception_request *req,
					struct admin_db_table *out)
	__attribute__((warn_unused_result));

/*
 * The audit trail of verification `id`, oldest first, one row per action:
 * time, action, admin, database role, reason, state before, state after,
 * evidence id, evidence server, evidence method, evidence verified_at,
 * prefix length ("-" where none). DONE (maybe none) or ERROR.
 */
enum admin_db_result admin_db_exception_trail(struct admin_db *db, int64_t id,
					      struct admin_db_table *out)
	__attribute__((warn_unused_result));
#define ADMIN_DB_TRAIL_COLS 12

#endif
