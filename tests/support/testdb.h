/*
 * Throwaway databases for the integration and end-to-end tests, on the
 * PostgreSQL server that scripts/test.sh starts ($COOLINGD_TEST_DATABASE_URL),
 * and control of that server for outage tests ($COOLINGD_TEST_PGCTL,
 * $COOLINGD_TEST_PGDATA).
 */
#ifndef CD_TEST_TESTDB_H
#define CD_TEST_TESTDB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db.h"

/*
 * Creates database cd_<prefix>_<pid> (cd_<prefix>_<pid>_<n> for the n-th
 * further one in the same process; prefix lower-cased, anything but [a-z0-9_]
 * becomes '_'), dropping a leftover of that name first, and migrates it: with
 * `$COOLINGD_BIN_DIR/coolingctl --database URL migrate` when COOLINGD_BIN_DIR
 * is set, else with db_migrate() (lib/db.h). Returns the new
 * database's URL (malloc'd). Exits the process with a message on stderr when
 * COOLINGD_TEST_DATABASE_URL is missing or anything fails.
 */
char *testdb_create(const char *prefix);

/* Drops the database that url names, closing its other connections first
 * (DROP DATABASE ... WITH (FORCE)). Complains on stderr but does not exit. */
void testdb_drop(const char *url);

/* A connection to url; exits the process with a message when it fails. */
PGconn *testdb_connect(const char *url);

/* The same, with the server's notices (DROP ... IF EXISTS and the like)
 * ignored instead of printed. */
PGconn *testdb_connect_quiet(const char *url);

/* Makes c ignore the server's notices (for connections made otherwise). */
void testdb_ignore_notices(PGconn *c);

/* Runs sql (no parameters; several statements allowed); fails the test
 * (ck_assert) unless it gives PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
void testdb_exec(PGconn *c, const char *sql);

/*
 * The fixture of the tests of the statements themselves: a fresh database
 * (testdb_create(prefix)) with lender B1, a bank, and a quiet connection
 * to it, in UTC, with every statement prepared (db_prepare_all()). *url
 * gets the database's URL (malloc'd); testdb_release() undoes it all.
 */
PGconn *testdb_create_prepared(const char *prefix, char **url);

/* Closes c, drops the database that url names and frees url. */
void testdb_release(PGconn *c, char *url);

/* Runs the prepared statement st (db_statements[st]) with its text
 * parameters; the caller checks and clears the result. */
PGresult *testdb_exec_prepared(PGconn *c, enum stmt st, const char *const *params);

/*
 * The number in the first column of the one row that sql gives, with the
 * text parameters that follow ($1, $2, ...) up to a NULL, which is
 * required even when there are none: testdb_num(c, "SELECT count(*) FROM t",
 * NULL). Fails the test unless sql gives exactly one row. A NULL reads as 0.
 */
long long testdb_num(PGconn *c, const char *sql, ...) __attribute__((sentinel));

/* For lock-ordering tests, on a query sent asynchronously: true when it is
 * still waiting after 300 ms (a lock it cannot take holds it); and the rows
 * of its one result, which fails the test unless it has tuples. */
bool testdb_still_waiting(PGconn *c);
int testdb_rows_of(PGconn *c);

/* Seals every committed audit event (db_audit_seal_all()); fails the test
 * when that fails. */
void testdb_seal(PGconn *c);

/*
 * url with its database name replaced by dbname (malloc'd). Handles
 * postgresql:///DB?..., postgresql://host:port/DB?..., URLs without a
 * database, and key=value strings (appends dbname=...).
 */
char *testdb_url_for(const char *url, const char *dbname);

/* Stops the test server: pg_ctl -D $COOLINGD_TEST_PGDATA -w -m immediate
 * stop, an outage without a clean shutdown. True when pg_ctl succeeded. */
bool testdb_server_stop(void);

/* The same with a pg_ctl shutdown mode: "smart", "fast" or "immediate". */
bool testdb_server_stop_mode(const char *mode);

/* Starts it again and waits until it accepts connections (pg_ctl -w start,
 * log in $COOLINGD_TEST_PGDATA/../postgres.log). */
bool testdb_server_start(void);

#endif
