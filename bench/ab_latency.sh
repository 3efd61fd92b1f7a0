#!/bin/bash
# bench/ab_latency.sh - two builds side by side, interleaved: one private
# PostgreSQL, then old and new daemon in turn, three times each, 40 single
# rows inserted while idle (bench/pgclient latency): INSERT-to-verified p50
# as the client and the database see it.
#
#     sudo bench/ab_latency.sh OLD-ntpverify NEW-ntpverify
#
# The newer binary migrates the database; the bench tools come from this
# checkout's build/bench (bench/run.sh builds them).
set -u
if [ -z "${IN:-}" ]; then export IN=1; exec unshare --net -- bash "$0" "$@"; fi
ip link set lo up
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NV_TEST_NAME=ablat
. $ROOT/tests/integration/lib.sh
. $ROOT/tests/integration/pg.sh
NV_TMP=$(mktemp -d /tmp/ntpverify-ablat.XXXXXX); chmod 755 $NV_TMP
trap nv_cleanup EXIT
A=${1:?usage: $0 OLD-ntpverify NEW-ntpverify [TREE]}
B=${2:?usage: $0 OLD-ntpverify NEW-ntpverify [TREE]}
TOKEN=tok-3f9a1c2b7d4e5f60
for i in $(seq 1 300); do echo "127.10.$((i/250)).$((i%250+1))"; done > $NV_TMP/t
$ROOT/build/bench/bench/responder -t $TOKEN -V ntppool_verify -j 1 -d 1500 > $NV_TMP/resp.out 2>&1 &
NV_PIDS+=($!)
nv_start_pg
cat > $NV_TMP/d.conf <<CONF
prober_name = "bench"
database = "$NV_PG_CONNINFO"
source_addresses = { "127.0.0.2" }
allow_private_targets = true
status_socket = "$NV_TMP/daemon.sock"
probe { timeout = 1s  retransmit = 1s  max_in_flight = 1024 }
rate_limit { global_pps = 100000  global_burst = 10000
             per_destination_interval = 1s  per_destination_daily_packets = 100000 }
queue { lease_batch = 1000  poll_interval = 100ms  max_unwritten = 200000 }
CONF
$B migrate --config $NV_TMP/d.conf >/dev/null
# One confirmation per row, as bench/run.sh does, so that schemas with and
# without the corroboration policy measure the same single probe.
nv_psql -c "UPDATE verification_policy SET confirmations = 1" >/dev/null 2>&1 || true
nv_psql -c "CREATE TABLE bench_target (n serial PRIMARY KEY, ip inet NOT NULL)" >/dev/null
nv_psql -c "\\copy bench_target (ip) FROM '$NV_TMP/t'" >/dev/null
for r in 1 2 3; do for x in A B; do
	bin=${!x}
	$bin run --config $NV_TMP/d.conf > $NV_TMP/d.log 2>&1 &
	p=$!
	sleep 1.5
	line=$($ROOT/build/bench/bench/pgclient latency "$NV_PG_CONNINFO" 40 "$TOKEN" 20)
	echo "$x $r $(echo $line | grep -o 'client_p50_ms=[0-9.]*\|db_p50_ms=[0-9.]*\|db_p90_ms=[0-9.]*' | tr '\n' ' ')"
	kill $p; wait $p
	nv_psql -c "DELETE FROM probe_attempt; DELETE FROM verification" >/dev/null
	sleep 1.2
done; done
