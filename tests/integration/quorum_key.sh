#!/bin/bash
# The key method under the same quorum rule, against real NTPsec ntpd and
# PostgreSQL: two perspectives (two regions), quorum 2, confirmations 2.
# The row whose key NTPsec trusts is verified once both perspectives
# corroborated (two confirmations each); the row whose key nobody
# installed stays pending, and NTPsec's silence to its keyed request is
# not a contrary observation.
NV_TEST_NAME=quorum_key
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
. "$(dirname "$0")/quorum_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}"

KEY=00112233445566778899aabbccddeeff
NOBODY=ffeeddccbbaa99887766554433221100
for a in 127.0.8.1 127.0.8.2; do ip addr add "$a/32" dev lo; done
nv_start_pg
printf '42 AES-128 %s\n' "$KEY" >"$NV_TMP/ntp.keys"
chmod 600 "$NV_TMP/ntp.keys"
nv_start_ntpd ntpsec "keys $NV_TMP/ntp.keys
trustedkey 42
restrict default kod nomodify nopeer noquery limited"
nv_wait_for 10 "grep -q '127.0.8.2:123' '$NV_TMP/ntpsec.log'" || { nv_log "ntpd does not listen"; exit 1; }

COMMON="probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1s } }
queue { poll_interval = 10s }"
CA=$(nv_perspective_config ka 127.0.0.2 a a "$COMMON")
CB=$(nv_perspective_config kb 127.0.0.4 b b "$COMMON")
NV_CONFIRMATIONS=2 nv_migrate "$CA"
nv_policy "quorum = 2, min_regions = 2, confirmations = 2, confirmation_gap = '1 second'"
nv_start_daemon ka "$CA"; PA=$DAEMON_PID
nv_start_daemon kb "$CB"; PB=$DAEMON_PID
OK=$(nv_psql -c "INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('127.0.8.1', 'key', 42, 'AES128', '$KEY') RETURNING id")
NO=$(nv_psql -c "INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('127.0.8.2', 'key', 43, 'AES128', '$NOBODY') RETURNING id")
if ms=$(nv_sql_wait 15 "SELECT state FROM verification WHERE id = $OK" verified); then
	nv_pass "key row verified by two perspectives in ${ms} ms"
else
	nv_fail "key row not verified"
fi
nv_expect_eq "both perspectives corroborated, two confirmations each" "a 2|b 2" \
	"$(nv_psql -c "SELECT string_agg(perspective || ' ' || confirmations, '|' ORDER BY perspective) FROM verification_probe WHERE verification_id = $OK AND corroborated_at IS NOT NULL")"
nv_expect_match "verified_by names both" "^ka 127\.0\.0\.2, kb 127\.0\.0\.4$" \
	"$(nv_psql -c "SELECT verified_by FROM verification WHERE id = $OK")"
nv_expect_eq "at least four verified attempts (2 per perspective)" t \
	"$(nv_psql -c "SELECT count(*) >= 4 FROM probe_attempt WHERE verification_id = $OK AND outcome = 'verified'")"
nv_sql_wait 10 "SELECT count(*) FROM verification_probe WHERE verification_id = $NO AND last_outcome = 'key_not_accepted'" 2 >/dev/null ||
	nv_fail "the unknown key was not probed by both"
nv_expect_eq "unknown key: pending, 0/2, silence is not contrary" "pending|0/2 0 0" \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $NO")|$(nv_progress $NO)"
kill -TERM "$PA" "$PB"
for p in "$PA" "$PB"; do wait "$p" || nv_fail "a prober exited with $?"; done
nv_finish
