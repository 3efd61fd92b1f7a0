#!/bin/bash
# `ntpverify check --targets`: hostile target lists. A comment is never a
# target, an overlong or NUL-bearing line is reported as FILE:LINE and
# skipped (the lines around it still probed), a device that never ends is
# refused, and an endless line costs neither CPU nor memory. A sink on
# 127.0.0.0/8 port 10123 logs every destination, so "nothing was sent to
# 127.0.0.7" is checked on the wire.
NV_TEST_NAME=check_targets
. "$(dirname "$0")/lib.sh"
nv_enter_netns "$@"
: "${NTPVERIFY:?}" "${UDP_SINK:?}"

CHECK=("$NTPVERIFY" check --allow-private --port 10123 --timeout 300ms)

"$UDP_SINK" 0.0.0.0 10123 "$NV_TMP/sink.count" "$NV_TMP/sink.log" &
NV_PIDS+=("$!")
for _ in $(seq 1 50); do [ -s "$NV_TMP/sink.count" ] && break; sleep 0.1; done
[ -s "$NV_TMP/sink.count" ] || nv_skip "udp_sink did not start"

# run_list NAME ARGS...: check with a 20 s bound; sets OUT, ERR and RC.
run_list() {
	local name=$1
	shift
	OUT=$(timeout 20 "${CHECK[@]}" "$@" 2>"$NV_TMP/$name.err")
	RC=$?
	ERR=$(cat "$NV_TMP/$name.err")
}

# Datagrams the sink saw for one destination address.
sent_to() { grep -c " $1\$" "$NV_TMP/sink.log" 2>/dev/null || true; }

# N copies of octet C.
repeat() { head -c "$1" /dev/zero | tr '\0' "$2"; }

# 1. A commented-out line past 1,023 octets: its tail is never a target.
{ echo 127.0.0.5
  printf '# %s127.0.0.7\n' "$(repeat 1021 x)"
  echo 127.0.0.6; } >"$NV_TMP/comment.list"
run_list comment --targets "$NV_TMP/comment.list"
nv_expect_match "long comment: reported at its line" \
	"comment.list:2: line longer than 1023 octets" "$ERR"
nv_expect_match "long comment: line before probed" "127.0.0.5 port 10123 .*: no_response" "$OUT"
nv_expect_match "long comment: line after probed" "127.0.0.6 port 10123 .*: no_response" "$OUT"
nv_expect_eq "long comment: exit (a bad line, like an unresolvable host)" 1 "$RC"
nv_expect_eq "long comment: nothing sent to 127.0.0.7" 0 "$(sent_to 127.0.0.7)"

# 2. A long line that is no comment: the same, and nothing probed from it.
{ printf '%s 127.0.0.7\n' "$(repeat 1100 a)"
  printf 'x%s127.0.0.7\n' "$(repeat 2000 ' ')"
  echo 127.0.0.5; } >"$NV_TMP/long.list"
run_list long --targets "$NV_TMP/long.list"
nv_expect_match "long line 1 reported" "long.list:1: line longer" "$ERR"
nv_expect_match "long line 2 reported" "long.list:2: line longer" "$ERR"
nv_expect_eq "long lines: one result printed" 1 "$(printf '%s\n' "$OUT" | grep -c no_response)"
nv_expect_eq "long lines: exit" 1 "$RC"

# 3. A line of exactly 1,023 octets (CRLF) is still a line.
{ printf '127.0.0.6%s#\r\n' "$(repeat 1013 ' ')"; } >"$NV_TMP/edge.list"
run_list edge --targets "$NV_TMP/edge.list"
nv_expect_match "1023-octet line probed" "127.0.0.6 port 10123 .*: no_response" "$OUT"
nv_expect_eq "1023-octet line: no error" "" "$ERR"

# 4. CRLF line endings, blank lines and comments are accepted.
printf '127.0.0.5\r\n\r\n  # c\r\n127.0.0.6 # why\r\n' >"$NV_TMP/crlf.list"
run_list crlf --targets "$NV_TMP/crlf.list"
nv_expect_eq "crlf: two results" 2 "$(printf '%s\n' "$OUT" | grep -c no_response)"
nv_expect_eq "crlf: no error" "" "$ERR"

# 4b. --summary: one line on stderr after the results, counting them and
#     the lines that could not be probed (the sink never answers).
printf '127.0.0.5\n127.0.0.6\nno-such-host.invalid\n' >"$NV_TMP/summary.list"
run_list summary --summary --targets "$NV_TMP/summary.list"
nv_expect_match "summary: the line" \
	'^ntpverify check: 2 results in [0-9]+\.[0-9]{3} s \([0-9]+/s\): 2 no_response, 1 not probed$' \
	"$(printf '%s\n' "$ERR" | tail -n 1)"
