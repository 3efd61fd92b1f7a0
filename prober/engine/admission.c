/*
 * admission.c - policy, source, rate limits, start: in this order, once.
 */
#include <string.h>

#include "engine/admission.h"
#include "engine/policy.h"

/* The published source address for this destination's family, in turn. */
static int pick_source(const struct admission *a, int family,
		       struct probe_request *req)
{
	size_t fam = family == AF_INET6 ? 1 : 0;
	size_t n = a->n_sources;

	if (n == 0) {
		req->srclen = 0; /* the kernel chooses */
		return 0;
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = (a->next_source[fam] + k) % n;
		if (a->sources[i].family == family) {
			req->src = a->sources[i].addr;
			req->srclen = a->sources[i].addrlen;
			a->next_source[fam] = (unsigned)(i + 1);
			return 0;
		}
	}
	return -1;
}

void admission_start(const struct admission *a, struct probe_request *req,
		     uint64_t now_ms, struct probe *p, struct probe_io *io,
		     probe_done_fn done, void *arg,
		     struct admission_decision *out)
{
	const struct sockaddr *dst = (const struct sockaddr *)&req->dst;

	out->why = NULL;
	out->not_before_ms = 0;
	out->private_target = false;
	if (!policy_allows(dst, a->allow_private, &out->why)) {
		out->status = ADMISSION_REFUSED;
		/* What allowing private targets would lift (the caller's
		 * hint); never multicast, broadcast, unspecified. */
		out->private_target = policy_check(dst, NULL) == POLICY_PRIVATE;
		return;
	}
	if (pick_source(a, req->dst.ss_family, req) < 0) {
		out->status = ADMISSION_NO_SOURCE;
		out->why = req->dst.ss_family == AF_INET6
				   ? "no IPv6 source address configured"
				   : "no IPv4 source address configured";
		return;
	}
	if (!ratelimit_may_start(a->rl, dst, now_ms, &out->not_before_ms,
				 &out->why)) {
		out->status = ADMISSION_DEFERRED;
		return;
	}
	/* Unrecorded, the next attempt's interval could not be enforced. */
	if (!ratelimit_started(a->rl, dst, now_ms)) {
		out->status = ADMISSION_NO_MEMORY;
		return;
	}
	out->status = probe_start(p, io, req, done, arg) < 0
			      ? ADMISSION_FAILED
			      : ADMISSION_STARTED;
}
