# shellcheck shell=bash disable=SC2034,SC2154,SC2120 # the parts share their settings and functions
# The benchmark's own PostgreSQL (scripts/pg.sh, fsync on, pg_stat_statements
# preloaded), coolingd's database and the reference's. Sourced, not run.

sql() { psql "$db_url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
refsql() { psql "$ref_url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

start_postgres() {
	pg_port=$(free_port)
	log "starting PostgreSQL on 127.0.0.1:$pg_port (fsync on) in $work/pg"
	PG_FSYNC=on "$root/scripts/pg.sh" start "$work/pg" "$pg_port" >/dev/null
	# Modestly more shared memory than the 128MB default; max_connections is
	# 200 already (scripts/pg.sh): 32 pgbench + coolingd's pool + a few.
	# pg_stat_statements (postgresql-contrib, part of Debian's postgresql-15)
	# must be preloaded; track_planning counts the plans per call.
	pgss_note=
	pg_major=$("$pgbin/postgres" -V | awk '{print int($3)}')
	if [ "$pgss" = 1 ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/pg_stat_statements.control" ]; then
		pgss=0
		pgss_note="pg_stat_statements is not installed (package postgresql-contrib)"
		log "warning: $pgss_note; no per-statement figures"
	fi
	[ "$pgss" = 1 ] || [ -n "$pgss_note" ] || pgss_note="pg_stat_statements off (BENCH_PGSS=0)"
	pg_alter=("ALTER SYSTEM SET shared_buffers = '256MB'")
	[ "$pgss" != 1 ] || pg_alter+=("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
	for stmt in "${pg_alter[@]}"; do
		psql "$("$root/scripts/pg.sh" url "$work/pg")" -X -q -v ON_ERROR_STOP=1 -c "$stmt" >/dev/null
	done
	"$root/scripts/pg.sh" stop "$work/pg"
	PG_FSYNC=on "$root/scripts/pg.sh" start "$work/pg" "$pg_port" >/dev/null
	pg_url=$("$root/scripts/pg.sh" url "$work/pg")
	psql "$pg_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE coolingd_bench" >/dev/null
	db_url="postgresql:///coolingd_bench?host=$work/pg&port=$pg_port&user=postgres"
	export COOLINGD_DATABASE_URL=$db_url
	pg_settings=$(sql -F' ' -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
	  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections',
	  'wal_level', 'max_wal_size', 'checkpoint_timeout')")
	pg_version=$(sql -c "SHOW server_version")
	if [ "$pgss" = 1 ]; then
		# the module's settings exist once it is loaded: after the restart
		sql -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" >/dev/null
		sql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
		sleep 0.2
		pg_settings+=" pg_stat_statements.track_planning=$(sql -c "SHOW pg_stat_statements.track_planning")"
	fi
}

# The reference: the essential work of an approval (one loan row and one
# audit row, one commit) and of a read (one lookup by the unique key), in a
# database of its own on the same server, run by pgbench.
create_reference() {
	ref_db=coolingd_ref
	ref_url="postgresql:///$ref_db?host=$work/pg&port=$pg_port&user=postgres"
	psql "$pg_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $ref_db" >/dev/null
	refsql <<'SQL'
create table ref_loans(id bigserial primary key, lender text not null, loan_id text not null,
  iin char(12) not null, amount_tiyn bigint not null, channel text not null, secured bool not null,
  first_time bool not null, approved_at timestamptz not null default now(), consent_at timestamptz,
  cooling_ends_at timestamptz, mrp int, threshold_tiyn bigint, state text not null,
  unique(lender, loan_id));
create index on ref_loans(iin);
create table ref_audit(seq bigserial primary key, at timestamptz not null default now(),
  actor text, lender text, loan_id text, kind text, detail jsonb);
SQL
}
