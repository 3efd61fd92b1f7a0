#!/bin/bash
# Migration 11 replaced the three foreign keys of verification_probe and
# probe_attempt (to verification, and verification_probe's to perspective,
# ON DELETE CASCADE) by statement triggers. What the keys guaranteed still
# holds, seen from the tables: deleting one verification or 2,000 at once
# (also with only a right on verification) takes their rows with them and
# no other row; TRUNCATE ... CASCADE empties them; deleting a perspective
# takes its rows only; an INSERT (or COPY) naming a missing verification
# or perspective fails with 23503 and inserts nothing, also when one row
# of many is bad; the key columns of verification_probe cannot be
# updated (NV001) while its other columns can, nor can a verification's
# id; a registration or a WRITE racing a DELETE of its verification
# leaves no row behind; and at the end no row anywhere names a missing
# verification or perspective. Since the lead's revision: direct INSERTs
# racing a DELETE (either first) wait and leave no orphan (23503 when the
# DELETE came first); DELETE and TRUNCATE are refused with 40001 outside
# READ COMMITTED; a perspective's name is fixed (NV001). The
# deletion also behaves so on a database made from sql/schema.sql.
NV_TEST_NAME=schema_references
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf
"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }

# The web site's role with the GRANTs of docs/admins.md (as web_role.sh
# reads them), and the same role with DELETE on verification as well.
GRANTS=$(nv_admins_grants poolweb)
nv_psql -c "CREATE ROLE poolweb NOLOGIN" -c "$GRANTS" \
	-c "CREATE ROLE webdelete NOLOGIN IN ROLE poolweb" \
	-c "GRANT DELETE ON verification TO webdelete" >/dev/null ||
	{ nv_log "the documented GRANTs do not apply"; exit 1; }

# sql DB SQL...: statements on database DB as the owner, errors in
# verbose form (with their SQLSTATE); sets OUT, ERR and RC.
sql() {
	local db=$1
	shift
	OUT=$(nv_psql_db "$db" -v VERBOSITY=verbose "$@" 2>"$NV_TMP/stderr")
	RC=$?
	ERR=$(cat "$NV_TMP/stderr")
}
# rows DB ID: "perspective rows|attempt rows" of verification ID.
rows() {
	nv_psql_db "$1" -c "SELECT (SELECT count(*) FROM verification_probe WHERE verification_id = $2)
		|| '|' || (SELECT count(*) FROM probe_attempt WHERE verification_id = $2)"
}
# others DB ID...: a checksum of every row of both tables whose
# verification is not one of ID...
others() {
	local db=$1 ids
	shift
	ids=$(IFS=,; echo "$*")
	nv_psql_db "$db" -c "SELECT verification_id, perspective, next_probe_at, attempts
		FROM verification_probe WHERE verification_id NOT IN ($ids) ORDER BY 1, 2" \
		-c "SELECT id, verification_id, outcome FROM probe_attempt
		WHERE verification_id NOT IN ($ids) ORDER BY id" | md5sum
}
# attempts DB WHERE: three attempt rows for each verification WHERE.
attempts() {
	nv_psql_db "$1" -c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, outcome, perspective)
		SELECT v.id, now() - n * interval '1 minute', 'b1', 'no_response', 'p1'
		FROM verification v, generate_series(1, 3) n WHERE $2"
}

# Two perspectives, 8 verifications inserted by the web site (each with a
# row per perspective), three attempts each.
nv_psql -c "SELECT ntpverify_register('p1', 'r1', '{127.0.0.2}', 'b1'),
	ntpverify_register('p2', 'r2', '{127.0.0.3}', 'b2')" >/dev/null
nv_psql -c "SET ROLE poolweb" -c "INSERT INTO verification (server_ip, token)
	SELECT ('203.0.113.' || i)::inet, 'tok-web-' || i FROM generate_series(1, 8) i" >/dev/null ||
	nv_fail "the web site cannot insert verifications"
attempts ntpverify "v.server_ip << '203.0.113.0/24'"
id_of() { nv_psql -c "SELECT id FROM verification WHERE server_ip = '$1' AND state = 'pending'"; }
V1=$(id_of 203.0.113.1)
V2=$(id_of 203.0.113.2)

# 1. Deleting verifications. The web site's documented rights have no
#    DELETE: the one-row deletion runs as the owner, and again as a role
#    that has the web site's rights plus DELETE on verification (the
#    cascade runs with the schema owner's rights, sql/schema.sql).
sql ntpverify -c "SET ROLE poolweb" -c "DELETE FROM verification WHERE id = $V1"
nv_expect_match "the web site's documented role may not delete" "^ERROR: +42501: permission denied for table verification" "$ERR"
nv_expect_eq "verification $V1 has a row per perspective and its attempts" "2|3" "$(rows ntpverify "$V1")"
before=$(others ntpverify "$V1")
sql ntpverify -c "DELETE FROM verification WHERE id = $V1"
nv_expect_eq "owner deletes one verification" "0:" "$RC:$ERR"
nv_expect_eq "its perspective rows and attempts are gone" "0|0" "$(rows ntpverify "$V1")"
nv_expect_eq "the other verifications' rows are untouched" "$before" "$(others ntpverify "$V1")"
before=$(others ntpverify "$V1" "$V2")
sql ntpverify -c "SET ROLE webdelete" -c "DELETE FROM verification WHERE id = $V2"
nv_expect_eq "a role with DELETE on verification only deletes one" "0:" "$RC:$ERR"
nv_expect_eq "... and its rows go too" "0|0" "$(rows ntpverify "$V2")"
nv_expect_eq "... and no other row" "$before" "$(others ntpverify "$V1" "$V2")"

