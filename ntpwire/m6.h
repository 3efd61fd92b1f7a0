/*
 * m6.h - NTP mode 6 (control message) requests and replies.
 *
 * Pure encode/decode: buffers in, structs out. Nothing here allocates,
 * opens a socket or keeps state between calls.
 *
 * Mode 6 header (RFC 1305 appendix B, as implemented by ntpd and NTPsec),
 * all fields in network byte order:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |LI | VN  |Mode |R|E|M| OpCode  |        Sequence Number        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |            Status             |        Association ID         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |            Offset             |             Count             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |        Data (count octets), padded to a multiple of 4         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Replies echo the request's version, opcode and sequence with R set; M is
 * set on every fragment but the last; E marks an error whose code is the
 * high byte of the status word.
 */
#ifndef NTPWIRE_M6_H
#define NTPWIRE_M6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define M6_HEADER_LEN 12
#define M6_MODE 6
#define M6_OP_READVAR 2
#define M6_VERSION_DEFAULT 2 /* what ntpq sends; ntpd echoes 1..4 */

#define M6_BIT_RESPONSE 0x80
#define M6_BIT_ERROR 0x40
#define M6_BIT_MORE 0x20
#define M6_OPCODE_MASK 0x1f

/* Largest data payload of one fragment that ntpd/NTPsec send. */
#define M6_FRAG_DATA_MAX 468
/* ntpq gives up after this many fragments; so do we. */
#define M6_MAX_FRAGMENTS 32
/* Upper bound on a reassembled reply. */
#define M6_MAX_TOTAL (M6_MAX_FRAGMENTS * M6_FRAG_DATA_MAX)
/* Largest request we build: one name list in one datagram. */
#define M6_REQUEST_MAX (M6_HEADER_LEN + M6_FRAG_DATA_MAX)

/* A decoded header. Only m6_parse_reply() fills it. */
struct m6_header {
	uint8_t leap;       /* LI, 0..3 */
	uint8_t version;    /* VN, 0..7 */
	uint8_t mode;       /* 6 for control messages */
	bool response;      /* R bit */
	bool error;         /* E bit: status high byte holds the error code */
	bool more;          /* M bit: further fragments follow */
	uint8_t opcode;     /* 5 bits */
	uint16_t sequence;  /* echoes the request */
	uint16_t status;    /* system status word, or error code << 8 */
	uint16_t associd;   /* 0 = system variables */
	uint16_t offset;    /* byte offset of this fragment's data */
	uint16_t count;     /* data octets in this fragment, padding excluded */
};

/*
 * Build a READVAR request for association 0 naming the given variables,
 * joined with ',' and no spaces (NTPsec >= 1.2.3 rejects ", "), padded with
 * zeros to a multiple of 4 and no further (extra octets would be read as a
 * key ID and MAC).
 *
 * Names must be non-empty and contain only printable ASCII other than
 * space, ',', '=' and '"'. Returns the datagram length, or -1 if a name is
 * invalid, the list is empty, the joined names exceed M6_FRAG_DATA_MAX,
 * version is outside 1..4 (servers drop those silently) or the buffer is
 * too small.
 */
int m6_build_readvar(uint8_t *buf, size_t buflen, uint8_t version,
		     uint16_t sequence, const char *const *names, size_t n_names)
	__attribute__((warn_unused_result));

/* What a reply is checked against: the request it answers. */
struct m6_expect {
	uint8_t version;    /* sent VN; the reply must echo it */
	uint8_t opcode;     /* M6_OP_READVAR */
	uint16_t sequence;  /* random per request */
	uint16_t associd;   /* 0 */
};

/* Validation results, in the order the checks run. */
enum m6_check {
	M6_OK = 0,
	M6_BAD_LENGTH,      /* shorter than the 12-octet header */
	M6_BAD_VERSION,     /* VN differs from the request's */
	M6_BAD_MODE,        /* not mode 6 */
	M6_BAD_RESPONSE,    /* R bit clear: a request, not a reply */
	M6_BAD_OPCODE,      /* not the requested opcode */
	M6_BAD_SEQUENCE,    /* not our sequence number */
	M6_BAD_ASSOCIATION, /* not the association we asked about */
	M6_BAD_OFFSET,      /* offset/count past the fragment or total bound */
	M6_BAD_COUNT,       /* count larger than the datagram holds */
};

/* Stable, human-readable name of a check, e.g. "sequence mismatch". */
const char *m6_check_name(enum m6_check check);

/*
 * Decode and validate one datagram against the request it should answer.
 * Checks run in the order of enum m6_check and the first failure is
 * returned. On M6_OK, *hdr is filled and *data points at hdr->count octets
 * inside pkt (padding and anything past count are ignored). An error reply
 * (E bit) may carry a stale offset: its offset is not checked.
 * On any other result *data is NULL; *hdr is also filled (for logging)
 * unless the result is M6_BAD_LENGTH.
 */
enum m6_check m6_parse_reply(const uint8_t *pkt, size_t len,
			     const struct m6_expect *expect,
			     struct m6_header *hdr, const uint8_t **data)
	__attribute__((warn_unused_result));

/* Mode 6 error codes (status high byte when E is set). */
enum m6_error {
	M6_ERR_UNSPEC = 0,
	M6_ERR_PERMISSION = 1,
	M6_ERR_BADFMT = 2,
	M6_ERR_BADOP = 3,
	M6_ERR_BADASSOC = 4,
	M6_ERR_UNKNOWNVAR = 5,
	M6_ERR_BADVALUE = 6,
	M6_ERR_RESTRICT = 7,
};

/* The error code of an error reply. */
static inline unsigned m6_error_code(const struct m6_header *hdr)
{
	return hdr->status >> 8;
}

/*
 * Name of an error code: "unspecified", "permission", "bad format",
 * "bad opcode", "bad association", "unknown variable", "bad value",
 * "restrict"; NULL for codes outside 0..7.
 */
const char *m6_error_name(unsigned code);

#endif
