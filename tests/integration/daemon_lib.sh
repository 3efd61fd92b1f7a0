# daemon_lib.sh - running `ntpverify run` in integration tests (sourced
# after lib.sh and pg.sh).

# nv_daemon_config NAME EXTRA: write $NV_TMP/NAME.conf for a prober named
# NAME on the test database; EXTRA is appended (sections, overrides).
nv_daemon_config() {
	local name=$1 extra=${2:-}
	cat >"$NV_TMP/$name.conf" <<CONF
prober_name = "$name"
database = "$NV_PG_CONNINFO"
source_addresses = { "127.0.0.2" }
allow_private_targets = true
status_socket = "$NV_TMP/$name.sock"
$extra
CONF
	printf '%s\n' "$NV_TMP/$name.conf"
}

# nv_start_daemon NAME CONF: start the daemon; sets DAEMON_PID (also in
# NV_PIDS) and logs to $NV_TMP/NAME.log.
nv_start_daemon() {
	local name=$1 conf=$2
	"$NTPVERIFY" run --config "$conf" --debug >"$NV_TMP/$name.log" 2>&1 &
	DAEMON_PID=$!
	NV_PIDS+=("$DAEMON_PID")
	# Ready when it has connected to the database.
	nv_wait_for 10 "grep -q 'database: connected' '$NV_TMP/$name.log'" ||
		{ cat "$NV_TMP/$name.log" >&2; nv_log "daemon $name did not connect"; exit 1; }
}

# nv_sql_wait SECONDS QUERY EXPECTED: wait until QUERY returns EXPECTED;
# prints the elapsed milliseconds; false on timeout.
nv_sql_wait() {
	local limit=$1 q=$2 want=$3 t0 got
	t0=$(date +%s%3N)
	while :; do
		got=$(nv_psql -c "$q" 2>/dev/null)
		if [ "$got" = "$want" ]; then
			echo $(( $(date +%s%3N) - t0 ))
			return 0
		fi
		if [ $(( $(date +%s%3N) - t0 )) -gt $((limit * 1000)) ]; then
			nv_log "timeout: '$q' = '$got', wanted '$want'"
			return 1
		fi
		sleep 0.05
	done
}

# nv_migrate CONF: bring the test database's schema up to date. The
# policy's confirmations become NV_CONFIRMATIONS (default 1: the tests that
# predate corroboration count one probe per verification; the quorum_*
# tests set the policy themselves).
nv_migrate() { # CONF
	"$NTPVERIFY" migrate --config "$1" >/dev/null || { nv_log "migrate failed"; exit 1; }
	nv_psql -c "UPDATE verification_policy SET confirmations = ${NV_CONFIRMATIONS:-1}" ||
		{ nv_log "setting the policy failed"; exit 1; }
}
