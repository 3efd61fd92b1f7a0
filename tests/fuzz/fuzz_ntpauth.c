/*
 * fuzz_ntpauth.c - MAC checking of mode 4 replies (the key method).
 *
 * Input: the same format as fuzz_ntp3 (8 octets, then the datagram), so
 * the mode 3 seeds serve here too. The lowest bit of the first octet picks
 * the key type (AES128 or SHA1); the key is fixed. The datagram goes
 * through what the prober does with a reply to its keyed request:
 * ntp3_parse_reply() against the datagram's own origin, then
 * ntpauth_verify_reply(). Every verdict is compared with a plain reading
 * of RFC 5905's MAC field, and NTPAUTH_OK with an independent digest.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "ntpwire/ntp3.h"
#include "ntpwire/ntpauth.h"

#define FUZZ_AUTH_MAX_INPUT 2048
#define FUZZ_AUTH_PREFIX 8
#define FUZZ_KEY_ID 42

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void check(const uint8_t *pkt, size_t len, const struct ntpauth_key *key)
{
	size_t dlen = ntpauth_digest_len(key->type);
	enum ntpauth_check got = ntpauth_verify_reply(pkt, len, key);
	uint8_t want[NTPAUTH_DIGEST_MAX];

	if (len <= NTP3_PACKET_LEN) {
		FUZZ_CHECK(got == NTPAUTH_NO_MAC);
		return;
	}
	if (len < NTP3_PACKET_LEN + 4) {
		FUZZ_CHECK(got == NTPAUTH_BAD_LENGTH);
		return;
	}
	uint32_t id = be32(pkt + NTP3_PACKET_LEN);
	if (len == NTP3_PACKET_LEN + 4) {
		FUZZ_CHECK(got == (id == 0 ? NTPAUTH_CRYPTO_NAK : NTPAUTH_BAD_LENGTH));
		return;
	}
	if (id != key->id) {
		FUZZ_CHECK(got == NTPAUTH_WRONG_KEY_ID);
		return;
	}
	if (len != NTP3_PACKET_LEN + 4 + dlen) {
		FUZZ_CHECK(got == NTPAUTH_BAD_LENGTH);
		return;
	}
	FUZZ_CHECK(ntpauth_digest(key, pkt, NTP3_PACKET_LEN, want) == 0);
	bool match = memcmp(want, pkt + NTP3_PACKET_LEN + 4, dlen) == 0;
	FUZZ_CHECK(got == (match ? NTPAUTH_OK : NTPAUTH_BAD_MAC));
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	static struct ntpauth_key keys[2];
	static bool ready;
	struct ntp3_reply reply;

	if (!ready) {
		FUZZ_CHECK(ntpauth_key_parse("2b7e151628aed2a6abf7158809cf4f3c",
					     FUZZ_KEY_ID, NTPAUTH_AES128,
					     &keys[0]) == 0);
		FUZZ_CHECK(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					     FUZZ_KEY_ID, NTPAUTH_SHA1,
					     &keys[1]) == 0);
		ready = true;
	}
	if (size < FUZZ_AUTH_PREFIX || size > FUZZ_AUTH_MAX_INPUT)
		return 0;
	const uint8_t *pkt = in + FUZZ_AUTH_PREFIX;
	size_t len = size - FUZZ_AUTH_PREFIX;
	const struct ntpauth_key *key = &keys[in[0] & 1];

	/* As the prober: only a reply that parses is MAC-checked... */
	if (len >= 32 && ntp3_parse_reply(pkt, len, be64(pkt + 24), &reply) ==
				 NTP3_OK)
		check(pkt, len, key);
	/* ...but the MAC check must hold up on anything. */
	check(pkt, len, key);
	return 0;
}
