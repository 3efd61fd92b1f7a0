#!/bin/bash
# deps_check.sh - the layers' arrows only point down (docs/design.md):
#
#   cli -> daemon -> engine, store -> core -> ntpwire, config
#
# For every C file git tracks under ntpwire/, config/ and prober/, each
# `#include "DIR/..."` must name a folder its layer may use; libpq-fe.h is
# included only under prober/store/, confuse.h only by config/config.c.
# Prints FILE:LINE for each offence and a summary; fails when it found
# nothing to check.
#
# usage: deps_check.sh [SOURCE_DIR]
set -u
top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 2

# What each folder may include (besides its own files and system headers).
allowed() { # FOLDER -> space-separated folders
	case $1 in
	ntpwire) echo "ntpwire" ;;
	config) echo "config" ;;
	prober/core) echo "core" ;;
	prober/engine) echo "core engine ntpwire config" ;;
	prober/store) echo "core store ntpwire config" ;;
	prober/daemon) echo "core engine store daemon ntpwire config" ;;
	prober/cli) echo "core engine store daemon cli ntpwire config" ;;
	*) echo "" ;;
	esac
}

files=$(git ls-files 'ntpwire/*.[ch]' 'config/*.[ch]' 'prober/*.[ch]' 2>/dev/null)
[ -n "$files" ] || files=$(find ntpwire config prober -name '*.[ch]' | sort)
n=0 bad=0
for f in $files; do
	n=$((n + 1))
	folder=$(dirname "$f")
	ok=" $(allowed "$folder") "
	while IFS=: read -r line inc; do
		dir=${inc%%/*}
		[ "$dir" = "$inc" ] && continue # same folder, no path
		case $ok in
		*" $dir "*) ;;
		*) echo "$f:$line: includes \"$inc\": $folder may not depend on $dir/"; bad=$((bad + 1)) ;;
		esac
	done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):#include "\([^"]*\)".*/\1:\2/')
	if grep -n '#include <libpq-fe.h>' "$f" >/dev/null && [ "$folder" != prober/store ]; then
		echo "$f:$(grep -n '#include <libpq-fe.h>' "$f" | cut -d: -f1): libpq outside prober/store/"
		bad=$((bad + 1))
	fi
	if grep -q '#include <confuse.h>' "$f" && [ "$f" != config/config.c ]; then
		echo "$f: confuse.h outside config/config.c"
		bad=$((bad + 1))
	fi
done
echo "deps_check: $n files checked, $bad offences"
[ "$n" -gt 50 ] || { echo "deps_check: too few files found ($n)"; exit 1; }
[ "$bad" -eq 0 ]
