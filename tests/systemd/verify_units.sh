#!/usr/bin/env bash
# CTest: what `cmake --install` puts on a host, checked the way systemd would
# see it. Installs the build tree into a temporary prefix (so that ExecStart
# names binaries that exist) and checks:
#
#   - the layout: binaries, migrations, configuration, units, sysusers.d,
#     docs (docs/operations.md, "Install");
#   - that the units run this install's binaries with its configuration, and
#     that an install with the default prefix ships systemd/* unchanged;
#   - `systemd-analyze verify` on the three units: it must exit 0 and say
#     nothing about them (it exits 0 on a bad value or an unknown key and
#     only prints a warning, so the output is read too). A deliberately
#     broken copy must be reported, or this test could pass anything;
#   - systemd-sysusers creates the coolingd user from the sysusers.d file;
#   - coolingd accepts the installed configuration (--check-config);
#   - a second install keeps an edited coolingd.conf.
#
# Works where systemd is not PID 1 (CI containers): verify and sysusers run
# offline. Exit 77 (skipped) when systemd-analyze is missing.
#
#   verify_units.sh BUILD_DIR        (CMAKE in the environment: cmake to use)
set -uo pipefail

build=${1:?usage: verify_units.sh BUILD_DIR}
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cmake=${CMAKE:-cmake}
units=(coolingd.service coolingd-export.service coolingd-export.timer)

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "verify_units: systemd-analyze not found; skipped"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# Naming the (default) component makes cmake write install_manifest_Unspecified.txt
# instead of the install_manifest.txt of a real install from this build tree.
install_into() { # PREFIX [DESTDIR]
	if ! DESTDIR=${2:-} "$cmake" --install "$build" --prefix "$1" --component Unspecified \
		>"$tmp/install.log" 2>&1; then
		cat "$tmp/install.log" >&2
		fail "cmake --install --prefix $1 failed"
		return 1
	fi
}

