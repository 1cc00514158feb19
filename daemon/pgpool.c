/*
 * The connection pool. Each connection is a small state machine:
 *
 *   DOWN --timer--> CONNECTING --> PREPARING --> IDLE <--> BUSY
 *     ^                 |              |           |         |
 *     +-----------------+--------------+-----------+---------+ (any failure)
 *
 * Jobs wait in a FIFO queue (pool->queue_head) while no connection is IDLE.
 * When the database is known to be down (a connection attempt failed, or an
 * established connection broke and none is left), new jobs are refused and
 * queued ones are answered with NULL, so that clients get a prompt 503
 * instead of waiting for a timeout.
 *
 * Batches: a statement of DB_BATCHED (lib/db.h: reads, approvals, payouts
 * and refusals) runs on at most PGPOOL_KIND_PARALLEL connections at a time.
 * While they run, the requests of the same statement that arrive wait in
 * the queue, even when other connections are idle (those take the other
 * statements); when one ends, a connection takes them all together (at
 * most DB_BATCH_MAX, none that db_batch_conflict() keeps apart from one
 * already taken) and runs them as one STMT_BATCH_* statement, one
 * transaction; db_batch_split() then
 * gives each request the result it would have had alone. So a request waits
 * for company at most as long as the database takes to run a statement
 * before it, and one that finds fewer of its kind running goes out at once,
 * with whatever of its kind is queued: at low load nothing waits. Each
 * request is answered only from its batch's result, which
 * PostgreSQL sends after the commit: none hears of its row before it is
 * committed. A batch that fails as a statement (not the connection), and
 * so wrote nothing, puts its requests back at the head of the queue, each
 * to run alone, so that one request the database refuses never fails the
 * others.
 *
 * Failover: with a multi-host url and target_session_attrs=read-write, libpq
 * tries the hosts in turn and keeps the one that accepts writes. A lost
 * connection, or an answer that says this server can no longer take writes
 * (pgpool_sqlstate_drops) or that a commit's wait for the synchronous
 * standby was cancelled, closes the connection; the retry timer then
 * reconnects to whichever host is the primary now. The retry delay is capped
 * low (PGPOOL_BACKOFF_MAX_MS): while no host is primary each connection
 * costs one refused connect (or one read-only check) per delay, and the new
 * primary is found within that delay of it accepting writes.
 *
 * A server that does not answer at all costs at most health_timeout: libpq
 * ignores connect_timeout on a non-blocking connection, so the pool bounds
 * each attempt itself (conn->deadline), and TCP's own timeouts are set from
 * it for the established ones. A statement, or the preparing of them, that
 * the server has not answered by statement_timeout + health_timeout (the
 * server cancels its own statements at statement_timeout) is given up on
 * too, with every other connection to that host: a server that no longer
 * runs its own timers never holds the pool for good.
 *
 * libpq always tries the hosts in the url's order, so a host that failed
 * (no answer, gone, or a commit that could not reach its standby) is tried
 * last by that connection's next attempt (hosts_rotated): a dead or cut-off
 * old primary named first never stands in front of the new one.
 */
#include "pgpool.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"

enum conn_state {
	CONN_DOWN,       /* closed; retry_timer pending */
	CONN_CONNECTING, /* PQconnectPoll in progress */
	CONN_PREPARING,  /* sending PQsendPrepare for statement prep_index */
	CONN_IDLE,       /* ready; no job */
	CONN_BUSY,       /* running conn->job */
};
#define CONN_STATES (CONN_BUSY + 1)

struct job {
	struct job *next;
	enum stmt st;
	int nparams;
	const char *params[DB_MAX_PARAMS]; /* no statement has more (db.h) */
	pgpool_cb cb;
	void *arg;
	int64_t enqueued_ms;
	struct job *batch_next; /* the next request of the batch this one leads */
	bool alone;             /* its batch failed: runs as a statement of its own */
	char data[];            /* the parameter strings */
};

struct conn {
	struct pgpool *pool;
	int index;
	enum conn_state state;
	PGconn *pg;
	int fd;
	struct event *rev; /* readable; persistent while connected */
	struct event *wev; /* writable; added while output is pending */
	struct event *retry_timer;
	/* while CONNECTING: health_timeout; PREPARING and BUSY: the statement's
	 * own timeout and health_timeout */
	struct event *deadline;
	int first_host; /* the host the next attempt tries first */
	int backoff_ms;
	int prep_index;
	struct job *job;
	PGresult *result;
	bool warned;  /* the server sent a WARNING while running job */
	enum stmt st; /* job's statement, while BUSY */
	unsigned rng; /* for the jitter of the retry delay */
};

