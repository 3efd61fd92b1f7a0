/*
 * admin.c - what the admin commands share (see admin.h): their options,
 * the configuration and the connection, the ID operand, and safe output.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "config/config.h"
#include "core/textout.h"
#include "core/token.h"
#include "ntpwire/ntpauth.h"

/* What admin_opt() made of one option. */
enum admin_opt_result {
	ADMIN_OPT_OK,      /* taken */
	ADMIN_OPT_REFUSED, /* its value is wrong, and that was said */
};

/* --token, --method, --key-type: add's own options. */
static enum admin_opt_result admin_opt_add(int c, const char *arg,
					   struct admin_opts *o)
{
	enum ntpauth_type type;

	switch (c) {
	case 't':
		if (!token_valid(arg)) {
			/* Do not echo it: it may be a real token. */
			fprintf(stderr, "ntpverify add: --token: %s\n",
				TOKEN_RULE);
			return ADMIN_OPT_REFUSED;
		}
		o->token = arg;
		return ADMIN_OPT_OK;
	case 'm':
		if (strcmp(arg, "key") != 0 && strcmp(arg, "setvar") != 0 &&
		    strcmp(arg, "refid") != 0) {
			fprintf(stderr, "ntpverify add: --method: '%.32s' is "
					"not setvar or key or refid\n", arg);
			return ADMIN_OPT_REFUSED;
		}
		o->key_method = strcmp(arg, "key") == 0;
		o->refid_method = strcmp(arg, "refid") == 0;
		return ADMIN_OPT_OK;
	default: /* 'k' */
		if (ntpauth_type_parse(arg, &type) < 0) {
			fprintf(stderr, "ntpverify add: --key-type: '%.32s' is "
					"not AES128 or SHA1\n", arg);
			return ADMIN_OPT_REFUSED;
		}
		o->key_type = arg;
		return ADMIN_OPT_OK;
	}
}

/* list --state. */
static enum admin_opt_result admin_opt_state(const char *arg,
					     struct admin_opts *o)
{
	if (strcmp(arg, "pending") != 0 && strcmp(arg, "verified") != 0 &&
	    strcmp(arg, "expired") != 0 && strcmp(arg, "cancelled") != 0 &&
	    strcmp(arg, "awaiting_approval") != 0) {
		fprintf(stderr, "ntpverify list: --state: '%.32s' is not one "
				"of pending, awaiting_approval, verified, "
				"expired, cancelled\n", arg);
		return ADMIN_OPT_REFUSED;
	}
	o->state = arg;
	return ADMIN_OPT_OK;
}

/* Options that go together (or do not); 0, or -1 after saying why. */
static int admin_opts_check(const struct admin_opts *o)
{
	if (o->token && (o->key_method || o->refid_method)) {
		fprintf(stderr, "ntpverify add: --token goes with the setvar "
				"method; the %s method generates a %s\n",
			o->key_method ? "key" : "refid",
			o->key_method ? "key" : "code");
		return -1;
	}
	if (o->key_type && !o->key_method) {
		fprintf(stderr, "ntpverify add: --key-type goes with "
				"--method key\n");
		return -1;
	}
	return 0;
}

/* The short codes of the options each admin command takes. */
static const char *admin_allowed(const char *cmd)
{
	if (strcmp(cmd, "add") == 0)
		return "ctmkj";
	if (strcmp(cmd, "list") == 0)
		return "csj";
	if (strcmp(cmd, "show") == 0)
		return "cj";
	return "c";
}

/*
 * Parse the options `cmd` accepts; operands are left at argv[optind..].
 * Returns optind, or -1 after printing the problem. --help exits 0.
 */
int admin_parse(int argc, char **argv, const char *cmd,
		struct admin_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "token", required_argument, NULL, 't' },
		{ "method", required_argument, NULL, 'm' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *allowed = admin_allowed(cmd);
	enum admin_opt_result r;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0; /* our messages, with the "ntpverify CMD:" prefix */
	while ((c = getopt_long(argc, argv, ":c:t:m:k:s:jh", longopts,
				NULL)) != -1) {
		if (c == 'h') {
			command_help(stdout, cmd);
			exit(0);
		}
		if (c == '?' || c == ':') {
			command_bad_option(cmd, c, argv);
			return -1;
		}
		if (strchr(allowed, c) == NULL) {
			/* Another command's option is unknown here too. */
			for (size_t i = 0; longopts[i].name; i++)
				if (longopts[i].val == c)
					command_unknown_option(cmd,
							       longopts[i].name);
			return -1;
		}
		switch (c) {
		case 'c':
			o->config_path = optarg;
			continue;
		case 'j':
			o->json = true;
			continue;
		case 's':
			r = admin_opt_state(optarg, o);
			break;
		default:
			r = admin_opt_add(c, optarg, o);
			break;
		}
		if (r != ADMIN_OPT_OK)
			return -1;
	}
	return admin_opts_check(o) < 0 ? -1 : optind;
}

