/*
 * admin_key.c - keys for the key method of `ntpverify add`, the lines
 * that install them, and reading `check --key-file` (see admin_key.h).
 *
 * The three daemons spell the same key differently (NTPsec 1.2.2 and
 * chrony 4.3 checked in tests/integration/key_*.sh; ntp.org's from a run
 * of 4.2.8p15, reported in docs/operators.md):
 *
 *     NTPsec keys file         ID AES-128 HEX         ID SHA1 HEX
 *     ntp.org 4.2.8 keys file  ID AES128CMAC HEX      ID SHA1 HEX
 *     chrony keyfile           ID AES128 HEX:HEX      ID SHA1 HEX:HEX
 *
 * NTPsec takes AES-128, AES128CMAC or AES in any case (libntp's
 * authreadkeys.c turns them into the cipher AES-128-CBC) and refuses
 * AES128; ntp.org's ntpd takes AES128CMAC or CMAC in any case and refuses
 * AES128 and AES-128; chrony wants AES128. ntpd and NTPsec read a key
 * longer than 20 characters as hex, so both 32 (AES128) and 40 (SHA1)
 * digits are unambiguous; chrony needs "HEX:".
 *
 * The trap the lines steer around: ntp.org's ntpd trusts only the IDs of
 * its last 'trustedkey' line (each line replaces the list), so a second
 * line either breaks the keys of the first or, put first, is ignored.
 * NTPsec adds up its trustedkey lines, and chrony has none.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

/* NTPsec: its keys file line, the ntp.conf lines, the restart. */
static void print_ntpsec(FILE *f, const struct admin_key *key, bool sha1)
{
	fprintf(f, "NTPsec: add this line to %s%s:\n\n", NTPSEC_KEYS,
		sha1 ? "" : "\n(NTPsec also takes the type as AES128CMAC, "
			    "in any case, but not as AES128)");
	fprintf(f, "%u %s %s\n\n", key->id, sha1 ? "SHA1" : "AES-128",
		key->hex);
	fprintf(f, "and these to %s (if it has a 'keys' line\nalready, "
		   "leave this one out and put the key line in that file;\n"
		   "NTPsec adds up its 'trustedkey' lines, so a line of its "
		   "own is safe):\n\n", NTPSEC_CONF);
	fprintf(f, "keys %s\n", NTPSEC_KEYS);
	fprintf(f, "trustedkey %u\n\n", key->id);
	fprintf(f, "then restart ntpd: systemctl restart ntpsec (it reads "
		   "keys only at start-up).\n\n");
}

/* ntp.org's ntpd: the key line, the one trustedkey line, the restart. */
static void print_ntporg(FILE *f, const struct admin_key *key, bool sha1)
{
	fprintf(f, "ntpd from ntp.org (4.2.8): add this line to %s%s:\n\n",
		NTPORG_KEYS,
		sha1 ? "" : "\n(ntpd also takes the type as CMAC, in any case; "
			    "it refuses AES128 and AES-128)");
	fprintf(f, "%u %s %s\n\n", key->id, sha1 ? "SHA1" : "AES128CMAC",
		key->hex);
	fprintf(f, "ntpd trusts only the key IDs of its LAST 'trustedkey' "
		   "line (each one replaces\nthe list): a second line would "
		   "break the keys of the first, or be ignored.\nFind the "
		   "lines it has:\n\n");
	fprintf(f, "grep -n '^[[:space:]]*trustedkey' %s\n\n", NTPORG_CONF);
	fprintf(f, "If there is one, append %u to the last of them (e.g. "
		   "'trustedkey 1' becomes\n'trustedkey 1 %u'). If there is "
		   "none, add these lines to %s (leave\nout the 'keys' line "
		   "if it has one, and put the key line in that file):\n\n",
		key->id, key->id, NTPORG_CONF);
	fprintf(f, "keys %s\n", NTPORG_KEYS);
	fprintf(f, "trustedkey %u\n\n", key->id);
	fprintf(f, "then restart ntpd (systemctl restart ntp, or ntpd: it "
		   "reads keys and\ntrustedkey only at start-up).\n\n");
}

void admin_key_print(FILE *f, const struct admin_key *key, const char *server)
{
	bool sha1 = key->type == NTPAUTH_SHA1;

	fprintf(f, "key %u (%s): install it in the NTP daemon on %s and trust "
		   "it.\n\n", key->id, ntpauth_type_name(key->type), server);

	print_ntpsec(f, key, sha1);
	print_ntporg(f, key, sha1);

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
		   "again (with its ID from the trustedkey line).\n\n");
}

int admin_key_read(const char *path, const char *type_name, long key_id,
		   struct ntpauth_key *key)
{
	enum ntpauth_type type = NTPAUTH_AES128;
	char text[256];
	FILE *f;
	size_t n;

	if (type_name != NULL && ntpauth_type_parse(type_name, &type) < 0) {
		fprintf(stderr, "ntpverify check: --key-type: '%s' is not AES128 "
				"or SHA1\n",
			type_name);
		return -1;
	}
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "ntpverify check: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	if (f != stdin)
		fclose(f);
	int rc = ntpauth_key_parse(text, (uint32_t)key_id, type, key);
	OPENSSL_cleanse(text, sizeof(text));
	if (rc < 0) {
		fprintf(stderr,
			"ntpverify check: %s: not a %s key (%s hex digits, "
			"optionally after HEX:)\n",
			path, ntpauth_type_name(type),
			type == NTPAUTH_AES128 ? "32" : "22 to 40");
		ntpauth_key_wipe(key);
		return -1;
	}
	/* ntpd and NTPsec read a key of 20 characters or fewer as ASCII
	 * text: these hex digits would be another key to them. */
	if (type == NTPAUTH_SHA1 && key->len <= 10) {
		fprintf(stderr,
			"ntpverify check: %s: ntpd and NTPsec read a key of 20 "
			"characters or fewer as text, not hex: use a SHA1 key "
			"of 22 to 40 hex digits ('ntpverify add' makes 40)\n",
			path);
		ntpauth_key_wipe(key);
		return -1;
	}
	return 0;
}