struct pgpool {
	struct event_base *base;
	struct pgpool_opts opts;
	char *url;
	char options[128];
	/* the url's hosts, when it names several: each attempt passes them
	 * rotated to start at its connection's first_host (NULL: one host) */
	char **host, **hostaddr, **port;
	int nhosts;
	char keepalive_idle[24], user_timeout[24];
	struct conn *conns;
	int n_up; /* connections in IDLE or BUSY */
	bool ever_up;
	bool db_down;
	bool closed; /* pgpool_close(): no connection, and no job taken, ever again */
	struct job *queue_head, *queue_tail;
	int queue_len;
	/* What pgpool_gauges() reads from other threads: the connections in
	 * each state and queue_len, written by this pool's thread alone
	 * (conn_set_state, queue_len_add) with relaxed stores, so that keeping
	 * them costs the loop no lock and no shared write. */
	_Atomic int in_state[CONN_STATES];
	_Atomic int queue_len_seen;
	/* counters for pgpool_gauges(), likewise */
	_Atomic int64_t statements, batches, batched, batch_fallbacks;
	/* the connections running each statement (a batch counts for its
	 * single statement): a batched one runs on PGPOOL_KIND_PARALLEL at most */
	int running[STMT__COUNT];
	struct event *sweep_timer;
	struct event *kick; /* dispatches new jobs from the loop, not the caller */
};

static void conn_start(struct conn *c);
static const char *p_name(const struct pgpool *p)
{
	return p->opts.name ? p->opts.name : "primary";
}
static void conn_fail(struct conn *c, const char *why);

/* Adds d to a gauge that only this pool's thread writes. */
static void gauge_add(_Atomic int *g, int d)
{
	atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + d,
	                      memory_order_relaxed);
}

/* Every change of a connection's state goes through here, for the gauges. */
static void conn_set_state(struct conn *c, enum conn_state to)
{
	gauge_add(&c->pool->in_state[c->state], -1);
	gauge_add(&c->pool->in_state[to], 1);
	c->state = to;
}

static void queue_len_add(struct pgpool *p, int d)
{
	p->queue_len += d;
	atomic_store_explicit(&p->queue_len_seen, p->queue_len, memory_order_relaxed);
}
static void conn_on_io(evutil_socket_t fd, short what, void *arg);

static void job_finish(struct job *j, PGresult *res)
{
	j->cb(res, j->arg);
	free(j);
}

/* Finishes j and the rest of its batch with NULL (out of reach, or the
 * outcome unknown). */
static void jobs_finish_null(struct job *j)
{
	while (j != NULL) {
		struct job *next = j->batch_next;
		job_finish(j, NULL);
		j = next;
	}
}

static void counter_add(_Atomic int64_t *g, int64_t d)
{
	atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + d,
	                      memory_order_relaxed);
}

static void fail_queue(struct pgpool *p)
{
	while (p->queue_head != NULL) {
		struct job *j = p->queue_head;
		p->queue_head = j->next;
		queue_len_add(p, -1);
		job_finish(j, NULL);
	}
	p->queue_tail = NULL;
}

static void conn_events_free(struct conn *c)
{
	if (c->rev) {
		event_free(c->rev);
		c->rev = NULL;
	}
	if (c->wev) {
		event_free(c->wev);
		c->wev = NULL;
	}
	c->fd = -1;
}

