#!/bin/bash
# The web site's role with exactly the GRANTs docs/admins.md gives it
# (read from the document, so the two cannot drift apart): it can start,
# retry and cancel verifications of every method, and it cannot make a
# row verified by any route: not by INSERTing a finished row (a forged
# prober result or a forged exception), not by an UPDATE of state, not
# through the exception functions, not through the probers' WRITE, and
# not by writing the audit table. Nor can it move a finished (verified,
# expired, cancelled) row to another state (migration 13), or make a row
# expired (migration 14).
NV_TEST_NAME=web_role
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf
"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }

# Every GRANT statement of docs/admins.md that names poolweb, joined
# across its lines.
GRANTS=$(nv_admins_grants poolweb)
nv_expect_match "admins.md grants poolweb rights" "ON verification" "$GRANTS"
nv_psql -c "CREATE ROLE poolweb NOLOGIN" -c "$GRANTS" >/dev/null ||
	nv_fail "the documented GRANTs do not apply"

# Work for a perspective, and one prover an exception could rely on.
nv_psql -c "SELECT ntpverify_register('fra1', 'a', '{192.0.2.10}', 'p1')" \
	-c "UPDATE verification_policy SET confirmations = 1" >/dev/null
NEIGHBOUR=$(nv_psql -c "INSERT INTO verification (server_ip, token, state,
	verified_at, verified_by) VALUES ('198.51.100.9', 'neighbour-tok',
	'verified', now(), 'fra1-a 192.0.2.10') RETURNING id")

# web SQL: the statement as the web site's role; sets OUT, ERR, RC.
web() {
	OUT=$(nv_psql -c "SET ROLE poolweb" -c "$1" 2>"$NV_TMP/stderr")
	RC=$?
	ERR=$(cat "$NV_TMP/stderr")
}
verified() {
	nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified' AND id <> $NEIGHBOUR"
}
# refused WHAT SQL: an error (a right or a CHECK missing, or the schema's
# trigger refusing the state change: NV001), nothing verified.
refused() {
	web "$2"
	nv_expect_match "$1: refused" "^ERROR: .*(permission denied|violates check constraint|verification [0-9]+ is )" "$ERR"
	nv_expect_eq "$1: nothing verified" 0 "$(verified)"
}

# What the web site must be able to do (sql/schema.sql, "Who writes what").
web "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.1', 'token-0001') RETURNING id"
nv_expect_eq "web: setvar insert" 0 "$RC"
ID=$OUT
web "INSERT INTO verification (server_ip, method, key_id, key_type, key_secret)
	VALUES ('198.51.100.2', 'key', 7, 'AES128', '00112233445566778899aabbccddeeff') RETURNING id"
nv_expect_eq "web: key insert" 0 "$RC"
web "INSERT INTO verification (server_ip, method, refid_code) VALUES ('198.51.100.3', 'refid', 'K7QX') RETURNING id"
nv_expect_eq "web: refid insert" 0 "$RC"
CANCEL=$OUT
web "UPDATE verification SET next_probe_at = now() WHERE id = $ID AND state = 'pending'"
nv_expect_eq "web: retry now" 0 "$RC"
web "UPDATE verification SET state = 'cancelled' WHERE id = $CANCEL AND state = 'pending'"
nv_expect_eq "web: cancel" 0 "$RC"
web "SELECT corroborating, quorum FROM verification_progress WHERE verification_id = $ID"
nv_expect_eq "web: reads progress" "0|1" "$OUT"

# state_kept WHAT ID SQL WHY: the web site's SQL refused with NV001's
# "verification ID is STATE" and WHY after it, the state unchanged.
state_of() { nv_psql -c "SELECT state FROM verification WHERE id = $1"; }
state_kept() {
	local before
	before=$(state_of "$2")
	web "$3"
	nv_expect_match "$1: refused" "^ERROR: +verification $2 is $before$4" "$ERR"
	nv_expect_eq "$1: still $before" "$before" "$(state_of "$2")"
}
EXPIRE_WHY=": only the probers make a row expired"

