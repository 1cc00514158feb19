#!/usr/bin/env bash
# Rules as data (CONTRACT.md v1.2, "Profiles as dated data"): a profile is
# rows of the profile table in lib/policy.c, so no code anywhere else may
# name one. The names are read from that table (`.name = "..."`); every
# C source and header of daemon/, lib/ and cli/ but lib/policy.c, the
# console's scripts and the SQL of sql/ and lib/db/ are searched for them
# with their comments removed (a comment may name a profile: it decides
# nothing).
#
#   tests/scripts/check_profile_names.sh SOURCE_DIR
#
# Prints each file:line that names a profile and exits 1 when there is one;
# exits 1 too when the table yields no name.
set -euo pipefail
export LC_ALL=C

src=${1:?usage: check_profile_names.sh SOURCE_DIR}
table="$src/lib/policy.c"
mapfile -t names < <(sed -n 's/.*\.name = "\([a-z0-9-]*\)".*/\1/p' "$table" | sort -u)
if [ ${#names[@]} -lt 2 ]; then
	echo "check_profile_names: fewer than two profile names read from $table" >&2
	exit 1
fi
pattern=$(printf '%s\n' "${names[@]}" | sed 's/[.]/\\./g' | paste -sd'|')
pattern="(^|[^a-z0-9-])($pattern)([^a-z0-9-]|$)"

found=0
# C: the preprocessor removes the comments and keeps the lines' numbers
# (-fpreprocessed: no include is read, no macro expanded).
while IFS= read -r f; do
	[ "$f" = "$table" ] && continue
	if hits=$(gcc -fpreprocessed -dD -E -x c "$f" 2>/dev/null |
		awk -v file="${f#"$src"/}" '
			/^# [0-9]+ / { line = $2 - 1; next }
			{ line++; print file ":" line ": " $0 }' |
		grep -E "$pattern"); then
		printf '%s\n' "$hits"
		found=1
	fi
done < <(for d in daemon lib cli; do [ -d "$src/$d" ] && find "$src/$d" -name '*.[ch]'; done | sort)
# JavaScript and SQL: whole-line comments (//, --) and block comments
# that fit on a line are removed; a string naming a profile is a hit.
while IFS= read -r f; do
	if hits=$(sed -e 's#/\*.*\*/##g' -e 's#^[[:space:]]*//.*##' -e 's#^[[:space:]]*--.*##' \
		-e 's#[[:space:]]--[[:space:]].*##' "$f" | grep -nE "$pattern"); then
		printf '%s\n' "$hits" | sed "s#^\([0-9]*\):#${f#"$src"/}:\1: #"
		found=1
	fi
done < <(for d in daemon/console sql; do
	[ -d "$src/$d" ] && find "$src/$d" -name '*.js' -o -name '*.sql'
done | sort)

if [ "$found" -ne 0 ]; then
	echo "check_profile_names: the lines above name a profile outside lib/policy.c's table;" \
		"make the behaviour a field of the table (docs/policy.md, \"Adding a country\")" >&2
	exit 1
fi
echo "check_profile_names: ${#names[@]} profiles (${names[*]}), named nowhere else"
