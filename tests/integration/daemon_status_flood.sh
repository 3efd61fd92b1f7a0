#!/bin/bash
# Slow status clients must not starve the prober. Under a descriptor limit
# of 512, 1,500 unix socket clients that each send one header line a
# second and never finish their request are held to status_max_clients:
# rows inserted during the flood verify at their normal pace, the daemon
# never runs out of descriptors, /metrics over TCP answers within 2 s, a
# trickling client is closed at the whole-request deadline however often
# it sends, and the counters say so. Also: the TCP allow-list (a client
# from 127.0.0.9 is refused, one from 127.0.0.1 served) and the refusal to
# start when the descriptor limit leaves no room for status clients.
NV_TEST_NAME=daemon_status_flood
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}" "${STATUS_FLOOD:?}"
command -v curl >/dev/null || nv_skip "curl missing (apt-get install curl)"

TOKEN=tok-3f1d2c9a77
N=50
TRICKLERS=1500
NOFILE=512
MAX_CLIENTS=64
for i in $(seq 1 $N); do
	ip addr add "127.0.1.$i/32" dev lo
done
ip addr add 127.0.0.9/32 dev lo
nv_start_pg
nv_start_ntpd ntpd "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"
nv_wait_for 10 "grep -q '127.0.1.$N:123' '$NV_TMP/ntpd.log'" || { nv_log "ntpd does not listen on 127.0.1.$N"; exit 1; }

