#!/bin/bash
# SIGTERM never outlives the unit's TimeoutStopSec: the drain has its own
# bound, independent of probe.timeout, and results the database never took
# are logged one line each (id, outcome, time, source; never a token) so
# that an admin can replay them. Servers are a silent UDP sink, so every
# probe takes its whole timeout.
NV_TEST_NAME=daemon_shutdown
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${UDP_SINK:?}" "${NV_SOURCE_DIR:?}"

TOKEN=tok-5ec2e7-shutdown
for i in $(seq 1 12); do
	ip addr add "127.0.3.$i/32" dev lo
done
"$UDP_SINK" 0.0.0.0 123 "$NV_TMP/sink.count" &
NV_PIDS+=("$!")
nv_start_pg

# The drain's bound, from the source, and the unit's stop timeout.
grace() { sed -n "s/^#define $1 \([0-9]*\)$/\1/p" "$NV_SOURCE_DIR/prober/daemon/daemon_int.h"; }
PROBE_GRACE_MS=$(grace DRAIN_PROBE_GRACE_MS)
DB_GRACE_MS=$(grace DRAIN_DB_GRACE_MS)
BOUND_MS=$(( ${PROBE_GRACE_MS:-0} + ${DB_GRACE_MS:-0} ))
STOP_S=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$NV_SOURCE_DIR/dist/ntpverify.service.in")

# sigterm_wait NAME: SIGTERM the daemon, wait; sets RC and MS (elapsed).
sigterm_wait() {
	local t0
	t0=$(date +%s%3N)
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	RC=$?
	MS=$(( $(date +%s%3N) - t0 ))
	nv_stop_pid_wait "$DAEMON_PID"
	nv_log "$1: exit $RC after $MS ms"
}

# --- (c) the unit gives the drain time to finish ----------------------
if [ -n "$STOP_S" ] && [ "$BOUND_MS" -gt 0 ] && [ $((STOP_S * 1000)) -gt $((BOUND_MS + 5000)) ]; then
	nv_pass "TimeoutStopSec=${STOP_S}s exceeds the drain bound (${BOUND_MS} ms) with room"
else
	nv_fail "TimeoutStopSec '${STOP_S}' vs drain bound '${BOUND_MS}' ms"
fi

# --- (a) probe.timeout = 20s, nothing in flight: out at once -----------
CONF=$(nv_daemon_config sa "probe { timeout = 20s retransmit = 20s }")
nv_migrate "$CONF"
nv_start_daemon sa "$CONF"
sleep 1
sigterm_wait "(a) idle"
nv_expect_eq "(a) exit status, nothing in flight" 0 "$RC"
[ "$MS" -le 2000 ] && nv_pass "(a) stopped in $MS ms" || nv_fail "(a) stop took $MS ms (over 2 s)"

# --- (a2) probes in flight get a short grace, then their leases go back --
nv_start_daemon sa "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.3.' || i)::inet, '$TOKEN' FROM generate_series(1, 4) i"
nv_wait_for 10 "[ \"\$(cat '$NV_TMP/sink.count' 2>/dev/null)\" -ge 4 ]" || nv_fail "(a2) probes did not start"
sigterm_wait "(a2) 4 probes in flight"
nv_expect_eq "(a2) exit status" 0 "$RC"
if [ "$MS" -le $((PROBE_GRACE_MS + 2000)) ]; then
	nv_pass "(a2) stopped in $MS ms (probe grace $PROBE_GRACE_MS ms, probe.timeout 20 s)"
else
	nv_fail "(a2) stop took $MS ms with probe.timeout = 20s"
fi
nv_expect_eq "(a2) leases given back, no attempt recorded" "0|0" \
	"$(nv_psql -c "SELECT (SELECT count(*) FROM verification_probe WHERE lease_token IS NOT NULL), sum(attempts) FROM verification")"

# --- (b) results unwritten while PostgreSQL is down --------------------
nv_psql -c "DELETE FROM verification"
CONF=$(nv_daemon_config sb "probe { timeout = 3s }
rate_limit { per_destination_interval = 1s }")
nv_start_daemon sb "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.3.' || i)::inet, '$TOKEN' FROM generate_series(5, 10) i"
nv_sql_wait 10 "SELECT count(*) FROM verification_probe WHERE lease_owner = 'sb'" 6 >/dev/null ||
	nv_fail "(b) rows not leased"
ids=$(nv_psql -c "SELECT string_agg(id::text, ' ' ORDER BY id) FROM verification")
nv_stop_pg
nv_log "(b) PostgreSQL stopped with rows $ids leased"
nv_wait_for 15 "[ \$(grep -cE '^debug: verification [0-9]+ \(127\.0\.3\.[0-9]+\): no_response' '$NV_TMP/sb.log') -ge 6 ]" ||
	nv_fail "(b) probes did not finish"
sigterm_wait "(b) database down"
nv_expect_eq "(b) exit status, results lost" 1 "$RC"
if [ "$MS" -le $((BOUND_MS + 1500)) ] && [ $((STOP_S * 1000)) -gt "$MS" ]; then
	nv_pass "(b) stopped in $MS ms (bound $BOUND_MS ms)"
else
	nv_fail "(b) stop took $MS ms (bound $BOUND_MS ms, TimeoutStopSec ${STOP_S}s)"
fi
for id in $ids; do
	n=$(grep -cE "^error: shutdown: unwritten result: verification $id outcome no_response attempted_at [0-9T:-]+Z source 127\.0\.0\.2 " "$NV_TMP/sb.log")
	nv_expect_eq "(b) one log line for unwritten result $id" 1 "$n"
done
grep -q "$TOKEN" "$NV_TMP/sa.log" "$NV_TMP/sb.log" && nv_fail "a token is in the log" || nv_pass "no token in the log"
grep -qE '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-' "$NV_TMP/sb.log" && nv_fail "a lease token is in the log" || nv_pass "no lease token in the log"
nv_finish
