/*
 * hexfile.h - packets for unit tests, read from hex files in tests/data/.
 *
 * Format: hex digits, whitespace ignored anywhere (including between the
 * two digits of an octet), '#' starts a comment running to the end of the
 * line. In a packet set, a line holding only "--" ends one packet and
 * starts the next.
 */
#ifndef NV_TEST_HEXFILE_H
#define NV_TEST_HEXFILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read NV_TEST_DATA "/" name into buf (cap octets). Returns 0 and sets
 * *len, or -1 (with a message on stderr) if the file is missing, holds a
 * non-hex character or an odd number of digits, contains "--" or does not
 * fit.
 */
int hexfile_load(const char *name, uint8_t *buf, size_t cap, size_t *len)
	__attribute__((warn_unused_result));

/* One packet of a set; p points into the caller's buffer. */
struct hexpkt {
	const uint8_t *p; /* first octet */
	size_t len;       /* octets */
};

/*
 * Read a packet set: packets are stored one after another in buf and
 * described by pkts[0..*n). Returns 0, or -1 as hexfile_load() does, or if
 * there are more than max_pkts packets. An empty packet (two separators in
 * a row) is kept as a zero-length packet.
 */
int hexfile_load_set(const char *name, uint8_t *buf, size_t cap,
		     struct hexpkt *pkts, size_t max_pkts, size_t *n)
	__attribute__((warn_unused_result));

#endif
