#!/bin/bash
# PostgreSQL stopped for 10 s in the middle of a run and started again: the
# daemon keeps probing, reconnects, and no outcome is lost.
NV_TEST_NAME=daemon_pg_restart
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
N=60
nv_start_pg
nv_start_ntpd_servers 127.0.2 "$N" "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

# Slow enough that the outage falls in the middle of the run: 60 rows at
# 2 attempts/s (4 packets/s) take about 30 s.
CONF=$(nv_daemon_config p1 "
rate_limit { global_pps = 4 global_burst = 2 }
probe { timeout = 2s retransmit = 1s }
queue { lease_batch = 60 lease_time = 2m poll_interval = 1s reconnect_max = 2s }")
nv_migrate "$CONF"
nv_start_daemon p1 "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.2.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"
nv_sql_wait 20 "SELECT count(*) > 0 FROM verification WHERE state = 'verified'" t >/dev/null ||
	nv_fail "nothing verified before the outage"
before=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")
nv_stop_pg
nv_log "PostgreSQL stopped with $before/$N verified"
sleep 10
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "daemon survived the outage" || nv_fail "daemon died during the outage"
nv_restart_pg
if ms=$(nv_sql_wait 60 "SELECT count(*) FROM verification WHERE state = 'verified'" $N); then
	nv_pass "all $N verified ${ms} ms after PostgreSQL came back"
else
	nv_fail "not all rows verified after the outage"
fi
nv_expect_eq "every row has its verified attempt" $N \
	"$(nv_psql -c "SELECT count(DISTINCT verification_id) FROM probe_attempt WHERE outcome = 'verified'")"
nv_expect_eq "connected twice (start + reconnect)" 2 "$(grep -c 'database: connected' "$NV_TMP/p1.log")"
# Every attempt the daemon finished (debug log) has its row: none lost.
finished=$(grep -cE '^debug: verification [0-9]+ \(127\.0\.2\.[0-9]+\): [a-z_0-9]+ \(' "$NV_TMP/p1.log")
nv_expect_eq "attempts finished = attempt rows" "$finished" "$(nv_psql -c "SELECT count(*) FROM probe_attempt")"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"
nv_finish
