#!/bin/bash
# `ntpverify check --json` (no database) against the hostile responder:
# every scenario of daemon_hostile.sh gives the same outcome and detail,
# exit status 0 only for the positive controls, 1 for everything else.
NV_TEST_NAME=check_hostile
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
: "${NTPVERIFY:?}" "${HOSTILE_RESPONDER:?}"

TOKEN=tok-3f9a1c2b7d
# One table for both tests: the EXPECT array of daemon_hostile.sh.
eval "$(sed -n '/^# BEGIN EXPECT$/,/^# END EXPECT$/p' "$(dirname "$0")/daemon_hostile.sh")"
N=${#EXPECT[@]}
[ "$N" -gt 40 ] || { nv_log "could not read the scenario table"; exit 1; }
EXPECT+=("junk_flood|malformed|.")
N=${#EXPECT[@]}

MAP="$NV_TMP/hostile.map"
: >"$MAP"
for i in $(seq 0 $((N - 1))); do
	IFS='|' read -r sc _ _ <<<"${EXPECT[$i]}"
	printf '127.5.0.%d %s\n' $((i + 1)) "$sc" >>"$MAP"
done
"$HOSTILE_RESPONDER" --token "$TOKEN" --map "$MAP" --stats "$NV_TMP/stats" \
	--other-port 124 --other-addr 127.0.0.99 --junk 400 --lifetime 120 \
	2>"$NV_TMP/responder.log" &
RESPONDER_PID=$!
NV_PIDS+=("$RESPONDER_PID")
nv_wait_for 5 "[ -s '$NV_TMP/stats' ]" || { nv_log "responder did not start"; exit 1; }

# Retransmit inside the timeout, as the daemon does.
cat >"$NV_TMP/check.conf" <<CONF
probe { timeout = 1s retransmit = 300ms }
CONF

# All hosts at once, one process each (each has its own exit status).
t0=$(date +%s%3N)
CHECK_PIDS=()
for i in $(seq 1 "$N"); do
	"$NTPVERIFY" check --config "$NV_TMP/check.conf" --allow-private \
		--source 127.0.0.2 --token "$TOKEN" --json "127.5.0.$i" \
		>"$NV_TMP/out.$i" 2>"$NV_TMP/err.$i" &
	CHECK_PIDS+=("$!")
done
for i in $(seq 1 "$N"); do
	wait "${CHECK_PIDS[$((i - 1))]}"
	echo $? >"$NV_TMP/rc.$i"
done
elapsed=$(( $(date +%s%3N) - t0 ))

verified=0
for i in $(seq 1 "$N"); do
	IFS='|' read -r sc out det <<<"${EXPECT[$((i - 1))]}"
	json=$(cat "$NV_TMP/out.$i")
	rc=$(cat "$NV_TMP/rc.$i")
	got_out=$(nv_json_field "$json" outcome)
	got_det=$(nv_json_field "$json" detail)
	got_det=${got_det#\"}
	got_det=${got_det%\"}
	nv_expect_eq "$sc outcome" "\"$out\"" "$got_out"
	nv_expect_match "$sc detail '$got_det'" "$det" "$got_det"
	if [ "$out" = verified ]; then
		verified=$((verified + 1))
		nv_expect_eq "$sc exit status" 0 "$rc"
		nv_expect_eq "$sc value" "\"$TOKEN\"" "$(nv_json_field "$json" value)"
	else
		nv_expect_eq "$sc exit status" 1 "$rc"
		# Whatever was read, it is never the token itself.
		if [ "$(nv_json_field "$json" value)" = "\"$TOKEN\"" ]; then
			nv_fail "$sc: a negative outcome carries the token as its value"
		fi
	fi
	if [ -s "$NV_TMP/err.$i" ]; then
		nv_fail "$sc: stderr: $(head -c 300 "$NV_TMP/err.$i")"
	fi
done
nv_log "$N checks in parallel took ${elapsed} ms ($verified positive controls)"
if [ "$elapsed" -lt 10000 ]; then
	nv_pass "all checks ended within the timeout (${elapsed} ms)"
else
	nv_fail "checks took ${elapsed} ms with a 1 s timeout"
fi

kill -TERM "$RESPONDER_PID"
wait "$RESPONDER_PID"
nv_expect_eq "responder exit status after SIGTERM" 0 "$?"

# A server that answers gets one packet per probe: the READVAR alone, no
# mode 3 beside it (the result's stratum and refid come from the READVAR).
one=0
for i in $(seq 1 "$N"); do
	IFS='|' read -r sc out _ <<<"${EXPECT[$((i - 1))]}"
	[ "$out" = verified ] || continue
	line=$(grep "^127\.5\.0\.$i " "$NV_TMP/stats")
	if [[ "$line" == *" m3=0 "* && "$line" == *" probes=1 max_per_probe=1 "* ]]; then
		one=$((one + 1))
	else
		nv_fail "$sc: not one packet: $line"
	fi
done
nv_expect_eq "positive controls answered after one packet each" "$verified" "$one"
nv_finish
