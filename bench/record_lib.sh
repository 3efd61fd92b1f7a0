# record_lib.sh - the database-side round's pieces shared by
# bench/record_bench.sh (timed) and bench/record_cost.sh (instructions):
# the schema with two perspectives, and the probers' LEASE and WRITE as
# the daemon sends them. Sourced after tests/integration/pg.sh; BATCH is
# the caller's lease size.

# The migrations of DIR, quorum 2 over two perspectives in two regions
# (fra1/RIPE by bench1 from 127.0.0.2, nyc1/ARIN by bench2 from
# 127.0.0.3), one confirmation, and the table a LEASE's rows wait in for
# their WRITE.
record_setup() { # MIGRATIONS_DIR
	local m
	for m in "$1"/*.sql; do
		nv_psql -f "$m" >/dev/null || { nv_log "migration $m failed"; exit 1; }
	done
	nv_psql >/dev/null <<'SQL'
UPDATE verification_policy SET quorum = 2, min_regions = 2, confirmations = 1,
	confirmation_gap = '1 second';
SELECT ntpverify_register('fra1', 'RIPE', '{127.0.0.2}', 'bench1');
SELECT ntpverify_register('nyc1', 'ARIN', '{127.0.0.3}', 'bench2');
CREATE TABLE bench_lease (id bigint, lease uuid, version integer);
SQL
}

# The prober's LEASE through ntpverify_lease() (schema 10 and later), its
# RETURNING kept in bench_lease for the WRITE: BATCH rows, lease 30 s,
# retry.expiry 72 h.
record_lease_sql() { # PROBER PERSPECTIVE
	echo "INSERT INTO bench_lease SELECT id, lease_token::uuid, proof_version
	FROM ntpverify_lease($BATCH, '$1', 30000, 259200000, '$2');"
}

# One WRITE of a `verified` result for every row in bench_lease, then
# bench_lease emptied for the next LEASE. No empty line inside: the
# single-user backend of record_cost.sh ends a command at one.
record_write_sql() { # PROBER PERSPECTIVE SOURCE
	cat <<SQL
SELECT count(*) FROM ntpverify_record('$2', '$1', true,
 (SELECT array_agg(id ORDER BY id) FROM bench_lease),
 (SELECT array_agg(lease ORDER BY id) FROM bench_lease),
 (SELECT array_agg('verified'::text) FROM bench_lease),
 (SELECT array_agg('token found'::text) FROM bench_lease),
 (SELECT array_agg('$3'::inet) FROM bench_lease),
 (SELECT array_agg(0.2::float8) FROM bench_lease),
 (SELECT array_agg(extract(epoch FROM clock_timestamp())::float8) FROM bench_lease),
 (SELECT array_agg(60::float8) FROM bench_lease),
 (SELECT array_agg(false) FROM bench_lease),
 (SELECT array_agg(version ORDER BY id) FROM bench_lease));
TRUNCATE bench_lease;
SQL
}