# 2,000 in one INSERT (4,000 perspective rows) and one DELETE.
nv_psql -c "SET ROLE poolweb" -c "INSERT INTO verification (server_ip, token)
	SELECT ('10.0.' || (i / 250) || '.' || (i % 250 + 1))::inet, 'tok-mass-' || i
	FROM generate_series(0, 1999) i" >/dev/null
attempts ntpverify "v.server_ip << '10.0.0.0/16'"
MASS="SELECT id FROM verification WHERE server_ip << '10.0.0.0/16'"
mass_rows() {
	nv_psql -c "SELECT (SELECT count(*) FROM verification_probe WHERE verification_id IN ($MASS))
		|| '|' || (SELECT count(*) FROM probe_attempt WHERE verification_id IN ($MASS))"
}
nv_expect_eq "2,000 verifications: their perspective rows and attempts" "4000|6000" "$(mass_rows)"
MASS_IDS=$(nv_psql -c "SELECT string_agg(id::text, ',') FROM verification WHERE server_ip << '10.0.0.0/16'")
before=$(others ntpverify "$MASS_IDS")
sql ntpverify -c "DELETE FROM verification WHERE server_ip << '10.0.0.0/16'"
nv_expect_eq "one DELETE of 2,000 verifications" "0:" "$RC:$ERR"
nv_expect_eq "... leaves none of their rows" "0|0" "$(nv_psql -c "SELECT
	(SELECT count(*) FROM verification_probe WHERE verification_id IN ($MASS_IDS))
	|| '|' || (SELECT count(*) FROM probe_attempt WHERE verification_id IN ($MASS_IDS))")"
nv_expect_eq "... and every other row" "$before" "$(others ntpverify "$MASS_IDS")"

# 2. TRUNCATE verification CASCADE (on a copy) empties both tables.
nv_psql -c "CREATE DATABASE truncated TEMPLATE ntpverify" >/dev/null
table_rows() {
	nv_psql_db "$1" -c "SELECT (SELECT count(*) FROM verification) || '|'
		|| (SELECT count(*) FROM verification_probe) || '|' || (SELECT count(*) FROM probe_attempt)"
}
nv_expect_eq "before TRUNCATE: 6 verifications, 12 rows, 18 attempts" "6|12|18" "$(table_rows truncated)"
sql truncated -c "SET client_min_messages = warning" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
	-c "TRUNCATE verification CASCADE"
nv_expect_match "TRUNCATE in REPEATABLE READ: 40001" \
	"^ERROR: +40001: delete or truncate verification in a READ COMMITTED transaction" "$ERR"
nv_expect_eq "... empties nothing" "6|12|18" "$(table_rows truncated)"
sql truncated -c "SET client_min_messages = warning" -c "TRUNCATE verification CASCADE"
nv_expect_eq "TRUNCATE verification CASCADE" "0:" "$RC:$ERR"
nv_expect_eq "... empties verification_probe and probe_attempt" "0|0|0" "$(table_rows truncated)"

# 3. Deleting a perspective takes its rows only, inactive ones included
#    (the attempts keep the perspective's name: they never referred to it).
nv_psql -c "SELECT ntpverify_register('p3', 'r3', '{127.0.0.4}', 'b3')" >/dev/null
nv_psql -c "UPDATE verification_probe SET active = false WHERE perspective = 'p3'
	AND verification_id IN (SELECT id FROM verification WHERE server_ip IN ('203.0.113.3', '203.0.113.4'))"
attempts ntpverify "v.server_ip = '203.0.113.3'"
nv_psql -c "UPDATE probe_attempt SET perspective = 'p3' WHERE id IN
	(SELECT max(id) FROM probe_attempt)"
