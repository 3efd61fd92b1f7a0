#!/bin/bash
# record_bench.sh - the database side of the two-perspective throughput
# round, without daemons or packets: a private cluster, the migrations,
# two perspectives in two regions (quorum 2, min_regions 2, one
# confirmation), one INSERT of ROWS rows, then per perspective LEASEs of
# BATCH rows (the prober's statement) and one WRITE (ntpverify_record)
# of BATCH `verified` results per lease. Prints the time of each phase
# and the statements (nested ones too) that took the most time.
#
#     sudo bench/record_bench.sh [ROWS [BATCH [ROUNDS]]]   # 10000 1000 3
#
# Run as root (the cluster runs as the postgres user, in a private
# network namespace like the integration tests). Rounds after the first
# are the ones to compare (caches warm). NV_MIGRATIONS: another folder
# of migrations (an older tree's, for a before/after). NV_EXPLAIN=FILE:
# auto_explain's plans of the statements over 5 ms, nested ones too,
# written to FILE. NV_ANALYZE=1: ANALYZE after the INSERT (the LEASE's
# plan with fresh statistics: an index scan in next_probe_at order that
# stops at BATCH rows, rather than all due rows joined and sorted).
# NV_ONE_SESSION=1: each perspective's LEASEs and WRITEs in one session,
# one perspective after the other. NV_PARALLEL=1: both perspectives at
# once, one session each, as two daemons (write_ms is then the wall time
# of both). PostgreSQL's CPU time per round (pg_cpu_ms) is the steadier
# figure on a shared machine.
set -u
NV_TEST_NAME=record_bench
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../tests/integration/lib.sh"
. "$HERE/../tests/integration/pg.sh"
. "$HERE/record_lib.sh"
nv_enter_netns "$@"

ROWS=${1:-10000}
BATCH=${2:-1000}
ROUNDS=${3:-3}

nv_start_pg
nv_psql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
nv_restart_pg
nv_psql -c "CREATE EXTENSION pg_stat_statements" >/dev/null
record_setup "${NV_MIGRATIONS:-$HERE/../sql/migrations}"
# Schema 10 leases through ntpverify_lease(); older schemas with the
# statement below.
LEASE_FN=$(nv_psql -c "SELECT 1 FROM pg_proc WHERE proname = 'ntpverify_lease'")

# The prober's LEASE (prober/store/store_sql.c), its RETURNING kept in a
# table for the WRITE: $1 BATCH, $2 prober, $3 lease ms, $4 expiry ms, $5
# perspective.
lease_sql() { # PROBER PERSPECTIVE
	if [ -n "$LEASE_FN" ]; then
		record_lease_sql "$1" "$2"
		return
	fi
	cat <<SQL
WITH due AS (
 SELECT p.verification_id FROM verification_probe p
 JOIN verification v ON v.id = p.verification_id
 WHERE p.perspective = '$2' AND p.active AND p.next_probe_at <= now()
   AND (p.lease_until IS NULL OR p.lease_until < now())
   AND v.state = 'pending' AND v.expires_at > now()
   AND v.created_at > now() - 259200000::double precision * interval '1 millisecond'
 ORDER BY p.next_probe_at
 LIMIT $BATCH
 FOR UPDATE OF p SKIP LOCKED),
l AS (
 UPDATE verification_probe p
 SET lease_owner = '$1', lease_token = gen_random_uuid(),
     lease_until = now() + 30000::double precision * interval '1 millisecond'
 FROM due, verification v
 WHERE p.verification_id = due.verification_id AND p.perspective = '$2'
   AND v.id = p.verification_id
 RETURNING v.id, host(v.server_ip), v.token, p.attempts,
           p.lease_token::text, v.method, v.key_id, v.key_type,
           v.key_secret, v.proof_version, v.refid_code)
INSERT INTO bench_lease SELECT id, lease_token::uuid, proof_version FROM l;
SQL
}


PRE="SET pg_stat_statements.track = 'all';"
if [ -n "${NV_EXPLAIN:-}" ]; then
	PRE="$PRE LOAD 'auto_explain'; SET auto_explain.log_min_duration = 5;
		SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on;"
	trap 'cp "$NV_TMP/pg.log" "$NV_EXPLAIN"; nv_pg_fast_stop_request; nv_cleanup' EXIT
fi

now() { date +%s.%N; }
# PostgreSQL's CPU time so far, ms: every process of the cluster alive now,
# plus what the postmaster reaped (the sessions of the psql calls that
# ended, autovacuum workers). Steadier than wall time on a shared machine.
pg_cpu_ms() {
	local p files=("/proc/$NV_PG_PID/stat")
	for p in $(pgrep -P "$NV_PG_PID"); do files+=("/proc/$p/stat"); done
	awk -v hz="$(getconf CLK_TCK)" -v pm="/proc/$NV_PG_PID/stat" '
		{ s += $14 + $15; if (FILENAME == pm) s += $16 + $17 }
		END { printf "%.0f", s * 1000 / hz }' "${files[@]}" 2>/dev/null
}
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

