/*
 * check_output.h - what `ntpverify check` prints for one result: a line (and a
 * hint for the operator when one host was asked for), or one JSON object
 * per line. Writes to stdout; never a key's secret, and the token only in
 * the hint's setvar line (the token --token gave).
 */
#ifndef NTPVERIFY_CHECK_OUTPUT_H
#define NTPVERIFY_CHECK_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/outcome.h"
#include "engine/probe.h"

/*
 * One JSON object, on one line of `out`: `host` as given, `server` its address, `req` the
 * request template (its method; the key method's key ID, never its
 * secret; the refid method's code; the setvar method's variable).
 */
void check_print_json(FILE *out, const char *host, const char *server,
		      unsigned port, const struct probe_request *req,
		      const struct probe_result *r);

/*
 * One line. With `single` (one host asked for), a value read is printed
 * alone as VARIABLE=VALUE, and any other outcome is followed by a hint,
 * which names `token` (--token, or NULL) in the setvar line it suggests.
 */
void check_print_human(const char *server, unsigned port,
		       const char *variable, const char *token,
		       const struct probe_result *r, bool single);

/*
 * --summary, on stderr after the last result: how many results of each
 * outcome (in the order of enum outcome, those that occurred), how many
 * targets could not be probed, and the time from the first probe's start
 * to the last result (`ns`, 0 when nothing was probed) with its rate.
 */
void check_print_summary(const unsigned by_outcome[OUTCOME_COUNT],
			 unsigned errors, uint64_t ns);

#endif
