#!/bin/bash
# The admin commands as a script and an admin meet them: --json on add,
# list and show (parsed, fields, RFC 3339 UTC times); one voice for errors
# ("ntpverify CMD: ...", a missing value vs an unknown option vs a missing
# operand); --help for every command, exit 0; database errors on one line
# with a hint (a role without rights, an unmigrated database); config
# errors with file:line and the fix; check-config for run vs admin.
NV_TEST_NAME=admin_cli
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
nv_enter_netns "$@"
: "${NTPVERIFY:?}" "${NV_SOURCE_DIR:?}"
nv_start_pg

nv_admin_conf

# jq-less field checks: py EXPR with the JSON on stdin as `d` (one object)
# or `rows` (a list, one object per input line).
py() {
	python3 -c 'import json, re, sys
lines = [l for l in sys.stdin.read().split("\n") if l.strip()]
# Duplicate keys would pass json.loads silently: refuse them.
def strict(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "duplicate key in %s" % keys
    return dict(pairs)
rows = [json.loads(l, object_pairs_hook=strict) for l in lines]
d = rows[0] if rows else None
T = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
print(eval(sys.argv[1]))' "$1"
}

# 1. before migrate: one line and the hint.
nv_run list --config "$CONF"
nv_expect_eq "unmigrated list exit" 2 "$RC"
nv_expect_match "unmigrated list says migrate" "^ntpverify list: .*run 'ntpverify migrate'" "$ERR"

# 2. migrate by a role without rights: one line plus the owner hint.
nv_psql -c "CREATE ROLE weak LOGIN" >/dev/null
nv_psql -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" >/dev/null
sed "s/user=postgres/user=weak/" "$CONF" >"$NV_TMP/weak.conf"
nv_run migrate --config "$NV_TMP/weak.conf"
nv_expect_eq "migrate without rights exit" 2 "$RC"
nv_expect_eq "migrate without rights: two lines" 2 "$(printf '%s\n' "$ERR" | wc -l)"
nv_expect_match "migrate without rights: the reason" "^ntpverify migrate: the schema was not brought up to date: .*permission denied" "$ERR"
nv_expect_match "migrate without rights: the hint" $'\n''ntpverify migrate: hint: .*owns the tables.*docs/admins.md' "$ERR"
nv_run migrate --config "$CONF"
nv_expect_eq "migrate exit" 0 "$RC"

# 3. a prober-like role: reads but may not insert; the hint names the
#    admin configuration.
nv_psql -c "GRANT SELECT ON ALL TABLES IN SCHEMA public TO weak" >/dev/null
nv_run add --config "$NV_TMP/weak.conf" 192.0.2.5
nv_expect_eq "add without rights exit" 2 "$RC"
nv_expect_match "add without rights: one line" "^ntpverify add: 192\.0\.2\.5: permission denied for table verification"$'\n' "$ERR"
nv_expect_match "add without rights: hint" "hint: .*admin configuration" "$ERR"

# 4. a database that does not exist: one line and the connection hint.
sed "s/dbname=ntpverify/dbname=nosuchdb/" "$CONF" >"$NV_TMP/nodb.conf"
nv_run list --config "$NV_TMP/nodb.conf"
nv_expect_eq "no such database exit" 2 "$RC"
nv_expect_eq "no such database: two lines" 2 "$(printf '%s\n' "$ERR" | wc -l)"
nv_expect_match "no such database: reason" "^ntpverify list: cannot connect to the database: .*nosuchdb" "$ERR"
nv_expect_match "no such database: hint" "hint: check the connection string" "$ERR"

# 5. add --json: one object per server, no sed needed.
nv_run add --config "$CONF" --json 192.0.2.1 2001:DB8::1
nv_expect_eq "add --json exit" 0 "$RC"
nv_expect_eq "add --json: two objects" 2 "$(printf '%s\n' "$OUT" | py 'len(rows)')"
nv_expect_eq "add --json fields" "True" "$(printf '%s\n' "$OUT" | py \
	'all(isinstance(r["id"], int) and r["method"] == "setvar" and T.match(r["expires_at"]) and re.match(r"^[0-9a-f]{32}$", r["token"]) and "setvar ntppool_verify = \"%s\"" % r["token"] in r["instructions"] and "restrict 192.0.2.10" in r["instructions"] for r in rows)')"
