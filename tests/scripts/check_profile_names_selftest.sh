#!/usr/bin/env bash
# The check of tests/scripts/check_profile_names.sh can fail: on a copy of
# the profile table, a comment that names a profile passes, and a C
# comparison, a JavaScript string and an SQL literal that name one each
# fail the check with their file and line.
#
#   tests/scripts/check_profile_names_selftest.sh SOURCE_DIR
set -euo pipefail

src=${1:?usage: check_profile_names_selftest.sh SOURCE_DIR}
check="$src/tests/scripts/check_profile_names.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lib" "$tmp/daemon/console" "$tmp/sql" "$tmp/cli"
cp "$src/lib/policy.c" "$tmp/lib/policy.c"

fail() {
	echo "check_profile_names_selftest: $*" >&2
	exit 1
}

printf '/* under kz-2025-09 the bands are three */\nint bands = 3; // ru-2025-09 too\n' >"$tmp/lib/a.c"
printf -- '-- kz-card: the card rule\nSELECT 1;\n' >"$tmp/sql/001.sql"
"$check" "$tmp" >/dev/null || fail "comments that name a profile were refused"

expect_hit() {
	local file=$1 text=$2 where=$3 out
	printf '%b' "$text" >"$tmp/$file"
	if out=$("$check" "$tmp" 2>&1); then
		fail "$file naming a profile passed"
	fi
	grep -q "^$where: " <<<"$out" || fail "$file: the hit is not named as $where: $out"
	rm "$tmp/$file"
}
expect_hit lib/b.c 'int x;\nint f(const char *n) { return strcmp(n, "kz-2025-09") == 0; }\n' lib/b.c:2
expect_hit cli/c.h '#define DEFAULT "kz-card"\n' cli/c.h:1
expect_hit daemon/console/page.js '// a page\nif (p === "ru-2025-09") {}\n' daemon/console/page.js:2
expect_hit sql/002.sql "SELECT 1;\nUPDATE loan SET x = 1 WHERE policy = 'kz-card';\n" sql/002.sql:2
"$check" "$tmp" >/dev/null || fail "the copy does not pass again once the hits are gone"
echo "check_profile_names_selftest: comments pass; C, a header, JavaScript and SQL naming a profile fail"
