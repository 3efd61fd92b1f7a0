/*
 * ntp3.h - the NTP client request (mode 3) and the server's reply (mode 4).
 *
 * Sent alongside the mode 6 request to tell "NTP answers but mode 6 is
 * silent" from "nothing answers". RFC 5905 packet, 48 octets, network order:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |LI | VN  |Mode |    Stratum    |     Poll      |   Precision   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                   Root Delay  /  Root Dispersion              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                    Reference ID (octets 12-15)                |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Reference Timestamp (16-23) | Origin Timestamp (24-31)    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |     Receive Timestamp (32-39)   | Transmit Timestamp (40-47)  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The request carries only LI 0, VN 4, mode 3 and a random transmit
 * timestamp, which the reply must echo as its origin timestamp.
 */
#ifndef NTPWIRE_NTP3_H
#define NTPWIRE_NTP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NTP3_PACKET_LEN 48
#define NTP3_VERSION 4
#define NTP3_MODE_CLIENT 3
#define NTP3_MODE_SERVER 4

/* Fill buf with a client request whose transmit timestamp is `xmt`. */
void ntp3_build_request(uint8_t buf[NTP3_PACKET_LEN], uint64_t xmt);

enum ntp3_check {
	NTP3_OK = 0,
	NTP3_BAD_LENGTH,  /* shorter than 48 octets */
	NTP3_BAD_VERSION, /* VN outside 1..4 */
	NTP3_BAD_MODE,    /* not mode 4 (server) */
	NTP3_BAD_ORIGIN,  /* origin timestamp does not echo our transmit */
};

/* Stable, human-readable name, e.g. "origin timestamp mismatch". */
const char *ntp3_check_name(enum ntp3_check check);

/* What a valid reply says about the server. */
enum ntp3_kind {
	NTP3_SYNCED = 0,   /* stratum 1..15 */
	NTP3_UNSYNCED,     /* stratum 0 with INIT/STEP, or stratum 16 */
	NTP3_KISS_RATE,    /* Kiss-o'-Death RATE: slow down */
	NTP3_KISS_DENY,    /* Kiss-o'-Death DENY: access denied */
	NTP3_KISS_RSTR,    /* Kiss-o'-Death RSTR: access restricted */
	NTP3_KISS_OTHER,   /* stratum 0, another kiss code */
};

struct ntp3_reply {
	uint8_t leap;      /* LI */
	uint8_t version;   /* VN */
	uint8_t stratum;   /* 0 = kiss code in refid */
	int8_t poll;       /* log2 seconds */
	int8_t precision;  /* log2 seconds */
	uint8_t refid[4];  /* raw octets 12..15 */
	uint64_t origin;   /* octets 24..31 */
	uint64_t receive;  /* octets 32..39 */
	uint64_t transmit; /* octets 40..47 */
	enum ntp3_kind kind;
};

/*
 * Validate a datagram as the reply to the request sent with transmit
 * timestamp `xmt` (length, version, mode, origin, in that order) and
 * classify it. Anything past 48 octets (extension fields, MAC) is ignored.
 * *reply is filled on NTP3_OK, and for logging on any result but
 * NTP3_BAD_LENGTH. Stratum 17-255 (reserved) count as unsynchronised.
 */
enum ntp3_check ntp3_parse_reply(const uint8_t *pkt, size_t len, uint64_t xmt,
				 struct ntp3_reply *reply)
	__attribute__((warn_unused_result));

/* True for the Kiss-o'-Death kinds (RATE, DENY, RSTR, other). */
bool ntp3_is_kiss(enum ntp3_kind kind);

#define NTP3_REFID_STRLEN 16 /* "255.255.255.255" + NUL */

/*
 * The refid as ntpq shows it: at stratum 0 and 1 up to 4 ASCII characters
 * (trailing NULs dropped, anything unprintable as '.'); otherwise a dotted
 * IPv4 address (for IPv6 upstreams, the first octets of a hash).
 */
void ntp3_refid_str(const struct ntp3_reply *reply,
		    char out[NTP3_REFID_STRLEN]);

#endif
