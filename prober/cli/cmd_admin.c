/*
 * cmd_admin.c - the admin commands on the verification queue: migrate,
 * add, list, show, retry, cancel.
 *
 * These are one-shot commands, so they use blocking libpq (PQconnectdb,
 * PQexecParams) rather than the daemon's event loop. Every value goes to
 * the server as a parameter. Tokens and keys are secrets: only `add` prints
 * one (the operator needs it for ntp.conf or the key file; admin_key.c
 * prints the key method's lines), nothing else does, and database error
 * messages are reduced to their primary line because a DETAIL line such as
 * "Failing row contains (...)" would quote the token or the key.
 *
 * Exit status: 0 done, 1 a negative answer (not found, not pending,
 * already pending), 2 usage, configuration or database trouble.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli/admin_key.h"
#include "core/random.h"
#include "cli/commands.h"
#include "config/config.h"
#include "store/migrate.h"
#include "engine/policy.h"
#include "core/textout.h"
#include "core/token.h"


/* Random bytes in a generated token: 128 bits, printed as 32 hex digits. */
#define ADMIN_TOKEN_BYTES 16

#include "cli/admin.h"

void admin_usage(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "add") == 0)
		fprintf(f, "usage: ntpverify add [--config FILE] "
			   "[--method setvar] [--token TOKEN] IP...\n"
			   "       ntpverify add [--config FILE] --method key "
			   "[--key-type AES128|SHA1] IP...\n");
	else if (strcmp(cmd, "list") == 0)
		fprintf(f, "usage: ntpverify list [--config FILE] "
			   "[--state pending|verified|expired|cancelled]\n");
	else if (strcmp(cmd, "migrate") == 0)
		fprintf(f, "usage: ntpverify migrate [--config FILE]\n");
	else
		fprintf(f, "usage: ntpverify %s [--config FILE] ID\n", cmd);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool is_add = strcmp(cmd, "add") == 0;
	bool is_list = strcmp(cmd, "list") == 0;
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:t:m:k:s:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case 't':
			if (!is_add)
				goto bad;
			if (!token_valid(optarg)) {
				/* Do not echo it: it may be a real token. */
				fprintf(stderr, "ntpverify add: --token: %s\n",
					TOKEN_RULE);
				return -1;
			}
			o->token = optarg;
			break;
		case 'm':
			if (!is_add)
				goto bad;
			if (strcmp(optarg, "key") != 0 &&
			    strcmp(optarg, "setvar") != 0) {
				fprintf(stderr, "ntpverify add: --method: '%.32s' "
						"is not setvar or key\n", optarg);
				return -1;
			}
			o->key_method = strcmp(optarg, "key") == 0;
			break;
		case 'k': {
			enum ntpauth_type type;

			if (!is_add)
				goto bad;
			if (ntpauth_type_parse(optarg, &type) < 0) {
				fprintf(stderr, "ntpverify add: --key-type: "
						"'%.32s' is not AES128 or SHA1\n",
					optarg);
				return -1;
			}
			o->key_type = optarg;
			break;
		}
		case 's':
			if (!is_list)
				goto bad;
			if (strcmp(optarg, "pending") != 0 &&
			    strcmp(optarg, "verified") != 0 &&
			    strcmp(optarg, "expired") != 0 &&
			    strcmp(optarg, "cancelled") != 0) {
				fprintf(stderr, "ntpverify list: --state: '%.32s' "
						"is not one of pending, verified, "
						"expired, cancelled\n", optarg);
				return -1;
			}
			o->state = optarg;
			break;
		case 'h':
			admin_usage(stdout, cmd);
			exit(0);
		default:
			goto bad;
		}
	}
	if (o->token && o->key_method) {
		fprintf(stderr, "ntpverify add: --token goes with the setvar "
				"method; the key method generates a key\n");
		return -1;
	}
	if (o->key_type && !o->key_method) {
		fprintf(stderr, "ntpverify add: --key-type goes with "
				"--method key\n");
		return -1;
	}
	return optind;
bad:
	admin_usage(stderr, cmd);
	return -1;
}

/* The primary message of a failed statement: never its DETAIL. */
static const char *db_error(PGconn *conn, const PGresult *r)
{
	const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(conn);
	return m;
}

void admin_db_error(const struct admin *a, const char *what,
		    const PGresult *r)
{
	const char *m = db_error(a->conn, r);
	size_t n = strlen(m);

	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	fprintf(stderr, "ntpverify %s: %s: %.*s\n", a->cmd, what, (int)n, m);
}

