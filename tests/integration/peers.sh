# peers.sh - the real NTP daemons the tests and the demo run, taken from
# Debian's packages without installing them (sourced, bash, after lib.sh).
#
#     nv_peer_fetch NAME BIN PKG...   make sure the packages PKG... are
#                          unpacked under $NV_CACHE_DIR/NAME/root (download
#                          them with `apt-get download` on first use) and
#                          that BIN (a path inside that root) runs; prints
#                          the absolute path of BIN. Needs the network on
#                          first use: call it outside the test's namespace.
#     nv_peer_path NAME BIN   the same path, without fetching (inside the
#                          namespace); empty when it is not there
#
# Installing ntpsec or chrony as packages would make them the machine's
# time service (each conflicts with systemd-timesyncd and with the other,
# and the package enables its unit): the tests must leave the host's time
# daemon as they found it. So the .deb is fetched from the host's apt
# sources and unpacked with `dpkg -x`; its shared libraries are ordinary
# packages (scripts/deps.sh installs them). The cache lives in the build
# folder: NV_CACHE_DIR, which CTest sets to BUILD/peers; by hand it
# defaults to build/peers in this checkout.

nv_peer_cache() {
	if [ -n "${NV_CACHE_DIR:-}" ]; then
		printf '%s\n' "$NV_CACHE_DIR"
	else
		printf '%s/build/peers\n' "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
	fi
}

nv_peer_path() { # NAME BIN
	local p
	p="$(nv_peer_cache)/$1/root/$2"
	[ -x "$p" ] && printf '%s\n' "$p"
}

# Download PKG... into DIR and unpack them into DIR/root; false on failure.
nv_peer_unpack() { # DIR PKG...
	local dir=$1 tmp deb
	shift
	tmp=$(mktemp -d "$dir/.fetch.XXXXXX") || return 1
	chmod 755 "$tmp" # _apt downloads as itself
	# A fresh machine may have no package lists yet: update once.
	if ! (cd "$tmp" && apt-get -q download "$@") >"$tmp/apt.log" 2>&1 &&
	   ! { apt-get -q update && (cd "$tmp" && apt-get -q download "$@"); } >>"$tmp/apt.log" 2>&1; then
		tail -n 5 "$tmp/apt.log" >&2
		rm -rf "$tmp"
		return 1
	fi
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$tmp/root" || { rm -rf "$tmp"; return 1; }
		basename "$deb" >>"$tmp/root/PACKAGES"
	done
	rm -rf "$dir/root"
	mv "$tmp/root" "$dir/root"
	rm -rf "$tmp"
}

nv_peer_fetch() { # NAME BIN PKG...
	local name=$1 bin=$2 dir lock
	shift 2
	dir="$(nv_peer_cache)/$name"
	if [ ! -x "$dir/root/$bin" ]; then
		command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
			{ nv_log "no $name: apt-get or dpkg missing"; return 1; }
		mkdir -p "$dir" || return 1
		# Tests run in parallel: one download, the others wait for it.
		exec {lock}>"$dir/.lock"
		flock "$lock"
		if [ ! -x "$dir/root/$bin" ]; then
			nv_log "fetching $* into $dir (apt-get download, dpkg -x)"
			nv_peer_unpack "$dir" "$@" || nv_log "fetching $name failed"
		fi
		flock -u "$lock"
		exec {lock}>&-
	fi
	[ -x "$dir/root/$bin" ] || return 1
	printf '%s\n' "$dir/root/$bin"
}

# NTPsec: ntpd, and ntpq (Python, from python3-ntp, whose ctypes loader
# looks for libntpc.so beside its own files first). ntpq is run through a
# small wrapper, $NV_CACHE_DIR/ntpsec/ntpq, that points Python at the
# unpacked modules, so `timeout 5 "$(nv_ntpq_path)" ...` works.
nv_ntpsec_fetch() {
	local ntpd root lib
	ntpd=$(nv_peer_fetch ntpsec usr/sbin/ntpd ntpsec python3-ntp) || return 1
	root="$(nv_peer_cache)/ntpsec/root"
	lib=$(ls "$root"/usr/lib/*/ntp/libntpc.so.* 2>/dev/null | head -n1)
	if [ -n "$lib" ] && [ ! -e "$root/usr/lib/python3/dist-packages/ntp/libntpc.so" ]; then
		ln -s "$lib" "$root/usr/lib/python3/dist-packages/ntp/libntpc.so"
	fi
	if [ ! -x "$root/../ntpq" ]; then
		printf '#!/bin/sh\nPYTHONPATH="%s" exec python3 "%s" "$@"\n' \
			"$root/usr/lib/python3/dist-packages" "$root/usr/bin/ntpq" >"$root/../ntpq"
		chmod 755 "$root/../ntpq"
	fi
	printf '%s\n' "$ntpd"
}

# The unpacked ntpq's wrapper (after nv_ntpsec_fetch); empty when missing.
nv_ntpq_path() {
	local p
	p="$(nv_peer_cache)/ntpsec/ntpq"
	[ -x "$p" ] && printf '%s\n' "$p"
}

# Prometheus's server and promtool, from Debian's prometheus package. Not
# installed either: the package enables and starts prometheus.service,
# and the tests leave no service behind on the host.
nv_prometheus_fetch() { nv_peer_fetch prometheus usr/bin/prometheus prometheus; }
nv_promtool_path() { nv_peer_path prometheus usr/bin/promtool; }
