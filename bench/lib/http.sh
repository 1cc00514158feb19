# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The HTTP floor (--http-only, BENCH_HTTP): coolingd's GET /healthz against
# nginx serving the same bytes, alternating for $rounds rounds, the best of
# each kept, and the read limit it sets. An HTTP service pays for HTTP: on
# one machine a loan read cannot cost less than the best HTTP server's
# answer plus the database's own read, so the limit is
# 1 / (1 / nginx + 1 / reference read). Sourced, not run.

nginx_bin=/usr/sbin/nginx # Debian's nginx-light
nginx_workers=2           # as coolingd's loops on the development machine (one per CPU)

# Starts nginx in $work/nginx on a free port, answering GET /healthz with
# what coolingd's /healthz answers (body and Content-Type, read from it).
start_nginx() {
	local dir=$work/nginx body ctype got
	body=$(curl -fsS -m 2 "$url/healthz") || die "http: coolingd's /healthz did not answer"
	ctype=$(curl -fsS -m 2 -o /dev/null -w '%{content_type}' "$url/healthz")
	# nginx's 'string' takes neither of them unescaped
	[[ "$body$ctype" != *[\'\\]* ]] || die "http: /healthz's answer has a quote or backslash: $body"
	mkdir -p "$dir/tmp"
	nginx_port=$(free_port)
	nginx_url=http://127.0.0.1:$nginx_port
	{
		# as root nginx switches its workers to nobody: keep them root, as the rest of the harness
		[ "$(id -u)" -ne 0 ] || echo "user root;"
		cat <<EOF
worker_processes $nginx_workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	server_tokens off;
	# coolingd keeps an idle connection for server.request_timeout (10 s)
	# and answers any number of requests on it
	keepalive_timeout 10s;
	keepalive_requests 1000000000;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	server {
		listen 127.0.0.1:$nginx_port;
		location = /healthz {
			default_type '$ctype';
			add_header Cache-Control no-store;
			return 200 '$body';
		}
	}
}
EOF
	} >"$dir/nginx.conf"
	# -e: from its start on, what it says goes to error.log
	"$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >/dev/null 2>&1 &
	nginx_pid=$!
	for _ in $(seq 100); do
		curl -fsS -m 2 -o /dev/null "$nginx_url/healthz" 2>/dev/null && break
		kill -0 "$nginx_pid" 2>/dev/null || die "http: nginx exited at start ($dir/error.log)"
		sleep 0.1
	done
	got=$(curl -fsS -m 2 -w '\n%{content_type}' "$nginx_url/healthz") || die "http: nginx did not answer within 10 s"
	[ "$got" = "$body"$'\n'"$ctype" ] ||
		die "http: nginx answers '${got//$'\n'/' as '}', coolingd '$body' as '$ctype'"
	log "http: nginx on $nginx_url ($nginx_workers workers) answers /healthz as coolingd does: $body as $ctype"
}

stop_nginx() {
	terminate "$nginx_pid" # its master stops its workers
	nginx_pid=
}

# The read limit from the reference read (bench/lib/peak.sh) and nginx, and
# the loan reads against it; nothing without both.
read_limit() {
	[ -n "${R[reads.ref.tps]+x}" ] && [ -n "${R[http.nginx.rps]+x}" ] || return 0
	local ng=${R[http.nginx.rps]} ref=${R[reads.ref.tps]}
	put reads.limit "$(calc "$ng > 0 && $ref > 0 ? 1 / (1 / $ng + 1 / $ref) : 0" 1)"
	put reads.limit_ratio "$(calc "${R[reads.coolingd.rps]} / (${R[reads.limit]} > 0 ? ${R[reads.limit]} : 1)" 3)"
	log "reads: limit $(f reads.limit)/s (nginx $ng/s, reference read $ref/s): coolingd ${R[reads.coolingd.rps]}/s, ratio $(f reads.limit_ratio)"
}

measure_http() {
	rounds=${BENCH_ROUNDS:-1}
	put rounds "$rounds"
	start_nginx
	log "http: GET /healthz, coolingd and nginx alternating, $rounds round(s) of ${dur}s each"
	# not reported: nginx has just started, and coolingd has not answered
	# /healthz at this rate yet
	run_wrk warm.http.coolingd healthz.lua 2
	url=$nginx_url run_wrk warm.http.nginx healthz.lua 2
	for ((r = 1; r <= rounds; r++)); do
		measure http coolingd "$r"
		measure http nginx "$r"
	done
	stop_nginx
	best_of http coolingd
	best_of http nginx
	[ "${R[http.coolingd.non2xx]}" = 0 ] && [ "${R[http.nginx.non2xx]}" = 0 ] ||
		log "warning: http: non-2xx answers (coolingd ${R[http.coolingd.non2xx]}, nginx ${R[http.nginx.non2xx]})"
	# in microseconds: an answer of /healthz costs a few hundredths of a ms
	local side cd_us ng_us
	for side in coolingd nginx; do
		put "http.$side.cpu_us_per_req" "$(calc "${R[http.$side.cpu_s.$side]} * 1000000 / (${R[http.$side.requests]:-0} > 0 ? ${R[http.$side.requests]} : 1)" 1)"
	done
	cd_us=${R[http.coolingd.cpu_us_per_req]} ng_us=${R[http.nginx.cpu_us_per_req]}
	put http.ratio "$(calc "${R[http.coolingd.rps]} / (${R[http.nginx.rps]} > 0 ? ${R[http.nginx.rps]} : 1)" 3)"
	put http.cpu_ratio "$(calc "$cd_us / ($ng_us > 0 ? $ng_us : 1)" 2)"
	log "http: best ${R[http.coolingd.rps]} req/s vs nginx ${R[http.nginx.rps]}: ratio ${R[http.ratio]};" \
		"CPU per request $cd_us vs $ng_us us"
	read_limit
}

http_summary() {
	local row="%-38s %17s %17s %7s  %s\n"
	echo
	echo "## The HTTP floor: GET /healthz, coolingd and nginx (nginx-light, $nginx_workers workers, the same answer), alternating"
	printf "$row" "figure" "coolingd" "nginx" "ratio" "target"
	printf "$row" "/healthz req/s" "$(f http.coolingd.rps)" "$(f http.nginx.rps)" "$(f http.ratio)" ">= 0.9: $(ok_ratio "$(f http.ratio)" 0.9)"
	printf "$row" "  p50/p99 ms" "$(f http.coolingd.p50_ms)/$(f http.coolingd.p99_ms)" "$(f http.nginx.p50_ms)/$(f http.nginx.p99_ms)" "" ""
	printf "$row" "  CPU us/req: the HTTP server" "$(f http.coolingd.cpu_us_per_req)" "$(f http.nginx.cpu_us_per_req)" "$(f http.cpu_ratio)" "(coolingd / nginx)"
	printf "$row" "  load generator ms/req; other%" "$(f http.coolingd.cpu_ms_per_req.client); $(f http.coolingd.other_cpu_pct)" "$(f http.nginx.cpu_ms_per_req.client); $(f http.nginx.other_cpu_pct)" "" ""
	printf "$row" "  rounds req/s" "$(f http.coolingd.rounds)" "$(f http.nginx.rounds)" "" ""
	[ -z "${R[reads.limit]+x}" ] ||
		printf "$row" "read limit 1/(1/nginx + 1/ref read)" "" "$(f reads.limit)" "" "reads: $(f reads.coolingd.rps) req/s, $(f reads.limit_ratio) of it"
}
