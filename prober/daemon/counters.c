/*
 * counters.c - the round-trip histogram and the recent-outcomes ring.
 */
#include <stdio.h>

#include "daemon/counters.h"

const double rtt_bucket_bounds[RTT_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

int rtt_bucket_index(double rtt_s)
{
	for (int i = 0; i < RTT_BUCKETS; i++)
		if (rtt_s <= rtt_bucket_bounds[i])
			return i;
	return -1;
}

void counters_count_attempt(struct daemon_counters *c, int64_t id,
			    const char *server, enum outcome outcome,
			    double rtt_ms, double at, const char *detail)
{
	struct recent_outcome *r = &c->recent[c->recent_next];

	c->outcomes[outcome]++;
	if (rtt_ms >= 0) {
		double s = rtt_ms / 1000.0;
		int b = rtt_bucket_index(s);
		c->rtt_count++;
		c->rtt_sum_s += s;
		if (b >= 0)
			c->rtt_buckets[b]++;
	}
	r->at = at;
	r->id = id;
	snprintf(r->server, sizeof(r->server), "%s", server);
	r->outcome = outcome;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	c->recent_next = (c->recent_next + 1) % RECENT_MAX;
	if (c->recent_n < RECENT_MAX)
		c->recent_n++;
}

const struct recent_outcome *counters_recent(const struct daemon_counters *c,
					     unsigned k)
{
	if (k >= c->recent_n)
		return NULL;
	return &c->recent[(c->recent_next + RECENT_MAX - 1 - k) % RECENT_MAX];
}
