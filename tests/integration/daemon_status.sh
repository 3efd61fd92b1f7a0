#!/bin/bash
# The status socket of a running daemon, against real PostgreSQL and a real
# NTPsec ntpd: /metrics parses as Prometheus text and agrees with the
# probe_attempt rows; `ntpverify status` shows the same; no token leaks;
# only GET/HEAD; an oversized request is refused; and the socket survives
# 1,000 concurrent plus 200 half-open clients while probes keep flowing.
NV_TEST_NAME=daemon_status
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}" "${STATUS_FLOOD:?}"
command -v curl >/dev/null || nv_skip "curl missing (apt-get install curl)"
# Debian's python3 (not a pyenv shim) is the one python3-prometheus-client serves.
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	nv_skip "python3-prometheus-client missing (apt-get install python3-prometheus-client)"
CHECK="$(dirname "$0")/metrics_check.py"

TOKEN=tok-5a7c9e1b3d
N=20
FLOOD_ROWS=8
# 127.0.1.x answer; 127.0.2.x exist but ntpd ignores them (no_response).
for i in $(seq 1 $((N + 2 + FLOOD_ROWS))); do
	ip addr add "127.0.1.$i/32" dev lo
done
ip addr add 127.0.2.1/32 dev lo
ip addr add 127.0.2.2/32 dev lo
nv_start_pg
nv_start_ntpd ntpd "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2
interface ignore 127.0.2.0/24"
last=127.0.1.$((N + 2 + FLOOD_ROWS))
nv_wait_for 10 "grep -q '$last:123' '$NV_TMP/ntpd.log'" || { nv_log "ntpd does not listen on $last"; exit 1; }

