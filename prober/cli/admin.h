/*
 * admin.h - what the admin commands share (private to prober/).
 *
 * admin.c holds the plumbing (options, configuration, the connection);
 * cmd_admin.c holds migrate, add, retry and cancel; admin_view.c the
 * read-only list and show. The queries are store/admin_db.c's.
 */
#ifndef NTPVERIFY_ADMIN_H
#define NTPVERIFY_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "store/admin_db.h"

/* What every admin command holds while it runs. */
struct admin {
	const char *cmd;       /* "add", for messages */
	struct nv_config cfg;  /* the loaded --config */
	bool cfg_loaded;       /* cfg needs config_free() */
	struct admin_db *db;   /* NULL until connected */
};

/* Options common to all commands, plus the one or two of each. */
struct admin_opts {
	const char *config_path; /* --config */
	const char *token;       /* add --token */
	bool key_method;         /* add --method key */
	bool refid_method;       /* add --method refid */
	const char *key_type;    /* add --key-type, NULL: AES128 */
	const char *state;       /* list --state */
	bool json;               /* add, list, show --json */
};

/*
 * Parse the options `cmd` accepts; operands are left at argv[optind..].
 * Returns optind, or -1 after printing the problem. --help exits 0.
 */
int admin_parse(int argc, char **argv, const char *cmd,
		struct admin_opts *o);

/*
 * Load the configuration and connect (with need_schema, also check the
 * schema is current); 0, or an exit status after saying why. admin_close()
 * undoes it either way.
 */
int admin_open(struct admin *a, const char *cmd, const char *config_path,
	       bool need_schema);
void admin_close(struct admin *a);

/* Say that `what` failed, with the database's reason (never a DETAIL). */
void admin_fail(const struct admin *a, const char *what);

/*
 * Exactly one ID operand at argv[first] (first: admin_parse's result);
 * 0, or EXIT_USAGE after saying why.
 */
int admin_single_id(int argc, char **argv, int first, const char *cmd,
		    int64_t *id);

/*
 * show's corroboration lines for verification `id` in `state`: quorum
 * progress, why it is pending, every perspective's stance
 * (admin_progress.c). 0, or an exit status after saying why.
 */
int admin_show_progress(struct admin *a, int64_t id, const char *state);

/* A column that may be NULL, "-" for NULL. */
const char *admin_col(const char *s);

/* Untrusted text to the terminal, escaped. */
void admin_put_text(const char *s);

#endif
