#!/bin/bash
# The refid method end to end, under the quorum rule, against real NTPsec
# ntpd at stratum 1 (SHM refclock fed by tests/tools/shm_feed; the clock
# untouched) and PostgreSQL: `ntpverify add --method refid` hands out a
# code and the lines, the test configures NTPsec with it as an operator
# would, and two perspectives (two regions, quorum 2, confirmations 2)
# probe. The row stays pending while one perspective alone corroborates
# and is verified once both have. A row whose code the server does not
# carry ends refid_mismatch from both: two contrary observations. A row
# the web site gave a well-known refid is never probed as proof.
NV_TEST_NAME=quorum_refid
. "$(dirname "$0")/lib.sh"
if [ -z "${NV_IN_IPCNS:-}" ]; then
	[ "$(id -u)" = 0 ] || nv_skip "needs root for namespaces"
	export NV_IN_IPCNS=1
	exec unshare --ipc -- bash "$0" "$@"
fi
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/quorum_lib.sh"
nv_require_ntpd
command -v ipcrm >/dev/null || nv_skip "ipcrm(1) missing"
: "${NTPVERIFY:?}" "${SHM_FEED:?}"

UNIT=7
trap 'nv_cleanup; ipcrm -M $((0x4e545030 + UNIT)) 2>/dev/null; true' EXIT
OK_ADDR=127.0.9.1     # carries the code add printed
WRONG_ADDR=127.0.9.2  # its row has another code
KNOWN_ADDR=127.0.9.3  # its row has a well-known refid
for a in $OK_ADDR $WRONG_ADDR $KNOWN_ADDR; do ip addr add "$a/32" dev lo; done
nv_start_pg

COMMON="probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 10s }"
CA=$(nv_perspective_config ra 127.0.0.2 a a "$COMMON")
CB=$(nv_perspective_config rb 127.0.0.4 b b "$COMMON")
NV_CONFIRMATIONS=2 nv_migrate "$CA"
nv_policy "quorum = 2, min_regions = 2, confirmations = 2, confirmation_gap = '1 second'"

# 1. add, as the admin would: a code, and the line for each daemon.
ADD=$("$NTPVERIFY" add --config "$CA" --method refid $OK_ADDR 2>"$NV_TMP/add.err")
nv_expect_eq "add --method refid exit" 0 "$?"
CODE=$(printf '%s\n' "$ADD" | sed -n 's/^refid code \([A-Z0-9]*\): .*/\1/p')
nv_expect_match "a four-character code" "^[A-HJKMNP-Z2-9]{4}$" "$CODE"
nv_expect_match "ntp.org's fudge line" $'\n'"fudge 127\.127\.T\.U refid $CODE"$'\n' "$ADD"
nv_expect_match "NTPsec's refclock line" $'\n'"refclock nmea unit 0 refid $CODE"$'\n' "$ADD"
nv_expect_match "chrony's refclock line" $'\n'"refclock SHM 0 refid $CODE"$'\n' "$ADD"
nv_expect_match "removable once verified" "Once the verification says verified" "$ADD"
OK=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '$OK_ADDR'")
nv_expect_eq "the row holds the code" "refid|$CODE" \
	"$(nv_psql -c "SELECT method || '|' || refid_code FROM verification WHERE id = $OK")"
JSON=$("$NTPVERIFY" add --config "$CA" --method refid --json 127.0.9.9)
nv_expect_eq "add --json method" '"refid"' "$(nv_json_field "$JSON" method)"
nv_expect_match "add --json code" '^"[A-Z0-9]{4}"$' "$(nv_json_field "$JSON" refid_code)"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE server_ip = '127.0.9.9'" >/dev/null

# The web site's way (sql/schema.sql): another code, a well-known one.
OTHER=$([ "$CODE" = Q7RW ] && echo Q7RX || echo Q7RW)
WRONG=$(nv_psql -c "INSERT INTO verification (server_ip, method, refid_code) VALUES ('$WRONG_ADDR', 'refid', '$OTHER') RETURNING id")
KNOWN=$(nv_psql -c "INSERT INTO verification (server_ip, method, refid_code) VALUES ('$KNOWN_ADDR', 'refid', 'WWVB') RETURNING id")
if nv_psql -c "INSERT INTO verification (server_ip, method, refid_code) VALUES ('127.0.9.8', 'refid', 'gps')" 2>/dev/null; then
	nv_fail "the schema took a code of the wrong shape"
else
	nv_pass "the schema refuses a code of the wrong shape"
fi

