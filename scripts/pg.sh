#!/usr/bin/env bash
# A throwaway or local PostgreSQL cluster for development and tests.
#
#   scripts/pg.sh start DIR [PORT]   initdb (once) and start; prints the URL last
#   scripts/pg.sh stop DIR           fast shutdown
#   scripts/pg.sh url DIR            the libpq URL of the cluster in DIR
#   scripts/pg.sh pgctl              the command prefix that runs pg_ctl
#
# Data lives in DIR/data, the unix socket in DIR, the server log in
# DIR/postgres.log. Without PORT the server listens on the socket only (port
# 54329, which names the socket); with PORT it listens on 127.0.0.1:PORT too.
# As root, the server runs as the `postgres` user (initdb refuses root).
# PG_FSYNC=off in the environment turns fsync off (default: on).
set -euo pipefail

DEFAULT_PORT=54329
prog=pg.sh

die() {
	echo "$prog: $*" >&2
	exit 1
}

usage() {
	echo "usage: $prog start DIR [PORT] | stop DIR | url DIR | pgctl" >&2
	exit 2
}

pg_bindir() {
	local d
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null || true)
		if [ -n "$d" ] && [ -x "$d/initdb" ]; then
			echo "$d"
			return
		fi
	fi
	# pg_config (libpq-dev) may be newer than the server: take the newest server.
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$d" ] && [ -x "$d/initdb" ] || die "no PostgreSQL server binaries found (install postgresql)"
	echo "$d"
}

BINDIR=$(pg_bindir)

# Runs a command as the cluster's owner: postgres when we are root, else ourselves.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgctl_prefix() {
	if [ "$(id -u)" -eq 0 ]; then
		echo "runuser -u postgres -- $BINDIR/pg_ctl"
	else
		echo "$BINDIR/pg_ctl"
	fi
}

# Percent-encodes a value for a URL query parameter.
urlencode() {
	local s=$1 out= c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case "$c" in
		[A-Za-z0-9/._~-]) out+=$c ;;
		*) out+=$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s' "$out"
}

abs_dir() {
	[ -d "$1" ] || die "$1: no such directory"
	(cd "$1" && pwd -P)
}

# Fails with a clear message when the postgres user cannot reach DIR (DIR
# itself is chowned to postgres; its parents are left alone).
check_traversable() {
	local parent path= part parts
	[ "$(id -u)" -eq 0 ] || return 0
	parent=$(dirname "$1")
	IFS=/ read -r -a parts <<<"${parent#/}"
	for part in "${parts[@]}"; do
		[ -n "$part" ] || continue
		path+=/$part
		if ! runuser -u postgres -- test -x "$path"; then
			die "the postgres user cannot enter $path ($(stat -c '%A %U:%G' "$path"));" \
				"run 'chmod o+x $path' or choose a DIR elsewhere (e.g. mktemp -d)"
		fi
	done
}

port_of() {
	local dir=$1
	if [ -f "$dir/port" ]; then
		cat "$dir/port"
	else
		echo "$DEFAULT_PORT"
	fi
}

url_of() {
	local dir=$1
	printf 'postgresql:///postgres?host=%s&port=%s&user=postgres\n' "$(urlencode "$dir")" \
		"$(port_of "$dir")"
}

is_running() {
	local dir=$1
	[ -f "$dir/data/PG_VERSION" ] || return 1
	as_owner "$BINDIR/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

cmd_start() {
	local dir port listen fsync
	[ $# -ge 1 ] && [ $# -le 2 ] || usage
	mkdir -p "$1"
	dir=$(abs_dir "$1")
	if [ $# -eq 2 ]; then
		port=$2
		[[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] ||
			die "bad port: $port"
		listen=127.0.0.1
	else
		port=$(port_of "$dir")
		listen=
		[ -f "$dir/listen" ] && listen=$(cat "$dir/listen")
	fi
	# The socket path must fit sockaddr_un (108 bytes with the NUL).
	[ ${#dir} -le 90 ] || die "$dir: path too long for a unix socket directory"

	if is_running "$dir"; then
		if [ "$(port_of "$dir")" != "$port" ]; then
			echo "$prog: already running on port $(port_of "$dir"), not $port" >&2
		fi
		url_of "$dir"
		return 0
	fi

	check_traversable "$dir"
	chmod 0755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$dir"
		[ -e "$dir/postgres.log" ] && chown postgres:postgres "$dir/postgres.log"
	fi

	fsync=${PG_FSYNC:-on}
	case "$fsync" in on | off) ;; *) die "PG_FSYNC must be on or off" ;; esac

	if [ ! -f "$dir/data/PG_VERSION" ]; then
		local locale=C.UTF-8
		locale -a 2>/dev/null | grep -ix 'c\.utf-\?8' >/dev/null || locale=C
		local sync=()
		[ "$fsync" = off ] && sync=(--no-sync)
		as_owner "$BINDIR/initdb" -D "$dir/data" --auth=trust -U postgres --encoding=UTF8 \
			--locale="$locale" "${sync[@]}" >"$dir/initdb.log" 2>&1 ||
			{
				cat "$dir/initdb.log" >&2
				die "initdb failed"
			}
		echo "include_if_exists = 'pgsh.conf'" | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
	fi

	# Rewritten on every start so that a later PORT or PG_FSYNC takes effect.
	as_owner tee "$dir/data/pgsh.conf" >/dev/null <<CONF
# Written by scripts/pg.sh; rewritten on every start.
port = $port
listen_addresses = '$listen'
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
fsync = $fsync
max_connections = 200
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
CONF
	echo "$port" >"$dir/port"
	echo "$listen" >"$dir/listen"

	if ! as_owner "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start \
		>/dev/null; then
		tail -n 20 "$dir/postgres.log" >&2 || true
		die "the server in $dir did not start (see $dir/postgres.log)"
	fi
	url_of "$dir"
}

cmd_stop() {
	local dir
	[ $# -eq 1 ] || usage
	[ -d "$1" ] || return 0
	dir=$(abs_dir "$1")
	if is_running "$dir"; then
		as_owner "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
	fi
}

cmd_url() {
	[ $# -eq 1 ] || usage
	url_of "$(abs_dir "$1")"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
url) cmd_url "$@" ;;
pgctl) [ $# -eq 0 ] || usage; pgctl_prefix ;;
*) usage ;;
esac
