#!/bin/bash
# The daemon with a 1 s retry schedule cannot trip the rate limits of
# ntp.org's ntpd (the hostile responder's --limited, drop and kod) or of
# NTPsec with `kod limited` on the prober's own restrict line: rows with
# the right key or token end verified after one attempt of one packet;
# rows with a wrong one stay key_not_accepted (or token_mismatch,
# mode6_silent) attempt after attempt, never no_response or rate_limited.
# Also: `add` (setvar) without any prober address refuses with one line,
# and `show` hints by the history of the source address (the attempts
# marked hint-test are written by the test, not by a prober).
NV_TEST_NAME=limited_daemon
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
: "${NTPVERIFY:?}" "${HOSTILE_RESPONDER:?}"

TOKEN=tok-7c2e4f9a1b
RUN_FOR=40 # seconds of daemon per phase: a second attempt 30 s after the first
hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

nv_start_pg
# The rate limits are the defaults (30 s between attempts to one address);
# retries are due 1 s after each result, and polled every second.
CONF=$(nv_daemon_config l1 "
retry { schedule = { 1s } }
queue { poll_interval = 1s }")
nv_migrate "$CONF"

# --- add without any prober address ---------------------------------------
cat >"$NV_TMP/nosrc.conf" <<CONF
prober_name = "nosrc"
database = "$NV_PG_CONNINFO"
allow_private_targets = true
CONF
OUT=$("$NTPVERIFY" add --config "$NV_TMP/nosrc.conf" 192.0.2.200 2>&1)
nv_expect_eq "add without source_addresses: exit" 2 "$?"
nv_expect_eq "add without source_addresses: one line" 1 "$(printf '%s\n' "$OUT" | wc -l)"
nv_expect_match "add without source_addresses: why" "no source_addresses .*cannot be printed" "$OUT"
nv_expect_eq "add without source_addresses: nothing inserted" 0 \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE server_ip = '192.0.2.200'")"

# The key method needs no prober address; its lines for ntp.org's ntpd
# append the ID to the last trustedkey line instead of adding one.
OUT=$("$NTPVERIFY" add --config "$NV_TMP/nosrc.conf" --method key 192.0.2.201 2>&1)
nv_expect_eq "add --method key without source_addresses: exit" 0 "$?"
kid=$(printf '%s\n' "$OUT" | awk '$2 == "AES128CMAC" && $3 ~ /^[0-9a-f]+$/ { print $1 }')
nv_expect_match "ntp.org: find the trustedkey lines" $'\n'"grep -n '\^\[\[:space:\]\]\*trustedkey' /etc/ntp\.conf"$'\n' "$OUT"
nv_expect_match "ntp.org: append to the last one" "append $kid to the last of them .*'trustedkey 1 $kid'" "$(tr '\n' ' ' <<<"$OUT")"
nv_expect_match "ntp.org: the type names" "CMAC, in any case; it refuses AES128 and AES-128" "$OUT"
nv_expect_match "NTPsec: the type names" "AES128CMAC, in any case, but not as AES128" "$OUT"
nv_expect_match "NTPsec: restart" "systemctl restart ntpsec" "$OUT"
nv_expect_match "ntp.org: restart" "systemctl restart ntp," "$OUT"
"$NTPVERIFY" cancel --config "$CONF" "$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '192.0.2.201'")" >/dev/null ||
	nv_fail "cancel the row for 192.0.2.201"

# --- phase 1: the responder as ntp.org ntpd -------------------------------
# .1-.5 key method: .1 .3 .5 the right key, .2 .4 the same key ID with
# another secret (an operator's typo); .6 setvar with the right token; .7
# setvar on a server that drops mode 6.
add_key() { # ADDR [SHA1]: add --method key; prints "ID HEX" of its line
	"$NTPVERIFY" add --config "$CONF" --method key ${2:+--key-type $2} "$1" |
		awk '/^[0-9]+ (AES-128|SHA1) [0-9a-f]+$/ { print $1, $3; exit }'
}
row_of() { nv_psql -c "SELECT id FROM verification WHERE server_ip = '$1' AND state = 'pending'"; }
KEYS=()
for i in 1 2 3 4 5; do
	read -r kid khex <<<"$(add_key 127.0.7.$i $([ $i = 5 ] && echo SHA1))"
	[ -n "${khex:-}" ] || { nv_log "add --method key printed no key line"; exit 1; }
	case $i in
	2 | 4) khex=$(hex 16) ;; # installed wrong
	esac
	type=AES128
	[ $i = 5 ] && type=SHA1
	KEYS+=(--key "$kid:$type:$khex")
