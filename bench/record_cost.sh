#!/bin/bash
# record_cost.sh - what PostgreSQL executes for one two-perspective round
# of the database side (bench/record_bench.sh's workload: quorum 2, one
# confirmation, one INSERT of ROWS rows, then per perspective LEASEs of
# BATCH rows and one ntpverify_record() WRITE of BATCH `verified` results
# each, the perspectives alternating), counted in machine instructions by
# valgrind in a single-user backend. Unlike time on a shared VM, the count
# repeats to within 0.01 %, so a change of 1 % in the database's work shows.
#
#     sudo bench/record_cost.sh [ROWS [BATCH]]   # 2000 1000
#
# A history round runs natively first (then VACUUM ANALYZE); then two
# valgrind runs from a copy of that cluster: round 1 alone, and rounds 1
# and 2; round_ir is the difference (round 2, caches and plans warm).
# NV_MIGRATIONS=DIR: another folder of migrations (a variant with an
# extra file, or an older tree's). NV_PHASES=1: two more runs to split
# round 2 into its INSERT, LEASEs and WRITEs. NV_CG_OUT=FILE keeps the
# callgrind profile of rounds 1 and 2 (callgrind_annotate FILE).
# active_of_done must be 0: no perspective's row stays work once its
# verification has left pending. Takes about 1.5 minutes (3 with
# NV_PHASES), needs valgrind (apt-get install valgrind).
set -u
NV_TEST_NAME=record_cost
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null ||
	{ echo "record_cost: valgrind missing (apt-get install valgrind)" >&2; exit 2; }
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pg.sh"
. "$ROOT/bench/record_lib.sh"
nv_enter_netns "$@"
ROWS=${1:-2000}
BATCH=${2:-1000}
nv_start_pg
record_setup "${NV_MIGRATIONS:-$ROOT/sql/migrations}"
# Round N's SQL: an INSERT of ROWS fresh addresses, then LEASE and WRITE
# by turns for the two perspectives until every row is written; PHASE i
# stops after the INSERT, l leases without writing. Each statement ends
# with an empty line (the single-user backend's -j terminator).
round_sql() { # N [PHASE: w (default), i, l]
	local ph=${2:-w} i who
	echo "INSERT INTO verification (server_ip, token) SELECT ('10.' || (($1 * $ROWS + g) / 65536 % 256) || '.' || (($1 * $ROWS + g) / 256 % 256) || '.' || (($1 * $ROWS + g) % 256))::inet, 'benchtoken-' || g FROM generate_series(1, $ROWS) g;"
	echo
	[ "$ph" = i ] && return
	for i in $(seq 1 $(((ROWS + BATCH - 1) / BATCH))); do
		for who in "bench1 fra1 127.0.0.2" "bench2 nyc1 127.0.0.3"; do
			set -- $who
			record_lease_sql "$1" "$2"
			echo
			if [ "$ph" = l ]; then
				echo "TRUNCATE bench_lease;"
			else
				record_write_sql "$1" "$2" "$3"
			fi
			echo
		done
	done
}
round_sql 0 | sed '/^$/d' | nv_psql >/dev/null
nv_psql -c "VACUUM ANALYZE" >/dev/null
nv_psql -c "SELECT state, count(*) FROM verification GROUP BY 1" | tr '\n' ' '; echo
nv_psql -c "SELECT 'active_of_done', count(*) FROM verification_probe p JOIN verification v ON v.id = p.verification_id WHERE p.active AND v.state <> 'pending'"
nv_stop_pg
cp -a "$NV_PG_DATA" "$NV_TMP/pg0"; mkdir -m 755 "$NV_TMP/cg"; chown postgres "$NV_TMP/cg"
# The instructions of a single-user backend on a fresh copy of the
# cluster that runs round 1, then round 2 up to PHASE if given.
run() { # OUT [PHASE]
	local out=$1
	rm -rf "$NV_PG_DATA"; cp -a "$NV_TMP/pg0" "$NV_PG_DATA"
	{ round_sql 1; [ "$#" -gt 1 ] && round_sql 2 "$2"; } >"$NV_TMP/w.sql"
	chmod 644 "$NV_TMP/w.sql"
	nv_pg_as_owner valgrind --tool=callgrind --callgrind-out-file="$NV_TMP/cg/$out.cg" \
		"$NV_PG_BINDIR/postgres" --single -j -D "$NV_PG_DATA" \
		-c fsync=off -c synchronous_commit=off -c full_page_writes=off ntpverify \
		<"$NV_TMP/w.sql" >"$NV_TMP/$out.log" 2>&1
	if grep -q 'ERROR' "$NV_TMP/$out.log"; then
		grep -m 3 'ERROR' "$NV_TMP/$out.log" >&2
		echo "record_cost: the $out run failed" >&2
		exit 1
	fi
	callgrind_annotate "$NV_TMP/cg/$out.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
a=$(run warm) || exit 1
b=$(run round w) || exit 1
echo "warm_ir=$a warm_round_ir=$b round_ir=$((b - a))"
if [ -n "${NV_PHASES:-}" ]; then
	i=$(run ins i) || exit 1; l=$(run lea l) || exit 1
	echo "insert_ir=$((i - a)) lease_ir=$((l - i)) write_ir=$((b - l))"
fi
[ -n "${NV_CG_OUT:-}" ] && cp "$NV_TMP/cg/round.cg" "$NV_CG_OUT"
exit 0