/* Discard NOTICEs: nothing these commands run is worth one on stderr. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

void admin_close(struct admin *a)
{
	if (a->conn)
		PQfinish(a->conn);
	a->conn = NULL;
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
	int version = 0;

	memset(a, 0, sizeof(*a));
	a->cmd = cmd;
	if (config_load(&a->cfg, path, print_config_error, NULL) < 0)
		return EXIT_USAGE;
	a->cfg_loaded = true;

	a->conn = PQconnectdb(a->cfg.database ? a->cfg.database : "");
	if (a->conn == NULL || PQstatus(a->conn) != CONNECTION_OK) {
		/* libpq's message names host and user, never the password. */
		fprintf(stderr, "ntpverify %s: cannot connect to the database "
				"(the 'database' setting in %s): %s",
			cmd, path,
			a->conn ? PQerrorMessage(a->conn) : "out of memory\n");
		admin_close(a);
		return EXIT_USAGE;
	}
	PQsetNoticeProcessor(a->conn, quiet_notice, NULL);
	if (!need_schema)
		return 0;
	if (migrate_current(a->conn, &version) < 0) {
		admin_db_error(a, "reading schema_version", NULL);
		admin_close(a);
		return EXIT_USAGE;
	}
	if (version < migrate_latest()) {
		fprintf(stderr, "ntpverify %s: the database schema is at version "
				"%d, this ntpverify needs %d: run 'ntpverify "
				"migrate' first\n", cmd, version, migrate_latest());
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
	if (argc - first != 1) {
		admin_usage(stderr, cmd);
		return EXIT_USAGE;
	}
	return parse_id(cmd, argv[first], id) < 0 ? EXIT_USAGE : 0;
}

/* A NULL column as "-" so columns never go missing. */
const char *admin_col(const PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? "-" : PQgetvalue(r, row, c);
}

/* Free text written by probers (details may quote a server's reply). */
void admin_put_text(const char *s)
{
	text_put_escaped(stdout, s, strlen(s));
}

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
		admin_usage(stderr, "migrate");
		return EXIT_USAGE;
	}
	rc = admin_open(&a, "migrate", o.config_path, false);
	if (rc != 0)
		return rc;
	if (migrate_apply(a.conn, stderr) < 0 ||
	    migrate_current(a.conn, &version) < 0) {
		fprintf(stderr, "ntpverify migrate: the schema was not brought "
				"up to date\n");
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

/* What the operator of `server` must do, after the row was inserted. */
static void print_instructions(const struct admin *a, const char *id,
			       const char *server, const char *expires,
			       const char *token, const struct admin_key *key)
{
	const char *var = a->cfg.variable ? a->cfg.variable : "ntppool_verify";

	printf("verification %s for %s (pending until %s)\n", id, server,
	       expires);
	if (key != NULL) {
		admin_key_print(stdout, key, server);
		return;
	}
	printf("add these lines to ntp.conf on %s, after any 'restrict default' "
	       "line:\n\n", server);
	printf("setvar %s = \"%s\"\n", var, token);
	for (size_t i = 0; i < a->cfg.n_sources; i++) {
		char addr[INET6_ADDRSTRLEN];

		printf("restrict %s\n",
		       canonical_address(&a->cfg.sources[i].addr, addr,
					 sizeof(addr)) == 0
			       ? addr : a->cfg.sources[i].text);
	}
	if (a->cfg.n_sources == 0)
		printf("# (no source_addresses configured: add 'restrict ADDR' "
		       "for each address the prober sends from)\n");
	printf("\nthen restart ntpd (it reads setvar only at start-up) and "
	       "test on the server:\n\n");
	printf("ntpq -c \"rv 0 %s\" 127.0.0.1\n\n", var);
}

/*
 * Insert one pending row: with `token` (setvar method) or `key` (key
 * method, token NULL). refused_why (policy_allows' reason, or NULL) adds a
 * warning. Returns 0 (printed), EXIT_NEGATIVE (already pending: named) or
 * EXIT_USAGE (database trouble).
 */
static int add_one(struct admin *a, const char *server, const char *token,
		   const struct admin_key *key, const char *refused_why)
{
	/* ON CONFLICT names the partial unique index's predicate, so only
	 * "another pending row for this address" is swallowed. */
#define ADD_ON_CONFLICT \
	" ON CONFLICT (server_ip) WHERE state = 'pending' DO NOTHING" \
	" RETURNING id, " SQL_UTC("expires_at")
	static const char sql_insert_token[] =
		"INSERT INTO verification (server_ip, token)"
		" VALUES ($1::inet, $2)" ADD_ON_CONFLICT;
	static const char sql_insert_key[] =
		"INSERT INTO verification"
		"  (server_ip, method, key_id, key_type, key_secret)"
		" VALUES ($1::inet, 'key', $2::integer, $3, $4)" ADD_ON_CONFLICT;
#undef ADD_ON_CONFLICT
	static const char sql_pending[] =
		"SELECT id FROM verification"
		" WHERE server_ip = $1::inet AND state = 'pending'";
	char key_id[12];
	const char *values[4] = { server, token };
	int nvalues = 2;

	if (key != NULL) {
		snprintf(key_id, sizeof(key_id), "%u", key->id);
		values[1] = key_id;
		values[2] = ntpauth_type_name(key->type);
		values[3] = key->hex;
		nvalues = 4;
	}

	/* Twice at most: the pending row we collide with may finish between
	 * the INSERT and the SELECT. */
	for (int tries = 0; tries < 2; tries++) {
		PGresult *r = PQexecParams(a->conn,
					   key ? sql_insert_key : sql_insert_token,
					   nvalues, NULL, values, NULL, NULL, 0);

		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			admin_db_error(a, server, r);
			PQclear(r);
			return EXIT_USAGE;
		}
		if (PQntuples(r) == 1) {
			print_instructions(a, PQgetvalue(r, 0, 0), server,
					   PQgetvalue(r, 0, 1), token, key);
			/* Added anyway: the web site could add it too, and the
			 * daemon records why it never sends there. */
			if (refused_why)
				fprintf(stderr, "ntpverify add: warning: this "
						"prober's policy refuses %s (%s): "
						"it will be recorded as "
						"refused_by_policy\n",
					server, refused_why);
			PQclear(r);
			return 0;
		}
		PQclear(r);

		r = PQexecParams(a->conn, sql_pending, 1, NULL, values, NULL,
				 NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			admin_db_error(a, server, r);
			PQclear(r);
			return EXIT_USAGE;
		}
		if (PQntuples(r) == 1) {
			fprintf(stderr, "ntpverify add: %s already has a pending "
					"verification (id %s); 'ntpverify cancel "
					"%s' withdraws it\n", server,
				PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 0));
			PQclear(r);
			return EXIT_NEGATIVE;
		}
		PQclear(r);
	}
	fprintf(stderr, "ntpverify add: %s: the pending row kept changing; try "
			"again\n", server);
	return EXIT_USAGE;
}

