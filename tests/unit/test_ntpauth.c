/* Symmetric-key MACs: RFC 4493 vectors, packet layout, hostile replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hexfile.h"
#include "ntpwire/ntp3.h"
#include "ntpwire/ntpauth.h"

static const char rfc4493_key[] = "2b7e151628aed2a6abf7158809cf4f3c";
static const char rfc4493_msg[] =
	"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static struct ntpauth_key aes_key(uint32_t id, const char *hex)
{
	struct ntpauth_key k;

	assert_int_equal(ntpauth_key_parse(hex, id, NTPAUTH_AES128, &k), 0);
	return k;
}

/* RFC 4493 section 4: AES-CMAC examples 1-4. */
static void test_rfc4493(void **state)
{
	static const struct {
		size_t len;
		const char *mac;
	} ex[] = {
		{ 0, "bb1d6929e95937287fa37d129b756746" },
		{ 16, "070a16b46b4d4144f79bdd9dd04a287c" },
		{ 40, "dfa66747de9ae63030ca32611497c827" },
		{ 64, "51f0bebf7e3b9d92fc49741779363cfe" },
	};
	struct ntpauth_key k = aes_key(1, rfc4493_key);
	uint8_t msg[64], want[16], got[NTPAUTH_DIGEST_MAX];

	(void)state;
	unhex(rfc4493_msg, msg);
	for (size_t i = 0; i < 4; i++) {
		unhex(ex[i].mac, want);
		assert_int_equal(ntpauth_digest(&k, msg, ex[i].len, got), 0);
		assert_memory_equal(got, want, 16);
	}
}

static void test_key_parse(void **state)
{
	struct ntpauth_key k;

	(void)state;
	assert_int_equal(ntpauth_key_parse("HEX:2b7e151628aed2a6abf7158809cf4f3c\n",
					   42, NTPAUTH_AES128, &k), 0);
	assert_int_equal(k.id, 42);
	assert_int_equal(k.len, 16);
	/* AES128 needs exactly 16 octets; ids 1..65535; hex only. */
	assert_int_equal(ntpauth_key_parse("2b7e1516", 1, NTPAUTH_AES128, &k), -1);
	assert_int_equal(ntpauth_key_parse(rfc4493_key, 0, NTPAUTH_AES128, &k), -1);
	assert_int_equal(ntpauth_key_parse(rfc4493_key, 65536, NTPAUTH_AES128, &k), -1);
	assert_int_equal(ntpauth_key_parse("2b7e151628aed2a6abf7158809cf4f3g", 1,
					   NTPAUTH_AES128, &k), -1);
	assert_int_equal(ntpauth_key_parse("2b7e151628aed2a6abf7158809cf4f3c0", 1,
					   NTPAUTH_AES128, &k), -1);
	assert_int_equal(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					   7, NTPAUTH_SHA1, &k), 0);
	assert_int_equal(k.len, 20);
	enum ntpauth_type t;
	assert_int_equal(ntpauth_type_parse("AES-128", &t), 0);
	assert_int_equal(t, NTPAUTH_AES128);
	assert_int_equal(ntpauth_type_parse("sha1", &t), 0);
	assert_int_equal(t, NTPAUTH_SHA1);
	assert_int_equal(ntpauth_type_parse("MD5", &t), -1);
}

/* Request layout: header, key ID big-endian, digest of the header. */
static void test_request_layout(void **state)
{
	struct ntpauth_key k = aes_key(0x01020304 & 0xffff, rfc4493_key);
	uint8_t pkt[NTPAUTH_PACKET_MAX], hdr[NTP3_PACKET_LEN], mac[NTPAUTH_DIGEST_MAX];
	int n;

	(void)state;
	n = ntpauth_build_request(pkt, 0xe00000379ecedf01ULL, &k);
	assert_int_equal(n, 68);
	ntp3_build_request(hdr, 0xe00000379ecedf01ULL);
	assert_memory_equal(pkt, hdr, NTP3_PACKET_LEN);
	assert_int_equal(pkt[48], 0x00);
	assert_int_equal(pkt[49], 0x00);
	assert_int_equal(pkt[50], 0x03);
	assert_int_equal(pkt[51], 0x04);
	assert_int_equal(ntpauth_digest(&k, hdr, NTP3_PACKET_LEN, mac), 0);
	assert_memory_equal(pkt + 52, mac, 16);

	struct ntpauth_key s;
	assert_int_equal(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					   9, NTPAUTH_SHA1, &s), 0);
	n = ntpauth_build_request(pkt, 1, &s);
	assert_int_equal(n, 72);
	assert_int_equal(pkt[51], 9);
}

