# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The profile of a writes run: perf system-wide, or coolingd under callgrind
# where perf is not usable. Sourced, not run.

profile_writes() {
	profile_done=none
	if [ $profile -eq 1 ] && [ "$profiler" = perf ]; then
		log "profile: perf record (system-wide, DWARF call graphs) during ${dur}s of writes"
		quiesce
		if perf record -q -a -F 499 --call-graph dwarf,16384 -o "$work/perf.data" -- sleep 0.2 \
			>"$work/perf-probe.log" 2>&1; then
			perf record -q -a -F 499 --call-graph dwarf,16384 -o "$work/perf.data" -- sleep "$dur" \
				>"$work/perf.log" 2>&1 &
			perf_pid=$!
			bg_pids+=("$perf_pid")
			sleep 0.3
			run_wrk profile.coolingd approvals.lua "$((dur > 1 ? dur - 1 : 1))" BENCH_ID_BASE=6000000000
			wait "$perf_pid" || true
			bg_pids=()
			# our cluster's processes only: other PostgreSQL servers may share the machine
			pg_pids=$(ps -o pid= --ppid "$(head -n 1 "$work/pg/data/postmaster.pid")" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')
			log "  ${R[profile.coolingd.rps]} req/s under perf; writing the report"
			perf_report() { perf report -i "$work/perf.data" --stdio --quiet "$@" 2>/dev/null || true; }
			set +o pipefail # head closes the pipes early
			{
				echo "# coolingd under perf: writes (approvals.lua), ${dur}s, $conns connections; run $stamp"
				echo "# perf record -a -F 499 --call-graph dwarf,16384; ${R[profile.coolingd.rps]} req/s meanwhile"
				echo
				echo "## CPU by command (% of all samples of both CPUs, idle = swapper; other work on the machine included)"
				perf_report --no-children --sort comm -g none --percent-limit 0.5
				echo
				echo "## CPU by command and shared object"
				perf_report --no-children --sort comm,dso -g none --percent-limit 0.5
				echo
				echo "## coolingd (bench/profile.awk over perf script; % of coolingd's samples)"
				perf script --no-inline -i "$work/perf.data" --pid "$cd_pid" -F comm,tid,ip,sym,dso 2>/dev/null |
					awk -v top=30 -f "$bench/profile.awk"
				echo
				echo "## postgres: this benchmark's cluster (% of its samples)"
				perf script --no-inline -i "$work/perf.data" --pid "$pg_pids" -F comm,tid,ip,sym,dso 2>/dev/null |
					awk -v top=30 -f "$bench/profile.awk"
			} >"$out_profile"
			set -o pipefail
			profile_done=perf
		else
			log "perf is not usable here ($(head -n 1 "$work/perf-probe.log")); falling back to callgrind"
			profiler=callgrind
		fi
	fi
	if [ $profile -eq 1 ] && [ "$profiler" = callgrind ]; then
		command -v valgrind >/dev/null 2>&1 || {
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind >/dev/null
		}
		log "profile: coolingd under callgrind, a short writes run (4 connections)"
		stop_coolingd
		start_coolingd valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" -q
		env BENCH_ID_BASE=6000000000 wrk -t1 -c4 -d"$((dur > 5 ? 5 : dur))s" -s "$bench/approvals.lua" "$url" \
			>"$work/profile.wrk" 2>&1 || true
		stop_coolingd
		set +o pipefail
		{
			echo "# coolingd under callgrind: writes (approvals.lua), 4 connections; run $stamp"
			echo "## self"
			callgrind_annotate "$work/callgrind.out" 2>/dev/null | head -n 45
			echo "## inclusive"
			callgrind_annotate --inclusive=yes "$work/callgrind.out" 2>/dev/null | head -n 45
		} >"$out_profile"
		set -o pipefail
		profile_done=callgrind
	fi
	put profile "$profile_done"
}
