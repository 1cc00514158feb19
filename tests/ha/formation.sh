#!/usr/bin/env bash
# A pg_auto_failover formation on loopback for the failover test: a monitor
# and two PostgreSQL nodes with synchronous replication, every file under
# DIR (data, logs, pg_autoctl's own configuration), torn down by `stop`.
#
#   formation.sh start DIR PORT   monitor on PORT, node1 PORT+1, node2 PORT+2;
#                                 prints the formation's multi-host URL
#   formation.sh kill DIR NODE    SIGKILL the node's pg_autoctl and postmaster
#                                 (the whole node fails at once)
#   formation.sh run DIR NODE     starts the node's pg_autoctl again; it
#                                 rejoins as a standby
#   formation.sh wait DIR SECS    waits until one node is primary and the
#                                 other secondary, as assigned
#   formation.sh state DIR        pg_autoctl show state
#   formation.sh primary DIR      the name of the primary node, if any
#   formation.sh stop DIR         stops everything and removes DIR
#
# initdb and pg_autoctl refuse root: as root they run as postgres.
set -euo pipefail

cmd=${1:?usage: formation.sh start|kill|run|state|primary|stop DIR ...}
dir=${2:?DIR}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pgctl=$pgbin/pg_ctl

# Every process of a node (pg_autoctl's, pg_ctl, the postmaster and its
# backends) inherits COOLINGD_HA_NODE=DIR/NODE from here: that is how `kill`
# and `stop` find exactly those processes and no other.
mark=$dir
as_pg() {
	local u=()
	[ "$(id -u)" -ne 0 ] || u=(runuser -u postgres --)
	"${u[@]}" env XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
		XDG_RUNTIME_DIR="$dir/xdg/run" PATH="$pgbin:$PATH" PG_REGRESS_SOCK_DIR="$dir/sock" \
		PGHOST="$dir/sock" COOLINGD_HA_NODE="$mark" "$@"
}

pids_marked() { # MARK: the processes whose COOLINGD_HA_NODE is MARK
	local p
	for p in /proc/[0-9]*; do
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "COOLINGD_HA_NODE=$1"; then
			echo "${p#/proc/}"
		fi
	done
}

kill_marked() { # MARK
	local pids kids p
	pids=$(pids_marked "$1")
	[ -n "$pids" ] || return 0
	# and their children: PostgreSQL writes its processes' titles over their
	# environment, so a server's logger and background workers no longer
	# carry the mark, and would outlive the SIGKILL of their postmaster
	kids=$(for p in $pids; do ps -o pid= --ppid "$p"; done)
	# shellcheck disable=SC2086
	kill -KILL $pids $kids 2>/dev/null || true
}

# The monitor declares a node unhealthy after about 4 s (instead of about
# 30 s) and lets the standby take over 2 s after that instead of 30 s when
# the old primary cannot be told to step down (it is dead).
monitor_settings() {
	cat <<'CONF'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 4000
pgautofailover.primary_demote_timeout = 2000
pgautofailover.startup_grace_period = 2000
CONF
}

run_bg() { # NODE: pg_autoctl run in the background, log appended
	local node=$1
	mark=$dir/$node as_pg setsid pg_autoctl run --pgdata "$dir/$node" >>"$dir/$node.log" 2>&1 </dev/null &
	echo $! >"$dir/$node.runpid"
}

wait_until() { # SECONDS CMD...: true once CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $until ]; do
		if "$@" >/dev/null; then return 0; fi
		sleep 0.3
	done
	return 1
}

show_state() { as_pg pg_autoctl show state --pgdata "$dir/monitor" 2>/dev/null; }
# Both nodes settled: one primary and one secondary, as assigned.
two_ok() {
	[ "$(show_state | awk -F'|' 'NF >= 3 {a = $(NF - 1); b = $NF; gsub(/ /, "", a); gsub(/ /, "", b)
		if (a == b && (a == "primary" || a == "secondary")) n++} END {print n + 0}')" -eq 2 ]
}

case $cmd in
start)
	port=${3:?PORT}
	mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/run" "$dir/sock"
	chmod 700 "$dir/xdg/run"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$dir"
	mark=$dir/monitor as_pg pg_autoctl create monitor --pgdata "$dir/monitor" --pgport "$port" \
		--hostname 127.0.0.1 --auth trust --no-ssl --pgctl "$pgctl" >"$dir/monitor.log" 2>&1
	monitor_settings | as_pg tee -a "$dir/monitor/postgresql.conf" >/dev/null
	run_bg monitor
	monitor=$(as_pg pg_autoctl show uri --pgdata "$dir/monitor" --formation monitor)
	wait_until 30 as_pg psql -qAt -d "$monitor" -c 'select 1'
	for n in 1 2; do
		mark=$dir/node$n as_pg pg_autoctl create postgres --pgdata "$dir/node$n" --pgport $((port + n)) \
			--hostname 127.0.0.1 --name "node$n" --auth trust --no-ssl \
			--monitor "$monitor" --pgctl "$pgctl" --dbname coolingd \
			--listen 127.0.0.1 >"$dir/node$n.log" 2>&1
		run_bg "node$n"
		if [ $n -eq 1 ]; then
			wait_until 60 sh -c "'$0' state '$dir' | grep -qE '\\| +single +\\| +single'"
		fi
	done
	wait_until 90 two_ok || {
		show_state >&2
		echo "formation.sh: the two nodes did not reach primary/secondary" >&2
		exit 1
	}
	as_pg pg_autoctl show uri --pgdata "$dir/monitor" --formation default
	;;
kill)
	kill_marked "$dir/${3:?NODE}"
	;;
run)
	run_bg "${3:?NODE}"
	;;
wait)
	wait_until "${3:?SECS}" two_ok || {
		show_state >&2
		# what each node's pg_autoctl said last: why one did not rejoin
		for n in node1 node2; do
			echo "== $n.log (last lines)" >&2
			tail -n 25 "$dir/$n.log" >&2 2>/dev/null || true
		done
		exit 1
	}
	;;
state)
	show_state
	;;
primary)
	show_state | awk -F'|' 'NF >= 3 {a = $(NF - 1); b = $NF; gsub(/ /, "", a); gsub(/ /, "", b)
		if (a == b && (a == "primary" || a == "wait_primary")) {gsub(/ /, "", $1); print $1}}'
	;;
stop)
	for n in node1 node2 monitor; do
		kill_marked "$dir/$n"
	done
	kill_marked "$dir"
	rm -rf "$dir"
	;;
*)
	echo "formation.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
