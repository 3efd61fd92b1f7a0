/*
 * cmd_admin.c - the admin commands that change the verification queue:
 * migrate, add, retry, cancel (list and show are admin_view.c's, what
 * they share admin.c's).
 *
 * These are one-shot commands over a blocking connection; the queries
 * are store/admin_db.c's, which reduces database errors to their primary
 * line. Tokens and keys are secrets: only `add` prints one (the operator
 * needs it for ntp.conf or the key file; admin_key.c prints the key
 * method's lines), nothing else does.
 *
 * Exit status: 0 done, 1 a negative answer (not found, not pending,
 * already pending), 2 usage, configuration or database trouble.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/admin.h"
#include "store/admin_quorum.h"
#include "cli/admin_json.h"
#include "cli/admin_key.h"
#include "cli/admin_refid.h"
#include "cli/commands.h"
#include "cli/timefmt.h"
#include "config/config.h"
#include "core/random.h"
#include "core/refid_code.h"
#include "core/token.h"
#include "engine/policy.h"

/* Random bytes in a generated token: 128 bits, printed as 32 hex digits. */
#define ADMIN_TOKEN_BYTES 16

/* ---- migrate ---------------------------------------------------------- */

int cmd_migrate(int argc, char **argv)
{
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, "migrate", &o);
	int version = 0;
	int rc;

	if (first < 0)
		return EXIT_USAGE;
	if (first != argc) {
		command_extra_operand("migrate", argv[first]);
		return EXIT_USAGE;
	}
	rc = admin_open(&a, "migrate", o.config_path, false);
	if (rc != 0)
		return rc;
	if (admin_db_migrate(a.db, stderr) < 0 ||
	    admin_db_schema_current(a.db, &version) < 0) {
		admin_fail(&a, "the schema was not brought up to date");
		admin_close(&a);
		return EXIT_USAGE;
	}
	printf("database at schema version %d\n", version);
	admin_close(&a);
	return 0;
}

/* ---- add -------------------------------------------------------------- */

/* 128 random bits as 32 lowercase hex digits: within the token charset. */
static int make_token(char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ADMIN_TOKEN_BYTES];

	if (len < 2 * sizeof(raw) + 1 || random_bytes(raw, sizeof(raw)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	buf[2 * sizeof(raw)] = '\0';
	return 0;
}

/* Canonical text of an address literal (2001:DB8::0:1 -> 2001:db8::1). */
static int canonical_address(const struct sockaddr_storage *ss, char *buf,
			     socklen_t len)
{
	const void *a = ss->ss_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	return inet_ntop(ss->ss_family, a, buf, len) ? 0 : -1;
}

/*
 * One restrict line per address the probers send from: every registered
 * perspective's (they all probe), or the local configuration's when no
 * perspective has registered yet. Returns how many lines; with f NULL
 * nothing is printed (cmd_add asks before it inserts anything).
 */
static size_t print_restricts(FILE *f, const struct admin *a)
{
	struct admin_db_table src;

	if (admin_db_perspective_sources(a->db, &src) == ADMIN_DB_DONE) {
		size_t n = src.n;
		for (size_t i = 0; f != NULL && i < n; i++)
			fprintf(f, "restrict %s\n", src.cell[i]);
		admin_db_table_free(&src);
		if (n > 0)
			return n;
	}
	for (size_t i = 0; f != NULL && i < a->cfg.n_sources; i++) {
		char addr[INET6_ADDRSTRLEN];

		fprintf(f, "restrict %s\n",
			canonical_address(&a->cfg.sources[i].addr, addr,
					  sizeof(addr)) == 0
				? addr : a->cfg.sources[i].text);
	}
	return a->cfg.n_sources;
}

/* The ntp.conf lines and steps of the setvar method, to f. */
static void print_setvar_steps(FILE *f, const struct admin *a,
			       const char *server, const char *var,
			       const char *token)
{
	fprintf(f, "add these lines to ntp.conf on %s, after any 'restrict "
		   "default' line:\n\n", server);
	fprintf(f, "setvar %s = \"%s\"\n", var, token);
	print_restricts(f, a);
	/* A second line for the same address adds its flags to the
	 * first's (NTPsec's hack_restrict ORs them): a bare line would not
	 * lift a 'noquery' already there. */
	fprintf(f, "\n(if ntp.conf has a 'restrict' line for one of these "
		   "addresses already,\nremove 'noquery' and 'limited' from "
		   "it instead of adding a second one)\n");
	fprintf(f, "\nthen restart ntpd (it reads setvar only at start-up) "
		   "and test on the server:\n\n");
	fprintf(f, "ntpq -c \"rv 0 %s\" 127.0.0.1\n\n", var);
}

/* The proof material of one new row: exactly one of the three is set. */
struct add_proof {
	const char *token;            /* setvar method (secret) */
	const struct admin_key *key;  /* key method (secret) */
	const char *refid_code;       /* refid method */
};

/*
 * What the operator of `server` must do, after the row was inserted: as
 * text, or (--json) one object whose "instructions" are the same lines.
 */
static void print_instructions(const struct admin *a, bool json,
			       const struct admin_db_added *row,
			       const char *server, const struct add_proof *p)
{
	const char *token = p->token;
	const struct admin_key *key = p->key;
	const char *var = a->cfg.variable ? a->cfg.variable : "ntppool_verify";
	struct admin_json_added j = {
		.id = row->id, .server = server, .expires_at = row->expires,
		.variable = var, .token = token,
		.key_id = key ? key->id : 0,
		.key_type = key ? ntpauth_type_name(key->type) : NULL,
		.refid_code = p->refid_code,
	};
	char when[TIMEFMT_MAX], *text = NULL;
	size_t len = 0;
	FILE *f = json ? open_memstream(&text, &len) : stdout;

	if (f == NULL) {
		fprintf(stderr, "ntpverify add: out of memory\n");
		return;
	}
	if (!json)
		printf("verification %" PRId64 " for %s (pending until %s)\n",
		       row->id, server,
		       timefmt_human(row->expires, when, sizeof(when)));
	if (key != NULL)
		admin_key_print(f, key, server);
	else if (p->refid_code != NULL)
		admin_refid_print(f, p->refid_code, server);
	else
		print_setvar_steps(f, a, server, var, token);
	if (!json)
		return;
	fclose(f);
	j.instructions = text;
	admin_json_added(&j);
	/* The text holds the token or the key. */
	OPENSSL_cleanse(text, len);
	free(text);
}

/*
 * Insert one pending row with its proof material. refused_why
 * (policy_allows' reason, or NULL) adds a warning. Returns 0 (printed),
 * EXIT_NEGATIVE (already pending: named) or EXIT_USAGE (database trouble).
 */
static int add_one(struct admin *a, bool json, const char *server,
		   const struct add_proof *p, const char *refused_why)
{
	struct admin_db_new v = { .server = server, .token = p->token,
				  .refid_code = p->refid_code };
	const struct admin_key *key = p->key;
	struct admin_db_added row;

	if (key != NULL) {
		v.key_id = key->id;
		v.key_type = ntpauth_type_name(key->type);
		v.key_hex = key->hex;
	}
	switch (admin_db_add(a->db, &v, &row)) {
	case ADMIN_DB_DONE:
		print_instructions(a, json, &row, server, p);
		/* Added anyway: the web site could add it too, and the
		 * daemon records why it never sends there. */
		if (refused_why)
			fprintf(stderr, "ntpverify add: warning: this prober's "
					"policy refuses %s (%s): it will be "
					"recorded as refused_by_policy\n",
				server, refused_why);
		return 0;
	case ADMIN_DB_PENDING:
		fprintf(stderr, "ntpverify add: %s already has a pending "
				"verification (id %" PRId64 "); 'ntpverify "
				"cancel %" PRId64 "' withdraws it\n",
			server, row.id, row.id);
		return EXIT_NEGATIVE;
	case ADMIN_DB_ERROR:
		admin_fail(a, server);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "ntpverify add: %s: the pending row kept "
				"changing; try again\n", server);
		return EXIT_USAGE;
	}
}

