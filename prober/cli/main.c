/*
 * main.c - the ntpverify command: dispatch to a subcommand.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "config/config.h"
#include "daemon/daemon.h"

#include "nv_version.h"

struct command {
	const char *name;                /* as typed */
	int (*run)(int argc, char **argv); /* returns the exit status */
	const char *summary;             /* one line for --help */
};

static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
	{ "check", cmd_check, "probe one server now and print the outcome" },
	{ "check-config", cmd_check_config, "validate a configuration file" },
	{ "run", cmd_run, "run the prober daemon" },
	{ "status", cmd_status, "ask the running daemon how it is" },
	{ "migrate", cmd_migrate, "create or upgrade the database schema" },
	{ "add", cmd_add, "add pending verifications and print the ntp.conf lines" },
	{ "list", cmd_list, "list verifications" },
	{ "show", cmd_show, "show one verification and its attempts" },
	{ "retry", cmd_retry, "probe a pending verification now" },
	{ "cancel", cmd_cancel, "cancel a pending verification" },
	{ "version", cmd_version, "print the version" },
};

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
		fprintf(stderr, "usage: ntpverify check-config FILE\n");
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'ntpverify COMMAND --help' describes one command; "
		   "see also ntpverify(8).\n");
}

int main(int argc, char **argv)
{
	/* A closed pipe is an error to report, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "ntpverify: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
