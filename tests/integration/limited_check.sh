#!/bin/bash
# Rate limits the prober cannot trip, with `ntpverify check`: ten checks in
# a row per server, as an operator types them (about 2 s apart), against
# servers that rate-limit the way ntp.org's ntpd 4.2.8 does with `limited`
# (drop) or `kod limited` (RATE kiss, signed for keyed requests): the
# hostile responder's --limited, packets counted per probe. Then NTPsec's
# ntpd with `kod limited` on the prober's own restrict line, the key type
# names NTPsec takes, and what check says about short SHA1 keys and about
# a restrict line that carries noquery.
#
# Every check must end verified for the right key or token and
# key_not_accepted (or mode6_silent) for the wrong one, never no_response
# or rate_limited; an answering server gets one packet per probe, and no
# two packets reach one address less than 2 s apart.
NV_TEST_NAME=limited_check
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
nv_require_ntpd
: "${NTPVERIFY:?}" "${HOSTILE_RESPONDER:?}"

TOKEN=tok-5e1d0c3b2a
ROUNDS=10
GAP=2.2 # between two checks: more than ntpd's 2 s minimum
# The responder's minimum: ntpd's 2 s less 100 ms for a loaded test
# machine's scheduling (the prober paces at probe.retransmit, 2 s; ntpd
# itself rounds to seconds and forgives one, so 1.9 s is stricter still).
LIMIT_MIN=1900

hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
AES=$(hex 16)       # key 42, AES128
AES_OTHER=$(hex 16) # key 42 as the operator mistyped it
SHA=$(hex 20)       # key 43, SHA1
printf '%s\n' "$AES" >"$NV_TMP/aes.key"
printf '%s\n' "$AES_OTHER" >"$NV_TMP/aes_other.key"
printf '%s\n' "$SHA" >"$NV_TMP/sha.key"

# series NAME ADDR CHECK-ARGS...: ROUNDS checks (R=N before the call: N)
# of ADDR, GAP apart; the outcomes one per line in $NV_TMP/series.NAME,
# stderr beside it.
series() {
	local name=$1 addr=$2 i out
	shift 2
	: >"$NV_TMP/series.$name"
	for i in $(seq 1 "${R:-$ROUNDS}"); do
		[ "$i" -gt 1 ] && sleep "$GAP"
		out=$("$NTPVERIFY" check --allow-private --json "$@" "$addr" \
			2>>"$NV_TMP/series.$name.err")
		printf '%s\n' "$(nv_json_field "$out" outcome | tr -d '"')" \
			>>"$NV_TMP/series.$name"
	done
}

# expect_series NAME OUTCOME [N]: all ROUNDS (or N) checks ended OUTCOME.
expect_series() {
	local got n=${3:-$ROUNDS}
	got=$(sort "$NV_TMP/series.$1" | uniq -c | awk '{ printf "%s%sx%s", sep, $1, $2; sep = " " }')
	nv_expect_eq "$1: $n checks in a row" "${n}x$2" "$got"
	if [ -s "$NV_TMP/series.$1.err" ]; then
		nv_fail "$1: stderr: $(head -c 300 "$NV_TMP/series.$1.err")"
	fi
}

# --- the responder: ntp.org ntpd's limits --------------------------------
MAP="$NV_TMP/limited.map"
cat >"$MAP" <<MAP
127.0.6.1 ntpd kod          # key 42, the right secret
127.0.6.2 ntpd kod          # key 42, another secret
127.0.6.3 ntpd drop         # key 42, the right secret
127.0.6.4 ntpd drop         # key 42, another secret
127.0.6.5 ntpd kod          # key 43 (SHA1)
127.0.6.6 ntpd kod          # setvar, the right token
127.0.6.7 mode3_only kod    # setvar: mode 6 dropped, the fallback paced
127.0.6.8 keyed_silent kod  # key: the keyed request dropped, the fallback paced
127.0.6.9 ntpd off          # no limits: the control
127.0.6.10 ntpd kod         # two checks back to back, the right key
127.0.6.11 ntpd kod         # two checks back to back, another secret
MAP
STATS="$NV_TMP/stats"
"$HOSTILE_RESPONDER" --token "$TOKEN" --map "$MAP" --stats "$STATS" \
	--key "42:AES128:$AES" --key "43:SHA1:$SHA" --limited-min "$LIMIT_MIN" \
	--lifetime 200 \
	2>"$NV_TMP/responder.log" &
RESPONDER_PID=$!
NV_PIDS+=("$RESPONDER_PID")
nv_wait_for 5 "[ -s '$STATS' ]" || { nv_log "responder did not start"; exit 1; }

