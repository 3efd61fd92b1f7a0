#!/bin/bash
# The daemon and the key method, end to end: `ntpverify add --method key`
# prints the keys, the test installs them as an operator would (NTPsec's
# keys file + trustedkey for one server, chrony's keyfile for two others),
# and the daemon verifies the rows in PostgreSQL. A key nobody installed
# ends key_not_accepted. No key ever shows in the daemon's log, list, show
# or the status socket.
#
# NTPsec binds every address on port 123, so the two daemons take turns in
# the one namespace: NTPsec first, then chrony and `ntpverify retry`.
NV_TEST_NAME=key_daemon
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chrony.sh"
nv_chrony_prepare # needs the network on first use: outside the namespace
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
command -v ss >/dev/null || nv_skip "ss(8) missing (apt-get install iproute2)"
: "${NTPVERIFY:?}"

NTPSEC_ADDR=127.0.0.10  # key installed in NTPsec
CHRONY_ADDR=127.0.0.20  # key installed in chrony
CHRONY_SHA1=127.0.0.21  # a SHA1 key installed in chrony
NOBODY_ADDR=127.0.0.30  # key installed nowhere
for a in $NTPSEC_ADDR $CHRONY_ADDR $CHRONY_SHA1 $NOBODY_ADDR; do
	ip addr add "$a/32" dev lo
done

