/*
 * ntpauth.h - NTP symmetric-key authentication of mode 3/4 packets.
 *
 * RFC 5905 section 7.3 and RFC 8573: after the 48-octet header comes a MAC
 * field, a 4-octet key ID followed by the digest:
 *
 *     +--------------------------------------+
 *     |  NTP header, 48 octets               |
 *     +--------------------------------------+
 *     |  Key Identifier, 4 octets            |
 *     +--------------------------------------+
 *     |  Digest: AES-128-CMAC 16 octets      |
 *     |          (legacy SHA1: 20 octets)    |
 *     +--------------------------------------+
 *
 * AES-128-CMAC (RFC 8573) is computed over the header with the key; the
 * legacy SHA1 digest (ntpd's "SHA1" keys) is SHA1(key || header). A reply
 * carrying only a key ID of 0 and no digest is a crypto-NAK: the server
 * could not authenticate the request.
 *
 * MACs come from OpenSSL's libcrypto (EVP_MAC "CMAC", EVP_sha1); digests
 * are compared in constant time. No sockets here: buffers in, results out.
 */
#ifndef NTPWIRE_NTPAUTH_H
#define NTPWIRE_NTPAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ntp3.h"

enum ntpauth_type {
	NTPAUTH_AES128 = 0, /* AES-128-CMAC, RFC 8573: the default */
	NTPAUTH_SHA1,       /* SHA1(key || packet), for old ntpd builds */
};

#define NTPAUTH_KEY_MAX 20       /* octets: 16 for AES128, up to 20 for SHA1 */
#define NTPAUTH_DIGEST_MAX 20
#define NTPAUTH_PACKET_MAX (NTP3_PACKET_LEN + 4 + NTPAUTH_DIGEST_MAX)

/* A symmetric key. Secret: never log or print it. */
struct ntpauth_key {
	uint32_t id;                     /* 1..65535 (ntpd's range) */
	enum ntpauth_type type;
	uint8_t secret[NTPAUTH_KEY_MAX]; /* the key octets */
	size_t len;                      /* 16 for AES128; 1..20 for SHA1 */
};

/* "AES128" / "SHA1"; parse accepts "AES128", "AES-128", "AES128CMAC", "SHA1". */
const char *ntpauth_type_name(enum ntpauth_type type);
int ntpauth_type_parse(const char *text, enum ntpauth_type *type)
	__attribute__((warn_unused_result));

/* Digest length of a type: 16 or 20. */
size_t ntpauth_digest_len(enum ntpauth_type type);

/*
 * Parse a key from text: hex, optionally prefixed "HEX:" (chrony's
 * keyfile form), surrounding white space ignored. AES128 needs exactly 16
 * octets; SHA1 1..20. Returns 0, or -1 (nothing about the text is kept).
 */
int ntpauth_key_parse(const char *text, uint32_t id, enum ntpauth_type type,
		      struct ntpauth_key *key) __attribute__((warn_unused_result));

/* Wipe a key from memory. */
void ntpauth_key_wipe(struct ntpauth_key *key);

/*
 * Build an authenticated client request: the 48-octet mode 3 request with
 * transmit timestamp `xmt`, then key ID and digest. Returns its length
 * (68 for AES128, 72 for SHA1) or -1 if the MAC cannot be computed.
 */
int ntpauth_build_request(uint8_t buf[NTPAUTH_PACKET_MAX], uint64_t xmt,
			  const struct ntpauth_key *key)
	__attribute__((warn_unused_result));

/* Compute the digest of pkt[0..len) under key into out (digest_len octets). */
int ntpauth_digest(const struct ntpauth_key *key, const uint8_t *pkt,
		   size_t len, uint8_t out[NTPAUTH_DIGEST_MAX])
	__attribute__((warn_unused_result));

enum ntpauth_check {
	NTPAUTH_OK = 0,          /* MAC present, our key ID, digest verifies */
	NTPAUTH_NO_MAC,          /* exactly 48 octets: unauthenticated reply */
	NTPAUTH_CRYPTO_NAK,      /* key ID field only, value 0 */
	NTPAUTH_BAD_LENGTH,      /* MAC field of the wrong size (truncated...) */
	NTPAUTH_WRONG_KEY_ID,    /* a MAC under another key ID */
	NTPAUTH_BAD_MAC,         /* our key ID, digest does not verify */
};

/* Stable, human-readable name, e.g. "MAC does not verify". */
const char *ntpauth_check_name(enum ntpauth_check check);

/*
 * Check the MAC of a reply datagram that has already passed
 * ntp3_parse_reply() (length >= 48, mode 4, origin echoed). The digest is
 * compared in constant time. Kisses too: ntp.org ntpd signs the RATE
 * kisses it sends to keyed requests, and the MAC covers the header with
 * its kiss code like any other.
 */
enum ntpauth_check ntpauth_verify_reply(const uint8_t *pkt, size_t len,
					const struct ntpauth_key *key)
	__attribute__((warn_unused_result));

#endif
