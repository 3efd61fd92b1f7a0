#!/bin/bash
# layout_check.sh - keep C sources small: no file over MAX_FILE_LINES lines,
# no function over MAX_FN_LINES lines.
#
# usage: layout_check.sh [SOURCE_DIR]
#        layout_check.sh --self-test
#
# Checks every *.c and *.h that git tracks under prober/, ntpwire/,
# config/, tests/ and bench/ of SOURCE_DIR (default: the tree this script
# lives in). Without git, or outside a git checkout (a release tarball),
# it checks the same folders as found on disk instead. Files only in the
# work tree, not yet added, are not checked in a checkout.
#
# Functions are found the way the house style writes them: the body opens
# with a "{" alone at column 0 and closes at the next line that starts
# with "}" at column 0. A function's length counts from that "{" to that
# "}", both included; the signature above it is not counted. Each offender
# is printed as FILE:LINE with the function's name (LINE: the signature's
# first line) or, for a long file, its length (LINE: the first line past
# the limit), then a summary of what was checked.
#
# Exit status 0 when everything is within the limits, 1 when something is
# over (or the check found no files or no functions at all: it must not
# pass on an empty tree), 2 on bad usage.
set -u

MAX_FILE_LINES=600
MAX_FN_LINES=80
DIRS=(prober ntpwire config tests bench)

# The sources to check, one path per line relative to $1.
list_sources() {
	local root=$1
	if command -v git >/dev/null 2>&1 &&
	   git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
	   [ "$(git -C "$root" rev-parse --show-toplevel)" -ef "$root" ]; then
		local d pats=()
		for d in "${DIRS[@]}"; do
			pats+=("$d/*.c" "$d/*.h")
		done
		git -C "$root" ls-files -- "${pats[@]}"
	else
		(cd "$root" && find "${DIRS[@]}" -type f \
			\( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort)
	fi
}

# Reads NUL-free C from the files named as arguments (run from the root)
# and prints offenders plus a last line "SUMMARY files functions bad".
scan() {
	awk -v max_file="$MAX_FILE_LINES" -v max_fn="$MAX_FN_LINES" '
	function reset() { sig_start = 0; sig = "" }
	function fn_name(s,    p, pre) {
		p = index(s, "(")
		if (p == 0)
			return "(unnamed block)"
		pre = substr(s, 1, p - 1)
		sub(/[ \t]+$/, "", pre)
		if (match(pre, /[A-Za-z_][A-Za-z0-9_]*$/))
			return substr(pre, RSTART, RLENGTH)
		return "(unnamed block)"
	}
	function end_file() {
		if (file == "")
			return
		if (in_fn) {
			printf "%s:%d: function %s: no closing \"}\" at column 0\n", file, fn_line, fn
			bad++
		}
		if (lines > max_file + 0) {
			printf "%s:%d: file has %d lines (limit %d)\n", file, max_file + 1, lines, max_file
			bad++
		}
	}
	FNR == 1 {
		end_file()
		file = FILENAME; files++; lines = 0
		in_fn = 0; in_cmt = 0; reset()
	}
	{
		lines = FNR
		line = $0
		if (in_fn) {
			if (line ~ /^}/) {
				n = FNR - body + 1
				functions++
				if (n > max_fn + 0) {
					printf "%s:%d: function %s has %d lines (limit %d)\n", file, fn_line, fn, n, max_fn
					bad++
				}
				in_fn = 0
				reset()
			}
			next
		}
		if (in_cmt) {
			if (index(line, "*/"))
				in_cmt = 0
			reset()
			next
		}
		if (line ~ /^[ \t]*\/\*/) {
			if (!index(substr(line, index(line, "/*") + 2), "*/"))
				in_cmt = 1
			reset()
			next
		}
		if (line == "{") {
			in_fn = 1
			body = FNR
			fn_line = sig_start ? sig_start : FNR
			fn = fn_name(sig)
			next
		}
		if (line ~ /^[ \t]*$/ || line ~ /^#/ || line ~ /^[ \t]*\/\// ||
		    line ~ /[;{}\\][ \t]*$/ || line ~ /\*\/[ \t]*$/) {
			reset()
			next
		}
		if (!sig_start)
			sig_start = FNR
		sig = sig " " line
	}
	END {
		end_file()
		printf "SUMMARY %d %d %d\n", files, functions, bad
	}' "$@"
}

