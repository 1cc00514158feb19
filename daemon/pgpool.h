/*
 * An asynchronous pool of PostgreSQL connections driven by one libevent
 * loop: libpq in non-blocking mode, statements prepared once per connection,
 * a bounded queue while every connection is busy, reconnection with backoff.
 * The loop never waits on the database.
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
 * down, queue wait over the request timeout): then nothing is known to have
 * been committed by this statement. The pool frees res after the call. */
typedef void (*pgpool_cb)(PGresult *res, void *arg);

struct pgpool_opts {
	const char *url;
	int size;
	int64_t statement_timeout_s; /* the server aborts a statement after this */
	int64_t queue_timeout_s;     /* a statement waits this long for a connection */
	int max_queue;
};

struct pgpool *pgpool_new(struct event_base *base, const struct pgpool_opts *o);
void pgpool_free(struct pgpool *p);

/* Runs a prepared statement with text parameters (NULL = SQL NULL; copied).
 * False when the database is known to be out of reach or the queue is full:
 * the caller answers 503 at once and cb is never called. */
bool pgpool_exec(struct pgpool *p, enum stmt st, const char *const *params, pgpool_cb cb, void *arg)
    __attribute__((warn_unused_result));

/* True while at least one connection is established. */
bool pgpool_up(const struct pgpool *p);

#endif
