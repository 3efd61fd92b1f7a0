/*
 * migrate.h - the numbered schema migrations in sql/migrations/, embedded
 * into the binary at build time (prober/migrations.cmake), and the code
 * that applies them.
 *
 * The database records what it has in schema_version (one row per applied
 * migration). Applying is safe to run again and from several probers at
 * once: each migration runs in its own transaction under one advisory lock
 * and is skipped when its version is already recorded.
 *
 * The connection must be a blocking one (PQconnectdb): these are start-up
 * and admin-command calls, not event-loop code.
 */
#ifndef NTPVERIFY_MIGRATE_H
#define NTPVERIFY_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>

/* One migration file, e.g. sql/migrations/001_initial.sql. */
struct migration {
	int version;     /* the file name's number: 1 for 001_initial.sql */
	const char *name; /* the rest of the file name: "initial" */
	const char *sql; /* the file's text; it records itself in schema_version */
};

/* Generated from sql/migrations/ (migrations_data.c): ascending versions. */
extern const struct migration migration_table[];
extern const size_t migration_count;

/* The highest version this binary knows, i.e. the schema it expects. */
int migrate_latest(void);

/*
 * Apply, in version order, every embedded migration not yet recorded in
 * schema_version, creating schema_version first when it is missing. One
 * line per applied migration, and errors, go to `log` (nothing when NULL).
 * Returns 0 when the database has every migration this binary knows (or
 * newer ones), -1 on error (the failed migration is rolled back; earlier
 * ones stay applied).
 */
int migrate_apply(PGconn *conn, FILE *log) __attribute__((warn_unused_result));

/*
 * Set *version to the highest version recorded in schema_version, 0 when
 * the table does not exist (an empty database). Returns 0, or -1 when the
 * query failed (*version untouched).
 */
int migrate_current(PGconn *conn, int *version)
	__attribute__((warn_unused_result));

#endif
