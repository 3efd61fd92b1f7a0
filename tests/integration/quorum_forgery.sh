#!/bin/bash
# Against the hostile responder and real PostgreSQL: (1) confirmations = 2
# with one prober: two independent probes (other source port, other
# sequence number) at least confirmation_gap apart before verified;
# (2) an on-path forger that answers the right token only to one
# perspective's source address: never verified, and the other
# perspectives' contrary observations are on record.
NV_TEST_NAME=quorum_forgery
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/quorum_lib.sh"
: "${NTPVERIFY:?}" "${HOSTILE_RESPONDER:?}"

TOKEN=tok-3f9a1c2b7d
MAP=$NV_TMP/map
STATS=$NV_TMP/stats
printf '%s\n' "127.0.7.1 token_only_to_127_0_0_2" "127.0.7.2 good" >"$MAP"
for i in 1 2; do ip addr add "127.0.7.$i/32" dev lo; done
nv_start_pg
"$HOSTILE_RESPONDER" --token "$TOKEN" --map "$MAP" --stats "$STATS" \
	--lifetime 120 >"$NV_TMP/responder.log" 2>&1 &
RESPONDER_PID=$!
NV_PIDS+=("$RESPONDER_PID")
nv_wait_for 5 "[ -s '$STATS' ]" || { cat "$NV_TMP/responder.log" >&2; nv_log "responder did not start"; exit 1; }
# stat ADDR FIELD: a field of the responder's stats line for ADDR.
stat() {
	awk -v a="$1" -v f="$2" '$1 == a { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$STATS"
}

COMMON="probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 10s }"

# --- (1) confirmations = 2, one prober ----------------------------------
C1=$(nv_daemon_config p1 "$COMMON")
NV_CONFIRMATIONS=2 nv_migrate "$C1"
nv_policy "quorum = 1, confirmations = 2, confirmation_gap = '2 seconds'"
nv_start_daemon p1 "$C1"; P1=$DAEMON_PID
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.7.2', '$TOKEN') RETURNING id")
nv_sql_wait 5 "SELECT confirmations FROM verification_probe WHERE verification_id = $ID" 1 >/dev/null ||
	nv_fail "no first confirmation"
nv_expect_eq "one confirmation: still pending" pending "$(nv_psql -c "SELECT state FROM verification WHERE id = $ID")"
# The second probe is due after the gap, long before the 10 s poll.
if ms=$(nv_sql_wait 8 "SELECT state FROM verification WHERE id = $ID" verified); then
	nv_pass "verified after the second confirmation (${ms} ms)"
else
	nv_fail "not verified after two confirmations"
fi
sleep 0.3 # the stats file is written every 100 ms
nv_expect_eq "the responder saw two probes" 2 "$(stat 127.0.7.2 m6)"
IFS=/ read -r port1 seq1 ms1 <<<"$(stat 127.0.7.2 m6_prev)"
IFS=/ read -r port2 seq2 ms2 <<<"$(stat 127.0.7.2 m6_last)"
nv_log "probes: port $port1 seq $seq1 at $ms1, port $port2 seq $seq2 at $ms2"
[ "$port1" != "$port2" ] && nv_pass "different source ports" || nv_fail "the same source port twice"
[ "$seq1" != "$seq2" ] && nv_pass "different sequence numbers" || nv_fail "the same sequence number twice"
[ $((ms2 - ms1)) -ge 2000 ] && nv_pass "at least confirmation_gap apart ($((ms2 - ms1)) ms)" ||
	nv_fail "probes only $((ms2 - ms1)) ms apart"
nv_expect_eq "two verified attempts, the row verified at the second" "2|t" \
	"$(nv_psql -c "SELECT count(*), max(a.attempted_at) = min(v.verified_at) FROM probe_attempt a JOIN verification v ON v.id = a.verification_id WHERE v.id = $ID AND a.outcome = 'verified'")"
nv_stop_pid "$P1"

# --- (2) the right token to one perspective only --------------------------
nv_policy "quorum = 2, min_regions = 1, confirmations = 1, confirmation_gap = '0'"
CA=$(nv_perspective_config pa 127.0.0.2 a a "$COMMON")
CB=$(nv_perspective_config pb 127.0.0.4 b b "$COMMON")
CC=$(nv_perspective_config pc 127.0.0.5 c b "$COMMON")
nv_start_daemon pa "$CA"; PA=$DAEMON_PID
nv_start_daemon pb "$CB"; PB=$DAEMON_PID
nv_start_daemon pc "$CC"; PC=$DAEMON_PID
F=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.7.1', '$TOKEN') RETURNING id")
nv_sql_wait 10 "SELECT count(*) FROM verification_probe WHERE verification_id = $F AND perspective IN ('a', 'b', 'c') AND attempts >= 2" 3 >/dev/null ||
	nv_fail "the perspectives did not probe twice each"
nv_expect_eq "forged for one perspective: never verified" pending \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $F")"
nv_expect_eq "progress: a corroborates, b and c contrary" "1/2 1 2" "$(nv_progress $F)"
nv_expect_eq "the contrary observations are on record" "a verified -|b token_mismatch token_mismatch|c token_mismatch token_mismatch" \
	"$(nv_psql -c "SELECT string_agg(perspective || ' ' || last_outcome || ' ' || COALESCE(contrary_outcome, '-'), '|' ORDER BY perspective) FROM verification_probe WHERE verification_id = $F AND perspective <> 'default'")"
nv_expect_eq "no verified attempt from b or c" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $F AND perspective IN ('b', 'c') AND outcome = 'verified'")"

kill -TERM "$PA" "$PB" "$PC"
for p in "$PA" "$PB" "$PC"; do wait "$p" || nv_fail "a prober exited with $?"; done
nv_finish
