#!/bin/bash
# Rate limits hold, counted at silent fake responders: a per-destination
# daily budget, and a global packets-per-second cap over 500 destinations.
NV_TEST_NAME=daemon_budget
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${UDP_SINK:?}"

TOKEN=tok-3f9a1c2b7d
nv_start_pg

# 1. One destination, 1 s retry schedule, daily budget 10: at most 10
#    packets in 30 s.
"$UDP_SINK" 127.0.0.70 123 "$NV_TMP/one.count" &
SINK1=$!
NV_PIDS+=("$SINK1")
nv_wait_for 5 "[ -s '$NV_TMP/one.count' ]" || { nv_log "sink did not start"; exit 1; }
CONF=$(nv_daemon_config p1 "
probe { timeout = 500ms retransmit = 200ms }
rate_limit { per_destination_interval = 1s per_destination_daily_packets = 10 }
retry { schedule = { 1s } }
queue { poll_interval = 500ms }")
nv_migrate "$CONF"
nv_start_daemon p1 "$CONF"
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.70', '$TOKEN') RETURNING id")
sleep 30
got=$(cat "$NV_TMP/one.count")
if [ "$got" -ge 1 ] && [ "$got" -le 10 ]; then
	nv_pass "one destination received $got packets in 30 s (budget 10)"
else
	nv_fail "one destination received $got packets in 30 s, budget 10"
fi
nv_expect_eq "recorded as no_response" no_response "$(nv_psql -c "SELECT last_outcome FROM verification WHERE id = $ID")"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
nv_psql -c "UPDATE verification SET state = 'cancelled'"
nv_stop_pid "$SINK1"

# 2. 500 destinations, global cap 100 packets/s with a burst of 10: no
#    1-second window at the responder holds more than 110.
"$UDP_SINK" 0.0.0.0 123 "$NV_TMP/many.count" "$NV_TMP/many.log" &
NV_PIDS+=("$!")
nv_wait_for 5 "[ -s '$NV_TMP/many.count' ]" || { nv_log "sink did not start"; exit 1; }
CONF=$(nv_daemon_config p2 "
probe { timeout = 1s retransmit = 500ms max_in_flight = 1000 }
rate_limit { global_pps = 100 global_burst = 10 }
queue { lease_batch = 500 poll_interval = 500ms }")
nv_start_daemon p2 "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.3.' || (i / 250) || '.' || (i % 250 + 1))::inet, '$TOKEN'
            FROM generate_series(0, 499) i"
sleep 15
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"
total=$(cat "$NV_TMP/many.count")
# Largest number of arrivals in any window of 1000 ms.
peak=$(awk '{ t[NR] = $1 } END { j = 1; m = 0; for (i = 1; i <= NR; i++) { while (t[i] - t[j] >= 1000) j++; if (i - j + 1 > m) m = i - j + 1 } print m }' "$NV_TMP/many.log")
dests=$(awk '{ print $2 }' "$NV_TMP/many.log" | sort -u | wc -l)
nv_log "500 destinations: $total packets to $dests addresses in 15 s, peak $peak in any second"
if [ "$total" -ge 500 ]; then nv_pass "traffic flowed ($total packets)"; else nv_fail "only $total packets in 15 s"; fi
if [ "$peak" -le 110 ]; then nv_pass "peak $peak <= 100/s + burst 10"; else nv_fail "peak $peak > 110 in one second"; fi
nv_finish
