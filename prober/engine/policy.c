#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "engine/policy.h"

/* One refused range; addresses are in network order. */
struct range {
	uint8_t prefix[16];
	unsigned bits;
	enum policy_verdict verdict;
	const char *why;
};

/* IANA special-purpose IPv4 registry, plus multicast and class E. */
static const struct range ranges4[] = {
	{ { 0 }, 8, POLICY_FORBIDDEN, "\"this network\" 0.0.0.0/8" },
	{ { 10 }, 8, POLICY_PRIVATE, "private 10.0.0.0/8" },
	{ { 100, 64 }, 10, POLICY_PRIVATE, "shared address space 100.64.0.0/10" },
	{ { 127 }, 8, POLICY_PRIVATE, "loopback 127.0.0.0/8" },
	{ { 169, 254 }, 16, POLICY_PRIVATE, "link-local 169.254.0.0/16" },
	{ { 172, 16 }, 12, POLICY_PRIVATE, "private 172.16.0.0/12" },
	{ { 192, 0, 0 }, 24, POLICY_PRIVATE, "IETF protocol assignments 192.0.0.0/24" },
	{ { 192, 0, 2 }, 24, POLICY_PRIVATE, "documentation 192.0.2.0/24" },
	{ { 192, 88, 99 }, 24, POLICY_PRIVATE, "6to4 relay anycast 192.88.99.0/24" },
	{ { 192, 168 }, 16, POLICY_PRIVATE, "private 192.168.0.0/16" },
	{ { 198, 18 }, 15, POLICY_PRIVATE, "benchmarking 198.18.0.0/15" },
	{ { 198, 51, 100 }, 24, POLICY_PRIVATE, "documentation 198.51.100.0/24" },
	{ { 203, 0, 113 }, 24, POLICY_PRIVATE, "documentation 203.0.113.0/24" },
	{ { 224 }, 4, POLICY_FORBIDDEN, "multicast 224.0.0.0/4" },
	{ { 255, 255, 255, 255 }, 32, POLICY_FORBIDDEN, "broadcast 255.255.255.255" },
	{ { 240 }, 4, POLICY_PRIVATE, "reserved 240.0.0.0/4" },
};

/* IANA special-purpose IPv6 registry (the parts that matter here). */
static const struct range ranges6[] = {
	{ { 0 }, 128, POLICY_FORBIDDEN, "unspecified ::" },
	{ { [15] = 1 }, 128, POLICY_PRIVATE, "loopback ::1" },
	{ { [10] = 0xff, [11] = 0xff }, 96, POLICY_PRIVATE, "IPv4-mapped ::ffff:0:0/96" },
	{ { 0 }, 96, POLICY_PRIVATE, "IPv4-compatible ::/96" },
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, POLICY_PRIVATE,
	  "local-use NAT64 64:ff9b:1::/48" },
	{ { 0x01, 0x00 }, 64, POLICY_PRIVATE, "discard-only 100::/64" },
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, POLICY_PRIVATE, "documentation 2001:db8::/32" },
	{ { 0x20, 0x01, 0x00, 0x02, 0, 0 }, 48, POLICY_PRIVATE, "benchmarking 2001:2::/48" },
	{ { 0x20, 0x01, 0x00, 0x10 }, 28, POLICY_PRIVATE, "ORCHID 2001:10::/28" },
	{ { 0x20, 0x01, 0x00, 0x20 }, 28, POLICY_PRIVATE, "ORCHIDv2 2001:20::/28" },
	{ { 0x3f, 0xff }, 20, POLICY_PRIVATE, "documentation 3fff::/20" },
	{ { 0xfc }, 7, POLICY_PRIVATE, "unique local fc00::/7" },
	{ { 0xfe, 0x80 }, 10, POLICY_PRIVATE, "link-local fe80::/10" },
	{ { 0xfe, 0xc0 }, 10, POLICY_PRIVATE, "site-local fec0::/10" },
	{ { 0xff }, 8, POLICY_FORBIDDEN, "multicast ff00::/8" },
};

