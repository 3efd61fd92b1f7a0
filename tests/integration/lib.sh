# lib.sh - shared helpers for integration tests (sourced, bash).
#
# Every test runs inside a network namespace of its own (nv_enter_netns
# re-executes the script under `unshare -n`), so ntpd's port 123 is private
# to the test and no packet leaves the machine. Processes are ended by pid,
# only those the test started.

set -u
NV_TMP=""
NV_PIDS=()
NV_FAILS=0
NV_PASSES=0

nv_log() { printf '%s: %s\n' "${NV_TEST_NAME:-test}" "$*" >&2; }

. "$(dirname "${BASH_SOURCE[0]}")/peers.sh"

# Cannot run here: skip locally, fail under CI.
nv_skip() {
	nv_log "cannot run: $*"
	if [ "${CI:-}" = "true" ]; then
		nv_log "CI=true: an integration test that cannot run is a failure"
		exit 1
	fi
	exit 77
}

nv_cleanup() {
	local pid
	for pid in "${NV_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${NV_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	NV_PIDS=()
	if [ -n "$NV_TMP" ] && [ -z "${NV_KEEP_TMP:-}" ]; then
		rm -rf "$NV_TMP"
	fi
}

# Re-run the calling script in a fresh network namespace with lo up.
nv_enter_netns() {
	if [ -z "${NV_IN_NETNS:-}" ]; then
		command -v unshare >/dev/null || nv_skip "unshare(1) missing"
		[ "$(id -u)" = 0 ] || nv_skip "needs root for network namespaces"
		export NV_IN_NETNS=1
		exec unshare --net -- bash "$0" "$@"
	fi
	ip link set lo up || nv_skip "cannot bring up lo in the namespace"
	NV_TMP=$(mktemp -d /tmp/ntpverify-test.XXXXXX)
	chmod 755 "$NV_TMP"
	trap nv_cleanup EXIT
}

# NTPsec's ntpd, unpacked from the Debian package into the build folder by
# the `peers_prepare` test (peers.sh), never installed. Sets NV_NTPD.
nv_require_ntpd() {
	command -v setpriv >/dev/null || nv_skip "setpriv(1) missing"
	if [ -z "${NV_NTPD:-}" ]; then
		if [ -z "${NV_IN_NETNS:-}" ]; then
			NV_NTPD=$(nv_ntpsec_fetch) || NV_NTPD=""
		else
			NV_NTPD=$(nv_peer_path ntpsec usr/sbin/ntpd) || NV_NTPD=""
		fi
	fi
	[ -n "$NV_NTPD" ] || nv_skip "NTPsec ntpd is not unpacked in $(nv_peer_cache)/ntpsec (run the peers_prepare test first, or tests/integration/peers_prepare.sh)"
	"$NV_NTPD" --version 2>/dev/null | grep -q ntpsec || nv_skip "$NV_NTPD does not run or is not NTPsec"
	export NV_NTPD
}

# nv_start_ntpd NAME CONFIG_BODY: start NTPsec's ntpd in this namespace
# without CAP_SYS_TIME (the kernel clock is shared with the host) and wait
# until it listens. Sets NTPD_PID.
nv_start_ntpd() {
	local name=$1 body=$2 conf="$NV_TMP/$1.conf" log="$NV_TMP/$1.log" i
	{
		printf '%s\n' "$body"
		printf 'disable ntp\ndisable kernel\n'
	} >"$conf"
	: >"$log"
	setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
		"$NV_NTPD" -n -c "$conf" -l "$log" >>"$log" 2>&1 &
	NTPD_PID=$!
	NV_PIDS+=("$NTPD_PID")
	for i in $(seq 1 100); do
		if grep -q 'Listen normally on .* 127.0.0.1:123' "$log"; then
			sleep 0.2
			return 0
		fi
		kill -0 "$NTPD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log" >&2
	nv_log "ntpd did not start"
	exit 1
}

# nv_start_ntpd_servers PREFIX N CONFIG_BODY: N "servers" on one ntpd:
# add PREFIX.1 .. PREFIX.N to lo, start ntpd as nv_start_ntpd does and wait
# (at most 10 s) until it listens on the last of them.
nv_start_ntpd_servers() {
	local prefix=$1 n=$2 body=$3 i
	for i in $(seq 1 "$n"); do
		echo "addr add $prefix.$i/32 dev lo"
	done | ip -batch - || { nv_log "cannot add $prefix.1-$n to lo"; exit 1; }
	nv_start_ntpd ntpd "$body"
	nv_wait_for 10 "grep -q '$prefix.$n:123' '$NV_TMP/ntpd.log'" ||
		{ nv_log "ntpd does not listen on all addresses"; exit 1; }
}

# nv_wait_for SECONDS COMMAND: poll COMMAND every 0.1 s; false on timeout.
nv_wait_for() {
	local limit=$1 cmd=$2 i
	for i in $(seq 1 $((limit * 10))); do
		if eval "$cmd"; then return 0; fi
		sleep 0.1
	done
	return 1
}

nv_stop_pid() {
	local pid=$1 keep=() p
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${NV_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	NV_PIDS=("${keep[@]}")
}

# Assertions print what a user would see when they fail.
nv_pass() { NV_PASSES=$((NV_PASSES + 1)); nv_log "ok: $*"; }
nv_fail() { NV_FAILS=$((NV_FAILS + 1)); nv_log "FAIL: $*"; }

nv_expect_eq() { # what expected actual
	if [ "$2" = "$3" ]; then nv_pass "$1 = $3"; else nv_fail "$1: expected '$2', got '$3'"; fi
}

# nv_run ARGS...: "$NTPVERIFY" ARGS; sets OUT (stdout), ERR (stderr), RC.
nv_run() {
	OUT=$("$NTPVERIFY" "$@" 2>"$NV_TMP/stderr")
	RC=$?
	ERR=$(cat "$NV_TMP/stderr")
}

nv_expect_match() { # what regex actual
	if [[ "$3" =~ $2 ]]; then nv_pass "$1"; else nv_fail "$1: '$3' does not match /$2/"; fi
}

nv_expect_no_match() { # what regex actual
	if [[ "$3" =~ $2 ]]; then nv_fail "$1: '$3' matches /$2/"; else nv_pass "$1"; fi
}

# JSON field extraction without jq: the outputs are flat, one line.
nv_json_field() { # json key -> raw value text
	printf '%s' "$1" | sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | head -n1
}

nv_finish() {
	nv_log "$NV_PASSES passed, $NV_FAILS failed"
	[ "$NV_FAILS" -eq 0 ]
}