/* A server reply to our request, MAC'd under `k`. */
static size_t make_reply(uint8_t *pkt, uint64_t xmt, const struct ntpauth_key *k)
{
	uint8_t mac[NTPAUTH_DIGEST_MAX];
	size_t dlen = ntpauth_digest_len(k->type);

	memset(pkt, 0, NTPAUTH_PACKET_MAX);
	pkt[0] = 0x24; /* LI 0, VN 4, mode 4 */
	pkt[1] = 2;    /* stratum */
	for (int i = 0; i < 8; i++)
		pkt[24 + i] = (uint8_t)(xmt >> (56 - 8 * i));
	pkt[48] = (uint8_t)(k->id >> 24);
	pkt[49] = (uint8_t)(k->id >> 16);
	pkt[50] = (uint8_t)(k->id >> 8);
	pkt[51] = (uint8_t)k->id;
	assert_int_equal(ntpauth_digest(k, pkt, NTP3_PACKET_LEN, mac), 0);
	memcpy(pkt + 52, mac, dlen);
	return NTP3_PACKET_LEN + 4 + dlen;
}

static void test_hostile_replies(void **state)
{
	struct ntpauth_key k = aes_key(42, rfc4493_key);
	struct ntpauth_key other = aes_key(42, "000102030405060708090a0b0c0d0e0f");
	struct ntpauth_key other_id = aes_key(43, rfc4493_key);
	uint8_t pkt[NTPAUTH_PACKET_MAX + 8];
	struct ntp3_reply reply;
	size_t n;

	(void)state;
	n = make_reply(pkt, 77, &k);
	assert_int_equal(ntp3_parse_reply(pkt, n, 77, &reply), NTP3_OK);
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_OK);

	/* Valid origin, one bit of the MAC flipped. */
	pkt[60] ^= 0x01;
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_BAD_MAC);
	/* A header bit changed after MACing. */
	n = make_reply(pkt, 77, &k);
	pkt[1] ^= 0x01;
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_BAD_MAC);
	/* MAC'd with another secret under our key ID. */
	n = make_reply(pkt, 77, &other);
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_BAD_MAC);
	/* A valid MAC under another key ID. */
	n = make_reply(pkt, 77, &other_id);
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_WRONG_KEY_ID);
	/* Truncated MAC, and one octet too many. */
	n = make_reply(pkt, 77, &k);
	for (size_t cut = 1; cut < 16; cut++)
		assert_int_equal(ntpauth_verify_reply(pkt, n - cut, &k),
				 NTPAUTH_BAD_LENGTH);
	assert_int_equal(ntpauth_verify_reply(pkt, n + 1, &k), NTPAUTH_BAD_LENGTH);
	/* Crypto-NAK: key ID 0 and nothing else. */
	memset(pkt + 48, 0, 4);
	assert_int_equal(ntpauth_verify_reply(pkt, 52, &k), NTPAUTH_CRYPTO_NAK);
	/* A key ID alone that is not 0 is no NAK. */
	pkt[51] = 42;
	assert_int_equal(ntpauth_verify_reply(pkt, 52, &k), NTPAUTH_BAD_LENGTH);
	/* An unauthenticated reply to the authenticated request. */
	assert_int_equal(ntpauth_verify_reply(pkt, 48, &k), NTPAUTH_NO_MAC);
	/* SHA1 MAC where AES128 is expected: wrong length. */
	struct ntpauth_key s;
	assert_int_equal(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					   42, NTPAUTH_SHA1, &s), 0);
	n = make_reply(pkt, 77, &s);
	assert_int_equal(ntpauth_verify_reply(pkt, n, &k), NTPAUTH_BAD_LENGTH);
	assert_int_equal(ntpauth_verify_reply(pkt, n, &s), NTPAUTH_OK);
}

