#!/usr/bin/env bash
# The checks of docs/openapi.yaml (the CTest tests labelled api, and the
# step of scripts/test.sh that follows the e2e run):
#
#   tests/api/check.sh lint        redocly lint, with tests/api/redocly.yaml
#   tests/api/check.sh routes      the daemon's route tables against the document, both ways
#   tests/api/check.sh responses DIR   every exchange recorded in DIR against the document
#   tests/api/check.sh selftest    the validator fails on answers, routes and headers that do not fit
#   tests/api/check.sh i18n        the console has words for every status, blocker, rule, exemption, product
#
# Needs tests/api/node_modules: `npm ci` in tests/api (scripts/test.sh does).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$here"
if [ ! -d node_modules/@redocly/cli ] || [ ! -d node_modules/ajv ]; then
	echo "check.sh: tests/api/node_modules is missing: run 'npm ci' in tests/api (scripts/test.sh does)" >&2
	exit 1
fi
# no telemetry, no update notice: the checks run offline
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true REDOCLY_SUPPRESS_NOTIFICATIONS=true
case "${1:-}" in
lint)
	# the banner about the Node.js version is noise here
	node_modules/.bin/redocly lint --format stylish --config redocly.yaml ../../docs/openapi.yaml 2>&1 |
		{ grep -v '[║╔╚]' || true; }
	;;
routes) exec node validate.mjs --routes-only ;;
responses)
	[ $# -eq 2 ] || { echo "usage: check.sh responses DIR" >&2; exit 2; }
	exec node validate.mjs "$2"
	;;
selftest) exec node selftest.mjs ;;
i18n) exec node i18n.mjs ;;
*)
	sed -n '2,11s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
