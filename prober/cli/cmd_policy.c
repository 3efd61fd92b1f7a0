/*
 * cmd_policy.c - `ntpverify policy`: show or change the verification
 * policy every prober follows (quorum, min_regions, confirmations,
 * confirmation_gap, corroboration_window; docs/admins.md). The policy
 * lives in the database, so a change reaches every prober at once; a
 * value the rules refuse changes nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "config/config.h"
#include "store/admin_quorum.h"

#define POLICY_MAX_SETS 16

/* Millisecond text for a duration value; NULL when it is not one. */
static const char *policy_duration(const char *value, char *buf, size_t len)
{
	uint64_t ms;

	if (config_parse_duration(value, &ms) < 0)
		return NULL;
	snprintf(buf, len, "%llu", (unsigned long long)ms);
	return buf;
}

/* A whole number of at most 6 digits (the rules' ranges are far smaller). */
static bool policy_number(const char *value)
{
	size_t n = strlen(value);

	return n > 0 && n <= 6 && strspn(value, "0123456789") == n;
}

/* Buffers for the two durations' millisecond text. */
struct policy_bufs {
	char gap[24];    /* confirmation_gap */
	char window[24]; /* corroboration_window */
};

/* One KEY=VALUE into ch; false after saying what is wrong. */
static bool policy_assign(const char *kv, struct admin_db_policy_change *ch,
			  struct policy_bufs *b)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;
	const char *v = eq ? eq + 1 : NULL;
	const char **num = NULL;

	if (eq == NULL) {
		fprintf(stderr, "ntpverify policy: --set wants KEY=VALUE, not "
				"'%s'\n", kv);
		return false;
	}
#define KEY_IS(k) (klen == strlen(k) && strncmp(kv, k, klen) == 0)
	if (KEY_IS("quorum"))
		num = &ch->quorum;
	else if (KEY_IS("min_regions"))
		num = &ch->min_regions;
	else if (KEY_IS("confirmations"))
		num = &ch->confirmations;
	if (num != NULL) {
		if (!policy_number(v)) {
			fprintf(stderr, "ntpverify policy: %.*s: not a whole "
					"number: '%s'\n", (int)klen, kv, v);
			return false;
		}
		*num = v;
		return true;
	}
	const char **dur = KEY_IS("confirmation_gap") ? &ch->gap_ms
			 : KEY_IS("corroboration_window") ? &ch->window_ms
							   : NULL;
	char *buf = dur == &ch->gap_ms ? b->gap : b->window;
#undef KEY_IS
	if (dur == NULL) {
		fprintf(stderr, "ntpverify policy: unknown key '%.*s' (quorum, "
				"min_regions, confirmations, confirmation_gap, "
				"corroboration_window)\n", (int)klen, kv);
		return false;
	}
	*dur = policy_duration(v, buf, sizeof(b->gap));
	if (*dur == NULL) {
		fprintf(stderr, "ntpverify policy: %.*s: not a duration: '%s' "
				"(e.g. 0, 500ms, 10s, 24h, 7d)\n", (int)klen, kv, v);
		return false;
	}
	return true;
}

static void policy_print(const struct admin_db_policy *p)
{
	char gap[32], window[32];

	config_format_duration((uint64_t)(p->gap_s * 1000.0 + 0.5), gap,
			       sizeof(gap));
	config_format_duration((uint64_t)(p->window_s * 1000.0 + 0.5), window,
			       sizeof(window));
	printf("quorum                %d\n", p->quorum);
	printf("min_regions           %d\n", p->min_regions);
	printf("confirmations         %d\n", p->confirmations);
	printf("confirmation_gap      %s\n", gap);
	printf("corroboration_window  %s\n", window);
}

/* --config and --set KEY=VALUE...; optind, or -1 after saying why. */
static int policy_parse(int argc, char **argv, const char **config,
			struct admin_db_policy_change *ch,
			struct policy_bufs *b, bool *change)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:s:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			command_help(stdout, "policy");
			exit(0);
		}
		if (c == '?' || c == ':') {
			command_bad_option("policy", c, argv);
			return -1;
		}
		if (c == 'c') {
			*config = optarg;
		} else {
			*change = true;
			if (!policy_assign(optarg, ch, b))
				return -1;
		}
	}
	if (optind != argc) {
		command_extra_operand("policy", argv[optind]);
		return -1;
	}
	return optind;
}

int cmd_policy(int argc, char **argv)
{
	struct admin_db_policy_change ch = { 0 };
	struct admin_db_policy p;
	struct policy_bufs b;
	const char *config = NULL;
	bool change = false;
	struct admin a;
	int rc;

	if (policy_parse(argc, argv, &config, &ch, &b, &change) < 0)
		return EXIT_USAGE;
	rc = admin_open(&a, "policy", config, true);
	if (rc != 0)
		return rc;
	if (change ? admin_db_policy_set(a.db, &ch, &p) != ADMIN_DB_DONE
		   : admin_db_policy_get(a.db, &p) != ADMIN_DB_DONE) {
		admin_fail(&a, change ? "policy not changed" : "reading the policy");
		admin_close(&a);
		return EXIT_USAGE;
	}
	policy_print(&p);
	admin_close(&a);
	return 0;
}