/* A server address as typed, checked and in canonical text. */
typedef char add_server_text[INET6_ADDRSTRLEN];

/*
 * Check every operand before inserting anything: *servers gets their
 * canonical text (caller frees). Returns how many, or -1 after saying why.
 */
static int add_operands(int argc, char **argv, int first,
			const struct admin_opts *o, add_server_text **servers)
{
	int n = argc - first;

	if (n < 1) {
		command_missing_operand("add", "IP (one or more server "
					       "addresses)");
		return -1;
	}
	if (o->token && n > 1) {
		/* One token for several servers would let one setvar line
		 * verify them all. */
		fprintf(stderr, "ntpverify add: --token goes with exactly one "
				"server address\n");
		return -1;
	}
	*servers = calloc((size_t)n, sizeof(**servers));
	if (*servers == NULL) {
		fprintf(stderr, "ntpverify add: out of memory\n");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (config_parse_address(argv[first + i], &ss, &len) < 0 ||
		    canonical_address(&ss, (*servers)[i],
				      sizeof((*servers)[i])) < 0) {
			fprintf(stderr, "ntpverify add: '%.64s' is not an IPv4 "
					"or IPv6 address\n", argv[first + i]);
			free(*servers);
			*servers = NULL;
			return -1;
		}
	}
	return n;
}

/*
 * Make the token or key for `server`, add it and wipe the secret. Returns
 * add_one()'s status, EXIT_USAGE when no random octets came.
 */
static int add_server(struct admin *a, const struct admin_opts *o,
		      enum ntpauth_type key_type, const char *server)
{
	char token[TOKEN_MAX_LEN + 1];
	char code[REFID_CODE_LEN + 1];
	struct add_proof proof = { NULL, NULL, NULL };
	struct admin_key key;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why = NULL;
	int made, rc;

