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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin_key.h"
#include "cli/check_output.h"
#include "cli/commands.h"
#include "cli/targets.h"
#include "config/config.h"
#include "core/evtime.h"
#include "core/refid_code.h"
#include "core/textout.h"
#include "core/token.h"
#include "engine/admission.h"
#include "engine/probe.h"
#include "engine/ratelimit.h"
#include "engine/ratelimit_config.h"

struct check_opts {
	const char *config_path; /* --config */
	const char *token;       /* --token */
	const char *variable;    /* --variable, else the config's */
	const char *source;      /* --source */
	const char *targets;     /* --targets FILE, "-" for stdin */
	long key_id;             /* --key-id: key method; 0 = setvar method */
	const char *key_type;    /* --key-type, default AES128 */
	const char *key_file;    /* --key-file FILE, "-" for stdin */
	const char *refid;       /* --refid CODE: refid method */
	long port;               /* --port, else the config's; 0 = unset */
	uint64_t timeout_ms;     /* --timeout, else the config's; 0 = unset */
	bool allow_private;      /* --allow-private */
	bool json;               /* --json */
	bool summary;            /* --summary */
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
	struct probe_io *pio;          /* the probes' sockets on it */
	struct check_opts *o;          /* options */
	struct nv_config *cfg;         /* configuration (defaults without --config) */
	struct ratelimit *rl;          /* the same limits as the daemon's */
	struct admission rules;        /* policy, source, limits: as the daemon */
	struct config_source source;   /* --source, when given */
	unsigned next_source[2];       /* the rules' rotor (one source at most) */
	struct probe_request req;      /* template: variable, token, timing */
	uint16_t port;                 /* destination port */
	bool single;                   /* one host: hints, plain output */
	struct check_slot *slots;      /* n_slots of them */
	unsigned n_slots;              /* max_in_flight, or 1 for one host */
	struct check_slot *free;       /* free list */
	unsigned in_flight;            /* running probes */
	int next_operand;              /* next of o->hosts */
	struct targets list;           /* --targets, when given */
	char pending[256];             /* read but held back by the rate limit */
	struct event ev_wait;          /* rate-limit wait */
	unsigned done, negative;       /* results printed; not verified/read */
	unsigned errors;               /* targets that could not be probed */
	unsigned by_outcome[OUTCOME_COUNT]; /* results of each outcome */
	uint64_t first_start_ns;       /* the first probe started; 0 = none */
	uint64_t last_result_ns;       /* the last result came */
};

/* A decimal number in lo..hi, nothing else. */
static bool parse_range(const char *arg, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	return errno == 0 && *end == '\0' && *out >= lo && *out <= hi;
}

/* --refid: a code as `add --method refid` hands out; 0 or -1. */
static int parse_refid(const char *arg, struct check_opts *o)
{
	o->refid = arg;
	if (!refid_code_valid(arg) || refid_code_reserved(arg)) {
		fprintf(stderr, "ntpverify check: --refid: '%.8s' is not a "
				"refid code (%s, not a well-known reference "
				"ID)\n", arg, REFID_CODE_RULE);
		return -1;
	}
	return 0;
}

