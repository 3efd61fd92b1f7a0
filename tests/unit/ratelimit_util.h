/*
 * ratelimit_util.h - what the rate limiter tests share: addresses as the
 * probe hands them over, limits loose enough that only the one under test
 * binds, and a simulated clock in milliseconds.
 */
#ifndef NTPVERIFY_TEST_RATELIMIT_UTIL_H
#define NTPVERIFY_TEST_RATELIMIT_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/ratelimit.h"

#define SEC 1000u
#define HOUR (3600u * SEC)

/* An address literal with a port, as the probe would hand it over. */
struct addr {
	struct sockaddr_storage ss; /* AF_INET or AF_INET6 */
};

static inline const struct sockaddr *sa(const struct addr *a)
{
	return (const struct sockaddr *)&a->ss;
}

static inline struct addr addr_of(const char *text, uint16_t port)
{
	struct addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else {
		fail_msg("bad literal %s", text);
	}
	return a;
}

/* Destination number i: IPv4 for even i, IPv6 for odd, all distinct. */
static inline struct addr addr_n(uint32_t i)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (i % 2 == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0x0b000000u + i);
		sin->sin_port = htons(123);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[0] = 0x2a;
		sin6->sin6_addr.s6_addr[1] = 0x01;
		memcpy(&sin6->sin6_addr.s6_addr[12], &i, sizeof(i));
		sin6->sin6_port = htons(123);
	}
	return a;
}

/* Deterministic pseudo-random numbers (xorshift64). */
static inline uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Limits loose enough that only the one under test binds. */
static inline struct ratelimit_params loose(void)
{
	struct ratelimit_params p = {
		.global_pps = 1e6,
		.global_burst = 1000000,
		.per_destination_interval_ms = 0,
		.per_destination_daily_packets = 1000000,
		.kod_holdoff_ms = 0,
	};
	return p;
}

static inline struct ratelimit *make(const struct ratelimit_params *p)
{
	struct ratelimit *rl = ratelimit_new(p);
	assert_non_null(rl);
	return rl;
}

/* may_start, returning the verdict and filling reason/not_before. */
static inline bool may(struct ratelimit *rl, const struct addr *a, uint64_t now,
		uint64_t *nb, const char **why)
{
	*nb = 0;
	*why = NULL;
	return ratelimit_may_start(rl, sa(a), now, nb, why);
}

#endif
