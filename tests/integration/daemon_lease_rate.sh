#!/bin/bash
# The daemon leases only what its rate limits let it probe before the lease
# ends: with global_pps = 2, the shortest lease_time (10 s) and everything
# else at its default, 40 due rows are each probed exactly once, every
# finished attempt is written (none discarded as "lease lost"), and the rows
# are verified as fast as the limit allows.
NV_TEST_NAME=daemon_lease_rate
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
nv_require_ntpd
command -v curl >/dev/null || nv_skip "curl missing (apt-get install curl)"
: "${NTPVERIFY:?}"

TOKEN=tok-3f9a1c2b7d
N=40
RUN_S=45
nv_start_pg
nv_start_ntpd_servers 127.0.1 "$N" "setvar ntppool_verify = \"$TOKEN\"
restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.2"

CONF=$(nv_daemon_config lr "
rate_limit { global_pps = 2 }
queue { lease_time = 10s }")
nv_migrate "$CONF"
nv_start_daemon lr "$CONF"
nv_psql -c "INSERT INTO verification (server_ip, token)
            SELECT ('127.0.1.' || i)::inet, '$TOKEN' FROM generate_series(1, $N) i"
t0=$(date +%s%3N)
ms=""
while [ $(( $(date +%s%3N) - t0 )) -lt $((RUN_S * 1000)) ]; do
	v=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")
	if [ "$v" = "$N" ] && [ -z "$ms" ]; then
		ms=$(( $(date +%s%3N) - t0 ))
	fi
	sleep 0.2
done
verified=$(nv_psql -c "SELECT count(*) FROM verification WHERE state = 'verified'")
attempts=$(nv_psql -c "SELECT count(*) FROM probe_attempt")
finished=$(grep -cE '^debug: verification [0-9]+ \(127\.0\.1\.[0-9]+\): [a-z_0-9]+ \(' "$NV_TMP/lr.log")
lost=$(grep -c 'lease lost, result discarded' "$NV_TMP/lr.log")
curl -sS --max-time 5 --unix-socket "$NV_TMP/lr.sock" http://localhost/metrics >"$NV_TMP/metrics.txt"
metric=$(awk '$1 == "ntpverify_stale_results_discarded_total" { print $2 }' "$NV_TMP/metrics.txt")
sent=$(awk '$1 == "ntpverify_packets_sent_total" { print $2 }' "$NV_TMP/metrics.txt")
given_back=$(awk '$1 == "ntpverify_leases_given_back_total" { print $2 }' "$NV_TMP/metrics.txt")
# Probed twice by us: the daemon's own log (a discarded result leaves no row).
ids_probed=$(grep -oE '^debug: verification [0-9]+ \(127\.0\.1\.[0-9]+\): [a-z_0-9]+ \(' "$NV_TMP/lr.log" |
	awk '{ print $3 }' | sort -u | wc -l)
twice=$(nv_psql -c "SELECT count(*) FROM (SELECT verification_id FROM probe_attempt
                    GROUP BY verification_id HAVING count(*) > 1) s")
nv_log "after ${RUN_S} s: $verified/$N verified, $finished attempts finished, $attempts written, $lost discarded (metric $metric), $twice rows probed twice, $sent packets sent"

nv_expect_eq "every finished attempt has its probe_attempt row" "$finished" "$attempts"
nv_expect_match "leases given back are counted" '^[0-9]+$' "$given_back"
nv_expect_eq "no result discarded as lease lost (log)" 0 "$lost"
nv_expect_eq "stale_results_discarded metric" 0 "$metric"
nv_expect_eq "no row has two probe_attempt rows" 0 "$twice"
nv_expect_eq "no row probed twice (attempts in the log = rows attempted)" "$finished" "$ids_probed"
# An attempt (READVAR with the setvar method) sends 2 packets: after the
# burst of 10, 2 packets/s is one attempt a second, so 40 rows take about
# 35 s. Leasing more than that would only let leases run out.
if [ "$verified" = "$N" ]; then
	nv_pass "all $N rows verified in ${ms} ms ($sent packets)"
else
	nv_fail "only $verified/$N rows verified in ${RUN_S} s ($sent packets)"
fi
# Never faster than the limit: the packets sent fit in burst + pps * time.
if [ -n "$ms" ] && [ "$sent" -gt $(( 10 + 2 * (ms + 1000) / 1000 )) ]; then
	nv_fail "$sent packets in $ms ms: more than global_pps allows"
fi

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
nv_expect_eq "exit status" 0 "$?"
nv_finish
