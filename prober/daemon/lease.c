/*
 * lease.c - the lease budget (lease.h).
 */
#include "daemon/lease.h"

uint64_t lease_usable_ms(const struct nv_config *cfg)
{
	uint64_t slack = cfg->queue.lease_time_ms > cfg->probe.timeout_ms
				 ? cfg->queue.lease_time_ms - cfg->probe.timeout_ms
				 : 0;
	/* Half the slack rounded up: what is left is always below it. */
	uint64_t half = slack - slack / 2;
	uint64_t margin = half < LEASE_MARGIN_MS ? half : LEASE_MARGIN_MS;

	return slack - margin;
}

unsigned lease_start_capacity(const struct nv_config *cfg, double tokens)
{
	/*
	 * Counting two tokens per attempt keeps the estimate on the safe
	 * side (an answered attempt spends one or two) and leaves room for
	 * the retransmits of probes already out.
	 */
	double per_start = cfg->rate_limit.global_burst >= 2 ? 2.0 : 1.0;
	double n = (tokens + cfg->rate_limit.global_pps *
				     (double)lease_usable_ms(cfg) / 1000.0) /
		   per_start; /* truncated below */

	if (!(n >= 1.0))
		return 1;
	return n > (double)cfg->probe.max_in_flight ? cfg->probe.max_in_flight
						     : (unsigned)n;
}

void lease_bucket_init(struct lease_bucket *b, const struct nv_config *cfg,
		       uint64_t now_ms)
{
	b->level = (double)cfg->rate_limit.global_burst;
	b->at_ms = now_ms;
}

void lease_bucket_refill(struct lease_bucket *b, const struct nv_config *cfg,
			 uint64_t now_ms)
{
	double burst = (double)cfg->rate_limit.global_burst;

	/* A clock that goes backwards refills nothing. */
	if (now_ms > b->at_ms)
		b->level += cfg->rate_limit.global_pps *
			    (double)(now_ms - b->at_ms) / 1000.0;
	if (now_ms > b->at_ms)
		b->at_ms = now_ms;
	if (b->level > burst)
		b->level = burst;
}

void lease_bucket_take(struct lease_bucket *b, const struct nv_config *cfg,
		       uint64_t now_ms)
{
	lease_bucket_refill(b, cfg, now_ms);
	b->level = b->level >= 1.0 ? b->level - 1.0 : 0.0;
}
