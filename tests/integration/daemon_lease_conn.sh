#!/bin/bash
# The LEASE has a connection of its own: with the prober's role as in
# docs/admins.md, a running daemon holds two, every LEASE runs on one and
# every WRITE on the other (PostgreSQL's statement log, by backend pid).
# With CONNECTION LIMIT 1 on the role the second is refused: the daemon
# leases on its first connection, verifies every row all the same, and
# says nothing about the refused one above debug.
NV_TEST_NAME=daemon_lease_conn
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"

TOKEN=tok-3f9a1c2b7d
N=20
nv_start_pg
nv_start_ntpd_servers 127.0.5 $((2 * N)) "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

CONF=$(nv_daemon_config lc "queue { poll_interval = 1s reconnect_max = 1s }")
nv_migrate "$CONF"
# The daemon as the role docs/admins.md creates, with its GRANTs.
nv_psql -c "CREATE ROLE ntpverify LOGIN" -c "$(nv_admins_grants ntpverify)" >/dev/null ||
	{ nv_log "the prober role's GRANTs failed"; exit 1; }
sed -i "s|user=postgres|user=ntpverify|" "$CONF"
# Every statement in the server log with its backend's pid.
nv_psql -c "ALTER SYSTEM SET log_line_prefix = 'pid=%p '" \
	-c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null

backends() { # the prober role's connections now
	nv_psql -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'ntpverify'"
}
pids_of() { # FILE REGEX: the distinct backend pids that ran statements matching it
	grep -E "^pid=[0-9]+ LOG:  (execute|statement).*$2" "$1" |
		sed 's/^pid=\([0-9]*\) .*/\1/' | sort -u
}
log_from() { # LINE FILE: the server log from LINE on into FILE
	tail -n +"$1" "$NV_TMP/pg.log" >"$2"
}
run_round() { # FIRST: insert N rows from 127.0.5.FIRST on, wait for all verified
	nv_psql -c "INSERT INTO verification (server_ip, token)
		SELECT ('127.0.5.' || i)::inet, '$TOKEN' FROM generate_series($1, $1 + $N - 1) i"
	nv_sql_wait 30 "SELECT count(*) FROM verification WHERE state = 'verified'
		AND server_ip >= '127.0.5.$1'::inet AND server_ip <= '127.0.5.$(($1 + N - 1))'::inet" $N >/dev/null
}

# 1. Two connections: once both are up, LEASEs on one, WRITEs on the other
# (the first LEASEs, before the second connection is up, go on the first).
nv_start_daemon lc "$CONF"
nv_wait_for 10 '[ "$(backends)" = 2 ]' || true
nv_expect_eq "two connections for one prober" 2 "$(backends)"
mark=$(($(wc -l <"$NV_TMP/pg.log") + 1))
run_round 1 && nv_pass "all $N verified" || nv_fail "not all $N verified"
log_from "$mark" "$NV_TMP/pg1.log"
lease_pids=$(pids_of "$NV_TMP/pg1.log" 'ntpverify_lease\(')
write_pids=$(pids_of "$NV_TMP/pg1.log" 'ntpverify_record\(')
nv_expect_eq "every LEASE on one backend" 1 "$(printf '%s\n' "$lease_pids" | grep -c .)"
nv_expect_eq "every WRITE on one backend" 1 "$(printf '%s\n' "$write_pids" | grep -c .)"
[ -n "$lease_pids" ] && [ -n "$write_pids" ] && [ "$lease_pids" != "$write_pids" ] &&
	nv_pass "LEASEs and WRITEs on different connections" ||
	nv_fail "LEASEs ($lease_pids) and WRITEs ($write_pids) share a connection"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"

# 2. One connection allowed: the daemon takes it and leases on it.
nv_psql -c "ALTER ROLE ntpverify CONNECTION LIMIT 1" >/dev/null
mark=$(($(wc -l <"$NV_TMP/pg.log") + 1))
nv_start_daemon lc2 "$CONF"
run_round $((N + 1)) && nv_pass "all $N verified on one connection" ||
	nv_fail "not all $N verified on one connection"
nv_expect_eq "one connection for the prober" 1 "$(backends)"
log_from "$mark" "$NV_TMP/pg2.log"
lease2=$(pids_of "$NV_TMP/pg2.log" 'ntpverify_lease\(')
write2=$(pids_of "$NV_TMP/pg2.log" 'ntpverify_record\(')
nv_expect_eq "LEASEs on the first connection" "$write2" "$lease2"
nv_expect_match "the second connection was refused" "too many connections for role" "$(cat "$NV_TMP/pg2.log")"
nv_expect_eq "nothing said of it above debug" 0 \
	"$(grep -vE '^debug: ' "$NV_TMP/lc2.log" | grep -ci 'too many connections')"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"
nv_finish
