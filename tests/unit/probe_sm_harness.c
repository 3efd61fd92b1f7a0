/*
 * probe_sm_harness.c - see probe_sm_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "hexfile.h"
#include "probe_sm_harness.h"

/* Off the stack: a test binary runs one attempt at a time. */
struct run R;

static bool test_gate(void *arg, const struct sockaddr *dst)
{
	struct run *r = arg;

	assert_int_equal(dst->sa_family, AF_INET);
	r->gate_calls++;
	if (r->gate_budget < 0)
		return true;
	if (r->gate_budget == 0)
		return false;
	r->gate_budget--;
	return true;
}

/* Hand the flagged request to a pretend network, as probe.c does. */
void do_sends(struct run *r)
{
	unsigned asked = 0, n;

	if (!r->out.send_primary && !r->out.send_plain)
		return;
	/* One packet per slot, and the slots a pacing gap apart. */
	assert_false(r->out.send_primary && r->out.send_plain);
	if (r->send_err == 0 && (r->primaries + r->plains) > 0) {
		uint64_t gap = r->now - r->last_wire;
		if (gap < r->req.retransmit_ms * MS)
			fail_msg("two packets %.3f ms apart", (double)gap / 1e6);
		if (gap < r->min_gap)
			r->min_gap = gap;
	}
	if (r->out.send_primary) {
		const uint8_t *p = probe_sm_primary(&r->sm, &r->last_primary_len);
		memcpy(r->last_primary, p, r->last_primary_len);
		asked++;
	}
	if (r->out.send_plain)
		asked++;
	n = r->send_err != 0 ? 0 : asked;
	if (n > 0) {
		r->primaries += r->out.send_primary;
		r->plains += r->out.send_plain;
		r->last_wire = r->now;
	}
	probe_sm_sent(&r->sm, n, r->send_err, r->now, &r->out);
}

void setup_common(enum probe_method m, const char *variable,
			 const char *token, uint16_t seq, uint64_t xmt,
			 uint64_t xmt_auth, const struct ntpauth_key *k)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&R.req.dst;
	struct probe_sm_random rnd = { seq, xmt, xmt_auth };

	memset(&R, 0, sizeof(R));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(123);
	sin->sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 */
	R.req.dstlen = sizeof(*sin);
	R.req.method = m;
	R.req.variable = variable;
	R.req.token = token;
	R.req.timeout_ms = TIMEOUT_MS;
	R.req.retransmit_ms = GAP_MS;
	R.min_gap = UINT64_MAX;
	R.req.gate = test_gate;
	R.req.gate_arg = &R;
	R.gate_budget = -1;
	if (k != NULL)
		R.key = *k;
	R.req.key = &R.key;
	assert_null(probe_sm_init(&R.sm, &R.req, &rnd, &R.res));
	R.now = T0;
}

void start(void)
{
	probe_sm_start(&R.sm, R.now, &R.out);
	do_sends(&R);
}

/* Setvar method, sequence and timestamp as in the captures. */
void start_setvar(const char *token, uint16_t seq)
{
	setup_common(PROBE_SETVAR, "ntppool_verify", token, seq, XMT, 0, NULL);
	start();
}

void aes_key(struct ntpauth_key *k)
{
	assert_int_equal(ntpauth_key_parse("2b7e151628aed2a6abf7158809cf4f3c",
					   42, NTPAUTH_AES128, k),
			 0);
}

void sha1_key(struct ntpauth_key *k)
{
	assert_int_equal(ntpauth_key_parse(
				 "00112233445566778899aabbccddeeff00112233", 42,
				 NTPAUTH_SHA1, k),
			 0);
}

/* Key method: the keyed request carries the captures' origin. */
void start_key(bool sha1)
{
	struct ntpauth_key k;

	if (sha1)
		sha1_key(&k);
	else
		aes_key(&k);
	setup_common(PROBE_KEY, "ntppool_verify", NULL, 0, OTHER_XMT, XMT, &k);
	start();
}

void at(uint64_t ms_after_start)
{
	R.now = T0 + ms_after_start * MS;
}

void tick(void)
{
	probe_sm_tick(&R.sm, R.now, &R.out);
	do_sends(&R);
}

void net_error(int err)
{
	probe_sm_net_error(&R.sm, err, R.now, &R.out);
	do_sends(&R);
}

/* Run the clock from wake-up to wake-up until the attempt ends. */
void run_to_end(void)
{
	for (int i = 0; i < 100 && !R.out.done; i++) {
		assert_true(R.out.wake_ns >= R.now);
		R.now = R.out.wake_ns;
		tick();
	}
	assert_true(R.out.done);
}

void feed_raw(const uint8_t *pkt, size_t len)
{
	probe_sm_datagram(&R.sm, pkt, len, R.now, &R.out);
	assert_false(R.out.send_primary || R.out.send_plain);
}

size_t load(const char *name, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (hexfile_load(name, buf, cap, &len) != 0)
		fail_msg("cannot load %s", name);
	return len;
}

void feed(const char *name)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len = load(name, buf, sizeof(buf));

	feed_raw(buf, len);
}

/* A mode 4 capture with its origin (octets 24..31) replaced. */
void feed_with_origin(const char *name, uint64_t origin)
{
	uint8_t buf[PROBE_RECV_MAX];
	size_t len = load(name, buf, sizeof(buf));

	for (int i = 0; i < 8; i++)
		buf[24 + i] = (uint8_t)(origin >> (56 - 8 * i));
	feed_raw(buf, len);
}

void assert_outcome(enum outcome o, const char *detail)
{
	assert_true(R.out.done);
	assert_string_equal(outcome_name(R.res.outcome), outcome_name(o));
	assert_string_equal(R.res.detail, detail);
}