# Runs systemd-analyze verify on the units in DIR; prints what it says about
# them and returns 1 when it exits non-zero or says anything about them.
# Lines about other units (targets the units refer to) are not ours.
verify_dir() {
	local dir=$1 out rc
	out=$(cd "$dir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no \
		"${units[@]/#/$dir/}" 2>&1)
	rc=$?
	local ours
	ours=$(grep -F -e coolingd.service -e coolingd-export.service -e coolingd-export.timer \
		<<<"$out")
	if [ "$rc" -ne 0 ] || [ -n "$ours" ]; then
		echo "systemd-analyze verify exited $rc:"
		echo "$out"
		return 1
	fi
	return 0
}

# ---- the installed tree ----
prefix=$tmp/root
install_into "$prefix" || exit 1
for f in bin/coolingd bin/coolingctl etc/coolingd/coolingd.conf \
	lib/systemd/system/coolingd.service lib/systemd/system/coolingd-export.service \
	lib/systemd/system/coolingd-export.timer lib/sysusers.d/coolingd.conf \
	share/doc/coolingd/README.md share/doc/coolingd/docs/operations.md; do
	[ -f "$prefix/$f" ] || fail "not installed: $f"
done
for f in bin/coolingd bin/coolingctl; do
	[ -x "$prefix/$f" ] || fail "not executable: $f"
done
for f in "$source_dir"/sql/*.sql; do
	cmp -s "$f" "$prefix/share/coolingd/sql/$(basename "$f")" ||
		fail "migration not installed: sql/$(basename "$f")"
done

# ---- the units run this install ----
unitdir=$prefix/lib/systemd/system
conf=$prefix/etc/coolingd/coolingd.conf
expect_line() { # FILE LINE
	grep -Fxq -- "$2" "$1" || fail "$(basename "$1") lacks the line: $2"
}
expect_line "$unitdir/coolingd.service" "ExecStart=$prefix/bin/coolingd -c $conf"
expect_line "$unitdir/coolingd.service" "ReadOnlyPaths=$prefix/etc/coolingd"
# shellcheck disable=SC2016 # $MAINPID is for systemd, literally
for line in Type=notify NotifyAccess=main WatchdogSec=30s 'ExecReload=/bin/kill -HUP $MAINPID' \
	User=coolingd Group=coolingd Restart=on-failure; do
	expect_line "$unitdir/coolingd.service" "$line"
done
grep -Fq -- "exec $prefix/bin/coolingctl -c $conf export --since-last daily --format csv" \
	"$unitdir/coolingd-export.service" || fail "coolingd-export.service does not run $prefix/bin/coolingctl"
expect_line "$unitdir/coolingd-export.service" Type=oneshot
expect_line "$unitdir/coolingd-export.service" User=coolingd
expect_line "$unitdir/coolingd-export.timer" OnCalendar=daily
expect_line "$unitdir/coolingd-export.timer" Persistent=true

# With the default prefix the installed units are the files in systemd/.
install_into /usr/local "$tmp/default" &&
	for u in "${units[@]}"; do
		cmp -s "$source_dir/systemd/$u" "$tmp/default/usr/local/lib/systemd/system/$u" ||
			fail "$u installed with prefix /usr/local differs from systemd/$u"
	done
[ -f "$tmp/default/etc/coolingd/coolingd.conf" ] ||
	fail "prefix /usr/local: coolingd.conf not in /etc/coolingd"

# ---- systemd-analyze verify ----
verify_dir "$unitdir" || fail "systemd-analyze verify reports problems in the units"

mkdir "$tmp/broken"
cp "$unitdir"/* "$tmp/broken/"
sed -i 's/^Type=notify$/Type=notify-bogus/' "$tmp/broken/coolingd.service"
if verify_dir "$tmp/broken" >/dev/null; then
	fail "a unit with Type=notify-bogus passed: this check would not catch errors here"
fi

# ---- sysusers ----
if command -v systemd-sysusers >/dev/null 2>&1; then
	sysroot=$tmp/sysroot
	mkdir -p "$sysroot/etc" "$sysroot/usr/lib/sysusers.d"
	cp "$prefix/lib/sysusers.d/coolingd.conf" "$sysroot/usr/lib/sysusers.d/"
	if ! systemd-sysusers --root="$sysroot" >"$tmp/sysusers.log" 2>&1; then
		cat "$tmp/sysusers.log" >&2
		fail "systemd-sysusers failed on sysusers.d/coolingd.conf"
	fi
	grep -Eq '^coolingd:x:[0-9]+:[0-9]+:coolingd daemon:/nonexistent:' "$sysroot/etc/passwd" ||
		fail "systemd-sysusers did not create the coolingd user"
	grep -Eq '^coolingd:x:[0-9]+:' "$sysroot/etc/group" ||
		fail "systemd-sysusers did not create the coolingd group"
else
	echo "verify_units: systemd-sysusers not found; sysusers.d file not checked"
fi

# ---- the installed configuration loads ----
# It names the audit signing key that a host makes before the first start
# (/etc/coolingd/audit.key); here a key of this test's own stands in for it.
grep -Fxq "signing_key = /etc/coolingd/audit.key" "$conf" ||
	fail "the installed configuration does not sign audit checkpoints"
if ! "$prefix/bin/coolingctl" audit keygen --output "$tmp/audit.key" >"$tmp/keygen.log" 2>&1; then
	cat "$tmp/keygen.log" >&2
	fail "coolingctl audit keygen failed"
fi
if ! env -i PATH="$PATH" ${ASAN_OPTIONS+"ASAN_OPTIONS=$ASAN_OPTIONS"} \
	${UBSAN_OPTIONS+"UBSAN_OPTIONS=$UBSAN_OPTIONS"} COOLINGD_AUDIT_SIGNING_KEY="$tmp/audit.key" \
	"$prefix/bin/coolingd" --check-config -c "$conf" >"$tmp/check.log" 2>&1; then
	cat "$tmp/check.log" >&2
	fail "coolingd --check-config rejects the installed $conf"
elif ! grep -Fxq "policy.profile = kz-2025-09" "$tmp/check.log"; then
	cat "$tmp/check.log" >&2
	fail "the installed configuration is not the law in force (profile kz-2025-09)"
fi

# ---- an upgrade keeps the operator's configuration ----
echo "; edited by the operator" >>"$conf"
install_into "$prefix" &&
	{
		tail -n 1 "$conf" | grep -Fxq "; edited by the operator" ||
			fail "a second install overwrote an edited coolingd.conf"
		cmp -s "$source_dir/config/coolingd.conf" "$conf.new" ||
			fail "a second install did not put the example beside it as coolingd.conf.new"
	}

if [ "$failures" -gt 0 ]; then
	echo "verify_units: $failures failure(s)" >&2
	exit 1
fi
echo "verify_units: the installed units and files are fine"
