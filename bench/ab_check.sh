#!/bin/bash
# bench/ab_check.sh - two builds side by side, interleaved on the same
# machine at the same moment: `check --json` over 10,000 loopback targets
# (the bench responder of bench/run.sh's build), old then new, four times.
# Prints wall time, user+sys CPU per probe and verified count per run.
#
#     sudo bench/ab_check.sh OLD-ntpverify NEW-ntpverify
#
# Build both trees first with bench/run.sh --src TREE (it builds
# build/bench/ in each); runs in a private network namespace.
set -u
if [ -z "${IN:-}" ]; then export IN=1; exec unshare --net -- bash "$0" "$@"; fi
ip link set lo up
A=${1:?usage: $0 OLD-ntpverify NEW-ntpverify [TREE]}
B=${2:?usage: $0 OLD-ntpverify NEW-ntpverify [TREE]}
T=$(mktemp -d /tmp/ntpverify-ab.XXXXXX)
awk -v n=10000 'BEGIN { a = 10 * 65536; i = 0; while (i < n) { o = a % 256; if (o != 0 && o != 255) { printf "127.%d.%d.%d\n", int(a / 65536) % 256, int(a / 256) % 256, o; i++ } a++ } }' > $T/targets
"$(dirname "$0")/../build/bench/bench/responder" -t tok-3f9a1c2b7d4e5f60 -V ntppool_verify -j 1 -d 1500 > $T/resp.out 2>&1 &
RP=$!
sleep 1
cat > $T/check.conf <<CONF
allow_private_targets = true
probe { timeout = 1s  retransmit = 1s  max_in_flight = 1024 }
rate_limit { global_pps = 100000  global_burst = 10000
             per_destination_interval = 1s  per_destination_daily_packets = 100000 }
CONF
for r in 1 2 3 4; do
	for x in A B; do
		bin=${!x}
		/usr/bin/time -f "%e %U %S" -o $T/t timeout 120 $bin check --config $T/check.conf --json --token tok-3f9a1c2b7d4e5f60 --targets $T/targets > $T/out 2>/dev/null
		v=$(grep -c '"verified"' $T/out)
		read e u s < $T/t
		echo "$x rep=$r wall=$e user=$u sys=$s verified=$v rate=$(awk -v e=$e 'BEGIN{printf "%.0f", 10000/e}') cpu_us=$(awk -v u=$u -v s=$s 'BEGIN{printf "%.1f", (u+s)*1e6/10000}')"
	done
done
kill $RP; rm -rf $T
