#!/bin/bash
# Another session holds two verifications' row locks (a transaction left
# open) while the prober writes a batch that includes them, against real
# PostgreSQL and a real NTPsec ntpd: the prober waits queue.lock_timeout
# for them, not for ever; the other rows of the batch are written
# meanwhile; the locked rows' results wait in memory and are written once
# the lock ends; the log says so once per row. Then (2) a stop right after
# such a lock ended writes the waiting result at once.
NV_TEST_NAME=daemon_row_lock
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

TOKEN=tok-5b8e2f1c9a
N=12
HOLD_S=12
nv_start_pg
nv_start_ntpd_servers 127.0.5 "$N" "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

# conf NAME RECONNECT_MAX: a prober that waits 1 s for a lock.
conf() {
	nv_daemon_config "$1" "
probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 1s reconnect_max = $2 lock_timeout = 1s }"
}
CONF=$(conf p1 2s)
nv_migrate "$CONF"
# Two confirmations 3 s apart: the first WRITE comes before the lock, the
# second (every row at once, in one batch) while it is held.
nv_psql -c "UPDATE verification_policy SET confirmations = 2, confirmation_gap = '3 seconds'" >/dev/null
nv_start_daemon p1 "$CONF"
LOG="$NV_TMP/p1.log"
ours="v.server_ip << '127.0.5.0/24'"

nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.5.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i" >/dev/null
X=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '127.0.5.1'")
Y=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '127.0.5.2'")
nv_sql_wait 10 "SELECT count(*) FROM verification_probe p JOIN verification v ON v.id = p.verification_id
                WHERE $ours AND p.confirmations = 1" "$N" >/dev/null ||
	{ cat "$LOG" >&2; nv_fail "the first confirmations never came"; nv_finish; exit 1; }

# hold IDS SECONDS: lock verifications IDS (a,b) from a session of our
# own (application_name ntpv-holder) for SECONDS; sets HOLDER.
hold() {
	PGAPPNAME=ntpv-holder "$NV_PG_BINDIR/psql" -X -q -h "$NV_PG_SOCK" -U postgres -d ntpverify \
		-c "BEGIN" -c "SELECT id FROM verification WHERE id IN ($1) FOR UPDATE" \
		-c "SELECT pg_sleep($2)" -c "COMMIT" >/dev/null 2>&1 &
	HOLDER=$!
	NV_PIDS+=("$HOLDER")
	nv_wait_for 5 "[ \"\$(nv_psql -c 'SELECT count(*) FROM (SELECT 1 FROM verification WHERE id IN ($1) FOR UPDATE SKIP LOCKED) l')\" = 0 ]" ||
		{ nv_fail "the holder never took the lock"; nv_finish; exit 1; }
}
hold "$X,$Y" "$HOLD_S"
T_LOCK=$(date +%s%3N)
nv_log "verifications $X and $Y locked by pid $HOLDER for ${HOLD_S}s"

if ms=$(nv_sql_wait $((HOLD_S - 3)) "SELECT count(*) FROM verification v
        WHERE $ours AND v.id NOT IN ($X, $Y) AND v.state = 'verified'" $((N - 2))); then
	nv_pass "the other $((N - 2)) rows verified while the lock is held ($(( $(date +%s%3N) - T_LOCK )) ms after it was taken)"
else
	nv_fail "the other rows waited for the lock"
fi
if kill -0 "$HOLDER" 2>/dev/null; then
	nv_expect_eq "the locked rows are still pending while the lock is held" "pending pending" \
		"$(nv_psql -c "SELECT state FROM verification WHERE id IN ($X, $Y) ORDER BY id" | tr '\n' ' ' | sed 's/ $//')"
	nv_expect_eq "their second confirmations are not written yet" "1 1" \
		"$(nv_psql -c "SELECT confirmations FROM verification_probe WHERE verification_id IN ($X, $Y) ORDER BY verification_id" | tr '\n' ' ' | sed 's/ $//')"
else
	nv_fail "the holder ended before the checks (machine too slow?)"
fi

wait "$HOLDER"
if nv_sql_wait 10 "SELECT count(*) FROM verification WHERE id IN ($X, $Y) AND state = 'verified'" 2 >/dev/null; then
	nv_pass "the locked rows verified once the lock ended (their results were kept)"
else
	nv_fail "a locked row's result was lost"
fi
nv_expect_eq "every row verified, each on two verified attempts" "$N 0" \
	"$(nv_psql -F ' ' -c "SELECT count(*) FILTER (WHERE v.state = 'verified'),
	    count(*) FILTER (WHERE (SELECT count(*) FROM probe_attempt a
	                            WHERE a.verification_id = v.id AND a.outcome = 'verified') <> 2)
	    FROM verification v WHERE $ours")"
for id in "$X" "$Y"; do
	nv_expect_eq "one warning naming verification $id" 1 \
		"$(grep -c "^warning: database: the result for verification $id waits for a lock another session holds (SQLSTATE 55P03" "$LOG")"
	nv_expect_eq "and one line when it was written" 1 \
		"$(grep -c "^info: database: the result for verification $id written after the other session's lock ended" "$LOG")"
done
nv_expect_eq "no error lines" 0 "$(grep -c '^error:' "$LOG")"

# --- 2. A stop right after the lock ended: the waiting result goes at once,
#     not after its wait (up to queue.reconnect_max, 30 s here, past the
#     stop's 10 s for the database).
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "the first daemon stopped cleanly" 0 "$?"
CONF=$(conf p2 30s)
nv_start_daemon p2 "$CONF"
LOG="$NV_TMP/p2.log"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.5.' || i)::inet, '$TOKEN' FROM generate_series(1, 2) i" >/dev/null
W=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '127.0.5.1' AND state = 'pending'")
nv_sql_wait 10 "SELECT count(*) FROM verification_probe p JOIN verification v ON v.id = p.verification_id
                WHERE v.state = 'pending' AND p.confirmations = 1" 2 >/dev/null ||
	{ cat "$LOG" >&2; nv_fail "phase 2: no first confirmations"; nv_finish; exit 1; }
hold "$W" 60
nv_sql_wait 10 "SELECT count(*) FROM verification WHERE server_ip = '127.0.5.2' AND state = 'verified'" 1 >/dev/null ||
	nv_fail "phase 2: the unlocked row was not verified"
nv_wait_for 10 "grep -q 'the result for verification $W waits' '$LOG'" || nv_fail "phase 2: no warning"
# Its tries come 0.5, 1, 2, 4 and 8 s apart, each waiting 1 s for the
# lock: 0.5, 2.5, 5.5, 10.5 and 19.5 s after the first; 12 s in, the next
# is 7.5 s away.
sleep 12
nv_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ntpv-holder'" >/dev/null
wait "$HOLDER" 2>/dev/null
T0=$(date +%s%3N)
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
ms=$(( $(date +%s%3N) - T0 ))
nv_expect_eq "stopped cleanly right after the lock ended" 0 "$rc"
[ "$ms" -lt 5000 ] && nv_pass "the stop took $ms ms" || nv_fail "the stop took $ms ms"
nv_expect_eq "the waiting result was written at the stop" verified \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $W")"
nv_expect_eq "no result left unwritten" 0 "$(grep -c 'unwritten result' "$LOG")"
nv_finish
