#!/bin/bash
# Running under systemd: notifications in the right order, SIGHUP with a
# broken and with a good configuration, SIGTERM with probes in flight.
NV_TEST_NAME=daemon_systemd
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${UDP_SINK:?}" "${NOTIFY_SINK:?}"

TOKEN=tok-3f9a1c2b7d
N=30
nv_start_pg

# Silent responders for 30 addresses: every attempt is a full timeout.
"$UDP_SINK" 0.0.0.0 123 "$NV_TMP/sink.count" "$NV_TMP/sink.log" &
NV_PIDS+=("$!")
"$NOTIFY_SINK" "$NV_TMP/notify.sock" "$NV_TMP/notify.log" &
NV_PIDS+=("$!")
nv_wait_for 5 "[ -s '$NV_TMP/sink.count' ] && [ -S '$NV_TMP/notify.sock' ]" || { nv_log "sinks did not start"; exit 1; }

conf_with_pps() { # PPS -> config text
	cat <<CONF
probe { timeout = 500ms retransmit = 200ms max_in_flight = 100 }
rate_limit { global_pps = $1 global_burst = 1 per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 200ms }
CONF
}
CONF=$(nv_daemon_config p1 "$(conf_with_pps 2)")
nv_migrate "$CONF"
NOTIFY_SOCKET="$NV_TMP/notify.sock" WATCHDOG_USEC=1000000 nv_start_daemon p1 "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.4.0.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"

# Packets seen at the responders in the last SECONDS seconds.
rate_over() { # SECONDS
	local a b
	a=$(cat "$NV_TMP/sink.count"); sleep "$1"; b=$(cat "$NV_TMP/sink.count")
	echo $(( (b - a) / $1 ))
}
sleep 2
slow=$(rate_over 4)
if [ "$slow" -le 3 ]; then nv_pass "at 2 packets/s the responders see $slow/s"; else nv_fail "at 2 packets/s the responders see $slow/s"; fi

# 1. A broken configuration: logged with file:line, daemon keeps probing.
cp "$CONF" "$NV_TMP/good.conf"
printf 'probe { timeout = forever }\nbogus_key = 1\n' >>"$CONF"
kill -HUP "$DAEMON_PID"
sleep 1
kill -0 "$DAEMON_PID" 2>/dev/null && nv_pass "alive after a broken reload" || nv_fail "died on a broken reload"
nv_expect_match "file:line error logged" "error: $NV_TMP/p1.conf:[0-9]+: " "$(cat "$NV_TMP/p1.log")"
nv_expect_match "old configuration kept" "keeping the running configuration" "$(cat "$NV_TMP/p1.log")"
still=$(rate_over 3)
if [ "$still" -ge 1 ] && [ "$still" -le 3 ]; then nv_pass "still probing at the old rate ($still/s)"; else nv_fail "rate after broken reload: $still/s"; fi

# 2. A good configuration with a higher rate: it takes effect.
{ grep -v '^rate_limit' "$NV_TMP/good.conf"; echo 'rate_limit { global_pps = 40 global_burst = 5 per_destination_interval = 1s }'; } >"$CONF"
"$NTPVERIFY" check-config "$CONF" >/dev/null || nv_fail "test config invalid"
kill -HUP "$DAEMON_PID"
sleep 1
fast=$(rate_over 3)
if [ "$fast" -ge 10 ] && [ "$fast" -le 45 ]; then nv_pass "after reload to 40/s the responders see $fast/s"; else nv_fail "after reload to 40/s: $fast/s"; fi

# 2b. A setting that needs a restart: warned at each reload until then,
#     not only at the first (the running value is what the next compares).
echo 'status_max_clients = 16' >>"$CONF"
sed -i 's/^queue { poll_interval = 200ms }$/queue { poll_interval = 200ms lock_timeout = 3s }/' "$CONF"
"$NTPVERIFY" check-config "$CONF" >/dev/null || nv_fail "test config invalid"
warned() { grep -c "reload: $1 changed; restart to apply" "$NV_TMP/p1.log"; }
kill -HUP "$DAEMON_PID"
nv_wait_for 5 "[ \$(warned status_max_clients) -ge 1 ]"
kill -HUP "$DAEMON_PID"
nv_wait_for 5 "[ \$(warned status_max_clients) -ge 2 ]"
nv_expect_eq "restart-only setting warned at both reloads" 2 "$(warned status_max_clients)"
nv_expect_eq "queue.lock_timeout too (the connection keeps its value)" 2 "$(warned queue.lock_timeout)"

# 3. SIGTERM with probes in flight: exit 0, every finished attempt in the
#    database, no lease left behind.
nv_wait_for 5 "grep -q 'probing' '$NV_TMP/notify.log'"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status after SIGTERM" 0 "$?"
stopping=$(grep -o 'stopping; [0-9]* probes in flight' "$NV_TMP/p1.log" | head -n1)
nv_log "at SIGTERM: $stopping"
finished=$(grep -cE '^debug: verification [0-9]+ \(127\.4\.0\.[0-9]+\): [a-z_0-9]+ \(' "$NV_TMP/p1.log")
nv_expect_eq "every finished attempt written" "$finished" "$(nv_psql -c "SELECT count(*) FROM probe_attempt")"
nv_expect_eq "no lease left" 0 "$(nv_psql -c "SELECT (SELECT count(*) FROM verification WHERE lease_token IS NOT NULL) + (SELECT count(*) FROM verification_probe WHERE lease_token IS NOT NULL)")"

# 4. The notifications, in order: READY, WATCHDOG, RELOADING, READY, STOPPING.
seq=$(grep -oE '^(READY=1|WATCHDOG=1|RELOADING=1|STOPPING=1)' "$NV_TMP/notify.log" | uniq | tr '\n' ' ')
nv_log "notifications: $seq"
nv_expect_match "notification order" "^READY=1 WATCHDOG=1 (.* )?RELOADING=1 READY=1 (.* )?RELOADING=1 READY=1 (.* )?STOPPING=1 (WATCHDOG=1 )?$" "$seq"
nv_expect_match "STATUS line sent" "STATUS=database connected" "$(cat "$NV_TMP/notify.log")"
nv_finish