/* One option with its argument; 1 when c is not one of ours. */
static int parse_option(int c, const char *arg, struct check_opts *o)
{
	switch (c) {
	case 'c':
		o->config_path = arg;
		break;
	case 't':
		o->token = arg;
		if (!token_valid(arg)) {
			fprintf(stderr,
				"ntpverify check: --token: %s\n",
				TOKEN_RULE);
			return -1;
		}
		break;
	case 'V':
		o->variable = arg;
		if (!variable_valid(arg)) {
			fprintf(stderr,
				"ntpverify check: --variable: %s\n",
				VARIABLE_RULE);
			return -1;
		}
		break;
	case 's':
		o->source = arg;
		break;
	case 'p':
		if (!parse_range(arg, 1, 65535, &o->port)) {
			fprintf(stderr,
				"ntpverify check: --port: '%s' is not "
				"a port number (1-65535)\n",
				arg);
			return -1;
		}
		break;
	case 'T':
		if (config_parse_duration(arg, &o->timeout_ms) < 0 ||
		    o->timeout_ms < 100 || o->timeout_ms > 60000) {
			fprintf(stderr,
				"ntpverify check: --timeout: '%s' is "
				"not a duration between 100ms and 60s "
				"(e.g. 500ms, 3s)\n",
				arg);
			return -1;
		}
		break;
	case 'f':
		o->targets = arg;
		break;
	case 'K':
		if (!parse_range(arg, 1, 65535, &o->key_id)) {
			/* Not echoed: a mistyped secret may land here. */
			fprintf(stderr, "ntpverify check: --key-id: not "
					"a key ID (1-65535)\n");
			return -1;
		}
		break;
	case 'Y':
		o->key_type = arg;
		break;
	case 'F':
		o->key_file = arg;
		break;
	case 'R':
		return parse_refid(arg, o);
	case 'a':
		o->allow_private = true;
		break;
	case 'j':
		o->json = true;
		break;
	case 'S':
		o->summary = true;
		break;
	default:
		return 1;
	}
	return 0;
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
		{ "refid", required_argument, NULL, 'R' },
		{ "allow-private", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "summary", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	memset(o, 0, sizeof(*o));
	optind = 1;
	/* Our own messages: getopt's would quote '--opt=VALUE' whole. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:t:V:s:p:T:f:K:Y:F:R:ajSh",
				longopts, NULL)) != -1) {
		if (c == 'h') {
			command_help(stdout, "check");
			exit(0);
		}
		rc = parse_option(c, optarg, o);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			/* '?' unknown, ':' missing value: never the value. */
			command_bad_option("check", c, argv);
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
	if (o->refid != NULL && (o->key_id != 0 || o->token != NULL)) {
		fprintf(stderr, "ntpverify check: --refid is a method of its "
				"own: not with --token or --key-id\n");
		return -1;
	}
	o->hosts = argv + optind;
	o->n_hosts = argc - optind;
	if (o->n_hosts == 0 && o->targets == NULL) {
		command_missing_operand("check", "HOST (or --targets FILE)");
		return -1;
	}
	return 0;
}

static void report(struct check_run *run, const char *host,
		   const struct sockaddr *dst, const struct probe_result *r)
{
	char server[INET6_ADDRSTRLEN];

	probe_addr_str(dst, server, sizeof(server));
	if (run->o->json)
		check_print_json(stdout, host, server, run->port, &run->req, r);
	else
		check_print_human(server, run->port, run->req.variable,
				  run->req.token, r, run->single);
	run->done++;
	if ((unsigned)r->outcome < OUTCOME_COUNT)
		run->by_outcome[r->outcome]++;
	run->last_result_ns = evtime_mono_ns();
	if (r->outcome != OUTCOME_VERIFIED && r->outcome != OUTCOME_READ)
		run->negative++;
}

static bool check_gate(void *arg, const struct sockaddr *dst)
{
	struct check_run *run = arg;

	return ratelimit_take_packet(run->rl, dst, evtime_mono_ms());
}

/*
 * The next target, or false at the end. Blank lines and '#' are skipped;
 * a bad line of the list (too long, a NUL octet) is reported as
 * FILE:LINE, counted in errors like a host that cannot be probed, and
 * skipped.
 */
static bool next_target(struct check_run *run, char *buf, size_t len)
{
	if (run->pending[0] != '\0') {
		str_copy(buf, len, run->pending);
		run->pending[0] = '\0';
		return true;
	}
	while (run->next_operand < run->o->n_hosts) {
		str_copy(buf, len, run->o->hosts[run->next_operand++]);
		return true;
	}
	for (;;) {
		const char *why;
		switch (targets_next(&run->list, buf, len, &why)) {
		case TARGETS_HOST:
			return true;
		case TARGETS_BAD_LINE:
			fprintf(stderr, "ntpverify check: %s:%lu: %s\n",
				run->list.name, run->list.line, why);
			run->errors++;
			continue;
		case TARGETS_END:
			if (why != NULL) {
				fprintf(stderr, "ntpverify check: %s: %s\n",
					run->list.name, why);
				run->errors++;
			}
			targets_close(&run->list);
			break;
		}
		break;
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

/* A destination the policy refuses: reported like a probe's result. */
static void report_refused(struct check_run *run, const char *host,
			   const struct sockaddr *dst, const char *why,
			   bool hint)
{
	struct probe_result refused;

	memset(&refused, 0, sizeof(refused));
	refused.outcome = OUTCOME_REFUSED_BY_POLICY;
	refused.rtt_ms = -1;
	snprintf(refused.detail, sizeof(refused.detail), "%s%s", why,
		 hint ? " (see --allow-private)" : "");
	report(run, host, dst, &refused);
}

/*
 * Resolve one target and put it through admission on a free slot.
 * Returns false when the rate limits say wait: the target is held in
 * run->pending and the wait timer armed.
 */
static bool start_target(struct check_run *run, const char *host)
{
	struct probe_request req = run->req;
	struct admission_decision ad;
	const char *why = NULL;
	uint64_t now = evtime_mono_ms();

	if (targets_resolve(host, run->rules.n_sources ? run->source.family
						    : AF_UNSPEC,
			 run->port, &req.dst, &req.dstlen, &why) < 0) {
		fprintf(stderr, "ntpverify check: %s: %s\n", host, why);
		run->errors++;
		return true;
	}

	struct check_slot *slot = run->free;
	run->free = slot->next_free;
	str_copy(slot->host, sizeof(slot->host), host);
	admission_start(&run->rules, &req, now, &slot->probe, run->pio,
			on_probe_done, slot, &ad);
	if (ad.status == ADMISSION_STARTED) {
		run->in_flight++;
		if (run->first_start_ns == 0)
			run->first_start_ns = evtime_mono_ns();
		return true;
	}
	slot->next_free = run->free;
	run->free = slot;

	switch (ad.status) {
	case ADMISSION_REFUSED:
	case ADMISSION_NO_SOURCE:
		/* The hint only where --allow-private would lift the refusal:
		 * never for multicast, broadcast or unspecified addresses. */
		report_refused(run, host, (struct sockaddr *)&req.dst, ad.why,
			       ad.status == ADMISSION_REFUSED &&
				       ad.private_target);
		return true;
	case ADMISSION_DEFERRED:
		if (ad.not_before_ms == UINT64_MAX) {
			fprintf(stderr,
				"ntpverify check: %s: the rate limits never "
				"allow it (%s)\n",
				host, ad.why);
			run->errors++;
			return true;
		}
		/* Hold this target and come back when allowed. */
		str_copy(run->pending, sizeof(run->pending), host);
		evtime_add_ms(&run->ev_wait, ad.not_before_ms > now
						     ? ad.not_before_ms - now
						     : 1);
		return false;
	case ADMISSION_NO_MEMORY:
		fprintf(stderr, "ntpverify check: out of memory\n");
		break;
	default:
		fprintf(stderr, "ntpverify check: %s: %s\n", host,
			slot->probe.result.detail);
		break;
	}
	run->errors++;
	return true;
}

/* Start probes until the slots, the rate limits or the targets run out. */
static void fill(struct check_run *run)
{
	char host[256];

	while (run->free != NULL && next_target(run, host, sizeof(host)))
		if (!start_target(run, host))
			return;
	if (run->in_flight == 0 && run->pending[0] == '\0')
		event_base_loopbreak(run->base);
}

/*
 * The request template, the rules, the target list, the slots and the
 * loop, from the options and the configuration. Returns 0, or -1 after
 * saying why on stderr; check_run_free() cleans up either way.
 */
static int check_run_init(struct check_run *run, struct check_opts *o,
			  struct nv_config *cfg)
{
	run->o = o;
	run->cfg = cfg;
	run->single = o->n_hosts == 1 && o->targets == NULL;
	run->req.variable = o->variable ? o->variable : cfg->variable;
	run->req.token = o->token;
	run->req.timeout_ms = o->timeout_ms ? o->timeout_ms : cfg->probe.timeout_ms;
	run->req.retransmit_ms = cfg->probe.retransmit_ms < run->req.timeout_ms
					 ? cfg->probe.retransmit_ms
					 : run->req.timeout_ms;
	run->req.gate = check_gate;
	run->req.gate_arg = run;
	run->port = (uint16_t)(o->port ? o->port : cfg->ntp_port);
	run->rules.allow_private = o->allow_private || cfg->allow_private_targets;
	run->rules.sources = &run->source;
	run->rules.next_source = run->next_source;

	if (o->source != NULL) {
		if (config_parse_address(o->source, &run->source.addr,
					 &run->source.addrlen) < 0) {
			fprintf(stderr,
				"ntpverify check: --source: '%s' is not an "
				"IPv4 or IPv6 address\n",
				o->source);
			return -1;
		}
		run->source.family = run->source.addr.ss_family;
		run->rules.n_sources = 1;
	}
	if (o->targets != NULL) {
		const char *why;
		if (targets_open(&run->list, o->targets, &why) < 0) {
			fprintf(stderr, "ntpverify check: %s: %s\n", o->targets,
				why);
			return -1;
		}
	}

	run->n_slots = run->single ? 1 : cfg->probe.max_in_flight;
	run->slots = calloc(run->n_slots, sizeof(*run->slots));
	run->base = event_base_new();
	if (run->base != NULL) {
		evtimer_assign(&run->ev_wait, run->base, wait_cb, run);
		run->pio = probe_io_new(run->base);
	}
	struct ratelimit_params limits = limits_from_config(cfg);
	run->rl = run->rules.rl = ratelimit_new(&limits);
	if (run->slots == NULL || run->base == NULL || run->rl == NULL) {
		fprintf(stderr, "ntpverify check: out of memory\n");
		return -1;
	}
	if (run->pio == NULL) { /* EMFILE, or the epoll watch limit */
		fprintf(stderr, "ntpverify check: epoll: %s\n", strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < run->n_slots; i++) {
		run->slots[i].run = run;
		run->slots[i].next_free = run->free;
		run->free = &run->slots[i];
	}
	return 0;
}

static void check_run_free(struct check_run *run)
{
	if (run->slots != NULL) {
		for (unsigned i = 0; i < run->n_slots; i++)
			probe_cancel(&run->slots[i].probe);
	}
	free(run->slots);
	probe_io_free(run->pio);
	if (run->base != NULL) {
		event_del(&run->ev_wait);
		event_base_free(run->base);
	}
	ratelimit_free(run->rl);
	targets_close(&run->list);
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
				(void *)"check") < 0)
			return EXIT_USAGE;
	} else {
		config_defaults(&cfg);
	}

	memset(&run, 0, sizeof(run));
	memset(&key, 0, sizeof(key));
	if (o.key_id != 0) {
		if (admin_key_read(o.key_file, o.key_type, o.key_id, &key) < 0)
			goto out;
		run.req.method = PROBE_KEY;
		run.req.key = &key;
	} else if (o.refid != NULL) {
		run.req.method = PROBE_REFID;
		run.req.refid_code = o.refid;
	}
	if (check_run_init(&run, &o, &cfg) < 0)
		goto out;

	fill(&run);
	if (run.in_flight > 0 || run.pending[0] != '\0')
		event_base_dispatch(run.base);
	fflush(stdout);
	if (o.summary) {
		uint64_t span = 0; /* first probe's start to the last result */
		if (run.first_start_ns != 0 &&
		    run.last_result_ns > run.first_start_ns)
			span = run.last_result_ns - run.first_start_ns;
		check_print_summary(run.by_outcome, run.errors, span);
	}

	if (run.done == 0 && run.errors > 0)
		status = EXIT_USAGE; /* nothing could be probed at all */
	else
		status = run.negative > 0 || run.errors > 0 ? EXIT_NEGATIVE : 0;
out:
	check_run_free(&run);
	config_free(&cfg);
	ntpauth_key_wipe(&key);
	return status;
}
