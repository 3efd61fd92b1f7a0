#!/bin/bash
# Two daemons share one database: 200 pending rows (200 server addresses on
# one real NTPsec ntpd) end verified exactly once, never probed by both.
NV_TEST_NAME=daemon_scale
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
N=200
nv_start_pg
nv_start_ntpd_servers 127.0.1 "$N" "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2
restrict 127.0.0.4"

COMMON="
rate_limit { global_pps = 400 global_burst = 50 }
probe { timeout = 2s retransmit = 1s max_in_flight = 64 }
queue { lease_batch = 20 poll_interval = 500ms }"
CONF_A=$(nv_daemon_config pa "$COMMON")
CONF_B=$(nv_daemon_config pb "$COMMON")
sed -i 's/"127.0.0.2"/"127.0.0.4"/' "$CONF_B"
nv_migrate "$CONF_A"
nv_start_daemon pa "$CONF_A"
PID_A=$DAEMON_PID
nv_start_daemon pb "$CONF_B"
PID_B=$DAEMON_PID

nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.1.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"
if ms=$(nv_sql_wait 60 "SELECT count(*) FROM verification WHERE state = 'verified'" $N); then
	nv_pass "$N rows verified in ${ms} ms by two daemons"
else
	nv_fail "not all rows verified"
fi
nv_expect_eq "exactly one attempt per row" "$N|$N" \
	"$(nv_psql -c "SELECT count(*), count(DISTINCT verification_id) FROM probe_attempt")"
nv_expect_eq "every attempt verified" "$N" \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE outcome = 'verified'")"
nv_expect_eq "verified_by matches the attempt's prober" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification v JOIN probe_attempt a ON a.verification_id = v.id WHERE v.verified_by <> a.prober || ' ' || host(a.source_address)")"
both=$(nv_psql -c "SELECT count(DISTINCT prober) FROM probe_attempt")
nv_expect_eq "both probers took work" 2 "$both"
nv_log "split: $(nv_psql -c "SELECT string_agg(prober || '=' || n, ' ') FROM (SELECT prober, count(*) n FROM probe_attempt GROUP BY prober) s")"

kill -TERM "$PID_A" "$PID_B"
wait "$PID_A"; ra=$?
wait "$PID_B"; rb=$?
nv_expect_eq "exit statuses" "0 0" "$ra $rb"
nv_finish
