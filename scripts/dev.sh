#!/usr/bin/env bash
# Quick start: installs what is missing, builds coolingd and coolingctl in
# build-dev/, starts a local PostgreSQL in .dev/pg, migrates a `coolingd`
# database, registers lender DEV-BANK with a fresh API token (revoking the
# token of the previous run), and runs the daemon on 127.0.0.1:8080 as the
# login role coolingd_dev, a member of coolingd_app. Once it answers, prints
# the next steps as commands that work as printed, the sample webhook
# receiver of docs/webhooks/ and its `coolingctl webhook add` included.
#
#   scripts/dev.sh
#
# Re-running is safe: the cluster, database and lender are kept. While one
# runs, a second refuses to start (exit 1) and names the running one.
# Compiler and tool output goes to .dev/dev.log, shown only on failure.
#
# For several side by side, and for the tests (all optional):
#   COOLINGD_DEV_DIR      the state directory (default .dev)
#   COOLINGD_DEV_PORT     coolingd's port on 127.0.0.1 (default 8080)
#   COOLINGD_DEV_PG_PORT  PostgreSQL's port on 127.0.0.1 (default 54329)
#   COOLINGD_DEV_HOOK_PORT the webhook receiver's port in the printed
#                         commands (default 9000)
#   COOLINGD_DEV_BIN_DIR  run coolingd and coolingctl from this directory
#                         instead of building them in build-dev/
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

LENDER=DEV-BANK
DB_ROLE=coolingd_dev
READER_ROLE=coolingd_dev_reader
CONFIG=config/coolingd.dev.conf
# A made-up IIN: born 1990-01-01, century/sex digit 3, serial 0012, and the
# check digit 6 of REGULATION.md (weights 1..11, then 3..11,1,2, modulo 11).
IIN=900101300126

dev=${COOLINGD_DEV_DIR:-.dev}
port=${COOLINGD_DEV_PORT:-8080}
pg_port=${COOLINGD_DEV_PG_PORT:-54329}
hook_port=${COOLINGD_DEV_HOOK_PORT:-9000}
bin=${COOLINGD_DEV_BIN_DIR:-}
# Only dev.sh reads these; coolingd and coolingctl must not see them.
unset COOLINGD_DEV_DIR COOLINGD_DEV_PORT COOLINGD_DEV_PG_PORT COOLINGD_DEV_BIN_DIR \
	COOLINGD_DEV_HOOK_PORT

die() {
	echo "dev.sh: $*" >&2
	exit 1
}