# One attempt per row (the retry is an hour away), so the counters and the
# probe_attempt rows can be compared exactly.
PORT=9464
CONF=$(nv_daemon_config st1 "
status_listen = \"127.0.0.1:$PORT\"
probe { timeout = 1s retransmit = 500ms max_in_flight = 64 }
rate_limit { global_pps = 200 global_burst = 50 per_destination_interval = 1s }
retry { schedule = { 1h } }
queue { poll_interval = 1s }")
SOCK="$NV_TMP/st1.sock"
nv_migrate "$CONF"
# A low soft limit, as many shells have: the daemon must raise it itself.
ulimit -Sn 1024
nv_start_daemon st1 "$CONF"
LOG="$NV_TMP/st1.log"

get() { # PATH -> body on stdout, over the unix socket
	curl -sS --max-time 5 --unix-socket "$SOCK" "http://localhost$1"
}
status_json() { # python expression on the /status document `d`
	get /status | "$PY" -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

nv_expect_eq "socket mode" 660 "$(stat -c %a "$SOCK")"
if grep -q "open file limit raised from 1024 to" "$LOG"; then
	nv_pass "soft open file limit raised: $(grep -o 'open file limit raised.*' "$LOG")"
else
	nv_fail "open file limit not raised: $(grep 'open file limit' "$LOG")"
fi

# --- 1. an integration run, then /metrics against the database ----------
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.1.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"
nv_psql -c "INSERT INTO verification (server_ip, token) VALUES
            ('127.0.1.$((N + 1))', 'tok-not-the-right-one'),
            ('127.0.1.$((N + 2))', 'tok-not-the-right-one'),
            ('127.0.2.1', '$TOKEN'), ('127.0.2.2', '$TOKEN'),
            ('224.0.0.1', '$TOKEN')"
TOTAL=$((N + 5))
if ms=$(nv_sql_wait 20 "SELECT count(*) FROM probe_attempt" "$TOTAL"); then
	nv_pass "$TOTAL attempts recorded in ${ms} ms"
else
	nv_fail "attempts not recorded"
fi
# The counters move when a result is handed to the store; wait until the
# daemon has seen its last write commit.
idle() { [ "$(status_json 'd["database"]["results_waiting"], d["in_flight"]')" = "0 0" ]; }
nv_wait_for 5 idle ||
	nv_fail "results still waiting: $(get /status)"

get /metrics >"$NV_TMP/metrics.txt"
nv_psql -c "SELECT outcome, count(*) FROM probe_attempt GROUP BY outcome" >"$NV_TMP/attempts.txt"
nv_log "database: $(tr '\n' ' ' <"$NV_TMP/attempts.txt")"
verified_rows=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")
nv_expect_eq "verified rows" "$N" "$verified_rows"
if out=$("$PY" "$CHECK" "$NV_TMP/metrics.txt" --attempts "$NV_TMP/attempts.txt" \
	--expect "ntpverify_verifications_total{state=\"verified\"}=$verified_rows" \
	--expect "ntpverify_verifications_total{state=\"expired\"}=0" \
	--expect "ntpverify_attempts_total{outcome=\"token_mismatch\"}=2" \
	--expect "ntpverify_attempts_total{outcome=\"no_response\"}=2" \
	--expect "ntpverify_attempts_total{outcome=\"refused_by_policy\"}=1" \
	--expect "ntpverify_attempts_started_total=$((TOTAL - 1))" \
	--expect "ntpverify_attempt_rtt_seconds_count=$((N + 2))" \
	--expect "ntpverify_database_connected=1" \
	--expect "ntpverify_attempts_in_flight=0" \
	--expect "ntpverify_build_info{prober=\"st1\",version=\"$("$NTPVERIFY" version | cut -d' ' -f2)\"}=1" 2>&1); then
	nv_pass "/metrics parses and agrees with probe_attempt: $out"
else
	nv_fail "/metrics check: $out"
fi
ctype=$(curl -sS --max-time 5 --unix-socket "$SOCK" -o /dev/null -w '%{content_type}' http://localhost/metrics)
nv_expect_eq "metrics content type" "text/plain; version=0.0.4; charset=utf-8" "$ctype"

if curl -sS --max-time 5 "http://127.0.0.1:$PORT/metrics" >"$NV_TMP/metrics_tcp.txt" &&
	out=$("$PY" "$CHECK" "$NV_TMP/metrics_tcp.txt" --attempts "$NV_TMP/attempts.txt" 2>&1); then
	nv_pass "/metrics over TCP 127.0.0.1:$PORT: $out"
else
	nv_fail "/metrics over TCP: $out"
fi

# --- 2. /status and `ntpverify status` ------------------------------------
get /status >"$NV_TMP/status.json"
ctype=$(curl -sS --max-time 5 --unix-socket "$SOCK" -o /dev/null -w '%{content_type}' http://localhost/status)
nv_expect_eq "status content type" "application/json" "$ctype"
nv_expect_eq "/status fields" "st1 ['127.0.0.2'] True $N 2 2 10" "$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counters"]
print(d["prober"], d["sources"], d["database"]["connected"], c["attempts"]["verified"],
      c["attempts"]["token_mismatch"], c["attempts"]["no_response"], len(d["recent"]))
' "$NV_TMP/status.json")"
nv_expect_match "recent outcomes carry ISO 8601 UTC times" '"at":"20[0-9-]+T[0-9:.]+Z"' "$(cat "$NV_TMP/status.json")"

"$NTPVERIFY" status --socket "$SOCK" >"$NV_TMP/status.txt"
nv_expect_eq "status exit" 0 "$?"
nv_log "ntpverify status:"; sed 's/^/    /' "$NV_TMP/status.txt" >&2
nv_expect_match "status names the prober" $'(^|\n)prober +st1\n' "$(cat "$NV_TMP/status.txt")"
nv_expect_match "status shows the outcome counts" \
	"outcomes +verified $N, token_mismatch 2, no_response 2, refused_by_policy 1" "$(cat "$NV_TMP/status.txt")"
nv_expect_match "status shows the final states" "final +$N verified, 0 expired" "$(cat "$NV_TMP/status.txt")"
nv_expect_match "status shows the attempts started" ", $((TOTAL - 1)) started," "$(cat "$NV_TMP/status.txt")"
nv_expect_match "status shows the refusals by policy" "limits +[0-9]+ packets held back, 1 refused by policy" "$(cat "$NV_TMP/status.txt")"
nv_expect_match "status shows the database" "database +connected" "$(cat "$NV_TMP/status.txt")"
"$NTPVERIFY" status --config "$CONF" --json >"$NV_TMP/status_cli.json"
nv_expect_eq "status --json (socket from the config) exit" 0 "$?"
nv_expect_eq "status --json is the daemon's JSON" "st1 $N" \
	"$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["prober"], d["counters"]["attempts"]["verified"])' "$NV_TMP/status_cli.json")"
err=$("$NTPVERIFY" status --socket "$NV_TMP/nothing.sock" 2>&1 >/dev/null)
nv_expect_eq "status exit without a daemon" 1 "$?"
nv_expect_match "status names the socket it tried" "nothing.sock" "$err"
"$NTPVERIFY" status --bogus >/dev/null 2>&1
nv_expect_eq "status usage exit" 2 "$?"
leaks=$(grep -l -F -- "$TOKEN" "$NV_TMP/metrics.txt" "$NV_TMP/metrics_tcp.txt" \
	"$NV_TMP/status.json" "$NV_TMP/status.txt" "$NV_TMP/status_cli.json" "$LOG")
nv_expect_eq "files that contain the token" "" "$leaks"

# --- 4. methods, paths and oversized requests -----------------------------
raw() { # REQUEST-TEXT -> the whole reply, over the unix socket
	"$PY" - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
try:
    s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
except OSError:
    pass  # the server may close while we are still sending
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
# A marker, so that $(...) keeps the reply's trailing CR LF.
sys.stdout.write(out.decode("latin-1") + "|END")
PY
}
head_reply=$(raw 'HEAD /metrics HTTP/1.0\r\n\r\n')
nv_expect_match "HEAD /metrics is 200 with a length" $'^HTTP/1.[01] 200 .*\r\nContent-Length: [1-9][0-9]*\r\n' "$head_reply"
nv_expect_eq "HEAD sends no body" "|END" "${head_reply#*$'\r\n\r\n'}"
post=$(raw 'POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n')
nv_expect_match "POST is 405 with Allow" $'^HTTP/1.[01] 405 .*\r\nAllow: GET, HEAD\r\n' "$post"
nv_expect_match "unknown path is 404" '^HTTP/1.[01] 404 ' "$(raw 'GET /nothing HTTP/1.0\r\n\r\n')"
big=$("$PY" -c 'print("GET /metrics HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + "a" * 65536 + "\\r\\n\\r\\n")')
big_reply=$(raw "$big")
if [[ "$big_reply" =~ ^HTTP/1.[01]\ 200 ]]; then
	nv_fail "a 64 KiB header was served"
else
	nv_pass "a 64 KiB header is refused: '$(printf '%s' "$big_reply" | head -n1 | tr -d '\r')'"
fi
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "daemon alive after the oversized request" || nv_fail "daemon died"

# --- 3. 1,000 concurrent + 200 half-open clients while probes flow ------
"$STATUS_FLOOD" "$SOCK" 1000 200 6000 9000 >"$NV_TMP/flood.out" 2>"$NV_TMP/flood.err" &
FLOOD_PID=$!
NV_PIDS+=("$FLOOD_PID")
sleep 0.5
lat=()
for i in $(seq 1 $FLOOD_ROWS); do
	addr=127.0.1.$((N + 2 + i))
	id=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('$addr', '$TOKEN') RETURNING id")
	if ms=$(nv_sql_wait 3 "SELECT state FROM verification WHERE id = $id" verified); then
		lat+=("$ms")
	else
		nv_fail "row $id ($addr) not verified within 3 s during the flood"
	fi
	sleep 0.3
done
nv_expect_eq "rows verified during the flood" "$FLOOD_ROWS" "${#lat[@]}"
nv_log "verification latency during the flood (ms): ${lat[*]}"
kill -0 "$FLOOD_PID" 2>/dev/null && nv_pass "the flood was still running after the last row" ||
	nv_log "note: the flood ended before the last row"
wait "$FLOOD_PID"
rc=$?
nv_stop_pid_wait "$FLOOD_PID"
flood=$(cat "$NV_TMP/flood.out")
nv_log "flood: $flood $(cat "$NV_TMP/flood.err")"
nv_expect_eq "flood exit (every client served)" 0 "$rc"
nv_expect_match "every half-open client dropped by the server" "half_open=200 half_open_closed=200" "$flood"
"$NTPVERIFY" status --socket "$SOCK" >/dev/null
nv_expect_eq "status answers after the flood" 0 "$?"
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "daemon alive after the flood" || nv_fail "daemon died in the flood"

# SIGTERM: exits 0 and removes its socket.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"
nv_stop_pid_wait "$DAEMON_PID"
[ -e "$SOCK" ] && nv_fail "socket left behind" || nv_pass "socket removed at exit"
nv_finish
