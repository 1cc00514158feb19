/*
 * Connections: server.max_connections (counted across the workers), the
 * deadline of a whole request, and what the connection's bytes say that
 * evhttp gives us no hook for (Expect: 100-continue with a body too large,
 * libevent's own HTML error pages made the contract's JSON).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "log.h"
#include "tls.h"
#include "token_random.h"

/*
 * server.max_connections. evhttp has no such limit, so we count in our
 * bevcb (every accepted connection gets its bufferevent there) and at
 * evhttp's close callback, which evhttp_connection_free() calls whatever the
 * reason. The bevcb cannot set that callback itself: evhttp makes the
 * connection only after the bevcb returns, so conns_ev, run before any I/O,
 * finds it through bufferevent_getcb(); a bufferevent whose callbacks are gone
 * by then was freed by evhttp and counts as closed at once. (A pass-through
 * bufferevent_filter would stall replies: evhttp enables EV_WRITE after
 * queueing, which a filter does not pass on.)
 *
 * At the limit a worker stops accepting (evconnlistener_disable), so that
 * new connections wait in the kernel's listen backlog instead of being
 * accepted and dropped; below it again every worker resumes, told through
 * its limits_ev, since a worker touches only its own listeners. Workers that
 * accept at the same moment may overshoot the limit by a few connections.
 */

static void notify_workers(struct server *s)
{
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].limits_ev != NULL)
			event_active(s->workers[i].limits_ev, 0, 0);
}

/* Accepts or not, as the count and the worker's state say. */
static void listeners_apply(struct worker *w)
{
	struct server *s = w->srv;
	bool want = !w->draining && !atomic_load(&s->stopping) &&
	            atomic_load(&s->connections) < s->cfg.max_connections;
	if (want == w->accepting)
		return;
	w->accepting = want;
	struct evhttp_bound_socket *bound[] = {w->bound, w->tls_bound};
	for (size_t i = 0; i < sizeof(bound) / sizeof(bound[0]); i++) {
		if (bound[i] == NULL)
			continue;
		struct evconnlistener *l = evhttp_bound_socket_get_listener(bound[i]);
		if (want)
			evconnlistener_enable(l);
		else
			evconnlistener_disable(l);
	}
}

static void on_limits(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listeners_apply(arg);
}

static void conn_closed(struct worker *w)
{
	struct server *s = w->srv;
	long n = atomic_fetch_sub(&s->connections, 1) - 1;
	if (n == s->cfg.max_connections - 1 && !atomic_load(&s->stopping)) {
		log_kv(LOG_INFO, "below server.max_connections again; accepting", NULL);
		notify_workers(s);
	}
}

/*
 * The request deadline. evhttp's own timeout (server.request_timeout) only
 * fires after that much silence, so a client that trickles a byte now and
 * then could hold a connection (and a max_connections slot) for ever. Each
 * connection therefore gets a deadline: a whole request must arrive within
 * request_timeout of the connection's accept or of its previous answer,
 * unless one of its requests is being handled. Past it, the connection is
 * closed.
 */
/* What the connection's input said of the request head that arrived last
 * (on_input): only as much as answering Expect: 100-continue needs. */
struct head_scan {
	char line[64];    /* the start of the line being read */
	size_t len;       /* its bytes so far, stored or not */
	bool expect;      /* this head: Expect: 100-continue */
	int64_t length;   /* this head: Content-Length, -1 when none */
	bool head_expect; /* the same of the last complete head */
	int64_t head_length;
};

struct http_conn {
	struct worker *w;
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	struct evbuffer_cb_entry *in_cb, *out_cb;
	int fd; /* its slot in w->conn_slots */
	struct event *deadline;
	int busy;                  /* its requests in our hands */
	bool closed;               /* evhttp has freed it; we free this when not busy */
	bool close_when_sent;      /* an answer of ours ends it (on_output) */
	int out_status, out_minor; /* of the answer in the output buffer */
	struct head_scan scan;
};

/* The worker's connections, by socket: a connection's fd is its slot. */
static int conn_fd(const struct evhttp_connection *evcon)
{
	return evcon ? (int)bufferevent_getfd(
	                   evhttp_connection_get_bufferevent((struct evhttp_connection *)evcon))
	             : -1;
}

static struct http_conn *conn_find(struct worker *w, const struct evhttp_connection *evcon)
{
	int fd = conn_fd(evcon);
	if (fd < 0 || fd >= w->conn_slots_cap)
		return NULL;
	struct http_conn *c = w->conn_slots[fd];
	return c != NULL && c->evcon == evcon ? c : NULL;
}

