/*
 * retry.h - when a verification is probed again: the retry schedule.
 */
#ifndef NTPVERIFY_RETRY_H
#define NTPVERIFY_RETRY_H

#include "config/config.h"

/*
 * An attempt count past any schedule: retry_delay_s() then gives the last
 * (longest) step, for rows that should wait as long as the schedule ever
 * waits.
 */
#define RETRY_LAST_STEP (1 << 30)

/*
 * Delay in seconds before the next attempt after `attempts` earlier ones:
 * step `attempts` of cfg->retry.schedule_ms, the last step once the
 * schedule runs out; negative counts mean the first step. The schedule
 * has at least one step (the configuration checks that).
 */
double retry_delay_s(const struct nv_config *cfg, int attempts);

#endif
