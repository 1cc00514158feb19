#!/usr/bin/env bash
# Writes a credit bureau's voluntary refusal file (docs/refusals.md) of N
# lines to stdout, for bench/refusals_import.sh and by hand:
#
#   bench/gen_refusals.sh [N]     default 1000000
#
# The header, then N changes of distinct test IINs (valid check digits,
# birth dates from 1950 on, century digit 3: never a real person's),
# mostly refusals set, every tenth withdrawn, effective over the last
# thousand days, every third with a reference that needs quoting.
set -euo pipefail
N=${1:-1000000}
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]" >&2; exit 2; }
exec awk -v n="$N" 'BEGIN {
	print "iin,active,effective_at,source,reference"
	split("1 2 3 4 5 6 7 8 9 10 11", w1, " ")
	split("3 4 5 6 7 8 9 10 11 1 2", w2, " ")
	out = 0
	for (k = 0; out < n; k++) {
		day = int(k / 10000); serial = k % 10000
		yy = 50 + int(day / 336); mm = 1 + int(day % 336 / 28); dd = 1 + day % 28
		d = sprintf("%02d%02d%02d3%04d", yy, mm, dd, serial)
		s = 0; for (i = 1; i <= 11; i++) s += substr(d, i, 1) * w1[i]
		c = s % 11
		if (c == 10) {
			s = 0; for (i = 1; i <= 11; i++) s += substr(d, i, 1) * w2[i]
			c = s % 11
			if (c == 10) continue
		}
		t = 1733000000 - (out % 1000) * 86400
		ref = out % 3 == 0 ? sprintf("\"FCB-%d, batch \"\"%d\"\"\"", out, out % 97) : ""
		printf "%s%d,%s,%s,fcb,%s\r\n", d, c, out % 10 == 9 ? "false" : "true",
		       strftime("%Y-%m-%dT%H:%M:%S+05:00", t + 18000, 1), ref
		out++
	}
}'
