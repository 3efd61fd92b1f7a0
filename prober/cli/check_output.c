/*
 * check_output.c - `ntpverify check`'s result lines and JSON objects.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/check_output.h"
#include "core/outcome.h"
#include "core/textout.h"

static const char *method_name(enum probe_method m)
{
	switch (m) {
	case PROBE_KEY:
		return "key";
	case PROBE_REFID:
		return "refid";
	case PROBE_SETVAR:
	default:
		return "setvar";
	}
}

void check_print_json(const char *host, const char *server, unsigned port,
		      const struct probe_request *req,
		      const struct probe_result *r)
{
	printf("{\"server\":");
	json_put_cstr(stdout, server);
	if (strcmp(host, server) != 0) {
		printf(",\"host\":");
		json_put_cstr(stdout, host);
	}
	printf(",\"port\":%u,\"source\":", port);
	json_put_cstr(stdout, r->source[0] ? r->source : NULL);
	printf(",\"method\":\"%s\"", method_name(req->method));
	if (req->method == PROBE_KEY)
		printf(",\"key_id\":%u", (unsigned)req->key->id);
	if (req->method == PROBE_REFID) {
		printf(",\"refid_code\":");
		json_put_cstr(stdout, req->refid_code);
	}
	printf(",\"variable\":");
	json_put_cstr(stdout, req->method == PROBE_SETVAR ? req->variable
							  : NULL);
	printf(",\"outcome\":");
	json_put_cstr(stdout, outcome_name(r->outcome));
	printf(",\"value\":");
	if (r->have_value)
		json_put_string(stdout, r->value, strlen(r->value));
	else
		printf("null");
	printf(",\"detail\":");
	json_put_cstr(stdout, r->detail);
	if (r->rtt_ms >= 0)
		printf(",\"rtt_ms\":%.3f", r->rtt_ms);
	else
		printf(",\"rtt_ms\":null");
	if (r->ntp_answered) {
		printf(",\"ntp\":{\"stratum\":%u,\"refid\":", r->stratum);
		json_put_cstr(stdout, r->refid);
		printf("}");
	} else {
		printf(",\"ntp\":null");
	}
	printf("}\n");
}

void check_print_human(const char *server, unsigned port,
		       const char *variable, const char *token,
		       const struct probe_result *r, bool single)
{
	struct outcome_hint_in in = {
		.outcome = r->outcome,
		.prober_addr = r->source,
		.variable = variable,
		.token = token,
	};
	char hint[512];

	if (r->outcome == OUTCOME_READ && single) {
		printf("%s=", variable);
		text_put_escaped(stdout, r->value, strlen(r->value));
		if (r->value_len > PROBE_VALUE_MAX)
			printf(" (truncated, %zu octets)", r->value_len);
		printf("\n");
		return;
	}
	printf("%s port %u", server, port);
	if (r->source[0])
		printf(" from %s", r->source);
	printf(": %s (%s)", outcome_name(r->outcome), r->detail);
	if (r->outcome == OUTCOME_READ) {
		printf(" %s=", variable);
		text_put_escaped(stdout, r->value, strlen(r->value));
	}
	if (r->rtt_ms >= 0)
		printf(", rtt %.1f ms", r->rtt_ms);
	if (r->ntp_answered)
		printf(", ntp stratum %u refid %s", r->stratum,
		       r->refid[0] ? r->refid : "-");
	printf("\n");
	/* The token is the one given with --token: the operator typed it. */
	if (single && outcome_hint_for(&in, hint, sizeof(hint)))
		printf("hint: %s\n", hint);
}
