#!/bin/bash
# `ntpverify check --refid` against real stratum-1 servers: NTPsec's ntpd
# and chrony's chronyd, one after the other, each with the shared-memory
# reference clock (NTPsec `refclock shm`, chrony `refclock SHM`) fed by
# tests/tools/shm_feed with the machine's own time. Neither daemon may
# touch the clock: ntpd runs without CAP_SYS_TIME (nv_start_ntpd), chronyd
# with -x and without it (nv_start_chronyd).
#
# The right code: verified. Another code: refid_mismatch, showing the
# server's refid. A refclock that nobody feeds (the server never reaches
# stratum 1): not_stratum1. The test runs in IPC and network namespaces of
# its own, so its SHM segments cannot meet a real refclock's; it removes
# them at the end all the same.
NV_TEST_NAME=refid_check
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chrony.sh"
nv_chrony_prepare # needs the network on first use: outside the namespaces
if [ -z "${NV_IN_IPCNS:-}" ]; then
	[ "$(id -u)" = 0 ] || nv_skip "needs root for namespaces"
	export NV_IN_IPCNS=1
	exec unshare --ipc -- bash "$0" "$@"
fi
nv_enter_netns "$@"
nv_require_ntpd
command -v ss >/dev/null || nv_skip "ss(8) missing (apt-get install iproute2)"
command -v ipcrm >/dev/null || nv_skip "ipcrm(1) missing"
: "${NTPVERIFY:?}" "${SHM_FEED:?}"

FED=7     # the unit shm_feed writes: key 0x4e545037
UNFED=8   # a unit nobody writes
CODE=K7QX
OTHER=M3RW
remove_segments() {
	ipcrm -M $((0x4e545030 + FED)) 2>/dev/null
	ipcrm -M $((0x4e545030 + UNFED)) 2>/dev/null
	return 0
}
trap 'nv_cleanup; remove_segments' EXIT

CHECK=("$NTPVERIFY" check --allow-private --timeout 1s)
run_check() { # ARGS...: sets OUT, ERR, RC
	OUT=$("${CHECK[@]}" "$@" 2>"$NV_TMP/stderr")
	RC=$?
	ERR=$(cat "$NV_TMP/stderr")
}
# wait_outcome SECONDS OUTCOME CODE: check until it says OUTCOME.
wait_outcome() {
	nv_wait_for "$1" "run_check --refid $3 127.0.0.1; [[ \"\$OUT\" == *': $2 ('* ]]"
}

"$SHM_FEED" $FED &
NV_PIDS+=($!)

# both DAEMON: the right code, another code, the JSON.
both() {
	local who=$1
	if wait_outcome 30 verified $CODE; then
		nv_pass "$who: verified with refid $CODE"
	else
		nv_fail "$who: never verified: $OUT"
	fi
	nv_expect_eq "$who: verified exit" 0 "$RC"
	nv_expect_match "$who: the line" "^127\.0\.0\.1 port 123 from 127\.0\.0\.1: verified \(stratum 1, refid $CODE\)" "$OUT"
	run_check --refid $OTHER 127.0.0.1
	nv_expect_eq "$who: another code exit" 1 "$RC"
	nv_expect_match "$who: another code" ": refid_mismatch \(stratum 1 with refid '$CODE', not '$OTHER'\)" "$OUT"
	nv_expect_match "$who: its hint" "hint: the server is at stratum 1 with another reference ID" "$OUT"
	run_check --refid $CODE --json 127.0.0.1
	nv_expect_eq "$who: json method" '"refid"' "$(nv_json_field "$OUT" method)"
	nv_expect_eq "$who: json code" "\"$CODE\"" "$(nv_json_field "$OUT" refid_code)"
	nv_expect_eq "$who: json outcome" '"verified"' "$(nv_json_field "$OUT" outcome)"
	nv_expect_eq "$who: json stratum" 1 "$(nv_json_field "$OUT" stratum)"
}

# unfed DAEMON: a refclock without samples never makes it stratum 1.
unfed() {
	local who=$1 i
	sleep 3 # longer than the fed daemon took to reach stratum 1
	run_check --refid $CODE 127.0.0.1
	nv_expect_eq "$who: unfed exit" 1 "$RC"
	nv_expect_match "$who: unfed" ": not_stratum1 \(not synchronised, stratum (0|16), refid" "$OUT"
	nv_expect_match "$who: unfed hint" "hint: the server answers NTP but not at stratum 1" "$OUT"
}

# --- NTPsec ----------------------------------------------------------------
nv_start_ntpd ntpsec "refclock shm unit $FED refid $CODE minpoll 0 maxpoll 0
restrict default kod nomodify nopeer noquery limited"
both ntpsec
nv_stop_pid "$NTPD_PID"
nv_start_ntpd ntpsec-unfed "refclock shm unit $UNFED refid $CODE minpoll 0 maxpoll 0
restrict default kod nomodify nopeer noquery limited"
unfed ntpsec
nv_stop_pid "$NTPD_PID"

# --- chrony ----------------------------------------------------------------
nv_start_chronyd chrony "" "refclock SHM $FED refid $CODE poll 0 dpoll -2 filter 2"
both chrony
nv_stop_pid "$CHRONYD_PID"
nv_start_chronyd chrony-unfed "" "refclock SHM $UNFED refid $CODE poll 0 dpoll -2 filter 2"
unfed chrony
nv_stop_pid "$CHRONYD_PID"

# A code that is no code, or a well-known refid, is refused before sending.
run_check --refid GPS1 127.0.0.1
nv_expect_eq "well-known refid refused" 2 "$RC"
nv_expect_match "says why" "--refid: 'GPS1' is not a refid code" "$ERR"
run_check --refid k7qx 127.0.0.1
nv_expect_eq "lower case refused" 2 "$RC"
run_check --refid $CODE --token tok-3f9a1c2b7d 127.0.0.1
nv_expect_eq "--refid with --token refused" 2 "$RC"
nv_expect_match "says it is a method of its own" "--refid is a method of its own" "$ERR"
OUT=$("$NTPVERIFY" add --method refid --token tok-3f9a1c2b7d 192.0.2.1 2>&1)
nv_expect_eq "add --method refid --token refused" 2 "$?"
nv_expect_match "says the refid method generates a code" "the refid method generates a code" "$OUT"
nv_finish
