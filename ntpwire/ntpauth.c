/*
 * ntpauth.c - symmetric-key MACs for NTP client requests and replies.
 */
#include "hex.h"
#include "ntpauth.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>
#include <strings.h>

#include "rd.h"

const char *ntpauth_type_name(enum ntpauth_type type)
{
	return type == NTPAUTH_SHA1 ? "SHA1" : "AES128";
}

int ntpauth_type_parse(const char *text, enum ntpauth_type *type)
{
	if (strcasecmp(text, "AES128") == 0 ||
	    strcasecmp(text, "AES-128") == 0 ||
	    strcasecmp(text, "AES128CMAC") == 0) {
		*type = NTPAUTH_AES128;
		return 0;
	}
	if (strcasecmp(text, "SHA1") == 0 || strcasecmp(text, "SHA-1") == 0) {
		*type = NTPAUTH_SHA1;
		return 0;
	}
	return -1;
}

size_t ntpauth_digest_len(enum ntpauth_type type)
{
	return type == NTPAUTH_SHA1 ? 20 : 16;
}

int ntpauth_key_parse(const char *text, uint32_t id, enum ntpauth_type type,
		      struct ntpauth_key *key)
{
	size_t n = 0;

	memset(key, 0, sizeof(*key));
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	if (strncasecmp(text, "HEX:", 4) == 0)
		text += 4;
	for (;;) {
		int hi = hex_digit(text[0]), lo;
		if (hi < 0)
			break;
		lo = hex_digit(text[1]);
		if (lo < 0 || n >= NTPAUTH_KEY_MAX)
			goto bad;
		key->secret[n++] = (uint8_t)(hi << 4 | lo);
		text += 2;
	}
	while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
		text++;
	if (*text != '\0' || id == 0 || id > 65535)
		goto bad;
	if (type == NTPAUTH_AES128 ? n != 16 : (n < 1 || n > 20))
		goto bad;
	key->id = id;
	key->type = type;
	key->len = n;
	return 0;
bad:
	ntpauth_key_wipe(key);
	return -1;
}

void ntpauth_key_wipe(struct ntpauth_key *key)
{
	OPENSSL_cleanse(key, sizeof(*key));
}

static int cmac(const struct ntpauth_key *key, const uint8_t *pkt, size_t len,
		uint8_t out[NTPAUTH_DIGEST_MAX])
{
	/* Fetched once: EVP_MAC_fetch walks the provider tables. */
	static EVP_MAC *alg;
	char cipher[] = "AES-128-CBC";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	size_t outl = 0;
	int ok;

	if (alg == NULL && (alg = EVP_MAC_fetch(NULL, "CMAC", NULL)) == NULL)
		return -1;
	ctx = EVP_MAC_CTX_new(alg);
	if (ctx == NULL)
		return -1;
	ok = EVP_MAC_init(ctx, key->secret, key->len, params) &&
	     EVP_MAC_update(ctx, pkt, len) &&
	     EVP_MAC_final(ctx, out, &outl, NTPAUTH_DIGEST_MAX) && outl == 16;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int sha1(const struct ntpauth_key *key, const uint8_t *pkt, size_t len,
		uint8_t out[NTPAUTH_DIGEST_MAX])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned outl = 0;
	int ok;

	if (ctx == NULL)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
	     EVP_DigestUpdate(ctx, key->secret, key->len) &&
	     EVP_DigestUpdate(ctx, pkt, len) &&
	     EVP_DigestFinal_ex(ctx, out, &outl) && outl == 20;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int ntpauth_digest(const struct ntpauth_key *key, const uint8_t *pkt,
		   size_t len, uint8_t out[NTPAUTH_DIGEST_MAX])
{
	return key->type == NTPAUTH_SHA1 ? sha1(key, pkt, len, out)
					 : cmac(key, pkt, len, out);
}

int ntpauth_build_request(uint8_t buf[NTPAUTH_PACKET_MAX], uint64_t xmt,
			  const struct ntpauth_key *key)
{
	size_t dlen = ntpauth_digest_len(key->type);

	ntp3_build_request(buf, xmt);
	wr_u32(buf + NTP3_PACKET_LEN, key->id);
	if (ntpauth_digest(key, buf, NTP3_PACKET_LEN, buf + NTP3_PACKET_LEN + 4) < 0)
		return -1;
	return (int)(NTP3_PACKET_LEN + 4 + dlen);
}

const char *ntpauth_check_name(enum ntpauth_check check)
{
	switch (check) {
	case NTPAUTH_OK:
		return "ok";
	case NTPAUTH_NO_MAC:
		return "unauthenticated reply";
	case NTPAUTH_CRYPTO_NAK:
		return "crypto-NAK";
	case NTPAUTH_BAD_LENGTH:
		return "MAC field of the wrong length";
	case NTPAUTH_WRONG_KEY_ID:
		return "MAC under another key ID";
	case NTPAUTH_BAD_MAC:
		return "MAC does not verify";
	}
	return "unknown check";
}

enum ntpauth_check ntpauth_verify_reply(const uint8_t *pkt, size_t len,
					const struct ntpauth_key *key)
{
	size_t dlen = ntpauth_digest_len(key->type);
	uint8_t want[NTPAUTH_DIGEST_MAX];
	uint32_t id;
	struct rd r;

	if (len <= NTP3_PACKET_LEN)
		return NTPAUTH_NO_MAC;
	r = rd_init(pkt + NTP3_PACKET_LEN, len - NTP3_PACKET_LEN);
	if (!rd_u32(&r, &id))
		return NTPAUTH_BAD_LENGTH;
	if (len == NTP3_PACKET_LEN + 4)
		return id == 0 ? NTPAUTH_CRYPTO_NAK : NTPAUTH_BAD_LENGTH;
	if (id != key->id)
		return NTPAUTH_WRONG_KEY_ID;
	if (len != NTP3_PACKET_LEN + 4 + dlen)
		return NTPAUTH_BAD_LENGTH;
	if (ntpauth_digest(key, pkt, NTP3_PACKET_LEN, want) < 0)
		return NTPAUTH_BAD_MAC;
	if (CRYPTO_memcmp(want, pkt + NTP3_PACKET_LEN + 4, dlen) != 0)
		return NTPAUTH_BAD_MAC;
	return NTPAUTH_OK;
}
