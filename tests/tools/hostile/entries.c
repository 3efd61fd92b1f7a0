/*
 * entries.c - which scenario each destination address gets (the map
 * file, --default) and what happened there (the stats file).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"

static struct entry entries[MAX_ENTRIES];
static unsigned n_entries;
static struct entry default_entry;

void set_default_scenario(const struct scenario *sc)
{
	default_entry.sc = sc;
	default_entry.min_gap_ms = -1;
}

struct entry *find_entry(struct in_addr a)
{
	for (unsigned i = 0; i < n_entries; i++)
		if (entries[i].addr.s_addr == a.s_addr)
			return &entries[i];
	return &default_entry;
}

/* " probes=N max_per_probe=N per_probe=A,B,..." ("-" for none). */
static void write_probes(FILE *f, const struct entry *e)
{
	unsigned n = e->n_probes < PROBE_LOG ? e->n_probes : PROBE_LOG;
	unsigned max = 0;

	for (unsigned i = 0; i < n; i++)
		if (e->probes[i].pkts > max)
			max = e->probes[i].pkts;
	fprintf(f, " probes=%u max_per_probe=%u per_probe=", e->n_probes, max);
	if (n == 0)
		fputc('-', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%u", i ? "," : "", e->probes[i].pkts);
}

static void write_entry(FILE *f, const struct entry *e, const char *addr)
{
	fprintf(f, "%s %s m6=%lu m3=%lu other=%lu sent=%lu junk=%lu "
		   "first_ms=%lld last_ms=%lld m6_last=%u/%u/%lld "
		   "m6_prev=%u/%u/%lld keyed=%lu lim_kod=%lu lim_drop=%lu "
		   "min_gap_ms=%lld",
		addr, e->sc->name, e->m6, e->m3, e->other, e->sent, e->junk,
		e->first_ms, e->last_ms, e->m6_log[0].port, e->m6_log[0].seq,
		e->m6_log[0].ms, e->m6_log[1].port, e->m6_log[1].seq,
		e->m6_log[1].ms, e->keyed, e->lim_kod, e->lim_drop,
		e->min_gap_ms);
	write_probes(f, e);
	fputc('\n', f);
}

void write_stats(FILE *f)
{
	char a[INET_ADDRSTRLEN];

	for (unsigned i = 0; i < n_entries; i++) {
		inet_ntop(AF_INET, &entries[i].addr, a, sizeof(a));
		write_entry(f, &entries[i], a);
	}
	write_entry(f, &default_entry, "default");
}

void save_stats(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (path == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	write_stats(f);
	if (fclose(f) == 0)
		rename(tmp, path);
	hr.stats_dirty = false;
}

int load_map(const char *path)
{
	char line[512];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char addr[128], name[128], lim[16], extra[2];
		lineno++;
		line[strcspn(line, "#")] = '\0';
		int got = sscanf(line, "%127s %127s %15s %1s", addr, name, lim,
				 extra);
		if (got <= 0)
			continue;
		struct entry *e = &entries[n_entries];
		e->own_limited = got == 3;
		if (got < 2 || got > 3 ||
		    inet_pton(AF_INET, addr, &e->addr) != 1 ||
		    (e->sc = find_scenario(name)) == NULL ||
		    (got == 3 && limited_parse(lim, &e->limited) < 0) ||
		    n_entries + 1 >= MAX_ENTRIES) {
			fprintf(stderr, "%s:%u: want \"IPV4ADDRESS SCENARIO "
					"[off|drop|kod]\" (hostile_responder "
					"--list)\n",
				path, lineno);
			fclose(f);
			return -1;
		}
		e->min_gap_ms = -1;
		n_entries++;
	}
	fclose(f);
	return 0;
}