nv_expect_eq "add --json canonical server" "2001:db8::1" "$(printf '%s\n' "$OUT" | py 'rows[1]["server"]')"
ID1=$(printf '%s\n' "$OUT" | py 'rows[0]["id"]')
nv_run add --config "$CONF" --json --method key --key-type SHA1 192.0.2.2
nv_expect_eq "add --json key" "key SHA1 True True" "$(printf '%s\n' "$OUT" | py \
	'"%s %s %s %s" % (d["method"], d["key_type"], 1 <= d["key_id"] <= 65534, "token" not in d)')"
KID=$(printf '%s\n' "$OUT" | py 'd["id"]')
KEYHEX=$(printf '%s\n' "$OUT" | py '[l.split()[2] for l in d["instructions"] if re.match(r"^\d+ SHA1 [0-9a-f]{40}$", l)][0]')

# 6. list --json: one object per line, columns as fields.
nv_psql -c "INSERT INTO probe_attempt (verification_id, attempted_at, prober, source_address, outcome, detail, rtt_ms)
	VALUES ($ID1, now(), 'prober-test', '192.0.2.10', 'token_mismatch', 'variable holds \"another\" value', 1.25)" >/dev/null
nv_run list --config "$CONF" --json
nv_expect_eq "list --json exit" 0 "$RC"
nv_expect_eq "list --json rows" 3 "$(printf '%s\n' "$OUT" | py 'len(rows)')"
nv_expect_eq "list --json fields" "True" "$(printf '%s\n' "$OUT" | py \
	'all(set(r) == {"id","server","method","key_id","key_type","state","attempts","last_outcome","next_probe_at","probing","expires_at","proof"} and T.match(r["expires_at"]) and T.match(r["next_probe_at"]) and r["probing"] is False for r in rows)')"
nv_expect_eq "list --json key row" "key $KID SHA1" "$(printf '%s\n' "$OUT" | py \
	'[("%s %s %s" % (r["method"], r["id"], r["key_type"])) for r in rows if r["method"] == "key"][0]')"
[[ "$OUT" == *"$KEYHEX"* ]] && nv_fail "list --json printed a key" || nv_pass "list --json prints no key"
nv_run list --config "$CONF" --json --state cancelled
nv_expect_eq "list --json with no rows prints nothing" "0:" "$RC:$OUT"

# 7. show --json: the verification and its attempts.
nv_run show --config "$CONF" --json "$ID1"
nv_expect_eq "show --json exit" 0 "$RC"
nv_expect_eq "show --json fields" "True" "$(printf '%s\n' "$OUT" | py \
	'd["id"] == '"$ID1"' and d["state"] == "pending" and d["token_length"] == 32 and "token" not in d and T.match(d["created_at"]) and T.match(d["expires_at"]) and d["verified_at"] is None')"
nv_expect_eq "show --json attempt" "True" "$(printf '%s\n' "$OUT" | py \
	'd["attempts"] == 0 and len(d["history"]) == 1 and T.match(d["history"][0]["at"]) and d["history"][0]["rtt_ms"] == 1.25 and d["history"][0]["detail"] == "variable holds \"another\" value"')"
nv_run show --config "$CONF" --json "$KID"
[[ "$OUT" == *"$KEYHEX"* ]] && nv_fail "show --json printed a key" || nv_pass "show --json prints no key"

# 8. human output: one time format everywhere.
nv_run show --config "$CONF" "$ID1"
nv_expect_match "show: times as YYYY-MM-DD HH:MM:SSZ" "created +20[0-9-]{8} [0-9:]{8}Z"$'\n' "$OUT"
nv_expect_eq "show: no RFC 3339 T in human output" 0 "$(printf '%s\n' "$OUT" | grep -cE '[0-9]T[0-9]')"

