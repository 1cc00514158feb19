#!/usr/bin/env bash
# CTest docs_alert_rules_test: `promtool test rules` on tests/alerts/alerts_test.yml
# (the rules of docs/alerts.yml against made-up series), and that every alert
# of docs/alerts.yml has there a case where it fires and one where it does
# not, so that a rule added without tests fails here.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
rules="$here/../../docs/alerts.yml"
tests="$here/alerts_test.yml"

command -v promtool >/dev/null 2>&1 || {
	echo "check.sh: promtool is missing (Debian package prometheus; scripts/deps.sh)" >&2
	exit 1
}
(cd "$here" && promtool test rules alerts_test.yml) || exit 1

# "NAME fires" / "NAME quiet" for each alert_rule_test entry: the
# exp_alerts line after its alertname says which.
cases=$(awk '
	/^[[:space:]]*alertname:/ { name = $2; next }
	/^[[:space:]]*exp_alerts:[[:space:]]*\[\][[:space:]]*$/ { if (name != "") print name, "quiet"; name = ""; next }
	/^[[:space:]]*exp_alerts:[[:space:]]*$/ { if (name != "") print name, "fires"; name = ""; next }
' "$tests")
alerts=$(sed -n 's/^[[:space:]]*- alert:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$rules")
[ -n "$alerts" ] || {
	echo "check.sh: no alert found in $rules" >&2
	exit 1
}
missing=0
for a in $alerts; do
	for kind in fires quiet; do
		if ! grep -qx "$a $kind" <<<"$cases"; then
			echo "FAIL: $tests has no case where $a $kind" >&2
			missing=1
		fi
	done
done
[ "$missing" -eq 0 ] && echo "every alert of docs/alerts.yml is tested firing and quiet"
exit "$missing"