# Expiry is the probers' (migration 14): the web site cannot set a
# pending row to expired, the probers' documented role can.
state_kept "web: expire" "$ID" "UPDATE verification SET state = 'expired' WHERE id = $ID" "$EXPIRE_WHY"
PGRANTS=$(nv_admins_grants ntpverify)
nv_expect_match "admins.md grants the probers verification_probe" "verification_probe TO ntpverify" "$PGRANTS"
nv_psql -c "CREATE ROLE ntpverify NOLOGIN" -c "$PGRANTS" >/dev/null ||
	nv_fail "the documented prober GRANTs do not apply"
GONE=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.7', 'token-0007')
	RETURNING id")
nv_psql -c "SET ROLE ntpverify" -c "UPDATE verification SET state = 'expired' WHERE id = $GONE" >/dev/null 2>"$NV_TMP/stderr"
nv_expect_eq "prober role: expires a row" "expired" "$(nv_psql -c "SELECT state FROM verification WHERE id = $GONE")"

# A finished row is final (migration 13): the web site cannot move a
# cancelled, expired or verified row back to pending, nor to another
# final state; the schema's owner can (repairs by hand).
final_refused() { # WHAT ID SQL
	state_kept "$1" "$2" "$3" ", which is final: it cannot become"
}
final_refused "re-open a cancelled row" "$CANCEL" "UPDATE verification SET state = 'pending' WHERE id = $CANCEL"
final_refused "expire a cancelled row" "$CANCEL" "UPDATE verification SET state = 'expired' WHERE id = $CANCEL"
EXPIRED=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.8', 'token-0008')
	RETURNING id")
nv_psql -c "UPDATE verification SET state = 'expired' WHERE id = $EXPIRED" >/dev/null
final_refused "re-open an expired row" "$EXPIRED" "UPDATE verification SET state = 'pending' WHERE id = $EXPIRED"
final_refused "cancel an expired row" "$EXPIRED" "UPDATE verification SET state = 'cancelled' WHERE id = $EXPIRED"
DONE=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.9', 'token-0009')
	RETURNING id")
nv_psql -c "UPDATE verification SET state = 'verified', verified_at = now(),
	verified_by = 'fra1-a 192.0.2.10' WHERE id = $DONE" >/dev/null
final_refused "re-open a verified row" "$DONE" "UPDATE verification SET state = 'pending' WHERE id = $DONE"
web "UPDATE verification SET next_probe_at = now() WHERE id = $DONE"
nv_expect_eq "web: a finished row's other columns still update" 0 "$RC"
nv_psql -c "UPDATE verification SET state = 'pending' WHERE id = $EXPIRED" >/dev/null
nv_expect_eq "the owner re-opens an expired row" pending "$(state_of "$EXPIRED")"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE id IN ($EXPIRED, $DONE)" >/dev/null
nv_expect_eq "... and ends two rows (the checks below count verified rows)" "cancelled cancelled" \
	"$(state_of "$EXPIRED") $(state_of "$DONE")"

# A finished row written directly: a forged prober result, a forged
# exception, a row awaiting approval without a link.
refused "insert verified" "INSERT INTO verification (server_ip, token, state, verified_at, verified_by)
	VALUES ('198.51.100.4', 'token-0004', 'verified', now(), 'fra1-a 192.0.2.10')"
refused "insert manual exception" "INSERT INTO verification (server_ip, token, state, proof,
	verified_at, verified_by) VALUES ('198.51.100.5', 'token-0005', 'verified', 'manual',
	now(), 'exception: manual, approved by alice')"
refused "insert verified_at" "INSERT INTO verification (server_ip, token, verified_at)
	VALUES ('198.51.100.6', 'token-0006', now())"
web "UPDATE verification SET state = 'verified' WHERE server_ip = '198.51.100.6'"
nv_expect_eq "insert verified_at, then update state: nothing verified" 0 "$(verified)"
refused "update state" "UPDATE verification SET state = 'verified' WHERE id = $ID"
# The exception functions and the probers' WRITE run with the caller's
# rights: the web site's are not enough.
refused "approve" "SELECT * FROM ntpverify_approve($ID, 'web', 'the web site says so')"
refused "link" "SELECT * FROM ntpverify_link($ID, $NEIGHBOUR, 'web', 'same network', NULL)"
refused "audit row" "INSERT INTO verification_exception (verification_id, action, admin, reason,
	state_before, state_after) VALUES ($ID, 'approve', 'alice', 'forged', 'pending', 'verified')"
