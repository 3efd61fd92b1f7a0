/*
 * admin_exception.c - the exception actions and their audit trail (see
 * admin_exception.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store/admin_db_int.h"
#include "store/admin_exception.h"

/* The functions' refusal (sql/schema.sql): a negative answer. */
#define SQLSTATE_REFUSED "NV001"

enum admin_db_result admin_db_exception(struct admin_db *db,
					const struct admin_exception_request *req,
					struct admin_db_table *out)
{
	static const char *const sql[] = {
		[ADMIN_EXCEPTION_LINK] =
			"SELECT server, neighbour, network FROM ntpverify_link("
			"$1::bigint, $4::bigint, $2, $3, $5::integer)",
		[ADMIN_EXCEPTION_APPROVE] =
			"SELECT server, proof, verified_by FROM ntpverify_approve("
			"$1::bigint, $2, $3)",
		[ADMIN_EXCEPTION_REJECT] =
			"SELECT server, state FROM ntpverify_reject("
			"$1::bigint, $2, $3)",
	};
	char id[24], evidence[24], prefix[12];
	const char *values[5] = { id, req->admin, req->reason, evidence,
				  req->prefix_length > 0 ? prefix : NULL };
	bool link = req->action == ADMIN_EXCEPTION_LINK;
	enum admin_db_result rc;

	snprintf(id, sizeof(id), "%" PRId64, req->id);
	snprintf(evidence, sizeof(evidence), "%" PRId64, req->evidence_id);
	snprintf(prefix, sizeof(prefix), "%d", req->prefix_length);
	rc = admin_db_table_exec(db, sql[req->action], link ? 5 : 3, values,
				 out);
	if (rc == ADMIN_DB_ERROR && strcmp(db->sqlstate, SQLSTATE_REFUSED) == 0)
		return ADMIN_DB_NONE;
	if (rc == ADMIN_DB_DONE && out->n != 1) {
		admin_db_table_free(out);
		admin_db_fail(db, "the database returned no result");
		return ADMIN_DB_ERROR;
	}
	return rc;
}

enum admin_db_result admin_db_exception_trail(struct admin_db *db, int64_t id,
					      struct admin_db_table *out)
{
	static const char sql[] =
		"SELECT " SQL_UTC("at") ", action, admin, db_role, reason,"
		"  state_before, state_after, evidence_id, host(evidence_server),"
		"  evidence_method, " SQL_UTC("evidence_verified_at") ","
		"  prefix_length"
		" FROM verification_exception WHERE verification_id = $1::bigint"
		" ORDER BY at, id";
	char idtext[24];
	const char *values[1] = { idtext };

	snprintf(idtext, sizeof(idtext), "%" PRId64, id);
	return admin_db_table_exec(db, sql, 1, values, out);
}
