#!/usr/bin/env bash
# CTest: the README's quick start as a newcomer meets it. Runs scripts/dev.sh
# in a temporary state directory (COOLINGD_DEV_DIR) on free ports, so that a
# developer's .dev and :8080 are never touched, and checks:
#
#   - it prints one progress line per step and then, once coolingd answers,
#     the next steps as complete curl commands; run exactly as printed they
#     answer 201 (approval), 200 (consent), 409 with Retry-After
#     (disbursement in the cooling period) and 200 (cancellation);
#   - the printed coolingctl command shows that loan, cancelled;
#   - the printed webhook commands, run as printed: the sample receiver
#     starts, coolingctl webhook add registers it, and the receiver verifies
#     and prints the loan's events, delivered by coolingd;
#   - the console's URL, printed last, serves the console's page;
#   - the daemon runs as a login role that is a member of coolingd_app and
#     not a superuser, and logs no superuser warning;
#   - a second dev.sh while one runs refuses (exit non-zero) and names the
#     running one's URL, both for the same state directory (pid file) and for
#     another one on the same port (port probe), and starts nothing;
#   - a re-run revokes the previous run's token (401) and mints a working one.
#
# Stops everything it started and removes its temporary directory.
#
#   dev_quickstart.sh       (COOLINGD_BIN_DIR: use these binaries instead of
#                            letting dev.sh build them)
set -uo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$source_dir" || exit 1

# Settings of the caller's shell must not leak into the daemon under test.
while read -r var; do
	unset "$var"
done < <(compgen -e | grep -E '^COOLINGD_(SERVER|DATABASE|POLICY|LOG|TLS|AUDIT|DEV)_' || true)

# Under /tmp, not $TMPDIR: the postgres user (when run as root) must be able
# to enter it, and the socket path must stay short.
tmp=$(mktemp -d /tmp/coolingd-devqs.XXXXXX)
chmod 0711 "$tmp"
dev=$tmp/dev
pids=()
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

