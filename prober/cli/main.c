/*
 * main.c - the ntpverify command: one table of subcommands that the
 * dispatch, `ntpverify --help` and `ntpverify help COMMAND` all read.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config/config.h"

#include "nv_version.h"

/* One option of a command, for its --help (and the man page check). */
struct command_option {
	const char *flag; /* "--config FILE" */
	const char *help; /* what it does, one line */
};

/* One subcommand. */
struct command {
	const char *name;                  /* as typed */
	int (*run)(int argc, char **argv); /* returns the exit status */
	const char *usage;                 /* after "usage: "; may span lines */
	const char *summary;               /* one line for --help */
	const struct command_option *options; /* ends with { NULL }; --help
					       * is added to every list */
};

static int cmd_version(int argc, char **argv);

/* Continuation lines of a usage, aligned under the first option. */
#define USAGE_CHECK_INDENT "                       "

/* --config and --json as the admin commands take them. */
#define OPT_ADMIN_CONFIG { "--config FILE", "the admin configuration: its " \
	"database role owns the tables (docs/admins.md)" }
#define OPT_JSON_LINES { "--json", "one JSON object per line, RFC 3339 " \
	"UTC times" }

static const struct command_option check_options[] = {
	{ "--config FILE", "probe settings and source addresses from FILE" },
	{ "--token TOKEN", "the token the server must hold (setvar method)" },
	{ "--variable NAME", "the variable to read (default ntppool_verify)" },
	{ "--source ADDR", "send from ADDR" },
	{ "--port N", "the server's NTP port (default 123)" },
	{ "--timeout DURATION", "give up after DURATION (e.g. 500ms, 3s)" },
	{ "--allow-private", "probe private and loopback addresses too" },
	{ "--json", "one JSON object per server" },
	{ "--summary", "then outcome counts and timing on stderr" },
	{ "--targets FILE|-", "read HOST lines from FILE (- for stdin)" },
	{ "--key-id N", "the key method: the key's ID (1..65535)" },
	{ "--key-type AES128|SHA1", "the key method: the key's type" },
	{ "--key-file FILE|-", "the key method: the hex key (- for stdin)" },
	{ "--refid CODE", "the refid method: stratum 1 with this refid" },
	{ NULL, NULL },
};

static const struct command_option check_config_options[] = {
	{ "--for run|admin", "run (default): all that 'ntpverify run' needs; "
			     "admin: the one-shot commands' needs only" },
	{ NULL, NULL },
};

static const struct command_option run_options[] = {
	{ "--config FILE", "the prober's configuration (default "
			   DEFAULT_CONFIG_PATH ")" },
	{ "--debug", "log debug lines too" },
	{ NULL, NULL },
};

static const struct command_option status_options[] = {
	{ "--socket PATH", "ask the daemon at PATH (reads no configuration)" },
	{ "--config FILE", "find status_socket in FILE (default "
			   DEFAULT_CONFIG_PATH ")" },
	{ "--json", "the daemon's JSON document as received" },
	{ NULL, NULL },
};

static const struct command_option admin_options[] = {
	OPT_ADMIN_CONFIG,
	{ NULL, NULL },
};

static const struct command_option add_options[] = {
	OPT_ADMIN_CONFIG,
	{ "--method setvar|key|refid", "how the operator proves control "
				       "(default setvar)" },
	{ "--token TOKEN", "setvar: this token (one IP only), not a random "
			   "one" },
	{ "--key-type AES128|SHA1", "key: the random key's type (default "
				    "AES128)" },
	OPT_JSON_LINES,
	{ NULL, NULL },
};

static const struct command_option list_options[] = {
	OPT_ADMIN_CONFIG,
	{ "--state STATE", "only pending, awaiting_approval, verified, "
			   "expired or cancelled" },
	OPT_JSON_LINES,
	{ NULL, NULL },
};

static const struct command_option show_options[] = {
	OPT_ADMIN_CONFIG,
	{ "--json", "one JSON object with its attempts, RFC 3339 UTC times" },
	{ NULL, NULL },
};

static const struct command_option policy_options[] = {
	OPT_ADMIN_CONFIG,
	{ "--set KEY=VALUE", "change quorum, min_regions, confirmations, "
			     "confirmation_gap or corroboration_window "
			     "(repeatable; all or nothing)" },
	{ NULL, NULL },
};

/* What every exception action takes (docs/admins.md, "Exceptions"). */
#define OPT_EXCEPTION_REASON { "--reason TEXT", "why, and on what evidence " \
	"(required; kept in the audit trail)" }
#define OPT_EXCEPTION_ADMIN { "--admin NAME", "who you are, for the audit " \
	"trail (default: the database role)" }

