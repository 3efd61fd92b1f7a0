# pg.sh - a private PostgreSQL 15 cluster for integration tests (sourced,
# bash, after lib.sh and nv_enter_netns).
#
#     nv_start_pg          create and start a cluster in $NV_TMP/pg, listening
#                          only on a unix socket in $NV_TMP/pgsock; create the
#                          database `ntpverify`; set NV_PG_CONNINFO, NV_PG_PID
#     nv_psql ARGS...      psql on that database: unaligned, tuples only,
#                          quiet, stops at the first error
#     nv_psql_db NAME ARGS...  the same on database NAME
#     nv_pg_createdb NAME  another empty database in the same cluster
#     nv_stop_pg           fast shutdown (clients are disconnected), wait
#     nv_restart_pg        start again on the same data directory
#
# No TCP listener, so tests never collide with each other or with a system
# PostgreSQL; fsync is off because the cluster is thrown away. initdb and
# postgres refuse to run as root, so as root they run as the `postgres`
# system user (Debian's postgresql package creates it); the test itself
# connects as database user postgres with trust authentication on the
# socket. PG_BINDIR overrides /usr/lib/postgresql/15/bin.

NV_PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
NV_PG_DATA=""
NV_PG_SOCK=""
NV_PG_PID=""
NV_PG_CONNINFO=""

# Run a PostgreSQL program as the cluster's owner.
nv_pg_as_owner() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
	else
		"$@"
	fi
}

nv_psql() {
	"$NV_PG_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 "$NV_PG_CONNINFO" "$@"
}

# nv_psql_db NAME ARGS...: the same on another database of the cluster.
nv_psql_db() {
	local db=$1
	shift
	"$NV_PG_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
		"host=$NV_PG_SOCK dbname=$db user=postgres" "$@"
}

# Start postgres on $NV_PG_DATA in the background and wait until it takes
# connections (at most ~15 s).
nv_pg_launch() {
	local i cmd=("$NV_PG_BINDIR/postgres" -D "$NV_PG_DATA"
		-c listen_addresses=''
		-c unix_socket_directories="$NV_PG_SOCK"
		-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
	# Not through nv_pg_as_owner: a backgrounded function is a subshell,
	# and $! must be the postmaster itself (setpriv execs it) so that
	# signals by pid reach it.
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups -- \
			"${cmd[@]}" >>"$NV_TMP/pg.log" 2>&1 &
	else
		"${cmd[@]}" >>"$NV_TMP/pg.log" 2>&1 &
	fi
	NV_PG_PID=$!
	NV_PIDS+=("$NV_PG_PID")
	for i in $(seq 1 150); do
		if "$NV_PG_BINDIR/pg_isready" -q -h "$NV_PG_SOCK" -d postgres -U postgres; then
			return 0
		fi
		if ! kill -0 "$NV_PG_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	tail -n 20 "$NV_TMP/pg.log" >&2
	nv_log "PostgreSQL did not start"
	exit 1
}

nv_start_pg() {
	local b
	for b in initdb postgres pg_isready psql pg_dump; do
		[ -x "$NV_PG_BINDIR/$b" ] || nv_skip "$NV_PG_BINDIR/$b missing (apt-get install postgresql-15)"
	done
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || nv_skip "no 'postgres' system user to run the cluster as"
		command -v setpriv >/dev/null || nv_skip "setpriv(1) missing"
	fi
	[ -n "$NV_TMP" ] || { nv_log "nv_start_pg: call nv_enter_netns first"; exit 1; }

	NV_PG_DATA="$NV_TMP/pg"
	NV_PG_SOCK="$NV_TMP/pgsock"
	# NV_TMP is 755, so the postgres user can reach both directories.
	mkdir -m 700 "$NV_PG_DATA"
	mkdir -m 755 "$NV_PG_SOCK"
	: >"$NV_TMP/pg.log"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$NV_PG_DATA" "$NV_PG_SOCK" "$NV_TMP/pg.log"
	fi
	if ! nv_pg_as_owner "$NV_PG_BINDIR/initdb" -D "$NV_PG_DATA" -U postgres \
		--auth=trust --encoding=UTF8 --no-locale --no-sync \
		>>"$NV_TMP/pg.log" 2>&1; then
		tail -n 20 "$NV_TMP/pg.log" >&2
		nv_log "initdb failed"
		exit 1
	fi
	nv_pg_launch
	# lib.sh's cleanup ends processes with SIGTERM, which for postgres is a
	# "smart" shutdown that waits for every client to leave. Ask for a
	# fast one first (SIGINT; the later SIGTERM cannot downgrade it).
	trap 'nv_pg_fast_stop_request; nv_cleanup' EXIT

	NV_PG_CONNINFO="host=$NV_PG_SOCK dbname=ntpverify user=postgres"
	export NV_PG_CONNINFO
	nv_pg_createdb ntpverify
}

# nv_admin_conf: the one-shot admin commands' configuration (this cluster,
# one documentation source address) in $NV_TMP/admin.conf; sets CONF.
nv_admin_conf() {
	CONF="$NV_TMP/admin.conf"
	cat >"$CONF" <<CONF
database = "$NV_PG_CONNINFO"
source_addresses = { "192.0.2.10" }
CONF
}

# nv_latest_schema: the schema version this tree's binary needs, the
# highest NNN of sql/migrations/NNN_name.sql.
nv_latest_schema() {
	local f b latest=0
	for f in "$NV_SOURCE_DIR"/sql/migrations/[0-9][0-9][0-9]_*.sql; do
		b=$(basename "$f" .sql)
		latest=$((10#${b%%_*}))
	done
	echo "$latest"
}

# nv_admins_grants ROLE: every GRANT statement of docs/admins.md that
# names ROLE ("TO ROLE;"), each joined across its lines, one per line.
nv_admins_grants() {
	awk -v role="$1" '/^    GRANT/ { s = $0
		while (s !~ /;/ && (getline l) > 0) s = s " " l
		if (index(s, "TO " role ";") > 0) print s }' "$NV_SOURCE_DIR/docs/admins.md"
}

nv_pg_fast_stop_request() {
	if [ -n "$NV_PG_PID" ]; then
		kill -INT "$NV_PG_PID" 2>/dev/null || true
	fi
}

nv_pg_createdb() {
	"$NV_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		"host=$NV_PG_SOCK dbname=postgres user=postgres" \
		-c "CREATE DATABASE \"$1\"" || { nv_log "cannot create database $1"; exit 1; }
}

# Fast shutdown: open sessions are ended (the daemon sees its connection
# drop), then wait for the postmaster to exit.
nv_stop_pg() {
	[ -n "$NV_PG_PID" ] || return 0
	kill -INT "$NV_PG_PID" 2>/dev/null || true
	nv_stop_pid_wait "$NV_PG_PID"
	NV_PG_PID=""
}

# Wait for a pid we started and drop it from NV_PIDS (without a signal).
nv_stop_pid_wait() {
	local pid=$1 keep=() p
	wait "$pid" 2>/dev/null || true
	for p in "${NV_PIDS[@]}"; do
		[ "$p" = "$pid" ] || keep+=("$p")
	done
	NV_PIDS=("${keep[@]}")
}

nv_restart_pg() {
	nv_stop_pg
	nv_pg_launch
}
