/*
 * admin_json.h - the --json output of `add`, `list` and `show` (private
 * to prober/cli).
 *
 * One JSON object per line on stdout: `add` one per server added, `list`
 * one per verification, `show` one for the verification with its
 * attempts and exception actions. Times are RFC 3339 UTC strings with milliseconds
 * ("2026-12-01T10:21:09.213Z") or null; numbers are JSON numbers; text a
 * prober wrote (details, names) is escaped by the JSON encoder. Only
 * `add` carries a secret: the token (setvar) in "token" and the key in the
 * operator's "instructions" lines, exactly what its human output prints.
 */
#ifndef NTPVERIFY_ADMIN_JSON_H
#define NTPVERIFY_ADMIN_JSON_H

#include <stdint.h>

#include "store/admin_db.h"
#include "store/admin_quorum.h"

/* What `add` made for one server. */
struct admin_json_added {
	int64_t id;                /* the new row */
	const char *server;        /* canonical address */
	const char *expires_at;    /* RFC 3339 */
	const char *variable;      /* setvar: the variable; NULL for key */
	const char *token;         /* setvar: the token (secret); NULL for key */
	unsigned key_id;           /* key: its ID; 0 for setvar */
	const char *key_type;      /* key: AES128 or SHA1; NULL for setvar */
	const char *refid_code;    /* refid: the code; NULL for the others */
	const char *instructions;  /* the operator's text, lines with \n */
};

/* One line: the object for an added server. */
void admin_json_added(const struct admin_json_added *a);
/* One line: the object for a row of `list`. */
void admin_json_row(const struct admin_db_row *row);
/*
 * One line: the verification, its attempts and its exception audit trail
 * (both oldest first; trail as admin_db_exception_trail() gives it).
 */
void admin_json_show(const struct admin_db_verification *v,
		     const struct admin_db_attempts *list,
		     const struct admin_db_table *trail);

#endif
