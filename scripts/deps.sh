#!/usr/bin/env bash
# Installs the Debian packages that building and testing coolingd need.
# Runs apt-get only when something is missing, so a second run is instant.
set -euo pipefail

packages=(build-essential cmake pkg-config libevent-dev libjansson-dev libpq-dev
	  libcurl4-openssl-dev
	  libinih-dev libsystemd-dev libssl-dev check postgresql tzdata curl
	  clang libclang-rt-14-dev openssl postgresql-15-auto-failover chromium
	  prometheus scdoc debhelper dpkg-dev lintian)
# prometheus is for its promtool, which checks a scrape of GET /metrics and
# docs/alerts.yml; Debian packages it with the server, whose service it
# enables (systemctl disable --now prometheus where that is not wanted).

# scdoc turns the man pages (docs/man/*.scd) into roff at build. debhelper,
# dpkg-dev and lintian build and check the Debian package (debian/,
# tests/package/check.sh).

# chromium: the browser that the console's tests drive (tests/console,
# /usr/bin/chromium, headless). Node.js and npm run the checks of
# docs/openapi.yaml (tests/api) and the console's tests; the build needs
# neither (the console's chart library is vendored: daemon/console/vendor/).
# Any installation that provides the commands will do.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
# python3 runs the sample webhook receiver (docs/webhooks/receiver.py) of the
# quick start and the e2e tests; any installation will do.
command -v python3 >/dev/null 2>&1 || packages+=(python3)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	sudo=(sudo -n)
else
	echo "deps.sh: missing packages: ${missing[*]}" >&2
	echo "deps.sh: install them as root with:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