KEY42=(--key-id 42 --key-file "$NV_TMP/aes.key")
WRONG42=(--key-id 42 --key-file "$NV_TMP/aes_other.key")
KEY43=(--key-id 43 --key-type SHA1 --key-file "$NV_TMP/sha.key")
SERIES=()
run_series() { series "$@" & SERIES+=("$!"); }
run_series kod_key 127.0.6.1 "${KEY42[@]}"
run_series kod_wrong 127.0.6.2 "${WRONG42[@]}"
run_series drop_key 127.0.6.3 "${KEY42[@]}"
run_series drop_wrong 127.0.6.4 "${WRONG42[@]}"
run_series kod_sha1 127.0.6.5 "${KEY43[@]}"
run_series kod_setvar 127.0.6.6 --token "$TOKEN"
# A server that drops the primary costs a probe three packets (primary,
# plain mode 3, primary again, 2 s apart in 5 s), and ntpd's average
# (one per 8 s after a burst of about nine) then trips after five or six
# checks this close together: four here. (The daemon's 30 s between
# attempts, per_destination_interval, stays under it.)
SILENT_ROUNDS=4
R=$SILENT_ROUNDS run_series kod_silent 127.0.6.7 --token "$TOKEN"
R=$SILENT_ROUNDS run_series kod_keyed_silent 127.0.6.8 "${KEY42[@]}"
run_series control 127.0.6.9 "${KEY42[@]}"
t0=$(date +%s)
for p in "${SERIES[@]}"; do wait "$p"; done
nv_log "responder series took $(( $(date +%s) - t0 )) s"

expect_series kod_key verified
expect_series kod_wrong key_not_accepted
expect_series drop_key verified
expect_series drop_wrong key_not_accepted
expect_series kod_sha1 verified
expect_series kod_setvar verified
expect_series kod_silent mode6_silent $SILENT_ROUNDS
expect_series kod_keyed_silent key_not_accepted $SILENT_ROUNDS
expect_series control verified

# Two checks back to back (an operator's script): the second trips the 2 s
# minimum and gets a RATE kiss signed with the server's key 42. Under the
# right secret it verifies, and proves the key; under another secret its
# MAC fails, so it is an unauthenticated kiss: rate_limited.
b2b() { # ADDR KEY-ARGS...: two checks at once; sets B1 and B2 (JSON)
	local a=$1
	shift
	B1=$("$NTPVERIFY" check --allow-private --json "$@" "$a")
	B2=$("$NTPVERIFY" check --allow-private --json "$@" "$a")
}
b2b 127.0.6.10 "${KEY42[@]}"
nv_expect_eq "back to back, right key: first" '"verified"' "$(nv_json_field "$B1" outcome)"
nv_expect_eq "back to back, right key: second (a signed kiss)" '"verified"' "$(nv_json_field "$B2" outcome)"
nv_expect_match "signed kiss: the detail says so" "signed Kiss-o'-Death RATE" "$(nv_json_field "$B2" detail)"
b2b 127.0.6.11 "${WRONG42[@]}"
nv_expect_eq "back to back, other secret: first" '"key_not_accepted"' "$(nv_json_field "$B1" outcome)"
nv_expect_eq "back to back, other secret: second (MAC fails)" '"rate_limited"' "$(nv_json_field "$B2" outcome)"

kill -TERM "$RESPONDER_PID"
wait "$RESPONDER_PID"
nv_expect_eq "responder exit status after SIGTERM" 0 "$?"
NV_PIDS=()
stat() { # ADDR FIELD
	awk -v a="$1" -v f="$2" '$1 == a { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$STATS"
}
for i in $(seq 1 11); do
	a=127.0.6.$i
	nv_log "$a: $(cut -d' ' -f2- <<<"$(grep "^$a " "$STATS")")"
	[ "$i" -ge 10 ] && continue # back to back: below
	want=$ROUNDS
	[ "$i" = 7 ] || [ "$i" = 8 ] && want=$SILENT_ROUNDS
	nv_expect_eq "$a: one probe per check" "$want" "$(stat "$a" probes)"
	nv_expect_eq "$a: nothing over the limits (kissed, dropped)" "0 0" "$(stat "$a" lim_kod) $(stat "$a" lim_drop)"
	gap=$(stat "$a" min_gap_ms)
	if [ "$gap" -ge "$LIMIT_MIN" ]; then
		nv_pass "$a: no two packets less than 2 s apart (closest $gap ms)"
	else
		nv_fail "$a: two packets $gap ms apart"
	fi
done
# An answering server gets exactly one packet per probe (it was two: the
# plain mode 3 went out with the primary).
for i in 1 2 3 4 5 6 9; do
	nv_expect_eq "127.0.6.$i: one packet per probe" 1 "$(stat 127.0.6.$i max_per_probe)"
done
nv_expect_eq "setvar answered: no mode 3 sent" "0 $ROUNDS" "$(stat 127.0.6.6 m3) $(stat 127.0.6.6 m6)"
nv_expect_eq "key method: only keyed requests" "$ROUNDS $ROUNDS" "$(stat 127.0.6.1 m3) $(stat 127.0.6.1 keyed)"
# Unanswered primaries: the plain mode 3 went out, paced (checked above).
for i in 7 8; do
	m3=$(stat 127.0.6.$i m3)
	if [ "$m3" -ge "$SILENT_ROUNDS" ]; then
		nv_pass "127.0.6.$i: the fallback mode 3 was sent ($m3)"
	else
		nv_fail "127.0.6.$i: $m3 plain requests for $SILENT_ROUNDS probes"
	fi