check_tree() {
	local root=$1 out summary files functions bad
	local -a srcs=()
	local f
	while IFS= read -r f; do
		[ -f "$root/$f" ] && srcs+=("$f")
	done < <(list_sources "$root")
	if [ ${#srcs[@]} -eq 0 ]; then
		echo "layout_check: no C sources found under ${DIRS[*]} in $root" >&2
		return 1
	fi
	out=$(cd "$root" && scan "${srcs[@]}")
	summary=$(printf '%s\n' "$out" | tail -n 1)
	printf '%s\n' "$out" | sed '$d'
	read -r _ files functions bad <<<"$summary"
	echo "layout_check: $files files, $functions functions checked;" \
	     "$bad over the limits ($MAX_FILE_LINES lines a file," \
	     "$MAX_FN_LINES a function)"
	if [ "$files" -eq 0 ] || [ "$functions" -eq 0 ]; then
		echo "layout_check: nothing was checked" >&2
		return 1
	fi
	[ "$bad" -eq 0 ]
}

# Writes N lines of body into a function NAME (N counts "{" and "}").
fixture_fn() {
	local name=$1 n=$2 i
	printf 'static int\n%s(int a,\n    int b)\n{\n' "$name"
	for ((i = 0; i < n - 3; i++)); do
		printf '\ta += b; /* } not at column 0 */\n'
	done
	printf '\treturn a;\n}\n\n'
}

# The check against trees built here, outside any checkout.
self_test() {
	local tmp fail=0 out
	tmp=$(mktemp -d) || return 1
	trap 'rm -rf "$tmp"' RETURN

	mkdir -p "$tmp/ok/tests" "$tmp/long/prober/x" "$tmp/big/bench" "$tmp/empty/tests"
	{ printf '/* a comment\n{\n*/\n#define M do { \\\n} while (0)\n'
	  printf 'static const int t[] = {\n\t1,\n};\n\n'
	  fixture_fn fits "$MAX_FN_LINES"; } >"$tmp/ok/tests/a.c"
	{ fixture_fn fits "$MAX_FN_LINES"; fixture_fn too_long $((MAX_FN_LINES + 1)); } \
		>"$tmp/long/prober/x/b.c"
	{ fixture_fn small 5
	  for ((i = 0; i < MAX_FILE_LINES; i++)); do echo "int v$i;"; done; } \
		>"$tmp/big/bench/c.c"
	echo 'int x;' >"$tmp/empty/tests/d.txt"

	out=$(check_tree "$tmp/ok" 2>&1) ||
		{ echo "self-test: a function of $MAX_FN_LINES lines failed: $out"; fail=1; }
	out=$(check_tree "$tmp/long" 2>&1) &&
		{ echo "self-test: a function of $((MAX_FN_LINES + 1)) lines passed"; fail=1; }
	grep -q "^prober/x/b.c:$((MAX_FN_LINES + 5)): function too_long has $((MAX_FN_LINES + 1)) lines" <<<"$out" ||
		{ echo "self-test: wrong report for too_long: $out"; fail=1; }
	grep -q "fits" <<<"$(sed '$d' <<<"$out")" &&
		{ echo "self-test: fits reported: $out"; fail=1; }
	out=$(check_tree "$tmp/big" 2>&1) &&
		{ echo "self-test: a file over $MAX_FILE_LINES lines passed"; fail=1; }
	grep -q "^bench/c.c:$((MAX_FILE_LINES + 1)): file has" <<<"$out" ||
		{ echo "self-test: wrong report for the big file: $out"; fail=1; }
	out=$(check_tree "$tmp/empty" 2>&1) &&
		{ echo "self-test: a tree without sources passed"; fail=1; }
	[ $fail -eq 0 ] && echo "layout_check self-test: ok"
	return $fail
}

case ${1-} in
--self-test)
	[ $# -eq 1 ] || { echo "usage: $0 --self-test" >&2; exit 2; }
	self_test
	;;
-*)
	echo "usage: $0 [SOURCE_DIR] | --self-test" >&2
	exit 2
	;;
*)
	[ $# -le 1 ] || { echo "usage: $0 [SOURCE_DIR] | --self-test" >&2; exit 2; }
	root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
	check_tree "$root"
	;;
esac