/* The hint line after a database error, when there is one. */
static void admin_hint(const char *cmd, const char *hint)
{
	if (hint != NULL)
		fprintf(stderr, "ntpverify %s: hint: %s\n", cmd, hint);
}

void admin_fail(const struct admin *a, const char *what)
{
	fprintf(stderr, "ntpverify %s: %s: %s\n", a->cmd, what,
		admin_db_error(a->db));
	admin_hint(a->cmd, admin_db_hint(a->db));
}

void admin_close(struct admin *a)
{
	admin_db_close(a->db);
	a->db = NULL;
	if (a->cfg_loaded)
		config_free(&a->cfg);
	a->cfg_loaded = false;
}

/*
 * Load the configuration and connect. With need_schema, also insist that
 * the database has every migration this binary knows, so that a missing
 * table reads "run 'ntpverify migrate'" instead of an SQL error. Returns 0
 * or an exit status (EXIT_USAGE) after printing why.
 */
int admin_open(struct admin *a, const char *cmd, const char *config_path,
	       bool need_schema)
{
	const char *path = config_path ? config_path : DEFAULT_CONFIG_PATH;
	char err[1024];
	int version = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	if (config_load(&a->cfg, path, print_config_error, (void *)cmd) < 0)
		return EXIT_USAGE;
	a->cfg_loaded = true;

	a->db = admin_db_open(a->cfg.database ? a->cfg.database : "", err,
			      sizeof(err));
	if (a->db == NULL) {
		fprintf(stderr, "ntpverify %s: cannot connect to the database: "
				"%s\n", cmd, err);
		fprintf(stderr, "ntpverify %s: hint: check the connection "
				"string, the 'database' setting in %s (host, "
				"dbname, user; docs/admins.md)\n", cmd, path);
		admin_close(a);
		return EXIT_USAGE;
	}
	if (!need_schema)
		return 0;
	if (admin_db_schema_current(a->db, &version) < 0) {
		admin_fail(a, "reading schema_version");
		admin_close(a);
		return EXIT_USAGE;
	}
	if (version < admin_db_schema_latest()) {
		fprintf(stderr, "ntpverify %s: the database schema is at version "
				"%d, this ntpverify needs %d: run 'ntpverify "
				"migrate' first\n", cmd, version,
			admin_db_schema_latest());
		admin_close(a);
		return EXIT_USAGE;
	}
	return 0;
}

/* A verification id: a positive decimal number. */
static int parse_id(const char *cmd, const char *text, int64_t *id)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
	    v <= 0) {
		fprintf(stderr, "ntpverify %s: '%.32s' is not a verification "
				"id (a positive number; see 'ntpverify list')\n",
			cmd, text);
		return -1;
	}
	*id = v;
	return 0;
}

/* The one ID operand of show/retry/cancel; EXIT_USAGE when absent. */
int admin_single_id(int argc, char **argv, int first, const char *cmd,
		    int64_t *id)
{
	if (first < 0)
		return EXIT_USAGE;
	if (argc - first < 1) {
		command_missing_operand(cmd, "ID (see 'ntpverify list')");
		return EXIT_USAGE;
	}
	if (argc - first > 1) {
		command_extra_operand(cmd, argv[first + 1]);
		return EXIT_USAGE;
	}
	return parse_id(cmd, argv[first], id) < 0 ? EXIT_USAGE : 0;
}

/* A NULL column as "-" so columns never go missing. */
const char *admin_col(const char *s)
{
	return s ? s : "-";
}

/* Free text written by probers (details may quote a server's reply). */
void admin_put_text(const char *s)
{
	text_put_escaped(stdout, s, strlen(s));
}