/* (Re)creates the socket events when libpq's socket changed. */
static bool conn_watch(struct conn *c, bool want_write)
{
	int fd = PQsocket(c->pg);
	if (fd < 0)
		return false;
	if (fd != c->fd) {
		conn_events_free(c);
		c->fd = fd;
		c->rev = event_new(c->pool->base, fd, EV_READ | EV_PERSIST, conn_on_io, c);
		c->wev = event_new(c->pool->base, fd, EV_WRITE, conn_on_io, c);
		if (c->rev == NULL || c->wev == NULL)
			return false;
	}
	if (event_add(c->rev, NULL) != 0)
		return false;
	if (want_write)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
	return true;
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

/* c's statement ended (answered, or the connection failed): another of
 * its kind may start, and the requests of its kind that waited go as one
 * batch on whichever connection is free first. */
static void job_ended(struct conn *c)
{
	struct pgpool *p = c->pool;
	p->running[c->st]--;
	if (p->queue_head != NULL)
		event_active(p->kick, 0, 0);
}

static void deadline_arm(struct conn *c, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(c->deadline, &tv);
}

/* For a statement (or the preparing of them): the server cancels it at
 * statement_timeout, so no answer by then and health_timeout after means
 * no answer at all. */
static void deadline_arm_statement(struct conn *c)
{
	const struct pgpool_opts *o = &c->pool->opts;
	deadline_arm(c, o->statement_timeout_s * 1000 + o->health_timeout_ms);
}

/* The index in p->host of the host c's server (or its attempt) is on; -1
 * when not known. */
static int host_index(const struct conn *c)
{
	const struct pgpool *p = c->pool;
	const char *h = PQhost(c->pg), *port = PQport(c->pg);
	for (int i = 0; h != NULL && i < p->nhosts; i++) {
		const char *want = p->hostaddr[i][0] != '\0' ? PQhostaddr(c->pg) : h;
		const char *name = p->hostaddr[i][0] != '\0' ? p->hostaddr[i] : p->host[i];
		if (want != NULL && strcmp(want, name) == 0 &&
		    (port == NULL || p->port[i][0] == '\0' || strcmp(port, p->port[i]) == 0))
			return i;
	}
	return -1;
}

/* c is given up on its host: its next attempt tries the host after it
 * first, and that one last. */
static void host_failed(struct conn *c)
{
	int i = c->pool->nhosts > 1 ? host_index(c) : -1;
	if (i >= 0)
		c->first_host = (i + 1) % c->pool->nhosts;
}

static void conn_fail(struct conn *c, const char *why)
{
	struct pgpool *p = c->pool;
	bool was_up = c->state == CONN_IDLE || c->state == CONN_BUSY;
	if (was_up)
		p->n_up--;
	if (c->state != CONN_DOWN) {
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", c->pg ? PQerrorMessage(c->pg) : "");
		msg[strcspn(msg, "\n")] = '\0';
		if (!p->db_down || was_up)
			log_kv(LOG_WARN, "database connection lost", "pool", p_name(p), "reason",
			       why, "error", msg, NULL);
	}
	evtimer_del(c->deadline);
	if (c->pg)
		host_failed(c);
	conn_events_free(c);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	struct job *j = c->job;
	c->job = NULL;
	if (c->state == CONN_BUSY)
		job_ended(c);
	conn_set_state(c, CONN_DOWN);

	if (p->n_up == 0)
		p->db_down = true;
	c->backoff_ms = c->backoff_ms == 0 ? PGPOOL_BACKOFF_FIRST_MS : c->backoff_ms * 2;
	if (c->backoff_ms > PGPOOL_BACKOFF_MAX_MS)
		c->backoff_ms = PGPOOL_BACKOFF_MAX_MS;
	int delay =
	    c->backoff_ms + (int)((unsigned)rand_r(&c->rng) % (unsigned)(c->backoff_ms / 4 + 1));
	struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
	evtimer_add(c->retry_timer, &tv);

	jobs_finish_null(j);
	if (p->db_down)
		fail_queue(p);
}

static void conn_dispatch(struct conn *c);

static void conn_became_idle(struct conn *c)
{
	struct pgpool *p = c->pool;
	if (c->state != CONN_IDLE && c->state != CONN_BUSY) {
		static atomic_bool warned;
		const char *su = PQparameterStatus(c->pg, "is_superuser");
		if (su != NULL && strcmp(su, "on") == 0 && !atomic_exchange(&warned, true))
			log_kv(LOG_WARN,
			       "connected to the database as a superuser; run coolingd as a "
			       "member of coolingd_app instead (README, \"Database roles\")",
			       NULL);
		/* PostgreSQL 14 and later report both settings at connection. */
		const char *ro = PQparameterStatus(c->pg, "default_transaction_read_only");
		const char *hs = PQparameterStatus(c->pg, "in_hot_standby");
		if (p->opts.read_only && (ro == NULL || strcmp(ro, "on") != 0)) {
			conn_fail(c, "session not read-only");
			return;
		}
		if (p->n_up == 0)
			log_kv(LOG_INFO,
			       p->ever_up ? "database reachable again" : "database connected",
			       "pool", p_name(p), "host", PQhost(c->pg), "port", PQport(c->pg),
			       "in_hot_standby", hs ? hs : "", "read_only", ro ? ro : "", NULL);
		p->n_up++;
		p->ever_up = true;
		p->db_down = false;
		c->backoff_ms = 0;
	}
	evtimer_del(c->deadline);
	conn_set_state(c, CONN_IDLE);
	conn_dispatch(c);
}

static void conn_send_prepare(struct conn *c)
{
	const struct stmt_def *d = &db_statements[c->prep_index];
	if (!PQsendPrepare(c->pg, d->name, d->sql, d->nparams, NULL)) {
		conn_fail(c, "prepare");
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0 || !conn_watch(c, f == 1))
		conn_fail(c, "prepare");
}

/* Takes q, which follows prev (NULL: q is the head), out of the queue. */
static void queue_unlink(struct pgpool *p, struct job *prev, struct job *q)
{
	if (prev != NULL)
		prev->next = q->next;
	else
		p->queue_head = q->next;
	if (p->queue_tail == q)
		p->queue_tail = prev;
	q->next = NULL;
	queue_len_add(p, -1);
}

/* Whether q may join the batch that j leads. */
static bool batch_fits(const struct job *j, const struct job *q)
{
	if (q->st != j->st || q->alone)
		return false;
	for (const struct job *m = j; m != NULL; m = m->batch_next)
		if (db_batch_conflict(j->st, m->params, q->params))
			return false;
	return true;
}

/* Takes from the queue the requests that can run in one batch with j,
 * which was taken from it: the queued ones of the same statement, in their
 * order, up to DB_BATCH_MAX in all, linked from j by batch_next. None of
 * them could start sooner on its own (a batched statement runs on
 * PGPOOL_KIND_PARALLEL connections at most). Returns the batch's size, 1
 * when j runs alone. */
static int batch_take(struct pgpool *p, struct job *j)
{
	j->batch_next = NULL;
	if (j->alone || db_stmt_batch_of(j->st) == STMT__COUNT)
		return 1;
	int n = 1;
	struct job *last = j, *prev = NULL;
	for (struct job *q = p->queue_head; q != NULL && n < DB_BATCH_MAX;) {
		struct job *next = q->next;
		if (!batch_fits(j, q)) {
			prev = q;
			q = next;
			continue;
		}
		queue_unlink(p, prev, q);
		q->batch_next = NULL;
		last->batch_next = q;
		last = q;
		n++;
		q = next;
	}
	return n;
}

/* Sends the batch that j leads (n requests) as its STMT_BATCH_* statement:
 * each parameter becomes the array of that parameter of every request,
 * then the number of requests. */
static bool conn_send_batch(struct conn *c, const struct job *j, int n)
{
	enum stmt bst = db_stmt_batch_of(j->st);
	int np = j->nparams;
	if (np + 1 != db_statements[bst].nparams || np + 1 > DB_MAX_PARAMS)
		return false; /* a build fault: db.c's tables disagree */
	const char *vals[DB_MAX_PARAMS][DB_BATCH_MAX];
	size_t len[DB_MAX_PARAMS], total = 0;
	int m = n < DB_BATCH_PAD ? DB_BATCH_PAD : n; /* filled up with NULLs */
	for (int k = 0; k < np; k++) {
		int i = 0;
		for (const struct job *q = j; q != NULL; q = q->batch_next)
			vals[k][i++] = q->params[k];
		while (i < m)
			vals[k][i++] = NULL;
		len[k] = db_array_literal(NULL, 0, vals[k], m) + 1;
		total += len[k];
	}
	char *buf = malloc(total);
	if (buf == NULL)
		return false;
	const char *params[DB_MAX_PARAMS];
	char *d = buf;
	for (int k = 0; k < np; k++) {
		db_array_literal(d, len[k], vals[k], m);
		params[k] = d;
		d += len[k];
	}
	char count[16];
	snprintf(count, sizeof(count), "%d", n);
	params[np] = count;
	/* libpq copies the parameters into its output buffer */
	int sent =
	    PQsendQueryPrepared(c->pg, db_statements[bst].name, np + 1, params, NULL, NULL, 0);
	free(buf);
	if (sent) {
		counter_add(&c->pool->batches, 1);
		counter_add(&c->pool->batched, n);
		if (log_enabled(LOG_DEBUG))
			log_kv(LOG_DEBUG, "requests batched", "pool", p_name(c->pool), "statement",
			       db_statements[bst].name, "requests", count, NULL);
	}
	return sent;
}

static void conn_dispatch(struct conn *c)
{
	struct pgpool *p = c->pool;
	if (c->state != CONN_IDLE || p->queue_head == NULL)
		return;
	/* the first request that may start: not one of a batched statement
	 * that runs on PGPOOL_KIND_PARALLEL connections already (it waits for
	 * one of them to end, then goes with the others of its kind), unless it
	 * must run alone */
	struct job *j = p->queue_head, *prev = NULL;
	while (j != NULL && !j->alone && p->running[j->st] >= PGPOOL_KIND_PARALLEL &&
	       db_stmt_batch_of(j->st) != STMT__COUNT) {
		prev = j;
		j = j->next;
	}
	if (j == NULL)
		return;
	queue_unlink(p, prev, j);
	int n = batch_take(p, j);

	c->job = j;
	c->st = j->st;
	p->running[j->st]++;
	conn_set_state(c, CONN_BUSY);
	c->warned = false;
	counter_add(&p->statements, 1);
	if (n > 1 ? !conn_send_batch(c, j, n)
	          : !PQsendQueryPrepared(c->pg, db_statements[j->st].name, j->nparams, j->params,
	                                 NULL, NULL, 0)) {
		conn_fail(c, "send");
		return;
	}
	int f = PQflush(c->pg);
	if (f < 0 || !conn_watch(c, f == 1))
		conn_fail(c, "send");
	else
		deadline_arm_statement(c);
}

/* Reads what arrived; returns true when the current command's results are
 * complete (PQgetResult returned NULL), storing the last result. */
static bool conn_read_results(struct conn *c, bool *failed)
{
	*failed = false;
	if (!PQconsumeInput(c->pg)) {
		*failed = true;
		return false;
	}
	while (!PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (r == NULL)
			return true;
		/* Keep the first error, else the last result. */
		if (c->result == NULL || PQresultStatus(c->result) == PGRES_TUPLES_OK ||
		    PQresultStatus(c->result) == PGRES_COMMAND_OK) {
			if (c->result)
				PQclear(c->result);
			c->result = r;
		} else {
			PQclear(r);
		}
	}
	return false;
}

/* Puts a failed batch's requests back at the head of the queue, in their
 * order, each to run alone. */
static void batch_requeue(struct pgpool *p, struct job *j)
{
	struct job *last = NULL;
	int n = 0;
	for (struct job *q = j; q != NULL; q = q->batch_next) {
		q->alone = true;
		q->next = q->batch_next;
		last = q;
		n++;
	}
	for (struct job *q = j; q != NULL;) {
		struct job *next = q->batch_next;
		q->batch_next = NULL;
		q = next;
	}
	last->next = p->queue_head;
	p->queue_head = j;
	if (p->queue_tail == NULL)
		p->queue_tail = last;
	queue_len_add(p, n);
	counter_add(&p->batch_fallbacks, 1);
	event_active(p->kick, 0, 0); /* other idle connections take some at once */
}

/* A batch's result: each request gets its own part; NULL (out of reach,
 * the outcome unknown) goes to every one; a statement that failed sends
 * them back to the queue one by one. */
static void batch_done(struct conn *c, struct job *j, PGresult *res, bool failed)
{
	int n = 0;
	for (struct job *q = j; q != NULL; q = q->batch_next)
		n++;
	PGresult *parts[DB_BATCH_MAX];
	if (res == NULL) {
		jobs_finish_null(j);
		return;
	}
	if (failed || !db_batch_split(res, n, parts)) {
		log_kv(LOG_DEBUG, "a batch failed; running its requests one by one", "pool",
		       p_name(c->pool), "statement", db_statements[j->st].name, "error",
		       failed ? PQresultErrorMessage(res) : "the batch's result", NULL);
		batch_requeue(c->pool, j);
		return;
	}
	int i = 0;
	while (j != NULL) {
		struct job *next = j->batch_next;
		job_finish(j, parts[i]);
		PQclear(parts[i]);
		i++;
		j = next;
	}
}

static void conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct conn *c = arg;
	bool failed;

	switch (c->state) {
	case CONN_DOWN:
		return;
	case CONN_CONNECTING: {
		PostgresPollingStatusType ps = PQconnectPoll(c->pg);
		if (ps == PGRES_POLLING_FAILED) {
			conn_fail(c, "connect");
		} else if (ps == PGRES_POLLING_OK) {
			deadline_arm_statement(c);
			conn_set_state(c, CONN_PREPARING);
			c->prep_index = 0;
			if (conn_watch(c, false))
				conn_send_prepare(c);
			else
				conn_fail(c, "socket");
		} else if (!conn_watch(c, ps == PGRES_POLLING_WRITING)) {
			conn_fail(c, "socket");
		} else if (ps == PGRES_POLLING_WRITING) {
			/* waiting for writability only */
			event_del(c->rev);
		} else {
			event_add(c->rev, NULL);
		}
		return;
	}
	case CONN_PREPARING:
	case CONN_BUSY:
	case CONN_IDLE:
		break;
	}

	if (what & EV_WRITE) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_fail(c, "write");
			return;
		}
		if (f == 1)
			event_add(c->wev, NULL);
	}
	if (!(what & EV_READ))
		return;

	if (c->state == CONN_IDLE) {
		/* Nothing is expected: a notice, or the server went away. */
		if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK)
			conn_fail(c, "closed by server");
		return;
	}
	bool done = conn_read_results(c, &failed);
	if (failed || PQstatus(c->pg) != CONNECTION_OK) {
		conn_fail(c, "read");
		return;
	}
	if (!done)
		return;

	PGresult *res = c->result;
	c->result = NULL;
	if (c->state == CONN_PREPARING) {
		bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			log_kv(LOG_ERROR, "cannot prepare statement", "statement",
			       db_statements[c->prep_index].name, "error",
			       res ? PQresultErrorMessage(res) : "", NULL);
		PQclear(res);
		if (!ok) {
			conn_fail(c, "prepare");
			return;
		}
		if (++c->prep_index < STMT__COUNT)
			conn_send_prepare(c);
		else
			conn_became_idle(c);
		return;
	}

	/* BUSY: the job's result is complete (a batch's goes to batch_done). A
	 * result that says the server is going away, or can no longer take
	 * writes, also takes the connection down; the job then gets NULL (out
	 * of reach, or outcome unknown), never an error that a handler could
	 * mistake for a decision. */
	struct job *j = c->job;
	c->job = NULL;
	evtimer_del(c->deadline);
	job_ended(c);
	conn_set_state(c, CONN_IDLE);
	bool conn_broken = PQstatus(c->pg) != CONNECTION_OK;
	bool res_failed = res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
	                                  PQresultStatus(res) != PGRES_COMMAND_OK);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* a commit whose wait for the synchronous standby was cancelled: this
	 * server cannot reach its standby (cut off, or no longer the primary),
	 * and the next statement here would wait as long again */
	bool drop =
	    conn_broken || c->warned || (res_failed && pgpool_sqlstate_drops(state ? state : ""));
	if (c->warned && !res_failed)
		log_kv(LOG_WARN,
		       "the server warned while committing (a synchronous standby's "
		       "acknowledgement cancelled?); answering as outcome unknown",
		       "pool", p_name(c->pool), "statement", db_statements[j->st].name, NULL);
	if (j->batch_next != NULL)
		batch_done(c, j, drop || c->warned ? NULL : res, res_failed);
	else
		job_finish(j, drop || c->warned ? NULL : res);
	PQclear(res);
	if (drop)
		conn_fail(c, state && *state ? state
		             : c->warned     ? "commit not confirmed by the standby"
		                             : "after result");
	else
		conn_dispatch(c);
}

