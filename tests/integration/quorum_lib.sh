# quorum_lib.sh - perspectives and the verification policy in integration
# tests (sourced after lib.sh, pg.sh and daemon_lib.sh).

# nv_perspective_config NAME SOURCE PERSPECTIVE REGION EXTRA: a prober
# config like nv_daemon_config's, probing from SOURCE in PERSPECTIVE.
nv_perspective_config() {
	local name=$1 src=$2 persp=$3 region=$4 extra=${5:-}
	local conf
	conf=$(nv_daemon_config "$name" "perspective = \"$persp\"
region = \"$region\"
$extra")
	sed -i "s/\"127.0.0.2\"/\"$src\"/" "$conf"
	printf '%s\n' "$conf"
}

# nv_policy SQL-ASSIGNMENTS: set the policy directly (the tests of the
# admin command are in quorum_policy.sh).
nv_policy() {
	nv_psql -c "UPDATE verification_policy SET $1" || { nv_log "policy: $1 refused"; exit 1; }
}

# nv_progress ID: "corroborating/quorum regions contrary" of one row.
nv_progress() {
	nv_psql -c "SELECT corroborating || '/' || quorum || ' ' || regions || ' ' || contrary
	            FROM verification_progress WHERE verification_id = $1"
}
