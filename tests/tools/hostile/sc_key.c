/*
 * sc_key.c - the server side of the key method, as ntp.org ntpd 4.2.8
 * behaves (M3_NTPD), and the RATE kiss of --limited.
 *
 * A keyed request (a mode 3 longer than 48 octets: key ID, then MAC)
 * whose key ID is one of the --key keys and whose MAC verifies gets a
 * mode 4 reply signed with that key (68 octets with AES128, 72 with
 * SHA1); any other keyed request gets a crypto-NAK (the 48 octets and a
 * key ID of 0). A plain request gets the plain reply. MACs come from
 * ntpwire/ntpauth, the prober's own code: these tests are about which
 * packets go where, not about the MAC arithmetic (tests/unit has that).
 *
 * A RATE kiss answering a keyed request is signed the way ntpd signs it:
 * with the server's key of the request's key ID, whether or not the
 * request's own MAC verified (ntpd builds the kiss before it looks at
 * the MAC); unsigned when the server has no key of that ID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hostile.h"

int add_key(const char *spec)
{
	char buf[128], *type, *hex, *end;
	enum ntpauth_type t;
	unsigned long id;
	int rc = -1;

	if (hr.n_keys >= MAX_KEYS || strlen(spec) >= sizeof(buf))
		goto out;
	snprintf(buf, sizeof(buf), "%s", spec);
	type = strchr(buf, ':');
	hex = type ? strchr(type + 1, ':') : NULL;
	if (hex == NULL)
		goto out;
	*type++ = '\0';
	*hex++ = '\0';
	id = strtoul(buf, &end, 10);
	if (*end != '\0' || ntpauth_type_parse(type, &t) < 0 ||
	    ntpauth_key_parse(hex, (uint32_t)id, t, &hr.keys[hr.n_keys]) < 0)
		goto out;
	hr.n_keys++;
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc < 0)
		fprintf(stderr, "--key: want ID:AES128:HEX or ID:SHA1:HEX "
				"(at most %d keys)\n", MAX_KEYS);
	return rc;
}

/* The key ID of a keyed request, 0 for a plain one (or a crypto-NAK's). */
static uint32_t request_key_id(const struct request *rq)
{
	const uint8_t *p = rq->pkt + 48;

	if (rq->pkt_len < 52)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static const struct ntpauth_key *find_key(uint32_t id)
{
	for (unsigned i = 0; i < hr.n_keys; i++)
		if (id != 0 && hr.keys[i].id == id)
			return &hr.keys[i];
	return NULL;
}

/* Append key ID and MAC of b[0..48) under key; returns the new length. */
static size_t sign(uint8_t *b, const struct ntpauth_key *key)
{
	b[48] = (uint8_t)(key->id >> 24);
	b[49] = (uint8_t)(key->id >> 16);
	b[50] = (uint8_t)(key->id >> 8);
	b[51] = (uint8_t)key->id;
	if (ntpauth_digest(key, b, 48, b + 52) < 0)
		return 48; /* cannot happen with a parsed key; unsigned then */
	return 52 + ntpauth_digest_len(key->type);
}

/* Does the request's MAC verify under one of our keys? */
static const struct ntpauth_key *request_key(const struct request *rq)
{
	const struct ntpauth_key *key = find_key(request_key_id(rq));
	uint8_t want[NTPAUTH_DIGEST_MAX];

	if (key == NULL || rq->pkt_len != 52 + ntpauth_digest_len(key->type) ||
	    ntpauth_digest(key, rq->pkt, 48, want) < 0 ||
	    CRYPTO_memcmp(want, rq->pkt + 52, ntpauth_digest_len(key->type)) != 0)
		return NULL;
	return key;
}

void emit_m3_ntpd(struct reply_ctx *c)
{
	uint8_t b[48 + 4 + NTPAUTH_DIGEST_MAX];
	const struct ntpauth_key *key;
	size_t len = 48;

	m4_good_header(c->rq, b);
	if (c->rq->pkt_len > 48) {
		key = request_key(c->rq);
		if (key != NULL) {
			len = sign(b, key);
		} else {
			memset(b + 48, 0, 4); /* crypto-NAK */
			len = 52;
		}
	}
	emit_raw(c, b, len);
}

void emit_kiss(struct reply_ctx *c)
{
	uint8_t b[48 + 4 + NTPAUTH_DIGEST_MAX];
	const struct ntpauth_key *key = find_key(request_key_id(c->rq));
	size_t len = 48;

	/* as ntpd 4.2.8p15 sends it (capture V6): org = rec = xmt */
	memset(b, 0, sizeof(b));
	b[0] = (uint8_t)(3 << 6 | (c->rq->version & 7) << 3 | 4);
	memcpy(b + 12, "RATE", 4);
	memcpy(b + 24, c->rq->xmt, 8);
	memcpy(b + 32, c->rq->xmt, 8);
	memcpy(b + 40, c->rq->xmt, 8);
	if (c->rq->pkt_len > 48 && key != NULL)
		len = sign(b, key);
	emit_raw(c, b, len);
}
