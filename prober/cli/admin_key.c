/*
 * admin_key.c - keys for the key method of `ntpverify add`, and the lines
 * that install them (see admin_key.h).
 *
 * The three daemons spell the same key differently (NTPsec 1.2.2 and
 * chrony 4.3 checked in tests/integration/key_*.sh; ntp.org's AES128CMAC
 * from its documentation, not run here):
 *
 *     NTPsec keys file         ID AES-128 HEX         ID SHA1 HEX
 *     ntp.org 4.2.8 keys file  ID AES128CMAC HEX      ID SHA1 HEX
 *     chrony keyfile           ID AES128 HEX:HEX      ID SHA1 HEX:HEX
 *
 * ntpd and NTPsec read a key longer than 20 characters as hex, so both
 * 32 (AES128) and 40 (SHA1) digits are unambiguous; chrony needs "HEX:".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/admin_key.h"
#include "core/random.h"

/* The Debian paths; the comments in the output say where they differ. */
#define NTPSEC_CONF "/etc/ntpsec/ntp.conf"
#define NTPSEC_KEYS "/etc/ntpsec/ntp.keys"
#define NTPORG_CONF "/etc/ntp.conf"
#define NTPORG_KEYS "/etc/ntp.keys"
#define CHRONY_CONF "/etc/chrony/chrony.conf"
#define CHRONY_KEYS "/etc/chrony/chrony.keys"

int admin_key_make(enum ntpauth_type type, struct admin_key *key)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[NTPAUTH_KEY_MAX];
	size_t len = type == NTPAUTH_SHA1 ? 20 : 16;
	uint16_t id;

	memset(key, 0, sizeof(*key));
	key->type = type;
	/* Rejection, not modulo: every ID equally likely. */
	do {
		if (random_bytes(&id, sizeof(id)) < 0)
			return -1;
	} while (id < ADMIN_KEY_ID_MIN || id > ADMIN_KEY_ID_MAX);
	key->id = id;

	if (random_bytes(raw, len) < 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		key->hex[2 * i] = hex[raw[i] >> 4];
		key->hex[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	key->hex[2 * len] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

void admin_key_wipe(struct admin_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

/* One daemon family of ntpd: its key file line and its ntp.conf lines. */
static void print_ntpd(FILE *f, const struct admin_key *key, const char *who,
		       const char *type_name, const char *keys_path,
		       const char *conf_path)
{
	fprintf(f, "%s: add this line to %s:\n\n", who, keys_path);
	fprintf(f, "%u %s %s\n\n", key->id, type_name, key->hex);
	fprintf(f, "and these to %s (if it has a 'keys' line already,\n"
		   "add the key line to that file instead):\n\n", conf_path);
	fprintf(f, "keys %s\n", keys_path);
	fprintf(f, "trustedkey %u\n\n", key->id);
}

void admin_key_print(FILE *f, const struct admin_key *key, const char *server)
{
	bool sha1 = key->type == NTPAUTH_SHA1;

	fprintf(f, "key %u (%s): install it in the NTP daemon on %s and trust "
		   "it.\n\n", key->id, ntpauth_type_name(key->type), server);

	print_ntpd(f, key, "NTPsec", sha1 ? "SHA1" : "AES-128", NTPSEC_KEYS,
		   NTPSEC_CONF);
	print_ntpd(f, key, "ntpd from ntp.org (4.2.8)",
		   sha1 ? "SHA1" : "AES128CMAC", NTPORG_KEYS, NTPORG_CONF);
	fprintf(f, "then restart ntpd (it reads keys and trustedkey only at "
		   "start-up).\n\n");

	fprintf(f, "chrony: add this line to %s (keep its owner and mode,\n"
		   "Debian's root:_chrony 0640: chronyd reads it as _chrony):\n\n",
		CHRONY_KEYS);
	fprintf(f, "%u %s HEX:%s\n\n", key->id, sha1 ? "SHA1" : "AES128",
		key->hex);
	fprintf(f, "%s must contain 'keyfile %s'\n"
		   "(Debian's default does); then load the key with:\n\n",
		CHRONY_CONF, CHRONY_KEYS);
	fprintf(f, "chronyc rekey\n\n");

	fprintf(f, "No 'restrict' or 'noquery' change is needed: the prober "
		   "sends ordinary client\nrequests signed with this key. Once "
		   "the verification says verified, the key\ncan be removed "
		   "again (with its trustedkey line).\n\n");
}