static bool conn_insert(struct worker *w, struct http_conn *c)
{
	if (c->fd < 0)
		return false;
	if (c->fd >= w->conn_slots_cap) {
		int cap = w->conn_slots_cap ? w->conn_slots_cap : 256;
		while (cap <= c->fd)
			cap *= 2;
		struct http_conn **slots = realloc(w->conn_slots, (size_t)cap * sizeof(*slots));
		if (slots == NULL)
			return false;
		memset(slots + w->conn_slots_cap, 0,
		       (size_t)(cap - w->conn_slots_cap) * sizeof(*slots));
		w->conn_slots = slots;
		w->conn_slots_cap = cap;
	}
	w->conn_slots[c->fd] = c;
	return true;
}

static void conn_remove(struct worker *w, struct http_conn *c)
{
	if (c->fd >= 0 && c->fd < w->conn_slots_cap && w->conn_slots[c->fd] == c)
		w->conn_slots[c->fd] = NULL;
}

static void conn_free(struct http_conn *c)
{
	if (c->deadline)
		event_free(c->deadline);
	free(c);
}

static void conn_arm(struct http_conn *c)
{
	struct timeval tv = {c->w->srv->cfg.request_timeout_s, 0};
	evtimer_add(c->deadline, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_conn *c = arg;
	if (c->busy > 0 || c->closed)
		return;
	if (!c->close_when_sent)
		log_kv(LOG_DEBUG, "no whole request within request_timeout; closing the connection",
		       NULL);
	/* calls on_conn_close, which frees c */
	evhttp_connection_free(c->evcon);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	struct http_conn *c = arg;
	struct worker *w = c->w;
	/* the bufferevent goes with the connection; c may stay a little */
	if (c->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	c->in_cb = c->out_cb = NULL;
	conn_remove(w, c);
	evtimer_del(c->deadline);
	c->closed = true;
	if (c->busy == 0)
		conn_free(c);
	conn_closed(w);
}

static void on_conn_close_untracked(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_closed(arg);
}

struct http_conn *conn_request_begins(struct worker *w, struct evhttp_request *req)
{
	struct http_conn *c = conn_find(w, evhttp_request_get_connection(req));
	if (c != NULL) {
		c->busy++;
		evtimer_del(c->deadline);
	}
	return c;
}

void conn_request_ends(struct http_conn *c)
{
	if (c == NULL || --c->busy > 0)
		return;
	if (c->closed)
		conn_free(c);
	else
		conn_arm(c);
}

static void conn_opened(struct worker *w)
{
	struct server *s = w->srv;
	long n = atomic_fetch_add(&s->connections, 1) + 1;
	if (n < s->cfg.max_connections)
		return;
	/* this worker at once: its listener's accept loop stops right here */
	listeners_apply(w);
	if (n == s->cfg.max_connections && !atomic_load(&s->stopping)) {
		char max[32];
		snprintf(max, sizeof(max), "%lld", (long long)s->cfg.max_connections);
		log_kv(LOG_WARN,
		       "server.max_connections reached; new connections wait in the listen backlog",
		       "max_connections", max, NULL);
		notify_workers(s);
	}
}

/* Counts a new connection's bufferevent and queues it for conns_ev. Not
 * counted when out of memory. */
static void conn_track(struct worker *w, struct bufferevent *bev)
{
	if (w->new_conns_len == w->new_conns_cap) {
		int cap = w->new_conns_cap ? w->new_conns_cap * 2 : 64;
		struct bufferevent **p = realloc(w->new_conns, (size_t)cap * sizeof(*p));
		if (p == NULL)
			return;
		w->new_conns = p;
		w->new_conns_cap = cap;
	}
	bufferevent_incref(bev);
	w->new_conns[w->new_conns_len++] = bev;
	conn_opened(w);
	event_active(w->conns_ev, 0, 0);
}

/*
 * Two answers that libevent 2.1 would otherwise give itself, without a hook
 * for us: "100 Continue" to a request whose Content-Length is already too
 * large, and its own HTML error pages (a body above the hard cap, a request
 * it cannot parse). Both pass through the connection's output buffer, where
 * on_output() replaces them with the contract's JSON errors before they are
 * sent. on_input() notes of each request head, as it arrives, the little
 * that the first needs; evhttp has consumed the head by the time it answers.
 */

static void scan_line(struct head_scan *h)
{
	size_t n = h->len < sizeof(h->line) ? h->len : sizeof(h->line);
	if (n > 0 && h->line[n - 1] == '\r')
		n--;
	if (h->len == 0 || (h->len == 1 && n == 0)) {
		/* the blank line: the head is complete */
		h->head_expect = h->expect;
		h->head_length = h->length;
		h->expect = false;
		h->length = -1;
		return;
	}
	size_t name = strlen("Content-Length:");
	if (n > name && strncasecmp(h->line, "Content-Length:", name) == 0) {
		const char *v = h->line + name;
		size_t vn = n - name;
		while (vn > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vn--;
		}
		int64_t len = 0;
		size_t k = 0;
		for (; k < vn && v[k] >= '0' && v[k] <= '9' && len < INT64_MAX / 10; k++)
			len = len * 10 + (v[k] - '0');
		/* a length too long for the line kept is far above any limit */
		h->length = h->len > sizeof(h->line) ? INT64_MAX : len;
	} else if (n >= strlen("Expect:") && strncasecmp(h->line, "Expect:", 7) == 0) {
		h->expect = strcasestr(h->line + 7, "100-continue") != NULL;
	}
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	if (info->n_added == 0)
		return;
	size_t total = evbuffer_get_length(buf);
	struct evbuffer_ptr from;
	if (info->n_added > total ||
	    evbuffer_ptr_set(buf, &from, total - info->n_added, EVBUFFER_PTR_SET) != 0)
		return;
	struct evbuffer_iovec v[8];
	int nv = evbuffer_peek(buf, (ev_ssize_t)info->n_added, &from, v, 8);
	for (int i = 0; i < nv && i < 8; i++) {
		const char *p = v[i].iov_base;
		for (size_t k = 0; k < v[i].iov_len; k++) {
			if (p[k] == '\n') {
				scan_line(&c->scan);
				c->scan.len = 0;
			} else {
				if (c->scan.len < sizeof(c->scan.line))
					c->scan.line[c->scan.len] = p[k];
				c->scan.len++;
			}
		}
	}
}

struct http_layer_error {
	int status;
	const char *phrase, *code, *message;
};

static const struct http_layer_error http_layer_errors[] = {
    {413, "Payload Too Large", "payload_too_large", "request body is larger than max_body_bytes"},
    {400, "Bad Request", "bad_request", "malformed HTTP request"},
    {417, "Expectation Failed", "expectation_failed", "only Expect: 100-continue is known"},
    {501, "Not Implemented", "not_implemented", "method not implemented"},
    {505, "HTTP Version Not Supported", "http_version_not_supported",
     "only HTTP/1.0 and HTTP/1.1 are served"},
};

/* Replaces the whole buffer with a JSON error answer that closes the
 * connection. */
static void replace_with_json_error(struct evbuffer *buf, int minor, int status)
{
	const struct http_layer_error *e = &http_layer_errors[1];
	for (size_t i = 0; i < sizeof(http_layer_errors) / sizeof(http_layer_errors[0]); i++)
		if (http_layer_errors[i].status == status)
			e = &http_layer_errors[i];
	/* no request was made of these bytes: a fresh id for the answer */
	char id[REQUEST_ID_BUF];
	if (!request_id_generate(id))
		snprintf(id, sizeof(id), "http-layer-error");
	char body[320];
	int n = snprintf(body, sizeof(body),
	                 "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"request_id\":\"%s\"}}\n",
	                 e->code, e->message, id);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	evbuffer_add_printf(buf,
	                    "HTTP/1.%d %d %s\r\nContent-Type: application/json\r\n"
	                    "Cache-Control: no-store\r\nRequest-Id: %s\r\nConnection: close\r\n"
	                    "Content-Length: %d\r\n\r\n%s",
	                    minor, e->status, e->phrase, id, n, body);
}

static bool buffer_has_at(struct evbuffer *buf, size_t at, const char *s)
{
	size_t n = strlen(s);
	char tmp[64];
	struct evbuffer_ptr p;
	if (n > sizeof(tmp) || evbuffer_get_length(buf) < at + n ||
	    evbuffer_ptr_set(buf, &p, at, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(buf, &p, tmp, n) != (ev_ssize_t)n)
		return false;
	return memcmp(tmp, s, n) == 0;
}

static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	size_t len = evbuffer_get_length(buf);
	if (info->n_added == 0) {
		/* our answer is on its way: end the connection, from the loop */
		if (c->close_when_sent && len == 0) {
			struct timeval now = {0, 0};
			evtimer_add(c->deadline, &now);
		}
		return;
	}
	/* evhttp writes one answer at a time, so an answer starts in an empty
	 * buffer: its status line is read once, and later additions only
	 * look at the end of a 4xx or 5xx */
	if (info->orig_size == 0) {
		char head[16] = "";
		c->out_status =
		    buffer_has_at(buf, 0, "HTTP/1.") && evbuffer_copyout(buf, head, 12) == 12
		        ? atoi(head + 9)
		        : 0;
		c->out_minor = head[7] == '0' ? 0 : 1;
	}
	static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";
	if (c->out_status == 100 && info->orig_size == 0 && len == strlen(continue_line)) {
		if (c->scan.head_expect && c->scan.head_length > c->w->srv->cfg.max_body_bytes) {
			/* the client waits for this before it sends the body: an
			 * immediate 413, and nothing more on this connection */
			replace_with_json_error(buf, c->out_minor, 413);
			c->out_status = 413;
			c->close_when_sent = true;
		}
		return;
	}
	static const char html_end[] = "</BODY></HTML>\n";
	size_t end = strlen(html_end);
	if (c->out_status >= 400 && len > end && buffer_has_at(buf, len - end, html_end))
		replace_with_json_error(buf, c->out_minor, c->out_status);
}

/* conns_ev: hooks the close of the connections accepted since last time. */
static void conns_fixup(struct worker *w)
{
	for (int i = 0; i < w->new_conns_len; i++) {
		struct bufferevent *bev = w->new_conns[i];
		bufferevent_data_cb rcb, wcb;
		bufferevent_event_cb ecb;
		void *evcon = NULL;
		bufferevent_getcb(bev, &rcb, &wcb, &ecb, &evcon);
		struct http_conn *c = NULL;
		if (ecb != NULL && evcon != NULL) {
			c = calloc(1, sizeof(*c));
			if (c != NULL) {
				c->w = w;
				c->evcon = evcon;
				c->fd = conn_fd(evcon);
				c->deadline = evtimer_new(w->base, on_deadline, c);
				if (c->deadline == NULL || !conn_insert(w, c)) {
					conn_free(c);
					c = NULL;
				}
			}
		}
		if (ecb == NULL || evcon == NULL) {
			conn_closed(w); /* evhttp has already let it go */
		} else if (c == NULL) {
			/* out of memory: counted, without a deadline */
			evhttp_connection_set_closecb(evcon, on_conn_close_untracked, w);
		} else {
			evhttp_connection_set_closecb(evcon, on_conn_close, c);
			c->bev = bev;
			c->scan.length = c->scan.head_length = -1;
			c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
			c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
			conn_arm(c);
		}
		bufferevent_decref(bev);
	}
	w->new_conns_len = 0;
}

static void on_new_conns(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conns_fixup(arg);
}

/* A filter that lets nothing through: for a TLS connection whose OpenSSL
 * state could not be made, which must not fall back to plain HTTP. The
 * request timeout closes it. */
static enum bufferevent_filter_result blackhole(struct evbuffer *src, struct evbuffer *dst,
                                                ev_ssize_t limit, enum bufferevent_flush_mode mode,
                                                void *ctx)
{
	(void)dst;
	(void)limit;
	(void)mode;
	(void)ctx;
	evbuffer_drain(src, evbuffer_get_length(src));
	return BEV_NEED_MORE;
}

/* evhttp's bevcb of the plain listener: what evhttp would make itself, but
 * counted. (NULL makes evhttp try on its own.) */
struct bufferevent *conn_plain_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_track(arg, bev);
	return bev;
}

/* evhttp's bevcb of the HTTPS listener (libevent's sample/https-server.c),
 * counted like the plain one. It must not return NULL, or evhttp would
 * speak plain HTTP on the HTTPS port. */
struct bufferevent *conn_tls_bevcb(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev = tls_bufferevent_new(base, &w->srv->tls_ctx);
	if (bev == NULL) {
		log_kv(LOG_ERROR, "cannot set up TLS for a connection; dropping it", NULL);
		struct bufferevent *under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
		if (under != NULL) {
			bev = bufferevent_filter_new(under, blackhole, blackhole,
			                             BEV_OPT_CLOSE_ON_FREE, NULL, NULL);
			if (bev == NULL)
				bufferevent_free(under);
		}
	}
	/* NULL here only when nothing at all can be allocated */
	if (bev != NULL)
		conn_track(w, bev);
	return bev;
}

bool conns_setup(struct worker *w)
{
	w->limits_ev = event_new(w->base, -1, 0, on_limits, w);
	w->conns_ev = event_new(w->base, -1, 0, on_new_conns, w);
	return w->limits_ev != NULL && w->conns_ev != NULL;
}

void conns_hook_pending(struct worker *w)
{
	conns_fixup(w);
}

void conns_free(struct worker *w)
{
	if (w->limits_ev != NULL)
		event_free(w->limits_ev);
	if (w->conns_ev != NULL)
		event_free(w->conns_ev);
	free(w->new_conns);
	free(w->conn_slots); /* every connection is closed by now */
	w->conn_slots = NULL;
	w->conn_slots_cap = 0;
	w->limits_ev = w->conns_ev = NULL;
	w->new_conns = NULL;
	w->new_conns_len = w->new_conns_cap = 0;
}
