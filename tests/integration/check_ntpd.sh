#!/bin/bash
# `ntpverify check` against a real NTPsec ntpd in a private network namespace.
NV_TEST_NAME=check_ntpd
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
nv_require_ntpd
: "${NTPVERIFY:?}" "${UDP_SINK:?}"

TOKEN=tok-3f9a1c2b7d
# The default timeout (5 s): the plain mode 3 request goes out one
# probe.retransmit (2 s) after the READVAR, so a 2 s timeout would leave
# mode6_silent no room.
CHECK=("$NTPVERIFY" check --allow-private)

# run_check ARGS...: sets OUT (stdout) and RC.
run_check() {
	OUT=$("${CHECK[@]}" "$@" 2>"$NV_TMP/stderr")
	RC=$?
}

# 20 more server addresses for the many-targets cases.
for i in $(seq 1 20); do ip addr add "127.0.1.$i/32" dev lo; done

nv_start_ntpd with_setvar "setvar ntppool_verify = \"$TOKEN\"
setvar other = \"ntppool_verify=$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict -6 default kod nomodify nopeer noquery limited
restrict 127.0.0.2
restrict ::1"

# 1. right token from the restricted-in source: verified, exit 0.
run_check --source 127.0.0.2 --token "$TOKEN" 127.0.0.1
nv_expect_eq "verified exit" 0 "$RC"
nv_expect_match "verified line" "^127\.0\.0\.1 port 123 from 127\.0\.0\.2: verified" "$OUT"

run_check --source 127.0.0.2 --token "$TOKEN" --json 127.0.0.1
nv_expect_eq "json outcome" '"verified"' "$(nv_json_field "$OUT" outcome)"
nv_expect_eq "json value" "\"$TOKEN\"" "$(nv_json_field "$OUT" value)"
nv_expect_eq "json source" '"127.0.0.2"' "$(nv_json_field "$OUT" source)"
nv_expect_eq "json server" '"127.0.0.1"' "$(nv_json_field "$OUT" server)"
nv_expect_eq "json port" 123 "$(nv_json_field "$OUT" port)"
nv_expect_match "json ntp" '"ntp":\{"stratum":[0-9]+,"refid":"[^"]*"\}' "$OUT"
# ... from the READVAR itself (it asks for stratum and refid too; the
# unsynchronised ntpd says 16 and INIT in mode 6), with one packet.
nv_expect_match "json ntp from mode 6" '"ntp":\{"stratum":16,"refid":"INIT"\}' "$OUT"
nv_expect_match "json rtt" '"rtt_ms":[0-9]+\.[0-9]+' "$OUT"

# 2. wrong token: token_mismatch, exit 1, and the hint says what to do.
run_check --source 127.0.0.2 --token tok-wrongwrong 127.0.0.1
nv_expect_eq "mismatch exit" 1 "$RC"
nv_expect_match "mismatch line" ": token_mismatch " "$OUT"
nv_expect_match "mismatch hint" "hint: .*setvar ntppool_verify" "$OUT"

# 3. the token inside another variable's value never counts.
run_check --source 127.0.0.2 --variable other --token "$TOKEN" 127.0.0.1
nv_expect_eq "token inside other value" 1 "$RC"

# 4. without --token: print the value like ntpq's rv.
run_check --source 127.0.0.2 127.0.0.1
nv_expect_eq "read exit" 0 "$RC"
nv_expect_eq "read output" "ntppool_verify=$TOKEN" "$OUT"

# 5. from 127.0.0.3, where `restrict default ... noquery` applies.
run_check --source 127.0.0.3 --token "$TOKEN" 127.0.0.1
nv_expect_eq "silent exit" 1 "$RC"
nv_expect_match "silent line" ": mode6_silent " "$OUT"
nv_expect_match "silent hint" "hint: .*restrict 127\.0\.0\.3.*chrony" "$OUT"

# 6. IPv6.
run_check --source ::1 --token "$TOKEN" ::1
nv_expect_eq "ipv6 exit" 0 "$RC"
nv_expect_match "ipv6 line" "^::1 port 123 from ::1: verified" "$OUT"

# 7. a variable ntpd does not have: variable_missing.
run_check --source 127.0.0.2 --variable ntppool_verify_x --token "$TOKEN" 127.0.0.1
nv_expect_match "unknown variable" ": variable_missing " "$OUT"

