#!/bin/bash
# bench/explain_queue.sh - the work queue's statements at scale: EXPLAIN
# ANALYZE of the prober's expiry and lease statements on a private
# PostgreSQL cluster holding N pending verifications (default 3,000,000),
# with the current schema and, for comparison, with migration 3's index
# dropped inside a rolled-back transaction (the plan the prober had before).
#
#     sudo bench/explain_queue.sh [--rows N] [--build DIR]
#
# The statements are read from prober/store/*.c (the C string literals of
# sql_expire and sql_lease), so what is measured is what the prober sends.
# The cluster lives in a temporary folder, listens on a unix socket only and
# is removed at the end. Loading 3 million rows takes about a minute.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=3000000
BUILD="$ROOT/build/bench"
while [ $# -gt 0 ]; do
	case $1 in
	--rows) ROWS=$2; shift ;;
	--build) BUILD=$2; shift ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "usage: bench/explain_queue.sh [--rows N] [--build DIR]" >&2; exit 2 ;;
	esac
	shift
done
say() { printf 'explain: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL runs as user postgres)"

if [ ! -x "$BUILD/prober/cli/ntpverify" ]; then
	say "building (Release) in $BUILD"
	cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null &&
		cmake --build "$BUILD" -j "$(nproc)" >/dev/null || die "build failed"
fi

NV_TEST_NAME=explain
. "$ROOT/tests/integration/lib.sh"
. "$ROOT/tests/integration/pg.sh"
NV_TMP=$(mktemp -d /tmp/ntpverify-explain.XXXXXX)
chmod 755 "$NV_TMP"
trap nv_cleanup EXIT
nv_start_pg
printf 'database = "%s"\nprober_name = "explain"\n' "$NV_PG_CONNINFO" >"$NV_TMP/conf"
"$BUILD/prober/cli/ntpverify" migrate --config "$NV_TMP/conf" >&2 || die "migrate failed"

# The C string literals of one `static const char NAME[] = "..." "...";`.
sql_of() { # NAME
	awk -v name="$1" '
		$0 ~ "const char " name "\\[\\] =" { on = 1; next }
		on { line = $0; while (match(line, /"([^"\\]|\\.)*"/)) {
			s = substr(line, RSTART + 1, RLENGTH - 2); gsub(/\\"/, "\"", s)
			out = out s; line = substr(line, RSTART + RLENGTH) }
		     if ($0 ~ /;[ \t]*$/) { print out; exit } }' "$ROOT"/prober/store/*.c
}
EXPIRE=$(sql_of store_sql_expire)
LEASE=$(sql_of store_sql_lease)
[ -n "$EXPIRE" ] && [ -n "$LEASE" ] || die "cannot find store_sql_expire/store_sql_lease in prober/store"
# One registered perspective, so that every row gets its perspective row
# (the trigger creates them) and the lease has something to claim.
nv_psql -c "INSERT INTO perspective (name, region) VALUES ('explain', 'bench')" >/dev/null ||
	die "cannot register the perspective"

say "loading $ROWS pending rows"
t0=$(date +%s.%N)
nv_psql -c "INSERT INTO verification (server_ip, token)
	SELECT ('2001:db8::' || to_hex(i >> 16) || ':' || to_hex(i & 65535))::inet, 'tok-explain1'
	FROM generate_series(1, $ROWS) i" >/dev/null || die "insert failed"
# One row in 3,000 due now, the rest later: the lease reads only what is due.
nv_psql -c "UPDATE verification_probe SET next_probe_at = now() + interval '1 hour'
	WHERE verification_id % 3000 <> 0" >/dev/null
nv_psql -c "VACUUM ANALYZE verification_probe" >/dev/null
nv_psql -c "VACUUM ANALYZE verification" >/dev/null
say "loaded in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"

# EXPLAIN ANALYZE one statement with its parameters, rolled back.
explain() { # LABEL SETUP_SQL SQL PARAMS
	printf '\n### %s\n\n' "$1"
	nv_psql <<-SQL | sed 's/^/    /'
		BEGIN;
		$2
		PREPARE q AS $3;
		EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE q($4);
		ROLLBACK;
	SQL
}
# 72 h retry.expiry; a batch of 1000 leases of 20 s by prober 'explain'.
echo "# Work-queue statements on $ROWS pending rows (PostgreSQL $(nv_psql -c 'SHOW server_version'))"
explain "expiry, schema as migrated" "" "$EXPIRE" "259200000"
explain "expiry, without migration 3's index (before)" \
	"DROP INDEX verification_pending_created;" "$EXPIRE" "259200000"
explain "lease of 1000 due rows" "" "$LEASE" "1000, 'explain', 20000, 259200000, 'explain'"
