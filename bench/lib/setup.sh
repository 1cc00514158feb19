# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# Before the measurements: what bench/run.sh needs installed, the descriptor
# limit, the build of coolingd, and the teardown on exit. Sourced, not run.

install_deps() {
	log "checking dependencies"
	"$root/scripts/deps.sh"
	missing=()
	command -v wrk >/dev/null 2>&1 || missing+=(wrk)
	command -v jq >/dev/null 2>&1 || missing+=(jq)
	command -v ss >/dev/null 2>&1 || missing+=(iproute2)
	[ "${http:-0}" = 0 ] || [ -x "$nginx_bin" ] || missing+=(nginx-light) # bench/lib/http.sh
	if [ $profile -eq 1 ] && [ "$profiler" = perf ] && ! command -v perf >/dev/null 2>&1; then
		missing+=(linux-perf)
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; install them as root"
		log "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	fi
	pgbin=$(pg_config --bindir 2>/dev/null || true)
	if [ -z "$pgbin" ] || [ ! -x "$pgbin/pgbench" ]; then
		pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	fi
	[ -n "$pgbin" ] && [ -x "$pgbin/pgbench" ] || die "pgbench not found (package postgresql)"
	pgbench=$pgbin/pgbench
}

# 1,000 idle connections need as many descriptors, in coolingd and here.
raise_fd_limit() {
	hard=$(ulimit -Hn)
	want=65536
	[ "$hard" = unlimited ] || [ "$hard" -ge $want ] || want=$hard
	ulimit -n "$want" 2>/dev/null || true
	[ "$(ulimit -n)" -gt $((idle_conns + 200)) ] ||
		die "ulimit -n is $(ulimit -n); the idle-connection test needs more than $((idle_conns + 200))"
}

# SIGTERM, then SIGKILL if the process is still there after 10 s.
terminate() { # pid
	kill -0 "$1" 2>/dev/null || return 0
	kill -TERM "$1" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	[ -z "$cd_pid" ] || terminate "$cd_pid"
	[ -z "${nginx_pid:-}" ] || terminate "$nginx_pid" # its master stops its workers
	"$root/scripts/pg.sh" stop "$work/pg" >/dev/null 2>&1
	if [ $rc -ne 0 ]; then
		log "failed; last lines of the logs:"
		tail -n 15 "$work/coolingd.log" >&2 2>/dev/null
		tail -n 15 "$work/pg/postgres.log" >&2 2>/dev/null
		tail -n 15 "$work/nginx/error.log" >&2 2>/dev/null
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
	exit $rc
}

# What a harness does before its own steps: the tools, the descriptor
# limit, the temporary directory ($work) with the teardown on exit, the
# build and the PostgreSQL cluster.
prepare_run() {
	install_deps
	raise_fd_limit
	work=$(mktemp -d /tmp/coolingd-bench.XXXXXX)
	chmod 0755 "$work" # the postgres user must reach the cluster inside
	cd_pid=
	nginx_pid=
	bg_pids=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	build_coolingd
	start_postgres
}

# Builds build-release/ (or BENCH_REV's commit in the temporary directory),
# print_sql and idle_conns.
build_coolingd() {
	src=$root
	version="$(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- daemon lib cli sql CMakeLists.txt 2>/dev/null || echo '+work tree changes')"
	if [ -n "${BENCH_REV:-}" ]; then
		rev=$(git -C "$root" rev-parse --verify --quiet "$BENCH_REV^{commit}") || die "BENCH_REV: no commit $BENCH_REV"
		src=$work/src
		build=$work/build-release
		mkdir -p "$src"
		git -C "$root" archive "$rev" | tar -x -C "$src"
		rm -rf "$src/bench"
		mkdir -p "$src/bench"
		cp "$bench"/*.c "$bench"/*.lua "$bench"/*.awk "$src/bench/"
		grep -q 'add_executable(print_sql' "$src/CMakeLists.txt" ||
			sed -n '/^# bench\/: print_sql/,$p' "$root/CMakeLists.txt" | sed '/^endif()/q' >>"$src/CMakeLists.txt"
		version="$(git -C "$root" rev-parse --short "$rev") (BENCH_REV)"
	fi
	log "building $build (Release) from $src"
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOOLINGD_TESTS=OFF -DCOOLINGD_BENCH=ON >"$work/cmake.log" 2>&1 ||
		{
			tail -n 30 "$work/cmake.log" >&2
			die "cmake failed"
		}
	cmake --build "$build" -j"$(nproc)" >"$work/build.log" 2>&1 ||
		{
			tail -n 30 "$work/build.log" >&2
			die "build failed"
		}
	coolingd_bin=$build/bin/coolingd
	coolingctl=$build/bin/coolingctl
	print_sql=$build/bin/print_sql
	cc -O2 -Wall -Wextra -D_GNU_SOURCE -o "$work/idle_conns" "$bench/idle_conns.c"
}
