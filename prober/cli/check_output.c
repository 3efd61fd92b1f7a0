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

/* One JSON object per line, built in memory and written in one piece. */
void check_print_json(FILE *out, const char *host, const char *server,
		      unsigned port, const struct probe_request *req,
		      const struct probe_result *r)
{
	char mem[2048]; /* a typical line is ~300 octets; longer ones work */
	struct textbuf b;

	textbuf_init(&b, mem, sizeof(mem), out);
	textbuf_lit(&b, "{\"server\":");
	textbuf_json_cstr(&b, server);
	if (strcmp(host, server) != 0) {
		textbuf_lit(&b, ",\"host\":");
		textbuf_json_cstr(&b, host);
	}
	textbuf_lit(&b, ",\"port\":");
	textbuf_uint(&b, port);
	textbuf_lit(&b, ",\"source\":");
	textbuf_json_cstr(&b, r->source[0] ? r->source : NULL);
	textbuf_lit(&b, ",\"method\":");
	textbuf_json_cstr(&b, method_name(req->method));
	if (req->method == PROBE_KEY) {
		textbuf_lit(&b, ",\"key_id\":");
		textbuf_uint(&b, req->key->id);
	}
	if (req->method == PROBE_REFID) {
		textbuf_lit(&b, ",\"refid_code\":");
		textbuf_json_cstr(&b, req->refid_code);
	}
	textbuf_lit(&b, ",\"variable\":");
	textbuf_json_cstr(&b, req->method == PROBE_SETVAR ? req->variable
							  : NULL);
	textbuf_lit(&b, ",\"outcome\":");
	textbuf_json_cstr(&b, outcome_name(r->outcome));
	textbuf_lit(&b, ",\"value\":");
	textbuf_json_cstr(&b, r->have_value ? r->value : NULL);
	textbuf_lit(&b, ",\"detail\":");
	textbuf_json_cstr(&b, r->detail);
	textbuf_lit(&b, ",\"rtt_ms\":");
	if (r->rtt_ms >= 0)
		textbuf_fixed3(&b, r->rtt_ms);
	else
		textbuf_lit(&b, "null");
	if (r->ntp_answered) {
		textbuf_lit(&b, ",\"ntp\":{\"stratum\":");
		textbuf_uint(&b, r->stratum);
		textbuf_lit(&b, ",\"refid\":");
		textbuf_json_cstr(&b, r->refid);
		textbuf_lit(&b, "}");
	} else {
		textbuf_lit(&b, ",\"ntp\":null");
	}
	textbuf_lit(&b, "}\n");
	textbuf_flush(&b);
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

void check_print_summary(const unsigned by_outcome[OUTCOME_COUNT],
			 unsigned errors, uint64_t ns)
{
	unsigned total = 0;
	const char *sep = ": ";

	for (int o = 0; o < OUTCOME_COUNT; o++)
		total += by_outcome[o];
	fprintf(stderr, "ntpverify check: %u result%s in %.3f s", total,
		total == 1 ? "" : "s", (double)ns / 1e9);
	if (ns > 0 && total > 1)
		fprintf(stderr, " (%.0f/s)", (double)total * 1e9 / (double)ns);
	for (int o = 0; o < OUTCOME_COUNT; o++) {
		if (by_outcome[o] == 0)
			continue;
		fprintf(stderr, "%s%u %s", sep, by_outcome[o],
			outcome_name((enum outcome)o));
		sep = ", ";
	}
	if (errors > 0)
		fprintf(stderr, "%s%u not probed", sep, errors);
	fputc('\n', stderr);
}