persp_rows() {
	nv_psql -c "SELECT perspective || ':' || count(*) || ':' || count(*) FILTER (WHERE NOT active)
		FROM verification_probe GROUP BY perspective ORDER BY perspective" | tr '\n' ' '
}
nv_expect_eq "three perspectives' rows (all:inactive)" "p1:6:0 p2:6:0 p3:6:2 " "$(persp_rows)"
before_p=$(nv_psql -c "SELECT verification_id, perspective, attempts FROM verification_probe
	WHERE perspective <> 'p3' ORDER BY 1, 2" | md5sum)
before_a=$(nv_psql -c "SELECT id, verification_id, perspective FROM probe_attempt ORDER BY id" | md5sum)
sql ntpverify -c "DELETE FROM perspective WHERE name = 'p3'"
nv_expect_eq "DELETE of perspective p3" "0:" "$RC:$ERR"
nv_expect_eq "its rows are gone, the others' stay" "p1:6:0 p2:6:0 " "$(persp_rows)"
nv_expect_eq "the other perspectives' rows are unchanged" "$before_p" \
	"$(nv_psql -c "SELECT verification_id, perspective, attempts FROM verification_probe
	WHERE perspective <> 'p3' ORDER BY 1, 2" | md5sum)"
nv_expect_eq "the attempts are unchanged" "$before_a" \
	"$(nv_psql -c "SELECT id, verification_id, perspective FROM probe_attempt ORDER BY id" | md5sum)"

# 3b. The rows verification_probe_create makes for one INSERT of 4 (p1,
#     p2 registered): each perspective starts at a point of its own, the
#     rows in id order rotated by rank/k of them, a microsecond apart
#     (migration 11; in insertion order, unsorted, since migration 12).
ROT=$(nv_psql -c "INSERT INTO verification (server_ip, token)
	SELECT ('203.0.113.' || (200 + g))::inet, 'tok-rotation' FROM generate_series(1, 4) g
	RETURNING id" | tr '\n' ',' | sed 's/,$//')
nv_expect_eq "one INSERT of 4: p1 starts at the first row, p2 at the third" \
	"p1:0,1,2,3 p2:2,3,0,1 " \
	"$(nv_psql -c "SELECT p.perspective || ':' || string_agg(extract(epoch FROM
		p.next_probe_at - v.next_probe_at)::numeric * 1000000 || '', ',' ORDER BY p.verification_id)
		FROM verification_probe p JOIN verification v ON v.id = p.verification_id
		WHERE p.verification_id IN ($ROT) GROUP BY p.perspective ORDER BY 1" |
		sed 's/\.0*//g' | tr '\n' ' ')"
nv_psql -c "DELETE FROM verification WHERE id IN ($ROT)" >/dev/null

# 4. An INSERT naming a missing verification or perspective fails as the
#    foreign key did (23503) and inserts nothing. A cancelled verification
#    has no perspective rows (only pending ones get them).
CANCELLED=$(nv_psql -c "INSERT INTO verification (server_ip, token, state)
	VALUES ('203.0.113.50', 'tok-cancelled', 'cancelled') RETURNING id")
MISSING=$(nv_psql -c "SELECT max(id) + 1000 FROM verification")
counts() {
	nv_psql -c "SELECT (SELECT count(*) FROM verification_probe) || '|' || (SELECT count(*) FROM probe_attempt)"
}
before=$(counts)
# refused WHAT REGEX SQL...: 23503 with that message, nothing inserted.
refused() {
	local what=$1 want=$2
	shift 2
	sql ntpverify "$@"
	nv_expect_match "$what: 23503" "^ERROR: +23503: $want" "$ERR"
	nv_expect_eq "$what: nothing inserted" "$before" "$(counts)"
}
vp_insert="INSERT INTO verification_probe (verification_id, perspective, proof_version) VALUES"
pa_insert="INSERT INTO probe_attempt (verification_id, attempted_at, prober, outcome) VALUES"
refused "perspective row of a missing verification" \
	"insert into verification_probe refers to a missing row \(verification $MISSING\)" \
	-c "$vp_insert ($MISSING, 'p1', 1)"
refused "perspective row of a missing perspective" \
	"insert into verification_probe refers to a missing row \(perspective nowhere\)" \
	-c "$vp_insert ($CANCELLED, 'nowhere', 1)"
refused "three perspective rows, one of a missing perspective" \
	"insert into verification_probe refers to a missing row \(perspective p9\)" \
	-c "$vp_insert ($CANCELLED, 'p1', 1), ($CANCELLED, 'p9', 1), ($CANCELLED, 'p2', 1)"
# Migration 12: the check is skipped for verification_probe_create's own
# rows, which it marks with a setting; a session that sets the mark
# itself is still refused.
refused "perspective row of a missing verification, the create mark set by hand" \
	"insert into verification_probe refers to a missing row \(verification $MISSING\)" \
	-c "SET ntpverify.probe_rows_of_statement = on" -c "$vp_insert ($MISSING, 'p1', 1)"
refused "attempt of a missing verification" \
	"insert into probe_attempt refers to a missing row \(verification $MISSING\)" \
	-c "$pa_insert ($MISSING, now(), 'b1', 'no_response')"
refused "three attempts, one of a missing verification" \
	"insert into probe_attempt refers to a missing row \(verification $MISSING\)" \
	-c "$pa_insert ($CANCELLED, now(), 'b1', 'no_response'), ($MISSING, now(), 'b1', 'no_response'),
	($CANCELLED, now(), 'b1', 'verified')"
refused "an INSERT ... SELECT of 1,000 attempts, one missing" \
	"insert into probe_attempt refers to a missing row \(verification $MISSING\)" \
	-c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, outcome)
	SELECT CASE WHEN i = 500 THEN $MISSING ELSE $CANCELLED END, now(), 'b1', 'no_response'
	FROM generate_series(1, 1000) i"
refused "COPY of attempts, one missing" \
	"insert into probe_attempt refers to a missing row \(verification $MISSING\)" \
	-c "COPY probe_attempt (verification_id, attempted_at, prober, outcome) FROM STDIN" \
	<<<"$CANCELLED	2024-01-01 00:00:00+00	b1	no_response
$MISSING	2024-01-01 00:00:00+00	b1	no_response"
# The same rows without the bad one are accepted (what was refused was
# the reference, nothing else).
sql ntpverify -c "$vp_insert ($CANCELLED, 'p1', 1), ($CANCELLED, 'p2', 1)" \
	-c "$pa_insert ($CANCELLED, now(), 'b1', 'no_response'), ($CANCELLED, now(), 'b1', 'verified')"
nv_expect_eq "the good rows alone are inserted" "0:2|2" "$RC:$(rows ntpverify "$CANCELLED")"

# 5. The key of a perspective row cannot change (NV001); its other
#    columns can, and so can an UPDATE that sets the key to itself. The
#    new keys would be free and exist (a verification without rows, a
#    perspective without rows): only the rule refuses them.
V3=$(id_of 203.0.113.3)
EMPTY=$(nv_psql -c "INSERT INTO verification (server_ip, token, state)
	VALUES ('203.0.113.51', 'tok-empty', 'cancelled') RETURNING id")
nv_psql -c "INSERT INTO perspective (name, region) VALUES ('p4', 'r4')"
before=$(nv_psql -c "SELECT verification_id, perspective, attempts FROM verification_probe ORDER BY 1, 2" | md5sum)
key_refused() {
	sql ntpverify -c "$2"
	nv_expect_match "$1: NV001" "^ERROR: +NV001: the key of a verification_probe row may not change" "$ERR"
	nv_expect_eq "$1: nothing changed" "$before" \
		"$(nv_psql -c "SELECT verification_id, perspective, attempts FROM verification_probe ORDER BY 1, 2" | md5sum)"
}
key_refused "UPDATE of verification_id" \
	"UPDATE verification_probe SET verification_id = $EMPTY, attempts = 9 WHERE verification_id = $V3 AND perspective = 'p1'"
key_refused "UPDATE of verification_id to a missing one" \
	"UPDATE verification_probe SET verification_id = $MISSING WHERE verification_id = $V3"
key_refused "UPDATE of perspective" \
	"UPDATE verification_probe SET perspective = 'p4' WHERE verification_id = $V3 AND perspective = 'p1'"
key_refused "UPDATE of perspective to a missing one" \
	"UPDATE verification_probe SET perspective = 'nowhere' WHERE verification_id = $V3 AND perspective = 'p1'"
# Nor can the id they refer to (the foreign keys refused it with 23503;
# migration 10's follow trigger with NV001).
v3_rows=$(rows ntpverify "$V3")
sql ntpverify -c "UPDATE verification SET id = $MISSING WHERE id = $V3"
nv_expect_match "UPDATE of a verification's id: NV001" "^ERROR: +NV001: a verification's id may not change" "$ERR"
nv_expect_eq "... its rows still name it" "$v3_rows" "$(rows ntpverify "$V3")"
sql ntpverify -c "UPDATE verification_probe SET attempts = 7, next_probe_at = now() + interval '1 hour'
	WHERE verification_id = $V3 AND perspective = 'p1'"
nv_expect_eq "UPDATE of other columns works" "0:" "$RC:$ERR"
sql ntpverify -c "UPDATE verification_probe SET verification_id = verification_id, perspective = perspective,
	attempts = attempts + 1 WHERE verification_id = $V3"
nv_expect_eq "UPDATE setting the key to itself works" "0:" "$RC:$ERR"
nv_expect_eq "... and wrote the rows" "p1:8 p2:1 " "$(nv_psql -c "SELECT perspective || ':' || attempts
	FROM verification_probe WHERE verification_id = $V3 ORDER BY 1" | tr '\n' ' ')"

# 6. Races. A session runs its part in a transaction it leaves open; a
#    second session's DELETE waits for it; then the first commits. Every
#    session is bounded by timeout(1) and identified by application_name.
# session_start NAME: psql reading statements from a FIFO in the
#   background (output in $NV_TMP/NAME.out); sets the pid in SPID_NAME and
#   the FIFO's descriptor in SFD_NAME.
session_start() {
	local fifo="$NV_TMP/$1.fifo" fd
	mkfifo "$fifo"
	PGAPPNAME=$1 timeout 20 "$NV_PG_BINDIR/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
		-v VERBOSITY=verbose "$NV_PG_CONNINFO" -f - <"$fifo" >"$NV_TMP/$1.out" 2>&1 &
	eval "SPID_$1=$!"
	NV_PIDS+=("$!")
	exec {fd}>"$fifo"
	eval "SFD_$1=$fd"
}
# session_send NAME SQL: (in a subshell, as in session_end: a session
# that ended, by its error or by timeout(1), fails its assertions, not
# the test.)
session_send() {
	local fd
	eval "fd=\$SFD_$1"
	(printf '%s\n' "$2" >&"$fd") 2>/dev/null
}
# session_end NAME: end it, wait for it; sets RC. (\q, not only the end
# of its input: the sessions started after it hold its FIFO open too; in
# a subshell, which a session already stopped by ON_ERROR_STOP, with no
# reader left, ends by SIGPIPE instead of the test.)
session_end() {
	local fd pid
	eval "fd=\$SFD_$1 pid=\$SPID_$1"
	(printf '\\q\n' >&"$fd") 2>/dev/null
	exec {fd}>&-
	wait "$pid"
	RC=$?
	nv_stop_pid_wait "$pid"
}
# idle_after NAME MARK: session NAME ran SELECT 'MARK' last and is idle in
# its open transaction (at most 10 s).
idle_after() {
	nv_wait_for 10 "[ \"\$(nv_psql -c \"SELECT count(*) FROM pg_stat_activity
		WHERE application_name = '$1' AND state = 'idle in transaction'
		AND query LIKE '%''$2''%'\")\" = 1 ]"
}
# waiting NAME: session NAME waits for a lock (at most 10 s).
waiting() {
	nv_wait_for 10 "[ \"\$(nv_psql -c \"SELECT count(*) FROM pg_stat_activity
		WHERE application_name = '$1' AND wait_event_type = 'Lock'\")\" = 1 ]"
}
# race WHAT DELETE-ID STATEMENTS: the statements in session A's open
# transaction, then B's DELETE of verification DELETE-ID must wait; A
# commits, B deletes. Sets A_OUT (A's output).
race() {
	local what=$1 id=$2 a_rc
	session_start a_$id
	session_send a_$id "BEGIN;"
	session_send a_$id "$3"
	session_send a_$id "SELECT 'a-ready';"
	idle_after a_$id a-ready || nv_fail "$what: session A did not get ready"
	session_start b_$id
	session_send b_$id "DELETE FROM verification WHERE id = $id;"
	if waiting b_$id; then nv_pass "$what: the DELETE waits for A"; else nv_fail "$what: the DELETE did not wait"; fi
	session_send a_$id "COMMIT;"
	session_end a_$id
	a_rc=$RC
	A_OUT=$(cat "$NV_TMP/a_$id.out")
	session_end b_$id
	nv_expect_eq "$what: A commits, B deletes" "0 0" "$a_rc $RC"
	nv_expect_eq "$what: verification $id is gone" 0 "$(nv_psql -c "SELECT count(*) FROM verification WHERE id = $id")"
	nv_expect_eq "$what: no row names it" "0|0" "$(rows ntpverify "$id")"
}

# (a) a registration backfills the pending verifications for p3 (and
#     locks them FOR KEY SHARE) while verification V5 is deleted.
V5=$(id_of 203.0.113.5)
race "registration" "$V5" "SELECT ntpverify_register('p3', 'r3', '{127.0.0.9}', 'p3a');
	SELECT 'p3 rows ' || count(*) FROM verification_probe WHERE perspective = 'p3' AND verification_id = $V5;"
nv_expect_match "registration: A had made p3's row of $V5" "p3 rows 1" "$A_OUT"
nv_expect_eq "registration: p3 has the other pending verifications" 5 \
	"$(nv_psql -c "SELECT count(*) FROM verification_probe WHERE perspective = 'p3'")"

# (b) a prober's WRITE (one result, the loop; and 32 results, set-based)
#     with its attempt rows, while one of its verifications is deleted.
nv_psql -c "INSERT INTO verification (server_ip, token)
	SELECT ('198.51.100.' || i)::inet, 'tok-race-' || i FROM generate_series(1, 33) i" \
	-c "UPDATE verification_probe SET lease_owner = 'b1', lease_token = gen_random_uuid(),
	lease_until = now() + interval '2 minutes' WHERE perspective = 'p1'
	AND verification_id IN (SELECT id FROM verification WHERE server_ip << '198.51.100.0/24')" >/dev/null
# write WHERE: ntpverify_record for p1 of verifications WHERE, no answer,
# with the audit rows; prints how many results were applied.
write() {
	local ids="SELECT id FROM verification WHERE $1 ORDER BY id"
	echo "SELECT 'applied ' || count(*) FILTER (WHERE decided) FROM ntpverify_record('p1', 'b1', true,
		ARRAY($ids), ARRAY(SELECT lease_token FROM verification_probe WHERE perspective = 'p1'
			AND verification_id IN ($ids) ORDER BY verification_id),
		ARRAY(SELECT 'no_response' FROM ($ids) x), ARRAY(SELECT 'silent' FROM ($ids) x),
		ARRAY(SELECT '127.0.0.2'::inet FROM ($ids) x), ARRAY(SELECT NULL::float8 FROM ($ids) x),
		ARRAY(SELECT extract(epoch FROM now())::float8 FROM ($ids) x),
		ARRAY(SELECT 60::float8 FROM ($ids) x), ARRAY(SELECT false FROM ($ids) x),
		ARRAY(SELECT proof_version FROM verification WHERE id IN ($ids) ORDER BY id));
	SELECT 'attempts ' || count(*) FROM probe_attempt WHERE verification_id IN ($ids);"
}
W1=$(id_of 198.51.100.1)
race "WRITE of one result" "$W1" "$(write "id = $W1")"
nv_expect_match "WRITE of one result: A wrote it and its attempt" "applied 1.*attempts 1" "$(echo $A_OUT)"
W2=$(id_of 198.51.100.2)
race "WRITE of 32 results" "$W2" "$(write "server_ip << '198.51.100.0/24' AND server_ip <> '198.51.100.1'")"
nv_expect_match "WRITE of 32 results: A wrote them and their attempts" "applied 32.*attempts 32" "$(echo $A_OUT)"
nv_expect_eq "WRITE of 32 results: the other 31 attempts stay" 31 \
	"$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id IN
	(SELECT id FROM verification WHERE server_ip << '198.51.100.0/24')")"

# The other order: the DELETE first, left open; the WRITE waits for it and
# then finds nothing to write.
W3=$(id_of 198.51.100.3)
session_start d_del
session_send d_del "BEGIN;"
session_send d_del "DELETE FROM verification WHERE id = $W3;"
session_send d_del "SELECT 'deleted';"
idle_after d_del deleted || nv_fail "the open DELETE did not get ready"
session_start d_write
session_send d_write "$(write "id = $W3 OR server_ip = '198.51.100.4'")"
if waiting d_write; then nv_pass "a WRITE waits for an open DELETE"; else nv_fail "the WRITE did not wait for the DELETE"; fi
session_send d_del "COMMIT;"
session_end d_del
del_rc=$RC
session_end d_write
nv_expect_eq "the DELETE commits, then the WRITE" "0 0" "$del_rc $RC"
nv_expect_match "the WRITE applied the result of the remaining row only" "applied 1" "$(cat "$NV_TMP/d_write.out")"
nv_expect_eq "no row names the deleted verification" "0|0" "$(rows ntpverify "$W3")"

# (c) Direct INSERTs (no function locks anything for them) lock what they
#     refer to FOR KEY SHARE, as the foreign keys did. An INSERT into each
#     table while a DELETE of its verification is open waits for it, then
#     fails with 23503 and inserts nothing (p4 has no row of it: only the
#     reference can make them wait).
X1=$(id_of 203.0.113.6)
session_start e_del
session_send e_del "BEGIN;"
session_send e_del "DELETE FROM verification WHERE id = $X1;"
session_send e_del "SELECT 'deleted';"
idle_after e_del deleted || nv_fail "the open DELETE of $X1 did not get ready"
session_start e_pa
session_send e_pa "$pa_insert ($X1, now(), 'b1', 'no_response');"
session_start e_vp
session_send e_vp "$vp_insert ($X1, 'p4', 1);"
for s in e_pa e_vp; do
	if waiting $s; then nv_pass "direct INSERT ($s) waits for an open DELETE"
	else nv_fail "direct INSERT ($s) did not wait for the open DELETE"; fi
done
session_send e_del "COMMIT;"
session_end e_del
nv_expect_eq "the open DELETE commits" 0 "$RC"
session_end e_pa
nv_expect_match "INSERT into probe_attempt after the DELETE: 23503" \
	"^3 .*ERROR: +23503: insert into probe_attempt refers to a missing row \(verification $X1\)" \
	"$RC $(cat "$NV_TMP/e_pa.out")"
session_end e_vp
nv_expect_match "INSERT into verification_probe after the DELETE: 23503" \
	"^3 .*ERROR: +23503: insert into verification_probe refers to a missing row \(verification $X1\)" \
	"$RC $(cat "$NV_TMP/e_vp.out")"
nv_expect_eq "neither inserted a row" "0|0" "$(rows ntpverify "$X1")"
#     The other order: both INSERTs open in one transaction, the DELETE
#     waits for it, and its cascade then takes the new rows too.
X2=$(id_of 203.0.113.7)
race "direct INSERTs" "$X2" "$pa_insert ($X2, now(), 'b1', 'no_response');
	$vp_insert ($X2, 'p4', 1);
	SELECT 'inserted ' || count(*) FROM verification_probe WHERE verification_id = $X2 AND perspective = 'p4';"
nv_expect_match "direct INSERTs: A had inserted p4's row" "inserted 1" "$A_OUT"

# 6b. A cascade is refused outside READ COMMITTED (40001): its view would
#     miss rows a concurrent registration committed. Nothing is deleted;
#     the same DELETE in READ COMMITTED cascades. A verification:
X3=$(id_of 203.0.113.8)
x3_rows=$(rows ntpverify "$X3")
before=$(others ntpverify "$X3")
# isolated DB LEVEL STATEMENT: STATEMENT in a transaction of LEVEL.
isolated() {
	sql "$1" -c "BEGIN ISOLATION LEVEL $2" -c "$3" -c "COMMIT"
}
for level in "REPEATABLE READ" SERIALIZABLE; do
	isolated ntpverify "$level" "DELETE FROM verification WHERE id = $X3"
	nv_expect_match "$level DELETE of a verification: 40001" \
		"^ERROR: +40001: delete or truncate verification in a READ COMMITTED transaction" "$ERR"
	nv_expect_eq "$level: the verification and its rows stay" "1 $x3_rows" \
		"$(nv_psql -c "SELECT count(*) FROM verification WHERE id = $X3") $(rows ntpverify "$X3")"
done
nv_expect_match "(it has rows to lose)" "^[1-9][0-9]*[|][1-9]" "$x3_rows"
isolated ntpverify "READ COMMITTED" "DELETE FROM verification WHERE id = $X3"
nv_expect_eq "READ COMMITTED DELETE of that verification" "0:" "$RC:$ERR"
nv_expect_eq "... takes its rows" "0 0|0" \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE id = $X3") $(rows ntpverify "$X3")"
nv_expect_eq "... and no other row" "$before" "$(others ntpverify "$X3")"
#     A perspective (p5, just registered: a row per pending verification):
nv_psql -c "SELECT ntpverify_register('p5', 'r5', '{127.0.0.5}', 'b5')" >/dev/null
p5_before=$(persp_rows)
for level in "REPEATABLE READ" SERIALIZABLE; do
	isolated ntpverify "$level" "DELETE FROM perspective WHERE name = 'p5'"
	nv_expect_match "$level DELETE of a perspective: 40001" \
		"^ERROR: +40001: delete or truncate perspective in a READ COMMITTED transaction" "$ERR"
	nv_expect_eq "$level: the perspective and its rows stay" "1 $p5_before" \
		"$(nv_psql -c "SELECT count(*) FROM perspective WHERE name = 'p5'") $(persp_rows)"
done
nv_expect_match "(p5 has rows to lose)" " p5:[1-9]" "$p5_before"
isolated ntpverify "READ COMMITTED" "DELETE FROM perspective WHERE name = 'p5'"
nv_expect_eq "READ COMMITTED DELETE of that perspective" "0:" "$RC:$ERR"
nv_expect_eq "... takes its rows, and the others' stay" "0 $(sed 's/p5:[0-9]*:[0-9]* //' <<<"$p5_before")" \
	"$(nv_psql -c "SELECT count(*) FROM perspective WHERE name = 'p5'") $(persp_rows)"

# 6c. A perspective keeps its name (NV001), also one no prober row holds
#     (perspective_prober's foreign key refuses the others' renames
#     anyway): p6, with a row here; its region may change.
nv_psql -c "INSERT INTO perspective (name, region) VALUES ('p6', 'r6')" \
	-c "$vp_insert ($CANCELLED, 'p6', 1)"
p6() {
	nv_psql -c "SELECT s.name || ':' || s.region || ':' || count(p.*) FROM perspective s
		LEFT JOIN verification_probe p ON p.perspective = s.name
		WHERE s.name IN ('p1', 'p6', 'p7') GROUP BY s.name, s.region ORDER BY 1" | tr '\n' ' '
}
p6_before=$(p6)
for from in p6 p1; do
	sql ntpverify -c "UPDATE perspective SET name = 'p7', region = 'r7' WHERE name = '$from'"
	nv_expect_match "rename of $from: NV001" "^ERROR: +NV001: a perspective's name may not change" "$ERR"
	nv_expect_eq "rename of $from: names, regions and rows unchanged" "$p6_before" "$(p6)"
done
sql ntpverify -c "UPDATE perspective SET region = 'r6b' WHERE name = 'p6'" \
	-c "UPDATE perspective SET name = name, region = 'r1b' WHERE name = 'p1'"
nv_expect_eq "UPDATE of a region (and of a name to itself) works" "0:" "$RC:$ERR"
nv_expect_eq "... and wrote it" "$(sed 's/:r1:/:r1b:/; s/:r6:/:r6b:/' <<<"$p6_before")" "$(p6)"

# 6d. A perspective registered for the first time while the web site's
#     INSERT is open gets a row for that verification too, at the latest
#     at its next heartbeat: otherwise it never probes the row, and a
#     policy that needs it (quorum, min_regions) cannot verify it before
#     the prober reconnects. (Fails on schema 13: the registration's
#     snapshot misses the uncommitted row, the INSERT's trigger misses
#     the uncommitted perspective, and a heartbeat adds nothing.)
session_start r_web
session_send r_web "BEGIN; SET ROLE poolweb;
	INSERT INTO verification (server_ip, token) VALUES ('192.0.2.201', 'tok-reg-race');
	SELECT 'inserted';"
if idle_after r_web inserted; then nv_pass "registration race: the web site's INSERT is open"
else nv_fail "registration race: the INSERT did not run"; fi
session_start r_reg
session_send r_reg "SELECT ntpverify_register('p8', 'r8', '{127.0.0.8}', 'b8'); SELECT 'registered';"
nv_wait_for 10 "[ \"\$(nv_psql -c \"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'r_reg'
	AND ((state = 'idle' AND query LIKE '%''registered''%') OR wait_event_type = 'Lock')\")\" = 1 ]" ||
	nv_fail "registration race: the registration neither ran nor waited"
session_send r_web "COMMIT;"
session_end r_web
nv_expect_eq "registration race: the INSERT commits" 0 "$RC"
session_end r_reg
nv_expect_eq "registration race: the registration commits" 0 "$RC"
nv_psql -c "SELECT ntpverify_heartbeat('p8', 'r8', '{127.0.0.8}', 'b8')" >/dev/null
race_rows() { # "rows of p8|rows of all perspectives|perspectives" of the new verification
	nv_psql -c "SELECT count(*) FILTER (WHERE p.perspective = 'p8') || '|' || count(*) || '|'
		|| (SELECT count(*) FROM perspective) FROM verification_probe p JOIN verification v
		ON v.id = p.verification_id WHERE v.server_ip = '192.0.2.201'"
}
n_persp=$(nv_psql -c "SELECT count(*) FROM perspective")
nv_expect_eq "registration race: p8 has a row for the verification inserted meanwhile, as has every perspective" \
	"1|$n_persp|$n_persp" "$(race_rows)"

# ... while a perspective already registered registers again (every
# reconnect) without waiting for an open INSERT.
session_start r_web2
session_send r_web2 "BEGIN; SET ROLE poolweb;
	INSERT INTO verification (server_ip, token) VALUES ('192.0.2.202', 'tok-reg-race2');
	SELECT 'inserted';"
idle_after r_web2 inserted || nv_fail "re-registration: the INSERT did not run"
nv_psql -c "SET lock_timeout = '3s'" -c "SELECT ntpverify_register('p8', 'r8', '{127.0.0.8}', 'b8')" >/dev/null 2>&1
nv_expect_eq "re-registration does not wait for an open INSERT" 0 "$?"
session_send r_web2 "COMMIT;"
session_end r_web2
nv_expect_eq "re-registration: the INSERT commits" 0 "$RC"

# 6e. Every trigger function looks names up in pg_catalog, the schema,
#     then pg_temp (migration 14), whatever the caller's search_path: a
#     migration that replaces one with CREATE OR REPLACE resets it.
nv_expect_eq "every trigger function has the fixed search_path" "" \
	"$(nv_psql -c "SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p
		JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = current_schema() AND p.prorettype = 'trigger'::regtype
		  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, ' || current_schema() || ', pg_temp'], false)")"

# 7. No row anywhere names a missing verification or perspective.
orphans=$(nv_psql -c "SELECT count(*) FROM verification_probe p
	WHERE NOT EXISTS (SELECT 1 FROM verification v WHERE v.id = p.verification_id)" \
	-c "SELECT count(*) FROM probe_attempt a
	WHERE NOT EXISTS (SELECT 1 FROM verification v WHERE v.id = a.verification_id)" \
	-c "SELECT count(*) FROM verification_probe p
	WHERE NOT EXISTS (SELECT 1 FROM perspective s WHERE s.name = p.perspective)" | tr '\n' ' ')
nv_expect_eq "orphans (verification_probe, probe_attempt, perspective)" "0 0 0 " "$orphans"
nv_expect_eq "... among rows that exist" 1 "$(nv_psql -c "SELECT ((SELECT count(*) FROM verification_probe) > 0
	AND (SELECT count(*) FROM probe_attempt) > 0)::int")"

# 8. A database from sql/schema.sql deletes the same way.
nv_pg_createdb from_schema
nv_psql_db from_schema -f "$NV_SOURCE_DIR/sql/schema.sql" >/dev/null 2>"$NV_TMP/schema.err" ||
	nv_fail "sql/schema.sql does not load: $(cat "$NV_TMP/schema.err")"
nv_psql_db from_schema -c "SELECT ntpverify_register('p1', 'r1', '{127.0.0.2}', 'b1'),
	ntpverify_register('p2', 'r2', '{127.0.0.3}', 'b2')" \
	-c "INSERT INTO verification (server_ip, token) VALUES ('203.0.113.1', 'tok-schema-1'), ('203.0.113.2', 'tok-schema-2')" >/dev/null
attempts from_schema true
S1=$(nv_psql_db from_schema -c "SELECT min(id) FROM verification")
S2=$(nv_psql_db from_schema -c "SELECT max(id) FROM verification")
nv_psql_db from_schema -c "DELETE FROM verification WHERE id = $S1" >/dev/null
nv_expect_eq "schema.sql: a deleted verification's rows go, the other's stay" "0|0 2|3" \
	"$(rows from_schema "$S1") $(rows from_schema "$S2")"
sql from_schema -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "DELETE FROM verification WHERE id = $S2"
nv_expect_match "schema.sql: a REPEATABLE READ DELETE is refused (40001)" \
	"^ERROR: +40001: delete or truncate verification in a READ COMMITTED transaction" "$ERR"
sql from_schema -c "UPDATE perspective SET name = 'p7' WHERE name = 'p1'"
nv_expect_match "schema.sql: a perspective keeps its name (NV001)" \
	"^ERROR: +NV001: a perspective's name may not change" "$ERR"
nv_expect_eq "schema.sql: ... both left as they were" "1 2|3 p1,p2" \
	"$(nv_psql_db from_schema -c "SELECT count(*) FROM verification WHERE id = $S2") $(rows from_schema "$S2") $(nv_psql_db from_schema -c "SELECT string_agg(name, ',' ORDER BY name) FROM perspective")"
nv_finish
