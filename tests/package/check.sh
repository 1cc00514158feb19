#!/usr/bin/env bash
# CTest (label package): the Debian package, built, read and installed the
# way a bank's host gets it (docs/operations.md, "Install").
#
#   1. `dpkg-buildpackage -b -us -uc` on a copy of the source tree (so that
#      the checkout's build directories play no part), without network where
#      the kernel lets this script drop it (unshare -n): the build must need
#      none. DEB_BUILD_OPTIONS=nocheck: scripts/test.sh runs the tests.
#   2. The .deb's files, its conffile and its control fields; its version is
#      the one of CMakeLists.txt.
#   3. lintian: any E: fails (warnings are printed).
#   4. Installed with dpkg -i on this very machine, which must have no
#      running systemd (a CI container): the postinst must not fail there.
#      The coolingd user exists, the configuration is root:coolingd 0640,
#      the binaries run, the installed configuration loads (profile
#      kz-2025-09); a second install keeps an edited configuration. Then
#      `dpkg --purge`; where this test made the user, the same install
#      without systemd-sysusers on PATH (adduser makes the user). Last the
#      user is removed if this test made it: the machine is left as it was.
#
# Needs root (dpkg -i); exit 77 (skipped) otherwise. Refuses to run where a
# coolingd package is installed already: that is someone's real install.
set -uo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
started=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
	echo "package: not root, cannot install the package; skipped"
	exit 77
fi
for tool in dpkg-buildpackage dpkg-deb lintian; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "FAIL: $tool not found (scripts/deps.sh installs it)" >&2
		exit 1
	}
done

tmp=$(mktemp -d)
installed_by_us=0
user_made_by_us=0
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
# dpkg takes one process at a time; another dpkg run on this machine (an
# apt-get of a neighbour) holds its lock for a while. Retry until a deadline.
dpkg_locked() { # ARGS... (of dpkg)
	local deadline=$(($(date +%s) + 300)) out rc
	while :; do
		out=$(dpkg "$@" 2>&1)
		rc=$?
		if [ "$rc" -ne 0 ] && grep -Eq 'frontend lock|database is locked' <<<"$out" && [ "$(date +%s)" -lt "$deadline" ]; then
			sleep 1
			continue
		fi
		printf '%s\n' "$out"
		return "$rc"
	done
}
cleanup() {
	if [ "$installed_by_us" -eq 1 ]; then
		dpkg_locked --purge coolingd >"$tmp/purge-on-exit.log" 2>&1 ||
			cat "$tmp/purge-on-exit.log" >&2
	fi
	if [ "$user_made_by_us" -eq 1 ] && getent passwd coolingd >/dev/null; then
		userdel coolingd 2>/dev/null
		getent group coolingd >/dev/null && groupdel coolingd 2>/dev/null
	fi
	# A red run keeps the build and its logs for reading.
	if [ "$failures" -eq 0 ]; then
		rm -rf "$tmp"
	else
		echo "package: the build and its logs are kept in $tmp" >&2
	fi
}
trap cleanup EXIT

# Two runs of this test on one machine (two checkouts) take turns: the
# second waits for the first to purge, rather than finding its install.
exec 9>/run/lock/coolingd-package-test.lock
flock -w 600 9 || {
	echo "FAIL: another run of this test held its lock for 10 minutes" >&2
	exit 1
}
if dpkg-query -W -f='${db:Status-Status}' coolingd 2>/dev/null | grep -qv '^not-installed$'; then
	echo "FAIL: a coolingd package is installed on this machine; not touching it" >&2
	exit 1
fi
if [ -e /etc/coolingd ]; then
	echo "FAIL: /etc/coolingd exists (an install by hand?); not touching it" >&2
	exit 1
fi