nv_start_pg
# One attempt per row unless `retry` says otherwise; NOTIFY, not polling.
CONF=$(nv_daemon_config k1 "
probe { timeout = 1s retransmit = 500ms }
rate_limit { per_destination_interval = 1s }
retry { schedule = { 1h } }
queue { poll_interval = 1h }")
nv_migrate "$CONF"
LOG="$NV_TMP/k1.log"

# 1. add --method key, as the admin would; parse the printed lines.
ADD_OUT=$("$NTPVERIFY" add --config "$CONF" --method key $NTPSEC_ADDR $CHRONY_ADDR $NOBODY_ADDR 2>"$NV_TMP/add.err")
nv_expect_eq "add --method key exit" 0 "$?"
ADD_OUT="$ADD_OUT
$("$NTPVERIFY" add --config "$CONF" --method key --key-type SHA1 $CHRONY_SHA1 2>>"$NV_TMP/add.err")"
nv_expect_eq "add --method key --key-type SHA1 exit" 0 "$?"
printf '%s\n' "$ADD_OUT" >"$NV_TMP/add.out"

block() { # ADDR: add's output for that server
	awk -v a="$1" '/^verification [0-9]+ for / { on = ($4 == a) } on' "$NV_TMP/add.out"
}
row_id() { block "$1" | sed -n 's/^verification \([0-9]*\) for .*/\1/p'; }
ntpsec_line() { block "$1" | grep -m1 -E '^[0-9]+ (AES-128|SHA1) [0-9a-f]+$'; }
chrony_line() { block "$1" | grep -m1 -E '^[0-9]+ (AES128|SHA1) HEX:[0-9a-f]+$'; }

ID_NTPSEC=$(row_id $NTPSEC_ADDR)
ID_CHRONY=$(row_id $CHRONY_ADDR)
ID_SHA1=$(row_id $CHRONY_SHA1)
ID_NOBODY=$(row_id $NOBODY_ADDR)
nv_expect_match "four rows added" "^[0-9]+ [0-9]+ [0-9]+ [0-9]+$" "$ID_NTPSEC $ID_CHRONY $ID_SHA1 $ID_NOBODY"
SECRETS=""
for a in $NTPSEC_ADDR $CHRONY_ADDR $CHRONY_SHA1 $NOBODY_ADDR; do
	SECRETS="$SECRETS $(ntpsec_line "$a" | awk '{ print $3 }')"
done
nv_expect_eq "four keys printed" 4 "$(printf '%s\n' $SECRETS | grep -cE '^([0-9a-f]{32}|[0-9a-f]{40})$')"
# (Compared quietly: the test's log shows no key either.)
same() { # what a b
	if [ -n "$2" ] && [ "$2" = "$3" ]; then nv_pass "$1"; else nv_fail "$1: they differ"; fi
}
same "chrony's line carries the same key" \
	"$(ntpsec_line $CHRONY_ADDR | awk '{ print $1, $3 }')" \
	"$(chrony_line $CHRONY_ADDR | sed 's/ AES128 HEX:/ /')"
same "stored as printed" "$(ntpsec_line $NTPSEC_ADDR | awk '{ print $1 "|AES128|" $3 }')" \
	"$(nv_psql -c "SELECT key_id, key_type, key_secret FROM verification WHERE id = $ID_NTPSEC")"
same "SHA1 stored as printed" "$(ntpsec_line $CHRONY_SHA1 | awk '{ print $1 "|SHA1|" $3 }')" \
	"$(nv_psql -c "SELECT key_id, key_type, key_secret FROM verification WHERE id = $ID_SHA1")"

# 2. NTPsec with the first server's key, installed the way add says
#    (keys + trustedkey), under Debian's default restrictions: noquery
#    and limited do not get in the way of the key method.
ntpsec_line $NTPSEC_ADDR >"$NV_TMP/ntp.keys"
chmod 600 "$NV_TMP/ntp.keys"
nv_start_ntpd ntpsec "keys $NV_TMP/ntp.keys
$(block $NTPSEC_ADDR | grep -m1 '^trustedkey ')
restrict default kod nomodify nopeer noquery limited
restrict -6 default kod nomodify nopeer noquery limited
restrict 127.0.0.1
restrict ::1"
nv_wait_for 10 "grep -q '$NOBODY_ADDR:123' '$NV_TMP/ntpsec.log'" || nv_fail "ntpd does not listen on $NOBODY_ADDR"

nv_start_daemon k1 "$CONF"
if ms=$(nv_sql_wait 5 "SELECT state FROM verification WHERE id = $ID_NTPSEC" verified); then
	nv_pass "NTPsec row verified in ${ms} ms"
else
	nv_fail "NTPsec row $ID_NTPSEC not verified"
fi
nv_expect_eq "NTPsec row verified_by" "k1 127.0.0.2" \
	"$(nv_psql -c "SELECT verified_by FROM verification WHERE id = $ID_NTPSEC")"
nv_expect_eq "NTPsec row attempt" "1|verified|k1|127.0.0.2|MAC verifies" \
	"$(nv_psql -c "SELECT count(*) OVER (), outcome, prober, host(source_address), detail FROM probe_attempt WHERE verification_id = $ID_NTPSEC")"

# The others answer plain mode 3 (ntpd listens on every address) but not
# the keyed request: their keys are not in NTPsec's keys file.
for id in $ID_CHRONY $ID_SHA1 $ID_NOBODY; do
	if nv_sql_wait 5 "SELECT last_outcome FROM verification WHERE id = $id" key_not_accepted >/dev/null; then
		nv_pass "row $id key_not_accepted under NTPsec"
	else
		nv_fail "row $id: no key_not_accepted under NTPsec"
	fi
done
nv_expect_eq "key_not_accepted detail" "pending|NTP answers, the keyed request does not" \
	"$(nv_psql -c "SELECT state, last_detail FROM verification WHERE id = $ID_NOBODY")"
nv_expect_eq "key_not_accepted attempt" "key_not_accepted" \
	"$(nv_psql -c "SELECT outcome FROM probe_attempt WHERE verification_id = $ID_NOBODY")"

# 3. chrony with the other two servers' keys, as its keyfile lines; then
#    `ntpverify retry`, as an operator would after `chronyc rekey`.
nv_stop_pid "$NTPD_PID"
nv_start_chronyd chrony "$(chrony_line $CHRONY_ADDR)
$(chrony_line $CHRONY_SHA1)"
for id in $ID_CHRONY $ID_SHA1 $ID_NOBODY; do
	"$NTPVERIFY" retry --config "$CONF" "$id" >/dev/null || nv_fail "retry $id"
done
for id in $ID_CHRONY $ID_SHA1; do
	if ms=$(nv_sql_wait 5 "SELECT state FROM verification WHERE id = $id" verified); then
		nv_pass "chrony row $id verified ${ms} ms after retry"
	else
		nv_fail "chrony row $id not verified"
	fi
	nv_expect_eq "chrony row $id history" "key_not_accepted verified|k1 127.0.0.2" \
		"$(nv_psql -c "SELECT string_agg(a.outcome, ' ' ORDER BY a.attempted_at), min(v.verified_by) FROM probe_attempt a JOIN verification v ON v.id = a.verification_id WHERE a.verification_id = $id")"
done
if nv_sql_wait 5 "SELECT attempts FROM verification WHERE id = $ID_NOBODY" 2 >/dev/null; then
	nv_expect_eq "uninstalled key under chrony" "pending|key_not_accepted" \
		"$(nv_psql -c "SELECT state, last_outcome FROM verification WHERE id = $ID_NOBODY")"
else
	nv_fail "row $ID_NOBODY not retried"
fi
if grep -q "verification $ID_CHRONY ($CHRONY_ADDR): verified by k1 127.0.0.2" "$LOG"; then
	nv_pass "state change logged"
else
	nv_fail "no log line for the state change"
fi

# 4. the secrets stay in the database: not in the log, list, show or
#    the status socket.
"$NTPVERIFY" list --config "$CONF" >"$NV_TMP/list.out" 2>&1
nv_expect_match "list shows method and key ID" \
	"$ID_NTPSEC +$NTPSEC_ADDR +key $(ntpsec_line $NTPSEC_ADDR | awk '{ print $1 }') AES128 +verified" "$(cat "$NV_TMP/list.out")"
: >"$NV_TMP/show.out"
for id in $ID_NTPSEC $ID_CHRONY $ID_SHA1 $ID_NOBODY; do
	"$NTPVERIFY" show --config "$CONF" "$id" >>"$NV_TMP/show.out" 2>&1
done
nv_expect_match "show names the SHA1 key" \
	"key +$(ntpsec_line $CHRONY_SHA1 | awk '{ print $1 }') SHA1 \(secret not shown\)" "$(cat "$NV_TMP/show.out")"
checked="$LOG $NV_TMP/list.out $NV_TMP/show.out"
if "$NTPVERIFY" status --help >/dev/null 2>&1; then
	"$NTPVERIFY" status --socket "$NV_TMP/k1.sock" --json >"$NV_TMP/status.json" 2>&1
	nv_expect_eq "status --json exit" 0 "$?"
	"$NTPVERIFY" status --socket "$NV_TMP/k1.sock" >"$NV_TMP/status.txt" 2>&1
	checked="$checked $NV_TMP/status.json $NV_TMP/status.txt"
else
	nv_log "no 'ntpverify status' in this build: status socket not checked"
fi
for f in $checked; do
	leak=0
	for k in $SECRETS; do
		grep -qi -- "$k" "$f" && leak=1
	done
	nv_expect_eq "no key in $(basename "$f")" 0 "$leak"
done

# 5. SIGTERM: exits 0.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "daemon exit status after SIGTERM" 0 "$?"
nv_stop_pid "$DAEMON_PID"
nv_stop_pid "$CHRONYD_PID"

nv_finish
