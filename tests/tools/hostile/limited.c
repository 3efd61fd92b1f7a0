/*
 * limited.c - --limited: the rate limit of ntp.org ntpd's `restrict ...
 * limited` (4.2.8, ntp_monitor.c, default `discard minimum 2 average 3`),
 * kept per source address at each destination address; and the counters
 * of packets per probe that let a test assert how many packets one probe
 * needed.
 *
 * ntpd's rule, per source address, for every packet (any mode): the
 * headway counter `leak` drops by the time since the source's previous
 * packet (never below 0). The packet is within the limits when that time
 * is at least the minimum and leak plus the average headway stays below
 * eight average headways; then leak grows by the headway less a grace
 * (ntpd: 2 s of its 8). Otherwise the packet is over the limit: a RATE
 * kiss when `kod` is set and leak was below the eight headways (leak is
 * then set above them, which silences the kisses for a while), else
 * dropped. A source's first packet is always within the limits.
 *
 * Two differences, both making this responder stricter than ntpd: times
 * are in milliseconds (ntpd rounds to seconds and forgives one second on
 * the minimum, so 1.5 s passes there but not here), and mode 6 over the
 * limit is dropped as NTPsec does (ntp.org's 4.2.8 answers it but counts
 * it). A prober that never trips this responder never trips either ntpd.
 */
#include <arpa/inet.h>
#include <string.h>

#include "hostile.h"

int limited_parse(const char *mode, enum limited_mode *out)
{
	if (strcmp(mode, "off") == 0)
		*out = LIMITED_OFF;
	else if (strcmp(mode, "drop") == 0)
		*out = LIMITED_DROP;
	else if (strcmp(mode, "kod") == 0)
		*out = LIMITED_KOD;
	else
		return -1;
	return 0;
}

/* The source's slot at this address; the stalest one is reused when full. */
static struct limit_state *source_state(struct entry *e, struct in_addr a)
{
	struct limit_state *oldest = &e->lim[0];

	for (unsigned i = 0; i < LIMIT_SOURCES; i++) {
		struct limit_state *s = &e->lim[i];
		if (s->src.s_addr == a.s_addr && s->last_ms != 0)
			return s;
		if (s->last_ms < oldest->last_ms)
			oldest = s;
	}
	memset(oldest, 0, sizeof(*oldest));
	oldest->src = a;
	return oldest;
}

/* ntpd's leaky bucket for one packet that is not the source's first. */
static enum limited_verdict bucket(struct limit_state *s, long long gap,
				   enum limited_mode mode)
{
	long long head = hr.limited_avg_ms, limit = 8 * head;

	s->leak_ms -= gap;
	if (s->leak_ms < 0)
		s->leak_ms = 0;
	if (gap >= hr.limited_min_ms && s->leak_ms + head < limit) {
		s->leak_ms += head - head / 4;
		return LV_PASS;
	}
	if (s->leak_ms < limit) {
		s->leak_ms = limit + head;
		return mode == LIMITED_KOD ? LV_KOD : LV_DROP;
	}
	return LV_DROP;
}

enum limited_verdict limited_check(struct entry *e, const struct request *rq)
{
	struct limit_state *s = source_state(e, rq->peer.sin_addr);
	long long now = now_ms(CLOCK_MONOTONIC);
	enum limited_mode mode = e->own_limited ? e->limited : hr.limited;
	enum limited_verdict v = LV_PASS;

	if (s->last_ms != 0) {
		long long gap = now - s->last_ms;
		if (e->min_gap_ms < 0 || gap < e->min_gap_ms)
			e->min_gap_ms = gap;
		if (mode != LIMITED_OFF)
			v = bucket(s, gap, mode);
	}
	s->last_ms = now;
	if (v == LV_KOD && rq->m6)
		v = LV_DROP; /* no kiss for mode 6 */
	if (v == LV_KOD)
		e->lim_kod++;
	else if (v == LV_DROP)
		e->lim_drop++;
	return v;
}

void count_probe(struct entry *e, const struct request *rq)
{
	uint16_t port = ntohs(rq->peer.sin_port);
	unsigned n = e->n_probes < PROBE_LOG ? e->n_probes : PROBE_LOG;

	for (unsigned i = 0; i < n; i++) {
		if (e->probes[i].port == port) {
			e->probes[i].pkts++;
			return;
		}
	}
	if (e->n_probes < PROBE_LOG) {
		e->probes[e->n_probes].port = port;
		e->probes[e->n_probes].pkts = 1;
	}
	e->n_probes++;
}
