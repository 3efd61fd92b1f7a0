# chrony.sh - chrony's chronyd for integration tests (sourced, bash, after
# lib.sh).
#
#     nv_chrony_prepare      BEFORE nv_enter_netns (the namespace has no
#                            network): make sure chronyd is unpacked in the
#                            cache, downloading it on first use; exports
#                            NV_CHRONYD (set it beforehand to use another
#                            chronyd)
#     nv_start_chronyd NAME KEYFILE_BODY [EXTRA_CONF]
#                            start it in the test's namespace without
#                            CAP_SYS_TIME, serving NTP on port 123 with the
#                            given keyfile; sets CHRONYD_PID (also in NV_PIDS)
#
# chrony is never installed (see peers.sh): the .deb is unpacked into the
# build folder's peer cache. When chronyd cannot be had, nv_skip: a skip
# locally, a failure under CI=true.

NV_CHRONYD=${NV_CHRONYD:-}

# The binary works (its libraries are present).
nv_chrony_usable() {
	[ -x "$1" ] && "$1" -v >/dev/null 2>&1
}

nv_chrony_prepare() {
	if [ -z "$NV_CHRONYD" ]; then
		if [ -n "${NV_IN_NETNS:-}" ]; then
			NV_CHRONYD=$(nv_peer_path chrony usr/sbin/chronyd) || NV_CHRONYD=""
		else
			NV_CHRONYD=$(nv_peer_fetch chrony usr/sbin/chronyd chrony) || NV_CHRONYD=""
		fi
	fi
	nv_chrony_usable "$NV_CHRONYD" ||
		nv_skip "chronyd not available (${NV_CHRONYD:-not unpacked in $(nv_peer_cache)/chrony}; missing libraries? run the peers_prepare test first)"
	export NV_CHRONYD
	nv_log "using $("$NV_CHRONYD" -v 2>&1 | head -n1)"
}

# nv_chronyd_listens PID: chronyd PID has its NTP socket on port 123.
nv_chronyd_listens() {
	ss -Hulnp 'sport = :123' 2>/dev/null | grep -q "pid=$1,"
}

# nv_start_chronyd NAME KEYFILE_BODY [EXTRA_CONF]: files in $NV_TMP/NAME/.
# -x: never touch the clock (and setpriv removes the right to anyway, as
# for ntpd: the kernel clock is not namespaced); -u root: no privilege
# drop, there is no _chrony user; cmdport 0: no command socket on 323.
nv_start_chronyd() {
	local name=$1 keys=$2 extra=${3:-} d="$NV_TMP/$1" i
	mkdir -p "$d"
	printf '%s\n' "$keys" >"$d/chrony.keys"
	chmod 600 "$d/chrony.keys"
	cat >"$d/chrony.conf" <<CONF
keyfile $d/chrony.keys
allow all
port 123
cmdport 0
driftfile $d/drift
pidfile $d/chronyd.pid
$extra
CONF
	: >"$d/chronyd.log"
	setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
		"$NV_CHRONYD" -x -d -u root -f "$d/chrony.conf" >>"$d/chronyd.log" 2>&1 &
	CHRONYD_PID=$!
	NV_PIDS+=("$CHRONYD_PID")
	for i in $(seq 1 100); do
		if nv_chronyd_listens "$CHRONYD_PID"; then
			sleep 0.1
			return 0
		fi
		kill -0 "$CHRONYD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$d/chronyd.log" >&2
	nv_log "chronyd did not start"
	exit 1
}