/* Server notices and warnings go to our log, not raw to stderr, so that
 * the log stays one object per line. None of coolingd's statements raises a
 * WARNING on its own; one that comes while a statement runs is taken as
 * "committed locally, outcome not guaranteed" (PostgreSQL warns so when the
 * wait for a synchronous standby is cancelled), matched on the severity,
 * which is never translated, rather than on the message, which may be. */
static void on_notice(void *arg, const PGresult *res)
{
	struct conn *c = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (c->state == CONN_BUSY && sev != NULL && strcmp(sev, "WARNING") == 0)
		c->warned = true;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
	msg[strcspn(msg, "\n")] = '\0';
	log_kv(LOG_WARN, "database notice", "notice", msg, NULL);
}

/* Joins list[first..] and list[..first) with commas into out; false when
 * it does not fit. */
static bool hosts_rotated(char *const *list, int n, int first, char *out, size_t size)
{
	size_t o = 0;
	for (int k = 0; k < n; k++) {
		int r = snprintf(out + o, size - o, "%s%s", k ? "," : "", list[(first + k) % n]);
		if (r < 0 || (size_t)r >= size - o)
			return false;
		o += (size_t)r;
	}
	return true;
}

static void conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (c->state == CONN_CONNECTING) {
		conn_fail(c, "no answer within database.health_timeout");
		return;
	}
	/* the server let its own statement_timeout pass: it runs no timer
	 * any more, and its other connections here wait in vain too */
	struct pgpool *p = c->pool;
	int host = p->nhosts > 1 ? host_index(c) : 0; /* one host: every connection's */
	conn_fail(c, "no answer within the statement timeout and database.health_timeout");
	for (int i = 0; host >= 0 && i < p->opts.size; i++) {
		struct conn *o = &p->conns[i];
		if (o->state != CONN_DOWN && o->state != CONN_CONNECTING &&
		    (p->nhosts <= 1 || host_index(o) == host))
			conn_fail(o, "another connection to this host got no answer");
	}
}

