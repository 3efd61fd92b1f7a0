#!/bin/bash
# Failures before the first packet are attempts: with no route to the
# server (a namespace without a default route, so connect() fails with
# ENETUNREACH), every try is written as outcome send_failed with the
# system's error, shown by `ntpverify show`, counted in /metrics, retried
# on retry.schedule, and the log warns once rather than once per poll.
# When the route appears, the next attempt is sent and the log says so.
NV_TEST_NAME=daemon_send_failed
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}"
command -v curl >/dev/null || nv_skip "curl is not installed"

# 192.0.2.5 (documentation): allowed by allow_private_targets, and the
# namespace has only lo, so there is no route to it.
ip route get 192.0.2.5 >/dev/null 2>&1 && nv_skip "this namespace has a route to 192.0.2.5"
nv_start_pg
# The destination limits would space attempts 30 s apart (an attempt that
# sent nothing still counts): 1 s here, so retry.schedule decides.
CONF=$(nv_daemon_config p1 "
rate_limit { per_destination_interval = 1s per_prefix_interval = 1s }
retry { schedule = { 2s } }
probe { timeout = 1s retransmit = 500ms }
queue { poll_interval = 1s }")
nv_migrate "$CONF"
nv_start_daemon p1 "$CONF"
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('192.0.2.5', 'tok-sendfail-1') RETURNING id")

# Retried every 2 s: at least 4 attempts in 10 s, and not many more.
nv_sql_wait 15 "SELECT count(*) >= 4 FROM probe_attempt WHERE verification_id = $ID" t >/dev/null ||
	nv_fail "fewer than 4 attempts in 15 s"
n=$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID")
nv_expect_eq "every attempt is send_failed" "$n" \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID AND outcome = 'send_failed'")"
nv_expect_match "the detail has the error" "Network is unreachable" \
	"$(nv_psql -c "SELECT detail FROM probe_attempt WHERE verification_id = $ID LIMIT 1")"
nv_expect_eq "no source address recorded (nothing sent)" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID AND source_address IS NOT NULL")"
# The schedule, not a fixed 10 s or a busy loop: gaps of about 2 s.
gaps=$(nv_psql -c "SELECT round(min(g))::int || ' ' || round(max(g))::int FROM (
	SELECT extract(epoch FROM attempted_at - lag(attempted_at) OVER (ORDER BY attempted_at)) AS g
	FROM probe_attempt WHERE verification_id = $ID) x WHERE g IS NOT NULL")
nv_log "gaps between attempts (min max, s): $gaps"
nv_expect_eq "retried on the schedule (min gap >= 2 s)" 1 "$(( ${gaps% *} >= 2 ))"
nv_expect_eq "retried on the schedule (max gap <= 4 s)" 1 "$(( ${gaps#* } <= 4 ))"
nv_expect_eq "row: last outcome" "send_failed|pending" \
	"$(nv_psql -c "SELECT last_outcome, state FROM verification WHERE id = $ID")"

OUT=$("$NTPVERIFY" show --config "$CONF" "$ID" 2>&1)
nv_expect_match "show lists the attempts" "send_failed" "$OUT"
nv_expect_eq "show: not 'no attempts yet'" 0 "$(grep -c 'no attempts yet' <<<"$OUT")"

METRICS=$(curl -sS --max-time 5 --unix-socket "$NV_TMP/p1.sock" http://localhost/metrics)
nv_expect_match "metric counts them" "ntpverify_attempts_total\{outcome=\"send_failed\"\} [1-9]" "$METRICS"
m=$(sed -n 's/^ntpverify_attempts_total{outcome="send_failed"} //p' <<<"$METRICS")
nv_log "send_failed: $m in /metrics, $n+ rows"

LOG="$NV_TMP/p1.log"
nv_expect_eq "one warning for all of them" 1 "$(grep -c '^warning: cannot send probes' "$LOG")"
nv_expect_match "the warning names the error" "^warning: cannot send probes: connect: Network is unreachable" "$(grep '^warning: cannot send' "$LOG")"
nv_expect_eq "no per-poll 'cannot probe' lines" 0 "$(grep -c 'cannot probe' "$LOG")"
nv_expect_eq "debug line per attempt" 1 "$(( $(grep -c ': send_failed (' "$LOG") >= 4 ))"

# A route appears: the next attempt is sent (nothing answers: no_response),
# and one line says sending works again.
ip route add 192.0.2.0/24 dev lo
nv_sql_wait 15 "SELECT count(*) > 0 FROM probe_attempt WHERE verification_id = $ID AND outcome <> 'send_failed'" t >/dev/null ||
	nv_fail "no attempt sent after the route appeared"
nv_expect_eq "recovery said once" 1 "$(grep -c '^info: probes are sent again' "$LOG")"
nv_expect_eq "still one warning" 1 "$(grep -c '^warning: cannot send probes' "$LOG")"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"
nv_finish
