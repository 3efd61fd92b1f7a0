#!/bin/bash
# The daemon against real PostgreSQL and a real NTPsec ntpd: the NOTIFY
# path, a wrong token fixed and retried, expiry without packets, and the
# pacing gap between attempts.
NV_TEST_NAME=daemon_verify
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}" "${UDP_SINK:?}"

TOKEN=tok-3f9a1c2b7d
NTPD_BASE="restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

nv_start_pg
nv_start_ntpd ntpd1 "setvar ntppool_verify = \"$TOKEN\"
$NTPD_BASE"

# Poll only once an hour: anything faster than that came through NOTIFY.
CONF=$(nv_daemon_config p1 "
probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 1h }")
nv_migrate "$CONF"
nv_start_daemon p1 "$CONF"

# 1. A row inserted with plain SQL (as the web site does) is verified
#    within 2 s, through NOTIFY.
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.1', '$TOKEN') RETURNING id")
if ms=$(nv_sql_wait 2 "SELECT state FROM verification WHERE id = $ID" verified); then
	nv_pass "plain SQL insert verified in ${ms} ms"
else
	nv_fail "row $ID not verified within 2 s"
fi
nv_expect_eq "verified_by" "p1 127.0.0.2" "$(nv_psql -c "SELECT verified_by FROM verification WHERE id = $ID")"
nv_expect_eq "one attempt row" "1|verified|p1|127.0.0.2" \
	"$(nv_psql -c "SELECT count(*) OVER (), outcome, prober, host(source_address) FROM probe_attempt WHERE verification_id = $ID")"
nv_expect_eq "lease released" "||" \
	"$(nv_psql -c "SELECT lease_owner, lease_token, lease_until FROM verification WHERE id = $ID")"
nv_expect_eq "the perspective's lease released" "||" \
	"$(nv_psql -c "SELECT lease_owner, lease_token, lease_until FROM verification_probe WHERE verification_id = $ID")"
if grep -q "verification $ID (127.0.0.1): verified by p1 127.0.0.2" "$NV_TMP/p1.log"; then
	nv_pass "state change logged"
else
	nv_fail "no log line for the state change"
fi
if grep -q -- "$TOKEN" "$NV_TMP/p1.log"; then
	nv_fail "the token appears in the daemon's log"
else
	nv_pass "token never logged"
fi

# 2. Wrong token first: token_mismatch is recorded and retried on the
#    schedule; fix ntp.conf, restart ntpd, `ntpverify retry`: verified.
nv_stop_pid "$NTPD_PID"
nv_start_ntpd ntpd2 "setvar ntppool_verify = \"tok-someone-else\"
$NTPD_BASE"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE id = $ID"
ID2=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.1', '$TOKEN') RETURNING id")
if nv_sql_wait 5 "SELECT last_outcome FROM verification WHERE id = $ID2" token_mismatch >/dev/null; then
	nv_pass "token_mismatch recorded"
else
	nv_fail "token_mismatch not recorded"
fi
nv_expect_eq "still pending" pending "$(nv_psql -c "SELECT state FROM verification WHERE id = $ID2")"
# Back off the schedule so only `retry` can bring the next attempt now.
nv_psql -c "UPDATE verification SET next_probe_at = now() + interval '1 hour' WHERE id = $ID2"
nv_stop_pid "$NTPD_PID"
nv_start_ntpd ntpd3 "setvar ntppool_verify = \"$TOKEN\"
$NTPD_BASE"
"$NTPVERIFY" retry --config "$CONF" "$ID2" >/dev/null
nv_expect_eq "retry exit" 0 "$?"
if ms=$(nv_sql_wait 3 "SELECT state FROM verification WHERE id = $ID2" verified); then
	nv_pass "verified ${ms} ms after retry"
else
	nv_fail "not verified after retry"
fi
nv_expect_match "attempt history" "token_mismatch.*verified" \
	"$(nv_psql -c "SELECT string_agg(outcome, ' ' ORDER BY attempted_at) FROM probe_attempt WHERE verification_id = $ID2")"

