#!/bin/bash
# docs_check.sh - the documentation says what the code does.
#
# What a user would notice if it drifted: a subcommand, option, outcome or
# configuration key that the man pages, the README or the operators' guide
# do not mention; a man page that man(1) renders with warnings; a systemd
# unit that systemd refuses, or whose hardening regressed.
#
#   - every subcommand in `ntpverify --help` has a section in ntpverify(8)
#     and is named in README.md;
#   - every option in each subcommand's --help usage appears in that
#     subcommand's section of ntpverify(8), every option that section
#     describes (.TP) is described by --help, and --help exits 0;
#   - every outcome in prober/core/outcome.c (but `read`) has a section in
#     docs/operators.md, an entry in ntpverify(8) and a row in README.md;
#   - every key in dist/ntpverify.conf has an entry in ntpverify.conf(5),
#     and every entry there is a key of dist/ntpverify.conf;
#   - dist/ntpverify.conf passes check-config, and so do the examples of
#     ntpverify.conf(5), whose file with mistakes gives the output shown;
#   - both man pages render without groff warnings;
#   - the unit (dist/ntpverify.service.in, filled in) passes
#     `systemd-analyze verify`, keeps its exposure score at or below 2.0,
#     and the sysusers.d file parses.
#
# Needs no root and no network namespace. Env: NTPVERIFY (the binary),
# NV_SOURCE_DIR (the source tree). A missing tool skips its own check with a
# log line; under CI=true that is a failure when the tool could be installed
# (apt-cache has a candidate), since then the check was meant to run.
NV_TEST_NAME=docs_check
source "$(dirname "$0")/lib.sh"

