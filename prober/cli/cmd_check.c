/*
 * cmd_check.c - `ntpverify check`: probe servers now and print what the
 * daemon would record, for a human or as JSON.
 *
 * One HOST prints one line and a hint for the operator. Many hosts (several
 * operands, or --targets FILE, one per line, '-' for stdin) are probed
 * concurrently under the configured rate limits, and each result is printed
 * as soon as it is known: one line, or one JSON object per line. Targets
 * are read lazily, so memory follows the probes in flight, not the length
 * of the list.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli/commands.h"
#include "config/config.h"
#include "core/evtime.h"
#include "engine/ratelimit_config.h"
#include "engine/policy.h"
#include "engine/probe.h"
#include "engine/ratelimit.h"
#include "core/textout.h"
#include "core/token.h"

struct check_opts {
	const char *config_path; /* --config */
	const char *token;       /* --token */
	const char *variable;    /* --variable, else the config's */
	const char *source;      /* --source */
	const char *targets;     /* --targets FILE, "-" for stdin */
	long key_id;             /* --key-id: key method; 0 = setvar method */
	const char *key_type;    /* --key-type, default AES128 */
	const char *key_file;    /* --key-file FILE, "-" for stdin */
	long port;               /* --port, else the config's; 0 = unset */
	uint64_t timeout_ms;     /* --timeout, else the config's; 0 = unset */
	bool allow_private;      /* --allow-private */
	bool json;               /* --json */
	char **hosts;            /* the operands */
	int n_hosts;
};

/* One probe slot; only max_in_flight of them exist. */
struct check_slot {
	struct probe probe;            /* the attempt */
	struct check_run *run;         /* back pointer */
	char host[256];                /* as given, for the output */
	struct check_slot *next_free;  /* free list link */
};

struct check_run {
	struct event_base *base;       /* the loop */
	struct check_opts *o;          /* options */
	struct nv_config *cfg;         /* configuration (defaults without --config) */
	struct ratelimit *rl;          /* the same limits as the daemon's */
	struct probe_request req;      /* template: variable, token, timing, source */
	uint16_t port;                 /* destination port */
	bool allow_private;            /* policy setting */
	bool single;                   /* one host: hints, plain output */
	struct check_slot *slots;      /* max_in_flight of them */
	struct check_slot *free;       /* free list */
	unsigned in_flight;            /* running probes */
	int next_operand;              /* next of o->hosts */
	FILE *list;                    /* --targets stream, or NULL */
	bool eof;                      /* no more targets */
	char pending[256];             /* read but held back by the rate limit */
	struct event ev_wait;          /* rate-limit wait */
	unsigned done, negative;       /* results printed; not verified/read */
	unsigned errors;               /* targets that could not be probed */
};

static void check_usage(FILE *f)
{
	fprintf(f,
		"usage: ntpverify check [--config FILE] [--token TOKEN] "
		"[--variable NAME]\n"
		"                       [--source ADDR] [--port N] "
		"[--timeout DURATION]\n"
		"                       [--allow-private] [--json] "
		"[--targets FILE|-]\n"
		"                       [--key-id N [--key-type AES128|SHA1] "
		"--key-file FILE|-]\n"
		"                       [HOST...]\n");
}