done
for i in 10 11; do
	nv_expect_eq "127.0.6.$i: back to back: two packets, one kissed" "2 1 1 0" \
		"$(stat 127.0.6.$i m3) $(stat 127.0.6.$i max_per_probe) $(stat 127.0.6.$i lim_kod) $(stat 127.0.6.$i lim_drop)"
done

# --- NTPsec with `kod limited` on the prober's own line -----------------
# Sources: 127.0.0.2 setvar (its line: kod limited), .4 and .5 the key
# method (restrict default), .3 a line with noquery, .6 the type names.
# One series per source, so no two share ntpd's per-address limits.
cat >"$NV_TMP/ntp.keys" <<KEYS
42 AES-128 $AES
43 SHA1 $SHA
44 AES128 $(hex 16)
45 aes128cmac $AES
46 AES $AES
KEYS
chmod 600 "$NV_TMP/ntp.keys"
nv_start_ntpd ntpsec "keys $NV_TMP/ntp.keys
trustedkey 42
trustedkey 43 44 45 46
setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict -6 default kod nomodify nopeer noquery limited
restrict 127.0.0.2 kod limited
restrict 127.0.0.3 noquery"

SERIES=()
run_series ntpsec_setvar 127.0.0.1 --source 127.0.0.2 --token "$TOKEN"
run_series ntpsec_key 127.0.0.1 --source 127.0.0.4 "${KEY42[@]}"
run_series ntpsec_wrong 127.0.0.1 --source 127.0.0.5 "${WRONG42[@]}"
for p in "${SERIES[@]}"; do wait "$p"; done
expect_series ntpsec_setvar verified
expect_series ntpsec_key verified
expect_series ntpsec_wrong key_not_accepted

# NTPsec's type names: AES128CMAC (any case) and AES work, AES128 does not
# (ntpd logs it and skips the key); a second trustedkey line adds to the
# first (key 42 above verified with it).
type_check() { # KEY-ID EXPECTED
	local out
	sleep "$GAP"
	out=$("$NTPVERIFY" check --allow-private --json --source 127.0.0.6 \
		--key-id "$1" --key-file "$NV_TMP/aes.key" 127.0.0.1)
	nv_expect_eq "NTPsec key $1 ($(awk -v k="$1" '$1 == k { print $2 }' "$NV_TMP/ntp.keys"))" \
		"\"$2\"" "$(nv_json_field "$out" outcome)"
}
type_check 45 verified
type_check 46 verified
type_check 44 key_not_accepted
nv_expect_match "NTPsec refused type AES128" "unknown auth type 44, AES128" "$(cat "$NV_TMP/ntpsec.log")"

# A restrict line with noquery: the hint names that case, not only a
# missing line.
OUT=$("$NTPVERIFY" check --allow-private --source 127.0.0.3 --token "$TOKEN" 127.0.0.1)
nv_expect_match "noquery on the prober's line: mode6_silent" ": mode6_silent " "$OUT"
nv_expect_match "noquery hint: remove the flag" "hint: .*if it has one, remove 'noquery'" "$OUT"
nv_expect_match "noquery hint: says it cannot tell" "cannot tell" "$OUT"
# token_mismatch: the hint carries the token given, not a placeholder.
sleep "$GAP"
OUT=$("$NTPVERIFY" check --allow-private --source 127.0.0.2 --token tok-other-0000 127.0.0.1)
nv_expect_match "mismatch hint names the token" "hint: .*'setvar ntppool_verify = \"tok-other-0000\"'" "$OUT"
nv_stop_pid "$NTPD_PID"

# --- SHA1 keys ntpd would read as text ------------------------------------
printf '%s\n' "$(hex 10)" >"$NV_TMP/sha_short.key"
OUT=$("$NTPVERIFY" check --allow-private --key-id 43 --key-type SHA1 \
	--key-file "$NV_TMP/sha_short.key" 127.0.0.1 2>&1)
nv_expect_eq "20-digit SHA1 key: exit 2" 2 "$?"
nv_expect_eq "20-digit SHA1 key: one line" 1 "$(printf '%s\n' "$OUT" | wc -l)"
nv_expect_match "20-digit SHA1 key: why" "read a key of 20 characters or fewer as text" "$OUT"
printf '%s\n' "$(hex 11)" >"$NV_TMP/sha_22.key"
OUT=$("$NTPVERIFY" check --allow-private --timeout 200ms --key-id 43 \
	--key-type SHA1 --key-file "$NV_TMP/sha_22.key" 127.0.0.1 2>&1)
nv_expect_eq "22-digit SHA1 key: probed (nothing listens now)" 1 "$?"

nv_finish
