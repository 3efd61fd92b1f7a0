#!/bin/bash
# The database contract and the admin commands against a real PostgreSQL:
# migrate, schema.sql == migrations, add/list/show/retry/cancel, the token
# and address CHECKs, the statement-level NOTIFY trigger, column defaults.
NV_TEST_NAME=admin_db
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
nv_enter_netns "$@"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

CONF="$NV_TMP/ntpverify.conf"
cat >"$CONF" <<EOF
prober_name = "prober-test"
database = "$NV_PG_CONNINFO"
source_addresses = { "192.0.2.10", "2001:db8::10" }
EOF

# run ARGS...: the binary with the test config; sets OUT, ERR and RC.
run() {
	local cmd=$1
	shift
	OUT=$("$NTPVERIFY" "$cmd" --config "$CONF" "$@" 2>"$NV_TMP/stderr")
	RC=$?
	ERR=$(cat "$NV_TMP/stderr")
}

# The schema without what differs between two databases for no reason.
schema_dump() {
	"$NV_PG_BINDIR/pg_dump" --schema-only --no-owner --no-privileges \
		"host=$NV_PG_SOCK dbname=$1 user=postgres" |
		grep -v -e '^--' -e '^SET ' -e '^SELECT pg_catalog.set_config' -e '^\\\(un\)\?restrict ' -e '^$'
}

# 1. before migrate, the commands say what to do.
run list
nv_expect_eq "list before migrate exits" 2 "$RC"
nv_expect_match "list before migrate says migrate" "run 'ntpverify migrate'" "$ERR"

