#!/bin/bash
# The perspectives' rows follow their verification (migration 15: row
# triggers with WHEN conditions, and the set-based WRITE deactivating the
# rows it verifies itself). Seen from the tables, with the documented
# roles: a cancel by the web site, one row or 200 at once, leaves none of
# their perspectives' rows active or leased, and no other row changed; a
# retry makes every perspective's row due now and frees only expired
# leases; a new token does the same; the probers' summary of an attempt
# changes no perspective row; a WRITE that verifies rows (set-based by
# the probers' role, and one result at a time) deactivates every
# perspective's row of them and of no other row, and its setting does not
# outlive it, so a row verified by hand later in the same transaction is
# deactivated too; a session that sets the setting itself still has its
# cancels followed; an expiry by the probers of 300 rows deactivates them
# all; a retry wakes the probers (NOTIFY), a prober's result does not.
NV_TEST_NAME=schema_follow
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf
"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }
nv_psql -c "CREATE ROLE poolweb NOLOGIN" -c "CREATE ROLE ntpverify NOLOGIN" \
	-c "$(nv_admins_grants poolweb)" -c "$(nv_admins_grants ntpverify)" >/dev/null ||
	{ nv_log "the documented GRANTs do not apply"; exit 1; }
nv_psql -c "UPDATE verification_policy SET quorum = 1, confirmations = 1" \
	-c "SELECT ntpverify_register('p1', 'r1', '{127.0.0.2}', 'b1'),
	ntpverify_register('p2', 'r2', '{127.0.0.3}', 'b2'),
	ntpverify_register('p3', 'r2', '{127.0.0.4}', 'b3')" >/dev/null
nv_psql -c "INSERT INTO verification (server_ip, token)
	SELECT ('10.0.' || (i / 256) || '.' || (i % 256))::inet, 'tok-3f9a1c2b7d'
	FROM generate_series(1, 1000) i"
# Every verification and every perspective's row probed a minute ago
# and due in an hour; p1 holds a live lease on every row, p2 one that ran
# out.
nv_psql -c "UPDATE verification SET next_probe_at = now() + interval '1 hour'" \
	-c "UPDATE verification_probe SET last_probe_at = now() - interval '1 min',
	next_probe_at = now() + interval '1 hour'" \
	-c "UPDATE verification_probe SET lease_owner = 'b1', lease_token = gen_random_uuid(),
	lease_until = now() + interval '10 min' WHERE perspective = 'p1'" \
	-c "UPDATE verification_probe SET lease_owner = 'b2', lease_token = gen_random_uuid(),
	lease_until = now() - interval '10 s' WHERE perspective = 'p2'" >/dev/null

as() { # ROLE SQL...: statements as ROLE, in one transaction
	local role=$1
	shift
	nv_psql -c "BEGIN" -c "SET LOCAL ROLE $role" "${@/#/-c}" -c "COMMIT"
}
# rows FIRST LAST: "active|leased|due" perspective rows of verifications
# FIRST..LAST.
rows() {
	nv_psql -c "SELECT count(*) FILTER (WHERE active) || '|' || count(lease_token)
		|| '|' || count(*) FILTER (WHERE active AND next_probe_at <= now())
		FROM verification_probe WHERE verification_id BETWEEN $1 AND $2"
}
untouched() { # every row outside FIRST..LAST still as set up
	nv_psql -c "SELECT count(*) FROM verification_probe
		WHERE verification_id NOT BETWEEN $1 AND $2
		  AND (NOT active OR next_probe_at <= now()
		       OR (perspective IN ('p1', 'p2')) <> (lease_token IS NOT NULL))"
}

# 1. The web site cancels one row, then 200 in one statement.
as poolweb "UPDATE verification SET state = 'cancelled' WHERE id = 1" >/dev/null
nv_expect_eq "web: a cancelled row: no active, leased or due perspective row" "0|0|0" "$(rows 1 1)"
as poolweb "UPDATE verification SET state = 'cancelled' WHERE id BETWEEN 2 AND 201" >/dev/null
nv_expect_eq "web: 200 cancelled in one statement: none of their 600 rows active" "0|0|0" "$(rows 2 201)"
nv_expect_eq "web: the other verifications' rows untouched" 0 "$(untouched 1 201)"

# 2. A retry by the web site: due now for every perspective; p1's live
# lease stays (its prober is probing), p2's expired one is freed.
as poolweb "UPDATE verification SET next_probe_at = now() WHERE id = 210" >/dev/null
nv_expect_eq "web: a retry: every perspective due now, the live lease kept" "3|1|3" "$(rows 210 210)"
nv_expect_eq "web: a retry: the lease kept is p1's" "p1" \
	"$(nv_psql -c "SELECT string_agg(perspective, ',') FROM verification_probe
		WHERE verification_id = 210 AND lease_token IS NOT NULL")"

# 3. A new token (the owner's change): new proof material, due now (the
# verification's own next probe stays an hour ahead).
nv_psql -c "UPDATE verification SET token = 'tok-new-77aa01' WHERE id = 211" >/dev/null
nv_expect_eq "new token: every perspective due now" "3|1|3" "$(rows 211 211)"

# 4. The probers' summary of an attempt (last_probe_at moved, the next
# probe in a minute): no perspective row changes, also with the next
# probe now (a result's retry of 0 s is not a retry by the web site).
as ntpverify "UPDATE verification SET last_probe_at = now(), attempts = attempts + 1,
	next_probe_at = now() + interval '1 min' WHERE id BETWEEN 212 AND 219" \
	"UPDATE verification SET last_probe_at = now() + interval '1 s',
	next_probe_at = now() WHERE id = 219" >/dev/null
