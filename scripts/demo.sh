#!/bin/bash
# demo.sh - the README's first command: build ntpverify and run the whole
# job end to end, the way the pool runs it:
#
#   a private PostgreSQL cluster (unix socket in a temporary folder), two
#   prober daemons in two perspectives (two source addresses, two
#   regions) with a quorum of 2, `ntpverify add` for a server, the
#   operator's ntp.conf lines in a real NTPsec ntpd, and the verification
#   going 0/2 -> 1/2 -> verified, with both corroborations and the attempt
#   history.
#
# Everything runs in a network namespace of its own (nothing leaves this
# machine; ntpd runs without CAP_SYS_TIME, the clock is never touched) and
# is cleaned up at the end. Debian 12, as root.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ -z "${NV_DEMO_INNER:-}" ]; then
	bash scripts/deps.sh
	echo "== building (build/demo)" >&2
	cmake -S "$top" -B build/demo -DBUILD_TESTING=OFF >/dev/null
	cmake --build build/demo -j "$(nproc)" >/dev/null
	# NTPsec from its .deb, unpacked into build/peers, never installed
	# (tests/integration/peers.sh): needs the network, so before unshare.
	export NV_CACHE_DIR="$top/build/peers"
	NV_TEST_NAME=demo
	. tests/integration/lib.sh
	NV_NTPD=$(nv_ntpsec_fetch) || { echo "demo: cannot unpack NTPsec's ntpd" >&2; exit 1; }
	export NV_NTPD NV_DEMO_INNER=1
	exec unshare --net -- bash "$0" "$@"
fi

# Inside our own network namespace from here on. The PostgreSQL helpers
# are the ones the integration tests use.
set +e
ip link set lo up
NV_TEST_NAME=demo
. tests/integration/lib.sh
. tests/integration/pg.sh
NV_TMP=$(mktemp -d /tmp/ntpverify-demo.XXXXXX)
chmod 755 "$NV_TMP"
trap 'nv_pg_fast_stop_request; nv_cleanup' EXIT

nv="$top/build/demo/prober/cli/ntpverify"
prober=127.0.0.2   # perspective fra1, region RIPE
prober2=127.0.0.3  # perspective nyc1, region ARIN
server=127.0.0.1
bold='' plain=''
if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "a private PostgreSQL 15 cluster, and the schema"
nv_start_pg
# conf NAME PERSPECTIVE REGION SOURCE: one prober's configuration.
conf() {
	cat >"$NV_TMP/$1.conf" <<CONF
prober_name = "$1"
perspective = "$2"                 # the site this prober probes from
region = "$3"
database = "$NV_PG_CONNINFO"
source_addresses = { "$4" }   # the published prober address
allow_private_targets = true       # demo only: the server is on loopback
status_socket = "$NV_TMP/$1.sock"
probe { timeout = 2s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 5s, 30s, 5m } }
CONF
}
conf fra1-a fra1 RIPE "$prober"
conf nyc1-a nyc1 ARIN "$prober2"
cp "$NV_TMP/fra1-a.conf" "$NV_TMP/ntpverify.conf"   # the admin's, here
run "$nv" check-config "$NV_TMP/fra1-a.conf"
run "$nv" migrate --config "$NV_TMP/ntpverify.conf"
echo "(migrations are numbered in the order they were written; 004 was never used)"

say "the policy: two perspectives in two regions must agree"
run "$nv" policy --config "$NV_TMP/ntpverify.conf" --set quorum=2 --set min_regions=2

# start NAME: run one prober daemon, logging to $NV_TMP/NAME.log.
start() {
	"$nv" run --config "$NV_TMP/$1.conf" >>"$NV_TMP/$1.log" 2>&1 &
	eval "pid_${1//[-.]/_}=$!"
	NV_PIDS+=("$!")
	for _ in $(seq 1 100); do
		grep -q 'database: connected' "$NV_TMP/$1.log" && break
		sleep 0.1
	done
}
say "two prober daemons (ntpverify run): fra1 from $prober, nyc1 from $prober2"
start fra1-a
start nyc1-a
sed 's/^/    /' "$NV_TMP/fra1-a.log"

