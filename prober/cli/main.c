/*
 * main.c - the ntpverify command: one table of subcommands that the
 * dispatch, `ntpverify --help` and `ntpverify help COMMAND` all read.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config/config.h"
#include "daemon/daemon.h"

#include "nv_version.h"

/* One subcommand. */
struct command {
	const char *name;                  /* as typed */
	int (*run)(int argc, char **argv); /* returns the exit status */
	const char *usage;                 /* after "usage: "; may span lines */
	const char *summary;               /* one line for --help */
};

static int cmd_version(int argc, char **argv);

/* Continuation lines of a usage, aligned under the first option. */
#define USAGE_CHECK_INDENT "                       "

static const struct command commands[] = {
	{ "check", cmd_check,
	  "ntpverify check [--config FILE] [--token TOKEN] [--variable NAME]\n"
	  USAGE_CHECK_INDENT "[--source ADDR] [--port N] [--timeout DURATION]\n"
	  USAGE_CHECK_INDENT "[--allow-private] [--json] [--targets FILE|-]\n"
	  USAGE_CHECK_INDENT "[--key-id N [--key-type AES128|SHA1] "
	  "--key-file FILE|-]\n"
	  USAGE_CHECK_INDENT "[HOST...]",
	  "probe one server now and print the outcome" },
	{ "check-config", cmd_check_config, "ntpverify check-config FILE",
	  "validate a configuration file" },
	{ "run", cmd_run, "ntpverify run [--config FILE] [--debug]",
	  "run the prober daemon" },
	{ "status", cmd_status,
	  "ntpverify status [--socket PATH] [--config FILE] [--json]",
	  "ask the running daemon how it is" },
	{ "migrate", cmd_migrate, "ntpverify migrate [--config FILE]",
	  "create or upgrade the database schema" },
	{ "add", cmd_add,
	  "ntpverify add [--config FILE] [--method setvar] [--token TOKEN] "
	  "IP...\n"
	  "       ntpverify add [--config FILE] --method key "
	  "[--key-type AES128|SHA1] IP...",
	  "add pending verifications and print the ntp.conf lines" },
	{ "list", cmd_list,
	  "ntpverify list [--config FILE] "
	  "[--state pending|verified|expired|cancelled]",
	  "list verifications" },
	{ "show", cmd_show, "ntpverify show [--config FILE] ID",
	  "show one verification and its attempts" },
	{ "retry", cmd_retry, "ntpverify retry [--config FILE] ID",
	  "probe a pending verification now" },
	{ "cancel", cmd_cancel, "ntpverify cancel [--config FILE] ID",
	  "cancel a pending verification" },
	{ "version", cmd_version, "ntpverify version", "print the version" },
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

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("ntpverify %s\n", NTPVERIFY_VERSION);
	return 0;
}

void print_config_error(void *arg, const char *message)
{
	(void)arg;
	fprintf(stderr, "%s\n", message);
}

int cmd_check_config(int argc, char **argv)
{
	struct nv_config cfg;

	if (argc != 2 || argv[1][0] == '-') {
		command_usage(stderr, "check-config");
		return EXIT_USAGE;
	}
	if (config_load(&cfg, argv[1], print_config_error, NULL) < 0)
		return EXIT_USAGE;
	config_free(&cfg);
	printf("configuration OK\n");
	return 0;
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
	printf("usage: %s\n  %s\n", c->usage, c->summary);
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
	if (c != NULL)
		return c->run(argc - 1, argv + 1);
	fprintf(stderr, "ntpverify: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
