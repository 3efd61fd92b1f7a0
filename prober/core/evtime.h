/*
 * evtime.h - the clocks and the timer arming the prober's event code shares.
 *
 * Monotonic milliseconds for rate limits and timeouts (never steps), wall
 * seconds for what is stored in the database.
 */
#ifndef NTPVERIFY_EVTIME_H
#define NTPVERIFY_EVTIME_H

#include <event2/event.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t evtime_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t evtime_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double evtime_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* (Re)arm a timer event to fire `ms` milliseconds from now. */
static inline void evtime_add_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

#endif
