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
# Debian's chrony and ntpsec packages conflict, so chrony is never
# installed: `apt-get download chrony` fetches the .deb (from the host's
# configured apt sources) and `dpkg -x` unpacks it under
# $NV_CACHE_DIR/chrony (default /var/cache/ntpverify-test/chrony), where
# later runs and other build directories reuse it. Its shared libraries
# (nettle, gnutls, libcap, libseccomp) are already on a Debian system.
# When chronyd cannot be had, nv_skip: a skip locally, a failure under
# CI=true.

NV_CHRONYD=${NV_CHRONYD:-}

nv_chrony_cache_dir() {
	local base=${NV_CACHE_DIR:-}
	if [ -z "$base" ]; then
		if [ "$(id -u)" = 0 ]; then
			base=/var/cache/ntpverify-test
		else
			base=${XDG_CACHE_HOME:-$HOME/.cache}/ntpverify-test
		fi
	fi
	printf '%s/chrony\n' "$base"
}

# The cached binary works (its libraries are present).
nv_chrony_usable() {
	[ -x "$1" ] && "$1" -v >/dev/null 2>&1
}

nv_chrony_prepare() {
	local dir bin tmp deb
	if [ -n "${NV_IN_NETNS:-}" ]; then
		# Re-executed inside the namespace: the outer run prepared it.
		nv_chrony_usable "$NV_CHRONYD" || nv_skip "chronyd not prepared (call nv_chrony_prepare before nv_enter_netns)"
		return 0
	fi
	if [ -n "$NV_CHRONYD" ]; then
		# Given by the caller (e.g. a chronyd built from source).
		nv_chrony_usable "$NV_CHRONYD" || nv_skip "NV_CHRONYD=$NV_CHRONYD does not run"
		export NV_CHRONYD
		return 0
	fi
	dir=$(nv_chrony_cache_dir)
	bin="$dir/root/usr/sbin/chronyd"
	if ! nv_chrony_usable "$bin"; then
		command -v apt-get >/dev/null || nv_skip "no chronyd: apt-get missing"
		command -v dpkg >/dev/null || nv_skip "no chronyd: dpkg missing"
		command -v flock >/dev/null || nv_skip "no chronyd: flock(1) missing"
		mkdir -p "$dir" || nv_skip "cannot create $dir"
		# Tests run in parallel: one download, the others wait for it.
		exec {NV_CHRONY_LOCK}>"$dir/.lock"
		flock "$NV_CHRONY_LOCK"
		if ! nv_chrony_usable "$bin"; then
			nv_log "fetching chrony into $dir (apt-get download chrony)"
			tmp=$(mktemp -d "$dir/.fetch.XXXXXX")
			# _apt cannot write into a root-only directory: let it.
			chmod 755 "$tmp"
			# A fresh machine may have no package lists yet: update once.
			if ! (cd "$tmp" && apt-get -q download chrony) >"$tmp/apt.log" 2>&1 &&
			   ! { apt-get -q update && (cd "$tmp" && apt-get -q download chrony); } >>"$tmp/apt.log" 2>&1; then
				tail -n 5 "$tmp/apt.log" >&2
				rm -rf "$tmp"
				flock -u "$NV_CHRONY_LOCK"
				nv_skip "apt-get download chrony failed (apt-get update first?)"
			fi
			deb=$(ls "$tmp"/chrony_*.deb 2>/dev/null | head -n1)
			if [ -z "$deb" ] || ! dpkg -x "$deb" "$tmp/root"; then
				rm -rf "$tmp"
				flock -u "$NV_CHRONY_LOCK"
				nv_skip "cannot unpack the chrony package"
			fi
			basename "$deb" >"$tmp/root/PACKAGE"
			rm -rf "$dir/root"
			mv "$tmp/root" "$dir/root"
			rm -rf "$tmp"
		fi
		flock -u "$NV_CHRONY_LOCK"
		exec {NV_CHRONY_LOCK}>&-
		nv_chrony_usable "$bin" || nv_skip "the unpacked chronyd does not run (missing libraries?): $(ldd "$bin" 2>&1 | grep 'not found' | tr '\n' ' ')"
	fi
	NV_CHRONYD=$bin
	export NV_CHRONYD
	nv_log "using $("$NV_CHRONYD" -v 2>&1 | head -n1) from $(cat "$dir/root/PACKAGE" 2>/dev/null || echo "$dir")"
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
