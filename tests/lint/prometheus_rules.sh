#!/bin/bash
# dist/prometheus/ as Prometheus's own promtool reads it: the rules and
# the scrape example are valid, the rules' unit tests pass, and every
# alert has a test where it fires and one where it stays quiet. promtool
# comes from Debian's prometheus package, unpacked (never installed) into
# the build folder by peers.sh; no root, no namespace, no server.
NV_TEST_NAME=prometheus_rules
set -u
nv_log() { printf '%s: %s\n' "$NV_TEST_NAME" "$*" >&2; }
. "$(dirname "$0")/../integration/peers.sh"
dir="$(cd "$(dirname "$0")/../../dist/prometheus" && pwd)"

if ! nv_prometheus_fetch >/dev/null; then
	nv_log "cannot run: no promtool (apt-get download prometheus)"
	[ "${CI:-}" = "true" ] && exit 1
	exit 77
fi
promtool=$(nv_promtool_path)
fails=0
"$promtool" check rules "$dir/ntpverify.rules.yml" || fails=$((fails + 1))
"$promtool" check config "$dir/prometheus.yml" || fails=$((fails + 1))
(cd "$dir" && "$promtool" test rules ntpverify.rules.test.yml) || fails=$((fails + 1))

# Coverage: a quiet case `alertname: X, exp_alerts: []` and a firing case
# (`alertname: X` followed by expected alerts) for every alert.
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$dir/ntpverify.rules.yml")
[ -n "$alerts" ] || { nv_log "FAIL: no alert found in the rules"; fails=$((fails + 1)); }
for a in $alerts; do
	grep -q "alertname: $a, exp_alerts: \[\]" "$dir/ntpverify.rules.test.yml" ||
		{ nv_log "FAIL: $a has no test where it stays quiet"; fails=$((fails + 1)); }
	grep -A1 "alertname: $a\$" "$dir/ntpverify.rules.test.yml" | grep -q "exp_alerts:\$" ||
		{ nv_log "FAIL: $a has no test where it fires"; fails=$((fails + 1)); }
done
n=$(printf '%s\n' "$alerts" | wc -w)
if [ "$fails" -eq 0 ]; then
	nv_log "ok: $n alerts, rules and config valid, unit tests pass, each alert fires and stays quiet"
fi
[ "$fails" -eq 0 ]
