/*
 * m6.c - NTP mode 6 READVAR requests, reply validation, error names.
 *
 * Header (see m6.h for the full diagram), network order:
 *
 *     octet 0      LI(2) VN(3) Mode(3)
 *     octet 1      R E M OpCode(5)
 *     octets 2-3   sequence      octets 4-5   status
 *     octets 6-7   association   octets 8-9   offset
 *     octets 10-11 count         then count octets of data, padding
 */
#include "m6.h"

#include <string.h>

#include "rd.h"

/*
 * ntpd splits a request's data on ',' and looks each piece up by its exact
 * spelling: a trailing space or CR LF makes the name unknown, '=' would be
 * read as a value and '"' cannot appear in an ntp.conf variable name. So
 * refuse those here rather than send a request that can only fail.
 */
static bool name_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != ',' && c != '=' && c != '"';
}

/* Length of a valid name, or 0 if invalid or longer than one fragment. */
static size_t name_len(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return 0;
	for (; name[n] != '\0'; n++) {
		if (n >= M6_FRAG_DATA_MAX || !name_char_ok((unsigned char)name[n]))
			return 0;
	}
	return n;
}

int m6_build_readvar(uint8_t *buf, size_t buflen, uint8_t version,
		     uint16_t sequence, const char *const *names, size_t n_names)
{
	size_t count = 0, padded, total;
	uint8_t *p;

	if (buf == NULL || names == NULL || n_names == 0)
		return -1;
	/* ntpd and NTPsec silently drop VN 0 and 5-7: never send them. */
	if (version < 1 || version > 4)
		return -1;
	for (size_t i = 0; i < n_names; i++) {
		size_t n = name_len(names[i]);

		if (n == 0)
			return -1;
		count += n + (i > 0 ? 1 : 0);
		/* The server reads one datagram; a longer list cannot be sent. */
		if (count > M6_FRAG_DATA_MAX)
			return -1;
	}
	/*
	 * The server answers an unpadded request with "bad format" and reads
	 * anything past the padding as a key ID and MAC: pad to exactly the
	 * next multiple of 4.
	 */
	padded = (count + 3) & ~(size_t)3;
	total = M6_HEADER_LEN + padded;
	if (total > buflen)
		return -1;

	p = buf;
	*p++ = (uint8_t)(version << 3 | M6_MODE); /* LI 0 */
	*p++ = M6_OP_READVAR;                     /* R, E, M clear */
	p = wr_u16(p, sequence);
	p = wr_u16(p, 0); /* status */
	p = wr_u16(p, 0); /* association 0: system variables */
	p = wr_u16(p, 0); /* offset */
	p = wr_u16(p, (uint16_t)count);
	for (size_t i = 0; i < n_names; i++) {
		size_t n = strlen(names[i]);

		if (i > 0)
			*p++ = ',';
		memcpy(p, names[i], n);
		p += n;
	}
	memset(p, 0, padded - count);
	return (int)total;
}

const char *m6_check_name(enum m6_check check)
{
	switch (check) {
	case M6_OK:
		return "ok";
	case M6_BAD_LENGTH:
		return "short packet";
	case M6_BAD_VERSION:
		return "version mismatch";
	case M6_BAD_MODE:
		return "not mode 6";
	case M6_BAD_RESPONSE:
		return "not a response";
	case M6_BAD_OPCODE:
		return "opcode mismatch";
	case M6_BAD_SEQUENCE:
		return "sequence mismatch";
	case M6_BAD_ASSOCIATION:
		return "association mismatch";
	case M6_BAD_OFFSET:
		return "offset out of range";
	case M6_BAD_COUNT:
		return "count exceeds datagram";
	}
	return "unknown check";
}

enum m6_check m6_parse_reply(const uint8_t *pkt, size_t len,
			     const struct m6_expect *expect,
			     struct m6_header *hdr, const uint8_t **data)
{
	struct rd r = rd_init(pkt, len);
	struct m6_header h;
	uint8_t b0, b1;
	const uint8_t *d;

	*data = NULL;
	if (pkt == NULL || len < M6_HEADER_LEN)
		return M6_BAD_LENGTH;
	if (!rd_u8(&r, &b0) || !rd_u8(&r, &b1) || !rd_u16(&r, &h.sequence) ||
	    !rd_u16(&r, &h.status) || !rd_u16(&r, &h.associd) ||
	    !rd_u16(&r, &h.offset) || !rd_u16(&r, &h.count))
		return M6_BAD_LENGTH;
	h.leap = b0 >> 6;
	h.version = (b0 >> 3) & 7;
	h.mode = b0 & 7;
	h.response = (b1 & M6_BIT_RESPONSE) != 0;
	h.error = (b1 & M6_BIT_ERROR) != 0;
	h.more = (b1 & M6_BIT_MORE) != 0;
	h.opcode = b1 & M6_OPCODE_MASK;
	/* Filled before the checks so a rejected reply can still be logged. */
	*hdr = h;

	if (h.version != expect->version)
		return M6_BAD_VERSION;
	if (h.mode != M6_MODE)
		return M6_BAD_MODE;
	if (!h.response)
		return M6_BAD_RESPONSE;
	if (h.opcode != expect->opcode)
		return M6_BAD_OPCODE;
	if (h.sequence != expect->sequence)
		return M6_BAD_SEQUENCE;
	if (h.associd != expect->associd)
		return M6_BAD_ASSOCIATION;
	if (h.count > M6_FRAG_DATA_MAX)
		return M6_BAD_OFFSET;
	/*
	 * ctl_error() in ntpd and NTPsec leaves the previous reply's offset in
	 * the header (capture V4), so an error reply's offset means nothing.
	 */
	if (!h.error && (size_t)h.offset + h.count > M6_MAX_TOTAL)
		return M6_BAD_OFFSET;
	/* Octets past count are padding, possibly stale (NTPsec): ignored. */
	if (!rd_bytes(&r, h.count, &d))
		return M6_BAD_COUNT;
	*data = d;
	return M6_OK;
}

const char *m6_error_name(unsigned code)
{
	static const char *const names[] = {
		[M6_ERR_UNSPEC] = "unspecified",
		[M6_ERR_PERMISSION] = "permission",
		[M6_ERR_BADFMT] = "bad format",
		[M6_ERR_BADOP] = "bad opcode",
		[M6_ERR_BADASSOC] = "bad association",
		[M6_ERR_UNKNOWNVAR] = "unknown variable",
		[M6_ERR_BADVALUE] = "bad value",
		[M6_ERR_RESTRICT] = "restrict",
	};

	if (code >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[code];
}