# 2. migrate: twice, concurrently on a fresh database, always the latest
#    version: the highest NNN_name.sql in sql/migrations, every one of them
#    applied once and recorded with its name.
LATEST=0
EXPECT_ROWS=""
for f in "$NV_SOURCE_DIR"/sql/migrations/[0-9][0-9][0-9]_*.sql; do
	b=$(basename "$f" .sql)
	LATEST=$((10#${b%%_*}))
	EXPECT_ROWS+="${EXPECT_ROWS:+$'\n'}$LATEST|${b#*_}"
done
nv_expect_eq "sql/migrations holds migrations 1..3 at least" 1 "$((LATEST >= 3))"
run migrate
nv_expect_eq "migrate exit" 0 "$RC"
nv_expect_eq "migrate output" "database at schema version $LATEST" "$OUT"
nv_expect_match "migrate says what it applied" "applied migration 001 \(initial\)" "$ERR"
nv_expect_match "migrate applies 002" "applied migration 002 \(key_method\)" "$ERR"
nv_expect_match "migrate applies 003" "applied migration 003 \(queue_bounds\)" "$ERR"
run migrate
nv_expect_eq "second migrate exit" 0 "$RC"
nv_expect_eq "second migrate output" "database at schema version $LATEST" "$OUT"
nv_expect_eq "second migrate applies nothing" "" "$ERR"
nv_expect_eq "schema_version rows" "$EXPECT_ROWS" "$(nv_psql -c 'SELECT version, description FROM schema_version ORDER BY version')"

nv_pg_createdb concurrent
sed "s/dbname=ntpverify/dbname=concurrent/" "$CONF" >"$NV_TMP/concurrent.conf"
pids=()
for i in 1 2 3 4; do
	"$NTPVERIFY" migrate --config "$NV_TMP/concurrent.conf" >"$NV_TMP/conc.$i" 2>&1 &
	pids+=($!)
done
conc_ok=0
for i in 1 2 3 4; do
	wait "${pids[$((i - 1))]}" && grep -qx "database at schema version $LATEST" "$NV_TMP/conc.$i" &&
		conc_ok=$((conc_ok + 1))
done
nv_expect_eq "4 concurrent migrates succeed" 4 "$conc_ok"
# One row per migration file (versions may have gaps while a number is
# reserved for a migration still being written).
nv_expect_eq "concurrent migrates applied once" "$(wc -l <<<"$EXPECT_ROWS")" \
	"$(nv_psql_db concurrent -c 'SELECT count(*) FROM schema_version')"

# 3. sql/schema.sql and the migrations give the same schema.
nv_pg_createdb from_schema
nv_psql_db from_schema -f "$NV_SOURCE_DIR/sql/schema.sql" >/dev/null 2>"$NV_TMP/schema.err"
nv_expect_eq "schema.sql applies cleanly" "" "$(cat "$NV_TMP/schema.err")"
schema_dump ntpverify >"$NV_TMP/dump.migrations"
schema_dump from_schema >"$NV_TMP/dump.schema"
if diff -u "$NV_TMP/dump.migrations" "$NV_TMP/dump.schema" >"$NV_TMP/dump.diff"; then
	nv_pass "schema.sql and migrations dump identically ($(wc -l <"$NV_TMP/dump.schema") lines)"
else
	cat "$NV_TMP/dump.diff" >&2
	nv_fail "schema.sql and migrations differ"
fi
sed "s/dbname=ntpverify/dbname=from_schema/" "$CONF" >"$NV_TMP/from_schema.conf"
nv_expect_eq "migrate on a schema.sql database" "database at schema version $LATEST" \
	"$("$NTPVERIFY" migrate --config "$NV_TMP/from_schema.conf" 2>&1)"

# 3b. nothing the web site writes can overflow the prober's arithmetic:
#     attempts is bounded (migration 3).
if nv_psql -c "INSERT INTO verification (server_ip, token, attempts)
	VALUES ('192.0.2.77', 'tok-overflow1', 2147483647)" 2>"$NV_TMP/att.err"; then
	nv_fail "attempts = 2147483647 was accepted"
else
	nv_expect_match "attempts beyond the bound is refused" "verification_attempts_range" "$(cat "$NV_TMP/att.err")"
fi

# 4. add with --token: the id and the exact ntp.conf lines.
TOKEN=tok-3f9a1c2b7d
run add --token "$TOKEN" 192.0.2.1
nv_expect_eq "add --token exit" 0 "$RC"
nv_expect_match "add names the id" "^verification [0-9]+ for 192\.0\.2\.1 \(pending until [0-9-]+ [0-9:]+Z\)" "$OUT"
ID1=$(printf '%s\n' "$OUT" | sed -n 's/^verification \([0-9]*\) for .*/\1/p')
lines=$(printf '%s\n' "$OUT" | grep -E '^(setvar|restrict|ntpq) ')
nv_expect_eq "add prints the ntp.conf lines" "setvar ntppool_verify = \"$TOKEN\"
restrict 192.0.2.10
restrict 2001:db8::10
ntpq -c \"rv 0 ntppool_verify\" 127.0.0.1" "$lines"
nv_expect_match "add says restart" "restart ntpd" "$OUT"
nv_expect_eq "stored token" "$TOKEN" "$(nv_psql -c "SELECT token FROM verification WHERE id = $ID1")"

# 5. add without --token: a 128-bit token per server, as stored.
run add 198.51.100.1 2001:DB8:0::1
nv_expect_eq "add two exit" 0 "$RC"
toks=$(printf '%s\n' "$OUT" | sed -n 's/^setvar ntppool_verify = "\(.*\)"$/\1/p')
nv_expect_eq "two tokens printed" 2 "$(printf '%s\n' "$toks" | grep -cE '^[0-9a-f]{32}$')"
nv_expect_eq "tokens differ" 2 "$(printf '%s\n' "$toks" | sort -u | wc -l)"
nv_expect_eq "stored tokens" "$toks" \
	"$(nv_psql -c "SELECT token FROM verification WHERE server_ip IN ('198.51.100.1', '2001:db8::1') ORDER BY id")"
nv_expect_match "canonical IPv6" "verification [0-9]+ for 2001:db8::1 " "$OUT"
nv_expect_eq "restrict lines for both servers" 4 "$(printf '%s\n' "$OUT" | grep -cE '^restrict (192\.0\.2\.10|2001:db8::10)$')"

# 6. a second pending row for an address: refused by name, others go on.
run add 192.0.2.1 203.0.113.7
nv_expect_eq "duplicate exit" 1 "$RC"
nv_expect_match "duplicate names the id" "192\.0\.2\.1 already has a pending verification \(id $ID1\)" "$ERR"
nv_expect_match "the other address was added" "^verification [0-9]+ for 203\.0\.113\.7 " "$OUT"
nv_expect_eq "one pending row for 192.0.2.1" 1 \
	"$(nv_psql -c "SELECT count(*) FROM verification WHERE server_ip = '192.0.2.1'")"

# 7. bad input is refused by the CLI (exit 2, nothing echoed) ...
rows_before=$(nv_psql -c 'SELECT count(*) FROM verification')
run add --token 'bad"tok#en' 192.0.2.50
nv_expect_eq "bad token charset exit" 2 "$RC"
nv_expect_match "bad token message" "8 to 128 characters" "$ERR"
[[ "$ERR" == *'bad"tok'* ]] && nv_fail "the bad token was echoed" || nv_pass "bad token not echoed"
run add --token short 192.0.2.50
nv_expect_eq "short token exit" 2 "$RC"
run add --token "$TOKEN-x" 192.0.2.50 192.0.2.51
nv_expect_eq "--token with two addresses exit" 2 "$RC"
run add 192.0.2.300
nv_expect_eq "bad address exit" 2 "$RC"
nv_expect_match "bad address message" "'192\.0\.2\.300' is not an IPv4 or IPv6 address" "$ERR"
run add ntp.example.com
nv_expect_eq "host name exit" 2 "$RC"
nv_expect_eq "nothing inserted by refused adds" "$rows_before" "$(nv_psql -c 'SELECT count(*) FROM verification')"

# ... and by the database for writers that skip the CLI.
sql_rejects() { # what sql constraint
	local err
	if err=$(nv_psql -c "$2" 2>&1); then
		nv_fail "$1: accepted"
	else
		nv_expect_match "$1" "$3" "$err"
	fi
}
sql_rejects "DB rejects a short token" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.60', 'short')" verification_token_charset
sql_rejects "DB rejects a quote in a token" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.60', 'abc\"defghij')" verification_token_charset
sql_rejects "DB rejects '#' in a token" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.60', 'abc#defghij')" verification_token_charset
sql_rejects "DB rejects a 129-character token" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.60', repeat('a', 129))" verification_token_charset
sql_rejects "DB rejects a network" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.0/24', 'abcdefghij')" verification_server_ip_host
sql_rejects "DB rejects an IPv6 network" \
	"INSERT INTO verification (server_ip, token) VALUES ('2001:db8::/64', 'abcdefghij')" verification_server_ip_host
sql_rejects "DB rejects an unknown state" \
	"INSERT INTO verification (server_ip, token, state) VALUES ('192.0.2.60', 'abcdefghij', 'done')" verification_state_known
sql_rejects "DB rejects verified without verified_at" \
	"INSERT INTO verification (server_ip, token, state) VALUES ('192.0.2.60', 'abcdefghij', 'verified')" verification_verified_at_set
sql_rejects "DB rejects an unknown outcome" \
	"INSERT INTO probe_attempt (verification_id, attempted_at, prober, outcome) VALUES ($ID1, now(), 'p', 'read')" probe_attempt_outcome_known
sql_rejects "DB rejects a second pending row" \
	"INSERT INTO verification (server_ip, token) VALUES ('192.0.2.1', 'abcdefghij')" verification_one_pending

# 8. plain-SQL insert: the web site's path gets the defaults.
defaults=$(nv_psql -c "INSERT INTO verification (server_ip, token) VALUES ('192.0.2.70', 'A-z_0123456789')
	RETURNING state, attempts, expires_at - created_at, next_probe_at = created_at,
	          lease_token IS NULL, last_outcome IS NULL")
nv_expect_eq "plain-SQL defaults" "pending|0|3 days|t|t|t" "$defaults"

# 9. list and show: the rows, aligned, never a token.
nv_psql -c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, source_address, outcome, detail, rtt_ms)
	VALUES ($ID1, now() - interval '1 minute', 'prober-test', '192.0.2.10', 'mode6_silent', 'NTP answers, mode 6 does not', NULL),
	       ($ID1, now(), 'prober-test', '2001:db8::10', 'token_mismatch', 'variable holds another value', 1.25)"
run list
nv_expect_eq "list exit" 0 "$RC"
nv_expect_match "list header" "^id +server +method +state +attempts +last outcome +next probe +expires" "$OUT"
row=$(printf '%s\n' "$OUT" | awk -v id="$ID1" '$1 == id')
nv_expect_match "list has the row" "^$ID1 +192\.0\.2\.1 +setvar +pending +0 +- +[0-9-]+ [0-9:]+Z +[0-9-]+ [0-9:]+Z$" "$row"
head=$(printf '%s\n' "$OUT" | head -n1)
nv_expect_eq "list columns aligned" "$(awk -v s="$head" 'BEGIN { print index(s, "expires") }')" \
	"$(awk -v s="$row" 'BEGIN { n = split(s, f, / +/); print index(s, f[n - 1] " " f[n]) }')"
alltoks=$(nv_psql -c 'SELECT token FROM verification')
leak=0
for t in $alltoks; do
	[[ "$OUT" == *"$t"* ]] && leak=1
done
nv_expect_eq "list shows no token" 0 "$leak"
run list --state cancelled
nv_expect_eq "list --state cancelled (none)" "no verifications in state cancelled" "$OUT"
run list --state done
nv_expect_eq "list --state bad exit" 2 "$RC"

run show "$ID1"
nv_expect_eq "show exit" 0 "$RC"
nv_expect_match "show server" "server +192\.0\.2\.1" "$OUT"
nv_expect_match "show token length" "token +14 characters \(not shown\)" "$OUT"
nv_expect_match "show method" "method +setvar" "$OUT"
nv_expect_match "show history 1" "prober-test +192\.0\.2\.10 +mode6_silent +- +NTP answers, mode 6 does not" "$OUT"
nv_expect_match "show history 2" "prober-test +2001:db8::10 +token_mismatch +1\.250 ms +variable holds another value" "$OUT"
[[ "$OUT" == *"$TOKEN"* ]] && nv_fail "show printed the token" || nv_pass "show shows no token"
run show 999999
nv_expect_eq "show unknown exit" 1 "$RC"
nv_expect_match "show unknown message" "no verification with id 999999" "$ERR"
run show abc
nv_expect_eq "show bad id exit" 2 "$RC"

# 10. retry and cancel.
nv_psql -c "UPDATE verification SET next_probe_at = now() + interval '1 hour' WHERE id = $ID1"
run retry "$ID1"
nv_expect_eq "retry exit" 0 "$RC"
nv_expect_match "retry message" "verification $ID1 is due now" "$OUT"
nv_expect_eq "retry made it due" t "$(nv_psql -c "SELECT next_probe_at <= now() FROM verification WHERE id = $ID1")"
run retry 999999
nv_expect_eq "retry unknown exit" 1 "$RC"
nv_expect_match "retry unknown message" "no verification with id 999999" "$ERR"
ID3=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '203.0.113.7'")
run cancel "$ID3"
nv_expect_eq "cancel exit" 0 "$RC"
nv_expect_eq "cancel state" cancelled "$(nv_psql -c "SELECT state FROM verification WHERE id = $ID3")"
run retry "$ID3"
nv_expect_eq "retry cancelled exit" 1 "$RC"
nv_expect_match "retry cancelled message" "verification $ID3 is cancelled, not pending" "$ERR"
run cancel "$ID3"
nv_expect_eq "cancel twice exit" 1 "$RC"
run add 203.0.113.7
nv_expect_eq "add again after cancel" 0 "$RC"

# 11. NOTIFY: once per statement, only for due, unleased pending rows.
# count_notify SQL...: statements run one by one in a session that LISTENs;
# psql prints one line per notification after each statement.
count_notify() {
	{
		echo "LISTEN ntpverify_due;"
		printf '%s\n' "$@"
		echo "SELECT 1;"
	} | nv_psql -f - 2>&1 | grep -c 'Asynchronous notification "ntpverify_due"'
}
nv_expect_eq "one NOTIFY for a 3-row INSERT" 1 "$(count_notify \
	"INSERT INTO verification (server_ip, token) VALUES ('203.0.113.21', 'tokentoken21'), ('203.0.113.22', 'tokentoken22'), ('203.0.113.23', 'tokentoken23');")"
nv_expect_eq "no NOTIFY for a row due later" 0 "$(count_notify \
	"INSERT INTO verification (server_ip, token, next_probe_at) VALUES ('203.0.113.24', 'tokentoken24', now() + interval '1 hour');")"
nv_expect_eq "no NOTIFY for a lease" 0 "$(count_notify \
	"UPDATE verification SET lease_owner = 'p', lease_token = gen_random_uuid(), lease_until = now() + interval '2 minutes' WHERE server_ip << '203.0.113.0/24' AND state = 'pending';")"
nv_expect_eq "no NOTIFY for a result write" 0 "$(count_notify \
	"UPDATE verification SET lease_owner = NULL, lease_token = NULL, lease_until = NULL, next_probe_at = now() + interval '1 minute', attempts = attempts + 1 WHERE server_ip << '203.0.113.0/24' AND state = 'pending';")"
nv_expect_eq "one NOTIFY for a 3-row retry" 1 "$(count_notify \
	"UPDATE verification SET next_probe_at = now() WHERE server_ip << '203.0.113.0/24' AND state = 'pending';")"
nv_expect_eq "one NOTIFY per statement" 2 "$(count_notify \
	"INSERT INTO verification (server_ip, token) VALUES ('203.0.113.31', 'tokentoken31');" \
	"INSERT INTO verification (server_ip, token) VALUES ('203.0.113.32', 'tokentoken32');")"
id24=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '203.0.113.24'")
nv_psql -c "UPDATE verification SET next_probe_at = now() + interval '1 hour', lease_owner = 'dead', lease_token = gen_random_uuid(), lease_until = now() - interval '1 second' WHERE id = $id24"
nv_expect_eq "ntpverify retry notifies (stale lease cleared)" 1 "$(count_notify \
	"\\! \"$NTPVERIFY\" retry --config \"$CONF\" $id24 >/dev/null")"
nv_expect_eq "retry cleared the stale lease" t "$(nv_psql -c "SELECT lease_token IS NULL FROM verification WHERE id = $id24")"
nv_expect_eq "one NOTIFY for ntpverify add" 1 "$(count_notify \
	"\\! \"$NTPVERIFY\" add --config \"$CONF\" 203.0.113.40 >/dev/null")"