PORT=9465
CONF=$(nv_daemon_config fl1 "
status_listen = \"127.0.0.1:$PORT\"
status_max_clients = $MAX_CLIENTS
status_allow = { \"127.0.0.1\", \"::1\" }
probe { timeout = 1s retransmit = 500ms max_in_flight = 64 }
rate_limit { global_pps = 500 global_burst = 100 per_destination_interval = 1s }
retry { schedule = { 1h } }
queue { poll_interval = 1s }")
SOCK="$NV_TMP/fl1.sock"
LOG="$NV_TMP/fl1.log"
nv_migrate "$CONF"

# The daemon alone runs under the low limit (soft and hard: it cannot
# raise it); the flood tool raises its own.
cat >"$NV_TMP/limited.sh" <<SH
#!/bin/bash
ulimit -n \$NV_NOFILE || exit 1
exec "$NTPVERIFY" "\$@"
SH
chmod +x "$NV_TMP/limited.sh"
NV_NOFILE=$NOFILE NTPVERIFY="$NV_TMP/limited.sh" nv_start_daemon fl1 "$CONF"
nv_expect_eq "daemon's descriptor limit" "$NOFILE" \
	"$(awk '/Max open files/ {print $4}' "/proc/$DAEMON_PID/limits")"

metric() { # NAME{LABELS} -> value, from /metrics over TCP (0 if absent)
	curl -sS --max-time 5 "http://127.0.0.1:$PORT/metrics" |
		awk -v m="$1" '$1 == m {print $2; f=1} END {if (!f) print 0}'
}
fds() { ls "/proc/$DAEMON_PID/fd" 2>/dev/null | wc -l; }

# --- 1. the flood, and rows inserted during it -----------------------------
nv_log "fds before the flood: $(fds)"
"$STATUS_FLOOD" --trickle "$SOCK" "$TRICKLERS" 25000 >"$NV_TMP/trickle.out" 2>"$NV_TMP/trickle.err" &
FLOOD_PID=$!
NV_PIDS+=("$FLOOD_PID")
sleep 4
during=$(fds)
nv_log "daemon descriptors 4 s into the flood: $during (limit $NOFILE)"
[ "$during" -lt $((NOFILE - 64)) ] && nv_pass "descriptors stay well below the limit ($during)" ||
	nv_fail "the daemon holds $during of $NOFILE descriptors during the flood"

t0=$(date +%s%3N)
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.1.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i" >/dev/null
if ms=$(nv_sql_wait 10 "SELECT count(*) FROM verification WHERE state = 'verified'" "$N"); then
	nv_pass "all $N rows verified during the flood in ${ms} ms"
else
	nv_fail "rows not verified within 10 s during the flood: $(nv_psql -c "SELECT state, count(*) FROM verification GROUP BY state" | tr '\n' ' ')"
fi
nv_log "row latency during the flood (ms, insert to verified_at): $(nv_psql -c "
	SELECT min(ms) || ' min, ' || percentile_disc(0.5) WITHIN GROUP (ORDER BY ms) || ' p50, ' || max(ms) || ' max'
	FROM (SELECT round(extract(epoch FROM verified_at - created_at) * 1000) AS ms
	      FROM verification WHERE state = 'verified') x")"

# --- 2. /metrics over TCP during the flood; the allow-list ----------------
for i in 1 2 3; do
	if t=$(curl -sS --max-time 2 -o "$NV_TMP/metrics_tcp.txt" -w '%{time_total}' "http://127.0.0.1:$PORT/metrics") &&
		grep -q '^ntpverify_build_info{' "$NV_TMP/metrics_tcp.txt"; then
		nv_pass "/metrics over TCP during the flood in ${t} s"
	else
		nv_fail "/metrics over TCP did not answer within 2 s during the flood"
	fi
done
open_now=$(awk '$1 == "ntpverify_status_clients" {print $2}' "$NV_TMP/metrics_tcp.txt")
nv_log "status clients open during the flood: $open_now (cap $MAX_CLIENTS per listener)"
[ -n "$open_now" ] && [ "$open_now" -le $((2 * MAX_CLIENTS)) ] && nv_pass "status clients held to the cap ($open_now)" ||
	nv_fail "status clients during the flood: '$open_now'"
code=$(curl -sS --max-time 2 --interface 127.0.0.9 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics" 2>/dev/null)
[ "$code" != 200 ] && nv_pass "a client from 127.0.0.9 (outside status_allow) is refused (HTTP '$code')" ||
	nv_fail "a client from 127.0.0.9 was served"
code=$(curl -sS --max-time 2 --interface 127.0.0.1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")
nv_expect_eq "a client from 127.0.0.1 (inside status_allow) is served" 200 "$code"

wait "$FLOOD_PID"
nv_stop_pid_wait "$FLOOD_PID"
flood=$(cat "$NV_TMP/trickle.out")
nv_log "flood: $flood $(cat "$NV_TMP/trickle.err")"
closed=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' <<<"$flood")
life_min=$(sed -n 's/.*life_min_ms=\([0-9]*\).*/\1/p' <<<"$flood")
[ "${closed:-0}" -gt 0 ] && nv_pass "the server closed $closed trickling clients" ||
	nv_fail "the server closed no trickling client"
[ "${life_min:-0}" -ge 4500 ] && nv_pass "no trickling client closed before the deadline (shortest ${life_min} ms)" ||
	nv_fail "a trickling client was closed after ${life_min} ms, before the 5 s deadline"

# --- 3. after the flood: the deadline alone, the counters, the log --------
"$STATUS_FLOOD" --trickle "$SOCK" 10 8000 >"$NV_TMP/trickle2.out" 2>&1
small=$(cat "$NV_TMP/trickle2.out")
nv_log "10 tricklers, no flood: $small"
nv_expect_match "10 trickling clients, each closed 5 s after connecting" \
	'closed_by_server=10 .*life_min_ms=(4[5-9][0-9][0-9]|5[0-9][0-9][0-9]) life_p50_ms=[0-9]+ life_max_ms=(4[5-9][0-9][0-9]|5[0-9][0-9][0-9])$' "$small"

deadline=$(metric 'ntpverify_status_clients_rejected_total{reason="deadline"}')
allow=$(metric 'ntpverify_status_clients_rejected_total{reason="not_allowed"}')
paused=$(metric 'ntpverify_status_accept_paused_total{reason="max_clients"}')
nv_log "counters: deadline=$deadline not_allowed=$allow paused_at_max_clients=$paused"
[ "${deadline%.*}" -ge "$closed" ] && nv_pass "clients closed at the deadline counted ($deadline)" ||
	nv_fail "deadline counter $deadline, the flood saw $closed closed"
nv_expect_eq "clients refused by status_allow counted" 1 "$allow"
[ "${paused%.*}" -gt 0 ] && nv_pass "accepting paused at status_max_clients ($paused times)" ||
	nv_fail "accepting never paused at status_max_clients"
n_emfile=$(grep -c 'Too many open files' "$LOG")
nv_expect_eq "'Too many open files' in the daemon log" 0 "$n_emfile"
nv_log "daemon descriptors after the flood: $(fds)"
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "daemon alive after the flood" || nv_fail "daemon died in the flood"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"
nv_stop_pid_wait "$DAEMON_PID"

# --- 4. a limit that leaves no room for status clients: refuse to start ---
CONF2=$(nv_daemon_config fl2 "probe { max_in_flight = 256 }")
NV_NOFILE=200 timeout 20 "$NV_TMP/limited.sh" run --config "$CONF2" >"$NV_TMP/fl2.log" 2>&1
nv_expect_eq "exit status (2: cannot start) with 200 descriptors for 256 probes" 2 "$?"
nv_expect_match "it says why" "open file limit 200 .*probe.max_in_flight" "$(cat "$NV_TMP/fl2.log")"
nv_finish