nv_expect_eq "probers' summary: no perspective row changed" 0 "$(untouched 1 211)"

# 5. A set-based WRITE of p1 by the probers' role (40 results with p1's
# leases, quorum 1) verifies rows 220-249 and has no answer from 250-259;
# later in its transaction, the owner verifies row 260 by hand.
record_set() { # FIRST LAST OUTCOME-OF-i: ntpverify_record_set's call for p1
	local n=$(($2 - $1 + 1))
	echo "SELECT count(*) || '|' || count(*) FILTER (WHERE state = 'verified')
	FROM ntpverify_record_set('p1', 'b1', true,
		ARRAY(SELECT i FROM generate_series($1, $2) i)::bigint[],
		ARRAY(SELECT lease_token FROM verification_probe WHERE perspective = 'p1'
		      AND verification_id BETWEEN $1 AND $2 ORDER BY verification_id),
		ARRAY(SELECT $3 FROM generate_series($1, $2) i),
		array_fill('d'::text, ARRAY[$n]), array_fill('127.0.0.2'::inet, ARRAY[$n]),
		array_fill(1::float8, ARRAY[$n]),
		array_fill(extract(epoch FROM now())::float8, ARRAY[$n]),
		array_fill(60::float8, ARRAY[$n]), array_fill(false, ARRAY[$n]),
		array_fill(1, ARRAY[$n]))"
}
OUT=$(nv_psql -c "BEGIN" -c "SET LOCAL ROLE ntpverify" \
	-c "$(record_set 220 259 "CASE WHEN i < 250 THEN 'verified' ELSE 'no_response' END")" \
	-c "SELECT '[' || coalesce(current_setting('ntpverify.write_follows', true), 'unset') || ']'" \
	-c "RESET ROLE" \
	-c "UPDATE verification SET state = 'verified', verified_at = now(), verified_by = 'by hand'
		WHERE id = 260" -c "COMMIT")
nv_expect_eq "set-based WRITE: 40 results, 30 verified, its setting empty after it" "40|30
[]" "$OUT"
nv_expect_eq "set-based WRITE: every perspective's row of the verified rows inactive" "0|0|0" "$(rows 220 249)"
# p1's rows of 250-259 released and due in a minute, p2's and p3's as set up
nv_expect_eq "set-based WRITE: the rows it did not verify stay active" "30|10|0" "$(rows 250 259)"
nv_expect_eq "verified by hand after a WRITE in its transaction: inactive" "0|0|0" "$(rows 260 260)"
nv_expect_eq "verified: the state of the rows" "31" \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")"

# 6. The same by one result (ntpverify_record: under 32, one at a time).
nv_psql -c "SELECT state FROM ntpverify_record('p1', 'b1', true, '{261}', '{NULL}',
	'{verified}', '{d}', '{127.0.0.2}', '{1}',
	ARRAY[extract(epoch FROM now())]::float8[], '{60}', '{f}', '{1}')" >/dev/null
nv_expect_eq "a WRITE of one result: its verified row's perspective rows inactive" "0|0|0" "$(rows 261 261)"

# 7. A session that sets the WRITE's setting itself: its cancel is
# followed all the same (only rows made verified are skipped).
as poolweb "SET LOCAL ntpverify.write_follows = on" \
	"UPDATE verification SET state = 'cancelled' WHERE id = 262" >/dev/null
nv_expect_eq "the setting on: a cancel is still followed" "0|0|0" "$(rows 262 262)"

# 8. The probers expire 300 rows in one statement (store_sql_expire's
# change of state).
nv_psql -c "UPDATE verification SET expires_at = now() WHERE id BETWEEN 300 AND 599" >/dev/null
as ntpverify "UPDATE verification SET state = 'expired', lease_owner = NULL,
	lease_token = NULL, lease_until = NULL
	WHERE state = 'pending' AND expires_at <= now()" >/dev/null
nv_expect_eq "300 expired in one statement: none of their 900 rows active" "0|0|0" "$(rows 300 599)"
nv_expect_eq "the rows left pending: active and as set up" 0 "$(untouched 1 599)"

# 9. Wake-ups: a retry notifies the probers; a result does not.
notified() { # SQL...: "yes" if the statements sent ntpverify_due
	nv_psql -c "LISTEN ntpverify_due" "${@/#/-c}" -c "SELECT 1" 2>&1 |
		grep -q 'notification "ntpverify_due"' && echo yes || echo no
}
nv_expect_eq "NOTIFY: a retry wakes the probers" yes \
	"$(notified "UPDATE verification SET next_probe_at = now() WHERE id = 700")"
nv_expect_eq "NOTIFY: a WRITE of results does not" no \
	"$(notified "$(record_set 701 740 "'no_response'")")"
nv_expect_eq "NOTIFY: ... and that WRITE applied its 40 results" 40 \
	"$(nv_psql -c "SELECT count(*) FROM verification_probe WHERE perspective = 'p1'
		AND verification_id BETWEEN 701 AND 740 AND last_outcome = 'no_response'")"
nv_expect_eq "NOTIFY: a retry of a row a prober holds does not" no \
	"$(notified "UPDATE verification SET lease_token = gen_random_uuid(), lease_owner = 'b1',
		lease_until = now() + interval '1 min' WHERE id = 741" \
		"UPDATE verification SET next_probe_at = now() WHERE id = 741")"
nv_finish