# 12. probe_attempt rows go with their verification.
nv_psql -c "DELETE FROM verification WHERE id = $ID1"
nv_expect_eq "attempts cascade" 0 "$(nv_psql -c "SELECT count(*) FROM probe_attempt WHERE verification_id = $ID1")"

# 13. a database that is not there: exit 2, a clear message, no password.
cat >"$NV_TMP/down.conf" <<EOF
database = "host=$NV_TMP/nowhere dbname=ntpverify user=postgres password=secret-pw"
EOF
OUT=$("$NTPVERIFY" list --config "$NV_TMP/down.conf" 2>&1)
RC=$?
nv_expect_eq "no database exit" 2 "$RC"
nv_expect_match "no database message" "cannot connect to the database" "$OUT"
[[ "$OUT" == *secret-pw* ]] && nv_fail "password printed" || nv_pass "password not printed"

# 14. the key method: a random key per server, the lines for NTPsec, ntpd
#     and chrony, stored as the migration says; list/show never print it.
run add --method key 192.0.2.80 198.51.100.80
nv_expect_eq "add --method key exit" 0 "$RC"
nv_expect_eq "add --method key names both ids" 2 "$(printf '%s\n' "$OUT" | grep -cE '^verification [0-9]+ for (192\.0\.2\.80|198\.51\.100\.80) \(pending until ')"
KIDS=$(printf '%s\n' "$OUT" | sed -n 's/^\([0-9]*\) AES-128 [0-9a-f]\{32\}$/\1/p')
KHEX=$(printf '%s\n' "$OUT" | sed -n 's/^[0-9]* AES-128 \([0-9a-f]\{32\}\)$/\1/p')
nv_expect_eq "two NTPsec key lines" 2 "$(printf '%s\n' "$KHEX" | grep -c .)"
nv_expect_eq "keys differ" 2 "$(printf '%s\n' "$KHEX" | sort -u | wc -l)"
in_range=0
for k in $KIDS; do [ "$k" -ge 1 ] && [ "$k" -le 65534 ] && in_range=$((in_range + 1)); done
nv_expect_eq "key ids in 1..65534" 2 "$in_range"
k1=$(printf '%s\n' "$KIDS" | head -n1)
h1=$(printf '%s\n' "$KHEX" | head -n1)
nv_expect_eq "ntp.org key line" 1 "$(printf '%s\n' "$OUT" | grep -cxF "$k1 AES128CMAC $h1")"
nv_expect_eq "chrony keyfile line" 1 "$(printf '%s\n' "$OUT" | grep -cxF "$k1 AES128 HEX:$h1")"
nv_expect_eq "trustedkey line (NTPsec and ntp.org)" 2 "$(printf '%s\n' "$OUT" | grep -cxF "trustedkey $k1")"
nv_expect_eq "NTPsec keys line" 2 "$(printf '%s\n' "$OUT" | grep -cx 'keys /etc/ntpsec/ntp.keys')"
nv_expect_eq "ntp.org keys line" 2 "$(printf '%s\n' "$OUT" | grep -cx 'keys /etc/ntp.keys')"
nv_expect_match "chrony keyfile setting" "keyfile /etc/chrony/chrony\.keys" "$OUT"
nv_expect_match "chrony reload" $'\nchronyc rekey\n' "$OUT"
nv_expect_match "ntpd restart" "restart ntpd" "$OUT"
nv_expect_match "key may go once verified" "can be removed" "$OUT"
nv_expect_eq "no setvar line for the key method" 0 "$(printf '%s\n' "$OUT" | grep -c '^setvar ')"
stored=$(nv_psql -c "SELECT method, key_id, key_type, key_secret, token IS NULL FROM verification WHERE server_ip = '192.0.2.80' AND state = 'pending'")
nv_expect_eq "stored key row" "key|$k1|AES128|$h1|t" "$stored"
KEYROW=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '192.0.2.80' AND state = 'pending'")