done
OUT=$("$NTPVERIFY" add --config "$CONF" --token "$TOKEN" 127.0.7.6) || nv_fail "add 127.0.7.6"
nv_expect_match "add: an existing restrict line loses noquery, no second line" \
	"remove 'noquery' and 'limited' from it instead of adding a second one" "$(tr '\n' ' ' <<<"$OUT")"
"$NTPVERIFY" add --config "$CONF" --token "$TOKEN" 127.0.7.7 >/dev/null || nv_fail "add 127.0.7.7"
cat >"$NV_TMP/limited.map" <<MAP
127.0.7.1 ntpd kod
127.0.7.2 ntpd kod
127.0.7.3 ntpd drop
127.0.7.4 ntpd drop
127.0.7.5 ntpd kod
127.0.7.6 ntpd kod
127.0.7.7 mode3_only kod
MAP
STATS="$NV_TMP/stats"
"$HOSTILE_RESPONDER" --token "$TOKEN" --map "$NV_TMP/limited.map" --stats "$STATS" \
	--limited-min 1900 "${KEYS[@]}" --lifetime 200 2>"$NV_TMP/responder.log" &
RESPONDER_PID=$!
NV_PIDS+=("$RESPONDER_PID")
nv_wait_for 5 "[ -s '$STATS' ]" || { nv_log "responder did not start"; exit 1; }

declare -A ROW
for i in 1 2 3 4 5 6 7; do ROW[$i]=$(row_of 127.0.7.$i); done
nv_start_daemon l1 "$CONF"
sleep "$RUN_FOR"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"
nv_stop_pid "$DAEMON_PID"
kill -TERM "$RESPONDER_PID"
wait "$RESPONDER_PID"
nv_stop_pid "$RESPONDER_PID"

history() { # ROW-ID: "state|outcome outcome ..."
	nv_psql -c "SELECT v.state || '|' || coalesce(string_agg(a.outcome, ' ' ORDER BY a.attempted_at), '') FROM verification v LEFT JOIN probe_attempt a ON a.verification_id = v.id WHERE v.id = $1 GROUP BY v.state"
}
# expect_repeated WHAT ROW-ID OUTCOME: pending, at least two attempts,
# every one OUTCOME.
expect_repeated() {
	local h n
	h=$(history "$2")
	n=$(wc -w <<<"${h#*|}")
	nv_expect_match "$1: pending, only $3 ($n attempts)" "^pending\|$3( $3)+$" "$h"
}
stat() { # ADDR FIELD
	awk -v a="$1" -v f="$2" '$1 == a { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$STATS"
}
nv_expect_eq "kod, right key: one attempt, verified" "verified|verified" "$(history "${ROW[1]}")"
expect_repeated "kod, another secret" "${ROW[2]}" key_not_accepted
nv_expect_eq "drop, right key: one attempt, verified" "verified|verified" "$(history "${ROW[3]}")"
expect_repeated "drop, another secret" "${ROW[4]}" key_not_accepted
nv_expect_eq "kod, SHA1 key: one attempt, verified" "verified|verified" "$(history "${ROW[5]}")"
nv_expect_eq "kod, setvar: one attempt, verified" "verified|verified" "$(history "${ROW[6]}")"
expect_repeated "kod, mode 6 dropped" "${ROW[7]}" mode6_silent
for i in 1 2 3 4 5 6 7; do
	a=127.0.7.$i
	nv_log "$a: $(cut -d' ' -f2- <<<"$(grep "^$a " "$STATS")")"
	nv_expect_eq "$a: nothing over the limits (kissed, dropped)" "0 0" "$(stat "$a" lim_kod) $(stat "$a" lim_drop)"
	gap=$(stat "$a" min_gap_ms)
	if [ "$gap" = -1 ]; then
		nv_pass "$a: one packet in all"
	elif [ "$gap" -ge 1900 ]; then
		nv_pass "$a: no two packets less than 2 s apart (closest $gap ms)"
	else
		nv_fail "$a: two packets $gap ms apart"
	fi
	[ "$i" = 7 ] && continue
	nv_expect_eq "$a: one packet per probe" 1 "$(stat "$a" max_per_probe)"