refused "prober write" "SELECT * FROM ntpverify_record('fra1', 'web', true, ARRAY[$ID::bigint],
	ARRAY[NULL::uuid], ARRAY['verified'], ARRAY['token matches'], ARRAY['192.0.2.10'::inet],
	ARRAY[1.0::float8], ARRAY[extract(epoch FROM now())::float8], ARRAY[60.0::float8],
	ARRAY[false], ARRAY[1])"
refused "register a perspective" "SELECT ntpverify_register('evil', 'z', '{192.0.2.99}', 'w')"
# A row whose quorum is met in the database but not yet decided: the
# decision is the probers' to write, not the web site's.
nv_psql -c "UPDATE verification_probe SET confirmations = 1, corroborated_at = now(),
	first_confirmed_at = now(), last_confirmed_at = now(), last_probe_at = now(),
	confirmed_by = 'p1 192.0.2.10' WHERE verification_id = $ID" >/dev/null
refused "decide" "SELECT ntpverify_decide($ID, now())"
nv_psql -c "UPDATE verification_probe SET confirmations = 0, corroborated_at = NULL,
	first_confirmed_at = NULL, last_confirmed_at = NULL, last_probe_at = NULL,
	confirmed_by = NULL WHERE verification_id = $ID" >/dev/null
nv_expect_eq "the row is still pending, unprobed" "pending|0|ntp" \
	"$(nv_psql -c "SELECT state, attempts, proof FROM verification WHERE id = $ID")"
# The web site's only state change is a cancellation (sql/schema.sql, "Who
# writes what": the probers own every other one): it may not expire a
# pending row, nor one awaiting an admin's approval. (Fails on schema 13:
# its UPDATE of state is a column right that takes any value its CHECKs
# allow, and only a row already final is refused.)
web "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.21', 'token-0021') RETURNING id"
OPEN=$OUT
state_kept "web: expire a pending row" "$OPEN" "UPDATE verification SET state = 'expired' WHERE id = $OPEN" \
	"$EXPIRE_WHY"
web "INSERT INTO verification (server_ip, token) VALUES ('198.51.100.22', 'token-0022') RETURNING id"
LINKED=$OUT
nv_psql -c "SELECT * FROM ntpverify_link($LINKED, $NEIGHBOUR, 'alice', 'same network', NULL)" >/dev/null
nv_expect_eq "a row awaiting approval" awaiting_approval "$(state_of "$LINKED")"
state_kept "web: expire a row awaiting approval" "$LINKED" \
	"UPDATE verification SET state = 'expired' WHERE id = $LINKED" \
	" by exception: only the exception functions change its state"
web "UPDATE verification SET state = 'cancelled' WHERE id IN ($OPEN, $LINKED)"
nv_expect_eq "web: cancel both" "cancelled cancelled" "$(state_of "$OPEN") $(state_of "$LINKED")"

# A web role that has TEMP (an admin who left out the REVOKE of
# docs/admins.md; this test's database grants it to PUBLIC) must not
# redirect the triggers that run with the owner's rights: a temporary
# table named like one of the schema's comes first in their search_path
# unless pg_temp is named last. (Fails on schema 13: the new row's
# perspective rows come from the web site's own "perspective" table, and
# no real perspective gets one.)
web "CREATE TEMP TABLE perspective (name text, region text);
	GRANT ALL ON pg_temp.perspective TO PUBLIC;
	INSERT INTO pg_temp.perspective VALUES ('ghost', 'x');
	INSERT INTO verification (server_ip, token) VALUES ('198.51.100.23', 'token-0023') RETURNING id"
nv_expect_eq "web with TEMP: the insert" 0 "$RC"
nv_expect_eq "web with TEMP: the new row has the real perspectives' rows, no other" fra1 \
	"$(nv_psql -c "SELECT string_agg(perspective, ',' ORDER BY perspective) FROM verification_probe
		WHERE verification_id = (SELECT id FROM verification WHERE server_ip = '198.51.100.23')")"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE server_ip = '198.51.100.23'" >/dev/null