static void conn_start(struct conn *c)
{
	struct pgpool *p = c->pool;
	/* Later entries override earlier ones: the url may set its own
	 * keepalives and tcp_user_timeout, never the session options, nor the
	 * order of its hosts. The keepalives and tcp_user_timeout notice a host
	 * that stopped answering under an established connection, within about
	 * health_timeout. */
	const char *keys[12] = {"keepalives_idle",  "keepalives_interval",       "keepalives_count",
	                        "tcp_user_timeout", "fallback_application_name", "dbname",
	                        "options"};
	const char *vals[12] = {p->keepalive_idle,
	                        "1",
	                        "2",
	                        p->user_timeout,
	                        p->opts.read_only ? "coolingd-read" : "coolingd",
	                        p->url,
	                        p->options};
	int k = 7;
	char host[1024], hostaddr[1024], port[256];
	if (p->nhosts > 1 && hosts_rotated(p->host, p->nhosts, c->first_host, host, sizeof(host)) &&
	    hosts_rotated(p->hostaddr, p->nhosts, c->first_host, hostaddr, sizeof(hostaddr)) &&
	    hosts_rotated(p->port, p->nhosts, c->first_host, port, sizeof(port))) {
		if (p->host[0][0] != '\0' || p->host[1][0] != '\0') {
			keys[k] = "host";
			vals[k++] = host;
		}
		if (p->hostaddr[0][0] != '\0') {
			keys[k] = "hostaddr";
			vals[k++] = hostaddr;
		}
		if (p->port[0][0] != '\0') {
			keys[k] = "port";
			vals[k++] = port;
		}
	}
	keys[k] = NULL;
	vals[k] = NULL;
	c->pg = PQconnectStartParams(keys, vals, 1);
	c->fd = -1;
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_set_state(c, CONN_CONNECTING); /* so that conn_fail logs it */
		conn_fail(c, "connect");
		return;
	}
	PQsetnonblocking(c->pg, 1);
	PQsetNoticeReceiver(c->pg, on_notice, c);
	conn_set_state(c, CONN_CONNECTING);
	deadline_arm(c, p->opts.health_timeout_ms);
	/* libpq wants the first poll once the socket is writable. */
	if (!conn_watch(c, true)) {
		conn_fail(c, "connect");
		return;
	}
	event_del(c->rev);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pgpool *p = arg;
	for (int i = 0; i < p->opts.size && p->queue_head != NULL; i++)
		conn_dispatch(&p->conns[i]);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pgpool *p = arg;
	int64_t limit = mono_ms() - p->opts.queue_timeout_s * 1000;
	while (p->queue_head != NULL && p->queue_head->enqueued_ms < limit) {
		struct job *j = p->queue_head;
		queue_unlink(p, NULL, j);
		job_finish(j, NULL);
	}
}

