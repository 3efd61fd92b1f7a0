/*
 * timefmt.h - the one time format and the one duration style of the
 * human output of every command (pure functions, unit-tested).
 *
 * JSON carries RFC 3339 UTC times with milliseconds
 * ("2026-12-01T10:21:09.213Z"), as the database and the daemon's status
 * document give them; people read "2026-12-01 10:21:09Z" (whole seconds)
 * and durations as "1d 2h 3m 7s".
 */
#ifndef NTPVERIFY_TIMEFMT_H
#define NTPVERIFY_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for either time format and any duration text, with the NUL. */
#define TIMEFMT_MAX 40

/*
 * An RFC 3339 UTC time ("YYYY-MM-DDTHH:MM:SS[.fff]Z") as people read it,
 * "YYYY-MM-DD HH:MM:SSZ", into out[len]; anything else ("-", "probing
 * now", NULL as "-") is copied unchanged. Returns out.
 */
const char *timefmt_human(const char *rfc3339, char *out, size_t len);

/* Whether text is an RFC 3339 UTC time as above. */
int timefmt_is_rfc3339(const char *text);

/*
 * A duration in whole seconds as "7s", "3m 7s", "2h 0m 7s", "1d 2h 3m 7s"
 * (from the largest non-zero unit down), into out[len]. Returns out.
 */
const char *timefmt_duration(uint64_t seconds, char *out, size_t len);

#endif
