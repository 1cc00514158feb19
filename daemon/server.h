/*
 * The daemon's shared state: the configuration snapshot in force (swapped
 * atomically on SIGHUP), the count of open connections, the listening
 * sockets (plain, and HTTPS when [tls] listen is set; bound once, by the
 * main thread; the metrics listener is the main thread's own), and one
 * worker per event loop, each with its own listeners
 * on dup()s of those sockets, evhttps and database pool. A worker's objects
 * are touched only by its own thread; other threads only activate its
 * events.
 */
#ifndef CD_SERVER_H
#define CD_SERVER_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "pgpool.h"
#include "policy.h"

/* What a request reads of the configuration; replaced whole on reload. */
struct runtime {
	struct config cfg;
	struct policy_schedule schedule; /* the profile of each approval's local date */
	bool sums_days;                  /* policy_schedule_aggregates(&schedule) */
	struct runtime *older;           /* retired snapshots, freed at exit */
};

struct server;
struct http_conn;
struct metrics_block;

struct worker {
	int id;
	struct server *srv;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct evhttp *tls_http; /* NULL without [tls] listen */
	struct evhttp_bound_socket *tls_bound;
	/* this worker's dup()s of the listening sockets, -1 once closed: closed
	 * by us, a loop turn after their event is deleted (worker_begin_drain) */
	int listen_dup, tls_listen_dup;
	/* server.max_connections: activated (from any thread) when the count
	 * crosses the limit; the worker then stops or resumes accepting */
	struct event *limits_ev;
	bool accepting;
	/* connections accepted and counted whose close is not hooked yet
	 * (daemon/conn.c, conns_ev) */
	struct event *conns_ev;
	struct bufferevent **new_conns;
	int new_conns_len, new_conns_cap;
	/* the worker's connections by socket, for the request deadline
	 * (daemon/conn.c, struct http_conn) */
	struct http_conn **conn_slots;
	int conn_slots_cap;
	struct pgpool *pool;
	/* [database] read_url: a pool of read-only sessions for the compliance
	 * reads (daemon/queries.c); NULL when it is not set */
	struct pgpool *read_pool;
	bool read_fallback;        /* reading from the primary while the replica is down */
	struct event *shutdown_ev; /* activated by the main thread */
	struct event *drain_timer;
	struct event *seal_timer;        /* worker 0 only: seals the audit chain */
	struct event *unsealed_timer;    /* worker 0 only: counts what is not sealed yet */
	struct event *signals_timer;     /* worker 0 only: daemon/signals.c */
	struct event *time_events_timer; /* worker 0 only: writes time events (daemon/feed.c) */
	/* this worker's counters for GET /metrics (daemon/metrics.c): written
	 * by this thread alone, summed by the main thread at a scrape */
	struct metrics_block *metrics;
	/* Only when the systemd watchdog is on: the loop stamps heartbeat_ms
	 * (CLOCK_MONOTONIC) from its own timer, and the main thread sends
	 * WATCHDOG=1 only while every stamp is fresh (daemon/main.c). */
	struct event *heartbeat_timer;
	_Atomic int64_t heartbeat_ms;
	bool sealing;
	int in_flight; /* requests accepted and not yet answered */
	bool draining;
	/* the Date header of the second date_s (daemon/http.c, http_date) */
	time_t date_s;
	char date[50];
};

struct server {
	struct config cfg; /* as at start; non-reloadable keys come from here */
	const char *config_path;
	bool config_path_is_default;
	_Atomic(struct runtime *) rt;
	int nworkers;
	struct worker *workers;
	struct event_base *main_base;
	/* SSL_CTX, shared by the workers; NULL without TLS; replaced on SIGHUP
	 * (tls_ctx_replace), so workers read it only in tls_bufferevent_new */
	struct ssl_ctx_st *tls_ctx;
	int listen_fd, tls_listen_fd; /* -1 when none; the workers hold dup()s */
	int metrics_fd;               /* [metrics] listen; -1 when off */
	struct evhttp *metrics_http;  /* GET /metrics, on main_base */
	_Atomic long connections;     /* open, plain and TLS, all workers */
	_Atomic bool stopping;        /* no more accepting, ever */
};

static inline const struct runtime *server_runtime(struct server *s)
{
	return atomic_load(&s->rt);
}

/* daemon/listen.c */
/* Binds and listens on server.listen (and tls.listen, metrics.listen) once,
 * for every worker; false (logged, naming the key) when that fails, as when
 * another process holds the port. */
bool server_listen(struct server *s);
/* Closes the main thread's listening sockets (the workers' dup()s stay). */
void server_listen_close(struct server *s);
bool worker_http_setup(struct worker *w);
void worker_begin_drain(struct worker *w);
void worker_http_free(struct worker *w);

/* daemon/signals.c: worker 0 reads, every few seconds, what the operator's
 * metrics need from the database (the last audit checkpoint, the MRP of
 * the coming year). */
bool operator_signals_setup(struct worker *w);

/* daemon/sealer.c */
bool sealer_setup(struct worker *w);
/* Counts the audit events not sealed yet, every second, for
 * coolingd_audit_unsealed_events; worker 0, whether it seals or not. */
bool unsealed_count_setup(struct worker *w);

#endif
