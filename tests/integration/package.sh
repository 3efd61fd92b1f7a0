#!/bin/bash
# package.sh - the Debian package builds from this tree, lintian finds
# nothing wrong with it, and it holds and does what an admin expects.
#
# What an admin would notice if it broke: `dpkg-buildpackage` fails; a file
# is missing from the package or lands in the wrong place; the example
# configuration is not a conffile (an upgrade would overwrite it); the
# package enables or starts the daemon at installation, before there is a
# database; the binary is not stripped or its debug symbols are lost; the
# unit names a binary that is not where the package puts it; tab
# completion does not know a subcommand or option.
#
#   - scripts/package.sh builds the package from a copy of the tree into
#     this test's folder (inside the build folder), within 4 minutes;
#   - lintian reports no error or warning that is not overridden, and
#     every override in debian/*.lintian-overrides has a comment above it;
#   - dpkg-deb -c lists the binary, unit, sysusers file, both man pages,
#     the configuration, schema and every migration, the completion and
#     the docs, and nothing outside the usual directories; dpkg-deb -I
#     lists /etc/ntpverify/ntpverify.conf as a conffile;
#   - the postinst, run with stub commands, neither enables nor starts the
#     unit at a first installation, creates the system user with
#     systemd-sysusers, and restarts an enabled daemon on an upgrade; the
#     prerm stops it on removal;
#   - unpacked into a throwaway root (dpkg -x, never installed on this
#     machine): `ntpverify version` prints the project version of
#     CMakeLists.txt (which debian/changelog must match); the binary is
#     stripped, and the -dbgsym package has the debug file for its build
#     ID; the unit's ExecStart is /usr/bin/ntpverify and `systemd-analyze
#     verify --root` accepts it (the root gets a copy of this machine's
#     systemd units and /bin/kill, so that the unit's dependencies and
#     every command resolve inside it); the packaged configuration passes
#     check-config; systemd-sysusers --dry-run would create the user;
#   - the packaged bash completion offers every subcommand of --help and
#     every option of each subcommand's usage, and the values of --state,
#     --key-type and --method.
#
# Needs no network namespace; runs as root or not. Everything it writes is
# under ./package-test (CTest runs it in the build folder); TMPDIR points
# there too. Env: NV_SOURCE_DIR (the source tree).
# shellcheck disable=SC2034 # read by lib.sh
NV_TEST_NAME=package
source "$(dirname "$0")/lib.sh"

