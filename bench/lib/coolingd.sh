# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The coolingd under test: its lender and client, its environment, start and
# stop. Sourced, not run.

create_lender_client() {
	log "migrating; lender $lender, lender client $client_name"
	"$coolingctl" migrate >/dev/null
	"$coolingctl" lender add "$lender" --kind bank --name "Bench Bank" >/dev/null
	token=$("$coolingctl" client add --name "$client_name" --role lender --lender "$lender")
	[[ "$token" =~ ^cdt_([0-9a-f]{12})_[0-9a-f]{40}$ ]] || die "unexpected token from coolingctl client add"
	token_id=${BASH_REMATCH[1]}
	export BENCH_TOKEN=$token BENCH_LENDER=$lender BENCH_THREADS=$threads BENCH_IIN_N=$iin_n
}

start_coolingd() { # [command prefix...]
	env "${cd_env[@]}" "$@" "$coolingd_bin" -c /dev/null >>"$work/coolingd.log" 2>&1 &
	cd_pid=$!
	local deadline=$(($(date +%s) + 60))
	while [ "$(date +%s)" -lt $deadline ]; do
		if curl -fsS -m 2 -o /dev/null "$url/readyz" 2>/dev/null; then
			return 0
		fi
		kill -0 "$cd_pid" 2>/dev/null || die "coolingd exited at start"
		sleep 0.1
	done
	die "coolingd did not answer /readyz within 60 s"
}
stop_coolingd() {
	kill -TERM "$cd_pid"
	wait "$cd_pid" || true
	cd_pid=
}

# Picks its ports, starts it, and reads back its threads and pool size.
launch_coolingd() {
	port=$(free_port)
	url=http://127.0.0.1:$port
	metrics_port=$(free_port)
	cd_env=("COOLINGD_SERVER_LISTEN=127.0.0.1:$port" "COOLINGD_DATABASE_URL=$db_url"
		"COOLINGD_METRICS_LISTEN=127.0.0.1:$metrics_port"
		COOLINGD_LOG_LEVEL=warn "COOLINGD_POLICY_COOLING_PERIOD=$cooling_period"
		COOLINGD_POLICY_ALLOW_BELOW_LEGAL_MINIMUM=true) # 1h is below the legal 24h
	[ -z "${BENCH_POOL_SIZE:-}" ] || cd_env+=(COOLINGD_DATABASE_POOL_SIZE="$BENCH_POOL_SIZE")
	[ -z "${BENCH_AUDIT_SEAL:-}" ] || cd_env+=(COOLINGD_AUDIT_SEAL="$BENCH_AUDIT_SEAL")
	log "starting coolingd on $url (cooling_period=$cooling_period, log level warn)"
	start_coolingd
	cd_threads=$(awk '/^Threads:/ {print $2}' "/proc/$cd_pid/status")
	pool_size=$(env "${cd_env[@]}" "$coolingd_bin" -c /dev/null --check-config 2>/dev/null |
		awk -F' = ' '$1 == "database.pool_size" {print $2}' || true)
}