cleanup() {
	local pid i
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || continue
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	scripts/pg.sh stop "$dev/pg" >/dev/null 2>&1 || true
	if [ "$failures" -gt 0 ]; then
		for f in "$tmp"/run*.out; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f")"
			cat "$f"
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# A loopback port that nobody answers on, from a random start so that test
# runs side by side rarely pick the same one, below the kernel's range of
# ephemeral ports: a port there may be the local end of some client's
# connection, which answers nothing and still cannot be bound.
free_port() { # [EXCEPT...]
	local low span p start i
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
	span=$((low - 10000 - 200))
	[ "$span" -gt 1000 ] || span=1000
	start=$((10000 + RANDOM % span))
	for ((i = 0; i < 200; i++)); do
		p=$((start + i))
		case " $* " in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
port=$(free_port) || {
	echo "no free port" >&2
	exit 1
}
pg_port=$(free_port "$port") || {
	echo "no free port" >&2
	exit 1
}
hook_port=$(free_port "$port" "$pg_port") || {
	echo "no free port" >&2
	exit 1
}

dev_env=(COOLINGD_DEV_DIR="$dev" COOLINGD_DEV_PORT="$port" COOLINGD_DEV_PG_PORT="$pg_port"
	COOLINGD_DEV_HOOK_PORT="$hook_port" PG_FSYNC=off)
[ -n "${COOLINGD_BIN_DIR:-}" ] && dev_env+=(COOLINGD_DEV_BIN_DIR="$COOLINGD_BIN_DIR")
# Only this script reads it: the daemon gets its settings from dev.sh alone.
unset COOLINGD_BIN_DIR

# Starts dev.sh in the background (its pid in dev_pid); waits until it says
# that coolingd is ready.
start_dev() { # NAME
	local out=$tmp/$1.out i
	env "${dev_env[@]}" scripts/dev.sh >"$out" 2>&1 &
	dev_pid=$!
	pids+=("$dev_pid")
	for ((i = 0; i < 2400; i++)); do
		if grep -q '^dev.sh: coolingd is ready at ' "$out"; then
			# The rest of the block follows in the same write; let it land.
			sleep 0.2
			return 0
		fi
		kill -0 "$dev_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$1: dev.sh did not say that coolingd is ready"
	return 1
}

# Stops a dev.sh (which is the coolingd it became) and waits for it.
stop_dev() { # PID
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	[ "$rc" -eq 0 ] || fail "coolingd exited $rc on SIGTERM"
}

# Writes each printed curl command (with its continuation lines) to
# DIR/curl1, DIR/curl2, ...; prints how many.
extract_curls() { # OUT DIR
	mkdir -p "$2"
	awk -v dir="$2" '
		/^  curl / { n++; f = dir "/curl" n }
		f != "" { print > f }
		f != "" && !/\\$/ { close(f); f = "" }
		END { print n + 0 }' "$1"
}

# Runs one printed command as printed; sets status and response.
run_printed() { # FILE
	response=$(bash "$1" 2>&1)
	status=$(printf '%s\n' "$response" | head -n 1 | awk '{ print $2 }')
}

expect_status() { # WHAT WANT
	[ "$status" = "$2" ] || fail "$1: status ${status:-none}, want $2: $(printf '%s' "$response" | head -c 400)"
}

# ---- the first run -------------------------------------------------------

start_dev run1 || exit 1
pid1=$dev_pid
out1=$tmp/run1.out

# Progress: one line per step before the daemon starts, no compiler output.
nsteps=$(grep -c '^dev.sh: \[[0-9]/[0-9]\] ' "$out1")
[ "$nsteps" -eq 5 ] || fail "run1: $nsteps progress lines, want 5"
before=$(awk '/^dev.sh: starting coolingd/ { print NR; exit }' "$out1")
[ -n "$before" ] && [ "$before" -le 6 ] ||
	fail "run1: ${before:-no} lines before coolingd starts, want the 5 steps only"

ncurl=$(extract_curls "$out1" "$tmp/cmd1")
if [ "$ncurl" -ne 4 ]; then
	fail "run1: $ncurl curl commands printed, want 4 (approval, consent, disbursement, cancellation)"
else
	for f in "$tmp"/cmd1/curl*; do
		grep -q "Content-Type: application/json" "$f" || fail "$(basename "$f"): no JSON Content-Type"
	done
	run_printed "$tmp/cmd1/curl1"
	expect_status "approval" 201
	loan=$(printf '%s' "$response" | sed -n 's/.*"loan_id":"\([^"]*\)".*/\1/p' | head -n 1)
	run_printed "$tmp/cmd1/curl2"
	expect_status "consent" 200
	run_printed "$tmp/cmd1/curl3"
	expect_status "disbursement in the cooling period" 409
	printf '%s\n' "$response" | sed '/^\r\{0,1\}$/q' | grep -qiE '^Retry-After: [0-9]+' ||
		fail "disbursement: no Retry-After header: $(printf '%s' "$response" | head -c 400)"
	run_printed "$tmp/cmd1/curl4"
	expect_status "cancellation" 200
fi

# The printed coolingctl command shows the loan.
ctl=$(grep -E '^  \(.*coolingctl .*loan show ' "$out1" | head -n 1)
if [ -z "$ctl" ]; then
	fail "run1: no coolingctl loan show command printed"
elif [ -z "${loan:-}" ]; then
	fail "run1: the approval answered no loan_id"
else
	rc=0
	shown=$(bash -c "$ctl" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "'$ctl' exited $rc: $shown"
	grep -qE "^loan_id: +$loan\$" <<<"$shown" || fail "'$ctl' does not show loan $loan: $shown"
	grep -qE '^status: +cancelled$' <<<"$shown" || fail "'$ctl' does not show it cancelled: $shown"
fi

# The printed webhook commands: the sample receiver, started as printed,
# gets the lender's events (the loan's above included) from coolingd,
# signed; coolingctl webhook add, run as printed, registers it.
recv=$(grep -E '^  python3 docs/webhooks/receiver\.py ' "$out1" | head -n 1)
hook=$(grep -E '^  \(.*coolingctl .*webhook add ' "$out1" | head -n 1)
if [ -z "$recv" ] || [ -z "$hook" ]; then
	fail "run1: no webhook receiver or webhook add command printed"
else
	grep -qF -- "--port $hook_port " <<<"$recv" || fail "run1: the receiver's port is not $hook_port: $recv"
	bash -c "exec $recv" >"$tmp/receiver.out" 2>&1 &
	pids+=($!)
	for ((i = 0; i < 300; i++)); do
		grep -q '^listening on ' "$tmp/receiver.out" && break
		sleep 0.1
	done
	grep -q '^listening on ' "$tmp/receiver.out" || fail "the printed receiver did not start: $(cat "$tmp/receiver.out")"
	rc=0
	added=$(bash -c "$hook" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "'$hook' exited $rc: $added"
	grep -qE '^id: [0-9]+$' <<<"$added" || fail "'$hook' printed no id: $added"
	want="cancelled DEV-BANK ${loan:-none}"
	for ((i = 0; i < 300; i++)); do
		grep -qE "^event [0-9]+ $want\$" "$tmp/receiver.out" && break
		sleep 0.1
	done
	grep -qE "^event [0-9]+ approval_recorded DEV-BANK ${loan:-none}\$" "$tmp/receiver.out" &&
		grep -qE "^event [0-9]+ $want\$" "$tmp/receiver.out" ||
		fail "the receiver did not get the loan's events within 30 s: $(cat "$tmp/receiver.out")"
fi

# The daemon's database login: a member of coolingd_app, no superuser, and
# the same URL that dev.sh printed and coolingctl read.
app_url=$( (. "$dev/env" && printf '%s' "$COOLINGD_DATABASE_URL") 2>/dev/null)
grep -qF "Database:  $app_url" "$out1" || fail "run1: the printed database URL is not the one in $dev/env"
role=$(psql "$app_url" -XAt -c "SELECT rolsuper, pg_has_role(current_user, 'coolingd_app', 'member')
	FROM pg_roles WHERE rolname = current_user" 2>&1)
[ "$role" = "f|t" ] || fail "the daemon's role: superuser|member of coolingd_app = '$role', want f|t"
grep -q "as a superuser" "$out1" && fail "run1: coolingd warned about a superuser"

# coolingctl's printed reads go as a member of coolingd_reader, not of the
# daemon's coolingd_app.
reader_url=$( (. "$dev/reader.env" && printf '%s' "$COOLINGD_DATABASE_URL") 2>/dev/null)
role=$(psql "$reader_url" -XAt -c "SELECT rolsuper, pg_has_role(current_user, 'coolingd_reader', 'member'),
	pg_has_role(current_user, 'coolingd_app', 'member') FROM pg_roles WHERE rolname = current_user" 2>&1)
[ "$role" = "f|t|f" ] ||
	fail "coolingctl's dev role: superuser|member of coolingd_reader|of coolingd_app = '$role', want f|t|f"
grep -qF "reader.env" <<<"${ctl:-}" || fail "run1: the printed coolingctl command does not read .dev/reader.env: ${ctl:-}"

# ---- a second dev.sh while the first runs --------------------------------

for second in same other; do
	if [ "$second" = same ]; then
		env_second=("${dev_env[@]}")
	else
		# Another state directory on the same port: only the port probe sees it.
		env_second=("${dev_env[@]}" COOLINGD_DEV_DIR="$tmp/other" COOLINGD_DEV_PG_PORT=$((pg_port + 1)))
	fi
	rc=0
	timeout 30 env "${env_second[@]}" scripts/dev.sh >"$tmp/run-second-$second.out" 2>&1 || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second dev.sh ($second dir): exit $rc, want a refusal"
	grep -qF "http://127.0.0.1:$port" "$tmp/run-second-$second.out" ||
		fail "second dev.sh ($second dir) does not name the running one's URL"
	grep -q '^dev.sh: \[' "$tmp/run-second-$second.out" &&
		fail "second dev.sh ($second dir) started work before refusing"
done
[ -e "$tmp/other/pg" ] && fail "the refused dev.sh created a cluster"
kill -0 "$pid1" 2>/dev/null || fail "the first coolingd died while the second dev.sh ran"
# The console's URL, printed last, serves the console's page.
console_url=$(sed -n 's/^Console: *//p' "$out1")
[ "$console_url" = "http://127.0.0.1:$port/console/" ] || fail "run1: console URL '$console_url'"
code=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$console_url")
[ "$code" = "200 text/html; charset=utf-8" ] || fail "the printed console URL answers '$code'"

# ... and its token still works: the refused dev.sh revoked nothing.
token1=$(sed -n 's/^Token: *//p' "$out1")
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $token1" \
	"http://127.0.0.1:$port/v1/lenders/DEV-BANK/loans/${loan:-none}")
[ "$code" = 200 ] || fail "the first run's token after a refused second dev.sh: $code, want 200"

# ---- a re-run -------------------------------------------------------------

stop_dev "$pid1"
start_dev run2 || exit 1
pid2=$dev_pid
if [ "${ncurl:-0}" -ge 1 ]; then
	run_printed "$tmp/cmd1/curl1"
	expect_status "the first run's token after a re-run" 401
	ncurl2=$(extract_curls "$tmp/run2.out" "$tmp/cmd2")
	if [ "$ncurl2" -ge 1 ]; then
		run_printed "$tmp/cmd2/curl1"
		expect_status "approval with the re-run's token" 201
	else
		fail "run2: no curl command printed"
	fi
fi
grep -q 'earlier dev tokens revoked: 1)' "$tmp/run2.out" || fail "run2 does not report the revoked token"
stop_dev "$pid2"

if [ "$failures" -gt 0 ]; then
	echo "dev_quickstart: $failures failure(s)"
	exit 1
fi
echo "dev_quickstart: ok"
