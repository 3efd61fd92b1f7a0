/*
 * store_schema.c - the schema check of the daemon's store (store_schema.h).
 *
 * A newer schema is refused too, even one that only added things: this
 * binary cannot know whether a later migration changed what its own
 * statements rely on (a CHECK it writes against, a column's meaning), and
 * an admin upgrading the probers first and migrating last is the order
 * docs/admins.md asks for.
 */
#include <stdio.h>

#include "store/migrate.h"
#include "store/store_schema.h"

const char store_schema_sql[] =
	"SELECT coalesce(max(version), 0),"
	" (SELECT string_agg(to_char(v, 'FM000'), ', ' ORDER BY v)"
	"  FROM unnest($1::integer[]) AS v"
	"  WHERE v NOT IN (SELECT version FROM schema_version))"
	" FROM schema_version";

bool store_schema_versions(char *buf, size_t len)
{
	size_t used = 0;
	int n;

	if (len < 3)
		return false;
	buf[used++] = '{';
	for (size_t i = 0; i < migration_count; i++) {
		n = snprintf(buf + used, len - used, "%s%d", i ? "," : "",
			     migration_table[i].version);
		if (n < 0 || (size_t)n >= len - used)
			return false;
		used += (size_t)n;
	}
	if (used + 2 > len)
		return false;
	buf[used++] = '}';
	buf[used] = '\0';
	return true;
}

enum store_schema_verdict store_schema_judge(int found, const char *missing,
					     int latest, char *buf,
					     size_t len)
{
	if (missing != NULL && missing[0] != '\0') {
		if (found == 0)
			snprintf(buf, len,
				 "database: no ntpverify schema (version 0), "
				 "this ntpverify needs schema version %d: run "
				 "'ntpverify migrate'",
				 latest);
		else if (found >= latest)
			snprintf(buf, len,
				 "database: schema version %d lacks migration "
				 "%s, this ntpverify needs schema version %d "
				 "with every migration: run 'ntpverify migrate'",
				 found, missing, latest);
		else
			snprintf(buf, len,
				 "database: schema version %d, this ntpverify "
				 "needs schema version %d: run 'ntpverify "
				 "migrate'",
				 found, latest);
		return STORE_SCHEMA_OLD;
	}
	if (found > latest) {
		snprintf(buf, len,
			 "database: schema version %d is newer than this "
			 "ntpverify knows (%d): upgrade ntpverify",
			 found, latest);
		return STORE_SCHEMA_NEW;
	}
	if (len > 0)
		buf[0] = '\0';
	return STORE_SCHEMA_OK;
}
