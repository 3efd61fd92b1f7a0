#!/bin/bash
# Corroboration across perspectives, against real PostgreSQL and NTPsec
# ntpd: (1) quorum 2 with min_regions 2 is not met by two perspectives of
# one region, and is met once a perspective of another region agrees;
# (2) with one perspective down the row stays pending at 2/3, and the
# remaining ones reach a quorum of 2; (3) a corroboration of the old token
# does not count once the token changed.
NV_TEST_NAME=quorum_regions
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/quorum_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
TOKEN2=tok-second-7e1d0a
for i in 1 2 3; do ip addr add "127.0.6.$i/32" dev lo; done
nv_start_pg
nv_start_ntpd ntpd "setvar ntppool_verify = \"$TOKEN\"
setvar second_var = \"$TOKEN2\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2
restrict 127.0.0.4
restrict 127.0.0.5"
nv_wait_for 10 "grep -q '127.0.6.3:123' '$NV_TMP/ntpd.log'" || { nv_log "ntpd does not listen"; exit 1; }

COMMON="probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 500ms }"
CA=$(nv_perspective_config pa 127.0.0.2 a a "$COMMON")
CB1=$(nv_perspective_config pb1 127.0.0.4 b1 b "$COMMON")
CB2=$(nv_perspective_config pb2 127.0.0.5 b2 b "$COMMON")
CC=$(nv_perspective_config pc 127.0.0.5 c c "$COMMON
variable = \"second_var\"")
nv_migrate "$CA"
nv_policy "quorum = 2, min_regions = 2, confirmations = 1"

# --- (1) two regions needed ----------------------------------------------
nv_start_daemon pb1 "$CB1"; PB1=$DAEMON_PID
nv_start_daemon pb2 "$CB2"; PB2=$DAEMON_PID
R1=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.6.1', '$TOKEN') RETURNING id")
nv_sql_wait 10 "SELECT corroborating FROM verification_progress WHERE verification_id = $R1" 2 >/dev/null ||
	nv_fail "two perspectives of region b did not corroborate"
sleep 1.5 # more probes: still not enough
nv_expect_eq "2/2 in one region: pending" "pending|2/2 1 0" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $R1")|$(nv_progress $R1)"
nv_start_daemon pa "$CA"; PA=$DAEMON_PID
if nv_sql_wait 10 "SELECT state FROM verification WHERE id = $R1" verified >/dev/null; then
	nv_pass "verified once a perspective of region a agreed"
else
	nv_fail "not verified with regions a and b"
fi
by=$(nv_psql -c "SELECT verified_by FROM verification WHERE id = $R1")
nv_expect_match "verified_by names region a's prober" "pa 127\.0\.0\.2" "$by"
nv_expect_match "verified_by names a region b prober" "pb[12] 127\.0\.0\.[45]" "$by"
nv_expect_eq "verified after a's first verified attempt, never before" t \
	"$(nv_psql -c "SELECT v.verified_at >= min(a.attempted_at) FROM verification v JOIN probe_attempt a ON a.verification_id = v.id AND a.perspective = 'a' AND a.outcome = 'verified' WHERE v.id = $R1 GROUP BY v.verified_at")"
nv_expect_eq "perspectives registered with their sources" "a a {127.0.0.2}|b1 b {127.0.0.4}|b2 b {127.0.0.5}" \
	"$(nv_psql -c "SELECT string_agg(name || ' ' || region || ' ' || source_addresses::text, '|' ORDER BY name) FROM perspective")"

# --- (2) one perspective down ----------------------------------------------
nv_stop_pid "$PB2"
nv_policy "quorum = 3, min_regions = 2"
R2=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.6.2', '$TOKEN') RETURNING id")
nv_sql_wait 10 "SELECT corroborating FROM verification_progress WHERE verification_id = $R2" 2 >/dev/null ||
	nv_fail "the two remaining perspectives did not corroborate"
sleep 1.5
nv_expect_eq "b2 down, quorum 3: pending at 2/3" "pending|2/3 2 0" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $R2")|$(nv_progress $R2)"
nv_expect_match "show says why it is pending" "pending +1 more corroborating perspective needed" \
	"$("$NTPVERIFY" show --config "$CA" "$R2")"
nv_expect_match "list shows 2/3" " 2/3$" "$("$NTPVERIFY" list --config "$CA" --state pending)"
nv_policy "quorum = 2"
if nv_sql_wait 10 "SELECT state FROM verification WHERE id = $R2" verified >/dev/null; then
	nv_pass "quorum 2 reached by the perspectives that remain"
else
	nv_fail "quorum 2 not reached with a and b1"
fi

# --- (3) the token changes after one corroboration --------------------------
nv_policy "quorum = 2, min_regions = 1"
nv_stop_pid "$PB1"
R3=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.6.3', '$TOKEN') RETURNING id")
nv_sql_wait 10 "SELECT corroborating FROM verification_progress WHERE verification_id = $R3" 1 >/dev/null ||
	nv_fail "a did not corroborate the first token"
nv_stop_pid "$PA"
nv_psql -c "UPDATE verification SET token = '$TOKEN2' WHERE id = $R3"
nv_expect_eq "the new token voids a's corroboration" "0/2 0 0" "$(nv_progress $R3)"
nv_start_daemon pc "$CC"; PC=$DAEMON_PID  # reads second_var = TOKEN2
nv_sql_wait 10 "SELECT corroborating FROM verification_progress WHERE verification_id = $R3" 1 >/dev/null ||
	nv_fail "c did not corroborate the new token"
sleep 1.5
nv_expect_eq "c's corroboration alone: pending at 1/2" "pending|1/2 1 0" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $R3")|$(nv_progress $R3)"
nv_start_daemon pa "$CA"; PA=$DAEMON_PID  # still sees the old token
nv_sql_wait 10 "SELECT contrary_outcome FROM verification_probe WHERE verification_id = $R3 AND perspective = 'a'" token_mismatch >/dev/null ||
	nv_fail "a's view of the new token is not contrary"
nv_expect_eq "never verified on the old corroboration" pending \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $R3")"

kill -TERM "$PA" "$PC"
wait "$PA"; ra=$?
wait "$PC"; rc=$?
nv_expect_eq "exit statuses" "0 0" "$ra $rc"
nv_finish
