#!/bin/bash
# The exception process against real PostgreSQL: `link` (indirect proof
# from a neighbour verified by NTP), `approve` and `reject`, each with its
# audit row (who, when, why, on what evidence) asserted in the database
# and in show/list; every refusal is one line, exit 1, nothing changed;
# two admins approving at once: one wins; a prober daemon never probes or
# expires a row awaiting approval and probes it again once rejected; a
# database at schema 6 with rows migrates and its rows take part.
NV_TEST_NAME=exceptions
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf

# run CMD ARGS...: nv_run with the admin config after CMD.
run() {
	local cmd=$1
	shift
	nv_run "$cmd" --config "$CONF" "$@"
}
# A verification row by plain SQL: add ADDR [STATE [PROOF]] -> its id.
add() {
	local id
	id=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('$1', 'tok-$RANDOM$RANDOM') RETURNING id")
	if [ "${2:-pending}" != pending ]; then
		nv_psql -c "UPDATE verification SET state = '$2', proof = '${3:-ntp}',
			verified_at = now() - interval '1 day', verified_by = 'fra1-a 192.0.2.20'
			WHERE id = $id"
	fi
	echo "$id"
}
# Everything an exception action may change, as one checksum.
snapshot() {
	nv_psql -c "SELECT id, state, proof, verified_at, verified_by FROM verification ORDER BY id" \
		-c "SELECT count(*) FROM verification_exception" \
		-c "SELECT verification_id, perspective, active FROM verification_probe ORDER BY 1, 2" |
		md5sum
}
# refused WHAT LINE-REGEX CMD ARGS...: exit 1, that one line, no change.
refused() {
	local what=$1 want=$2 before
	shift 2
	before=$(snapshot)
	run "$@"
	nv_expect_eq "$what: exit 1, one line" "1:1" "$RC:$(printf '%s\n' "$ERR" | wc -l)"
	nv_expect_match "$what: says why" "$want" "$ERR"
	nv_expect_eq "$what: nothing changed" "$before" "$(snapshot)"
}

"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }
nv_psql -c "SELECT ntpverify_register('fra1', 'RIPE', '{192.0.2.20}')" >/dev/null

NB=$(add 192.0.2.9 verified)           # the neighbour, verified by NTP
NB_PENDING=$(add 192.0.2.10)           # a neighbour not verified
NB_EXC=$(add 192.0.2.11 verified manual) # a neighbour verified by exception
NB6=$(add 2001:db8:1::9 verified)
T1=$(add 192.0.2.7)                    # the OpenNTPD server
T2=$(add 198.51.100.7)                 # another /24
T6=$(add 2001:db8:1::7)
T6FAR=$(add 2001:db8:2::7)             # another /64

# 1. refusals: one line, exit 1, nothing changed.
R=(--reason "operator runs OpenNTPD next to a verified ntpd")
refused "neighbour not verified" "^ntpverify link: neighbour $NB_PENDING \(192\.0\.2\.10\) is pending, not verified$" \
	link --to "$NB_PENDING" "${R[@]}" "$T1"
refused "neighbour verified by exception" "^ntpverify link: neighbour $NB_EXC \(192\.0\.2\.11\) was verified by exception \(manual\), not by an NTP method$" \
	link --to "$NB_EXC" "${R[@]}" "$T1"
refused "another /24" "^ntpverify link: neighbour $NB \(192\.0\.2\.9\) is not in 198\.51\.100\.0/24$" \
	link --to "$NB" "${R[@]}" "$T2"
refused "another /64" "^ntpverify link: neighbour $NB6 \(2001:db8:1::9\) is not in 2001:db8:2::/64$" \
	link --to "$NB6" "${R[@]}" "$T6FAR"
refused "another family" "^ntpverify link: neighbour $NB6 \(2001:db8:1::9\) is IPv6, 192\.0\.2\.7 is IPv4$" \
	link --to "$NB6" "${R[@]}" "$T1"
refused "row not pending" "^ntpverify link: verification $NB is verified, not pending$" \
	link --to "$NB" "${R[@]}" "$NB"
