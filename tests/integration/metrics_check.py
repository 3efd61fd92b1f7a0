#!/usr/bin/python3
"""Validate ntpverify's /metrics with the Prometheus client's own parser.

    metrics_check.py METRICS_FILE [--attempts PSQL_FILE] [--expect K=V ...]
                     [--value NAME{LABELS}]

METRICS_FILE is the body of GET /metrics. The checks:

  * it parses with prometheus_client.parser.text_string_to_metric_families
    (the reference parser of the text format, not a regular expression);
  * every family is named ntpverify_* (or is a standard process_* one),
    has a # HELP text and a # TYPE, and is declared once; counters are
    exposed as *_total; no name retired in 0.1 (RETIRED) is back;
  * process_open_fds is at most process_max_fds, and the process started
    in the past;
  * the families an admin alerts on are all there (REQUIRED below);
  * histograms are cumulative and their +Inf bucket equals _count;
  * ntpverify_attempts_total has a series for every outcome in OUTCOMES;
  * --attempts: a file of `outcome|count` lines (psql -A -t output of
    SELECT outcome, count(*) FROM probe_attempt GROUP BY outcome): each
    attempts_total series must equal its row count (0 when absent);
  * --expect 'name{label="v"}=N': that sample has value N.

--value prints one sample's value and skips the report (for shell tests).
Exit 0 when every check passed, 1 otherwise (each failure on stderr).
"""
import argparse
import math
import re
import sys
import time

from prometheus_client.parser import text_string_to_metric_families

OUTCOMES = [
    "verified", "token_mismatch", "variable_missing", "mode6_error",
    "mode6_silent", "no_response", "unreachable", "malformed",
    "rate_limited", "refused_by_policy", "key_not_accepted", "send_failed",
    "not_stratum1", "refid_mismatch",
]

REQUIRED = {
    "ntpverify_attempts_started": "counter",
    "ntpverify_packets_sent": "counter",
    "ntpverify_packets_received": "counter",
    "ntpverify_attempts": "counter",
    "ntpverify_verifications": "counter",
    "ntpverify_ratelimit_packets_held": "counter",
    "ntpverify_ratelimit_deferrals": "counter",
    "ntpverify_database_errors": "counter",
    "ntpverify_database_reconnects": "counter",
    "ntpverify_stale_results_discarded": "counter",
    "ntpverify_leases_given_back": "counter",
    "ntpverify_leases_held": "gauge",
    "ntpverify_attempts_in_flight": "gauge",
    "ntpverify_database_connected": "gauge",
    "ntpverify_results_waiting": "gauge",
    "ntpverify_last_lease_timestamp_seconds": "gauge",
    "ntpverify_ratelimit_destinations": "gauge",
    "ntpverify_uptime_seconds": "gauge",
    "ntpverify_attempt_rtt_seconds": "histogram",
    "ntpverify_build_info": "gauge",
    # The standard process metrics (the parser drops a counter's _total).
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
}

# Names the 0.1 release retired (docs/admins.md): none may come back.
RETIRED = [
    "ntpverify_probes_started", "ntpverify_attempts_refused_by_policy",
    "ntpverify_probes_in_flight", "ntpverify_probe_rtt_seconds",
]

