#!/bin/bash
# Two perspectives, one of them run by two processes, share one database:
# N pending rows (N server addresses on one real NTPsec ntpd), quorum 2.
# Every row ends verified exactly once (one state change logged in all),
# each perspective probed each row exactly once (so never twice at once),
# and each corroboration rests on that perspective's own verified probe.
# Then PostgreSQL restarts mid-run with a second batch: no corroboration
# or outcome is lost and every row ends verified. Meanwhile the
# perspectives' liveness: each process registers the addresses it
# publishes now and refreshes last_seen while it runs (migration 9).
NV_TEST_NAME=quorum_scale
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/quorum_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
# N rows of the first batch, on N server addresses: one ntpd listens on
# at most about 1,000 (select()'s FD_SETSIZE), so the M rows of the second
# batch (the restart) are new verifications of the first M addresses.
N=${NV_QUORUM_ROWS:-1000}
M=100
addr() { echo "127.1.$(( $1 % N / 250 )).$(( $1 % N % 250 + 1 ))"; }
for i in $(seq 0 $((N - 1))); do
	echo "addr add $(addr "$i")/32 dev lo"
done | ip -batch -
nv_start_pg
nv_start_ntpd ntpd "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2
restrict 127.0.0.4
restrict 127.0.0.5"
last=$(addr $((N - 1)))
t0=$(date +%s%3N)
nv_wait_for 30 "grep -q '$last:123' '$NV_TMP/ntpd.log'" || { nv_log "ntpd does not listen on all addresses"; exit 1; }
nv_log "ntpd listens on $N addresses after $(( $(date +%s%3N) - t0 )) ms" 

COMMON="rate_limit { global_pps = 2000 global_burst = 200 per_destination_interval = 1s }
probe { timeout = 2s retransmit = 1s max_in_flight = 128 }
retry { schedule = { 1h } }
queue { lease_batch = 50 poll_interval = 500ms reconnect_max = 1s }"
CA1=$(nv_perspective_config pa1 127.0.0.2 a a "$COMMON")
CA2=$(nv_perspective_config pa2 127.0.0.4 a a "$COMMON")
CB=$(nv_perspective_config pb 127.0.0.5 b b "$COMMON")
nv_migrate "$CA1"
nv_policy "quorum = 2, min_regions = 2, confirmations = 1"
nv_start_daemon pa1 "$CA1"; PA1=$DAEMON_PID
nv_start_daemon pa2 "$CA2"; PA2=$DAEMON_PID
nv_start_daemon pb "$CB"; PB=$DAEMON_PID

rows() { # FROM COUNT: insert rows FROM .. FROM+COUNT-1
	local q="" i
	for i in $(seq "$1" $(( $1 + $2 - 1 ))); do q+="${q:+,}('$(addr "$i")','$TOKEN')"; done
	nv_psql -c "INSERT INTO verification (server_ip, token) VALUES $q"
}
rows 0 "$N"
if ms=$(nv_sql_wait 50 "SELECT count(*) FROM verification WHERE state = 'verified'" "$N"); then
	nv_pass "$N rows verified with quorum 2 in ${ms} ms"
else
	nv_fail "not all rows verified"
fi
nv_expect_eq "one attempt per row and perspective" "$((2 * N))|$((2 * N))" \
	"$(nv_psql -c "SELECT count(*), count(DISTINCT (verification_id, perspective)) FROM probe_attempt")"
nv_expect_eq "both processes of perspective a took work" 2 \
	"$(nv_psql -c "SELECT count(DISTINCT prober) FROM probe_attempt WHERE perspective = 'a'")"
nv_expect_eq "each corroboration rests on its own verified probe" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification_probe p WHERE p.corroborated_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM probe_attempt a WHERE a.verification_id = p.verification_id AND a.perspective = p.perspective AND a.outcome = 'verified' AND a.attempted_at = p.last_confirmed_at)")"
nv_expect_eq "every attempt left from its own process's source address" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE host(source_address) <> CASE prober WHEN 'pa1' THEN '127.0.0.2' WHEN 'pa2' THEN '127.0.0.4' ELSE '127.0.0.5' END OR perspective <> CASE prober WHEN 'pb' THEN 'b' ELSE 'a' END")"
nv_expect_eq "verified_by names both perspectives' probers" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE verified_by !~ '^pa[12] 127\.0\.0\.[24], pb 127\.0\.0\.5$'")"
logged=$(cat "$NV_TMP"/pa1.log "$NV_TMP"/pa2.log "$NV_TMP"/pb.log | grep -c ': verified by ')
nv_expect_eq "exactly one transition to verified per row" "$N" "$logged"
nv_log "split: $(nv_psql -c "SELECT string_agg(prober || '=' || n, ' ' ORDER BY prober) FROM (SELECT prober, count(*) n FROM probe_attempt GROUP BY prober) s")"