for round in $(seq 1 "$ROUNDS"); do
	nv_psql -c "SELECT pg_stat_statements_reset(), pg_stat_reset()" >/dev/null
	cpu0=$(pg_cpu_ms)
	t0=$(now)
	nv_psql -c "SET pg_stat_statements.track = 'all';
		INSERT INTO verification (server_ip, token)
		SELECT ('10.' || (($round * $ROWS + g) / 65536 % 256) || '.' ||
			(($round * $ROWS + g) / 256 % 256) || '.' ||
			(($round * $ROWS + g) % 256))::inet, 'benchtoken-' || g
		FROM generate_series(1, $ROWS) g" >/dev/null
	[ -n "${NV_ANALYZE:-}" ] && nv_psql -c "ANALYZE verification; ANALYZE verification_probe" >/dev/null
	t1=$(now)
	lease_ms=0 write_ms=0
	if [ -n "${NV_PARALLEL:-}" ]; then
		# As two daemons do: both perspectives at once, one session
		# each, each lease followed by its write; a perspective stops
		# when a lease comes back empty. The rows of the two leases
		# are the same ones, in the same order, so most WRITEs of the
		# second to come make rows verified.
		pids=()
		for who in "bench1 fra1 127.0.0.2" "bench2 nyc1 127.0.0.3"; do
			set -- $who
			{ echo "$PRE"; echo "CREATE TEMP TABLE bench_lease (id bigint, lease uuid, version integer);"
			  for i in $(seq 1 $(((ROWS + BATCH - 1) / BATCH))); do
				lease_sql "$1" "$2"; record_write_sql "$1" "$2" "$3"; done; } |
				nv_psql >/dev/null &
			pids+=($!)
		done
		wait "${pids[@]}" # not the cluster, also a child of this shell
		write_ms=$(ms "$t1" "$(now)")
	fi
	for who in "bench1 fra1 127.0.0.2" "bench2 nyc1 127.0.0.3"; do
		[ -n "${NV_PARALLEL:-}" ] && break
		set -- $who
		if [ -n "${NV_ONE_SESSION:-}" ]; then
			# As a daemon does: one session, so plpgsql's cached plans
			# may turn generic after five calls.
			a=$(now)
			{ echo "$PRE"; for i in $(seq 1 $(((ROWS + BATCH - 1) / BATCH))); do
				lease_sql "$1" "$2"; record_write_sql "$1" "$2" "$3"; done; } | nv_psql >/dev/null
			b=$(now)
			write_ms=$((write_ms + $(ms "$a" "$b")))
			continue
		fi
		while :; do
			a=$(now)
			{ echo "$PRE"; lease_sql "$1" "$2"; } | nv_psql >/dev/null
			b=$(now)
			n=$(nv_psql -c "SELECT count(*) FROM bench_lease")
			[ "$n" -gt 0 ] || break
			{ echo "$PRE"; record_write_sql "$1" "$2" "$3"; } | nv_psql >/dev/null
			c=$(now)
			lease_ms=$((lease_ms + $(ms "$a" "$b")))
			write_ms=$((write_ms + $(ms "$b" "$c")))
		done
	done
	t2=$(now)
	cpu1=$(pg_cpu_ms)
	verified=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'
		AND verified_by LIKE '%bench1%' AND verified_by LIKE '%bench2%'
		AND verified_at >= to_timestamp($t0)")
	db=$(nv_psql -F ' ' -c "SELECT
		round(sum(total_exec_time) FILTER (WHERE query LIKE '%ntpverify_record(%')),
		round(sum(total_exec_time) FILTER (WHERE query LIKE 'WITH due AS%'
			OR query LIKE 'INSERT INTO bench_lease%')),
		round(sum(total_exec_time) FILTER (WHERE query LIKE 'INSERT INTO verification %'))
		FROM pg_stat_statements WHERE toplevel")
	set -- $db
	echo "round=$round rows=$ROWS batch=$BATCH db_write_ms=$1 db_lease_ms=$2 db_insert_ms=$3 verified=$verified insert_ms=$(ms "$t0" "$t1") lease_ms=$lease_ms write_ms=$write_ms total_ms=$(ms "$t0" "$t2") pg_cpu_ms=$((cpu1 - cpu0)) per_s=$(awk -v n="$ROWS" -v a="$t1" -v b="$t2" 'BEGIN { printf "%.0f", n / (b - a) }')"
	# Row versions written, and how many were HOT (no index entries).
	nv_psql -F ' ' -c "SELECT 'updates', relname, n_tup_upd, 'hot', n_tup_hot_upd
		FROM pg_stat_user_tables WHERE relname IN ('verification', 'verification_probe')
		ORDER BY relname" | sed 's/^/  /'
	nv_psql -F ' | ' -c "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3),
		regexp_replace(left(query, 90), '\\s+', ' ', 'g')
		FROM pg_stat_statements WHERE query NOT LIKE 'SET %' AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY total_exec_time DESC LIMIT 14" | sed 's/^/  /'
done
