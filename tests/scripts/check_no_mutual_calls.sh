#!/usr/bin/env bash
# No two source files call each other: for each pair of .c files under
# daemon/, lib/ and cli/, not both use a symbol (a function, or a table of
# them) that the other defines. Read from the objects of a build tree with
# nm: what each object defines (global text and data) and what it leaves
# undefined; an undefined symbol that another object defines is a use of
# that file.
#
#   tests/scripts/check_no_mutual_calls.sh BUILD_DIR [NM]
#
# Prints each such pair with the symbols each side takes from the other and
# exits 1 when there is one; exits 1 too when no object is found.
set -euo pipefail
export LC_ALL=C

build=${1:?usage: check_no_mutual_calls.sh BUILD_DIR [NM]}
nm=${2:-nm}
mapfile -t objs < <(find "$build/CMakeFiles" -path '*.dir/*' -name '*.c.o' |
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
	"$nm" -g --defined-only "$o" | awk -v f="$src" 'NF == 3 { print $3, f }' >>"$tmp/defs"
	"$nm" -u "$o" | awk -v f="$src" '{ print $NF, f }' >>"$tmp/uses"
done
sort -u "$tmp/defs" -o "$tmp/defs"
sort -u "$tmp/uses" -o "$tmp/uses"
# user definer symbol, for each use of another file's symbol
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3, $1 }' | sort -u >"$tmp/edges"

awk '
	{ uses[$1 " " $2] = uses[$1 " " $2] " " $3 }
	END {
		bad = 0
		for (k in uses) {
			split(k, p, " ")
			back = p[2] " " p[1]
			if (p[1] < p[2] && (back in uses)) {
				printf "%s and %s call each other:\n  %s takes%s\n  %s takes%s\n",
				       p[1], p[2], p[1], uses[k], p[2], uses[back]
				bad = 1
			}
		}
		exit bad
	}' "$tmp/edges"
