/*
 * check_output.h - what `ntpverify check` prints: its usage, and one result: a line (and a
 * hint for the operator when one host was asked for), or one JSON object
 * per line. Writes to stdout; never the token, never a key's secret.
 */
#ifndef NTPVERIFY_CHECK_OUTPUT_H
#define NTPVERIFY_CHECK_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/probe.h"

/* The usage message, to f. */
void check_usage(FILE *f);

/* Name the offending option without its value (it may be a secret). */
void check_bad_option(const char *arg);

/*
 * One JSON object: `host` as given, `server` its address, `key` the key
 * method's key (only its ID is printed) or NULL for the setvar method.
 */
void check_print_json(const char *host, const char *server, unsigned port,
		      const char *variable, const struct probe_result *r,
		      const struct ntpauth_key *key);

/*
 * One line. With `single` (one host asked for), a value read is printed
 * alone as VARIABLE=VALUE, and any other outcome is followed by a hint.
 */
void check_print_human(const char *server, unsigned port,
		       const char *variable, const struct probe_result *r,
		       bool single);

#endif
