/*
 * cmd_run.c - `ntpverify run`: the daemon's command line. The daemon
 * itself is prober/daemon/ (daemon_run()); this file only turns options
 * into its arguments, in the same voice as every other command.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "core/log.h"
#include "daemon/daemon.h"

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG_PATH;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:dh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			command_help(stdout, "run");
			return 0;
		default:
			command_bad_option("run", c, argv);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		command_extra_operand("run", argv[optind]);
		return EXIT_USAGE;
	}
	return daemon_run(path, print_config_error, (void *)"run");
}
