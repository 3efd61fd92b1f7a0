/*
 * policy.h - which destinations the prober may send packets to.
 *
 * Anyone can type any address into the pool's web site, so a destination
 * is untrusted input. Private, reserved, documentation, loopback and
 * link-local ranges are refused unless private targets are allowed (tests,
 * labs); unspecified, multicast and broadcast addresses are refused always.
 * IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 IPv6 addresses are judged by
 * the IPv4 address they embed. The local-use NAT64 prefix 64:ff9b:1::/48
 * (RFC 8215) is not globally reachable, so it counts as private; within
 * it every RFC 6052 form the address could take (/48, /56, /64 or /96
 * prefix, zero suffix) is judged too, and the worst verdict wins, so a
 * lab that allows private targets still cannot reach multicast, broadcast
 * or "this network" through it.
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