# 2. the operator's server: NTPsec at stratum 1 with the code.
"$SHM_FEED" $UNIT &
NV_PIDS+=($!)
nv_start_ntpd ntpsec "refclock shm unit $UNIT refid $CODE minpoll 0 maxpoll 0
restrict default kod nomodify nopeer noquery limited"
nv_wait_for 10 "grep -q '$KNOWN_ADDR:123' '$NV_TMP/ntpsec.log'" || { nv_log "ntpd does not listen"; exit 1; }
nv_wait_for 30 "'$NTPVERIFY' check --allow-private --timeout 1s --refid $CODE $OK_ADDR >/dev/null" ||
	nv_fail "NTPsec never reached stratum 1 with the code"

# 3. one perspective: it corroborates, the row stays pending.
nv_start_daemon ra "$CA"; PA=$DAEMON_PID
nv_sql_wait 20 "SELECT confirmations FROM verification_probe WHERE verification_id = $OK AND perspective = 'a' AND corroborated_at IS NOT NULL" 2 >/dev/null ||
	nv_fail "perspective a did not corroborate"
sleep 1
nv_expect_eq "one perspective: pending, 1/2" "pending|1/2 1 0" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $OK")|$(nv_progress $OK)"

# 4. the second perspective: verified.
nv_start_daemon rb "$CB"; PB=$DAEMON_PID
if ms=$(nv_sql_wait 20 "SELECT state FROM verification WHERE id = $OK" verified); then
	nv_pass "refid row verified by two perspectives in ${ms} ms after the second started"
else
	nv_fail "refid row not verified"
fi
nv_expect_match "verified_by names both" "^ra 127\.0\.0\.2, rb 127\.0\.0\.4$" \
	"$(nv_psql -c "SELECT verified_by FROM verification WHERE id = $OK")"
nv_expect_eq "the attempts say why" "stratum 1, refid $CODE" \
	"$(nv_psql -c "SELECT DISTINCT detail FROM probe_attempt WHERE verification_id = $OK AND outcome = 'verified'")"

# 5. the other code: refid_mismatch seen from both, two contrary observations.
nv_sql_wait 15 "SELECT count(*) FROM verification_probe WHERE verification_id = $WRONG AND contrary_outcome = 'refid_mismatch'" 2 >/dev/null ||
	nv_fail "refid_mismatch not seen by both"
nv_expect_eq "another code: pending, 0/2, 2 contrary" "pending|0/2 0 2" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $WRONG")|$(nv_progress $WRONG)"
# (From the mismatches themselves: with `limited` on the server, a later
# retry of this row may meet a RATE kiss, as two rows on one ntpd share
# its per-client limit.)
nv_expect_eq "its detail shows the server's refid" "stratum 1 with refid '$CODE', not '$OTHER'" \
	"$(nv_psql -c "SELECT DISTINCT detail FROM probe_attempt WHERE verification_id = $WRONG AND outcome = 'refid_mismatch'")"

# 6. a well-known refid is never proof.
nv_sql_wait 10 "SELECT last_outcome FROM verification WHERE id = $KNOWN" malformed >/dev/null ||
	nv_fail "the well-known code was not refused"
nv_expect_eq "well-known code: why" "the refid code in the database is unusable: a well-known reference ID" \
	"$(nv_psql -c "SELECT last_detail FROM verification WHERE id = $KNOWN")"
nv_expect_eq "well-known code: nothing sent" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $KNOWN AND rtt_ms IS NOT NULL")"

# 7. show and list name the method and the code.
SHOW=$("$NTPVERIFY" show --config "$CA" "$OK")
nv_expect_match "show: method" "method +refid" "$SHOW"
nv_expect_match "show: code" "refid code +$CODE " "$SHOW"
nv_expect_match "list: method column" "refid $CODE" "$("$NTPVERIFY" list --config "$CA")"
nv_expect_eq "list --json code" "\"$OTHER\"" \
	"$(nv_json_field "$("$NTPVERIFY" list --config "$CA" --json | grep "\"id\":$WRONG,")" refid_code)"
# 8. the code that verified the server is never handed out for it again
#    (it may still be configured there): the web site draws another.
if nv_psql -c "INSERT INTO verification (server_ip, method, refid_code) VALUES ('$OK_ADDR', 'refid', '$CODE')" 2>"$NV_TMP/again.err"; then
	nv_fail "the same code was accepted twice for $OK_ADDR"
else
	nv_expect_match "the same code twice for one address" "verification_refid_once" "$(cat "$NV_TMP/again.err")"
fi
kill -TERM "$PA" "$PB"
for p in "$PA" "$PB"; do wait "$p" || nv_fail "a prober exited with $?"; done
nv_finish
