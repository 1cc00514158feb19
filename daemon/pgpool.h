/*
 * An asynchronous pool of PostgreSQL connections driven by one libevent
 * loop: libpq in non-blocking mode, statements prepared once per connection,
 * a bounded queue while every connection is busy, reconnection with a short
 * capped backoff so that a new primary is found within a second of it
 * accepting writes, and a bound on how long a server that does not answer
 * holds a connection. The loop never waits on the database.
 */
#ifndef CD_PGPOOL_H
#define CD_PGPOOL_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"

struct pgpool;

/* Called exactly once per accepted statement, never from inside
 * pgpool_exec(). res is the statement's result (check its status), or NULL
 * when the database could not be reached in time (connection lost, server
 * down, queue wait over the request timeout), when the server answered that
 * it cannot take the statement here (read-only: a standby after a failover;
 * shutting down; starting up), or when the outcome is unknown (the
 * connection broke after the statement was sent, or the server warned that
 * it committed without the synchronous standby's acknowledgement): then the
 * statement may or may not have been committed, and the caller must not
 * answer as if it had been (coolingd answers 503; every call is safe to
 * retry). The pool frees res after the call. */
typedef void (*pgpool_cb)(PGresult *res, void *arg);

struct pgpool_opts {
	const char *url;
	int size;
	int64_t statement_timeout_s; /* the server aborts a statement after this */
	int64_t queue_timeout_s;     /* a statement waits this long for a connection */
	/* a server that does not answer is given up on after this: each
	 * connection attempt, and TCP's tcp_user_timeout and keepalives */
	int64_t health_timeout_ms;
	int max_queue;
	/* The pool serves reads only: every session is opened with
	 * default_transaction_read_only=on, and a server that does not report
	 * it is refused. */
	bool read_only;
	const char *name; /* in log lines: "primary", "read" */
};

struct pgpool *pgpool_new(struct event_base *base, const struct pgpool_opts *o);
/* Closes the connections and answers every job still waiting, in flight or
 * queued, with NULL (outcome unknown); from then on pgpool_exec() refuses
 * every job, so a callback's retry is refused too, never lost. Safe to call
 * twice; the pool stays readable (pgpool_gauges, pgpool_up) until freed. */
void pgpool_close(struct pgpool *p);
/* pgpool_close(), then frees the pool. */
void pgpool_free(struct pgpool *p);

/* Runs a prepared statement with text parameters (NULL = SQL NULL; copied).
 * A statement of DB_BATCHED may run in one statement with others queued
 * at the same time (see pgpool.c); cb gets its own result all the same.
 * False when the database is known to be out of reach or the queue is full:
 * the caller answers 503 at once and cb is never called. */
bool pgpool_exec(struct pgpool *p, enum stmt st, const char *const *params, pgpool_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* True while at least one connection is established. */
bool pgpool_up(const struct pgpool *p);

/* The pool's connections by state, and the statements waiting for one. */
struct pgpool_gauges {
	int idle, busy;
	int connecting; /* connecting, or preparing the statements */
	int down;       /* closed, waiting to retry */
	int queued;
	/* since the pool was made: statements sent for requests (a batch is
	 * one), batches among them, the requests they carried, and batches
	 * that failed and ran their requests one by one */
	int64_t statements, batches, batched, batch_fallbacks;
};

/* Safe from any thread while the pool exists (daemon/metrics.c reads every
 * worker's pool from the main thread): the pool's own thread publishes the
 * counts with relaxed atomic stores, so a reading may be a moment old and
 * its parts from moments apart. */
void pgpool_gauges(const struct pgpool *p, struct pgpool_gauges *g);

/* How many statements of one batched kind a pool runs at once (on as many
 * connections): while they run, the requests of that kind queue, and the
 * first to end takes them all. One: each worker has its own pool, so one
 * worker's batch forms while another's commits; with two, a request that
 * came while a batch ran went out alone, a statement and a commit of its
 * own (docs/performance.md, "Batches"). */
#define PGPOOL_KIND_PARALLEL 1

/* Reconnection delays, in milliseconds: the first retry after a failure,
 * and the cap of the doubling (each delay gets up to a quarter of jitter on
 * top, so that the connections of many workers do not retry in step). The
 * cap bounds how long after a new primary accepts writes the pool finds it. */
#define PGPOOL_BACKOFF_FIRST_MS 50
#define PGPOOL_BACKOFF_MAX_MS   300

/* The SQLSTATEs after which the connection is no use for writes and is
 * replaced: the server became read-only (a demoted primary) or is going away
 * or not yet up (57P01-57P03), or the connection failed (class 08). Pure:
 * tested on its own. */
bool pgpool_sqlstate_drops(const char *sqlstate);

#endif
