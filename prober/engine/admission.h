/*
 * admission.h - may this attempt go on the wire now, and from where?
 *
 * The one path from "a destination is due" to "a probe is running", shared
 * by the daemon and `check`, so both apply the same rules in the same
 * order: the destination policy, a published source address of the
 * destination's family (round-robin), the rate limiter's word on a new
 * attempt, recording the start with it, and probe_start(). What to do
 * about a refusal or a deferral is the caller's business: the daemon
 * records or gives back a lease, `check` prints or waits.
 */
#ifndef NTPVERIFY_ADMISSION_H
#define NTPVERIFY_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/probe.h"
#include "engine/ratelimit.h"

/* The rules, as the caller holds them; nothing here is owned. */
struct admission {
	struct ratelimit *rl;               /* the limits */
	bool allow_private;                 /* policy: private targets too */
	const struct config_source *sources;/* published addresses */
	size_t n_sources;                   /* 0: the kernel picks the source */
	unsigned *next_source;              /* [2]: round-robin position per
					       family (v4, v6), kept by the caller */
};

enum admission_status {
	ADMISSION_STARTED = 0, /* the probe runs; its `done` will follow */
	ADMISSION_REFUSED,     /* the policy refuses the destination */
	ADMISSION_NO_SOURCE,   /* no published source of its family */
	ADMISSION_DEFERRED,    /* the rate limits say not yet */
	ADMISSION_NO_MEMORY,   /* the limiter could not record the start */
	ADMISSION_FAILED,      /* probe_start() failed: p->result.detail */
};

struct admission_decision {
	enum admission_status status; /* what happened */
	const char *why;              /* REFUSED, NO_SOURCE, DEFERRED: a
					 static string naming the reason */
	uint64_t not_before_ms;       /* DEFERRED: monotonic ms; UINT64_MAX
					 when never under the current limits */
	bool private_target;          /* REFUSED: only because private
					 targets are not allowed */
};

/*
 * Try to start probe `p` for `req` (dst, method, timing and gate filled
 * in by the caller; src is chosen here). The source rotor advances once a
 * source is chosen, even when the limits then defer the attempt.
 * `now_ms` is the monotonic clock (evtime_mono_ms()).
 */
void admission_start(const struct admission *a, struct probe_request *req,
		     uint64_t now_ms, struct probe *p, struct probe_io *io,
		     probe_done_fn done, void *arg,
		     struct admission_decision *out);

#endif
