#!/bin/bash
# bench/ab_quorum.sh - two builds side by side on the two-perspective
# round of bench/run.sh (10,000 rows, quorum 2, one confirmation), its
# rounds interleaved A B B A A B ... so that both builds meet the machine
# in the same state. Each build has its own database in one private
# PostgreSQL, migrated by that build (each binary carries its schema), and
# its own two daemons (perspectives fra1 and nyc1, sources 127.0.0.2 and
# .3); the idle pair only polls. Prints one line per round (INSERT time,
# seconds, verified per second, PostgreSQL CPU of the whole cluster), then
# each build's median and the median of the pairs' ratios B/A.
#
#     sudo bench/ab_quorum.sh OLD-ntpverify NEW-ntpverify [ROUNDS]   # 10
#
# Build both trees first with bench/run.sh --src TREE (it builds
# build/bench/ in each); the bench tools (responder, pgclient) come from
# this checkout's build/bench. Runs in a private network namespace. On a
# shared 2-core VM two rounds taken seconds apart differ by up to a
# third (bench/results.md): read the ratio's median over ten or more
# pairs, never one round.
set -u
if [ -z "${IN:-}" ]; then export IN=1; exec unshare --net -- bash "$0" "$@"; fi
ip link set lo up
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NV_TEST_NAME=abquorum
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pg.sh"
NV_TMP=$(mktemp -d /tmp/ntpverify-abq.XXXXXX)
chmod 755 "$NV_TMP"
trap 'nv_pg_fast_stop_request; nv_cleanup' EXIT
A=${1:?usage: $0 OLD-ntpverify NEW-ntpverify [ROUNDS]}
B=${2:?usage: $0 OLD-ntpverify NEW-ntpverify [ROUNDS]}
ROUNDS=${3:-10}
TOOLS=$ROOT/build/bench/bench
TOKEN=tok-3f9a1c2b7d4e5f60
for t in "$A" "$B" "$TOOLS/responder" "$TOOLS/pgclient"; do
	[ -x "$t" ] || { echo "ab_quorum: $t missing (build with bench/run.sh)" >&2; exit 2; }
done

awk -v n=10000 'BEGIN { a = 10 * 65536; i = 0
	while (i < n) { o = a % 256
		if (o != 0 && o != 255) { printf "127.%d.%d.%d\n", int(a / 65536) % 256, int(a / 256) % 256, o; i++ }
		a++ } }' >"$NV_TMP/targets"
"$TOOLS/responder" -t "$TOKEN" -V ntppool_verify -j 1 -d 1500 >"$NV_TMP/responder.out" 2>&1 &
NV_PIDS+=("$!")
nv_wait_for 5 "grep -q ready '$NV_TMP/responder.out'" || { echo "ab_quorum: responder did not start" >&2; exit 1; }
nv_start_pg

declare -A CONNINFO
for x in A B; do
	bin=${!x}
	nv_pg_createdb "db$x"
	CONNINFO[$x]="host=$NV_PG_SOCK user=postgres dbname=db$x"
	for d in 1 2; do
		if [ "$d" = 1 ]; then p=fra1 r=RIPE; else p=nyc1 r=ARIN; fi
		cat >"$NV_TMP/$x$d.conf" <<CONF
prober_name = "$x$d"
perspective = "$p"
region = "$r"
database = "${CONNINFO[$x]}"
source_addresses = { "127.0.0.$((d + 1))" }
allow_private_targets = true
status_socket = "$NV_TMP/$x$d.sock"
probe { timeout = 1s  retransmit = 1s  max_in_flight = 1024 }
rate_limit { global_pps = 100000  global_burst = 10000
             per_destination_interval = 1s  per_destination_daily_packets = 100000 }
queue { lease_batch = 1000  poll_interval = 100ms  max_unwritten = 200000 }
CONF
	done
	"$bin" migrate --config "$NV_TMP/${x}1.conf" >"$NV_TMP/migrate-$x.log" 2>&1 ||
		{ cat "$NV_TMP/migrate-$x.log" >&2; echo "ab_quorum: $x: migrate failed" >&2; exit 1; }
	"$bin" policy --config "$NV_TMP/${x}1.conf" --set quorum=2 --set min_regions=2 \
		--set confirmations=1 --set confirmation_gap=1s >/dev/null ||
		{ echo "ab_quorum: $x: policy refused" >&2; exit 1; }
	"$NV_PG_BINDIR/psql" -q -X -v ON_ERROR_STOP=1 -d "${CONNINFO[$x]}" \
		-c "CREATE TABLE bench_target (n serial PRIMARY KEY, ip inet NOT NULL)" \
		-c "\\copy bench_target (ip) FROM '$NV_TMP/targets'" >/dev/null ||
		{ echo "ab_quorum: $x: cannot load the targets" >&2; exit 1; }
	for d in 1 2; do
		"$bin" run --config "$NV_TMP/$x$d.conf" >"$NV_TMP/$x$d.log" 2>&1 &
		NV_PIDS+=("$!")
		nv_wait_for 10 "grep -q 'database: connected' '$NV_TMP/$x$d.log'" ||
			{ cat "$NV_TMP/$x$d.log" >&2; exit 1; }
	done
done
sleep 1

# The cluster's CPU so far, in clock ticks: every process of it alive
# now, plus what the postmaster reaped (sessions that ended, autovacuum
# workers). A process that ended between two readings but was not reaped
# yet drops out of both sums: such a round prints n/a.
pg_ticks() {
	local p f=("/proc/$NV_PG_PID/stat")
	for p in $(pgrep -P "$NV_PG_PID"); do f+=("/proc/$p/stat"); done
	awk -v pm="/proc/$NV_PG_PID/stat" '{s += $14 + $15; if (FILENAME == pm) s += $16 + $17}
		END {print s + 0}' "${f[@]}" 2>/dev/null
}
TCK=$(getconf CLK_TCK)
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
declare -A RATE
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
	for x in $order; do
		c0=$(pg_ticks)
		line=$("$TOOLS/pgclient" throughput "${CONNINFO[$x]}" 10000 "$TOKEN" 120 2>/dev/null) ||
			{ echo "ab_quorum: $x round $r: $line" >&2; exit 1; }
		c1=$(pg_ticks)
		rate=$(sed -n 's/.* per_s=\([0-9]*\) .*/\1/p' <<<"$line")
		RATE[$x$r]=$rate
		echo "$x round=$r $(grep -o 'insert_ms=[0-9.]* seconds=[0-9.]*' <<<"$line") per_s=$rate postgres_cpu_s=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" 'BEGIN {if (b < a) print "n/a"; else printf "%.2f", (b - a) / t}')"
		# The per-destination interval (1 s) passes before the same
		# addresses are probed again.
		sleep 1.5
	done
done
for x in A B; do
	echo "$x median per_s=$(for r in $(seq 1 "$ROUNDS"); do echo "${RATE[$x$r]}"; done | median)"
done
echo "B/A median of the $ROUNDS pairs' ratios: $(for r in $(seq 1 "$ROUNDS"); do
	awk -v a="${RATE[A$r]}" -v b="${RATE[B$r]}" 'BEGIN {printf "%.3f\n", b / a}'; done | median)"
