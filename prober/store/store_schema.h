/*
 * store_schema.h - does the database have the schema this binary was
 * built for? The daemon's store asks after every (re)connect, before
 * LISTEN: a database nobody migrated, or one restored from an older dump,
 * would otherwise fail every statement with "relation does not exist" and
 * never say what to do. The statement and the verdict are pure (no
 * connection, no event loop), for the unit tests.
 *
 * Private to prober/store/.
 */
#ifndef NTPVERIFY_STORE_SCHEMA_H
#define NTPVERIFY_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

/*
 * $1: the embedded migration versions as an integer[] literal. Returns
 * one row: the highest recorded version (0 when none) and the embedded
 * versions not recorded, as "004, 005" (NULL when none). Fails with
 * SQLSTATE 42P01 when schema_version does not exist: version 0.
 */
extern const char store_schema_sql[];

/* 42P01, undefined_table: no schema_version at all. */
#define STORE_SCHEMA_NO_TABLE "42P01"

enum store_schema_verdict {
	STORE_SCHEMA_OK = 0, /* every embedded migration, nothing newer */
	STORE_SCHEMA_OLD,    /* migrations missing: run ntpverify migrate */
	STORE_SCHEMA_NEW,    /* a newer schema: upgrade ntpverify */
};

/*
 * The versions of the embedded migrations (migrate.h) as "{1,2,3}" in
 * buf; false when buf is too small.
 */
bool store_schema_versions(char *buf, size_t len)
	__attribute__((warn_unused_result));

/*
 * Judge what the database has: `found` its highest recorded version,
 * `missing` the embedded versions it lacks ("" or NULL: none), `latest`
 * the highest embedded one. Unless OK, one log-ready sentence naming the
 * version found, the version needed and what to run goes into buf.
 */
enum store_schema_verdict store_schema_judge(int found, const char *missing,
					     int latest, char *buf,
					     size_t len);

#endif