/*
 * Replies whose MACs were computed outside this code (openssl mac CMAC,
 * Python's hashlib SHA1): tests/data/ntp3_auth_*.hex.
 */
static void test_external_vectors(void **state)
{
	uint8_t pkt[256];
	size_t len;
	struct ntp3_reply reply;
	struct ntpauth_key aes = aes_key(42, rfc4493_key), sha;

	(void)state;
	assert_int_equal(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					   42, NTPAUTH_SHA1, &sha), 0);
	assert_int_equal(hexfile_load("ntp3_auth_aes128_reply.hex", pkt,
				      sizeof(pkt), &len), 0);
	assert_int_equal(len, 68);
	assert_int_equal(ntp3_parse_reply(pkt, len, 0xe00000379ecedf01ULL, &reply),
			 NTP3_OK);
	assert_int_equal(ntpauth_verify_reply(pkt, len, &aes), NTPAUTH_OK);
	assert_int_equal(ntpauth_verify_reply(pkt, len, &sha), NTPAUTH_BAD_LENGTH);

	assert_int_equal(hexfile_load("ntp3_auth_sha1_reply.hex", pkt,
				      sizeof(pkt), &len), 0);
	assert_int_equal(len, 72);
	assert_int_equal(ntpauth_verify_reply(pkt, len, &sha), NTPAUTH_OK);
	assert_int_equal(ntpauth_verify_reply(pkt, len, &aes), NTPAUTH_BAD_LENGTH);

	assert_int_equal(hexfile_load("ntp3_auth_crypto_nak.hex", pkt,
				      sizeof(pkt), &len), 0);
	assert_int_equal(len, 52);
	assert_int_equal(ntpauth_verify_reply(pkt, len, &aes), NTPAUTH_CRYPTO_NAK);
}

/*
 * The generated signed kisses (tests/data/make_issue12.py) and the keyed
 * unsynchronised reply: valid replies of their kind, and MACs that verify
 * under the keys they name, computed here by other code.
 */
static void test_signed_kiss_vectors(void **state)
{
	static const struct {
		const char *file;
		size_t len;
		bool sha1;
		enum ntp3_kind kind;
	} cases[] = {
		{ "ntp3_kiss_rate_signed_aes128.hex", 68, false, NTP3_KISS_RATE },
		{ "ntp3_kiss_rate_signed_sha1.hex", 72, true, NTP3_KISS_RATE },
		{ "ntp3_auth_unsynced_aes128.hex", 68, false, NTP3_UNSYNCED },
	};
	uint8_t pkt[256];
	size_t len;
	struct ntp3_reply reply;
	struct ntpauth_key aes = aes_key(42, rfc4493_key), sha;

	(void)state;
	assert_int_equal(ntpauth_key_parse("00112233445566778899aabbccddeeff00112233",
					   42, NTPAUTH_SHA1, &sha), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ntpauth_key *k = cases[i].sha1 ? &sha : &aes;
		assert_int_equal(hexfile_load(cases[i].file, pkt, sizeof(pkt),
					      &len), 0);
		assert_int_equal(len, cases[i].len);
		assert_int_equal(ntp3_parse_reply(pkt, len, 0xe00000379ecedf01ULL,
						  &reply), NTP3_OK);
		assert_int_equal(reply.kind, cases[i].kind);
		assert_int_equal(reply.stratum, 0);
		assert_int_equal(ntpauth_verify_reply(pkt, len, k), NTPAUTH_OK);
		pkt[27] ^= 1; /* the origin is under the MAC too */
		assert_int_equal(ntpauth_verify_reply(pkt, len, k),
				 NTPAUTH_BAD_MAC);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4493),
		cmocka_unit_test(test_key_parse),
		cmocka_unit_test(test_request_layout),
		cmocka_unit_test(test_hostile_replies),
		cmocka_unit_test(test_external_vectors),
		cmocka_unit_test(test_signed_kiss_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
