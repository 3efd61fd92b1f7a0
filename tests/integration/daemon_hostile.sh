#!/bin/bash
# The daemon against a hostile responder: one verification per scenario,
# each on its own 127.5.0.N address, all probed in one daemon run. Every
# scenario's recorded outcome and detail are asserted; only the legal
# positive controls may ever be `verified`. Then a junk flood: a good row
# inserted while it is running still verifies promptly.
NV_TEST_NAME=daemon_hostile
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${HOSTILE_RESPONDER:?}"

TOKEN=tok-3f9a1c2b7d
TIMEOUT_MS=1000
# A probe ends at its timeout; the result is written a moment later.
END_SLACK_MS=700

# scenario | outcome | detail (regex). The order gives the addresses.
# check_hostile.sh reads this table too (between the BEGIN/END lines).
# BEGIN EXPECT
EXPECT=(
	# positive controls: legal replies, the only rows allowed to verify
	"good|verified|^token matches$"
	"good_quoted|verified|^token matches$"
	"good_in_list|verified|^token matches$"
	"frag_reverse|verified|^token matches$"
	"frag_shuffle|verified|^token matches$"
	"frag_dup|verified|^token matches$"
	"frag_32|verified|^token matches$"
	# reassembly
	"frag_overlap|malformed|^overlapping fragments$"
	"frag_dup_conflict|malformed|^overlapping fragments$"
	"frag_gap|malformed|^incomplete reply \(missing fragments\)$"
	"frag_33|malformed|^too many fragments$"
	"never_ends|malformed|^reply too long$"
	# header checks, in the order the prober runs them
	"short|malformed|^short packet \([0-9]+ datagrams?\)$"
	"wrong_version|malformed|^version mismatch \([0-9]+ datagrams?\)$"
	"wrong_mode|malformed|^not mode 6 \([0-9]+ datagrams?\)$"
	"no_r_bit|malformed|^not a response \([0-9]+ datagrams?\)$"
	"wrong_opcode|malformed|^opcode mismatch \([0-9]+ datagrams?\)$"
	# a wrong sequence number ends the probe at once (docs/security.md)
	"wrong_seq|malformed|^sequence mismatch$"
	"junk_then_good|malformed|^sequence mismatch$"
	"wrong_assoc|malformed|^association mismatch \([0-9]+ datagrams?\)$"
	"count_huge|malformed|^reply too long$"
	"count_too_big|malformed|^count exceeds datagram \([0-9]+ datagrams?\)$"
	"oversized|malformed|^oversized datagram \([0-9]+ datagrams?\)$"
	# a mode 6 reply whose mode field says 4 goes to the mode 3 parser,
	# fails there, and is not counted against mode 6: the valid mode 3
	# reply makes it "NTP answers, mode 6 does not"
	"wrong_mode4|mode6_silent|^NTP answers, mode 6 does not$"
	# correct replies from the wrong place: the connected socket drops them
	"from_other_port|no_response|^no reply$"
	"from_other_addr|no_response|^no reply$"
	# error replies
	"error_0|mode6_error|^mode 6 error: unspecified$"
	"error_1|mode6_error|^mode 6 error: permission$"
	"error_2|mode6_error|^mode 6 error: bad format$"
	"error_3|mode6_error|^mode 6 error: bad opcode$"
	"error_4|mode6_error|^mode 6 error: bad association$"
	"error_5|variable_missing|^mode 6 error: unknown variable$"
	"error_6|mode6_error|^mode 6 error: bad value$"
	"error_7|mode6_error|^mode 6 error: restrict$"
	"error_200|mode6_error|^mode 6 error code 200$"
	"error_with_token|mode6_error|^mode 6 error: unspecified$"
	# the value: exact name, whole value
	"token_prefix|token_mismatch|^ntppool_verify has another value \(15 octets\)$"
	"token_suffix|token_mismatch|^ntppool_verify has another value \(15 octets\)$"
	"token_truncated|token_mismatch|^ntppool_verify has another value \(13 octets\)$"
	"token_nul|malformed|^variable list syntax$"
	"token_in_padding|token_mismatch|^ntppool_verify has another value \(0 octets\)$"
	"token_in_other_var|variable_missing|^reply does not contain ntppool_verify$"
	"token_in_other_var_quoted|variable_missing|^reply does not contain ntppool_verify$"
	"quoted_with_commas|token_mismatch|^ntppool_verify has another value \(18 octets\)$"
	"unterminated_quote|malformed|^variable list syntax$"
	"dup_var|malformed|^variable appears twice$"
	"empty_value|token_mismatch|^ntppool_verify has another value \(0 octets\)$"
	"no_value|token_mismatch|^ntppool_verify has another value \(0 octets\)$"
	"different_case|token_mismatch|^ntppool_verify has another value \(14 octets\)$"
	"different_case_name|variable_missing|^reply does not contain ntppool_verify$"
	# mode 3 only, or nothing
	"mode3_only|mode6_silent|^NTP answers, mode 6 does not$"
	"kod_rate|rate_limited|^Kiss-o'-Death RATE$"
	"m3_bad_origin|no_response|^no reply$"
	"silent|no_response|^no reply$"
)
# END EXPECT
N=${#EXPECT[@]}

# Flood phase addresses.
FLOOD_ADDR=127.5.1.1
FLOOD_GOOD_ADDR=127.5.1.2

MAP="$NV_TMP/hostile.map"
STATS="$NV_TMP/hostile.stats"
declare -A SC_OF OUT_OF DET_OF
POSITIVE=()
: >"$MAP"
for i in $(seq 0 $((N - 1))); do
	IFS='|' read -r sc out det <<<"${EXPECT[$i]}"
	addr="127.5.0.$((i + 1))"
	SC_OF[$addr]=$sc
	OUT_OF[$addr]=$out
	DET_OF[$addr]=$det
	[ "$out" = verified ] && POSITIVE+=("$addr")
	printf '%s %s\n' "$addr" "$sc" >>"$MAP"
done
printf '%s junk_flood\n%s good\n' "$FLOOD_ADDR" "$FLOOD_GOOD_ADDR" >>"$MAP"

nv_start_pg

# 0.0.0.0:123 answers for every 127.x address of the namespace and replies
# from the address asked; from_other_port replies from port 124,
# from_other_addr from 127.0.0.99:123 (both local on lo's 127/8).
"$HOSTILE_RESPONDER" --token "$TOKEN" --map "$MAP" --stats "$STATS" \
	--other-port 124 --other-addr 127.0.0.99 --junk 400 --lifetime 300 \
	2>"$NV_TMP/responder.log" &
RESPONDER_PID=$!
NV_PIDS+=("$RESPONDER_PID")
nv_wait_for 5 "[ -s '$STATS' ]" || { cat "$NV_TMP/responder.log" >&2; nv_log "responder did not start"; exit 1; }

# One attempt per row (the retry schedule is an hour); limits wide enough
# that nothing is held back, so every row sees the same probe.
CONF=$(nv_daemon_config hostile "
probe { timeout = ${TIMEOUT_MS}ms retransmit = 300ms max_in_flight = 256 }
rate_limit { global_pps = 5000 global_burst = 1000 per_destination_interval = 1s }
retry { schedule = { 1h } }
queue { lease_batch = 200 poll_interval = 500ms }")
nv_migrate "$CONF"
nv_start_daemon hostile "$CONF"

# stat ADDR FIELD: a counter from the responder's stats file.
stat() {
	awk -v a="$1" -v f="$2" '$1 == a { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }' "$STATS"
}

# 1. Every scenario at once.
values=""
for i in $(seq 1 "$N"); do
	values+="${values:+,}('127.5.0.$i', '$TOKEN')"
done
t0=$(date +%s%3N)
nv_psql -c "INSERT INTO verification (server_ip, token) VALUES $values" >/dev/null
if ms=$(nv_sql_wait 20 "SELECT count(DISTINCT verification_id) FROM probe_attempt" "$N"); then
	nv_pass "all $N rows have an attempt after ${ms} ms"
else
	nv_fail "not every row was probed"
fi
sleep 0.3 # a late second attempt would show up now
nv_expect_eq "one attempt per row" "$N" "$(nv_psql -c "SELECT count(*) FROM probe_attempt")"

declare -A GOT_OUT GOT_DET GOT_END
while IFS='|' read -r addr out det end_ms; do
	GOT_OUT[$addr]=$out
	GOT_DET[$addr]=$det
	GOT_END[$addr]=$end_ms
done < <(nv_psql -c "SELECT host(v.server_ip), v.last_outcome, v.last_detail,
                            (extract(epoch FROM a.attempted_at) * 1000)::bigint
                     FROM verification v JOIN probe_attempt a ON a.verification_id = v.id")

for i in $(seq 1 "$N"); do
	addr="127.5.0.$i"
	sc=${SC_OF[$addr]}
	nv_expect_eq "$sc ($addr) outcome" "${OUT_OF[$addr]}" "${GOT_OUT[$addr]:-}"
	nv_expect_match "$sc detail '${GOT_DET[$addr]:-}'" "${DET_OF[$addr]}" "${GOT_DET[$addr]:-}"
done

# Nothing hostile is ever verified: exactly the positive controls are.
want_verified=$(printf '%s\n' "${POSITIVE[@]}" | sort | tr '\n' ' ')
got_verified=$(nv_psql -c "SELECT host(v.server_ip) FROM probe_attempt a JOIN verification v ON v.id = a.verification_id WHERE a.outcome = 'verified'" | sort | tr '\n' ' ')
nv_expect_eq "verified attempts are exactly the positive controls" "$want_verified" "$got_verified"
nv_expect_eq "verified rows" "${#POSITIVE[@]}" \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")"

# Every probe ended within its timeout, never_ends included (the
# responder's first request to the address starts the clock), and the
# retransmits stayed bounded: sends at 0, 300, 600, 900 ms at most.
late=""
over=""
for i in $(seq 1 "$N"); do
	addr="127.5.0.$i"
	first=$(stat "$addr" first_ms)
	m6=$(stat "$addr" m6)
	m3=$(stat "$addr" m3)
	if [ -z "$first" ] || [ "$first" = 0 ]; then
		late+=" ${SC_OF[$addr]}(never asked)"
		continue
	fi
	took=$(( ${GOT_END[$addr]:-0} - first ))
	[ "${SC_OF[$addr]}" = never_ends ] && nv_log "never_ends: probe ended ${took} ms after its first request"
	if [ "$took" -gt $((TIMEOUT_MS + END_SLACK_MS)) ] || [ "$took" -lt 0 ]; then
		late+=" ${SC_OF[$addr]}(${took}ms)"
	fi
	if [ "$m6" -lt 1 ] || [ "$m6" -gt 4 ] || [ "$m3" -gt 4 ]; then
		over+=" ${SC_OF[$addr]}(m6=$m6,m3=$m3)"
	fi
done
nv_expect_eq "probes that outlived timeout + ${END_SLACK_MS} ms" "" "$late"
nv_expect_eq "rows with 0 or more than 4 requests of a kind" "" "$over"

# The wrong-source replies were really sent (and dropped by the kernel).
for sc in from_other_port from_other_addr; do
	for addr in "${!SC_OF[@]}"; do
		[ "${SC_OF[$addr]}" = "$sc" ] || continue
		sent=$(stat "$addr" sent)
		if [ "$sent" -ge 2 ]; then
			nv_pass "$sc: responder sent $sent replies, none accepted"
		else
			nv_fail "$sc: responder sent only $sent replies"
		fi
	done
done

# 2. A junk flood, and a good row inserted while it runs.
nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('$FLOOD_ADDR', '$TOKEN')" >/dev/null
if nv_wait_for 5 "[ \"\$(stat $FLOOD_ADDR junk)\" -gt 0 ] 2>/dev/null"; then
	nv_pass "junk flood started"
else
	nv_fail "junk flood did not start"
fi
GOOD_ID=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('$FLOOD_GOOD_ADDR', '$TOKEN') RETURNING id")
if ms=$(nv_sql_wait 3 "SELECT state FROM verification WHERE id = $GOOD_ID" verified); then
	nv_pass "good row verified ${ms} ms after its insert, during the flood"
else
	nv_fail "good row not verified during the flood"
fi
nv_sql_wait 5 "SELECT count(*) FROM probe_attempt a JOIN verification v ON v.id = a.verification_id WHERE v.server_ip = '$FLOOD_ADDR'" 1 >/dev/null
sleep 0.3 # the responder's stats file is rewritten every 100 ms
flood_out=$(nv_psql -c "SELECT last_outcome || '|' || last_detail FROM verification WHERE server_ip = '$FLOOD_ADDR'")
nv_expect_match "junk_flood outcome '$flood_out'" '^malformed\|' "$flood_out"
verified_ms=$(nv_psql -c "SELECT (extract(epoch FROM verified_at) * 1000)::bigint FROM verification WHERE id = $GOOD_ID")
flood_last=$(stat "$FLOOD_ADDR" last_ms)
junk=$(stat "$FLOOD_ADDR" junk)
nv_log "flood: $junk junk datagrams; good row verified $((flood_last - verified_ms)) ms before the flood's last one"
if [ "$flood_last" -gt "$verified_ms" ]; then
	nv_pass "the flood was still running when the good row verified"
else
	nv_fail "the flood ended before the good row verified: no proof of responsiveness"
fi
# Stronger: the flood's own probe (its socket taking the junk) was still
# open when the good row's result was written.
flood_end=$(nv_psql -c "SELECT (extract(epoch FROM last_probe_at) * 1000)::bigint FROM verification WHERE server_ip = '$FLOOD_ADDR'")
if [ "$verified_ms" -lt "$flood_end" ]; then
	nv_pass "good row verified $((flood_end - verified_ms)) ms before the flooded probe ended"
else
	nv_fail "good row verified after the flooded probe had ended"
fi
if [ "$junk" -ge 400 ]; then nv_pass "flood of $junk datagrams"; else nv_fail "flood only $junk datagrams"; fi

nv_expect_eq "total verified attempts" "$(( ${#POSITIVE[@]} + 1 ))" \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE outcome = 'verified'")"

if grep -q -- "$TOKEN" "$NV_TMP/hostile.log"; then
	nv_fail "the token appears in the daemon's log"
else
	nv_pass "token never logged, whatever the replies held"
fi

# 3. The daemon is alive and exits cleanly (under the sanitizers, a
#    report or a leak would make the status non-zero); so does the
#    responder.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"
kill -TERM "$RESPONDER_PID"
wait "$RESPONDER_PID"
nv_expect_eq "responder exit status after SIGTERM" 0 "$?"
nv_log "whole test: $(( $(date +%s%3N) - t0 )) ms after the first insert"
nv_finish