int cmd_add(int argc, char **argv)
{
	struct admin_opts o;
	struct admin a;
	int first = admin_parse(argc, argv, "add", &o);
	enum ntpauth_type key_type = NTPAUTH_AES128;
	int n, rc, worst = 0;
	char (*servers)[INET6_ADDRSTRLEN];

	if (first < 0)
		return EXIT_USAGE;
	if (o.key_type && ntpauth_type_parse(o.key_type, &key_type) < 0)
		return EXIT_USAGE; /* admin_parse checked it */
	n = argc - first;
	if (n < 1) {
		fprintf(stderr, "ntpverify add: at least one server address "
				"expected\n");
		admin_usage(stderr, "add");
		return EXIT_USAGE;
	}
	if (o.token && n > 1) {
		/* One token for several servers would let one setvar line
		 * verify them all. */
		fprintf(stderr, "ntpverify add: --token goes with exactly one "
				"server address\n");
		return EXIT_USAGE;
	}
	servers = calloc((size_t)n, sizeof(*servers));
	if (servers == NULL) {
		fprintf(stderr, "ntpverify add: out of memory\n");
		return EXIT_USAGE;
	}
	/* Check every operand before inserting anything. */
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (config_parse_address(argv[first + i], &ss, &len) < 0 ||
		    canonical_address(&ss, servers[i], sizeof(servers[i])) < 0) {
			fprintf(stderr, "ntpverify add: '%.64s' is not an IPv4 "
					"or IPv6 address\n", argv[first + i]);
			free(servers);
			return EXIT_USAGE;
		}
	}

	rc = admin_open(&a, "add", o.config_path, true);
	if (rc != 0) {
		free(servers);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		char token[TOKEN_MAX_LEN + 1];
		struct admin_key key;
		struct sockaddr_storage ss;
		socklen_t len;
		const char *why = NULL;
		int made;

		if (o.key_method)
			made = admin_key_make(key_type, &key);
		else if (o.token)
			made = snprintf(token, sizeof(token), "%s", o.token) < 0;
		else
			made = make_token(token, sizeof(token));
		if (made != 0) {
			fprintf(stderr, "ntpverify add: getrandom: %s\n",
				strerror(errno));
			worst = EXIT_USAGE;
			break;
		}
		if (config_parse_address(servers[i], &ss, &len) == 0 &&
		    policy_allows((const struct sockaddr *)&ss,
				  a.cfg.allow_private_targets, &why))
			why = NULL;
		rc = add_one(&a, servers[i], o.key_method ? NULL : token,
			     o.key_method ? &key : NULL, why);
		admin_key_wipe(&key);
		OPENSSL_cleanse(token, sizeof(token));
		if (rc > worst)
			worst = rc;
		if (rc == EXIT_USAGE)
			break; /* the database is in trouble: stop here */
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
static int explain_not_pending(struct admin *a, const char *idtext)
{
	const char *values[1] = { idtext };
	PGresult *r = PQexecParams(a->conn,
				   "SELECT state FROM verification"
				   " WHERE id = $1::bigint",
				   1, NULL, values, NULL, NULL, 0);
	int rc = EXIT_NEGATIVE;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		admin_db_error(a, "reading the verification", r);
		rc = EXIT_USAGE;
	} else if (PQntuples(r) == 0) {
		fprintf(stderr, "ntpverify %s: no verification with id %s\n",
			a->cmd, idtext);
	} else {
		fprintf(stderr, "ntpverify %s: verification %s is %s, not "
				"pending\n", a->cmd, idtext, PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return rc;
}

/* Run `sql` ($1 = id) that returns one row when it changed a pending row. */
static int change_pending(int argc, char **argv, const char *cmd,
			  const char *sql, PGresult **out, struct admin *a,
			  char *idtext, size_t idlen)
{
	struct admin_opts o;
	int first = admin_parse(argc, argv, cmd, &o);
	const char *values[1] = { idtext };
	int64_t id;
	PGresult *r;
	int rc;

	*out = NULL;
	rc = admin_single_id(argc, argv, first, cmd, &id);
	if (rc != 0)
		return rc;
	rc = admin_open(a, cmd, o.config_path, true);
	if (rc != 0)
		return rc;
	snprintf(idtext, idlen, "%" PRId64, id);
	r = PQexecParams(a->conn, sql, 1, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		admin_db_error(a, "updating the verification", r);
		PQclear(r);
		admin_close(a);
		return EXIT_USAGE;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		rc = explain_not_pending(a, idtext);
		admin_close(a);
		return rc;
	}
	*out = r;
	return 0;
}

int cmd_retry(int argc, char **argv)
{
	/*
	 * Due now. A lease that ran out (its prober died) is cleared too, so
	 * the trigger's "not leased" test passes and the probers are woken;
	 * a live lease is left alone: that probe is under way.
	 */
	static const char sql[] =
		"UPDATE verification SET next_probe_at = now(),"
		"  lease_owner = CASE WHEN lease_until > now() THEN lease_owner END,"
		"  lease_token = CASE WHEN lease_until > now() THEN lease_token END,"
		"  lease_until = CASE WHEN lease_until > now() THEN lease_until END"
		" WHERE id = $1::bigint AND state = 'pending'"
		" RETURNING lease_token IS NOT NULL, expires_at <= now(),"
		"  " SQL_UTC("expires_at");
	struct admin a;
	char idtext[24];
	PGresult *r;
	int rc = change_pending(argc, argv, "retry", sql, &r, &a, idtext,
				sizeof(idtext));

	if (rc != 0)
		return rc;
	if (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
		printf("verification %s expired at %s: the probers will mark it "
		       "expired instead of probing it\n", idtext,
		       PQgetvalue(r, 0, 2));
	else if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
		printf("verification %s is being probed right now; the result "
		       "will be recorded shortly\n", idtext);
	else
		printf("verification %s is due now; the probers have been "
		       "notified\n", idtext);
	PQclear(r);
	admin_close(&a);
	return 0;
}

int cmd_cancel(int argc, char **argv)
{
	/*
	 * Clearing the lease makes a probe in flight lose it, so its result
	 * is discarded rather than written over the cancellation.
	 */
	static const char sql[] =
		"UPDATE verification SET state = 'cancelled',"
		"  lease_owner = NULL, lease_token = NULL, lease_until = NULL"
		" WHERE id = $1::bigint AND state = 'pending'"
		" RETURNING host(server_ip)";
	struct admin a;
	char idtext[24];
	PGresult *r;
	int rc = change_pending(argc, argv, "cancel", sql, &r, &a, idtext,
				sizeof(idtext));

	if (rc != 0)
		return rc;
	printf("verification %s for %s cancelled\n", idtext, PQgetvalue(r, 0, 0));
	PQclear(r);
	admin_close(&a);
	return 0;
}
