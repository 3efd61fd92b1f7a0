#!/bin/bash
# The replay of docs/admins.md ("Results lost at stop"), read from the
# document and run as printed: a verified result a stopped prober could not
# write counts as that perspective's confirmation and no more. What an
# admin would notice if it drifted: a replayed line that makes a row
# verified which the policy (quorum, regions, confirmations) has not
# verified, or a line replayed twice that counts twice.
NV_TEST_NAME=docs_replay
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf
"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }

# The statement of the guide: from its "SELECT id, state, verified_by"
# line to the first line ending in ';', the indentation removed.
SQL=$(awk '/^      SELECT id, state, verified_by$/ { on = 1 }
	on { print substr($0, 7) } on && /;$/ { exit }' "$NV_SOURCE_DIR/docs/admins.md")
nv_expect_match "admins.md has the replay statement" "ntpverify_record\\(" "$SQL"

# Two perspectives in two regions, both needed.
nv_psql -c "SELECT ntpverify_register('fra1', 'RIPE', '{192.0.2.10}', 'fra1-a')" \
	-c "SELECT ntpverify_register('nyc1', 'ARIN', '{192.0.2.20}', 'nyc1-a')" \
	-c "UPDATE verification_policy SET quorum = 2, min_regions = 2" >/dev/null
ID=$(nv_psql -c "INSERT INTO verification (server_ip, token)
	VALUES ('198.51.100.7', 'tok-replay-0001') RETURNING id")

# replay PERSPECTIVE PROBER SECONDS_AGO: the guide's statement for one
# journal line of verification $ID, attempted SECONDS_AGO before T0 (one
# clock reading for every line: a line replayed twice must carry the same
# time even when a second boundary passes in between); sets OUT, RC.
T0=$(date -u +%s)
replay() {
	local s=$SQL at
	at=$(date -u -d "@$((T0 - $3))" +%Y-%m-%dT%H:%M:%SZ)
	s=${s//1234/$ID}
	s=${s//PERSPECTIVE/$1}
	s=${s//PROBER_NAME/$2}
	s=${s//2026-12-01T12:00:00Z/$at}
	OUT=$(nv_psql -c "$s" 2>&1)
	RC=$?
}
state() { nv_psql -c "SELECT state FROM verification WHERE id = $ID"; }
attempts() { nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID"; }

replay fra1 fra1-a 60
nv_expect_eq "replay: the statement runs" 0 "$RC"
nv_expect_eq "replay: one perspective's first confirmation leaves the row" "$ID|pending|" "$OUT"
replay fra1 fra1-a 60
nv_expect_eq "replay: the same line again prints nothing" "" "$OUT"
nv_expect_eq "replay: ... and records no second attempt" 1 "$(attempts)"
replay fra1 fra1-a 30
nv_expect_eq "replay: fra1 corroborates, one region is not enough" "$ID|pending|" "$OUT"
nv_expect_eq "replay: 1/2 corroborating" 1 \
	"$(nv_psql -c "SELECT corroborating FROM verification_progress WHERE verification_id = $ID")"
replay nyc1 nyc1-a 50
nv_expect_eq "replay: nyc1's first confirmation" "pending" "$(state)"
replay nyc1 nyc1-a 20
nv_expect_eq "replay: the policy met, the row is verified" \
	"$ID|verified|fra1-a 192.0.2.10, nyc1-a 192.0.2.10" "$OUT"
nv_expect_eq "replay: every attempt in the audit trail, with its perspective" "fra1:2 nyc1:2" \
	"$(nv_psql -c "SELECT string_agg(perspective || ':' || n, ' ' ORDER BY perspective)
		FROM (SELECT perspective, count(*) n FROM probe_attempt
		      WHERE verification_id = $ID GROUP BY perspective) c")"

nv_finish
