/*
 * policy.h - which destinations the prober may send packets to.
 *
 * Anyone can type any address into the pool's web site, so a destination
 * is untrusted input. Private, reserved, documentation, loopback and
 * link-local ranges are refused unless private targets are allowed (tests,
 * labs); unspecified, multicast and broadcast addresses are refused always.
 * IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the IPv4
 * address they embed.
 */
#ifndef NTPVERIFY_POLICY_H
#define NTPVERIFY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_PRIVATE,     /* refused unless private targets are allowed */
	POLICY_FORBIDDEN,   /* refused always */
};

/*
 * Judge a destination. On refusal, *why names the range (e.g. "loopback
 * 127.0.0.0/8"); a static string.
 */
enum policy_verdict policy_check(const struct sockaddr *sa, const char **why);

/* True when the prober may send to sa under the given setting. */
bool policy_allows(const struct sockaddr *sa, bool allow_private,
		   const char **why);

#endif
