/*
 * admin_key.h - the key method's part of `ntpverify add`: a fresh random
 * key for each server, and the exact lines its operator installs in ntpd,
 * NTPsec or chrony.
 *
 * The key is a secret shown once, to the operator who adds it: callers
 * print it only through admin_key_print() and wipe it with
 * admin_key_wipe() when done. It never goes into an error message.
 */
#ifndef NTPVERIFY_ADMIN_KEY_H
#define NTPVERIFY_ADMIN_KEY_H

#include <stddef.h>
#include <stdio.h>

#include "ntpwire/ntpauth.h"

/* Key IDs handed out: inside ntpd's and NTPsec's range (1..65535). */
#define ADMIN_KEY_ID_MIN 1
#define ADMIN_KEY_ID_MAX 65534

/* A generated key, embedded by the caller. */
struct admin_key {
	unsigned id;                            /* ADMIN_KEY_ID_MIN..MAX */
	enum ntpauth_type type;                 /* AES128 or SHA1 */
	char hex[2 * NTPAUTH_KEY_MAX + 1];      /* lower-case hex; secret */
};

/*
 * A new key of `type`: a random ID and 16 random octets for AES128 (RFC
 * 8573), 20 for SHA1 (the longest key ntpd takes). Returns 0, or -1 with
 * errno set.
 */
int admin_key_make(enum ntpauth_type type, struct admin_key *key)
	__attribute__((warn_unused_result));

/* Wipe the secret (and the rest) from memory. */
void admin_key_wipe(struct admin_key *key);

/*
 * The operator's instructions for `server`, after its row was inserted:
 * the key file line and ntp.conf lines for NTPsec and ntp.org's ntpd, the
 * keyfile line for chrony, how each daemon loads it, and that the key may
 * go once verified. Written to f.
 */
void admin_key_print(FILE *f, const struct admin_key *key, const char *server);

/*
 * Read `check --key-file`'s key from `path` ("-": stdin), never from the
 * command line, where every user of the machine could read it in the
 * process list. `type_name` NULL means AES128. Refuses a SHA1 key that
 * ntpd and NTPsec would read as text. Returns 0, or -1 after one line on
 * stderr (never the key); *key is wiped on failure.
 */
int admin_key_read(const char *path, const char *type_name, long key_id,
		   struct ntpauth_key *key)
	__attribute__((warn_unused_result));

#endif
