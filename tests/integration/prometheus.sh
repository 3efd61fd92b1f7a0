#!/bin/bash
# Debian's Prometheus server against a running daemon, with the rules an
# admin installs (dist/prometheus/ntpverify.rules.yml, its `for:` made 2 s):
# it scrapes status_listen every second, every rule evaluates cleanly on the
# real series, nothing fires while all is well, NtpverifyDatabaseDisconnected
# fires when PostgreSQL stops and resolves when it is back. Prometheus is
# unpacked from the .deb (peers.sh), never installed, and runs in the
# test's namespace with a private data folder. Every wait is bounded.
NV_TEST_NAME=prometheus
. "$(dirname "$0")/lib.sh"
# Fetched with the host's network, before the namespace has none.
PROMETHEUS=$(nv_prometheus_fetch) || nv_skip "cannot unpack prometheus (apt-get download prometheus)"
nv_enter_netns "$@"
. "$(dirname "$0")/pg.sh"
. "$(dirname "$0")/daemon_lib.sh"
: "${NTPVERIFY:?}"
command -v curl >/dev/null || nv_skip "curl missing (apt-get install curl)"
PY=/usr/bin/python3
PROMTOOL=$(nv_promtool_path)
DIST="$(cd "$(dirname "$0")/../../dist/prometheus" && pwd)"
PORT=9464
API=http://127.0.0.1:9090/api/v1

nv_start_pg
CONF=$(nv_daemon_config pm1 "
status_listen = \"127.0.0.1:$PORT\"
queue { poll_interval = 1s reconnect_max = 1s }")
nv_migrate "$CONF"
nv_start_daemon pm1 "$CONF"
LOG="$NV_TMP/pm1.log"

# The real rules with every `for:` shortened; nothing else changes.
sed -E 's/^( *for:).*/\1 2s/' "$DIST/ntpverify.rules.yml" >"$NV_TMP/rules.yml"
nv_expect_eq "the test rules differ from the real ones only in for:" \
	"$(grep -vc '^ *for:' "$DIST/ntpverify.rules.yml")" \
	"$(grep -vc '^ *for:' "$NV_TMP/rules.yml")"
cat >"$NV_TMP/prometheus.yml" <<CONF
global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s }
rule_files: ["$NV_TMP/rules.yml"]
scrape_configs:
  - job_name: ntpverify
    static_configs: [{ targets: ["127.0.0.1:$PORT"] }]
CONF
"$PROMTOOL" check config "$NV_TMP/prometheus.yml" >/dev/null ||
	{ nv_fail "promtool rejects the test configuration"; nv_finish; exit 1; }

"$PROMETHEUS" --config.file="$NV_TMP/prometheus.yml" \
	--storage.tsdb.path="$NV_TMP/prom-data" \
	--web.listen-address=127.0.0.1:9090 >"$NV_TMP/prometheus.log" 2>&1 &
NV_PIDS+=("$!")
nv_wait_for 30 "curl -sf --max-time 1 http://127.0.0.1:9090/-/ready >/dev/null" ||
	{ tail -n 20 "$NV_TMP/prometheus.log" >&2; nv_fail "prometheus not ready in 30 s"; nv_finish; exit 1; }

# query EXPR: the first sample's value, or "none".
query() {
	curl -sf --max-time 2 -G "$API/query" --data-urlencode "query=$1" |
		"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
# alert_state NAME: firing, pending or none, from /api/v1/alerts.
alert_state() {
	curl -sf --max-time 2 "$API/alerts" |
		"$PY" -c 'import json,sys; a=[x["state"] for x in json.load(sys.stdin)["data"]["alerts"] if x["labels"]["alertname"]==sys.argv[1]]; print(a[0] if a else "none")' "$1"
}
# Alerts firing or pending now, by name.
alerts_now() {
	curl -sf --max-time 2 "$API/alerts" |
		"$PY" -c 'import json,sys; print(" ".join(sorted(x["labels"]["alertname"] for x in json.load(sys.stdin)["data"]["alerts"])) or "none")'
}
ms() { date +%s%3N; }

nv_wait_for 20 '[ "$(query "up{job=\"ntpverify\"}")" = 1 ]' &&
	nv_pass "prometheus scrapes status_listen (up = 1)" ||
	nv_fail "the target is not up after 20 s: $(curl -s "$API/targets")"
nv_expect_eq "ntpverify_database_connected as scraped" 1 "$(query ntpverify_database_connected)"
nv_expect_match "process_open_fds as scraped" '^[0-9]+$' "$(query 'process_open_fds{job="ntpverify"}')"
# Within 2 s of what ps(1) says (now less the elapsed seconds).
start=$(query 'floor(process_start_time_seconds{job="ntpverify"})')
ps_start=$(( $(date +%s) - $(ps -o etimes= -p "$DAEMON_PID") ))
nv_expect_eq "process_start_time_seconds is the daemon's start ($start vs ps $ps_start)" yes \
	"$( [ "${start%.*}" -ge $((ps_start - 2)) ] 2>/dev/null && [ "${start%.*}" -le $((ps_start + 2)) ] && echo yes || echo no)"
# A few evaluations of every rule on the real series.
sleep 3
nv_expect_eq "every rule evaluates without error" ok \
	"$(curl -sf --max-time 2 "$API/rules" | "$PY" -c 'import json,sys; h={r["name"]+":"+r["health"] for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"] if r["health"]!="ok"}; print(" ".join(sorted(h)) or "ok")')"
nv_expect_eq "no alert while all is well" none "$(alerts_now)"

# PostgreSQL goes away: the daemon says so, the rule fires.
t0=$(ms)
nv_stop_pg
if nv_wait_for 30 '[ "$(alert_state NtpverifyDatabaseDisconnected)" = firing ]'; then
	nv_pass "NtpverifyDatabaseDisconnected fires $(( $(ms) - t0 )) ms after PostgreSQL stopped"
else
	nv_fail "NtpverifyDatabaseDisconnected not firing 30 s after PostgreSQL stopped (alerts: $(alerts_now))"
fi

# Back: the daemon reconnects, the alert resolves (leaves /api/v1/alerts).
t0=$(ms)
nv_pg_launch
if nv_wait_for 40 '[ "$(alert_state NtpverifyDatabaseDisconnected)" = none ]'; then
	nv_pass "the alert resolves $(( $(ms) - t0 )) ms after PostgreSQL is back"
else
	nv_fail "NtpverifyDatabaseDisconnected still $(alert_state NtpverifyDatabaseDisconnected) 40 s after PostgreSQL is back"
fi
nv_expect_eq "no alert after the recovery" none "$(alerts_now)"
nv_finish