# An earlier verification of the same address (maybe by its previous
# holder) is no evidence for a new request.
NB_SAME=$(nv_psql -c "INSERT INTO verification (server_ip, token, state, verified_at, verified_by)
	VALUES ('192.0.2.7', 'tok-$RANDOM$RANDOM', 'verified', now() - interval '30 days', 'fra1-a 192.0.2.20') RETURNING id")
refused "the same address" "^ntpverify link: neighbour $NB_SAME is the same address \(192\.0\.2\.7\): an earlier verification is no evidence for this one$" \
	link --to "$NB_SAME" "${R[@]}" "$T1"
refused "no such neighbour" "^ntpverify link: the neighbour verification does not exist$" \
	link --to 999999 "${R[@]}" "$T1"
refused "no such row" "^ntpverify approve: no verification with id 999999$" \
	approve "${R[@]}" 999999
refused "prefix out of range" "^ntpverify link: prefix length 8 is out of range for IPv4" \
	link --to "$NB" --prefix 8 "${R[@]}" "$T1"
refused "approve a verified row" "^ntpverify approve: verification $NB is verified, not pending or awaiting approval$" \
	approve "${R[@]}" "$NB"
# --prefix sets the network to share: in a /30, .9 is not .7's neighbour.
refused "a narrower prefix" "^ntpverify link: neighbour $NB \(192\.0\.2\.9\) is not in 192\.0\.2\.4/30$" \
	link --to "$NB" --prefix 30 "${R[@]}" "$T1"
before=$(snapshot)
run link --to "$NB" "$T1"
nv_expect_match "no reason: exit 2 and why" "^2:ntpverify link: --reason TEXT is required" "$RC:$ERR"
run approve --reason "  ok " "$T1"
nv_expect_match "a blank reason: exit 2" "^2:ntpverify approve: --reason: 3 to 1000 characters" "$RC:$ERR"
run link "${R[@]}" "$T1"
nv_expect_match "link without --to: exit 2" "^2:ntpverify link: --to ID is required" "$RC:$ERR"
run reject --to "$NB" "${R[@]}" "$T1"
nv_expect_match "reject takes no --to" "^2:ntpverify reject: unknown option --to" "$RC:$ERR"
nv_expect_eq "usage errors changed nothing" "$before" "$(snapshot)"
# The database insists too (the web site's role could call it by hand).
if nv_psql -c "SELECT * FROM ntpverify_approve($T1, 'x', '')" 2>"$NV_TMP/sql.err"; then
	nv_fail "ntpverify_approve took an empty reason"
else
	nv_expect_match "the database wants a reason" "a reason of 3 to 1000 characters is required" "$(cat "$NV_TMP/sql.err")"
fi

# Only a link moves a row to awaiting_approval (the web site's role may
# write state, not proof).
if nv_psql -c "UPDATE verification SET state = 'awaiting_approval' WHERE id = $T1" 2>"$NV_TMP/sql.err"; then
	nv_fail "a plain UPDATE made a row awaiting_approval"
else
	nv_expect_match "a plain UPDATE to awaiting_approval is refused" "verification_proof_state" "$(cat "$NV_TMP/sql.err")"
fi
T_OLD=$(add 192.0.2.6)
nv_psql -c "UPDATE verification SET expires_at = now() - interval '1 second' WHERE id = $T_OLD"
refused "link a row past its expiry" "^ntpverify link: verification $T_OLD expired at .*: start a new one$" \
	link --to "$NB" "${R[@]}" "$T_OLD"
refused "approve a row past its expiry" "^ntpverify approve: verification $T_OLD expired at .*: start a new one$" \
	approve "${R[@]}" "$T_OLD"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE id = $T_OLD"

# 2. link: awaiting_approval, not probed, audited.
run link --to "$NB" "${R[@]}" --admin alice "$T1"
nv_expect_eq "link exit" 0 "$RC"
nv_expect_eq "link says what it did" "verification $T1 for 192.0.2.7 awaits approval: linked to verification $NB (192.0.2.9), both in 192.0.2.0/24; no prober probes it meanwhile" "$OUT"
nv_expect_eq "linked row" "awaiting_approval|indirect||" \
	"$(nv_psql -c "SELECT state, proof, verified_at, verified_by FROM verification WHERE id = $T1")"
nv_expect_eq "its perspective stopped" "f" \
	"$(nv_psql -c "SELECT active FROM verification_probe WHERE verification_id = $T1")"
if nv_psql -c "UPDATE verification SET state = 'pending' WHERE id = $T1" 2>"$NV_TMP/sql.err"; then
	nv_fail "a plain UPDATE took a row out of awaiting_approval"
else
	nv_expect_match "only reject takes it back to pending" "verification_proof_state" "$(cat "$NV_TMP/sql.err")"
fi
nv_expect_eq "link audit row" "link|alice|postgres|operator runs OpenNTPD next to a verified ntpd|pending|awaiting_approval|$NB|192.0.2.9|setvar|fra1-a 192.0.2.20|24|t|t" \
	"$(nv_psql -c "SELECT action, admin, db_role, reason, state_before, state_after, evidence_id, host(evidence_server), evidence_method, evidence_verified_by, prefix_length, evidence_verified_at < now() - interval '23 hours', at > now() - interval '1 minute' FROM verification_exception WHERE verification_id = $T1")"
refused "link twice" "^ntpverify link: verification $T1 is awaiting_approval, not pending$" \
	link --to "$NB" "${R[@]}" "$T1"
run add 192.0.2.7
nv_expect_eq "add beside a row awaiting approval: exit 1" 1 "$RC"
nv_expect_match "add names the open row" "already has a pending verification \(id $T1\)" "$ERR"
run list --state awaiting_approval
nv_expect_match "list --state awaiting_approval" "^id +server +method +state +attempts +last outcome +next probe +expires +proof +quorum"$'\n'"$T1 +192\.0\.2\.7 +setvar +awaiting_approval .* indirect +0/1$" "$OUT"

# 3. approve: verified by exception, audited; a second approve is refused.
run approve --reason "neighbour $NB is the same operator's; asked by mail" --admin bob "$T1"
nv_expect_eq "approve exit" 0 "$RC"
nv_expect_eq "approve says what it did" "verification $T1 for 192.0.2.7 verified by exception (indirect): exception: indirect, approved by bob (neighbour $NB 192.0.2.9)" "$OUT"
nv_expect_eq "approved row" "verified|indirect|exception: indirect, approved by bob (neighbour $NB 192.0.2.9)|t" \
	"$(nv_psql -c "SELECT state, proof, verified_by, verified_at > now() - interval '1 minute' FROM verification WHERE id = $T1")"
nv_expect_eq "the audit trail: link then approve" "link|alice|pending|awaiting_approval|$NB
approve|bob|awaiting_approval|verified|$NB" \
	"$(nv_psql -c "SELECT action, admin, state_before, state_after, evidence_id FROM verification_exception WHERE verification_id = $T1 ORDER BY id")"
refused "approve twice" "^ntpverify approve: verification $T1 is verified, not pending or awaiting approval$" \
	approve "${R[@]}" "$T1"
run show "$T1"
nv_expect_match "show: proof at a glance" $'\n''  proof +indirect \(exception: linked to a verified neighbour, approved by an admin\)' "$OUT"
nv_expect_match "show: verified by" $'\n''  verified +[0-9-]+ [0-9:]+Z by exception: indirect, approved by bob' "$OUT"
nv_expect_match "show: the trail" $'\n''exceptions \(2, oldest first\):'$'\n''  [0-9-]+ [0-9:]+Z +link +by alice \(database role postgres\): pending -> awaiting_approval'$'\n''      evidence: verification '"$NB"', 192\.0\.2\.9, method setvar, verified [0-9-]+ [0-9:]+Z; same /24'$'\n''      reason: operator runs OpenNTPD next to a verified ntpd'$'\n''  [0-9-]+ [0-9:]+Z +approve +by bob' "$OUT"
run show --json "$T1"
nv_expect_eq "show --json: proof and trail" "indirect link,approve alice,bob $NB 24 True" "$(printf '%s\n' "$OUT" | python3 -c '
import json, re, sys
d = json.loads(sys.stdin.read())
e = d["exceptions"]
print(d["proof"], ",".join(x["action"] for x in e), ",".join(x["admin"] for x in e),
      e[0]["evidence_id"], e[0]["prefix_length"],
      all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", x["at"]) for x in e))')"
run list --json
nv_expect_eq "list --json: proof" "indirect ntp" "$(printf '%s\n' "$OUT" | python3 -c '
import json, sys
rows = {r["id"]: r for r in map(json.loads, sys.stdin.read().split("\n")[:-1])}
print(rows['"$T1"']["proof"], rows['"$NB"']["proof"])')"
# A verified-by-exception row is no evidence for another.
T1B=$(add 192.0.2.8)
refused "an approved exception is no evidence" "^ntpverify link: neighbour $T1 \(192\.0\.2\.7\) was verified by exception \(indirect\)" \
	link --to "$T1" "${R[@]}" "$T1B"

# 4. approval is refused when the evidence no longer holds.
run link --to "$NB" "${R[@]}" "$T1B"
nv_expect_eq "link T1B" 0 "$RC"
nv_psql -c "UPDATE verification SET state = 'cancelled' WHERE id = $NB"
refused "approve: neighbour no longer verified" "^ntpverify approve: neighbour $NB \(192\.0\.2\.9\) is cancelled, not verified: not approved; reject the link$" \
	approve "${R[@]}" "$T1B"
nv_psql -c "UPDATE verification SET state = 'verified', server_ip = '192.0.3.9' WHERE id = $NB"
refused "approve: neighbour now in another prefix" "^ntpverify approve: neighbour $NB \(192\.0\.3\.9\) is not in 192\.0\.2\.0/24: not approved; reject the link$" \
	approve "${R[@]}" "$T1B"
nv_psql -c "UPDATE verification SET server_ip = '192.0.2.9' WHERE id = $NB"

# 5. reject: back to pending, probed again, audited; a pending row stays.
run reject --reason "the neighbour belongs to another operator" "$T1B"
nv_expect_eq "reject exit" 0 "$RC"
nv_expect_eq "reject says what it did" "verification $T1B for 192.0.2.8 is pending: the refusal is recorded and the probers probe it as before" "$OUT"
nv_expect_eq "rejected row" "pending|ntp|t" \
	"$(nv_psql -c "SELECT state, proof, next_probe_at <= now() FROM verification WHERE id = $T1B")"
nv_expect_eq "its perspective probes it again, now" "t|t|" \
	"$(nv_psql -c "SELECT active, next_probe_at <= now(), lease_token FROM verification_probe WHERE verification_id = $T1B")"
nv_expect_eq "reject audit row (admin: the database role)" "reject|postgres|postgres|awaiting_approval|pending|" \
	"$(nv_psql -c "SELECT action, admin, db_role, state_before, state_after, evidence_id FROM verification_exception WHERE verification_id = $T1B AND action = 'reject'")"
run reject --reason "no out-of-band proof offered" --admin carol "$T2"
nv_expect_eq "reject a pending row: recorded, still pending" "0:pending|ntp:reject|carol|pending|pending" \
	"$RC:$(nv_psql -c "SELECT state, proof FROM verification WHERE id = $T2"):$(nv_psql -c "SELECT action, admin, state_before, state_after FROM verification_exception WHERE verification_id = $T2")"

# 6. manual approval of a pending row (checked out of band); IPv6 /64 link.
run approve --reason "LeoNTP appliance; serial and invoice checked" --admin dave "$T2"
nv_expect_eq "manual approve" "0:verified|manual|exception: manual, approved by dave" \
	"$RC:$(nv_psql -c "SELECT state, proof, verified_by FROM verification WHERE id = $T2")"
run list
nv_expect_match "list: the proof column tells them apart" $'\n'"$NB +192\.0\.2\.9 +setvar +verified .* ntp +0/1"$'\n' "$OUT"
nv_expect_match "list: manual" $'\n'"$T2 +198\.51\.100\.7 +setvar +verified .* manual +0/1" "$OUT"
run link --to "$NB6" "${R[@]}" "$T6"
nv_expect_match "IPv6 link in the /64" "^0:.*both in 2001:db8:1::/64" "$RC:$OUT"

# 7. two admins approving at once: exactly one succeeds.
for i in 1 2; do
	"$NTPVERIFY" approve --config "$CONF" --reason "race $i" --admin "admin$i" "$T6" >"$NV_TMP/race.$i" 2>&1 &
	eval "P$i=$!"
done
wait "$P1"; r1=$?
wait "$P2"; r2=$?
nv_expect_eq "one approve wins, one is refused" "0 1" "$(printf '%s\n' "$r1" "$r2" | sort | tr '\n' ' ' | sed 's/ $//')"
nv_expect_eq "one approve audit row" 1 \
	"$(nv_psql -c "SELECT count(*) FROM verification_exception WHERE verification_id = $T6 AND action = 'approve'")"

# 8. the daemon never probes nor expires a row awaiting approval, and
#    probes it again after a reject.
NB_LO=$(add 127.0.0.9 verified)
A=$(add 127.0.0.5)
B=$(add 127.0.0.7)
C=$(add 127.0.0.6)
run link --to "$NB_LO" "${R[@]}" "$A"
run link --to "$NB_LO" "${R[@]}" "$B"
nv_psql -c "UPDATE verification SET expires_at = now() - interval '1 minute' WHERE id = $B"
DCONF=$(nv_daemon_config p1 "
probe { timeout = 300ms retransmit = 200ms }
retry { schedule = { 1s } }
queue { poll_interval = 500ms }")
nv_psql -c "UPDATE verification_policy SET confirmations = 1" \
	-c "UPDATE verification SET state = 'cancelled' WHERE state = 'pending' AND id <> $C"
nv_start_daemon p1 "$DCONF"
if nv_sql_wait 10 "SELECT count(*) > 0 FROM probe_attempt WHERE verification_id = $C" t >/dev/null; then
	nv_pass "the daemon probes the pending row"
else
	nv_fail "the daemon did not probe the pending row"
fi
sleep 2 # several polls
nv_expect_eq "rows awaiting approval: no attempt, no lease, not expired" "awaiting_approval|0|0
awaiting_approval|0|0" \
	"$(nv_psql -c "SELECT v.state, (SELECT count(*) FROM probe_attempt a WHERE a.verification_id = v.id),
		(SELECT count(*) FROM verification_probe p WHERE p.verification_id = v.id AND (p.active OR p.lease_token IS NOT NULL))
		FROM verification v WHERE v.id IN ($A, $B) ORDER BY v.id")"
run reject --reason "not the same operator" "$A"
if nv_sql_wait 10 "SELECT count(*) > 0 FROM probe_attempt WHERE verification_id = $A" t >/dev/null; then
	nv_pass "a rejected row is probed again"
else
	nv_fail "the rejected row was not probed"
fi
# /metrics counts the exceptions (a database-wide count, every poll).
want_a=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'awaiting_approval'")
want_v=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified' AND proof <> 'ntp'")
metrics() { curl -sS --max-time 2 --unix-socket "$NV_TMP/p1.sock" http://localhost/metrics; }
if nv_wait_for 5 "metrics | grep -qx 'ntpverify_exception_rows{state=\"awaiting_approval\"} $want_a'"; then
	nv_pass "/metrics: $want_a awaiting approval"
else
	nv_fail "/metrics: no exception_rows{awaiting_approval} $want_a: $(metrics | grep exception_rows)"
fi
nv_expect_match "/metrics: verified by exception" $'\n''ntpverify_exception_rows\{state="verified"\} '"$want_v"$'\n' "$(metrics)"
nv_expect_eq "the counts tested" "1 4" "$want_a $want_v"
nv_stop_pid "$DAEMON_PID"

# 9. from schema 6, with rows: migrate keeps them and they take part.
nv_pg_createdb old6
for f in "$NV_SOURCE_DIR"/sql/migrations/00[1-6]_*.sql; do
	nv_psql_db old6 -f "$f" >/dev/null 2>&1 || nv_fail "applying $(basename "$f")"
done
nv_psql_db old6 -c "INSERT INTO verification (server_ip, token) VALUES ('203.0.113.5', 'tok-old-pending')" \
	-c "INSERT INTO verification (server_ip, token, state, verified_at, verified_by) VALUES ('203.0.113.9', 'tok-old-verified', 'verified', now(), 'p 192.0.2.1')"
sed "s/dbname=ntpverify/dbname=old6/" "$CONF" >"$NV_TMP/old6.conf"
OLD=$("$NTPVERIFY" migrate --config "$NV_TMP/old6.conf" 2>&1)
nv_expect_match "migrate from 6" "applied migration 008 \(exceptions\).*database at schema version $(nv_latest_schema)\$" "$(printf '%s' "$OLD" | tr '\n' ' ')"
nv_expect_eq "old rows: proven by NTP" "pending|ntp
verified|ntp" "$(nv_psql_db old6 -c "SELECT state, proof FROM verification ORDER BY id")"
OUT=$("$NTPVERIFY" link --config "$NV_TMP/old6.conf" --to 2 --reason "old rows link" 1 2>&1)
nv_expect_match "old rows link" "awaits approval: linked to verification 2 \(203\.0\.113\.9\), both in 203\.0\.113\.0/24" "$OUT"
OUT=$("$NTPVERIFY" approve --config "$NV_TMP/old6.conf" --reason "old rows approve" 1 2>&1)
nv_expect_eq "old rows approve" "verified|indirect" "$(nv_psql_db old6 -c "SELECT state, proof FROM verification WHERE id = 1")"
# 10. The probers' role (the GRANTs of docs/admins.md) cannot do what only
#     the exception functions may (docs/security.md, "Exceptions": "only
#     ntpverify_link() ... can put a row into awaiting_approval, and only
#     ntpverify_reject() take it back to pending"): not link a row, not
#     verify one by exception, not take a linked row back, each without an
#     audit row. (Fails on schema 13: the role's UPDATE on verification is
#     table-wide, proof included, and no trigger guards proof.)
nv_psql -c "CREATE ROLE ntpverify NOLOGIN" -c "$(nv_admins_grants ntpverify)" >/dev/null ||
	nv_fail "the documented GRANTs of the probers' role do not apply"
P_OPEN=$(add 198.51.100.61)
P_LINKED=$(add 198.51.100.62)
P_EVIDENCE=$(add 198.51.100.63 verified)
run link --to "$P_EVIDENCE" --reason "prober role check" "$P_LINKED"
nv_expect_eq "a row linked by an admin" awaiting_approval \
	"$(nv_psql -c "SELECT state FROM verification WHERE id = $P_LINKED")"
# prober_refused WHAT SQL: an error, and no verification row or audit row changed.
prober_refused() {
	local before
	before=$(snapshot)
	OUT=$(nv_psql -c "SET ROLE ntpverify" -c "$2" 2>&1)
	nv_expect_match "probers' role: $1: refused" "^ERROR:" "$OUT"
	nv_expect_eq "probers' role: $1: nothing changed" "$before" "$(snapshot)"
}
prober_refused "link without the function" "UPDATE verification SET state = 'awaiting_approval',
	proof = 'indirect' WHERE id = $P_OPEN"
prober_refused "a manual exception without the function" "UPDATE verification SET state = 'verified',
	proof = 'manual', verified_at = now(), verified_by = 'exception: manual, approved by alice'
	WHERE id = $P_OPEN"
prober_refused "reject without the function" "UPDATE verification SET state = 'pending', proof = 'ntp'
	WHERE id = $P_LINKED"
prober_refused "approve without the function" "UPDATE verification SET state = 'verified',
	verified_at = now(), verified_by = 'exception: indirect' WHERE id = $P_LINKED"
nv_finish