# 3. A result the database refuses as data (here: a CHECK added for one
#    row's audit row) is isolated from its batch: the rest of the batch is
#    still written, and a verified result still makes its row verified
#    (without the audit row), never dropped.
# nextval() takes one id; the INSERT below takes the next two: poison the
# first (127.0.0.1, which verifies; ::1 is refused: no IPv6 source).
POISON=$(nv_psql -c "SELECT nextval('verification_id_seq') + 1")
nv_psql -c "ALTER TABLE probe_attempt ADD CONSTRAINT test_poison CHECK (verification_id <> $POISON)"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE state = 'pending'"
IDS=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.1', '$TOKEN'), ('::1', '$TOKEN') RETURNING id" | tr '\n' ' ')
nv_log "rows $IDS (poisoned: $POISON)"
OTHER=${IDS#* }
OTHER=${OTHER%% *}
if nv_sql_wait 5 "SELECT count(*) FROM probe_attempt WHERE verification_id = $OTHER" 1 >/dev/null; then
	nv_pass "the other result of a batch with a poisoned one was written"
else
	nv_fail "a poisoned result held back its batch"
fi
if nv_sql_wait 5 "SELECT state FROM verification WHERE id = $POISON" verified >/dev/null; then
	nv_pass "the poisoned row still ends verified"
else
	nv_fail "the poisoned row's verified result was lost: $(nv_psql -c "SELECT state FROM verification WHERE id = $POISON")"
fi
nv_expect_eq "the poisoned row has no audit row" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $POISON")"
if nv_wait_for 5 "grep -q 'result for verification $POISON cannot be stored in full' '$NV_TMP/p1.log'"; then
	nv_pass "the isolated result was reported, loudly"
else
	nv_fail "no log line for the isolated result"
fi
nv_psql -c "ALTER TABLE probe_attempt DROP CONSTRAINT test_poison"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE id = $POISON"

# 4. Expiry: a row past expires_at ends expired without another packet.
#    (ntpd holds the wildcard port 123: stop it so the sink can listen.)
nv_stop_pid "$NTPD_PID"
"$UDP_SINK" 127.0.0.60 123 "$NV_TMP/expiry.count" &
SINK_PID=$!
NV_PIDS+=("$SINK_PID")
nv_wait_for 5 "[ -s '$NV_TMP/expiry.count' ]"
ID3=$(nv_psql -c "INSERT INTO verification (server_ip, token, created_at, expires_at) VALUES ('127.0.0.60', '$TOKEN', now() - interval '73 hours', now() - interval '1 hour') RETURNING id")
if nv_sql_wait 3 "SELECT state FROM verification WHERE id = $ID3" expired >/dev/null; then
	nv_pass "expired row marked expired"
else
	nv_fail "expired row not marked expired"
fi
sleep 0.5
nv_expect_eq "no packet to an expired row" 0 "$(cat "$NV_TMP/expiry.count")"
nv_expect_eq "no attempt for an expired row" 0 "$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID3")"
# The prober's own retry.expiry (72 h by default) applies even when the
# web site set a later expires_at.
ID4=$(nv_psql -c "INSERT INTO verification (server_ip, token, created_at, expires_at) VALUES ('127.0.0.61', '$TOKEN', now() - interval '73 hours', now() + interval '1 hour') RETURNING id")
if nv_sql_wait 3 "SELECT state FROM verification WHERE id = $ID4" expired >/dev/null; then
	nv_pass "row older than retry.expiry marked expired"
else
	nv_fail "row older than retry.expiry not expired"
fi
nv_expect_eq "no packet to a row past retry.expiry" 0 "$(cat "$NV_TMP/expiry.count")"

# 5. SIGTERM: exits 0.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"

# 6. The pacing gap holds across attempts: a server that answers at once
#    (token_mismatch), a 1 s retry schedule and a 1 s
#    per_destination_interval, default probe settings: the attempts still
#    start at least probe.retransmit (2 s) apart, since the rate limiter
#    keeps the gap after the last packet to an address.
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE state = 'pending'" >/dev/null
nv_stop_pid "$SINK_PID" # it holds port 123 on one address; ntpd wants all
nv_start_ntpd ntpd4 "setvar ntppool_verify = \"tok-someone-else\"
$NTPD_BASE"
CONF2=$(nv_daemon_config p2 "
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 200ms }")
nv_start_daemon p2 "$CONF2"
ID5=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('127.0.0.1', '$TOKEN') RETURNING id")
if nv_sql_wait 20 "SELECT count(*) >= 4 FROM probe_attempt WHERE verification_id = $ID5" t >/dev/null; then
	nv_pass "four attempts recorded"
else
	nv_fail "fewer than four attempts in 20 s"
fi
gaps=$(nv_psql -c "SELECT string_agg(round(d)::text, ' ' ORDER BY t) FROM (SELECT attempted_at AS t, extract(epoch FROM attempted_at - lag(attempted_at) OVER (ORDER BY attempted_at)) * 1000 AS d FROM probe_attempt WHERE verification_id = $ID5) s WHERE d IS NOT NULL")
outcomes=$(nv_psql -c "SELECT string_agg(DISTINCT outcome, ' ') FROM probe_attempt WHERE verification_id = $ID5")
nv_log "gaps between attempt starts (ms): $gaps"
nv_expect_eq "every attempt token_mismatch" token_mismatch "$outcomes"
min_gap=$(printf '%s\n' $gaps | sort -n | head -n1)
if [ -n "$min_gap" ] && [ "$min_gap" -ge 1900 ]; then
	nv_pass "attempts at least 2 s apart (shortest ${min_gap} ms)"
else
	nv_fail "attempts closer than the 2 s pacing gap: $gaps"
fi
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"

nv_finish
