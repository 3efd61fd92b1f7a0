/*
 * `check --json` lines (cli/check_output.c) against a golden file written
 * by the printf implementation this one replaced: every method, hostile
 * octets in every string field, the largest port and key ID, RTTs on
 * %.3f's halfway points, no RTT, no source, no mode 3 answer.
 * NV_UPDATE_GOLDEN=1 rewrites tests/data/check/json.golden (golden.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/check_output.h"
#include "golden.h"

#define GOLDEN "check/json.golden"
#define N_FIXTURES 12

/* Result i of the golden file: each field varies with i on its own. */
static void fixture(int i, struct probe_request *req, struct probe_result *r,
		    struct ntpauth_key *key, const char **host,
		    const char **server, unsigned *port)
{
	static const double rtts[] = { 0.0625, 0.0045, 0.0055, -1, 12.3456,
				       0.0005, 1999.9995, 0.245 };

	memset(req, 0, sizeof(*req));
	memset(r, 0, sizeof(*r));
	memset(key, 0, sizeof(*key));
	key->id = (uint16_t)(65534 - i);
	req->method = (enum probe_method)(i % 3);
	req->key = key;
	req->variable = i % 2 ? "ntppool_verify" : "v\"a\\r\x01\xff";
	req->refid_code = i % 2 ? "K7QX" : "\"\t\x7f";
	*host = i % 4 == 0 ? "ntp.example.org"
		: i % 4 == 1 ? "h\"o\nst\x80" : "192.0.2.1";
	*server = i % 4 == 3 ? "2001:db8::1" : "192.0.2.1";
	*port = i == 5 ? 4294967295u : 123;
	r->outcome = (enum outcome)(i % OUTCOME_COUNT);
	snprintf(r->detail, sizeof(r->detail),
		 "detail %d \"q\" \\ \x1f\xc3\xa9 end", i);
	r->have_value = i % 3 != 2;
	snprintf(r->value, sizeof(r->value), "tok-%d\r\n\x02\x7f\xfe\"\\/<>", i);
	r->rtt_ms = rtts[i % 8];
	r->ntp_answered = i % 2 == 0;
	r->stratum = (uint8_t)(i * 37);
	snprintf(r->refid, sizeof(r->refid), "%s", i % 3 ? "GPS" : "\x01\"X");
	if (i % 5 != 4)
		snprintf(r->source, sizeof(r->source), "198.51.100.%d", i);
}

static void test_json_golden(void **state)
{
	char *out = NULL;
	size_t out_len = 0;
	FILE *f = open_memstream(&out, &out_len);

	(void)state;
	assert_non_null(f);
	for (int i = 0; i < N_FIXTURES; i++) {
		struct probe_request req;
		struct probe_result r;
		struct ntpauth_key key;
		const char *host, *server;
		unsigned port;

		fixture(i, &req, &r, &key, &host, &server, &port);
		check_print_json(f, host, server, port, &req, &r);
	}
	assert_int_equal(fclose(f), 0);
	if (golden_updating())
		golden_write(GOLDEN, out, out_len);
	size_t want_len;
	char *want = golden_read(GOLDEN, &want_len);
	assert_string_equal(out, want);
	free(want);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