static const struct command_option link_options[] = {
	OPT_ADMIN_CONFIG,
	{ "--to ID", "the neighbour's verification: verified by an NTP "
		     "method, same network" },
	{ "--prefix LEN", "the network to share (default 24 for IPv4, 64 "
			  "for IPv6)" },
	OPT_EXCEPTION_REASON,
	OPT_EXCEPTION_ADMIN,
	{ NULL, NULL },
};

static const struct command_option approve_options[] = {
	OPT_ADMIN_CONFIG,
	OPT_EXCEPTION_REASON,
	OPT_EXCEPTION_ADMIN,
	{ NULL, NULL },
};

static const struct command_option no_options[] = {
	{ NULL, NULL },
};

static const struct command commands[] = {
	{ "check", cmd_check,
	  "ntpverify check [--config FILE] [--token TOKEN] [--variable NAME]\n"
	  USAGE_CHECK_INDENT "[--source ADDR] [--port N] [--timeout DURATION]\n"
	  USAGE_CHECK_INDENT "[--allow-private] [--json] [--summary]\n"
	  USAGE_CHECK_INDENT "[--targets FILE|-] [--refid CODE]\n"
	  USAGE_CHECK_INDENT "[--key-id N [--key-type AES128|SHA1] "
	  "--key-file FILE|-]\n"
	  USAGE_CHECK_INDENT "[HOST...]",
	  "probe one server now and print the outcome", check_options },
	{ "check-config", cmd_check_config,
	  "ntpverify check-config [--for run|admin] FILE",
	  "validate a configuration file", check_config_options },
	{ "run", cmd_run, "ntpverify run [--config FILE] [--debug]",
	  "run the prober daemon", run_options },
	{ "status", cmd_status,
	  "ntpverify status [--socket PATH] [--config FILE] [--json]",
	  "ask the running daemon how it is", status_options },
	{ "migrate", cmd_migrate, "ntpverify migrate [--config FILE]",
	  "create or upgrade the database schema", admin_options },
	{ "add", cmd_add,
	  "ntpverify add [--config FILE] [--method setvar] [--token TOKEN] "
	  "[--json] IP...\n"
	  "       ntpverify add [--config FILE] --method key "
	  "[--key-type AES128|SHA1] [--json] IP...\n"
	  "       ntpverify add [--config FILE] --method refid [--json] IP...",
	  "add pending verifications and print the ntp.conf lines",
	  add_options },
	{ "list", cmd_list,
	  "ntpverify list [--config FILE] "
	  "[--state pending|awaiting_approval|verified|expired|cancelled]\n"
	  "                      [--json]",
	  "list verifications", list_options },
	{ "show", cmd_show, "ntpverify show [--config FILE] [--json] ID",
	  "show one verification and its attempts", show_options },
	{ "retry", cmd_retry, "ntpverify retry [--config FILE] ID",
	  "probe a pending verification now", admin_options },
	{ "cancel", cmd_cancel, "ntpverify cancel [--config FILE] ID",
	  "cancel a pending verification", admin_options },
	{ "policy", cmd_policy,
	  "ntpverify policy [--config FILE] [--set KEY=VALUE]...",
	  "show or change the verification policy (quorum, confirmations)",
	  policy_options },
	{ "link", cmd_link,
	  "ntpverify link [--config FILE] --to ID [--prefix LEN] "
	  "--reason TEXT\n"
	  "                      [--admin NAME] ID",
	  "indirect proof: link a pending verification to a verified "
	  "neighbour", link_options },
	{ "approve", cmd_approve,
	  "ntpverify approve [--config FILE] --reason TEXT [--admin NAME] ID",
	  "verify a linked (or out-of-band checked) verification by "
	  "exception", approve_options },
	{ "reject", cmd_reject,
	  "ntpverify reject [--config FILE] --reason TEXT [--admin NAME] ID",
	  "refuse an exception: a linked verification is pending again",
	  approve_options },
	{ "version", cmd_version, "ntpverify version", "print the version",
	  no_options },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

void command_usage(FILE *f, const char *name)
{
	const struct command *c = command_find(name);

	if (c != NULL)
		fprintf(f, "usage: %s\n", c->usage);
}

/* Width of the option column in --help. */
#define HELP_FLAG_WIDTH 24

void command_help(FILE *f, const char *name)
{
	const struct command *c = command_find(name);

	if (c == NULL)
		return;
	fprintf(f, "usage: %s\n\n%s\n\noptions:\n", c->usage, c->summary);
	for (const struct command_option *o = c->options; o->flag; o++) {
		if (strlen(o->flag) >= HELP_FLAG_WIDTH)
			fprintf(f, "  %s\n  %-*s%s\n", o->flag,
				HELP_FLAG_WIDTH, "", o->help);
		else
			fprintf(f, "  %-*s%s\n", HELP_FLAG_WIDTH, o->flag,
				o->help);
	}
	fprintf(f, "  %-*s%s\n\nsee ntpverify(8).\n", HELP_FLAG_WIDTH,
		"--help", "print this help and exit");
}

/* The end of every usage error: where the options are described. */
static void command_try_help(const char *cmd)
{
	fprintf(stderr, "ntpverify %s: 'ntpverify %s --help' describes the "
			"options\n", cmd, cmd);
}

void command_bad_option(const char *cmd, int c, char **argv)
{
	/* getopt_long has just stepped over the option it complains of. */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	size_t n = strcspn(arg, "=");

	/* Never the value: after '=' it may be a token or a key. */
	if (strncmp(arg, "--", 2) != 0) {
		if (c == ':')
			fprintf(stderr, "ntpverify %s: option -%c needs a "
					"value\n", cmd, optopt);
		else
			fprintf(stderr, "ntpverify %s: unknown option -%c\n",
				cmd, optopt);
	} else if (c == ':') {
		fprintf(stderr, "ntpverify %s: option %.*s needs a value\n",
			cmd, (int)n, arg);
	} else if (optopt != 0 && arg[n] == '=') {
		fprintf(stderr, "ntpverify %s: option %.*s takes no value\n",
			cmd, (int)n, arg);
	} else {
		fprintf(stderr, "ntpverify %s: unknown option %.*s\n", cmd,
			(int)n, arg);
	}
	command_try_help(cmd);
}

void command_unknown_option(const char *cmd, const char *name)
{
	fprintf(stderr, "ntpverify %s: unknown option --%s\n", cmd, name);
	command_try_help(cmd);
}

void command_missing_operand(const char *cmd, const char *what)
{
	fprintf(stderr, "ntpverify %s: missing operand: %s\n", cmd, what);
	command_usage(stderr, cmd);
}

void command_extra_operand(const char *cmd, const char *arg)
{
	fprintf(stderr, "ntpverify %s: unexpected operand '%.64s'\n", cmd,
		arg);
	command_usage(stderr, cmd);
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("ntpverify %s\n", NTPVERIFY_VERSION);
	return 0;
}

void print_config_error(void *arg, const char *message)
{
	/* arg: the command name, or NULL for the daemon's own log. */
	if (arg != NULL)
		fprintf(stderr, "ntpverify %s: ", (const char *)arg);
	fprintf(stderr, "%s\n", message);
}

/* check-config's options: 0 with *for_run set, 1 after --help, or
 * EXIT_USAGE after saying why. */
static int check_config_parse(int argc, char **argv, bool *for_run)
{
	static const struct option longopts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*for_run = true;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			command_help(stdout, "check-config");
			return 1;
		}
		if (c != 'f') {
			command_bad_option("check-config", c, argv);
			return EXIT_USAGE;
		}
		if (strcmp(optarg, "run") != 0 && strcmp(optarg, "admin") != 0) {
			fprintf(stderr, "ntpverify check-config: --for: '%.32s' "
					"is not run or admin\n", optarg);
			return EXIT_USAGE;
		}
		*for_run = strcmp(optarg, "run") == 0;
	}
	if (optind == argc) {
		command_missing_operand("check-config", "FILE");
		return EXIT_USAGE;
	}
	if (argc - optind > 1) {
		command_extra_operand("check-config", argv[optind + 1]);
		return EXIT_USAGE;
	}
	return 0;
}

