#!/bin/bash
# Database faults that are not a row's fault, against real PostgreSQL and a
# real NTPsec ntpd: (a) the probe_attempt id sequence runs out, (b) a row
# at the attempts bound, (c) the prober's role loses UPDATE on
# verification, (d) a server WARNING with a newline. Nothing verified is
# lost, the log says each fault once (level first, one line each), and
# the daemon recovers by itself when the fault is lifted.
NV_TEST_NAME=daemon_db_faults
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
command -v curl >/dev/null || nv_skip "curl missing (apt-get install curl)"
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
N=30
nv_start_pg
nv_start_ntpd_servers 127.0.3 "$N" "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

# The schema as its owner; the daemon as a plain role with the rights
# docs/admins.md gives the probers.
ADMIN=$(nv_daemon_config admin "")
nv_migrate "$ADMIN"
nv_psql -c "CREATE ROLE ntpverify LOGIN" \
	-c "GRANT SELECT ON schema_version TO ntpverify" \
	-c "GRANT SELECT, UPDATE ON verification TO ntpverify" \
	-c "GRANT INSERT ON probe_attempt TO ntpverify" \
	-c "GRANT USAGE ON SEQUENCE probe_attempt_id_seq TO ntpverify" \
	-c "GRANT SELECT, INSERT, UPDATE ON perspective, perspective_prober, verification_probe TO ntpverify" \
	-c "GRANT SELECT ON verification_policy, verification_progress TO ntpverify"
CONF=$(NV_PG_CONNINFO="host=$NV_PG_SOCK dbname=ntpverify user=ntpverify" nv_daemon_config p1 "
probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 1s reconnect_max = 2s }")
nv_start_daemon p1 "$CONF"
LOG="$NV_TMP/p1.log"
SOCK="$NV_TMP/p1.sock"
get() { curl -sS --max-time 5 --unix-socket "$SOCK" "http://localhost$1"; }
metric() { get /metrics | awk -v m="$1" '$1 == m { print $2 }'; }
# Log lines from line $1 on that are about the database.
db_lines() { tail -n +"$1" "$LOG" | grep -c '^[a-z]*: database:'; }
# Log lines from line $1 on that do not start with a level.
bad_lines() { tail -n +"$1" "$LOG" | grep -cvE '^(error|warning|info|debug): '; }
next_line() { echo $(( $(wc -l <"$LOG") + 1 )); }

# Use the sequence once so that last_value is a real id.
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.1', '$TOKEN') RETURNING id")
nv_sql_wait 5 "SELECT state FROM verification WHERE id = $ID" verified >/dev/null ||
	{ cat "$LOG" >&2; nv_fail "no first verification"; nv_finish; exit 1; }

# --- (a) sequence exhaustion -------------------------------------------
L0=$(next_line)
MAX=$(nv_psql -c "SELECT last_value + 3 FROM probe_attempt_id_seq")
nv_psql -c "ALTER SEQUENCE probe_attempt_id_seq MAXVALUE $MAX"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.3.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"
if nv_wait_for 15 '[ "$(metric ntpverify_database_writes_blocked)" = 1 ]'; then
	nv_pass "/metrics: writes blocked while the sequence is exhausted"
else
	nv_fail "/metrics never showed writes blocked"
fi
sleep 5
written=$(nv_psql -c "SELECT count(*) FROM verification WHERE server_ip << '127.0.3.0/24' AND state = 'verified'")
nv_log "$written of $N written before the sequence ran out"
nv_expect_eq "no row marked without its attempt (pending rows have 0 attempts)" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE server_ip << '127.0.3.0/24' AND state = 'pending' AND (attempts > 0 OR last_outcome IS NOT NULL)")"
nv_expect_eq "no row ended otherwise" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE server_ip << '127.0.3.0/24' AND state NOT IN ('pending', 'verified')")"
waiting=$(metric ntpverify_results_waiting)
nv_expect_eq "every unwritten result is waiting in memory" $((N - written)) "$waiting"
n=$(db_lines "$L0")
nv_log "database lines during the fault: $n"
tail -n +"$L0" "$LOG" | grep '^[a-z]*: database:' | head -n 5 >&2
[ "$n" -le 3 ] && nv_pass "at most 3 log lines about the fault ($n)" ||
	nv_fail "$n log lines about the fault"
T0=$(date +%s%3N)
nv_psql -c "ALTER SEQUENCE probe_attempt_id_seq NO MAXVALUE"
if ms=$(nv_sql_wait 15 "SELECT count(*) FROM verification WHERE server_ip << '127.0.3.0/24' AND state = 'verified'" $N); then
	nv_pass "all $N verified ${ms} ms after the sequence was lifted"
