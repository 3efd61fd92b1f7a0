/* Destination policy: which addresses the prober refuses, and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "engine/policy.h"

static enum policy_verdict verdict_of(const char *text, const char **why)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text,
			   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("bad literal %s", text);
	return policy_check((struct sockaddr *)&ss, why);
}

struct vector {
	const char *addr;
	enum policy_verdict verdict;
	const char *why_prefix; /* NULL for allowed */
};

static const struct vector vectors[] = {
	{ "8.8.8.8", POLICY_ALLOW, NULL },
	{ "1.1.1.1", POLICY_ALLOW, NULL },
	{ "193.0.0.1", POLICY_ALLOW, NULL },
	{ "2001:4860:4860::8888", POLICY_ALLOW, NULL },
	{ "2a00:1450::1", POLICY_ALLOW, NULL },
	{ "0.1.2.3", POLICY_FORBIDDEN, "\"this network\"" },
	{ "10.1.2.3", POLICY_PRIVATE, "private 10." },
	{ "100.64.0.1", POLICY_PRIVATE, "shared" },
	{ "100.127.255.255", POLICY_PRIVATE, "shared" },
	{ "100.128.0.1", POLICY_ALLOW, NULL },
	{ "127.0.0.1", POLICY_PRIVATE, "loopback" },
	{ "127.255.0.9", POLICY_PRIVATE, "loopback" },
	{ "169.254.1.1", POLICY_PRIVATE, "link-local" },
	{ "172.16.0.1", POLICY_PRIVATE, "private 172.16" },
	{ "172.31.255.255", POLICY_PRIVATE, "private 172.16" },
	{ "172.32.0.1", POLICY_ALLOW, NULL },
	{ "192.0.2.10", POLICY_PRIVATE, "documentation" },
	{ "192.168.1.1", POLICY_PRIVATE, "private 192.168" },
	{ "198.18.0.1", POLICY_PRIVATE, "benchmarking" },
	{ "198.19.255.1", POLICY_PRIVATE, "benchmarking" },
	{ "198.20.0.1", POLICY_ALLOW, NULL },
	{ "203.0.113.5", POLICY_PRIVATE, "documentation" },
	{ "224.0.0.1", POLICY_FORBIDDEN, "multicast" },
	{ "239.255.255.250", POLICY_FORBIDDEN, "multicast" },
	{ "240.0.0.1", POLICY_PRIVATE, "reserved" },
	{ "255.255.255.255", POLICY_FORBIDDEN, "broadcast" },
	{ "::", POLICY_FORBIDDEN, "unspecified" },
	{ "::1", POLICY_PRIVATE, "loopback" },
	{ "::ffff:8.8.8.8", POLICY_PRIVATE, "IPv4-mapped" },
	{ "::ffff:127.0.0.1", POLICY_PRIVATE, "loopback" },
	{ "::ffff:224.0.0.1", POLICY_FORBIDDEN, "multicast" },
	{ "64:ff9b::10.0.0.1", POLICY_PRIVATE, "private 10." },
	{ "64:ff9b::8.8.8.8", POLICY_ALLOW, NULL },
	{ "64:ff9b::e000:1", POLICY_FORBIDDEN, "multicast" },
	{ "64:ff9b::ffff:ffff", POLICY_FORBIDDEN, "broadcast" },
	/* Local-use NAT64 (RFC 8215), every RFC 6052 form of 10.0.0.1. */
	{ "64:ff9b:1::a00:1", POLICY_PRIVATE, "private 10." },
	{ "64:ff9b:1:a00:0:100::", POLICY_FORBIDDEN, "\"this network\"" },
	{ "64:ff9b:1:a:0:1::", POLICY_FORBIDDEN, "\"this network\"" },
	{ "64:ff9b:1:0:a:0:100:0", POLICY_PRIVATE, "private 10." },
	{ "64:ff9b:1::7f00:1", POLICY_PRIVATE, "loopback" },
	{ "64:ff9b:1::e000:1", POLICY_FORBIDDEN, "multicast" },
	{ "64:ff9b:1::8.8.8.8", POLICY_PRIVATE, "local-use NAT64" },
	{ "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", POLICY_PRIVATE, "local-use NAT64" },
	{ "64:ff9b:2::8.8.8.8", POLICY_ALLOW, NULL },
	{ "2002:7f00:1::", POLICY_PRIVATE, "loopback" },
	{ "2002:0808:0808::1", POLICY_ALLOW, NULL },
	{ "2001:db8::10", POLICY_PRIVATE, "documentation" },
	{ "fd00::1", POLICY_PRIVATE, "unique local" },
	{ "fe80::1", POLICY_PRIVATE, "link-local" },
	{ "ff02::1", POLICY_FORBIDDEN, "multicast" },
	{ "100::1", POLICY_PRIVATE, "discard" },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *why = NULL;
		enum policy_verdict v = verdict_of(vectors[i].addr, &why);
		if (v != vectors[i].verdict)
			fail_msg("%s: verdict %d, expected %d", vectors[i].addr,
				 v, vectors[i].verdict);
		if (vectors[i].why_prefix == NULL) {
			assert_null(why);
		} else {
			assert_non_null(why);
			if (strncmp(why, vectors[i].why_prefix,
				    strlen(vectors[i].why_prefix)) != 0)
				fail_msg("%s: why '%s', expected '%s...'",
					 vectors[i].addr, why,
					 vectors[i].why_prefix);
		}
	}
}

static void test_allow_private(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *why;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_false(policy_allows((struct sockaddr *)&sin, false, &why));
	assert_true(policy_allows((struct sockaddr *)&sin, true, &why));
	/* Multicast and broadcast stay refused even in a lab. */
	inet_pton(AF_INET, "224.0.1.1", &sin.sin_addr);
	assert_false(policy_allows((struct sockaddr *)&sin, true, &why));
	inet_pton(AF_INET, "255.255.255.255", &sin.sin_addr);
	assert_false(policy_allows((struct sockaddr *)&sin, true, &why));

	/* Through local-use NAT64: a lab may reach a private host, never
	 * multicast, and the /48 is refused outside a lab. */
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "64:ff9b:1::7f00:1", &sin6.sin6_addr);
	assert_true(policy_allows((struct sockaddr *)&sin6, true, &why));
	assert_false(policy_allows((struct sockaddr *)&sin6, false, &why));
	inet_pton(AF_INET6, "64:ff9b:1::e000:1", &sin6.sin6_addr);
	assert_false(policy_allows((struct sockaddr *)&sin6, true, &why));
	inet_pton(AF_INET6, "64:ff9b:1::8.8.8.8", &sin6.sin6_addr);
	assert_false(policy_allows((struct sockaddr *)&sin6, false, &why));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_allow_private),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
