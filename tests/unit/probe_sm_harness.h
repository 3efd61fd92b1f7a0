/*
 * probe_sm_harness.h - drive the probe state machine from a unit test: a
 * pretend network and clock around one attempt (the global R), captures
 * fed from tests/data, and the operator-visible checks. Shared by the
 * test_probe_sm_* binaries; each is one topic.
 */
#ifndef NTPVERIFY_PROBE_SM_HARNESS_H
#define NTPVERIFY_PROBE_SM_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/probe_sm.h"

#define MS UINT64_C(1000000)
#define T0 (UINT64_C(5000) * 1000 * MS) /* an arbitrary monotonic start */
/* The origin every mode 4 capture echoes. */
#define XMT UINT64_C(0xe00000379ecedf01)
#define OTHER_XMT UINT64_C(0x0123456789abcdef)
#define SEQ_V1 0x0001
#define SEQ_SET 0x2a2a
#define TOKEN "tok-3f9a1c2b7d"

/* One attempt under test, and what it put on the wire. */
struct run {
	struct probe_request req;
	struct probe_sm sm;
	struct probe_result res;
	struct probe_sm_out out;
	struct ntpauth_key key;
	uint64_t now;         /* the test's clock */
	unsigned primaries;   /* primary requests sent */
	unsigned plains;      /* plain requests sent */
	int gate_budget;      /* packets the gate lets through; < 0: all */
	unsigned gate_calls;  /* times the gate was asked */
	int send_err;         /* errno for the next send; 0: all go out */
	uint64_t last_wire;   /* when the last packet went out */
	uint64_t min_gap;     /* shortest time between two packets sent;
				 UINT64_MAX while fewer than two */
	uint8_t last_primary[M6_REQUEST_MAX]; /* octets of the last primary */
	size_t last_primary_len;
};

/* The attempt under test: reset by setup_common(). */
extern struct run R;

/* The defaults the harness runs with (probe.timeout, probe.retransmit). */
#define TIMEOUT_MS 5000
#define GAP_MS 2000

/* Hand the flagged request to a pretend network, as probe.c does. Fails
 * the test when two are flagged at once, or when a packet would follow
 * the previous one sooner than the pacing gap. */
void do_sends(struct run *r);
/* A fresh attempt with these parameters (TIMEOUT_MS, GAP_MS). */
void setup_common(enum probe_method m, const char *variable,
		  const char *token, uint16_t seq, uint64_t xmt,
		  uint64_t xmt_auth, const struct ntpauth_key *k);
/* probe_sm_start() at R.now, and the sends. */
void start(void);
/* Setvar method, sequence and timestamp as in the captures. */
void start_setvar(const char *token, uint16_t seq);
/* The keys the captures were made with (key ID 42). */
void aes_key(struct ntpauth_key *k);
void sha1_key(struct ntpauth_key *k);
/* Key method: the keyed request carries the captures' origin. */
void start_key(bool sha1);
/* Set the clock to this many milliseconds after the start. */
void at(uint64_t ms_after_start);
/* probe_sm_tick() at R.now, and the sends. */
void tick(void);
/* A receive error (e.g. ICMP) at R.now, and the sends it asks for. */
void net_error(int err);
/* Run the clock from wake-up to wake-up until the attempt ends. */
void run_to_end(void);
/* Datagrams from the server: raw, a hex capture, a mode 4 capture with
 * its origin (octets 24..31) replaced. None may ask for a send. */
void feed_raw(const uint8_t *pkt, size_t len);
size_t load(const char *name, uint8_t *buf, size_t cap);
void feed(const char *name);
void feed_with_origin(const char *name, uint64_t origin);
/* The attempt is over with this outcome and detail. */
void assert_outcome(enum outcome o, const char *detail);

#endif