static bool prefix_match(const uint8_t *addr, const uint8_t *prefix,
			 unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(addr, prefix, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (addr[whole] & mask) == (prefix[whole] & mask);
}

static enum policy_verdict judge(const uint8_t *addr, const struct range *r,
				 size_t n, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		if (prefix_match(addr, r[i].prefix, r[i].bits)) {
			*why = r[i].why;
			return r[i].verdict;
		}
	}
	return POLICY_ALLOW;
}

static enum policy_verdict judge4(const uint8_t v4[4], const char **why)
{
	return judge(v4, ranges4, sizeof(ranges4) / sizeof(ranges4[0]), why);
}

/* The worse of two verdicts; on a tie the first keeps its reason. */
static enum policy_verdict worse(enum policy_verdict a, const char *why_a,
				 enum policy_verdict b, const char *why_b,
				 const char **why)
{
	if (b > a) {
		*why = why_b;
		return b;
	}
	*why = why_a;
	return a;
}

/*
 * Where an RFC 6052 prefix of each length inside 64:ff9b:1::/48 puts the
 * IPv4 octets (bits 64-71, octet 8, are skipped and must be zero), and
 * where the suffix after them starts (it should be zero).
 */
static const struct {
	uint8_t at[4];  /* octets of the address holding the IPv4 address */
	uint8_t suffix; /* first octet after it */
} rfc6052_forms[] = {
	{ { 6, 7, 9, 10 }, 11 },    /* /48 */
	{ { 7, 9, 10, 11 }, 12 },   /* /56 */
	{ { 9, 10, 11, 12 }, 13 },  /* /64 */
	{ { 12, 13, 14, 15 }, 16 }, /* /96 */
};

/*
 * The local-use NAT64 prefix (RFC 8215) may be split into an RFC 6052
 * prefix of any of those lengths, and nothing here says which one the
 * operator chose. Be conservative: every form the address could be (octet
 * 8 zero, suffix zero) is judged, and the worst verdict wins. The /48
 * itself is not globally reachable, so ranges6 refuses it anyway unless
 * private targets are allowed; this decides what a lab may still not do.
 */
static enum policy_verdict judge_nat64_local(const uint8_t *a, const char **why)
{
	enum policy_verdict v = POLICY_ALLOW;
	const char *v_why = NULL;

	if (a[8] != 0)
		return POLICY_ALLOW;
	for (size_t f = 0; f < sizeof(rfc6052_forms) / sizeof(rfc6052_forms[0]); f++) {
		uint8_t v4[4];
		const char *w = NULL;
		bool zero = true;

		for (unsigned i = rfc6052_forms[f].suffix; i < 16; i++)
			zero = zero && a[i] == 0;
		if (!zero)
			continue;
		for (int i = 0; i < 4; i++)
			v4[i] = a[rfc6052_forms[f].at[i]];
		enum policy_verdict fv = judge(v4, ranges4,
					       sizeof(ranges4) / sizeof(ranges4[0]), &w);
		v = worse(v, v_why, fv, w, &v_why);
	}
	*why = v_why;
	return v;
}

enum policy_verdict policy_check(const struct sockaddr *sa, const char **why)
{
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t nat64_local[6] = { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 };
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	*why = NULL;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return judge4((const uint8_t *)&sin->sin_addr, why);
	}
	if (sa->sa_family != AF_INET6) {
		*why = "not an IP address";
		return POLICY_FORBIDDEN;
	}

	const uint8_t *a =
		((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

	/* Embedded IPv4 addresses: judge the address that is really hit. */
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
		enum policy_verdict v = judge4(a + 12, why);
		if (v != POLICY_ALLOW)
			return v;
	}
	if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4 2002:V4ADDR::/48 */
		enum policy_verdict v = judge4(a + 2, why);
		if (v != POLICY_ALLOW)
			return v;
	}
	if (memcmp(a, nat64_local, 6) == 0) {
		enum policy_verdict v = judge_nat64_local(a, why);
		if (v != POLICY_ALLOW)
			return v;
	}
	return judge(a, ranges6, sizeof(ranges6) / sizeof(ranges6[0]), why);
}

bool policy_allows(const struct sockaddr *sa, bool allow_private,
		   const char **why)
{
	enum policy_verdict v = policy_check(sa, why);

	if (v == POLICY_ALLOW)
		return true;
	return v == POLICY_PRIVATE && allow_private;
}