static void hosts_free(struct pgpool *p)
{
	for (int i = 0; i < p->nhosts; i++) {
		free(p->host ? p->host[i] : NULL);
		free(p->hostaddr ? p->hostaddr[i] : NULL);
		free(p->port ? p->port[i] : NULL);
	}
	free(p->host);
	free(p->hostaddr);
	free(p->port);
	p->host = p->hostaddr = p->port = NULL;
	p->nhosts = 0;
}

/* How many elements a comma-separated list has (0 when empty). */
static int list_len(const char *list)
{
	int n = *list != '\0';
	for (const char *q = list; *q; q++)
		n += *q == ',';
	return n;
}

/* Element i of a comma-separated list of n, or its only element, or ""
 * when empty; malloc'd. */
static char *list_at(const char *list, int i)
{
	if (list_len(list) <= 1)
		return strdup(list);
	const char *start = list;
	for (int k = 0; k < i; k++)
		start = strchr(start, ',') + 1;
	return strndup(start, strcspn(start, ","));
}

/* The url's hosts, addresses and ports, one of each per host, when it
 * names more than one host (libpq's own parser reads the url). A list
 * whose length libpq would refuse leaves the order alone: the connection
 * fails as it always did. False only when out of memory. */
static bool hosts_parse(struct pgpool *p)
{
	PQconninfoOption *opts = PQconninfoParse(p->url, NULL);
	if (opts == NULL)
		return true;
	const char *host = "", *hostaddr = "", *port = "";
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		const char *v = o->val ? o->val : "";
		if (strcmp(o->keyword, "host") == 0)
			host = v;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = v;
		else if (strcmp(o->keyword, "port") == 0)
			port = v;
	}
	int n = list_len(*host ? host : hostaddr);
	bool fits = n > 1 && (list_len(host) == n || *host == '\0') &&
	            (list_len(hostaddr) == n || *hostaddr == '\0') && list_len(port) <= n &&
	            (list_len(port) <= 1 || list_len(port) == n);
	bool ok = true;
	if (fits) {
		p->host = calloc((size_t)n, sizeof(char *));
		p->hostaddr = calloc((size_t)n, sizeof(char *));
		p->port = calloc((size_t)n, sizeof(char *));
		ok = p->host && p->hostaddr && p->port;
		for (int i = 0; ok && i < n; i++) {
			p->nhosts = i + 1;
			p->host[i] = list_at(host, i);
			p->hostaddr[i] = list_at(hostaddr, i);
			p->port[i] = list_at(port, i);
			ok = p->host[i] && p->hostaddr[i] && p->port[i];
		}
	}
	PQconninfoFree(opts);
	return ok;
}

