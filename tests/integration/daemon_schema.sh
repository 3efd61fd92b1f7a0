#!/bin/bash
# `ntpverify run` checks the database's schema after every connect: an
# unmigrated database, one at version 1 and one newer than the binary are
# refused at start-up with exit status 3 and one line naming the versions
# and what to run (not a "relation does not exist" per poll); a database
# downgraded under a running daemon stops its leasing with one line, and
# migrating it again is picked up at the next reconnect.
NV_TEST_NAME=daemon_schema
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"

# The schema this binary needs: the highest sql/migrations/NNN_*.sql.
LATEST=$(nv_latest_schema)
nv_start_pg

# refused NAME CONF: run the daemon, which must exit by itself within
# 10 s; sets RC and LOG (its output).
refused() {
	local name=$1 conf=$2 pid t
	"$NTPVERIFY" run --config "$conf" >"$NV_TMP/$name.log" 2>&1 &
	pid=$!
	NV_PIDS+=("$pid")
	for t in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		nv_fail "$name: still running after 10 s"
		kill -TERM "$pid"
	fi
	wait "$pid"
	RC=$?
	LOG=$(cat "$NV_TMP/$name.log")
}

# expect_refusal NAME REGEX: exit 3, exactly one schema line, matching.
expect_refusal() {
	local name=$1 re=$2
	nv_expect_eq "$name: exit status 3" 3 "$RC"
	nv_expect_eq "$name: one schema line" 1 "$(grep -c 'schema' <<<"$LOG")"
	nv_expect_match "$name: the line" "^error: $re\$" "$(grep '^error:' <<<"$LOG")"
	nv_expect_eq "$name: no SQL errors" 0 "$(grep -c -e 'does not exist' -e 'relation' <<<"$LOG")"
	nv_expect_eq "$name: never connected" 0 "$(grep -c 'database: connected' <<<"$LOG")"
}

# 1. nothing migrated: version 0.
CONF=$(nv_daemon_config p1 "queue { poll_interval = 1s reconnect_max = 1s }")
refused unmigrated "$CONF"
expect_refusal unmigrated "database: no ntpverify schema \(version 0\), this ntpverify needs schema version $LATEST: run 'ntpverify migrate'"

# 2. version 1: only sql/migrations/001 applied, by hand.
nv_pg_createdb v1
nv_psql_db v1 -f "$NV_SOURCE_DIR/sql/migrations/001_initial.sql" >/dev/null
sed "s/dbname=ntpverify/dbname=v1/" "$CONF" >"$NV_TMP/v1.conf"
grep -q 'dbname=v1' "$NV_TMP/v1.conf" || nv_fail "v1.conf does not name the v1 database"
refused v1 "$NV_TMP/v1.conf"
expect_refusal v1 "database: schema version 1, this ntpverify needs schema version $LATEST: run 'ntpverify migrate'"
nv_expect_eq "v1: nothing leased" 0 "$(nv_psql_db v1 -c 'SELECT count(*) FROM verification WHERE lease_owner IS NOT NULL')"

# 3. newer than the binary: upgrade ntpverify.
nv_migrate "$CONF"
NEWER=$((LATEST + 1))
nv_psql -c "INSERT INTO schema_version (version, description) VALUES ($NEWER, 'from_the_future')"
refused newer "$CONF"
expect_refusal newer "database: schema version $NEWER is newer than this ntpverify knows \($LATEST\): upgrade ntpverify"
nv_psql -c "DELETE FROM schema_version WHERE version = $NEWER"

# 4. at the right version it runs; downgraded under it (and reconnected),
#    it stops leasing with one line; migrated again, it leases again.
nv_start_daemon p1 "$CONF"
kick() {
	nv_psql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	            WHERE datname = 'ntpverify' AND pid <> pg_backend_pid()" >/dev/null
}
nv_psql -c "DELETE FROM schema_version WHERE version = $LATEST"
kick
nv_wait_for 10 "grep -q 'schema version' '$NV_TMP/p1.log'" || nv_fail "no schema line after the downgrade"
# 127.0.0.3: nothing listens, so an attempt is written once leased.
nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.3', 'tok-schema-1')"
sleep 4 # several reconnects at queue.reconnect_max = 1s
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "still running while refused" || nv_fail "daemon exited after a reconnect"
nv_expect_eq "downgraded: nothing leased" 0 "$(nv_psql -c 'SELECT count(*) FROM verification WHERE lease_owner IS NOT NULL')"
nv_expect_eq "downgraded: one error line" 1 "$(grep -c '^error: database: schema version' "$NV_TMP/p1.log")"
nv_expect_match "downgraded: the line" "^error: database: schema version [0-9]+, this ntpverify needs schema version $LATEST: run 'ntpverify migrate'; no leases until then" "$(grep '^error:' "$NV_TMP/p1.log")"
reconnects=$(grep -c '^debug: database: schema version' "$NV_TMP/p1.log")
nv_expect_eq "downgraded: checked again (debug lines)" 1 "$((reconnects >= 2))"
nv_migrate "$CONF"
if ms=$(nv_sql_wait 15 "SELECT count(*) FROM probe_attempt" 1); then
	nv_pass "migrated again: leased and probed ${ms} ms later"
else
	nv_fail "migrated again: no attempt"
fi
nv_expect_match "migrated again: said so" "database: the schema is as needed again" "$(cat "$NV_TMP/p1.log")"
nv_expect_eq "connected twice" 2 "$(grep -c 'database: connected' "$NV_TMP/p1.log")"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status after SIGTERM" 0 "$?"
nv_finish