SRC=${NV_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$PWD/package-test
OUT=$WORK/out
ROOT=$WORK/root

for tool in dpkg-buildpackage dpkg-checkbuilddeps dpkg-deb dh lintian file readelf \
	systemd-analyze systemd-sysusers timeout; do
	command -v "$tool" >/dev/null || nv_skip "$tool missing (scripts/deps.sh installs it)"
done
if ! unmet=$(dpkg-checkbuilddeps "$SRC/debian/control" 2>&1); then
	nv_skip "build dependencies missing: $unmet"
fi

rm -rf "$WORK"
mkdir -p "$WORK/tmp" "$ROOT"
NV_TMP=$WORK/tmp # nv_cleanup removes it
export TMPDIR=$WORK/tmp
trap nv_cleanup EXIT

version=$(sed -n 's/^project(ntpverify VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
deb_version=$(sed -n '1s/^ntpverify (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
nv_expect_eq "debian/changelog's upstream version" "$version" "${deb_version%-*}"
arch=$(dpkg --print-architecture)
deb=$OUT/ntpverify_${deb_version}_$arch.deb
dbgsym=$OUT/ntpverify-dbgsym_${deb_version}_$arch.deb

# --- build -----------------------------------------------------------------

# Niced: the tests running beside it measure time.
start=$(date +%s)
if timeout 240 nice -n 10 bash "$SRC/scripts/package.sh" "$OUT" >"$WORK/build.log" 2>&1 &&
	[ -f "$deb" ] && [ -f "$dbgsym" ]; then
	nv_pass "scripts/package.sh built ${deb##*/} and ${dbgsym##*/} in $(($(date +%s) - start))s"
else
	tail -n 40 "$WORK/build.log" >&2
	nv_fail "scripts/package.sh did not build $deb (log: $WORK/build.log)"
	nv_finish
	exit
fi

# --- lintian ---------------------------------------------------------------

if out=$(timeout 120 lintian --fail-on error,warning --display-info "$deb" "$dbgsym" 2>&1); then
	nv_pass "lintian: no errors or warnings${out:+ (info: $(printf '%s\n' "$out" | grep -c '^I:'))}"
else
	nv_fail "lintian: $out"
fi
[ -n "$out" ] && printf '%s\n' "$out" >&2
for f in "$SRC"/debian/*.lintian-overrides; do
	[ -f "$f" ] || continue
	if awk '/^[ \t]*$/ { c = 0; next } /^#/ { c = 1; next } !c { bad = 1 } END { exit bad }' "$f"; then
		nv_pass "every override in ${f#"$SRC"/} has a comment"
	else
		nv_fail "${f#"$SRC"/} has an override without a comment above it saying why"
	fi
done

# --- contents --------------------------------------------------------------

list=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
expect=(
	/usr/bin/ntpverify
	/lib/systemd/system/ntpverify.service
	/usr/lib/sysusers.d/ntpverify.conf
	/usr/share/man/man8/ntpverify.8.gz
	/usr/share/man/man5/ntpverify.conf.5.gz
	/etc/ntpverify/ntpverify.conf
	/usr/share/ntpverify/sql/schema.sql
	/usr/share/bash-completion/completions/ntpverify
	/usr/share/doc/ntpverify/copyright
)
for m in "$SRC"/sql/migrations/*.sql; do
	expect+=("/usr/share/ntpverify/sql/migrations/${m##*/}")
done
for f in "${expect[@]}"; do
	if printf '%s\n' "$list" | grep -qxF "$f"; then
		nv_pass "package has $f"
	else
		nv_fail "package lacks $f"
	fi
done
for d in README design operators security admins; do
	if printf '%s\n' "$list" | grep -qE "^/usr/share/doc/ntpverify/$d\.md(\.gz)?$"; then
		nv_pass "package has the doc $d.md"
	else
		nv_fail "package lacks /usr/share/doc/ntpverify/$d.md"
	fi
done
stray=$(printf '%s\n' "$list" | grep -vE '^/(etc/ntpverify|lib/systemd/system|usr/bin|usr/lib/sysusers.d|usr/share/(man|doc|ntpverify|bash-completion|lintian/overrides))(/|$)' |
	grep -vxE '/|/etc/|/lib/|/lib/systemd/|/usr/|/usr/lib/|/usr/share/|/usr/share/lintian/' || true)
nv_expect_eq "files outside the usual directories" "" "$stray"
conffiles=$(dpkg-deb -I "$deb" conffiles 2>/dev/null)
nv_expect_eq "conffiles" "/etc/ntpverify/ntpverify.conf" "$conffiles"

# --- maintainer scripts ----------------------------------------------------

# Stubs log their arguments instead of acting. deb-systemd-helper answers
# as on a machine that never had the package: "was-enabled" is true there
# (debhelper's enable snippet relies on that to enable new installations),
# "debian-installed" false. The scripts see a booted systemd through a
# stand-in for /run/systemd/system; PATH has nothing but the stubs.
stubs=$WORK/stubs
mkdir -p "$stubs/bin" "$stubs/run-systemd"
for c in systemctl deb-systemd-invoke systemd-sysusers deb-systemd-helper; do
	cat >"$stubs/bin/$c" <<-EOF
		#!/bin/sh
		echo "$c \$*" >>"$stubs/calls"
		case "$c \$*" in
		*debian-installed*) exit 1 ;;
		esac
		exit 0
	EOF
	chmod 755 "$stubs/bin/$c"
done
mkdir -p "$stubs/scripts"
dpkg-deb -e "$deb" "$stubs/scripts"
for s in postinst prerm postrm; do
	[ -f "$stubs/scripts/$s" ] || continue
	sed "s|/run/systemd/system|$stubs/run-systemd|g" "$stubs/scripts/$s" >"$stubs/$s"
done
run_script() { # script args... -> the stubs' calls, one a line
	: >"$stubs/calls"
	env -i PATH="$stubs/bin" /bin/sh "$stubs/$1" "${@:2}" >/dev/null 2>&1 ||
		nv_fail "$1 $* exited non-zero"
	cat "$stubs/calls"
}
calls=$(run_script postinst configure "")
if printf '%s\n' "$calls" | grep -qE 'systemctl .*(enable|start)|deb-systemd-helper .*enable'; then
	nv_fail "a first installation enables or starts the unit: $(printf '%s; ' "$calls")"
else
	# Its "deb-systemd-invoke start" is a no-op then: deb-systemd-invoke
	# starts no disabled unit.
	nv_pass "a first installation neither enables nor starts the unit"
fi
nv_expect_match "the postinst creates the user" 'systemd-sysusers ntpverify.conf' "$calls"
calls=$(run_script postinst configure "0.0.1-1")
nv_expect_match "an upgrade restarts an enabled or running daemon" \
	"deb-systemd-invoke (try-)?restart 'ntpverify.service'|deb-systemd-invoke (try-)?restart ntpverify.service" "$calls"
calls=$(run_script prerm remove)
nv_expect_match "a removal stops the daemon" "deb-systemd-invoke stop" "$calls"

# --- the unpacked package ---------------------------------------------------

dpkg -x "$deb" "$ROOT"
bin=$ROOT/usr/bin/ntpverify
nv_expect_eq "ntpverify version" "ntpverify $version" "$("$bin" version 2>&1)"

desc=$(file -b "$bin")
if [[ $desc == *", stripped"* ]] && ! readelf -S "$bin" | grep -q '\.debug_info'; then
	nv_pass "the binary is stripped"
else
	nv_fail "the binary is not stripped: $desc"
fi
build_id=$(readelf -n "$bin" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
debug_file=/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
if [ -n "$build_id" ] && dpkg-deb -c "$dbgsym" | awk '{ print $6 }' | grep -qxF ".$debug_file"; then
	nv_pass "the -dbgsym package has $debug_file"
else
	nv_fail "the -dbgsym package lacks the debug file for build ID '${build_id}'"
fi

unit=$ROOT/lib/systemd/system/ntpverify.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
nv_expect_eq "ExecStart" "/usr/bin/ntpverify run --config /etc/ntpverify/ntpverify.conf" "$exec_start"
vroot=$WORK/verify-root
cp -a "$ROOT" "$vroot"
mkdir -p "$vroot/lib/systemd/system" "$vroot/bin"
# This machine's units (the targets the unit is ordered after), but never
# one that would hide the package's own.
for u in /lib/systemd/system/*; do
	[ -e "$vroot/lib/systemd/system/${u##*/}" ] || cp -a "$u" "$vroot/lib/systemd/system/"
done
cp /bin/kill "$vroot/bin/kill"
out=$(systemd-analyze verify --man=no --root="$vroot" /lib/systemd/system/ntpverify.service 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -q 'ntpverify\.service'; then
	nv_pass "systemd-analyze verify --root accepts the packaged unit"
else
	nv_fail "systemd-analyze verify --root (rc $rc): $out"
fi

if cmp -s "$ROOT/etc/ntpverify/ntpverify.conf" "$SRC/dist/ntpverify.conf"; then
	nv_pass "the conffile is dist/ntpverify.conf"
else
	nv_fail "/etc/ntpverify/ntpverify.conf differs from dist/ntpverify.conf"
fi
nv_expect_eq "check-config of the packaged configuration" "configuration OK" \
	"$("$bin" check-config "$ROOT/etc/ntpverify/ntpverify.conf" 2>&1)"
mkdir -p "$WORK/sysusers-root/etc"
out=$(systemd-sysusers --root="$WORK/sysusers-root" --dry-run "$ROOT/usr/lib/sysusers.d/ntpverify.conf" 2>&1)
nv_expect_match "systemd-sysusers would create the ntpverify user" "user 'ntpverify'" "$out"

# --- bash completion --------------------------------------------------------

completion=$ROOT/usr/share/bash-completion/completions/ntpverify
# complete WORD...: what the completion offers for the last WORD, sorted,
# one a line; the binary is the packaged one.
complete_words() {
	(
		cd "$WORK" || exit 1
		PATH=$ROOT/usr/bin:$PATH
		# shellcheck source=/dev/null
		source "$completion"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_ntpverify
		printf '%s\n' "${COMPREPLY[@]}" | sort -u
	)
}
mapfile -t cmds < <("$bin" --help | sed -n '/^commands:/,$ s/^  \([a-z][a-z-]*\) .*/\1/p')
offered=$(complete_words ntpverify "")
missing=()
for c in "${cmds[@]}"; do
	printf '%s\n' "$offered" | grep -qxF "$c" || missing+=("$c")
done
if [ "${#cmds[@]}" -ge 5 ] && [ "${#missing[@]}" -eq 0 ]; then
	nv_pass "completion offers all ${#cmds[@]} subcommands"
else
	nv_fail "completion lacks subcommands: ${missing[*]} (offered: ${offered//$'\n'/ })"
fi
nopts=0
missing=()
for c in "${cmds[@]}"; do
	offered=$(complete_words ntpverify "$c" --)
	for o in $("$bin" help "$c" | sed '$d' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		nopts=$((nopts + 1))
		printf '%s\n' "$offered" | grep -qxF -- "$o" || missing+=("$c $o")
	done
done
if [ "${#missing[@]}" -eq 0 ]; then
	nv_pass "completion offers all $nopts options of the subcommands"
else
	nv_fail "completion lacks options: ${missing[*]}"
fi
nv_expect_eq "completion of list --state" "awaiting_approval cancelled expired pending verified" \
	"$(complete_words ntpverify list --state "" | tr '\n' ' ' | sed 's/ $//')"
nv_expect_eq "completion of check --key-type" "AES128 SHA1" \
	"$(complete_words ntpverify check --key-type "" | tr '\n' ' ' | sed 's/ $//')"
nv_expect_eq "completion of add --method" "key refid setvar" \
	"$(complete_words ntpverify add --method "" | tr '\n' ' ' | sed 's/ $//')"
nv_expect_eq "completion of check-config's FILE" "build.log" \
	"$(complete_words ntpverify check-config bui)"

rm -rf "$ROOT" "$vroot" "$stubs" "$WORK/sysusers-root"
nv_finish