run add --method key --key-type SHA1 192.0.2.81
nv_expect_eq "add --key-type SHA1 exit" 0 "$RC"
ks=$(printf '%s\n' "$OUT" | sed -n 's/^\([0-9]*\) SHA1 [0-9a-f]\{40\}$/\1/p' | sort -u)
hs=$(printf '%s\n' "$OUT" | sed -n 's/^[0-9]* SHA1 \([0-9a-f]\{40\}\)$/\1/p' | sort -u)
nv_expect_eq "SHA1 key line (NTPsec and ntp.org)" 2 "$(printf '%s\n' "$OUT" | grep -cxE "$ks SHA1 $hs")"
nv_expect_eq "SHA1 chrony line" 1 "$(printf '%s\n' "$OUT" | grep -cxF "$ks SHA1 HEX:$hs")"
nv_expect_eq "stored SHA1 row" "key|$ks|SHA1|$hs" \
	"$(nv_psql -c "SELECT method, key_id, key_type, key_secret FROM verification WHERE server_ip = '192.0.2.81'")"
ALLKEYS="$KHEX
$hs"

# Refused before anything is inserted; nothing secret echoed.
rows_before=$(nv_psql -c 'SELECT count(*) FROM verification')
run add --method key --token "$TOKEN-k" 192.0.2.82
nv_expect_eq "--token with --method key exit" 2 "$RC"
[[ "$ERR" == *"$TOKEN-k"* ]] && nv_fail "the token was echoed" || nv_pass "token not echoed"
run add --key-type SHA1 192.0.2.82
nv_expect_eq "--key-type without --method key exit" 2 "$RC"
run add --method keys 192.0.2.82
nv_expect_eq "unknown method exit" 2 "$RC"
nv_expect_match "unknown method message" "'keys' is not setvar or key" "$ERR"
run add --method key --key-type MD5 192.0.2.82
nv_expect_eq "unknown key type exit" 2 "$RC"
run add --method key 192.0.2.80
nv_expect_eq "second key row for a pending address exit" 1 "$RC"
nv_expect_match "second key row names the pending id" "already has a pending verification \(id $KEYROW\)" "$ERR"
nv_expect_eq "no key printed for a refused add" 0 "$(printf '%s\n' "$OUT" | grep -cE '^[0-9]+ (AES-128|AES128|SHA1) ')"
nv_expect_eq "nothing inserted by refused key adds" "$rows_before" "$(nv_psql -c 'SELECT count(*) FROM verification')"