for p in "$port" "$pg_port"; do
	[[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "bad port: $p"
done
mkdir -p "$dev"
dev=$(cd "$dev" && pwd -P)

# Paths as printed: relative to the checkout when inside it.
show() {
	case "$1" in
	"$root"/*) printf '%s' "${1#"$root"/}" ;;
	*) printf '%s' "$1" ;;
	esac
}

pidfile=$dev/coolingd.pid
envfile=$dev/env
log=$dev/dev.log
listen=127.0.0.1:$port
url=http://$listen

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid in the pid file, if it is alive and is this directory's dev.sh
# (building) or the coolingd it became.
running_pid() {
	local pid cmd
	[ -f "$pidfile" ] || return 1
	read -r pid <"$pidfile" || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" != $$ ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	case " $cmd" in
	*coolingd\ * | *dev.sh\ *) echo "$pid" ;;
	*) return 1 ;;
	esac
}

refuse_if_running() {
	local pid prev
	if pid=$(running_pid); then
		# shellcheck disable=SC1090
		prev=$( (. "$envfile" 2>/dev/null && printf '%s' "${COOLINGD_SERVER_LISTEN:-}") || true)
		die "a coolingd of $(show "$dev") is already running at http://${prev:-$listen}" \
			"(pid $pid); stop it (Ctrl-C where it runs, or kill $pid) before starting another"
	fi
	if port_busy "$port"; then
		if curl -fsS -o /dev/null --max-time 2 "$url/healthz" 2>/dev/null; then
			die "a coolingd is already running at $url; stop it, or choose another port" \
				"with COOLINGD_DEV_PORT"
		fi
		die "$listen is taken by another program; stop it, or choose another port" \
			"with COOLINGD_DEV_PORT"
	fi
}

refuse_if_running
echo $$ >"$pidfile"
trap '[ "$(cat "$pidfile" 2>/dev/null)" != $$ ] || rm -f "$pidfile"' EXIT
: >"$log"

steps=5
n=0
step() {
	n=$((n + 1))
	printf 'dev.sh: [%d/%d] %s\n' "$n" "$steps" "$*"
}

failed() { # RC COMMAND...
	local rc=$1
	shift
	echo "dev.sh: failed (exit $rc): $*" >&2
	echo "dev.sh: the last lines of $(show "$log"):" >&2
	tail -n 40 "$log" | sed 's/^/    /' >&2
	exit "$rc"
}

# Runs a command with its output in the log; on failure shows the log's end.
quiet() {
	local rc=0
	printf '\n$ %s\n' "$*" >>"$log"
	"$@" >>"$log" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || failed "$rc" "$@"
}

step "dependencies (scripts/deps.sh)"
quiet scripts/deps.sh

if [ -n "$bin" ]; then
	bin=$(cd "$bin" && pwd -P)
	step "build: skipped, using the binaries in $(show "$bin")"
else
	step "build coolingd and coolingctl in build-dev/ (output in $(show "$log"))"
	quiet cmake -S . -B build-dev -DCOOLINGD_TESTS=OFF -DCOOLINGD_BENCH=OFF
	quiet cmake --build build-dev --target coolingd coolingctl -j"$(nproc 2>/dev/null || echo 2)"
	bin=$root/build-dev/bin
fi
[ -x "$bin/coolingd" ] && [ -x "$bin/coolingctl" ] || die "no coolingd and coolingctl in $bin"

step "PostgreSQL in $(show "$dev/pg") on 127.0.0.1:$pg_port"
quiet scripts/pg.sh start "$dev/pg" "$pg_port"
pg_port=$(cat "$dev/pg/port")
server_url=$(scripts/pg.sh url "$dev/pg")
# The superuser, over the socket: migrations and the operator commands.
admin_url=${server_url/:\/\/\/postgres\?/:\/\/\/coolingd?}
# The daemon's login, over TCP (libpq wants an absolute socket path).
app_url=postgresql://$DB_ROLE@127.0.0.1:$pg_port/coolingd
# Compliance's: coolingctl's reads, as a member of coolingd_reader.
reader_url=postgresql://$READER_ROLE@127.0.0.1:$pg_port/coolingd

step "database coolingd: migrations, login role $DB_ROLE (in coolingd_app), lender $LENDER"
psql_admin() { psql "$1" -X -v ON_ERROR_STOP=1 -qAt -c "$2"; }
if [ -z "$(psql_admin "$server_url" "SELECT 1 FROM pg_database WHERE datname = 'coolingd'")" ]; then
	quiet psql_admin "$server_url" 'CREATE DATABASE coolingd'
fi
admin() { "$bin/coolingctl" -c "$CONFIG" --database "$admin_url" "$@"; }
quiet admin migrate
quiet psql_admin "$admin_url" "
	DO \$\$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_ROLE') THEN
			CREATE ROLE $DB_ROLE LOGIN;
		END IF;
	END \$\$;
	ALTER ROLE $DB_ROLE LOGIN NOSUPERUSER;
	GRANT coolingd_app TO $DB_ROLE;
	DO \$\$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$READER_ROLE') THEN
			CREATE ROLE $READER_ROLE LOGIN;
		END IF;
	END \$\$;
	ALTER ROLE $READER_ROLE LOGIN NOSUPERUSER;
	GRANT coolingd_reader TO $READER_ROLE;"
if [ -z "$(psql_admin "$admin_url" "SELECT 1 FROM lender WHERE id = '$LENDER'")" ]; then
	quiet admin lender add "$LENDER" --kind bank --name "Development bank"
fi
# Webhooks: the key that seals the endpoints' secrets in the database
# ([webhooks] secret_key, docs/security.md) and a secret for the sample
# receiver; made once, kept across runs, readable by this user alone.
hex32() { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }
for f in webhooks.key webhook.secret; do
	[ -s "$dev/$f" ] || (umask 077 && hex32 >"$dev/$f")
done
hook_key=$(cd "$dev" && pwd -P)/webhooks.key

# Again, now that the build is done: another dev.sh may have started since.
refuse_if_running

# The tokens of earlier runs: every active dev-core-* client of the lender.
old=$(psql_admin "$admin_url" "SELECT name FROM api_client WHERE lender_id = '$LENDER'
	AND name LIKE 'dev-core-%' AND revoked_at IS NULL ORDER BY name")
revoked=0
for c in $old; do
	quiet admin client revoke "$c"
	revoked=$((revoked + 1))
done
client=dev-core-$(date +%Y%m%d-%H%M%S)-$$
step "API token for client $client (earlier dev tokens revoked: $revoked)"
# The token is coolingctl's only line of stdout; it is not written to the log.
add=(admin client add --name "$client" --role lender --lender "$LENDER")
printf '\n$ %s\n' "${add[*]}" >>"$log"
rc=0
token=$("${add[@]}" 2>>"$log") || rc=$?
[ "$rc" -eq 0 ] || failed "$rc" "${add[@]}"
[[ "$token" =~ ^cdt_[0-9a-f]{12}_[0-9a-f]{40}$ ]] || die "coolingctl client add printed no token"

# The settings that coolingd and coolingctl share beside $CONFIG.
cat >"$envfile" <<EOF
# Written by scripts/dev.sh on every run: what coolingd and coolingctl use
# besides $CONFIG. Read it with: . $(show "$envfile")
export COOLINGD_DATABASE_URL='$app_url'
export COOLINGD_SERVER_LISTEN='$listen'
export COOLINGD_WEBHOOKS_SECRET_KEY='$hook_key'
EOF
cat >"$dev/reader.env" <<EOF
# Written by scripts/dev.sh: a member of coolingd_reader, for coolingctl's
# read commands (loan show, borrower, export, audit verify), as compliance.
export COOLINGD_DATABASE_URL='$reader_url'
EOF
cat >"$dev/admin.env" <<EOF
# Written by scripts/dev.sh: the database superuser, for the operator commands
# of coolingctl (lender add, client add/revoke, mrp set, migrate).
export COOLINGD_DATABASE_URL='$admin_url'
export COOLINGD_WEBHOOKS_SECRET_KEY='$hook_key'
EOF

loan=LN-$(date +%Y%m%d-%H%M%S)-$$
base=$url/v1/lenders/$LENDER/loans
ctl_show="(. $(show "$dev/reader.env") && $(show "$bin/coolingctl") -c $CONFIG loan show $LENDER $loan)"
ctl_admin="(. $(show "$dev/admin.env") && $(show "$bin/coolingctl") -c $CONFIG client add --name core2 --role lender --lender $LENDER)"
hook_receiver="python3 docs/webhooks/receiver.py --port $hook_port --secret-file $(show "$dev/webhook.secret")"
hook_add="(. $(show "$dev/admin.env") && $(show "$bin/coolingctl") -c $CONFIG webhook add --lender $LENDER --url http://127.0.0.1:$hook_port/ --secret-file $(show "$dev/webhook.secret"))"

curl_cmd() { # PATH BODY
	printf "  curl -sS -i -X POST %s \\\\\n" "$base$1"
	printf "    -H 'Authorization: Bearer %s' \\\\\n" "$token"
	printf "    -H 'Content-Type: application/json' \\\\\n"
	printf "    -d '%s'\n" "$2"
}

next_steps() {
	cat <<EOF

dev.sh: coolingd is ready at $url (pid $1; Ctrl-C stops it, scripts/pg.sh stop $(show "$dev/pg") stops the database)

Database:  $app_url
           (login role $DB_ROLE, a member of coolingd_app, the daemon's alone;
           coolingd reads it from $(show "$envfile"), written by every run;
           coolingctl reads as $READER_ROLE, a member of coolingd_reader,
           from $(show "$dev/reader.env"))
Client:    $client (role lender, lender $LENDER)
Token:     $token

From the checkout, in another terminal (the cooling period is 2m in
$CONFIG, 24h in production):

1. Record an approval: 700000.00 tenge online, unsecured, above 150 MRP, so it
   is cooled after consent (201 Created):

$(curl_cmd "" "{\"loan_id\": \"$loan\", \"borrower_iin\": \"$IIN\", \"amount\": \"700000.00\", \"currency\": \"KZT\", \"channel\": \"online\", \"secured\": false, \"first_time_borrower\": false}")

2. Record the borrower's consent; the cooling period starts (200 OK):

$(curl_cmd "/$loan/consent" "{}")

3. Ask for the payout: refused while the period runs (409 Conflict, with a
   Retry-After header in seconds); after 2 minutes the same command is allowed:

$(curl_cmd "/$loan/disbursement" "{}")

4. Or cancel the loan (200 OK):

$(curl_cmd "/$loan/cancellation" '{"reason": "the borrower changed their mind"}')

5. The loan as compliance sees it, straight from the database (a login of
   coolingd_reader, which reads and cannot change anything):

  $ctl_show

6. $LENDER's events pushed to you as signed webhooks (docs/webhooks.md): start
   the sample receiver in a third terminal, then register it (once: it stays
   registered across runs; coolingctl webhook list and webhook remove ID manage
   it). It prints each event of the lender, those above included, as a line:

  $hook_receiver
  $hook_add

Operator commands (client add, mrp set) need the database superuser:

  $ctl_admin

The web console, in a browser on this machine (paste the token above; a
lender token sees its own lender's loans, a compliance token every loan):

Console:   $url/console/

EOF
}

# Prints the next steps once coolingd answers, from a process of its own
# (double fork, so that coolingd never has to reap it); gives up when the
# daemon exits first. $$ is the daemon's pid after the exec below.
(
	(
		for _ in $(seq 1 300); do
			kill -0 $$ 2>/dev/null || exit 0
			if curl -fsS -o /dev/null --max-time 1 "$url/readyz" 2>/dev/null; then
				next_steps $$
				exit 0
			fi
			sleep 0.1
		done
		echo "dev.sh: coolingd did not become ready within 30 s at $url" >&2
	) &
)

echo "dev.sh: starting coolingd on $listen"
# shellcheck disable=SC1090
. "$envfile"
trap - EXIT
exec "$bin/coolingd" -c "$CONFIG"