	memset(&key, 0, sizeof(key));
	if (o->key_method)
		made = admin_key_make(key_type, &key);
	else if (o->refid_method)
		made = refid_code_make(code);
	else if (o->token)
		made = snprintf(token, sizeof(token), "%s", o->token) < 0;
	else
		made = make_token(token, sizeof(token));
	if (made != 0) {
		fprintf(stderr, "ntpverify add: getrandom: %s\n",
			strerror(errno));
		rc = EXIT_USAGE;
		goto out;
	}
	if (config_parse_address(server, &ss, &len) == 0 &&
	    policy_allows((const struct sockaddr *)&ss,
			  a->cfg.allow_private_targets, &why))
		why = NULL;
	if (o->key_method)
		proof.key = &key;
	else if (o->refid_method)
		proof.refid_code = code;
	else
		proof.token = token;
	rc = add_one(a, o->json, server, &proof, why);
out:
	admin_key_wipe(&key);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}

int cmd_add(int argc, char **argv)
{
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, "add", &o);
	enum ntpauth_type key_type = NTPAUTH_AES128;
	add_server_text *servers = NULL;
	int n, rc, worst = 0;

	if (first < 0)
		return EXIT_USAGE;
	if (o.key_type && ntpauth_type_parse(o.key_type, &key_type) < 0)
		return EXIT_USAGE; /* admin_parse checked it */
	n = add_operands(argc, argv, first, &o, &servers);
	if (n < 0)
		return EXIT_USAGE;
	rc = admin_open(&a, "add", o.config_path, true);
	if (rc != 0) {
		free(servers);
		return rc;
	}
	/* The setvar method's lines name the probers' addresses: without
	 * any, they would be incomplete. The key method needs none. */
	if (!o.key_method && print_restricts(NULL, &a) == 0) {
		fprintf(stderr, "ntpverify add: no source_addresses in the "
				"configuration and no prober registered yet: "
				"the 'restrict' lines for ntp.conf cannot be "
				"printed (set source_addresses)\n");
		admin_close(&a);
		free(servers);
		return EXIT_USAGE;
	}
	for (int i = 0; i < n; i++) {
		rc = add_server(&a, &o, key_type, servers[i]);
		if (rc > worst)
			worst = rc;
		if (rc == EXIT_USAGE)
			break; /* no randomness, or database trouble: stop */
	}
	admin_close(&a);
	free(servers);
	return worst;
}

/* ---- retry and cancel ------------------------------------------------- */

/*
 * Say why `id` could not be changed: it does not exist (or is not
 * pending). Returns EXIT_NEGATIVE, or EXIT_USAGE on database trouble.
 */
static int explain_not_pending(struct admin *a, int64_t id)
{
	char state[32];

	switch (admin_db_state(a->db, id, state, sizeof(state))) {
	case ADMIN_DB_ERROR:
		admin_fail(a, "reading the verification");
		return EXIT_USAGE;
	case ADMIN_DB_NONE:
		fprintf(stderr, "ntpverify %s: no verification with id %" PRId64
				"\n", a->cmd, id);
		return EXIT_NEGATIVE;
	default:
		fprintf(stderr, "ntpverify %s: verification %" PRId64 " is %s, "
				"not pending\n", a->cmd, id, state);
		return EXIT_NEGATIVE;
	}
}

/* The store call that changes one pending row. */
typedef enum admin_db_result (*change_fn)(struct admin_db *db, int64_t id,
					  struct admin_db_change *out);

/*
 * Parse `cmd ID`, connect and apply `change` to the pending row; 0 with
 * *out filled and *id set, or an exit status after saying why.
 */
static int change_pending(int argc, char **argv, const char *cmd,
			  change_fn change, struct admin_db_change *out,
			  int64_t *id)
{
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, cmd, &o);
	int rc;

	rc = admin_single_id(argc, argv, first, cmd, id);
	if (rc != 0)
		return rc;
	rc = admin_open(&a, cmd, o.config_path, true);
	if (rc != 0)
		return rc;
	switch (change(a.db, *id, out)) {
	case ADMIN_DB_DONE:
		rc = 0;
		break;
	case ADMIN_DB_NONE:
		rc = explain_not_pending(&a, *id);
		break;
	default:
		admin_fail(&a, "updating the verification");
		rc = EXIT_USAGE;
		break;
	}
	admin_close(&a);
	return rc;
}

int cmd_retry(int argc, char **argv)
{
	struct admin_db_change ch;
	char when[TIMEFMT_MAX];
	int64_t id;
	int rc = change_pending(argc, argv, "retry", admin_db_retry, &ch, &id);

	if (rc != 0)
		return rc;
	if (ch.expired)
		printf("verification %" PRId64 " expired at %s: the probers will "
		       "mark it expired instead of probing it\n", id,
		       timefmt_human(ch.expires, when, sizeof(when)));
	else if (ch.leased)
		printf("verification %" PRId64 " is being probed right now; the "
		       "result will be recorded shortly\n", id);
	else
		printf("verification %" PRId64 " is due now; the probers have "
		       "been notified\n", id);
	return 0;
}

int cmd_cancel(int argc, char **argv)
{
	struct admin_db_change ch;
	int64_t id;
	int rc = change_pending(argc, argv, "cancel", admin_db_cancel, &ch, &id);

	if (rc != 0)
		return rc;
	printf("verification %" PRId64 " for %s cancelled\n", id, ch.server);
	return 0;
}