# list and show: method, key ID and type; never the secret.
run list
nv_expect_eq "list with key rows exit" 0 "$RC"
nv_expect_match "list shows the key method" "(^|"$'\n'")$KEYROW +192\.0\.2\.80 +key $k1 AES128 +pending " "$OUT"
run show "$KEYROW"
nv_expect_eq "show key row exit" 0 "$RC"
nv_expect_match "show method key" "method +key" "$OUT"
nv_expect_match "show key id and type" "key +$k1 AES128 \(secret not shown\)" "$OUT"
leak=0
for h in $ALLKEYS; do
	for f in list show; do
		o=$("$NTPVERIFY" "$f" --config "$CONF" $([ "$f" = show ] && echo "$KEYROW") 2>&1)
		[[ "$o" == *"$h"* ]] && leak=1
	done
done
nv_expect_eq "list and show print no key" 0 "$leak"

# The database keeps each method's fields apart (and never echoes a key
# in the primary message the CLI shows).
sql_rejects "DB rejects a key row with a token" \
	"INSERT INTO verification (server_ip, method, token, key_id, key_type, key_secret) VALUES ('192.0.2.90', 'key', 'abcdefghij', 7, 'AES128', repeat('a', 32))" verification_method_fields
sql_rejects "DB rejects a short AES128 key" \
	"INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('192.0.2.90', 'key', 7, 'AES128', repeat('a', 40))" verification_method_fields
sql_rejects "DB rejects upper-case hex" \
	"INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('192.0.2.90', 'key', 7, 'AES128', repeat('A', 32))" verification_method_fields
sql_rejects "DB rejects key id 0" \
	"INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('192.0.2.90', 'key', 0, 'AES128', repeat('a', 32))" verification_method_fields
sql_rejects "DB rejects an unknown key type" \
	"INSERT INTO verification (server_ip, method, key_id, key_type, key_secret) VALUES ('192.0.2.90', 'key', 7, 'MD5', repeat('a', 32))" verification_method_fields
sql_rejects "DB rejects a setvar row without a token" \
	"INSERT INTO verification (server_ip) VALUES ('192.0.2.90')" verification_method_fields
sql_rejects "DB rejects an unknown method" \
	"INSERT INTO verification (server_ip, method, token) VALUES ('192.0.2.90', 'nts', 'abcdefghij')" 'verification_method_(known|fields)'

nv_finish
