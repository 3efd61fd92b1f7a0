#!/bin/bash
# docs_check_paths.sh - nothing in the repository points outside it.
#
# Someone who clones the repository has the repository and nothing else: a
# comment or a document that names a file on the machine it was written on
# sends that reader nowhere. Every text file git tracks is scanned for
#
#   - a "shared" folder beside the checkout (parent-relative), or the old
#     upper-case design notes file name: the design is docs/design.md;
#   - the build machine's work folder (an absolute path starting at "work");
#   - absolute home directories (under /home, /root or /Users).
#
# A relative path that merely has such a component ("$dir/root/usr") is
# fine. Binary files are skipped (git grep -I).
#
# It cannot pass by scanning nothing: it prints how many files it scanned,
# fails unless README.md, docs/design.md and prober/core/outcome.c are
# among them and there are at least 100, and first proves each pattern on
# a sample line that must match and one that must not.
#
# Needs no root and no network namespace, only git and a checkout: without
# them (a release tarball) it skips locally and fails under CI=true.
# Env: NV_SOURCE_DIR (the source tree).
NV_TEST_NAME=docs_check_paths
source "$(dirname "$0")/lib.sh"

SRC=${NV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

command -v git >/dev/null || nv_skip "git missing"
# The checkout may belong to another user than the one running the tests.
nv_git() { git -c safe.directory="$SRC" -C "$SRC" "$@"; }
nv_git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	nv_skip "$SRC is not a git checkout"

NV_TMP=$(mktemp -d /tmp/ntpverify-paths.XXXXXX)
trap nv_cleanup EXIT

# name | extended regular expression. Written so that this file does not
# match itself: "\." is not a dot, "[k]" is not a k.
PATTERNS=(
	"a parent-relative shared folder|\.\./shared"
	"the upper-case design notes file|DESIGN\.md"
	"the build machine's work folder|(^|[^[:alnum:]_.\$}/-])/wor[k]/"
	"a home directory|(^|[^[:alnum:]_.\$}/-])/(hom[e]|roo[t]|User[s])/"
)

# --- the patterns themselves ----------------------------------------------

# Each pattern must find its own sample and leave the harmless ones alone,
# with the same engine (git grep -E) that scans the tree below.
dots=..
must=(
	"see $dots/shared/testdata for the captures"
	"as the DESIGN"".md says"
	"cd /wo""rk/main && make"
	"the key is in /ro""ot/ntp.keys, or \"/ho""me/alice/x\""
)
mustnot=(
	"the design is docs/design.md"
	'bin="$dir/root/usr/sbin/chronyd" and $NV_TMP/root/etc'
	"network/work/x and ./home/x and \${HOME}/root/x"
	"nothing to see here"
)
# git grep exits 0 on a match, 1 on none, and above 1 on an error, which
# must never read as "none". nv_grep_sample RE FILE: sets OUT and RC.
nv_grep_sample() {
	OUT=$(cd "$NV_TMP" && git grep --no-index -h -E -e "$1" -- "$2" 2>&1)
	RC=$?
}
printf '%s\n' "${mustnot[@]}" >"$NV_TMP/harmless"
for i in "${!PATTERNS[@]}"; do
	what=${PATTERNS[$i]%%|*}
	re=${PATTERNS[$i]#*|}
	printf '%s\n' "${must[$i]}" >"$NV_TMP/sample"
	nv_grep_sample "$re" sample
	case $RC in
	0) nv_pass "the pattern for $what finds its sample" ;;
	1) nv_fail "the pattern for $what ($re) does not match '${must[$i]}'" ;;
	*) nv_fail "git grep failed (rc $RC) on the pattern for $what: $OUT" ;;
	esac
	nv_grep_sample "$re" harmless
	case $RC in
	0) nv_fail "the pattern for $what ($re) matches harmless text: $OUT" ;;
	1) nv_pass "the pattern for $what leaves relative paths alone" ;;
	*) nv_fail "git grep failed (rc $RC) on the pattern for $what: $OUT" ;;
	esac
done

# --- what is scanned --------------------------------------------------------

tracked=$(nv_git ls-files | wc -l)
# Tracked text files: git grep -I skips binary ones; '' matches any line,
# so only empty files are left out as well (they reference nothing).
mapfile -t files < <(nv_git grep -I -l -e '' -- .)
nv_log "scanning ${#files[@]} text files of $tracked tracked"
if [ "${#files[@]}" -ge 100 ]; then
	nv_pass "${#files[@]} tracked text files to scan"
else
	nv_fail "only ${#files[@]} tracked text files found in $SRC (of $tracked tracked)"
fi
for f in README.md docs/design.md prober/core/outcome.c; do
	if printf '%s\n' "${files[@]}" | grep -qx -- "$f"; then
		nv_pass "$f is scanned"
	else
		nv_fail "$f is not among the scanned files (not tracked?)"
	fi
done

# --- the scan ---------------------------------------------------------------

for p in "${PATTERNS[@]}"; do
	what=${p%%|*}
	re=${p#*|}
	hits=$(nv_git grep -n -I -E -e "$re" -- . 2>&1)
	case $? in
	0) nv_fail "tracked files mention $what (point to docs/design.md or a path inside the repository instead):
$hits" ;;
	1) nv_pass "no tracked file mentions $what" ;;
	*) nv_fail "git grep failed on the pattern for $what: $hits" ;;
	esac
done

nv_finish