say "an admin adds the operator's server; the operator gets these lines"
run "$nv" add --config "$NV_TMP/ntpverify.conf" "$server" | tee "$NV_TMP/add.out"
id=$("$nv" list --config "$NV_TMP/ntpverify.conf" --state pending --json |
	python3 -c 'import json, sys; print([r["id"] for r in map(json.loads, sys.stdin) if r["server"] == sys.argv[1]][0])' "$server")
setvar=$(grep '^setvar ' "$NV_TMP/add.out")
if [ -z "$id" ] || [ -z "$setvar" ]; then
	echo "demo: could not read the id or the setvar line from 'ntpverify add'" >&2
	exit 1
fi

say "both perspectives probe at once (NOTIFY), but ntpd is not running yet: 0/2"
sleep 2.5
run "$nv" list --config "$NV_TMP/ntpverify.conf"

say "nyc1 goes down for a moment (maintenance)"
kill -TERM "$pid_nyc1_a"
wait "$pid_nyc1_a"
echo "nyc1's prober stopped (SIGTERM): only fra1 probes now"

say "the operator adds the lines to ntp.conf and (re)starts NTPsec's ntpd"
cat >"$NV_TMP/ntp.conf" <<CONF
# the usual public-server default: no mode 6 queries for strangers
restrict default kod nomodify nopeer noquery limited
# the lines from the pool's web site
$setvar
restrict $prober
restrict $prober2
# demo only: keep this ntpd away from the machine's clock
disable ntp
disable kernel
CONF
sed 's/^/    /' "$NV_TMP/ntp.conf"
setpriv --bounding-set=-sys_time --inh-caps=-sys_time \
	"$NV_NTPD" -n -c "$NV_TMP/ntp.conf" -l "$NV_TMP/ntpd.log" >>"$NV_TMP/ntpd.log" 2>&1 &
NV_PIDS+=("$!")
for _ in $(seq 1 100); do
	grep -q "Listen normally on .* $server:123" "$NV_TMP/ntpd.log" && break
	sleep 0.1
done

say "what the prober sees now, one-shot"
token=$(sed -n 's/^setvar ntppool_verify = "\(.*\)"$/\1/p' <<<"$setvar")
run "$nv" check --allow-private --source "$prober" --token "$token" 127.0.0.1

say "the operator clicks 'retry' on the web site (here: ntpverify retry)"
run "$nv" retry --config "$NV_TMP/ntpverify.conf" "$id"
# fra1 needs two confirmations, confirmation_gap (2 s) apart.
for _ in $(seq 1 100); do
	[ "$(nv_psql -c "SELECT corroborating FROM verification_progress WHERE verification_id = $id")" = 1 ] && break
	sleep 0.1
done
say "fra1 corroborates: 1/2, still pending (one perspective is not enough)"
run "$nv" list --config "$NV_TMP/ntpverify.conf"

say "nyc1 comes back and probes too"
start nyc1-a
state=pending
for _ in $(seq 1 100); do
	state=$(nv_psql -c "SELECT state FROM verification WHERE id = $id")
	[ "$state" = verified ] && break
	sleep 0.1
done
echo "verification $id is now: $state"

say "the list, and what an admin reads: both corroborations, every attempt"
run "$nv" list --config "$NV_TMP/ntpverify.conf"
run "$nv" show --config "$NV_TMP/ntpverify.conf" "$id"

say "the daemon's status socket"
run "$nv" status --socket "$NV_TMP/fra1-a.sock"

say "the daemons' logs (one line per state change, never the token)"
kill -TERM "$pid_fra1_a" "$pid_nyc1_a"
wait "$pid_fra1_a" "$pid_nyc1_a"
for d in fra1-a nyc1-a; do
	echo "  $d:"
	sed 's/^/    /' "$NV_TMP/$d.log"
done

if [ "$state" = verified ]; then
	say "done: verified"
	exit 0
fi
say "demo FAILED: the verification is $state"
exit 1