: "${NTPVERIFY:?NTPVERIFY must name the ntpverify binary}"
SRC=${NV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
MAN8=$SRC/dist/ntpverify.8
MAN5=$SRC/dist/ntpverify.conf.5
README=$SRC/README.md
OPERATORS=$SRC/docs/operators.md
CONF=$SRC/dist/ntpverify.conf
UNIT_IN=$SRC/dist/ntpverify.service.in
SYSUSERS=$SRC/dist/ntpverify.sysusers

NV_TMP=$(mktemp -d /tmp/ntpverify-docs.XXXXXX)
trap nv_cleanup EXIT

# A tool is missing: skip this one check, or fail under CI when the Debian
# package that has it is installable. nv_tool_missing TOOL PACKAGE
nv_tool_missing() {
	local tool=$1 pkg=$2 cand
	cand=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	if [ "${CI:-}" = "true" ] && [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
		nv_fail "$tool missing although package $pkg ($cand) is installable: add it to scripts/deps.sh"
	else
		nv_log "skipped: $tool missing (package $pkg${cand:+, candidate $cand})"
	fi
}

for f in "$MAN8" "$MAN5" "$README" "$OPERATORS" "$CONF" "$UNIT_IN" "$SYSUSERS"; do
	[ -f "$f" ] || nv_fail "missing file ${f#"$SRC"/}"
done

# roff source with \- turned into - and font escapes dropped, so that
# "\fB\-\-config\fR" reads "--config".
roff_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g' -e 's/\\(dq/"/g' "$1"
}
roff_text "$MAN8" >"$NV_TMP/man8.txt"
roff_text "$MAN5" >"$NV_TMP/man5.txt"

# The lines of ntpverify(8) from `.SS "ntpverify CMD ...` to the next .SS/.SH.
man8_section() {
	awk -v cmd="$1" '
		/^\.S[SH] / { on = 0 }
		index($0, ".SS \"ntpverify " cmd " ") == 1 ||
		$0 == ".SS \"ntpverify " cmd "\"" { on = 1 }
		on' "$NV_TMP/man8.txt"
}

# --- subcommands and their options --------------------------------------

help=$("$NTPVERIFY" --help) || nv_fail "ntpverify --help exited non-zero"
mapfile -t cmds < <(printf '%s\n' "$help" | sed -n '/^commands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p')
if [ "${#cmds[@]}" -lt 5 ]; then
	nv_fail "ntpverify --help lists only ${#cmds[@]} commands: '$help'"
fi
for cmd in "${cmds[@]}"; do
	section=$(man8_section "$cmd")
	if [ -n "$section" ]; then
		nv_pass "ntpverify(8) has a section for '$cmd'"
	else
		nv_fail "ntpverify(8) has no '.SS \"ntpverify $cmd ...\"' section"
	fi
	if grep -Eq "ntpverify $cmd([^a-z-]|\$)" "$README"; then
		nv_pass "README.md names 'ntpverify $cmd'"
	else
		nv_fail "README.md does not mention 'ntpverify $cmd'"
	fi
	# The usage line is the command's own list of options.
	usage=$("$NTPVERIFY" "$cmd" --help 2>&1)
	mapfile -t opts < <(printf '%s\n' "$usage" | grep -o -- '--[a-z][a-z-]*' | sort -u)
	for opt in "${opts[@]}"; do
		[ "$opt" = "--help" ] && continue
		if printf '%s\n' "$section" | grep -q -- "$opt\\b"; then
			nv_pass "ntpverify(8) documents $cmd $opt"
		else
			nv_fail "ntpverify(8) section '$cmd' does not document $opt (from: $usage)"
		fi
	done
	# ... and the other way: every option the section describes (a .TP
	# entry) is one --help describes, exit 0.
	"$NTPVERIFY" "$cmd" --help >/dev/null 2>&1 ||
		nv_fail "ntpverify $cmd --help exits non-zero"
	mapfile -t manopts < <(printf '%s\n' "$section" | awk 'prev == ".TP" { print } { prev = $0 }' |
		grep -o -- '--[a-z][a-z-]*' | sort -u)
	for opt in "${manopts[@]}"; do
		if printf '%s\n' "$usage" | grep -q -- "^  $opt\b"; then
			nv_pass "ntpverify $cmd --help describes $opt"
		else
			nv_fail "ntpverify(8) section '$cmd' describes $opt, but 'ntpverify $cmd --help' does not"
		fi
	done
done

# --- outcomes -------------------------------------------------------------

mapfile -t outcomes < <(sed -n 's/^[[:space:]]*\[OUTCOME_[A-Z0-9_]*\] = "\([a-z0-9_]*\)",.*/\1/p' \
	"$SRC/prober/core/outcome.c" | grep -vx read)
if [ "${#outcomes[@]}" -lt 10 ]; then
	nv_fail "found only ${#outcomes[@]} outcomes in prober/core/outcome.c"
fi
for o in "${outcomes[@]}"; do
	if grep -qx "### $o" "$OPERATORS"; then
		nv_pass "operators.md has a section for $o"
	else
		nv_fail "docs/operators.md has no '### $o' section"
	fi
	if grep -qx "\\.B $o" "$NV_TMP/man8.txt"; then
		nv_pass "ntpverify(8) lists $o"
	else
		nv_fail "ntpverify(8) has no '.B $o' entry under OUTCOMES"
	fi
	if grep -q "^| \`$o\` |" "$README"; then
		nv_pass "README.md has a row for $o"
	else
		nv_fail "README.md's outcome table has no row for \`$o\`"
	fi
done

# --- configuration keys ---------------------------------------------------

# Keys as set (or commented out, "#status_listen = ...") in the example.
mapfile -t keys < <(sed -n 's/^[[:space:]]*#\{0,1\}\([a-z_][a-z_]*\)[[:space:]]*=.*/\1/p' "$CONF" | sort -u)
mapfile -t sections < <(sed -n 's/^\([a-z_][a-z_]*\)[[:space:]]*{.*/\1/p' "$CONF" | sort -u)
if [ "${#keys[@]}" -lt 15 ]; then
	nv_fail "found only ${#keys[@]} keys in dist/ntpverify.conf"
fi
for k in "${keys[@]}"; do
	if grep -q "^\\.BI \"$k = " "$NV_TMP/man5.txt"; then
		nv_pass "ntpverify.conf(5) documents $k"
	else
		nv_fail "ntpverify.conf(5) has no '.BI \"$k = ...' entry"
	fi
done
for s in "${sections[@]}"; do
	if grep -qx "\\.SH \"SECTION $s\"" "$NV_TMP/man5.txt"; then
		nv_pass "ntpverify.conf(5) has section $s"
	else
		nv_fail "ntpverify.conf(5) has no 'SECTION $s'"
	fi
done
mapfile -t documented < <(sed -n 's/^\.BI "\([a-z_][a-z_]*\) = .*/\1/p' "$NV_TMP/man5.txt" | sort -u)
for k in "${documented[@]}"; do
	if printf '%s\n' "${keys[@]}" | grep -qx "$k"; then
		nv_pass "ntpverify.conf(5) key $k exists in the example"
	else
		nv_fail "ntpverify.conf(5) documents '$k', which dist/ntpverify.conf does not have"
	fi
done
out=$("$NTPVERIFY" check-config "$CONF" 2>&1)
nv_expect_eq "check-config dist/ntpverify.conf" "configuration OK" "$out"

# The examples of ntpverify.conf(5): each .EX block of its EXAMPLES into
# $NV_TMP/example.N. The three settings examples parse (the second is a
# fragment without prober_name: --for admin); the file with mistakes gives,
# run as the page shows it, exactly the output the page prints after it.
awk -v dir="$NV_TMP" '/^\.SH / { ex = ($0 == ".SH EXAMPLES") }
	ex && /^\.EX$/ { n++; on = 1; next } /^\.EE$/ { on = 0 }
	on { print > (dir "/example." n) }' "$NV_TMP/man5.txt"
if [ -f "$NV_TMP/example.5" ]; then
	for n in 1 2 3; do
		out=$("$NTPVERIFY" check-config $([ "$n" = 2 ] && echo --for admin) \
			"$NV_TMP/example.$n" 2>&1)
		nv_expect_match "ntpverify.conf(5) example $n passes check-config" "^configuration OK" "$out"
	done
	want=$(sed 1d "$NV_TMP/example.5")
	cp "$NV_TMP/example.4" "$NV_TMP/ntpverify.conf"
	out=$(cd "$NV_TMP" && "$NTPVERIFY" check-config ntpverify.conf 2>&1)
	nv_expect_eq "ntpverify.conf(5): check-config prints what the page says" "$want" "$out"
else
	nv_fail "ntpverify.conf(5) EXAMPLES: expected five .EX blocks"
fi

# --- man pages render cleanly ---------------------------------------------

if command -v groff >/dev/null; then
	for page in "$MAN8" "$MAN5"; do
		warn=$(groff -man -ww -z "$page" 2>&1)
		if [ -z "$warn" ]; then
			nv_pass "groff -man -ww renders ${page##*/} without warnings"
		else
			nv_fail "groff warnings for ${page##*/}: $warn"
		fi
		# What man(1) shows must be plain: no unknown escapes left over.
		if groff -man -Tutf8 "$page" 2>/dev/null | grep -q '\\[a-z(]'; then
			nv_fail "${page##*/} renders with a literal backslash escape"
		fi
	done
else
	nv_tool_missing groff groff-base
fi

# --- systemd unit and sysusers.d ------------------------------------------

unit=$NV_TMP/ntpverify.service
bindir=$(cd "$(dirname "$NTPVERIFY")" && pwd)
sed -e "s|@CMAKE_INSTALL_FULL_BINDIR@|$bindir|g" \
	-e 's|@CMAKE_INSTALL_FULL_SYSCONFDIR@|/etc|g' "$UNIT_IN" >"$unit"
# The built binary may be called something else; verify wants it to exist.
if [ "${NTPVERIFY##*/}" != ntpverify ]; then
	sed -i "s|$bindir/ntpverify |$NTPVERIFY |" "$unit"
fi
if grep -q '@[A-Z_]*@' "$unit"; then
	nv_fail "ntpverify.service.in uses variables dist/CMakeLists.txt does not fill: $(grep -o '@[A-Z_]*@' "$unit" | sort -u | tr '\n' ' ')"
fi
if command -v systemd-analyze >/dev/null; then
	# --man=no: the pages are not installed here; their rendering is checked above.
	out=$(systemd-analyze verify --man=no "$unit" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'ntpverify\.service'; then
		nv_pass "systemd-analyze verify accepts the unit"
	else
		nv_fail "systemd-analyze verify (rc $rc): $out"
	fi
	# The exposure score (0 safest .. 10): 1.4 when written. 20 = 2.0.
	score=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" >/dev/null 2>&1; then
		nv_pass "systemd-analyze security: exposure ${score:-?} <= 2.0"
	else
		nv_fail "systemd-analyze security: exposure ${score:-?} is above 2.0 (hardening regressed?)"
	fi
else
	nv_tool_missing systemd-analyze systemd
fi
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$NV_TMP/root/etc"
	if out=$(systemd-sysusers --root="$NV_TMP/root" --dry-run "$SYSUSERS" 2>&1) &&
		printf '%s\n' "$out" | grep -q "user 'ntpverify'"; then
		nv_pass "systemd-sysusers would create the ntpverify user"
	else
		nv_fail "systemd-sysusers --dry-run: $out"
	fi
	if grep -qx 'User=ntpverify' "$UNIT_IN"; then
		nv_pass "the unit runs as the user sysusers.d creates"
	else
		nv_fail "ntpverify.service.in does not say User=ntpverify"
	fi
else
	nv_tool_missing systemd-sysusers systemd
fi

nv_finish