KEY_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_key(key):
    m = KEY_RE.match(key)
    if not m:
        raise ValueError("bad sample key: %r" % key)
    labels = {}
    if m.group(2):
        for name, value in LABEL_RE.findall(m.group(2)):
            labels[name] = value.encode().decode("unicode_escape")
    return m.group(1), labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("--attempts")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--value")
    args = ap.parse_args()

    with open(args.metrics, encoding="utf-8") as f:
        text = f.read()
    fails = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print("metrics do not parse: %s" % e, file=sys.stderr)
        return 1

    samples = {}
    for fam in families:
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    if args.value:
        name, labels = parse_key(args.value)
        v = samples.get((name, tuple(sorted(labels.items()))))
        if v is None:
            print("no sample %s" % args.value, file=sys.stderr)
            return 1
        print(int(v) if float(v).is_integer() else v)
        return 0

    # Declarations: one HELP and one TYPE per family, in the raw text.
    for kind in ("HELP", "TYPE"):
        seen = re.findall(r"^# %s (\S+)" % kind, text, re.M)
        dups = {n for n in seen if seen.count(n) > 1}
        if dups:
            fails.append("%s declared twice: %s" % (kind, sorted(dups)))

    by_name = {}
    for fam in families:
        by_name[fam.name] = fam
        if not fam.name.startswith(("ntpverify_", "process_")):
            fails.append("family %s lacks the ntpverify_ prefix" % fam.name)
        if fam.name in RETIRED:
            fails.append("family %s was renamed in 0.1" % fam.name)
        if not fam.documentation:
            fails.append("family %s has no # HELP" % fam.name)
        if fam.type not in ("counter", "gauge", "histogram"):
            fails.append("family %s has type %s (no # TYPE?)"
                         % (fam.name, fam.type))
        if fam.type == "counter":
            for s in fam.samples:
                if not s.name.endswith("_total"):
                    fails.append("counter sample %s lacks _total" % s.name)
                if s.value < 0 or math.isnan(s.value):
                    fails.append("counter %s is %r" % (s.name, s.value))
        if fam.type == "histogram":
            buckets = [(float(s.labels["le"]), s.value) for s in fam.samples
                       if s.name.endswith("_bucket")]
            count = [s.value for s in fam.samples
                     if s.name.endswith("_count")]
            values = [v for _, v in sorted(buckets)]
            if values != sorted(values):
                fails.append("histogram %s is not cumulative" % fam.name)
            if not buckets or sorted(buckets)[-1][0] != math.inf:
                fails.append("histogram %s has no +Inf bucket" % fam.name)
            elif count != [sorted(buckets)[-1][1]]:
                fails.append("histogram %s: +Inf bucket %s != count %s"
                             % (fam.name, sorted(buckets)[-1][1], count))

    for name, kind in REQUIRED.items():
        fam = by_name.get(name)
        if fam is None:
            fails.append("missing family %s" % name)
        elif fam.type != kind:
            fails.append("%s is a %s, expected %s" % (name, fam.type, kind))

    def one(name):
        fam = by_name.get(name)
        return fam.samples[0].value if fam and fam.samples else None
    fds, max_fds = one("process_open_fds"), one("process_max_fds")
    if fds is not None and max_fds is not None and not 0 < fds <= max_fds:
        fails.append("process_open_fds %s, process_max_fds %s"
                     % (fds, max_fds))
    start = one("process_start_time_seconds")
    if start is not None and not 1e9 < start <= time.time() + 1:
        fails.append("process_start_time_seconds %s is not in the past"
                     % start)

    got = {}
    if "ntpverify_attempts" in by_name:
        got = {s.labels.get("outcome"): s.value
               for s in by_name["ntpverify_attempts"].samples}
        for o in OUTCOMES:
            if o not in got:
                fails.append("attempts_total has no outcome=%s series" % o)
        if "read" in got:
            fails.append("attempts_total shows the check-only outcome read")

    if args.attempts:
        want = {}
        with open(args.attempts, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    o, n = line.split("|")
                    want[o] = float(n)
        for o in sorted(set(want) | set(got)):
            if got.get(o, 0.0) != want.get(o, 0.0):
                fails.append("attempts_total{outcome=%s} = %s, database has %s"
                             % (o, got.get(o), want.get(o, 0)))

    for e in args.expect:
        key, _, value = e.rpartition("=")
        name, labels = parse_key(key)
        v = samples.get((name, tuple(sorted(labels.items()))))
        if v is None or v != float(value):
            fails.append("%s = %s, expected %s" % (key, v, value))

    for f in fails:
        print("FAIL: %s" % f, file=sys.stderr)
    if not fails:
        print("%d families, %d samples, all checks passed"
              % (len(families), len(samples)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
