#!/bin/bash
# deps.sh - install what building and testing ntpverify needs (Debian 12),
# only what is missing. Sourced or run by demo.sh and test.sh, as root.
#
# No NTP daemon is installed: ntpsec or chrony as a package would become
# the machine's time service (each conflicts with systemd-timesyncd and
# with the other, and its unit is enabled). The tests and the demo unpack
# them from their .deb files into the build folder instead
# (tests/integration/peers.sh); only their shared libraries and Python are
# installed here. PostgreSQL is installed without starting its system
# service: the tests run their own private clusters.
set -euo pipefail

NV_PACKAGES=(
	build-essential cmake pkg-config git
	libevent-dev libpq-dev libconfuse-dev libcmocka-dev libssl-dev
	libbsd0 libcap2 libssl3 python3 postgresql-15 postgresql-client-15
	iproute2 util-linux procps
	clang libclang-rt-14-dev
	curl python3-prometheus-client
	systemd groff-base man-db
	debhelper dpkg-dev lintian file binutils
)

missing=()
for p in "${NV_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps.sh: installing ${missing[*]}" >&2
	policy=/usr/sbin/policy-rc.d
	added_policy=
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	rc=0
	{ apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || rc=$?
	[ -n "$added_policy" ] && rm -f "$policy"
	if [ "$rc" -ne 0 ]; then
		echo "deps.sh: apt-get failed ($rc)" >&2
		exit "$rc"
	fi
fi