struct pgpool *pgpool_new(struct event_base *base, const struct pgpool_opts *o)
{
	struct pgpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->base = base;
	p->opts = *o;
	p->url = strdup(o->url);
	snprintf(p->options, sizeof(p->options), "-c TimeZone=UTC -c statement_timeout=%lld%s",
	         (long long)o->statement_timeout_s * 1000,
	         o->read_only ? " -c default_transaction_read_only=on" : "");
	/* a silent connection to a host that went away: keepalives after
	 * health_timeout less two seconds (one at least), then two probes a
	 * second apart, so that one lost probe closes nothing */
	long long idle_s = (o->health_timeout_ms + 999) / 1000 - 2;
	snprintf(p->keepalive_idle, sizeof(p->keepalive_idle), "%lld", idle_s < 1 ? 1 : idle_s);
	snprintf(p->user_timeout, sizeof(p->user_timeout), "%lld", (long long)o->health_timeout_ms);
	if (!hosts_parse(p)) {
		pgpool_free(p);
		return NULL;
	}
	p->conns = calloc((size_t)o->size, sizeof(*p->conns));
	atomic_init(&p->in_state[CONN_DOWN], o->size); /* calloc: every connection DOWN */
	p->sweep_timer = event_new(base, -1, EV_PERSIST, sweep_cb, p);
	p->kick = event_new(base, -1, 0, kick_cb, p);
	if (p->url == NULL || p->conns == NULL || p->sweep_timer == NULL || p->kick == NULL) {
		pgpool_free(p);
		return NULL;
	}
	struct timeval tv = {0, 100 * 1000};
	event_add(p->sweep_timer, &tv);
	for (int i = 0; i < o->size; i++) {
		struct conn *c = &p->conns[i];
		c->pool = p;
		c->index = i;
		c->fd = -1;
		c->rng = (unsigned)mono_ms() ^ (unsigned)(uintptr_t)c;
		c->retry_timer = evtimer_new(base, conn_retry_cb, c);
		c->deadline = evtimer_new(base, conn_deadline_cb, c);
		if (c->retry_timer == NULL || c->deadline == NULL) {
			pgpool_free(p);
			return NULL;
		}
		conn_start(c);
	}
	return p;
}

