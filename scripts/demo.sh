#!/bin/bash
# demo.sh - the README's first command: build ntpverify and show what it
# does against a real NTPsec ntpd, in a private network namespace (nothing
# leaves this machine, the machine's clock is never touched).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ -z "${NV_DEMO_INNER:-}" ]; then
	bash scripts/deps.sh
	echo "== building" >&2
	cmake -S "$top" -B build/demo -DNTPVERIFY_TESTS=OFF >/dev/null
	cmake --build build/demo -j "$(nproc)" >/dev/null
	export NV_DEMO_INNER=1
	exec unshare --net -- bash "$0" "$@"
fi

# Inside our own network namespace from here on.
ip link set lo up
tmp=$(mktemp -d /tmp/ntpverify-demo.XXXXXX)
ntpd_pid=
cleanup() {
	[ -n "$ntpd_pid" ] && kill "$ntpd_pid" 2>/dev/null && wait "$ntpd_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

nv="$top/build/demo/prober/ntpverify"
token="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
prober=127.0.0.2

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "an operator's ntp.conf: the two lines from the pool's web site"
cat >"$tmp/ntp.conf" <<CONF
# the usual public-server defaults: no mode 6 queries for strangers
restrict default kod nomodify nopeer noquery limited
# the two lines the pool asks for
setvar ntppool_verify = "$token"
restrict $prober
# demo only: keep this ntpd away from the machine's clock
disable ntp
disable kernel
CONF
sed 's/^/    /' "$tmp/ntp.conf"

say "starting NTPsec's ntpd (no CAP_SYS_TIME) in a private network namespace"
setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
	ntpd -n -c "$tmp/ntp.conf" -l "$tmp/ntpd.log" &
ntpd_pid=$!
for _ in $(seq 1 100); do
	grep -q 'Listen normally on .* 127.0.0.1:123' "$tmp/ntpd.log" && break
	sleep 0.1
done
sleep 0.3

run() { printf '$ %s\n' "$*"; "$@" || true; }

say "the prober checks from its published address $prober: verified"
run "$nv" check --allow-private --source $prober --token "$token" 127.0.0.1

say "the same as JSON, for scripts"
run "$nv" check --allow-private --source $prober --token "$token" --json 127.0.0.1

say "someone else's token: token_mismatch"
run "$nv" check --allow-private --source $prober --token not-the-right-token 127.0.0.1

say "from an address the operator did not allow (noquery): mode6_silent"
run "$nv" check --allow-private --source 127.0.0.3 --token "$token" 127.0.0.1

say "reading the variable without a token (like ntpq -c 'rv 0 ntppool_verify')"
run "$nv" check --allow-private --source $prober 127.0.0.1

say "a private address without --allow-private: refused_by_policy, no packet sent"
run "$nv" check --token "$token" 127.0.0.1

say "done"