# Where every role may create in schema public (the default of PostgreSQL
# 13 and 14, which docs/admins.md supports, and of a database made from a
# template1 that pg_upgrade brought from one; here a second database), the
# web site must not gain the owner's rights by planting an operator that
# a trigger running as the owner resolves to: bigint * interval has no
# exact operator in pg_catalog, so verification_probe_create's would be
# the web site's. Either migrate refuses such a schema (naming it) or,
# after it, the web site cannot use it so. (Fails on schema 13: migrate
# accepts the schema, and the web role ends up with every right on
# verification and verified rows of its own.)
nv_pg_createdb oldpublic
nv_psql_db oldpublic -c "GRANT CREATE ON SCHEMA public TO PUBLIC" >/dev/null
OLDCONF="$NV_TMP/oldpublic.conf"
sed "s/dbname=ntpverify/dbname=oldpublic/" "$CONF" >"$OLDCONF"
if ! MIGRATE_OUT=$("$NTPVERIFY" migrate --config "$OLDCONF" 2>&1); then
	nv_expect_match "migrate refuses a schema every role may create in" "public" "$MIGRATE_OUT"
else
	nv_psql_db oldpublic -c "$GRANTS" -c "SELECT ntpverify_register('fra1', 'a', '{192.0.2.10}', 'p1')" >/dev/null
	OUT=$(nv_psql_db oldpublic -c "SET ROLE poolweb" -c "CREATE FUNCTION public.nv_plant(a bigint, b interval)
		RETURNS interval LANGUAGE plpgsql AS \$\$
		BEGIN
			IF current_user <> 'poolweb' THEN
				EXECUTE 'GRANT ALL ON verification, verification_policy TO poolweb';
			END IF;
			RETURN a::float8 * b;
		END \$\$;
		CREATE OPERATOR public.* (LEFTARG = bigint, RIGHTARG = interval, FUNCTION = public.nv_plant);
		INSERT INTO verification (server_ip, token) VALUES ('198.51.100.24', 'token-0024');
		UPDATE verification SET state = 'verified', verified_at = now(), proof = 'manual'
		WHERE server_ip = '198.51.100.24'" 2>&1)
	nv_expect_eq "web in a writable public: no new right on verification or the policy" "false false" \
		"$(nv_psql_db oldpublic -c "SELECT has_table_privilege('poolweb', 'verification', 'UPDATE') || ' '
			|| has_table_privilege('poolweb', 'verification_policy', 'UPDATE')")"
	nv_expect_eq "web in a writable public: nothing verified" 0 \
		"$(nv_psql_db oldpublic -c "SELECT count(*) FROM verification WHERE state = 'verified'")"
fi
# A group role's right to create counts by its members, not by the
# migrating role being one of them (here a superuser, a member of every
# role): migrate names it and the two statements that fix it, and runs
# once they ran.
nv_pg_createdb grouppublic
nv_psql_db grouppublic -c "CREATE ROLE devs NOLOGIN" -c "GRANT CREATE ON SCHEMA public TO devs" >/dev/null
GROUPCONF="$NV_TMP/grouppublic.conf"
sed "s/dbname=ntpverify/dbname=grouppublic/" "$CONF" >"$GROUPCONF"
MIGRATE_OUT=$("$NTPVERIFY" migrate --config "$GROUPCONF" 2>&1)
nv_expect_eq "migrate refuses a schema a group may create in" 2 "$?"
nv_expect_match "... naming the group and the fix" "schema public: devs may create objects in it.*GRANT CREATE ON SCHEMA public TO postgres; REVOKE CREATE ON SCHEMA public FROM devs" "$MIGRATE_OUT"
nv_expect_eq "... and creates nothing" "" "$(nv_psql_db grouppublic -c "SELECT to_regclass('schema_version')")"
nv_psql_db grouppublic -c "REVOKE CREATE ON SCHEMA public FROM devs" >/dev/null
"$NTPVERIFY" migrate --config "$GROUPCONF" >/dev/null 2>&1
nv_expect_eq "migrate runs once the right is gone" 0 "$?"
nv_finish