# 8. Many targets: --targets FILE (comments, blank lines), stdin, and
#    operands, one JSON line per host, probed concurrently.
nv_wait_for 5 "grep -q '127.0.1.20:123' '$NV_TMP/with_setvar.log'" || nv_fail "ntpd not on 127.0.1.20"
{ echo "# pool servers"; for i in $(seq 1 20); do echo "127.0.1.$i"; done; echo; } >"$NV_TMP/targets"
OUT=$("${CHECK[@]}" --source 127.0.0.2 --token "$TOKEN" --json --targets "$NV_TMP/targets" 2>"$NV_TMP/stderr")
RC=$?
nv_expect_eq "targets exit" 0 "$RC"
nv_expect_eq "targets: one JSON line each" 20 "$(printf '%s\n' "$OUT" | grep -c '"outcome":"verified"')"
nv_expect_eq "targets: every host once" 20 "$(printf '%s\n' "$OUT" | grep -o '"server":"127.0.1.[0-9]*"' | sort -u | wc -l)"
OUT=$(printf '127.0.1.1\n127.0.1.2\n' | "${CHECK[@]}" --source 127.0.0.2 --token "$TOKEN" --json --targets - 127.0.1.3)
nv_expect_eq "stdin plus operand" 3 "$(printf '%s\n' "$OUT" | grep -c '"outcome":"verified"')"
OUT=$("${CHECK[@]}" --source 127.0.0.2 --token "$TOKEN" 127.0.1.4 127.0.0.1 --port 123)
nv_expect_eq "two operands, plain lines" 2 "$(printf '%s\n' "$OUT" | grep -c ': verified (')"
OUT=$("${CHECK[@]}" --source 127.0.0.3 --token "$TOKEN" 127.0.1.5 127.0.1.6)
nv_expect_eq "any negative outcome exits 1" 1 "$?"

nv_stop_pid "$NTPD_PID"

# 9. ntpd without the setvar line: variable_missing.
nv_start_ntpd without_setvar "restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"
run_check --source 127.0.0.2 --token "$TOKEN" --json 127.0.0.1
nv_expect_eq "missing exit" 1 "$RC"
nv_expect_eq "missing outcome" '"variable_missing"' "$(nv_json_field "$OUT" outcome)"
nv_expect_eq "missing value" null "$(nv_json_field "$OUT" value)"
nv_stop_pid "$NTPD_PID"

# 10. a port where a socket reads and never answers: no_response; the sink
#    counts what arrived: the READVAR at 0 s, the plain mode 3 at 2 s, the
#    READVAR again at 4 s, nothing more before the 5 s timeout.
"$UDP_SINK" 127.0.0.1 10123 "$NV_TMP/sink.count" &
SINK=$!
NV_PIDS+=("$SINK")
for _ in $(seq 1 50); do [ -s "$NV_TMP/sink.count" ] && break; sleep 0.1; done
run_check --port 10123 --token "$TOKEN" --json 127.0.0.1
nv_expect_eq "no_response exit" 1 "$RC"
nv_expect_eq "no_response outcome" '"no_response"' "$(nv_json_field "$OUT" outcome)"
nv_expect_eq "no_response ntp" null "$(nv_json_field "$OUT" ntp)"
sent=$(cat "$NV_TMP/sink.count")
nv_expect_eq "sink saw 3 datagrams, 2 s apart (was 6)" 3 "$sent"

# 11. a port with nothing listening: ICMP port unreachable.
run_check --port 10124 --token "$TOKEN" 127.0.0.1
nv_expect_eq "unreachable exit" 1 "$RC"
nv_expect_match "unreachable line" ": unreachable " "$OUT"

# 12. policy: loopback refused without --allow-private, and nothing is sent.
before=$(cat "$NV_TMP/sink.count")
OUT=$("$NTPVERIFY" check --port 10123 --token "$TOKEN" 127.0.0.1 2>&1)
RC=$?
nv_expect_eq "policy exit" 1 "$RC"
nv_expect_match "policy line" ": refused_by_policy \(loopback" "$OUT"
nv_expect_match "policy hint: --allow-private lifts it" "see --allow-private" "$OUT"
# Multicast is refused whatever --allow-private says: no hint to it.
OUT=$("$NTPVERIFY" check --port 10123 --token "$TOKEN" 224.0.0.1 2>&1)
nv_expect_eq "multicast exit" 1 "$?"
nv_expect_match "multicast line" ": refused_by_policy \(multicast" "$OUT"
nv_expect_no_match "multicast: no --allow-private hint" "allow-private" "$OUT"
sleep 0.3
nv_expect_eq "policy sent nothing" "$before" "$(cat "$NV_TMP/sink.count")"

# 13. usage errors exit 2.
"$NTPVERIFY" check --port 0 127.0.0.1 >/dev/null 2>&1
nv_expect_eq "bad port exit" 2 "$?"
"$NTPVERIFY" check --token 'bad"token' 127.0.0.1 >/dev/null 2>&1
nv_expect_eq "bad token exit" 2 "$?"
"$NTPVERIFY" check >/dev/null 2>&1
nv_expect_eq "no host exit" 2 "$?"

nv_finish