else
	nv_fail "not all rows verified after the sequence was lifted"
fi
nv_expect_eq "every row has its verified attempt" $N \
	"$(nv_psql -c "SELECT count(DISTINCT a.verification_id) FROM probe_attempt a JOIN verification v ON v.id = a.verification_id WHERE v.server_ip << '127.0.3.0/24' AND a.outcome = 'verified'")"
nv_wait_for 5 '[ "$(metric ntpverify_database_writes_blocked)" = 0 ]' &&
	nv_pass "/metrics: writes accepted again" || nv_fail "/metrics still shows writes blocked"
nv_expect_eq "writes refused, counted as resources" 1 \
	"$(get /metrics | awk '$1 == "ntpverify_database_writes_refused_total{class=\"resources\"}" { print ($2 > 0) }')"
if grep -qiE 'dropped|cannot be stored' "$LOG"; then
	nv_fail "results dropped: $(grep -iE 'dropped|cannot be stored' "$LOG" | head -n 3)"
else
	nv_pass "no result dropped"
fi
grep -q 'writes accepted again' "$LOG" && nv_pass "recovery logged" || nv_fail "no line for the recovery"
nv_log "recovery: $(( $(date +%s%3N) - T0 )) ms; log lines for the whole fault: $(db_lines "$L0")"

# Rows a failure above left pending would block the addresses below.
cancel_pending() { nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE state = 'pending'"; }

# --- (b) a row at the attempts bound -------------------------------------
cancel_pending
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token, attempts) VALUES ('127.0.3.1', '$TOKEN', 1000000) RETURNING id")
if ms=$(nv_sql_wait 10 "SELECT state || ' ' || attempts FROM verification WHERE id = $ID" "verified 1000000"); then
	nv_pass "a row at attempts = 1000000 verified in ${ms} ms"
else
	nv_fail "a row at attempts = 1000000 was not verified"
fi

# --- (c) the prober's role loses UPDATE on verification -----------------
cancel_pending
L0=$(next_line)
nv_psql -c "REVOKE UPDATE ON verification FROM ntpverify"
IDS=$(nv_psql -c "INSERT INTO verification (server_ip, token)
                  SELECT ('127.0.3.' || i)::inet, '$TOKEN' FROM generate_series(2, 4) i RETURNING id" | tr '\n' ' ')
nv_expect_eq "rows inserted" 3 "$(echo $IDS | wc -w)"
sleep 10
n=$(db_lines "$L0")
nv_log "database lines in 10 s without UPDATE: $n"
tail -n +"$L0" "$LOG" | grep '^[a-z]*: database:' | head -n 6 >&2
[ "$n" -le 4 ] && nv_pass "at most 4 log lines in 10 s without UPDATE ($n)" ||
	nv_fail "$n log lines in 10 s without UPDATE"
nv_expect_eq "log lines without a level" 0 "$(bad_lines "$L0")"
tail -n +"$L0" "$LOG" | grep -q '42501' && nv_pass "the SQLSTATE is logged" || nv_fail "no SQLSTATE 42501 in the log"
T0=$(date +%s%3N)
nv_psql -c "GRANT UPDATE ON verification TO ntpverify"
ok=1
for id in $IDS; do
	nv_sql_wait 15 "SELECT state FROM verification WHERE id = $id" verified >/dev/null || ok=0
done
[ $ok = 1 ] && nv_pass "rows verified $(( $(date +%s%3N) - T0 )) ms after GRANT" ||
	nv_fail "rows not verified after GRANT"

# --- (d) a server WARNING spread over two lines -------------------------
cancel_pending
L0=$(next_line)
nv_psql -c "CREATE FUNCTION test_warn() RETURNS trigger LANGUAGE plpgsql AS
            \$\$ BEGIN RAISE WARNING E'first line\nsecond line'; RETURN NEW; END \$\$" \
	-c "CREATE TRIGGER test_warn BEFORE UPDATE ON verification FOR EACH ROW EXECUTE FUNCTION test_warn()"
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.3.5', '$TOKEN') RETURNING id")
nv_sql_wait 10 "SELECT state FROM verification WHERE id = $ID" verified >/dev/null ||
	nv_fail "row $ID not verified with the warning trigger"
if nv_wait_for 3 "tail -n +$L0 '$LOG' | grep -q '^warning: database: .*first line'"; then
	nv_pass "a server WARNING comes out as a warning line"
else
	nv_fail "no warning line for the server's WARNING"
fi
nv_expect_eq "lines without a level after the WARNING" 0 "$(bad_lines "$L0")"
nv_psql -c "DROP TRIGGER test_warn ON verification"

nv_expect_eq "lines without a level in the whole log" 0 "$(bad_lines 1)"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"
nv_finish
