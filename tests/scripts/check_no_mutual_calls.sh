#!/usr/bin/env bash
# No two source files call each other: for each pair of .c files under
# daemon/, lib/ and cli/, not both call a function that the other defines
# (taking its address, as a table of handlers does, counts as a call). Read
# from the objects of a build tree with nm: the functions each object
# defines, and the symbols it leaves undefined. Two files that only share
# each other's data (a table that points into the other's buffers) are
# named as a note, and do not fail the check.
#
#   tests/scripts/check_no_mutual_calls.sh SOURCE_DIR BUILD_DIR [NM]
#
# Prints each pair with the functions each side takes from the other and
# exits 1 when there is one; exits 1 too when no object is found. Objects
# whose source is gone (left in the build tree by a move) are skipped.
set -euo pipefail
export LC_ALL=C

src_dir=${1:?usage: check_no_mutual_calls.sh SOURCE_DIR BUILD_DIR [NM]}
build=${2:?usage: check_no_mutual_calls.sh SOURCE_DIR BUILD_DIR [NM]}
nm=${3:-nm}
objs=()
while read -r o; do
	src=${o#*.dir/}
	[ -f "$src_dir/${src%.o}" ] && objs+=("$o")
done < <(find "$build/CMakeFiles" -path '*.dir/*' -name '*.c.o' |
	grep -E '\.dir/(daemon|lib|cli)/' | sort)
if [ ${#objs[@]} -eq 0 ]; then
	echo "check_no_mutual_calls: no object of daemon/, lib/ or cli/ under $build" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "${objs[@]}"; do
	src=${o#*.dir/}
	src=${src%.o}
	# kind: f for a function, d for data
	"$nm" -g --defined-only "$o" |
		awk -v f="$src" 'NF == 3 { print $3, f, ($2 ~ /^[Tt]$/ ? "f" : "d") }' >>"$tmp/defs"
	"$nm" -u "$o" | awk -v f="$src" '{ print $NF, f }' >>"$tmp/uses"
done
sort -u "$tmp/defs" -o "$tmp/defs"
sort -u "$tmp/uses" -o "$tmp/uses"
# user definer symbol kind, for each use of another file's symbol
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3, $1, $4 }' | sort -u >"$tmp/edges"

awk '
	{
		k = $1 " " $2
		all[k] = all[k] " " $3
		if ($4 == "f")
			calls[k] = calls[k] " " $3
	}
	END {
		bad = 0
		for (k in all) {
			split(k, p, " ")
			back = p[2] " " p[1]
			if (p[1] >= p[2] || !(back in all))
				continue
			if ((k in calls) && (back in calls)) {
				printf "%s and %s call each other:\n  %s calls%s\n  %s calls%s\n",
				       p[1], p[2], p[1], calls[k], p[2], calls[back]
				bad = 1
			} else {
				printf "note: %s and %s take from each other, but not both a function:\n  %s takes%s\n  %s takes%s\n",
				       p[1], p[2], p[1], all[k], p[2], all[back]
			}
		}
		exit bad
	}' "$tmp/edges"
