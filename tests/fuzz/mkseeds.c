/*
 * mkseeds.c - turn the packet hex files of tests/data into seed inputs
 * for the fuzz targets, in each target's input format.
 *
 *     mkseeds KIND OUTDIR FILE[+FILE...]...
 *
 * FILE names a hex file under tests/data (read with the unit tests'
 * hexfile.c, so a packet set's "--" separates datagrams); FILE+FILE joins
 * the packets of several files into one seed, e.g. the two fragments of
 * capture V3. The seed is written to OUTDIR/FILE without ".hex".
 *
 *     m6       VN, opcode, sequence, association of the first packet (6
 *              octets), then every packet with a 2-octet length prefix
 *     varlist  the data octets of the packets one after another, so an
 *              in-order fragment set gives the reassembled reply
 *     ntp3     the packet's origin timestamp (its octets 24..31, or zeros
 *              for a short packet), then the packet
 *
 * Test code: stdio and exit() are fine here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hexfile.h"

#define MKSEEDS_MAX_PKTS 64
#define MKSEEDS_BUF (64 * 1024)

/* The seed being assembled. */
static uint8_t seed[2 * MKSEEDS_BUF];
static size_t seed_len;

static void put(const void *p, size_t n)
{
	if (n > sizeof(seed) - seed_len) {
		fprintf(stderr, "mkseeds: seed too large\n");
		exit(1);
	}
	memcpy(seed + seed_len, p, n);
	seed_len += n;
}

static void add_packet(const char *kind, const struct hexpkt *pk, int first)
{
	static const uint8_t zeros[8];

	if (strcmp(kind, "m6") == 0) {
		uint8_t hdr[6] = { 0 }, lp[2];

		if (first && pk->len >= 6) {
			hdr[0] = (pk->p[0] >> 3) & 7;
			hdr[1] = pk->p[1] & 0x1f;
			memcpy(hdr + 2, pk->p + 2, 2); /* sequence */
			memcpy(hdr + 4, pk->p + 6, 2); /* association */
		}
		if (first)
			put(hdr, sizeof(hdr));
		lp[0] = (uint8_t)(pk->len >> 8);
		lp[1] = (uint8_t)pk->len;
		put(lp, sizeof(lp));
		put(pk->p, pk->len);
	} else if (strcmp(kind, "varlist") == 0) {
		size_t count;

		if (pk->len < 12)
			return;
		count = (size_t)pk->p[10] << 8 | pk->p[11];
		if (count > pk->len - 12)
			count = pk->len - 12;
		put(pk->p + 12, count);
	} else if (strcmp(kind, "ntp3") == 0) {
		put(pk->len >= 32 ? pk->p + 24 : zeros, 8);
		put(pk->p, pk->len);
	} else {
		fprintf(stderr, "mkseeds: unknown kind %s\n", kind);
		exit(2);
	}
}

static void make_seed(const char *kind, const char *outdir, const char *arg)
{
	static uint8_t buf[MKSEEDS_BUF];
	struct hexpkt pkts[MKSEEDS_MAX_PKTS];
	char names[1024], out[4096], *name, *save = NULL, *dot;
	int first = 1;
	FILE *f;

	if (snprintf(names, sizeof(names), "%s", arg) >= (int)sizeof(names)) {
		fprintf(stderr, "mkseeds: name too long: %s\n", arg);
		exit(2);
	}
	seed_len = 0;
	for (name = strtok_r(names, "+", &save); name != NULL;
	     name = strtok_r(NULL, "+", &save)) {
		size_t n;

		if (hexfile_load_set(name, buf, sizeof(buf), pkts,
				     MKSEEDS_MAX_PKTS, &n) != 0)
			exit(1);
		for (size_t i = 0; i < n; i++, first = 0)
			add_packet(kind, &pkts[i], first);
	}

	snprintf(out, sizeof(out), "%s/%s", outdir, arg);
	dot = strstr(out, ".hex");
	while (dot != NULL) { /* every ".hex" of a joined name */
		memmove(dot, dot + 4, strlen(dot + 4) + 1);
		dot = strstr(dot, ".hex");
	}
	f = fopen(out, "wb");
	if (f == NULL || fwrite(seed, 1, seed_len, f) != seed_len ||
	    fclose(f) != 0) {
		perror(out);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: mkseeds m6|varlist|ntp3 OUTDIR FILE[+FILE...]...\n");
		return 2;
	}
	for (int i = 3; i < argc; i++)
		make_seed(argv[1], argv[2], argv[i]);
	return 0;
}