/*
 * check-config [--for run|admin] FILE: by default what `run` needs too
 * (prober_name), so "configuration OK" means the daemon will start; with
 * --for admin only what the one-shot commands read.
 */
int cmd_check_config(int argc, char **argv)
{
	struct nv_config cfg;
	bool for_run;
	int rc = check_config_parse(argc, argv, &for_run);
	const char *path = argv[argc - 1];

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	if (config_load(&cfg, path, print_config_error, "check-config") < 0)
		return EXIT_USAGE;
	if (for_run && (cfg.prober_name == NULL || cfg.prober_name[0] == '\0')) {
		fprintf(stderr, "ntpverify check-config: %s: prober_name: not "
				"set, and 'ntpverify run' needs it (a file for "
				"the admin commands only: check-config --for "
				"admin)\n", path);
		rc = EXIT_USAGE;
	}
	config_free(&cfg);
	if (rc == 0)
		printf(for_run ? "configuration OK\n"
			       : "configuration OK for the one-shot commands "
				 "(not checked for run)\n");
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ntpverify COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'ntpverify COMMAND --help' describes one command; "
		   "see also ntpverify(8).\n");
}

/* `ntpverify help [COMMAND]`: the general usage, or one command's. */
static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = command_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "ntpverify: unknown command '%.64s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	command_help(stdout, c->name);
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;

	/* A closed pipe is an error to report, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return cmd_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	c = command_find(argv[1]);
	/* Every command's --help comes from the table, options described. */
	if (c != NULL && argc == 3 &&
	    (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		command_help(stdout, c->name);
		return 0;
	}
	if (c != NULL)
		return c->run(argc - 1, argv + 1);
	fprintf(stderr, "ntpverify: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