nv_expect_eq "summary: the results still on stdout" 2 "$(printf '%s\n' "$OUT" | grep -c no_response)"
run_list nosummary --targets "$NV_TMP/summary.list"
nv_expect_eq "no --summary: no summary line" 0 "$(printf '%s\n' "$ERR" | grep -c ' results in ')"

# 5. A NUL octet makes its line an error, even before a comment's '#'.
printf '127.0.0.5\n127.0.0.7\0# x\n\0000127.0.0.7\n127.0.0.6\n' >"$NV_TMP/nul.list"
run_list nul --targets "$NV_TMP/nul.list"
nv_expect_match "nul: line 2 reported" "nul.list:2: line contains a NUL" "$ERR"
nv_expect_match "nul: line 3 reported" "nul.list:3: line contains a NUL" "$ERR"
nv_expect_eq "nul: the good lines probed" 2 "$(printf '%s\n' "$OUT" | grep -c no_response)"
nv_expect_eq "nul: exit" 1 "$RC"

# 6. A device that never ends is refused at once, in one line.
start=$(date +%s%N)
run_list zero --targets /dev/zero
ms=$(( ($(date +%s%N) - start) / 1000000 ))
nv_expect_eq "/dev/zero exit" 2 "$RC"
nv_expect_eq "/dev/zero message" \
	"ntpverify check: /dev/zero: not a regular file or a pipe" "$ERR"
[ "$ms" -lt 2000 ] && nv_pass "/dev/zero refused in $ms ms" ||
	nv_fail "/dev/zero took $ms ms"
# /dev/null is an empty list, on stdin as well: the operand is probed.
run_list null --targets /dev/null 127.0.0.5
nv_expect_match "/dev/null: the operand probed" "127.0.0.5 port 10123 .*: no_response" "$OUT"
nv_expect_eq "/dev/null: no error" "" "$ERR"
run_list nullin --targets - 127.0.0.6 </dev/null
nv_expect_match "stdin /dev/null: the operand probed" "127.0.0.6 port 10123 .*: no_response" "$OUT"
run_list dir --targets "$NV_TMP"
nv_expect_eq "directory exit" 2 "$RC"
nv_expect_match "directory message" "is a directory" "$ERR"

# 7. A line that never ends (20 MB, no newline) through a pipe: reported
#    once, in bounded CPU time and memory, then the next line is probed.
bash -c 'head -c 20M /dev/zero | tr "\0" x; printf "127.0.0.7\n127.0.0.5\n"' |
	timeout 20 "${CHECK[@]}" --targets - >"$NV_TMP/endless.out" 2>"$NV_TMP/endless.err"
RC=${PIPESTATUS[1]}
nv_expect_eq "endless line: exit" 1 "$RC"
nv_expect_eq "endless line: reported once" 1 \
	"$(grep -c '^ntpverify check: -:1: line longer than 1023 octets' "$NV_TMP/endless.err")"
nv_expect_match "endless line: next line probed" "127.0.0.5 port 10123 .*: no_response" \
	"$(cat "$NV_TMP/endless.out")"
# The check's own CPU time and memory: run it under time(1) this time.
head -c 20M /dev/zero | tr '\0' x >"$NV_TMP/endless.src"
printf '127.0.0.7\n127.0.0.5\n' >>"$NV_TMP/endless.src"
cat "$NV_TMP/endless.src" | /usr/bin/time -f '%U %S %M' -o "$NV_TMP/endless.time" \
	timeout 20 "${CHECK[@]}" --targets - >/dev/null 2>&1
read -r user sys maxkb < <(tail -n 1 "$NV_TMP/endless.time") || true
if awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 2) }'; then
	nv_pass "endless line: CPU ${user}s user + ${sys}s sys"
else
	nv_fail "endless line: CPU ${user}s user + ${sys}s sys (limit 2 s)"
fi
if [ "${maxkb:-999999}" -lt 65536 ]; then
	nv_pass "endless line: max RSS ${maxkb} KiB"
else
	nv_fail "endless line: max RSS ${maxkb:-?} KiB"
fi
# A pipe that stays open with a line half written: the reader blocks
# (no CPU) until timeout ends it, and nothing is probed from the half.
/usr/bin/time -f '%U %S' -o "$NV_TMP/pipe.time" \
	timeout 3 "${CHECK[@]}" --targets - \
	< <(printf '127.0.0.'; sleep 5) >"$NV_TMP/pipe.out" 2>&1
read -r user sys < <(tail -n 1 "$NV_TMP/pipe.time") || true
if awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 0.5) }'; then
	nv_pass "open pipe: blocked, CPU ${user}s user + ${sys}s sys in 3 s"
else
	nv_fail "open pipe: CPU ${user}s user + ${sys}s sys in 3 s (spinning?)"
fi

sleep 0.3
nv_expect_eq "nothing was ever sent to 127.0.0.7" 0 "$(sent_to 127.0.0.7)"
nv_finish
