#!/bin/bash
# record_cost.sh - what PostgreSQL executes for one two-perspective round
# of the database side (bench/record_bench.sh's workload: quorum 2, one
# confirmation, one INSERT of ROWS rows, then per perspective LEASEs of
# BATCH rows and one ntpverify_record() WRITE of BATCH `verified` results
# each, the perspectives alternating), counted in machine instructions by
# valgrind in a single-user backend. Unlike time on a shared VM, the count
# repeats to 0.01 %, so a change of 1 % in the database's work shows.
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
nv_enter_netns "$@"
ROWS=${1:-2000}
BATCH=${2:-1000}
nv_start_pg
for m in "${NV_MIGRATIONS:-$ROOT/sql/migrations}"/*.sql; do
	nv_psql -f "$m" >/dev/null || { nv_log "migration $m failed"; exit 1; }
done
nv_psql >/dev/null <<'SQL'
UPDATE verification_policy SET quorum = 2, min_regions = 2, confirmations = 1,
	confirmation_gap = '1 second';
SELECT ntpverify_register('fra1', 'RIPE', '{127.0.0.2}', 'bench1');
SELECT ntpverify_register('nyc1', 'ARIN', '{127.0.0.3}', 'bench2');
CREATE TABLE bench_lease (id bigint, lease uuid, version integer);
SQL
round_sql() { # ROUND [PHASES: i=insert only, l=insert+leases]
	local ph=${2:-w}
	echo "INSERT INTO verification (server_ip, token) SELECT ('10.' || (($1 * $ROWS + g) / 65536 % 256) || '.' || (($1 * $ROWS + g) / 256 % 256) || '.' || (($1 * $ROWS + g) % 256))::inet, 'benchtoken-' || g FROM generate_series(1, $ROWS) g;"
	echo
	[ "$ph" = i ] && return
	for i in $(seq 1 $(((ROWS + BATCH - 1) / BATCH))); do
		for who in "bench1 fra1 127.0.0.2" "bench2 nyc1 127.0.0.3"; do
			set -- $who
			echo "INSERT INTO bench_lease SELECT id, lease_token::uuid, proof_version FROM ntpverify_lease($BATCH, '$1', 30000, 259200000, '$2');"
			echo
			[ "$ph" = l ] && { echo "TRUNCATE bench_lease;"; echo; continue; }
			echo "SELECT count(*) FROM ntpverify_record('$2', '$1', true, (SELECT array_agg(id ORDER BY id) FROM bench_lease), (SELECT array_agg(lease ORDER BY id) FROM bench_lease), (SELECT array_agg('verified'::text) FROM bench_lease), (SELECT array_agg('token found'::text) FROM bench_lease), (SELECT array_agg('$3'::inet) FROM bench_lease), (SELECT array_agg(0.2::float8) FROM bench_lease), (SELECT array_agg(extract(epoch FROM clock_timestamp())::float8) FROM bench_lease), (SELECT array_agg(60::float8) FROM bench_lease), (SELECT array_agg(false) FROM bench_lease), (SELECT array_agg(version ORDER BY id) FROM bench_lease));"
			echo
			echo "TRUNCATE bench_lease;"
			echo
		done
	done
}
round_sql 0 | sed '/^$/d' | nv_psql >/dev/null
nv_psql -c "VACUUM ANALYZE" >/dev/null
nv_psql -c "SELECT state, count(*) FROM verification GROUP BY 1" | tr '\n' ' '; echo
nv_psql -c "SELECT 'active_of_done', count(*) FROM verification_probe p JOIN verification v ON v.id = p.verification_id WHERE p.active AND v.state <> 'pending'"
nv_pg_fast_stop_request
for i in $(seq 1 100); do kill -0 "$NV_PG_PID" 2>/dev/null || break; sleep 0.1; done
cp -a "$NV_PG_DATA" "$NV_TMP/pg0"; mkdir -m 755 "$NV_TMP/cg"; chown postgres "$NV_TMP/cg"
run() { # OUT ROUNDS...
	local out=$1; shift
	rm -rf "$NV_PG_DATA"; cp -a "$NV_TMP/pg0" "$NV_PG_DATA"
	{ round_sql 1; [ "$#" -gt 1 ] && round_sql 2 "$2"; } >"$NV_TMP/w.sql"
	chmod 644 "$NV_TMP/w.sql"
	setpriv --reuid=postgres --regid=postgres --init-groups -- \
		valgrind --tool=callgrind --callgrind-out-file="$NV_TMP/cg/$out.cg" \
		"$NV_PG_BINDIR/postgres" --single -j -D "$NV_PG_DATA" \
		-c fsync=off -c synchronous_commit=off -c full_page_writes=off ntpverify \
		<"$NV_TMP/w.sql" >"$NV_TMP/$out.log" 2>&1
	grep -c 'count = ' "$NV_TMP/$out.log" >/dev/null
	grep -i 'error' "$NV_TMP/$out.log" | head -3
	callgrind_annotate "$NV_TMP/cg/$out.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}'
}
a=$(run warm 1)
b=$(run round 1 w)
echo "warm_ir=$a warm_round_ir=$b round_ir=$((b - a))"
if [ -n "${NV_PHASES:-}" ]; then
	i=$(run ins 1 i); l=$(run lea 1 l)
	echo "insert_ir=$((i - a)) lease_ir=$((l - i)) write_ir=$((b - l))"
fi
[ -n "${NV_CG_OUT:-}" ] && cp "$NV_TMP/cg/round.cg" "$NV_CG_OUT"
exit 0