# --- liveness: every process registered its own addresses ---------------------
nv_expect_eq "each process registered what it publishes" "a pa1 {127.0.0.2}
a pa2 {127.0.0.4}
b pb {127.0.0.5}" "$(nv_psql -F ' ' -c "SELECT perspective, prober, source_addresses FROM perspective_prober ORDER BY 1, 2")"
nv_expect_eq "a perspective publishes its processes' addresses" "a {127.0.0.2,127.0.0.4}
b {127.0.0.5}" "$(nv_psql -F ' ' -c "SELECT name, source_addresses FROM perspective ORDER BY 1")"
# last_seen moves while the probers run (every poll_interval, at least
# 10 s apart), not only when they connect.
nv_psql -c "UPDATE perspective SET last_seen = now() - interval '1 hour';
	UPDATE perspective_prober SET last_seen = now() - interval '1 hour'"
if ms=$(nv_sql_wait 25 "SELECT count(*) FILTER (WHERE last_seen > now() - interval '1 minute') FROM (SELECT last_seen FROM perspective UNION ALL SELECT last_seen FROM perspective_prober) s" 5); then
	nv_pass "every perspective and process seen again ${ms} ms after last_seen was set back"
else
	nv_fail "last_seen not refreshed while the probers run"
fi

# --- PostgreSQL restarts mid-run ----------------------------------------------
# Slower now (20 packets/s per process), so that the restart lands while
# both perspectives are mid-way through the batch.
sed -i 's/global_pps = 2000 global_burst = 200/global_pps = 20 global_burst = 5/' "$CA1" "$CA2" "$CB"
kill -HUP "$PA1" "$PA2" "$PB"
sleep 0.5
rows "$N" "$M"
nv_sql_wait 20 "SELECT count(*) >= 20 FROM probe_attempt WHERE verification_id > $N" t >/dev/null ||
	nv_fail "nothing probed in the second batch"
nv_log "stopping PostgreSQL with $(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified' AND id > $N")/$M of the batch verified"
nv_stop_pg
sleep 3
nv_restart_pg
if ms=$(nv_sql_wait 40 "SELECT count(*) FROM verification WHERE state = 'verified'" $((N + M))); then
	nv_pass "every row verified ${ms} ms after PostgreSQL came back"
else
	nv_fail "rows left unverified after the restart"
fi
nv_expect_eq "after the restart: still one attempt per row and perspective" "$((2 * (N + M)))|$((2 * (N + M)))" \
	"$(nv_psql -c "SELECT count(*), count(DISTINCT (verification_id, perspective)) FROM probe_attempt")"
finished=$(cat "$NV_TMP"/pa1.log "$NV_TMP"/pa2.log "$NV_TMP"/pb.log | grep -cE '^debug: verification [0-9]+ \(127\.1\.[0-9]+\.[0-9]+\): [a-z_0-9]+ \(')
nv_expect_eq "attempts finished = attempt rows (none lost)" "$finished" "$(nv_psql -c "SELECT count(*) FROM probe_attempt")"

kill -TERM "$PA1" "$PA2" "$PB"
for p in "$PA1" "$PA2" "$PB"; do wait "$p" || nv_fail "a prober exited with $?"; done

# --- liveness: addresses follow what the processes publish now ----------------
# pa2 comes back from another address, pa1 has not run for 8 days: the
# perspective lists pa2's new address only.
nv_psql -c "UPDATE perspective_prober SET last_seen = now() - interval '8 days' WHERE prober = 'pa1'"
sed -i 's/"127.0.0.4"/"127.0.0.6"/' "$CA2"
nv_start_daemon pa2b "$CA2"; PA2=$DAEMON_PID
nv_expect_eq "a process's re-registration replaces its addresses" "{127.0.0.6}" \
	"$(nv_psql -c "SELECT source_addresses FROM perspective_prober WHERE prober = 'pa2'")"
nv_expect_eq "the perspective drops a process not seen for a week" "{127.0.0.6}" \
	"$(nv_psql -c "SELECT source_addresses FROM perspective WHERE name = 'a'")"
nv_expect_eq "the addresses to allow" "127.0.0.5
127.0.0.6" "$(nv_psql -c "SELECT DISTINCT host(a) FROM perspective, unnest(source_addresses) a ORDER BY 1")"
kill -TERM "$PA2"
wait "$PA2" || nv_fail "pa2 exited with $?"
nv_finish
