/*
 * commands.h - the subcommands of the ntpverify binary.
 *
 * Each takes the arguments after its own name (argv[0] is the command
 * name) and returns the process exit status: 0 success, 1 a negative
 * result (e.g. an outcome other than verified), 2 usage or configuration
 * error.
 */
#ifndef NTPVERIFY_COMMANDS_H
#define NTPVERIFY_COMMANDS_H

#include <stdio.h>

#define EXIT_NEGATIVE 1
#define EXIT_USAGE 2

/*
 * Where run, status and the admin commands look without --config: the
 * installation's sysconfdir (CMake sets NTPVERIFY_DEFAULT_CONFIG; with
 * -DCMAKE_INSTALL_PREFIX=/usr it is /etc/ntpverify/ntpverify.conf).
 */
#ifdef NTPVERIFY_DEFAULT_CONFIG
#define DEFAULT_CONFIG_PATH NTPVERIFY_DEFAULT_CONFIG
#else
#define DEFAULT_CONFIG_PATH "/etc/ntpverify/ntpverify.conf"
#endif

int cmd_check(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_link(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_reject(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_run(int argc, char **argv);

/*
 * "usage: " and the usage line(s) of command `name` from main.c's command
 * table, to f; nothing for an unknown name.
 */
void command_usage(FILE *f, const char *name);

/*
 * "usage:", the summary and every option described, from the command
 * table: what `ntpverify CMD --help` prints (to stdout, exit 0).
 */
void command_help(FILE *f, const char *name);

/*
 * After getopt_long (opterr = 0, optstring starting with ':') returned c,
 * '?' or ':': say "ntpverify CMD: unknown option --x" or "option --x
 * needs a value" (never the value), and where --help is. To stderr.
 */
void command_bad_option(const char *cmd, int c, char **argv);
/* "ntpverify CMD: unknown option --NAME" (another command's option). */
void command_unknown_option(const char *cmd, const char *name);
/* "ntpverify CMD: missing operand: WHAT" and the usage, to stderr. */
void command_missing_operand(const char *cmd, const char *what);
/* "ntpverify CMD: unexpected operand 'ARG'" and the usage, to stderr. */
void command_extra_operand(const char *cmd, const char *arg);

/*
 * Print config errors to stderr (a config_error_fn); arg is the command
 * name for the "ntpverify CMD: " prefix, or NULL for none.
 */
void print_config_error(void *arg, const char *message);

#endif
