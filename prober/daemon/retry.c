/*
 * retry.c - the retry schedule.
 */
#include <stddef.h>

#include "daemon/retry.h"

double retry_delay_s(const struct nv_config *cfg, int attempts)
{
	size_t i = attempts < 0 ? 0 : (size_t)attempts;

	if (i >= cfg->retry.n_schedule)
		i = cfg->retry.n_schedule - 1;
	return (double)cfg->retry.schedule_ms[i] / 1000.0;
}
