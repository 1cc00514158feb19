#!/usr/bin/env bash
# Quick start: builds, starts a local PostgreSQL in .dev/pg, migrates a
# `coolingd` database, registers lender DEV-BANK with a fresh API token,
# prints an example request and runs the daemon on 127.0.0.1:8080.
# Re-running is safe: the cluster, database and lender are kept.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

PG_PORT=54329
LENDER=DEV-BANK

scripts/deps.sh
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

# Listens on .dev/pg's socket and on 127.0.0.1:54329, which
# config/coolingd.dev.conf uses.
server_url=$(scripts/pg.sh start .dev/pg "$PG_PORT" | tail -n 1)
db_url=${server_url/:\/\/\/postgres\?/:\/\/\/coolingd?}

if [ -z "$(psql "$server_url" -XAtc "SELECT 1 FROM pg_database WHERE datname = 'coolingd'")" ]; then
	psql "$server_url" -Xqc 'CREATE DATABASE coolingd'
fi

ctl() { build/bin/coolingctl --database "$db_url" "$@"; }

ctl migrate

if ! out=$(ctl lender add "$LENDER" --kind bank --name "Development bank" 2>&1); then
	if ! grep -qi 'exist' <<<"$out"; then
		echo "$out" >&2
		exit 1
	fi
fi

client=dev-core-$(date +%Y%m%d%H%M%S)
token=$(ctl client add --name "$client" --role lender --lender "$LENDER" | tail -n 1)
[ -n "$token" ] || {
	echo "dev.sh: coolingctl client add printed no token" >&2
	exit 1
}

# A made-up IIN (born 1990-01-01, century/sex digit 3, serial 0012) with the
# check digit of REGULATION.md: weights 1..11, then 3..11,1,2, modulo 11.
iin_check_digit() {
	local d=$1 w1=(1 2 3 4 5 6 7 8 9 10 11) w2=(3 4 5 6 7 8 9 10 11 1 2) s i
	for w in w1 w2; do
		local -n weights=$w
		s=0
		for ((i = 0; i < 11; i++)); do
			s=$((s + ${d:i:1} * weights[i]))
		done
		if [ $((s % 11)) -ne 10 ]; then
			echo $((s % 11))
			return 0
		fi
	done
	return 1
}
iin_base=90010130012
iin=$iin_base$(iin_check_digit "$iin_base")
loan=LN-DEV-$(date +%s)
base=http://127.0.0.1:8080/v1/lenders/$LENDER/loans

cat <<EOF

Database:   $db_url
API client: $client (role lender, lender $LENDER)
Token:      $token

Record an approval (the cooling period is 2m in config/coolingd.dev.conf):

  curl -sS -X POST $base \\
    -H 'Authorization: Bearer $token' \\
    -H 'Content-Type: application/json' \\
    -d '{"loan_id": "$loan", "borrower_iin": "$iin", "amount": "700000.00",
         "currency": "KZT", "channel": "online", "secured": false,
         "first_time_borrower": true}'

700000.00 is above 150 MRP (648,750 tenge in 2026), so the loan is cooled for
2 minutes after consent; as a first-time unsecured loan it also needs the visit:
     POST $base/$loan/consent with {}
     POST $base/$loan/in-person-verification with {"branch_id": "BR1", "officer_id": "OF1"}
     POST $base/$loan/disbursement with {}   (refused with Retry-After until the period ends)

Starting coolingd on 127.0.0.1:8080 (Ctrl-C stops it; scripts/pg.sh stop .dev/pg stops the database).
EOF

exec build/bin/coolingd -c config/coolingd.dev.conf