# 9. one voice for errors.
for cmd in add list show retry cancel migrate status; do
	nv_run "$cmd" --config
	nv_expect_match "$cmd --config without a value" "^ntpverify $cmd: option --config needs a value" "$ERR"
	nv_expect_eq "$cmd --config without a value exit" 2 "$RC"
done
nv_run check-config --for
nv_expect_match "check-config --for without a value" "^ntpverify check-config: option --for needs a value" "$ERR"
for cmd in add list show retry cancel migrate status check-config; do
	nv_run "$cmd" --bogus=secret-value
	nv_expect_match "$cmd unknown option" "^ntpverify $cmd: unknown option --bogus"$'\n' "$ERR"
	[[ "$ERR" == *secret-value* ]] && nv_fail "$cmd echoed an option's value" || nv_pass "$cmd does not echo the value"
done
nv_run cancel -1
nv_expect_match "cancel -1" "^ntpverify cancel: unknown option -1" "$ERR"
nv_run list --token abcdefghij
nv_expect_match "another command's option" "^ntpverify list: unknown option --token" "$ERR"
for cmd in show retry cancel; do
	nv_run "$cmd" --config "$CONF"
	nv_expect_match "$cmd without ID" "^ntpverify $cmd: missing operand: ID" "$ERR"
	nv_expect_eq "$cmd without ID exit" 2 "$RC"
done
nv_run add --config "$CONF"
nv_expect_match "add without IP" "^ntpverify add: missing operand: IP" "$ERR"
nv_run check-config
nv_expect_match "check-config without FILE" "^ntpverify check-config: missing operand: FILE" "$ERR"
nv_run show --config "$CONF" 1 2
nv_expect_match "show with two IDs" "^ntpverify show: unexpected operand '2'" "$ERR"

# 10. --help for every command: exit 0, every option described.
mapfile -t cmds < <("$NTPVERIFY" --help | sed -n '/^commands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p')
for cmd in "${cmds[@]}"; do
	nv_run "$cmd" --help
	nv_expect_eq "$cmd --help exit" 0 "$RC"
	nv_expect_match "$cmd --help has options" $'\noptions:\n' "$OUT"
	nv_run help "$cmd"
	nv_expect_eq "help $cmd exit" 0 "$RC"
done
nv_run add --config "$CONF" --help
nv_expect_eq "add --config F --help exit" 0 "$RC"
nv_expect_match "add --help describes --json" "--json +one JSON object per line" "$OUT"

# 11. configuration errors: file:line and the fix.
printf 'prober_name = "p"\nretry {\n  schedule = {}\n}\n' >"$NV_TMP/sched.conf"
nv_run check-config "$NV_TMP/sched.conf"
nv_expect_match "empty retry.schedule names its line" "^ntpverify check-config: $NV_TMP/sched.conf:[0-9]+: retry.schedule: needs at least one entry" "$ERR"
printf 'prober_name = "p"\ndatabase = host=/run/postgresql dbname=ntpverify\n' >"$NV_TMP/unquoted.conf"
nv_run check-config "$NV_TMP/unquoted.conf"
nv_expect_match "unquoted database: the fix" "unquoted.conf:2: unexpected token '=' \(quote the value: database = \"host=/run/postgresql dbname=ntpverify\"\)" "$ERR"

# 12. check-config checks what run needs, or says it did not.
nv_run check-config "$CONF"
nv_expect_eq "check-config (run) without prober_name exit" 2 "$RC"
nv_expect_match "check-config names prober_name" "prober_name: not set, and 'ntpverify run' needs it" "$ERR"
nv_run check-config --for admin "$CONF"
nv_expect_eq "check-config --for admin exit" 0 "$RC"
nv_expect_eq "check-config --for admin says so" "configuration OK for the one-shot commands (not checked for run)" "$OUT"
nv_run run --config "$CONF"
nv_expect_eq "run refuses what check-config refused" 2 "$RC"
nv_run check-config --for daemon "$CONF"
nv_expect_match "check-config --for bad" "^ntpverify check-config: --for: 'daemon' is not run or admin" "$ERR"

nv_finish
