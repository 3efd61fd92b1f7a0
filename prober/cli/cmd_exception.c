/*
 * cmd_exception.c - the exception process for servers no NTP method can
 * reach (docs/admins.md, "Exceptions"):
 *
 *   link ID --to NEIGHBOUR --reason TEXT   indirect proof: ID awaits approval
 *   approve ID --reason TEXT               verified by an admin's word
 *   reject ID --reason TEXT                the exception refused
 *
 * Each is one call of a database function that checks, changes and
 * records the audit row (who, when, why, on what evidence) atomically:
 * store/admin_exception.c. Nothing here decides; the database does, so
 * the web site's view and every admin see the same rules.
 *
 * Exit status: 0 done, 1 refused (not pending, neighbour not verified,
 * another network: one line says why, nothing changed), 2 usage,
 * configuration or database trouble.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "store/admin_exception.h"

/* The bounds the schema's CHECKs hold (verification_exception). */
#define EXC_REASON_MIN 3
#define EXC_REASON_MAX 1000
#define EXC_ADMIN_MAX 64

/* What the command line said. */
struct exc_opts {
	const char *config_path;            /* --config */
	struct admin_exception_request req; /* the action */
};

/* A positive whole number for --to and --prefix; false when not one. */
static bool exc_number(const char *text, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
	    v <= 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* --reason and --admin as the audit table takes them; 0 or EXIT_USAGE. */
static int exc_check_text(const char *cmd, const struct exc_opts *o)
{
	const char *r = o->req.reason, *a = o->req.admin;
	size_t n, lead;

	if (r == NULL) {
		fprintf(stderr, "ntpverify %s: --reason TEXT is required: why, "
				"and on what evidence (it is kept in the audit "
				"trail)\n", cmd);
		return EXIT_USAGE;
	}
	lead = strspn(r, " ");
	n = strlen(r);
	while (n > lead && r[n - 1] == ' ')
		n--;
	if (n - lead < EXC_REASON_MIN || strlen(r) > EXC_REASON_MAX) {
		fprintf(stderr, "ntpverify %s: --reason: %d to %d characters, "
				"please: why, and on what evidence\n", cmd,
			EXC_REASON_MIN, EXC_REASON_MAX);
		return EXIT_USAGE;
	}
	if (a == NULL)
		return 0;
	n = strlen(a);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] < 0x20 || (unsigned char)a[i] >= 0x7f)
			n = 0;
	if (n == 0 || n > EXC_ADMIN_MAX || a[0] == ' ') {
		fprintf(stderr, "ntpverify %s: --admin: 1 to %d printable ASCII "
				"characters, not starting with a blank\n", cmd,
			EXC_ADMIN_MAX);
		return EXIT_USAGE;
	}
	return 0;
}

/* One option into o; 0, or EXIT_USAGE after saying why. */
static int exc_option(const char *cmd, int c, const char *arg,
		      struct exc_opts *o)
{
	long long v;

	switch (c) {
	case 'c':
		o->config_path = arg;
		return 0;
	case 'r':
		o->req.reason = arg;
		return 0;
	case 'a':
		o->req.admin = arg;
		return 0;
	case 't':
		if (!exc_number(arg, INT64_MAX, &v)) {
			fprintf(stderr, "ntpverify %s: --to: '%.32s' is not a "
					"verification id\n", cmd, arg);
			return EXIT_USAGE;
		}
		o->req.evidence_id = v;
		return 0;
	default: /* 'p' */
		if (!exc_number(arg, 128, &v)) {
			fprintf(stderr, "ntpverify %s: --prefix: '%.32s' is not "
					"a prefix length (e.g. 24, 64)\n", cmd, arg);
			return EXIT_USAGE;
		}
		o->req.prefix_length = (int)v;
		return 0;
	}
}

/* Options and the ID operand; 0, or an exit status after saying why. */
static int exc_parse(int argc, char **argv, const char *cmd,
		     struct exc_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "admin", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 't' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool link = o->req.action == ADMIN_EXCEPTION_LINK;
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:r:a:t:p:h", longopts,
				NULL)) != -1) {
		if (c == 'h') {
			command_help(stdout, cmd);
			exit(0);
		}
		if (c == '?' || c == ':') {
			command_bad_option(cmd, c, argv);
			return EXIT_USAGE;
		}
		if (!link && (c == 't' || c == 'p')) {
			command_unknown_option(cmd, c == 't' ? "to" : "prefix");
			return EXIT_USAGE;
		}
		rc = exc_option(cmd, c, optarg, o);
		if (rc != 0)
			return rc;
	}
	rc = admin_single_id(argc, argv, optind, cmd, &o->req.id);
	if (rc != 0)
		return rc;
	if (link && o->req.evidence_id == 0) {
		fprintf(stderr, "ntpverify link: --to ID is required: the "
				"neighbour's verification, verified by an NTP "
				"method\n");
		return EXIT_USAGE;
	}
	return exc_check_text(cmd, o);
}

/* What was done, one line (cells: admin_db_exception()'s row). */
static void exc_report(const struct admin_exception_request *req,
		       const struct admin_db_table *t)
{
	char *const *cell = t->cell;

	switch (req->action) {
	case ADMIN_EXCEPTION_LINK:
		printf("verification %" PRId64 " for %s awaits approval: linked "
		       "to verification %" PRId64 " (%s), both in %s; no prober "
		       "probes it meanwhile\n", req->id, cell[0],
		       req->evidence_id, cell[1], cell[2]);
		break;
	case ADMIN_EXCEPTION_APPROVE:
		printf("verification %" PRId64 " for %s verified by exception "
		       "(%s): ", req->id, cell[0], cell[1]);
		admin_put_text(cell[2]);
		printf("\n");
		break;
	default:
		printf("verification %" PRId64 " for %s is %s: the refusal is "
		       "recorded and the probers probe it as before\n", req->id,
		       cell[0], cell[1]);
		break;
	}
}

/* Parse, connect, apply, report. */
static int exc_run(int argc, char **argv, const char *cmd,
		   enum admin_exception_action action)
{
	struct exc_opts o;
	struct admin a;
	struct admin_db_table t;
	int rc;

	memset(&o, 0, sizeof(o));
	o.req.action = action;
	rc = exc_parse(argc, argv, cmd, &o);
	if (rc != 0)
		return rc;
	rc = admin_open(&a, cmd, o.config_path, true);
	if (rc != 0)
		return rc;
	switch (admin_db_exception(a.db, &o.req, &t)) {
	case ADMIN_DB_DONE:
		exc_report(&o.req, &t);
		admin_db_table_free(&t);
		break;
	case ADMIN_DB_NONE:
		fprintf(stderr, "ntpverify %s: %s\n", cmd, admin_db_error(a.db));
		rc = EXIT_NEGATIVE;
		break;
	default:
		admin_fail(&a, "nothing changed");
		rc = EXIT_USAGE;
		break;
	}
	admin_close(&a);
	return rc;
}

int cmd_link(int argc, char **argv)
{
	return exc_run(argc, argv, "link", ADMIN_EXCEPTION_LINK);
}

int cmd_approve(int argc, char **argv)
{
	return exc_run(argc, argv, "approve", ADMIN_EXCEPTION_APPROVE);
}

int cmd_reject(int argc, char **argv)
{
	return exc_run(argc, argv, "reject", ADMIN_EXCEPTION_REJECT);
}