done

# show's hint goes by the history of the row's source address.
OUT=$("$NTPVERIFY" show --config "$CONF" "${ROW[7]}")
nv_expect_match "show: mode6_silent only: both causes" \
	"hint \(last attempt\): NTP answers but mode 6 queries from 127\.0\.0\.2 are dropped: if ntp\.conf has no .*remove 'noquery'.*cannot tell" "$OUT"
nv_psql -c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, source_address, outcome, detail)
	VALUES (${ROW[7]}, now() - interval '1 hour', 'hint-test', '127.0.0.2', 'variable_missing', 'reply does not contain ntppool_verify')" >/dev/null
OUT=$("$NTPVERIFY" show --config "$CONF" "${ROW[7]}")
nv_expect_match "show: mode 6 answered before: a flag, no missing line" \
	"hint \(last attempt\): mode 6 queries from 127\.0\.0\.2 were answered before and are dropped now: no line is missing" "$OUT"
nv_psql -c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, source_address, outcome, detail)
	VALUES (${ROW[4]}, now(), 'hint-test', '127.0.0.2', 'no_response', 'no reply')" >/dev/null
OUT=$("$NTPVERIFY" show --config "$CONF" "${ROW[4]}")
nv_expect_match "show: silent after answers: limited without kod" \
	"hint \(last attempt\): nothing answered .*answered 127\.0\.0\.2 before.*'limited' \(without 'kod'\)" "$OUT"

# --- phase 2: NTPsec, kod limited on the prober's line --------------------
for i in 2 4 7; do # nothing answers on these addresses any more
	"$NTPVERIFY" cancel --config "$CONF" "${ROW[$i]}" >/dev/null || nv_fail "cancel ${ROW[$i]}"
done
# One ntpd, three servers: .1 the right token, .2 a key installed as add
# prints it, .3 a wrong token (another row's). The prober sends from
# 127.0.0.2, whose restrict line carries kod limited.
read -r kid khex <<<"$(add_key 127.0.8.2)"
printf '%s AES-128 %s\n' "$kid" "$khex" >"$NV_TMP/ntp.keys"
chmod 600 "$NV_TMP/ntp.keys"
"$NTPVERIFY" add --config "$CONF" --token "$TOKEN" 127.0.8.1 >/dev/null || nv_fail "add 127.0.8.1"
"$NTPVERIFY" add --config "$CONF" 127.0.8.3 >/dev/null || nv_fail "add 127.0.8.3"
for i in 1 2 3; do ROW[s$i]=$(row_of 127.0.8.$i); done
nv_start_ntpd_servers 127.0.8 3 "keys $NV_TMP/ntp.keys
trustedkey $kid
setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict -6 default kod nomodify nopeer noquery limited
restrict 127.0.0.2 kod limited"
before=$(nv_psql -c "SELECT count(*) FROM probe_attempt")
nv_start_daemon l1b "$CONF"
sleep "$RUN_FOR"
# NTPsec answers every request here: one packet per attempt, by the
# daemon's own count.
if command -v curl >/dev/null; then
	sent=$(curl -sS --max-time 5 --unix-socket "$NV_TMP/l1.sock" http://localhost/metrics |
		awk '$1 == "ntpverify_packets_sent_total" { print $2 }')
	nv_expect_eq "NTPsec: packets sent = attempts" \
		"$(( $(nv_psql -c "SELECT count(*) FROM probe_attempt") - before ))" "$sent"
else
	nv_log "curl missing: the daemon's packet count not checked"
fi
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM (NTPsec)" 0 "$?"
nv_stop_pid "$DAEMON_PID"
nv_expect_eq "NTPsec, setvar: one attempt, verified" "verified|verified" "$(history "${ROW[s1]}")"
nv_expect_eq "NTPsec, key: one attempt, verified" "verified|verified" "$(history "${ROW[s2]}")"
expect_repeated "NTPsec, another token" "${ROW[s3]}" token_mismatch
nv_expect_eq "no attempt ended no_response or rate_limited" 0 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE outcome IN ('no_response', 'rate_limited') AND prober <> 'hint-test'")"

nv_finish
