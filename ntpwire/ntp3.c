/*
 * ntp3.c - NTP client request (mode 3) and server reply (mode 4).
 *
 * Packet layout (see ntp3.h for the diagram), network order:
 *
 *     0 LI|VN|Mode  1 stratum  2 poll  3 precision
 *     4-7 root delay  8-11 root dispersion  12-15 refid
 *     16-23 reference  24-31 origin  32-39 receive  40-47 transmit
 */
#include "ntp3.h"

#include <stdio.h>
#include <string.h>

#include "rd.h"

void ntp3_build_request(uint8_t buf[NTP3_PACKET_LEN], uint64_t xmt)
{
	/*
	 * Everything but the transmit timestamp stays zero, as in ntpd's and
	 * chrony's client requests: a server has nothing else to use, and an
	 * origin or receive timestamp here would only leak our clock.
	 */
	memset(buf, 0, NTP3_PACKET_LEN);
	buf[0] = NTP3_VERSION << 3 | NTP3_MODE_CLIENT; /* LI 0 */
	(void)wr_u64(buf + 40, xmt);
}

const char *ntp3_check_name(enum ntp3_check check)
{
	switch (check) {
	case NTP3_OK:
		return "ok";
	case NTP3_BAD_LENGTH:
		return "short packet";
	case NTP3_BAD_VERSION:
		return "bad version";
	case NTP3_BAD_MODE:
		return "not mode 4";
	case NTP3_BAD_ORIGIN:
		return "origin timestamp mismatch";
	}
	return "unknown check";
}

static bool refid_is(const uint8_t refid[4], const char *code)
{
	return memcmp(refid, code, 4) == 0;
}

/*
 * Stratum 0 means "the refid is a code, not a source" (RFC 5905 7.4). An
 * unsynchronised ntpd answers normally with INIT or STEP there: that is
 * not a kiss, and treating it as one would report a rate limit that does
 * not exist.
 */
static enum ntp3_kind classify(uint8_t stratum, const uint8_t refid[4])
{
	if (stratum == 0) {
		if (refid_is(refid, "RATE"))
			return NTP3_KISS_RATE;
		if (refid_is(refid, "DENY"))
			return NTP3_KISS_DENY;
		if (refid_is(refid, "RSTR"))
			return NTP3_KISS_RSTR;
		if (refid_is(refid, "INIT") || refid_is(refid, "STEP"))
			return NTP3_UNSYNCED;
		return NTP3_KISS_OTHER;
	}
	/* 16 is "unsynchronised"; 17-255 are reserved and no better. */
	if (stratum >= 16)
		return NTP3_UNSYNCED;
	return NTP3_SYNCED;
}

enum ntp3_check ntp3_parse_reply(const uint8_t *pkt, size_t len, uint64_t xmt,
				 struct ntp3_reply *reply)
{
	struct rd r = rd_init(pkt, len);
	struct ntp3_reply out;
	uint8_t b0, poll, precision, mode;
	const uint8_t *refid;

	if (pkt == NULL || len < NTP3_PACKET_LEN)
		return NTP3_BAD_LENGTH;
	if (!rd_u8(&r, &b0) || !rd_u8(&r, &out.stratum) || !rd_u8(&r, &poll) ||
	    !rd_u8(&r, &precision) || !rd_skip(&r, 8) ||
	    !rd_bytes(&r, 4, &refid) || !rd_skip(&r, 8) ||
	    !rd_u64(&r, &out.origin) || !rd_u64(&r, &out.receive) ||
	    !rd_u64(&r, &out.transmit))
		return NTP3_BAD_LENGTH;
	out.leap = b0 >> 6;
	out.version = (b0 >> 3) & 7;
	mode = b0 & 7;
	/* Two's complement log2 values; converted without relying on casts. */
	out.poll = (int8_t)(poll < 128 ? poll : poll - 256);
	out.precision = (int8_t)(precision < 128 ? precision : precision - 256);
	memcpy(out.refid, refid, sizeof(out.refid));
	out.kind = classify(out.stratum, out.refid);
	/* Filled before the checks so a rejected reply can still be logged. */
	*reply = out;

	if (out.version < 1 || out.version > 4)
		return NTP3_BAD_VERSION;
	if (mode != NTP3_MODE_SERVER)
		return NTP3_BAD_MODE;
	/*
	 * The origin echo is what ties the reply to our request: without it
	 * anyone could answer for the server.
	 */
	if (out.origin != xmt)
		return NTP3_BAD_ORIGIN;
	return NTP3_OK;
}

bool ntp3_is_kiss(enum ntp3_kind kind)
{
	switch (kind) {
	case NTP3_KISS_RATE:
	case NTP3_KISS_DENY:
	case NTP3_KISS_RSTR:
	case NTP3_KISS_OTHER:
		return true;
	case NTP3_SYNCED:
	case NTP3_UNSYNCED:
		break;
	}
	return false;
}

void ntp3_refid_str(const struct ntp3_reply *reply,
		    char out[NTP3_REFID_STRLEN])
{
	const uint8_t *id = reply->refid;

	if (reply->stratum <= 1) {
		size_t n = 4;

		/* "GPS\0" is a three-letter source name, not "GPS.". */
		while (n > 0 && id[n - 1] == '\0')
			n--;
		for (size_t i = 0; i < n; i++)
			out[i] = (id[i] >= 0x20 && id[i] < 0x7f) ? (char)id[i] : '.';
		out[n] = '\0';
		return;
	}
	(void)snprintf(out, NTP3_REFID_STRLEN, "%u.%u.%u.%u", id[0], id[1],
		       id[2], id[3]);
}
