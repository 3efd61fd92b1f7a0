/*
 * fuzz_ntp3.c - the mode 4 reply parser and what the prober derives from
 * a reply: the refid string and the Kiss-o'-Death test.
 *
 * Input: the request's transmit timestamp (8 octets, big-endian), then
 * the datagram. The datagram is parsed against that timestamp and again
 * against its own origin field, so that classification is reached
 * whatever the first eight octets say. The result and every decoded
 * field are compared with a plain reading of the RFC 5905 layout.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "ntpwire/ntp3.h"

/* Extension fields and a MAC are ignored; more than this adds nothing. */
#define FUZZ_NTP3_MAX_INPUT 2048
#define FUZZ_NTP3_PREFIX 8

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* What ntp3.h says the checks return, in their order. */
static enum ntp3_check expected_check(const uint8_t *pkt, size_t len,
				      uint64_t xmt)
{
	unsigned vn, mode;

	if (len < NTP3_PACKET_LEN)
		return NTP3_BAD_LENGTH;
	vn = (pkt[0] >> 3) & 7;
	mode = pkt[0] & 7;
	if (vn < 1 || vn > 4)
		return NTP3_BAD_VERSION;
	if (mode != NTP3_MODE_SERVER)
		return NTP3_BAD_MODE;
	if (be64(pkt + 24) != xmt)
		return NTP3_BAD_ORIGIN;
	return NTP3_OK;
}

static void check_refid_str(const struct ntp3_reply *r)
{
	char out[NTP3_REFID_STRLEN];
	unsigned dots = 0;
	size_t n;

	memset(out, 'x', sizeof(out));
	ntp3_refid_str(r, out);
	n = strnlen(out, sizeof(out));
	FUZZ_CHECK(n < sizeof(out));
	if (r->stratum <= 1) {
		/* Up to four printable characters, trailing NULs dropped. */
		FUZZ_CHECK(n <= 4);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
		FUZZ_CHECK(n == 4 || r->refid[n] == '\0');
		return;
	}
	/* A dotted quad. */
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(out[i] == '.' || (out[i] >= '0' && out[i] <= '9'));
		dots += out[i] == '.';
	}
	FUZZ_CHECK(dots == 3);
}

static void check_kind(const struct ntp3_reply *r)
{
	bool kiss;

	switch (r->kind) {
	case NTP3_SYNCED:
		FUZZ_CHECK(r->stratum >= 1 && r->stratum <= 15);
		kiss = false;
		break;
	case NTP3_UNSYNCED:
		FUZZ_CHECK(r->stratum == 0 || r->stratum >= 16);
		kiss = false;
		break;
	case NTP3_KISS_RATE:
		FUZZ_CHECK(r->stratum == 0 && memcmp(r->refid, "RATE", 4) == 0);
		kiss = true;
		break;
	case NTP3_KISS_DENY:
		FUZZ_CHECK(r->stratum == 0 && memcmp(r->refid, "DENY", 4) == 0);
		kiss = true;
		break;
	case NTP3_KISS_RSTR:
		FUZZ_CHECK(r->stratum == 0 && memcmp(r->refid, "RSTR", 4) == 0);
		kiss = true;
		break;
	case NTP3_KISS_OTHER:
		FUZZ_CHECK(r->stratum == 0);
		kiss = true;
		break;
	default:
		FUZZ_CHECK(!"ntp3: unknown kind");
		return;
	}
	FUZZ_CHECK(ntp3_is_kiss(r->kind) == kiss);
}

static void parse(const uint8_t *pkt, size_t len, uint64_t xmt)
{
	struct ntp3_reply r;
	enum ntp3_check check = ntp3_parse_reply(pkt, len, xmt, &r);

	FUZZ_CHECK(ntp3_check_name(check) != NULL);
	FUZZ_CHECK(check == expected_check(pkt, len, xmt));
	if (check == NTP3_BAD_LENGTH)
		return;

	/* Filled, for logging, on every other result. */
	FUZZ_CHECK(r.leap == pkt[0] >> 6);
	FUZZ_CHECK(r.version == ((pkt[0] >> 3) & 7));
	FUZZ_CHECK(r.stratum == pkt[1]);
	FUZZ_CHECK((uint8_t)r.poll == pkt[2]);
	FUZZ_CHECK((uint8_t)r.precision == pkt[3]);
	FUZZ_CHECK(memcmp(r.refid, pkt + 12, 4) == 0);
	FUZZ_CHECK(r.origin == be64(pkt + 24));
	FUZZ_CHECK(r.receive == be64(pkt + 32));
	FUZZ_CHECK(r.transmit == be64(pkt + 40));
	check_kind(&r);
	check_refid_str(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	const uint8_t *pkt;
	size_t len;

	if (size < FUZZ_NTP3_PREFIX || size > FUZZ_NTP3_MAX_INPUT)
		return 0;
	/* The datagram ends where libFuzzer's buffer does: no copy needed
	 * for ASan to see a read past it. */
	pkt = in + FUZZ_NTP3_PREFIX;
	len = size - FUZZ_NTP3_PREFIX;
	parse(pkt, len, be64(in));
	if (len >= 32)
		parse(pkt, len, be64(pkt + 24));
	return 0;
}
