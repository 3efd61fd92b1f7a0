/*
 * refid_code.h - the codes of the refid method.
 *
 * An operator of a stratum-1 server proves control by setting the
 * reference ID of its reference clock to a code the pool gives them
 * (docs/operators.md, docs/security.md). A reference ID holds four
 * octets, so a code is four characters; they are upper-case letters and
 * digits, which ntpd's `fudge ... refid`, NTPsec's `refclock ... refid`
 * and chrony's `refclock ... refid` all copy as they are. The database
 * enforces the same shape (sql/schema.sql).
 *
 * The list of well-known reference IDs that are never handed out (and
 * never accepted as proof, whatever the database says) lives in
 * refid_code.c, and only there.
 */
#ifndef NTPVERIFY_REFID_CODE_H
#define NTPVERIFY_REFID_CODE_H

#include <stdbool.h>

#define REFID_CODE_LEN 4
#define REFID_CODE_RULE "a refid code is 4 characters of A-Z 0-9"

/* The shape: exactly REFID_CODE_LEN characters of A-Z 0-9. */
bool refid_code_valid(const char *code);

/*
 * NULL when `code` may serve as proof; else why not, as a static string
 * ("a well-known reference ID"): a code some servers carry anyway
 * (GPS1, WWVB, NIST, chrony's SHM0, a kiss code...) would verify a server
 * by accident.
 */
const char *refid_code_reserved(const char *code);

/*
 * A fresh random code, valid and not reserved, into out (NUL-terminated).
 * Drawn from the letters and digits that cannot be misread for one
 * another (no 0 O 1 I L). Returns 0, or -1 with errno set when no random
 * octets came.
 */
int refid_code_make(char out[REFID_CODE_LEN + 1])
	__attribute__((warn_unused_result));

#endif
