# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# Small helpers of bench/run.sh: logging, arithmetic, the figures (R), free
# ports, IINs, unit conversions. Sourced, not run.

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
calc() { awk "BEGIN { printf \"%.${2:-2}f\", ($1) }"; }

declare -A R=()  # every figure, for the .json
declare -a R_ORDER=()
put() {
	[ -n "${R[$1]+x}" ] || R_ORDER+=("$1")
	R[$1]=$2
}

free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! ss -Htan "( sport = :$p or dport = :$p )" | grep -q . &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

iin_for() { # 11 digits -> 12-digit IIN with its check digit (lib/iin.c), or fail
	local s=$1 i sum=0 c
	local w1=(1 2 3 4 5 6 7 8 9 10 11) w2=(3 4 5 6 7 8 9 10 11 1 2)
	for i in {0..10}; do sum=$((sum + ${s:i:1} * w1[i])); done
	c=$((sum % 11))
	if [ $c -eq 10 ]; then
		sum=0
		for i in {0..10}; do sum=$((sum + ${s:i:1} * w2[i])); done
		c=$((sum % 11))
		[ $c -ne 10 ] || return 1
	fi
	echo "$s$c"
}
[ "$(iin_for 90010130012)" = 900101300126 ] || die "iin_for disagrees with the contract's example"

to_ms() { # wrk's "612.00us" / "9.50ms" / "1.02s" -> ms
	awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
	  else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

mib() { calc "$1 / 1024" 1; }
f() { printf '%s' "${R[$1]:-?}"; }
ok_ratio() { awk -v r="$1" -v t="$2" 'BEGIN { print ((r + 0 >= t + 0) ? "ok" : "BELOW") }'; }
ok_below() { awk -v v="$1" -v t="$2" 'BEGIN { print ((v + 0 < t + 0) ? "ok" : "ABOVE") }'; }

# The start of an A/B benchmark (bench/fraud.sh, bench/access_log.sh): its
# niceness (BENCH_NICE, -10 as root), its start and stamp, and its results'
# files bench/results/KIND-<stamp>.txt and .json.
ab_begin() { # kind
	bench_nice=${BENCH_NICE:-$([ "$(id -u)" -eq 0 ] && echo -10 || echo 0)}
	[ "$bench_nice" = 0 ] || renice -n "$bench_nice" -p $$ >/dev/null
	started=$(date +%s)
	stamp=$(date -u +%Y%m%dT%H%M%SZ)
	results_dir=$bench/results
	mkdir -p "$results_dir"
	out_txt=$results_dir/$1-$stamp.txt
	out_json=$results_dir/$1-$stamp.json
}

# The end of an A/B benchmark (bench/fraud.sh, bench/access_log.sh): after
# its summary in out_txt, the raw wrk outputs of its runs ($work/KIND.*.wrk),
# and every figure in out_json with the run's settings.
write_ab_results() { # kind
	{
		echo
		echo "# raw outputs"
		for fname in "$work"/"$1".*.wrk; do
			echo "## $(basename "$fname")"
			cat "$fname"
		done
	} >>"$out_txt"
	local k
	for k in "${R_ORDER[@]}"; do
		printf '%s\t%s\n' "$k" "${R[$k]}"
	done | jq -Rn --arg stamp "$stamp" --argjson quick "$quick" --argjson dur "$dur" --argjson rounds "$rounds" \
		'[inputs | split("\t") | {(.[0]): (.[1] | tonumber? // .)}] | add + {stamp: $stamp, quick: ($quick == 1), duration_s: $dur, rounds: $rounds}' \
		>"$out_json"
	log "results: $out_txt, $out_json"
}