# ---- 1. the build ----
src=$tmp/coolingd
mkdir -p "$src"
tar -C "$source_dir" --exclude='./build*' --exclude=./.git --exclude=node_modules \
	--exclude=./.dev --exclude='./obj-*' --exclude=./debian/coolingd --exclude=./debian/.debhelper \
	-cf - . | tar -C "$src" -xf - || {
	echo "FAIL: cannot copy the source tree" >&2
	exit 1
}
offline=()
if unshare -n true 2>/dev/null; then
	offline=(unshare -n)
	echo "package: building without network (unshare -n)"
else
	echo "package: cannot drop the network here (unshare -n); building with it"
fi
build_started=$(date +%s)
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" "${offline[@]}" \
	dpkg-buildpackage -b -us -uc) >"$tmp/build.log" 2>&1; then
	tail -n 60 "$tmp/build.log" >&2
	fail "dpkg-buildpackage -b -us -uc failed"
	exit 1
fi
echo "package: dpkg-buildpackage took $(($(date +%s) - build_started)) s"

version=$(sed -n 's/^project(coolingd VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")
changelog_version=$(cd "$src" && dpkg-parsechangelog -S Version)
[ "$changelog_version" = "$version" ] ||
	fail "debian/changelog is at $changelog_version, CMakeLists.txt at $version: add a changelog entry"
arch=$(dpkg --print-architecture)
deb=$tmp/coolingd_${changelog_version}_${arch}.deb
if [ ! -f "$deb" ]; then
	ls "$tmp" >&2
	fail "no $(basename "$deb") built"
	exit 1
fi

# ---- 2. the contents ----
dpkg-deb -c "$deb" >"$tmp/contents" || fail "dpkg-deb -c failed"
# "./etc/..." -> "/etc/...", with the mode string in front
awk '{ sub(/^\./, "", $6); print $1, $6 }' "$tmp/contents" >"$tmp/files"
expect_file() { # MODE PATH
	grep -Fxq -- "$1 $2" "$tmp/files" || fail "the package lacks $2 (mode $1)"
}
expect_file -rwxr-xr-x /usr/sbin/coolingd
expect_file -rwxr-xr-x /usr/bin/coolingctl
expect_file -rw-r----- /etc/coolingd/coolingd.conf
for unit in coolingd.service coolingd-export.service coolingd-export.timer; do
	expect_file -rw-r--r-- "/lib/systemd/system/$unit"
done
for f in /usr/lib/sysusers.d/coolingd.conf /usr/share/man/man8/coolingd.8.gz \
	/usr/share/man/man1/coolingctl.1.gz /usr/share/man/man5/coolingd.conf.5.gz \
	/usr/share/bash-completion/completions/coolingctl /usr/share/coolingd/alerts.yml \
	/usr/share/coolingd/grafana-dashboard.json /usr/share/doc/coolingd/copyright \
	/usr/share/doc/coolingd/docs/operations.md; do
	expect_file -rw-r--r-- "$f"
done
for f in "$source_dir"/sql/*.sql; do
	expect_file -rw-r--r-- "/usr/share/coolingd/sql/$(basename "$f")"
done
grep -q '/usr/bin/coolingd$' "$tmp/files" && fail "the daemon is in /usr/bin too"

mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control" || fail "dpkg-deb -e failed"
[ "$(cat "$tmp/control/conffiles" 2>/dev/null)" = /etc/coolingd/coolingd.conf ] ||
	fail "conffiles is not exactly /etc/coolingd/coolingd.conf: $(cat "$tmp/control/conffiles" 2>&1)"
dpkg-deb -f "$deb" Depends | grep -qw adduser || fail "Depends lacks adduser (the postinst's fallback)"

mkdir "$tmp/unpacked"
dpkg-deb -x "$deb" "$tmp/unpacked" || fail "dpkg-deb -x failed"
u=$tmp/unpacked
cmp -s "$source_dir/config/coolingd.conf" "$u/etc/coolingd/coolingd.conf" ||
	fail "the packaged coolingd.conf is not config/coolingd.conf"
cmp -s "$source_dir/docs/alerts.yml" "$u/usr/share/coolingd/alerts.yml" ||
	fail "the packaged alerts.yml is not docs/alerts.yml"
grep -Fxq 'ExecStart=/usr/sbin/coolingd -c /etc/coolingd/coolingd.conf' \
	"$u/lib/systemd/system/coolingd.service" || fail "coolingd.service does not run /usr/sbin/coolingd"
grep -Fq 'exec /usr/bin/coolingctl -c /etc/coolingd/coolingd.conf export' \
	"$u/lib/systemd/system/coolingd-export.service" ||
	fail "coolingd-export.service does not run /usr/bin/coolingctl"
# The migrations' documentation beside them: how to write them and upgrade.
[ -f "$u/usr/share/coolingd/upgrading.md" ] || fail "no /usr/share/coolingd/upgrading.md"
# Every file:// link of the units' Documentation= is in the package.
while read -r doc; do
	[ -f "$u${doc#file://}" ] || fail "a unit's Documentation= names $doc, which the package lacks"
done < <(sed -n 's/^Documentation=//p' "$u"/lib/systemd/system/* | tr ' ' '\n' | grep '^file://' | sort -u)
for page in man8/coolingd.8 man1/coolingctl.1 man5/coolingd.conf.5; do
	zcat "$u/usr/share/man/$page.gz" | grep -q '^\.SH' || fail "$page.gz is not a man page"
done
# The dashboard: JSON that shows only series that coolingd exports.
if command -v python3 >/dev/null 2>&1; then
	python3 -m json.tool "$u/usr/share/coolingd/grafana-dashboard.json" >/dev/null ||
		fail "grafana-dashboard.json is not JSON"
fi
while read -r m; do
	base=${m%_bucket}
	grep -q "\"$base\|$base{" "$source_dir/daemon/metrics.c" "$source_dir/daemon/feed.c" ||
		fail "the dashboard shows $m, which daemon/metrics.c and feed.c do not export"
done < <(grep -o 'coolingd_[a-z_]*' "$u/usr/share/coolingd/grafana-dashboard.json" | sort -u)
for m in coolingd_http_requests_total coolingd_http_request_duration_seconds_bucket \
	coolingd_decisions_total coolingd_refusals_total coolingd_db_pool_connections \
	coolingd_audit_unsealed_events coolingd_webhook_events_behind; do
	grep -q "$m" "$u/usr/share/coolingd/grafana-dashboard.json" || fail "the dashboard lacks $m"
done

# ---- 3. lintian ----
lintian --no-tag-display-limit "$deb" >"$tmp/lintian.log" 2>&1
grep -E '^[EWI]: ' "$tmp/lintian.log"
grep -q '^E: ' "$tmp/lintian.log" && fail "lintian reports errors"

# ---- 4. the install, on a machine without a running systemd ----
if [ -d /run/systemd/system ]; then
	fail "systemd runs on this machine: this test proves the install without it, in a container"
fi
user_existed=0
getent passwd coolingd >/dev/null && user_existed=1
installed_by_us=1
if ! dpkg_locked -i "$deb" >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log" >&2
	fail "dpkg -i failed"
fi
[ "$user_existed" -eq 0 ] && getent passwd coolingd >/dev/null && user_made_by_us=1
conf=/etc/coolingd/coolingd.conf
getent passwd coolingd | grep -Eq '^coolingd:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:' ||
	fail "no system user coolingd with home /nonexistent: $(getent passwd coolingd)"
getent group coolingd >/dev/null || fail "no group coolingd"
[ "$(stat -c '%U:%G %a' "$conf" 2>&1)" = "root:coolingd 640" ] ||
	fail "$conf is $(stat -c '%U:%G %a' "$conf" 2>&1), not root:coolingd 640"
/usr/sbin/coolingd --version | grep -Fq "coolingd $version" ||
	fail "/usr/sbin/coolingd --version: $(/usr/sbin/coolingd --version 2>&1)"
/usr/bin/coolingctl --version >/dev/null 2>&1 || fail "/usr/bin/coolingctl --version failed"
# The configuration as installed loads, with a key standing in for the
# host's /etc/coolingd/audit.key (made before the first start).
/usr/bin/coolingctl audit keygen --output "$tmp/audit.key" >/dev/null 2>&1 ||
	fail "coolingctl audit keygen failed"
if COOLINGD_AUDIT_SIGNING_KEY=$tmp/audit.key /usr/sbin/coolingd --check-config \
	>"$tmp/check.log" 2>&1; then
	grep -Fxq 'policy.profile = kz-2025-09' "$tmp/check.log" ||
		fail "the installed configuration is not profile kz-2025-09"
else
	cat "$tmp/check.log" >&2
	fail "coolingd --check-config rejects the installed configuration"
fi
bash -n /usr/share/bash-completion/completions/coolingctl || fail "the completion is not bash"
# The completion offers coolingctl's commands.
words=$(bash -c 'source /usr/share/bash-completion/completions/coolingctl
	COMP_WORDS=(coolingctl audit ""); COMP_CWORD=2; _coolingctl; echo "${COMPREPLY[*]}"')
[ "$words" = "keygen verify" ] || fail "completion of 'coolingctl audit ': '$words'"
systemctl is-enabled coolingd.service >/dev/null 2>&1 &&
	fail "coolingd.service is enabled at install, before its database is set up"

# A second install (an upgrade's unpack and configure) keeps the edited
# configuration and its mode.
echo "; edited by the operator" >>"$conf"
if ! dpkg_locked -i "$deb" >"$tmp/reinstall.log" 2>&1; then
	cat "$tmp/reinstall.log" >&2
	fail "a second dpkg -i failed"
fi
tail -n 1 "$conf" | grep -Fxq "; edited by the operator" || fail "a second install lost the edit"
[ "$(stat -c '%U:%G %a' "$conf")" = "root:coolingd 640" ] ||
	fail "after a second install $conf is $(stat -c '%U:%G %a' "$conf")"

purge() {
	if ! dpkg_locked --purge coolingd >"$tmp/purge.log" 2>&1; then
		cat "$tmp/purge.log" >&2
		fail "dpkg --purge failed"
	fi
}
purge

# Without systemd-sysusers (a host without systemd installed at all) the
# postinst makes the same user with adduser. Only when this test made the
# user: someone else's is not deleted.
if [ "$user_made_by_us" -eq 1 ]; then
	userdel coolingd && { ! getent group coolingd >/dev/null || groupdel coolingd; }
	nosysusers=$tmp/path-without-sysusers
	mkdir "$nosysusers"
	IFS=: read -ra dirs <<<"$PATH"
	for d in "${dirs[@]}"; do
		for f in "$d"/*; do
			n=${f##*/}
			[ "$n" = systemd-sysusers ] || [ -e "$nosysusers/$n" ] || ln -s "$f" "$nosysusers/$n"
		done
	done
	if ! PATH=$nosysusers dpkg_locked -i "$deb" >"$tmp/install-adduser.log" 2>&1; then
		cat "$tmp/install-adduser.log" >&2
		fail "dpkg -i without systemd-sysusers failed"
	fi
	getent passwd coolingd | grep -Eq '^coolingd:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' ||
		fail "without systemd-sysusers, no system user coolingd: '$(getent passwd coolingd)'"
	[ "$(stat -c '%U:%G %a' "$conf" 2>&1)" = "root:coolingd 640" ] ||
		fail "without systemd-sysusers, $conf is $(stat -c '%U:%G %a' "$conf" 2>&1)"
	purge
fi
installed_by_us=0
for f in /usr/sbin/coolingd /usr/bin/coolingctl "$conf" /lib/systemd/system/coolingd.service; do
	[ -e "$f" ] && fail "$f is left after dpkg --purge"
done
[ -d /etc/coolingd ] && fail "/etc/coolingd is left after dpkg --purge"

echo "package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB, in $(($(date +%s) - started)) s"
if [ "$failures" -gt 0 ]; then
	echo "package: $failures failure(s)" >&2
	exit 1
fi
echo "package: built, read, installed and purged"