void pgpool_close(struct pgpool *p)
{
	if (p == NULL || p->closed)
		return;
	/* first, so that a callback below can queue nothing here */
	p->closed = true;
	p->db_down = true;
	if (p->sweep_timer)
		event_del(p->sweep_timer);
	if (p->kick)
		event_del(p->kick);
	for (int i = 0; p->conns && i < p->opts.size; i++) {
		struct conn *c = &p->conns[i];
		conn_events_free(c);
		if (c->retry_timer)
			event_del(c->retry_timer);
		if (c->deadline)
			event_del(c->deadline);
		if (c->pg) {
			PQfinish(c->pg);
			c->pg = NULL;
		}
		if (c->result) {
			PQclear(c->result);
			c->result = NULL;
		}
		if (c->state != CONN_DOWN)
			conn_set_state(c, CONN_DOWN);
	}
	p->n_up = 0;
	/* the callbacks run once every connection is closed: none of them
	 * sees a pool half closed */
	for (int i = 0; p->conns && i < p->opts.size; i++) {
		struct job *j = p->conns[i].job;
		p->conns[i].job = NULL;
		jobs_finish_null(j);
	}
	fail_queue(p);
}

void pgpool_free(struct pgpool *p)
{
	if (p == NULL)
		return;
	pgpool_close(p);
	for (int i = 0; p->conns && i < p->opts.size; i++) {
		struct conn *c = &p->conns[i];
		if (c->retry_timer)
			event_free(c->retry_timer);
		if (c->deadline)
			event_free(c->deadline);
	}
	if (p->sweep_timer)
		event_free(p->sweep_timer);
	if (p->kick)
		event_free(p->kick);
	free(p->conns);
	free(p->url);
	hosts_free(p);
	free(p);
}

bool pgpool_sqlstate_drops(const char *s)
{
	return strcmp(s, "25006") == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
	       strcmp(s, "57P03") == 0 || strncmp(s, "08", 2) == 0;
}

bool pgpool_up(const struct pgpool *p)
{
	return p->n_up > 0;
}

void pgpool_gauges(const struct pgpool *p, struct pgpool_gauges *g)
{
	struct pgpool *q = (struct pgpool *)p; /* atomic loads of a const object */
	int n[CONN_STATES];
	for (int i = 0; i < CONN_STATES; i++)
		n[i] = atomic_load_explicit(&q->in_state[i], memory_order_relaxed);
	g->idle = n[CONN_IDLE];
	g->busy = n[CONN_BUSY];
	g->connecting = n[CONN_CONNECTING] + n[CONN_PREPARING];
	g->down = n[CONN_DOWN];
	g->queued = atomic_load_explicit(&q->queue_len_seen, memory_order_relaxed);
	g->statements = atomic_load_explicit(&q->statements, memory_order_relaxed);
	g->batches = atomic_load_explicit(&q->batches, memory_order_relaxed);
	g->batched = atomic_load_explicit(&q->batched, memory_order_relaxed);
	g->batch_fallbacks = atomic_load_explicit(&q->batch_fallbacks, memory_order_relaxed);
}

bool pgpool_exec(struct pgpool *p, enum stmt st, const char *const *params, pgpool_cb cb, void *arg)
{
	if (p->closed || p->db_down || p->queue_len >= p->opts.max_queue)
		return false;
	int n = db_statements[st].nparams;
	if (n < 0 || n > DB_MAX_PARAMS) {
		/* a statement of db.c beyond the bound: a build fault, refused
		 * rather than written past the job's array */
		log_kv(LOG_ERROR, "statement has more parameters than DB_MAX_PARAMS", "statement",
		       db_statements[st].name, NULL);
		return false;
	}
	size_t total = 0;
	for (int i = 0; i < n; i++)
		if (params[i] != NULL)
			total += strlen(params[i]) + 1;
	struct job *j = malloc(sizeof(*j) + total);
	if (j == NULL)
		return false;
	j->next = NULL;
	j->st = st;
	j->nparams = n;
	j->cb = cb;
	j->arg = arg;
	j->enqueued_ms = mono_ms();
	j->batch_next = NULL;
	j->alone = false;
	char *d = j->data;
	for (int i = 0; i < n; i++) {
		if (params[i] == NULL) {
			j->params[i] = NULL;
			continue;
		}
		size_t len = strlen(params[i]) + 1;
		memcpy(d, params[i], len);
		j->params[i] = d;
		d += len;
	}
	if (p->queue_tail)
		p->queue_tail->next = j;
	else
		p->queue_head = j;
	p->queue_tail = j;
	queue_len_add(p, 1);
	event_active(p->kick, 0, 0);
	return true;
}
