#!/bin/bash
# Another session holds a verification's row lock (a transaction left
# open) while the prober writes a batch that includes it, against real
# PostgreSQL and a real NTPsec ntpd: the prober waits queue.lock_timeout
# for it, not for ever; the other rows of the batch are written meanwhile;
# the locked row's result waits in memory and is written once the lock
# ends; the log says so once, naming the row.
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

CONF=$(nv_daemon_config p1 "
probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 1s reconnect_max = 2s lock_timeout = 1s }")
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
nv_sql_wait 10 "SELECT count(*) FROM verification_probe p JOIN verification v ON v.id = p.verification_id
                WHERE $ours AND p.confirmations = 1" "$N" >/dev/null ||
	{ cat "$LOG" >&2; nv_fail "the first confirmations never came"; nv_finish; exit 1; }

# Hold verification X's row lock for HOLD_S seconds from a session of our own.
"$NV_PG_BINDIR/psql" -X -q -h "$NV_PG_SOCK" -U postgres -d ntpverify \
	-c "BEGIN" -c "SELECT id FROM verification WHERE id = $X FOR UPDATE" \
	-c "SELECT pg_sleep($HOLD_S)" -c "COMMIT" >/dev/null 2>&1 &
HOLDER=$!
NV_PIDS+=("$HOLDER")
nv_wait_for 5 "[ \"\$(nv_psql -c 'SELECT count(*) FROM (SELECT 1 FROM verification WHERE id = $X FOR UPDATE SKIP LOCKED) l')\" = 0 ]" ||
	{ nv_fail "the holder never took the lock"; nv_finish; exit 1; }
T_LOCK=$(date +%s%3N)
nv_log "verification $X locked by pid $HOLDER for ${HOLD_S}s"

if ms=$(nv_sql_wait $((HOLD_S - 3)) "SELECT count(*) FROM verification v
        WHERE $ours AND v.id <> $X AND v.state = 'verified'" $((N - 1))); then
	nv_pass "the other $((N - 1)) rows verified while the lock is held ($(( $(date +%s%3N) - T_LOCK )) ms after it was taken)"
else
	nv_fail "the other rows waited for the lock"
fi
if kill -0 "$HOLDER" 2>/dev/null; then
	nv_expect_eq "the locked row is still pending while the lock is held" pending \
		"$(nv_psql -c "SELECT state FROM verification WHERE id = $X")"
	nv_expect_eq "its second confirmation is not written yet" 1 \
		"$(nv_psql -c "SELECT confirmations FROM verification_probe WHERE verification_id = $X")"
else
	nv_fail "the holder ended before the checks (machine too slow?)"
fi

wait "$HOLDER"
if nv_sql_wait 10 "SELECT state FROM verification WHERE id = $X" verified >/dev/null; then
	nv_pass "the locked row verified once the lock ended (its result was kept)"
else
	nv_fail "the locked row's result was lost"
fi
nv_expect_eq "every row verified, each on two verified attempts" "$N 0" \
	"$(nv_psql -F ' ' -c "SELECT count(*) FILTER (WHERE v.state = 'verified'),
	    count(*) FILTER (WHERE (SELECT count(*) FROM probe_attempt a
	                            WHERE a.verification_id = v.id AND a.outcome = 'verified') <> 2)
	    FROM verification v WHERE $ours")"
nv_expect_eq "one warning naming the locked row" 1 \
	"$(grep -c "^warning: database: verification $X is locked by another session (SQLSTATE 55P03" "$LOG")"
nv_expect_eq "and one line when it was written" 1 \
	"$(grep -c "^info: database: verification $X written after the other session's lock ended" "$LOG")"
nv_expect_eq "no error lines" 0 "$(grep -c '^error:' "$LOG")"
nv_finish
