#!/usr/bin/env bash
# Every Check test must run: for each tests/**/test_*.c, each START_TEST(name)
# must be registered in the same file by a tcase_add_test(tc, name) (or
# tcase_add_loop_test, tcase_add_test_raise_signal, tcase_add_exit_test, ...)
# call that starts a line; a call may span lines. A test that is written but
# never registered compiles, is never run, and so passes unseen.
#
#   tests/scripts/check_registered.sh [TESTS_DIR]   (default: this script's ..)
#
# Prints each unregistered test as FILE:LINE: NAME and exits 1 when there is
# one; exits 1 too when no test file is found.
set -euo pipefail

dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
mapfile -t files < <(find "$dir" -name 'test_*.c' -type f | LC_ALL=C sort)
if [ ${#files[@]} -eq 0 ]; then
	echo "check_registered: no test_*.c under $dir" >&2
	exit 1
fi

missing=0
defined=0
for f in "${files[@]}"; do
	# The names registered: the second argument of each registration call,
	# joined from its first line to the ';' that ends it.
	registered=$(awk '
		/^[[:space:]]*tcase_add_[a-z_]*test[a-z_]*[[:space:]]*\(/ { call = ""; on = 1 }
		on { call = call $0 " " }
		on && /;/ {
			on = 0
			sub(/^[^(]*\(/, "", call)
			n = split(call, arg, ",")
			if (n >= 2) {
				name = arg[2]
				gsub(/[[:space:]();]/, "", name)
				print name
			}
		}' "$f")
	while IFS=: read -r line name; do
		[ -n "$name" ] || continue
		defined=$((defined + 1))
		if ! grep -qxF -- "$name" <<<"$registered"; then
			echo "$f:$line: $name is a START_TEST that no tcase_add_*test call registers"
			missing=$((missing + 1))
		fi
	done < <(grep -n '^[[:space:]]*START_TEST[[:space:]]*(' "$f" |
		sed 's/^\([0-9]*\):[[:space:]]*START_TEST[[:space:]]*([[:space:]]*\([A-Za-z0-9_]*\).*/\1:\2/')
done

if [ "$missing" -gt 0 ]; then
	echo "check_registered: $missing of $defined tests are not registered" >&2
	exit 1
fi
echo "check_registered: all $defined tests in ${#files[@]} files are registered"
