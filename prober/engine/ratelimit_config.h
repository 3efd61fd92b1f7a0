/*
 * ratelimit_config.h - the configuration's rate limits as the limiter takes them.
 *
 * One conversion for the daemon and `check`, so both enforce exactly the
 * same limits from the same file.
 */
#ifndef NTPVERIFY_RATELIMIT_CONFIG_H
#define NTPVERIFY_RATELIMIT_CONFIG_H

#include "config/config.h"
#include "engine/ratelimit.h"

static inline struct ratelimit_params limits_from_config(const struct nv_config *cfg)
{
	struct ratelimit_params p = {
		.global_pps = cfg->rate_limit.global_pps,
		.global_burst = cfg->rate_limit.global_burst,
		.per_destination_interval_ms =
			cfg->rate_limit.per_destination_interval_ms,
		.per_destination_daily_packets =
			cfg->rate_limit.per_destination_daily_packets,
		.kod_holdoff_ms = cfg->rate_limit.kod_holdoff_ms,
		.max_destinations = cfg->rate_limit.max_destinations,
		.ipv6_prefix_len = cfg->rate_limit.ipv6_prefix_length,
		.per_prefix_daily_packets =
			cfg->rate_limit.per_prefix_daily_packets,
		.per_prefix_interval_ms = cfg->rate_limit.per_prefix_interval_ms,
		/* The probe's pacing gap holds across attempts too. */
		.packet_gap_ms = cfg->probe.retransmit_ms,
	};
	return p;
}

#endif
