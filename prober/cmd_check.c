/*
 * cmd_check.c - `ntpverify check`: one probe, printed for a human or as
 * JSON. What the daemon would record for this server, right now.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "policy.h"
#include "probe.h"
#include "textout.h"
#include "token.h"

struct check_opts {
	const char *config_path; /* --config */
	const char *token;       /* --token */
	const char *variable;    /* --variable, else the config's */
	const char *source;      /* --source */
	long port;               /* --port, else the config's; 0 = unset */
	uint64_t timeout_ms;     /* --timeout, else the config's; 0 = unset */
	bool allow_private;      /* --allow-private */
	bool json;               /* --json */
	const char *host;        /* the operand */
};

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: ntpverify check [--config FILE] [--token TOKEN] "
		"[--variable NAME]\n"
		"                       [--source ADDR] [--port N] "
		"[--timeout DURATION]\n"
		"                       [--allow-private] [--json] HOST\n");
}

static int parse_check_args(int argc, char **argv, struct check_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 't' },
		{ "variable", required_argument, NULL, 'V' },
		{ "source", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "allow-private", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:V:s:p:T:ajh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case 't':
			o->token = optarg;
			if (!token_valid(optarg)) {
				fprintf(stderr,
					"ntpverify check: --token: %s\n",
					TOKEN_RULE);
				return -1;
			}
			break;
		case 'V':
			o->variable = optarg;
			if (!variable_valid(optarg)) {
				fprintf(stderr,
					"ntpverify check: --variable: %s\n",
					VARIABLE_RULE);
				return -1;
			}
			break;
		case 's':
			o->source = optarg;
			break;
		case 'p':
			errno = 0;
			o->port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->port < 1 ||
			    o->port > 65535) {
				fprintf(stderr,
					"ntpverify check: --port: '%s' is not "
					"a port number (1-65535)\n",
					optarg);
				return -1;
			}
			break;
		case 'T':
			if (config_parse_duration(optarg, &o->timeout_ms) < 0 ||
			    o->timeout_ms < 100 || o->timeout_ms > 60000) {
				fprintf(stderr,
					"ntpverify check: --timeout: '%s' is "
					"not a duration between 100ms and 60s "
					"(e.g. 500ms, 3s)\n",
					optarg);
				return -1;
			}
			break;
		case 'a':
			o->allow_private = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			check_usage(stdout);
			exit(0);
		default:
			check_usage(stderr);
			return -1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "ntpverify check: exactly one HOST expected\n");
		check_usage(stderr);
		return -1;
	}
	o->host = argv[optind];
	return 0;
}

/* Resolve HOST (address literal or name) to the first usable address. */
static int resolve_host(const char *host, int family, uint16_t port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_family = family,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res;
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		fprintf(stderr, "ntpverify check: %s: %s\n", host,
			gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}

static void print_json(const struct check_opts *o, const char *server,
		       unsigned port, const char *variable,
		       const struct probe_result *r)
{
	printf("{\"server\":");
	json_put_cstr(stdout, server);
	printf(",\"port\":%u,\"source\":", port);
	json_put_cstr(stdout, r->source[0] ? r->source : NULL);
	printf(",\"variable\":");
	json_put_cstr(stdout, variable);
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
	(void)o;
}

static void print_human(const char *server, unsigned port,
			const char *variable, const struct probe_result *r)
{
	char hint[512];

	if (r->outcome == OUTCOME_READ) {
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
	if (r->rtt_ms >= 0)
		printf(", rtt %.1f ms", r->rtt_ms);
	if (r->ntp_answered)
		printf(", ntp stratum %u refid %s", r->stratum, r->refid);
	printf("\n");
	if (outcome_hint(r->outcome, r->source, variable, hint, sizeof(hint)))
		printf("hint: %s\n", hint);
}

static void on_probe_done(struct probe *p, void *arg)
{
	(void)p;
	event_base_loopbreak(arg);
}

int cmd_check(int argc, char **argv)
{
	struct check_opts o;
	struct nv_config cfg;
	struct probe_request req;
	struct probe *p = NULL;
	struct event_base *base = NULL;
	int status = EXIT_USAGE;
	char server[INET6_ADDRSTRLEN];

	if (parse_check_args(argc, argv, &o) < 0)
		return EXIT_USAGE;

	if (o.config_path != NULL) {
		if (config_load(&cfg, o.config_path, print_config_error,
				NULL) < 0)
			return EXIT_USAGE;
	} else {
		config_defaults(&cfg);
	}

	memset(&req, 0, sizeof(req));
	req.variable = o.variable ? o.variable : cfg.variable;
	req.token = o.token;
	req.timeout_ms = o.timeout_ms ? o.timeout_ms : cfg.probe.timeout_ms;
	req.retransmit_ms = cfg.probe.retransmit_ms < req.timeout_ms
				    ? cfg.probe.retransmit_ms
				    : req.timeout_ms;
	uint16_t port = (uint16_t)(o.port ? o.port : cfg.ntp_port);
	bool allow_private = o.allow_private || cfg.allow_private_targets;

	int family = AF_UNSPEC;
	if (o.source != NULL) {
		if (config_parse_address(o.source, &req.src, &req.srclen) < 0) {
			fprintf(stderr,
				"ntpverify check: --source: '%s' is not an "
				"IPv4 or IPv6 address\n",
				o.source);
			goto out;
		}
		family = req.src.ss_family;
	}
	if (resolve_host(o.host, family, port, &req.dst, &req.dstlen) < 0)
		goto out;
	probe_addr_str((struct sockaddr *)&req.dst, server, sizeof(server));

	p = calloc(1, sizeof(*p));
	base = event_base_new();
	if (p == NULL || base == NULL) {
		fprintf(stderr, "ntpverify check: out of memory\n");
		goto out;
	}

	const char *why = NULL;
	if (!policy_allows((struct sockaddr *)&req.dst, allow_private, &why)) {
		memset(&p->result, 0, sizeof(p->result));
		p->result.outcome = OUTCOME_REFUSED_BY_POLICY;
		p->result.rtt_ms = -1;
		snprintf(p->result.detail, sizeof(p->result.detail), "%s%s",
			 why, allow_private ? "" : " (see --allow-private)");
	} else {
		if (probe_start(p, base, &req, on_probe_done, base) < 0) {
			fprintf(stderr, "ntpverify check: %s: %s\n", server,
				p->result.detail);
			goto out;
		}
		event_base_dispatch(base);
	}

	if (o.json)
		print_json(&o, server, port, req.variable, &p->result);
	else
		print_human(server, port, req.variable, &p->result);

	status = (p->result.outcome == OUTCOME_VERIFIED ||
		  p->result.outcome == OUTCOME_READ)
			 ? 0
			 : EXIT_NEGATIVE;
out:
	if (p != NULL)
		probe_cancel(p);
	free(p);
	if (base != NULL)
		event_base_free(base);
	config_free(&cfg);
	return status;
}
