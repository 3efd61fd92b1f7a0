#!/bin/bash
# `ntpverify policy` against real PostgreSQL: the defaults after migrate;
# a change applies all or nothing; every bad value is refused with one
# line that names the rule, and changes nothing. Then what `add`, `list`
# and `show` say about perspectives and quorum progress.
NV_TEST_NAME=quorum_policy
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
nv_enter_netns "$@"
: "${NTPVERIFY:?}"
nv_start_pg

nv_admin_conf
"$NTPVERIFY" migrate --config "$CONF" >/dev/null || { nv_log "migrate failed"; exit 1; }

DEFAULTS="quorum                1
min_regions           1
confirmations         2
confirmation_gap      2s
corroboration_window  1d"
nv_run policy --config "$CONF"
nv_expect_eq "defaults after migrate" "0:$DEFAULTS" "$RC:$OUT"

nv_run policy --config "$CONF" --set quorum=3 --set min_regions=2 --set confirmation_gap=5s --set corroboration_window=12h
nv_expect_eq "a change, read back" "0:quorum                3
min_regions           2
confirmations         2
confirmation_gap      5s
corroboration_window  12h" "$RC:$OUT"
GOOD=$OUT

# bad value | the one line that must say why
BAD=(
	"quorum=0|^ntpverify policy: policy not changed: quorum must be 1 to 64$"
	"quorum=65|^ntpverify policy: policy not changed: quorum must be 1 to 64$"
	"quorum=two|^ntpverify policy: quorum: not a whole number: 'two'$"
	"quorum=-1|^ntpverify policy: quorum: not a whole number: '-1'$"
	"quorum=99999999999|^ntpverify policy: quorum: not a whole number: '99999999999'$"
	"min_regions=4|^ntpverify policy: policy not changed: min_regions must be at most quorum$"
	"min_regions=0|^ntpverify policy: policy not changed: min_regions must be 1 to 64$"
	"confirmations=17|^ntpverify policy: policy not changed: confirmations must be 1 to 16$"
	"confirmations=0|^ntpverify policy: policy not changed: confirmations must be 1 to 16$"
	"confirmation_gap=2d|^ntpverify policy: policy not changed: confirmation_gap must be 0 to 1d$"
	"confirmation_gap=soon|^ntpverify policy: confirmation_gap: not a duration: 'soon'"
	"corroboration_window=31d|^ntpverify policy: policy not changed: corroboration_window must be more than 0, at most 30d"
	"corroboration_window=0|^ntpverify policy: policy not changed: corroboration_window must be more than 0"
	"color=blue|^ntpverify policy: unknown key 'color'"
	"quorum|^ntpverify policy: --set wants KEY=VALUE, not 'quorum'$"
)
for b in "${BAD[@]}"; do
	kv=${b%%|*} want=${b#*|}
	# A good value alongside: all or nothing.
	nv_run policy --config "$CONF" --set confirmations=3 --set "$kv"
	nv_expect_eq "$kv: exit 2, one line" "2:1" "$RC:$(printf '%s\n' "$ERR" | wc -l)"
	nv_expect_match "$kv: says why" "$want" "$ERR"
	nv_run policy --config "$CONF"
	nv_expect_eq "$kv: nothing changed" "$GOOD" "$OUT"
done
# Gap times (confirmations - 1) must fit in the window.
nv_run policy --config "$CONF" --set confirmations=16 --set confirmation_gap=1h
nv_expect_match "confirmations that cannot fit the window" "longer than confirmation_gap times" "$ERR"
nv_run policy --config "$CONF" --set quorum=2 --set min_regions=1 --set confirmations=1
nv_expect_eq "back to a usable policy" 0 "$RC"
# Months are not a length (migration 14): '1 mon' passed the 30-day
# bound as 30 days and is 31 in some months; '-1 mon +31 days' compared
# as 1 day and is none in December. Written directly, the CLI writes
# milliseconds.
for iv in "corroboration_window = '1 mon'" "corroboration_window = '-1 mon +31 days'" \
	"confirmation_gap = '1 day -1 hour'"; do
	OUT=$(nv_psql -c "UPDATE verification_policy SET $iv" 2>&1)
	nv_expect_match "$iv: refused" "verification_policy_plain_intervals" "$OUT"
done
nv_run policy --config "$CONF"
nv_expect_match "... and the policy kept" "corroboration_window" "$OUT"

# --- add, list and show ---------------------------------------------------
nv_run add --config "$CONF" 203.0.113.5
nv_expect_match "add without perspectives: the local source" $'\nrestrict 192.0.2.10\n' "$OUT"
nv_psql -c "SELECT ntpverify_register('fra1', 'RIPE', '{192.0.2.20,2001:db8::20}')" \
	-c "SELECT ntpverify_register('nyc1', 'ARIN', '{198.51.100.7}')" >/dev/null
nv_run add --config "$CONF" 203.0.113.6
nv_expect_match "add lists every perspective's addresses" $'\nrestrict 192.0.2.20\nrestrict 198.51.100.7\nrestrict 2001:db8::20\n' "$OUT"
[[ "$OUT" == *"restrict 192.0.2.10"* ]] && nv_fail "add printed the local source too" || nv_pass "not the local source"
ID=$(nv_psql -c "SELECT id FROM verification WHERE server_ip = '203.0.113.6'")
# fra1 corroborates, nyc1 saw another value.
nv_psql -c "SELECT * FROM ntpverify_record('fra1', 'p-fra', true, '{$ID}', '{NULL}', '{verified}', '{token matches}', '{192.0.2.20}', '{1.5}', ARRAY[extract(epoch FROM now())::float8], '{60}', '{f}', '{1}')" \
	-c "SELECT * FROM ntpverify_record('nyc1', 'p-nyc', true, '{$ID}', '{NULL}', '{token_mismatch}', '{other value}', '{198.51.100.7}', '{2}', ARRAY[extract(epoch FROM now())::float8], '{60}', '{t}', '{1}')" >/dev/null
nv_run list --config "$CONF" --state pending
nv_expect_match "list shows quorum progress" "quorum" "$(printf '%s\n' "$OUT" | head -1)"
nv_expect_match "list: 1/2 for the new row" "^$ID .* 1/2$" "$(printf '%s\n' "$OUT" | grep "^$ID ")"
nv_run show --config "$CONF" "$ID"
nv_expect_match "show: quorum progress" "quorum +1/2 corroborating \(regions 1, 1 needed; contrary 1, 1 allowed\)" "$OUT"
nv_expect_match "show: why pending" "pending +1 more corroborating perspective needed" "$OUT"
nv_expect_match "show: fra1's corroboration" $'\n  fra1 +RIPE +1 +verified +1 +[0-9]' "$OUT"
nv_expect_match "show: nyc1's contrary observation" $'\n  nyc1 +ARIN +1 +token_mismatch +0 +- +token_mismatch at ' "$OUT"
nv_finish