/* Name the offending option without its value (it may be a secret). */
static void bad_option(const char *arg)
{
	size_t n = strcspn(arg, "=");

	if (optopt != 0 && arg[0] == '-' && arg[1] != '-')
		fprintf(stderr, "ntpverify check: bad option -%c\n", optopt);
	else
		fprintf(stderr, "ntpverify check: bad option %.*s\n", (int)n, arg);
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
		{ "targets", required_argument, NULL, 'f' },
		{ "key-id", required_argument, NULL, 'K' },
		{ "key-type", required_argument, NULL, 'Y' },
		{ "key-file", required_argument, NULL, 'F' },
		{ "allow-private", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	optind = 1;
	/* Our own messages: getopt's would quote '--opt=VALUE' whole. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:t:V:s:p:T:f:K:Y:F:ajh", longopts,
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
		case 'f':
			o->targets = optarg;
			break;
		case 'K':
			errno = 0;
			o->key_id = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || o->key_id < 1 ||
			    o->key_id > 65535) {
				/* Not echoed: a mistyped secret may land here. */
				fprintf(stderr, "ntpverify check: --key-id: not "
						"a key ID (1-65535)\n");
				return -1;
			}
			break;
		case 'Y':
			o->key_type = optarg;
			break;
		case 'F':
			o->key_file = optarg;
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
			bad_option(argv[optind - 1]);
			check_usage(stderr);
			return -1;
		}
	}
	if ((o->key_id != 0) != (o->key_file != NULL) ||
	    (o->key_type != NULL && o->key_id == 0)) {
		fprintf(stderr, "ntpverify check: the key method needs --key-id "
				"and --key-file (and optionally --key-type)\n");
		return -1;
	}
	if (o->key_id != 0 && o->token != NULL) {
		fprintf(stderr, "ntpverify check: --token belongs to the setvar "
				"method, not to --key-id\n");
		return -1;
	}
	o->hosts = argv + optind;
	o->n_hosts = argc - optind;
	if (o->n_hosts == 0 && o->targets == NULL) {
		fprintf(stderr, "ntpverify check: no HOST given\n");
		check_usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * Resolve HOST (address literal or name) to its first address. Literals
 * take the fast path: a list of 100,000 addresses never touches the
 * resolver. Returns 0, or -1 with *err set.
 */
static int resolve_host(const char *host, int family, uint16_t port,
			struct sockaddr_storage *ss, socklen_t *len,
			const char **err)
{
	if (config_parse_address(host, ss, len) < 0) {
		struct addrinfo hints = { .ai_family = family,
					  .ai_socktype = SOCK_DGRAM };
		struct addrinfo *res;
		int rc = getaddrinfo(host, NULL, &hints, &res);
		if (rc != 0) {
			*err = gai_strerror(rc);
			return -1;
		}
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (family != AF_UNSPEC && ss->ss_family != family) {
		*err = "address family differs from --source";
		return -1;
	}
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}

static void print_json(const char *host, const char *server, unsigned port,
		       const char *variable, const struct probe_result *r,
		       const struct ntpauth_key *key)
{
	printf("{\"server\":");
	json_put_cstr(stdout, server);
	if (strcmp(host, server) != 0) {
		printf(",\"host\":");
		json_put_cstr(stdout, host);
	}
	printf(",\"port\":%u,\"source\":", port);
	json_put_cstr(stdout, r->source[0] ? r->source : NULL);
	printf(",\"method\":\"%s\"", key ? "key" : "setvar");
	if (key != NULL)
		printf(",\"key_id\":%u", (unsigned)key->id);
	printf(",\"variable\":");
	json_put_cstr(stdout, key ? NULL : variable);
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

static void print_human(const char *server, unsigned port,
			const char *variable, const struct probe_result *r,
			bool hint_too)
{
	char hint[512];

	if (r->outcome == OUTCOME_READ && hint_too) {
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
	if (hint_too &&
	    outcome_hint(r->outcome, r->source, variable, hint, sizeof(hint)))
		printf("hint: %s\n", hint);
}

static void report(struct check_run *run, const char *host,
		   const struct sockaddr *dst, const struct probe_result *r)
{
	char server[INET6_ADDRSTRLEN];

	probe_addr_str(dst, server, sizeof(server));
	if (run->o->json)
		print_json(host, server, run->port, run->req.variable, r,
			   run->req.method == PROBE_KEY ? run->req.key : NULL);
	else
		print_human(server, run->port, run->req.variable, r,
			    run->single);
	run->done++;
	if (r->outcome != OUTCOME_VERIFIED && r->outcome != OUTCOME_READ)
		run->negative++;
}

static bool check_gate(void *arg, const struct sockaddr *dst)
{
	struct check_run *run = arg;

	return ratelimit_take_packet(run->rl, dst, evtime_mono_ms());
}

/* The next target, or false at the end. Blank lines and '#' are skipped. */
static bool next_target(struct check_run *run, char *buf, size_t len)
{
	if (run->pending[0] != '\0') {
		snprintf(buf, len, "%s", run->pending);
		run->pending[0] = '\0';
		return true;
	}
	while (run->next_operand < run->o->n_hosts) {
		snprintf(buf, len, "%s", run->o->hosts[run->next_operand++]);
		return true;
	}
	while (run->list != NULL) {
		char line[1024];
		if (fgets(line, sizeof(line), run->list) == NULL)
			break;
		char *p = line + strspn(line, " \t");
		p[strcspn(p, " \t\r\n#")] = '\0';
		if (*p == '\0')
			continue;
		snprintf(buf, len, "%s", p);
		return true;
	}
	return false;
}

static void fill(struct check_run *run);

static void on_probe_done(struct probe *p, void *arg)
{
	struct check_slot *slot = arg;
	struct check_run *run = slot->run;

	report(run, slot->host, (struct sockaddr *)&p->req.dst, &p->result);
	slot->next_free = run->free;
	run->free = slot;
	run->in_flight--;
	fill(run);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fill(arg);
}

/* Start probes until the slots, the rate limits or the targets run out. */
static void fill(struct check_run *run)
{
	char host[256];

	while (run->free != NULL && next_target(run, host, sizeof(host))) {
		struct probe_request req = run->req;
		struct probe_result refused;
		const char *why = NULL;
		uint64_t now = evtime_mono_ms(), not_before = 0;

		if (resolve_host(host, run->req.srclen ? run->req.src.ss_family
						       : AF_UNSPEC,
				 run->port, &req.dst, &req.dstlen, &why) < 0) {
			fprintf(stderr, "ntpverify check: %s: %s\n", host, why);
			run->errors++;
			continue;
		}
		if (!policy_allows((struct sockaddr *)&req.dst,
				   run->allow_private, &why)) {
			memset(&refused, 0, sizeof(refused));
			refused.outcome = OUTCOME_REFUSED_BY_POLICY;
			refused.rtt_ms = -1;
			snprintf(refused.detail, sizeof(refused.detail), "%s%s",
				 why,
				 run->allow_private ? "" : " (see --allow-private)");
			report(run, host, (struct sockaddr *)&req.dst, &refused);
			continue;
		}
		if (!ratelimit_may_start(run->rl, (struct sockaddr *)&req.dst,
					 now, &not_before, &why)) {
			if (not_before == UINT64_MAX) {
				fprintf(stderr,
					"ntpverify check: %s: the rate limits "
					"never allow it (%s)\n",
					host, why);
				run->errors++;
				continue;
			}
			/* Hold this target and come back when allowed. */
			snprintf(run->pending, sizeof(run->pending), "%s", host);
			evtime_add_ms(&run->ev_wait,
				      not_before > now ? not_before - now : 1);
			return;
		}
		if (!ratelimit_started(run->rl, (struct sockaddr *)&req.dst,
				       now)) {
			fprintf(stderr, "ntpverify check: out of memory\n");
			run->errors++;
			continue;
		}

		struct check_slot *slot = run->free;
		run->free = slot->next_free;
		snprintf(slot->host, sizeof(slot->host), "%s", host);
		if (probe_start(&slot->probe, run->base, &req, on_probe_done,
				slot) < 0) {
			fprintf(stderr, "ntpverify check: %s: %s\n", host,
				slot->probe.result.detail);
			run->errors++;
			slot->next_free = run->free;
			run->free = slot;
			continue;
		}
		run->in_flight++;
	}
	if (run->in_flight == 0 && run->pending[0] == '\0')
		event_base_loopbreak(run->base);
}

/*
 * Read the key from a file or stdin (never from the command line, where
 * every user of the machine could read it in the process list).
 */
static int read_key(const struct check_opts *o, struct ntpauth_key *key)
{
	enum ntpauth_type type = NTPAUTH_AES128;
	char text[256];
	FILE *f;
	size_t n;

	if (o->key_type != NULL && ntpauth_type_parse(o->key_type, &type) < 0) {
		fprintf(stderr, "ntpverify check: --key-type: '%s' is not AES128 "
				"or SHA1\n",
			o->key_type);
		return -1;
	}
	f = strcmp(o->key_file, "-") == 0 ? stdin : fopen(o->key_file, "r");
	if (f == NULL) {
		fprintf(stderr, "ntpverify check: %s: %s\n", o->key_file,
			strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	if (f != stdin)
		fclose(f);
	int rc = ntpauth_key_parse(text, (uint32_t)o->key_id, type, key);
	OPENSSL_cleanse(text, sizeof(text));
	if (rc < 0) {
		fprintf(stderr,
			"ntpverify check: %s: not a %s key (%s hex digits, "
			"optionally after HEX:)\n",
			o->key_file, ntpauth_type_name(type),
			type == NTPAUTH_AES128 ? "32" : "up to 40");
		return -1;
	}
	return 0;
}

int cmd_check(int argc, char **argv)
{
	struct check_opts o;
	struct nv_config cfg;
	struct check_run run;
	struct ntpauth_key key;
	int status = EXIT_USAGE;

	if (parse_check_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (o.config_path != NULL) {
		if (config_load(&cfg, o.config_path, print_config_error,
				NULL) < 0)
			return EXIT_USAGE;
	} else {
		config_defaults(&cfg);
	}

	memset(&run, 0, sizeof(run));
	memset(&key, 0, sizeof(key));
	if (o.key_id != 0) {
		if (read_key(&o, &key) < 0)
			goto out;
		run.req.method = PROBE_KEY;
		run.req.key = &key;
	}
	run.o = &o;
	run.cfg = &cfg;
	run.single = o.n_hosts == 1 && o.targets == NULL;
	run.req.variable = o.variable ? o.variable : cfg.variable;
	run.req.token = o.token;
	run.req.timeout_ms = o.timeout_ms ? o.timeout_ms : cfg.probe.timeout_ms;
	run.req.retransmit_ms = cfg.probe.retransmit_ms < run.req.timeout_ms
					? cfg.probe.retransmit_ms
					: run.req.timeout_ms;
	run.req.gate = check_gate;
	run.req.gate_arg = &run;
	run.port = (uint16_t)(o.port ? o.port : cfg.ntp_port);
	run.allow_private = o.allow_private || cfg.allow_private_targets;

	if (o.source != NULL &&
	    config_parse_address(o.source, &run.req.src, &run.req.srclen) < 0) {
		fprintf(stderr,
			"ntpverify check: --source: '%s' is not an IPv4 or "
			"IPv6 address\n",
			o.source);
		goto out;
	}
	if (o.targets != NULL) {
		run.list = strcmp(o.targets, "-") == 0 ? stdin
						       : fopen(o.targets, "r");
		if (run.list == NULL) {
			fprintf(stderr, "ntpverify check: %s: %s\n", o.targets,
				strerror(errno));
			goto out;
		}
	}

	unsigned n_slots = run.single ? 1 : cfg.probe.max_in_flight;
	run.slots = calloc(n_slots, sizeof(*run.slots));
	run.base = event_base_new();
	if (run.base != NULL)
		evtimer_assign(&run.ev_wait, run.base, wait_cb, &run);
	struct ratelimit_params limits = limits_from_config(&cfg);
	run.rl = ratelimit_new(&limits);
	if (run.slots == NULL || run.base == NULL || run.rl == NULL) {
		fprintf(stderr, "ntpverify check: out of memory\n");
		goto out;
	}
	for (unsigned i = 0; i < n_slots; i++) {
		run.slots[i].run = &run;
		run.slots[i].next_free = run.free;
		run.free = &run.slots[i];
	}

	fill(&run);
	if (run.in_flight > 0 || run.pending[0] != '\0')
		event_base_dispatch(run.base);
	fflush(stdout);

	if (run.done == 0 && run.errors > 0)
		status = EXIT_USAGE; /* nothing could be probed at all */
	else
		status = run.negative > 0 || run.errors > 0 ? EXIT_NEGATIVE : 0;
out:
	if (run.slots != NULL) {
		unsigned n = run.single ? 1 : cfg.probe.max_in_flight;
		for (unsigned i = 0; i < n; i++)
			probe_cancel(&run.slots[i].probe);
	}
	free(run.slots);
	if (run.base != NULL) {
		event_del(&run.ev_wait);
		event_base_free(run.base);
	}
	ratelimit_free(run.rl);
	if (run.list != NULL && run.list != stdin)
		fclose(run.list);
	config_free(&cfg);
	ntpauth_key_wipe(&key);
	return status;
}
