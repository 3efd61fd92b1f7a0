/* hexfile.c - see hexfile.h. Test code: stdio is fine here. */
#include "hexfile.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef NV_TEST_DATA
#error "NV_TEST_DATA must name the tests/data directory"
#endif

static int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* True if line (without its newline) is "--" with optional blanks. */
static bool is_separator(const char *line)
{
	while (isspace((unsigned char)*line))
		line++;
	if (strncmp(line, "--", 2) != 0)
		return false;
	line += 2;
	while (isspace((unsigned char)*line))
		line++;
	return *line == '\0';
}

/*
 * The hex digits of one line (up to a '#') appended to buf[*used..cap);
 * *hi carries a pending high nibble (-1: none) from line to line.
 * Returns -1, having said why, on a non-hex character or a full buffer.
 */
static int hex_line(const char *line, uint8_t *buf, size_t cap, size_t *used,
		    int *hi, const char *path, size_t lineno)
{
	for (const char *c = line; *c != '\0' && *c != '#'; c++) {
		int d;

		if (isspace((unsigned char)*c))
			continue;
		d = hex_digit((unsigned char)*c);
		if (d < 0) {
			fprintf(stderr, "%s:%zu: not hex: '%c'\n", path,
				lineno, *c);
			return -1;
		}
		if (*hi < 0) {
			*hi = d;
			continue;
		}
		if (*used >= cap) {
			fprintf(stderr, "%s:%zu: more than %zu octets\n",
				path, lineno, cap);
			return -1;
		}
		buf[(*used)++] = (uint8_t)(*hi << 4 | d);
		*hi = -1;
	}
	return 0;
}

static int load(const char *name, uint8_t *buf, size_t cap,
		struct hexpkt *pkts, size_t max_pkts, size_t *n)
{
	char path[4096], line[4096];
	FILE *f;
	size_t used = 0, start = 0, npk = 0, lineno = 0;
	int hi = -1, rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", NV_TEST_DATA, name) >=
	    (int)sizeof(path)) {
		fprintf(stderr, "hexfile: path too long: %s\n", name);
		return -1;
	}
	f = fopen(path, "r");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fprintf(stderr, "%s:%zu: line too long\n", path, lineno);
			goto out;
		}
		if (is_separator(line)) {
			if (pkts == NULL) {
				fprintf(stderr, "%s:%zu: \"--\" in a single-packet file\n",
					path, lineno);
				goto out;
			}
			if (hi >= 0 || npk >= max_pkts) {
				fprintf(stderr, "%s:%zu: odd digits or too many packets\n",
					path, lineno);
				goto out;
			}
			pkts[npk].p = buf + start;
			pkts[npk].len = used - start;
			npk++;
			start = used;
			continue;
		}
		if (hex_line(line, buf, cap, &used, &hi, path, lineno) < 0)
			goto out;
	}
	if (ferror(f) || hi >= 0) {
		fprintf(stderr, "%s: read error or odd number of digits\n", path);
		goto out;
	}
	if (pkts != NULL) {
		if (npk >= max_pkts) {
			fprintf(stderr, "%s: more than %zu packets\n", path, max_pkts);
			goto out;
		}
		pkts[npk].p = buf + start;
		pkts[npk].len = used - start;
		*n = npk + 1;
	} else {
		*n = used;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int hexfile_load(const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	return load(name, buf, cap, NULL, 0, len);
}

int hexfile_load_set(const char *name, uint8_t *buf, size_t cap,
		     struct hexpkt *pkts, size_t max_pkts, size_t *n)
{
	return load(name, buf, cap, pkts, max_pkts, n);
}
