/*
 * What the HTTP files of the daemon share among themselves; the handlers
 * see only request.h. The request's way through them:
 *
 *   conn.c    a connection accepted, counted, given a deadline; its input
 *             and output watched (Expect: 100-continue, libevent's own
 *             error pages made JSON)
 *   route.c   the request head checked, the route found, the body parsed
 *   auth.c    the bearer token checked (alone, or with the call's first read)
 *   reply.c   the one answer, its access-log line, the request freed
 *   listen.c  the listening sockets and each worker's evhttps
 */
#ifndef CD_HTTP_H
#define CD_HTTP_H

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "request.h"

/* route.c */
const char *http_method_name(enum evhttp_cmd_type m);
/* evhttp's request callback of every listener (arg: the worker). */
void http_on_request(struct evhttp_request *req, void *arg);
/* The checks of the body and the call's parse, run once per request:
 * false, with the error kept in r->parse_err, when they fail. */
bool request_parse(struct request *r);
/* Once authorized: the kept parse error, or the call itself. */
void request_dispatch_or_reply(struct request *r);

/* auth.c: checks the bearer token and then dispatches; every failure is
 * answered. */
void request_authenticate_or_reply(struct request *r);

/* conn.c */
bool conns_setup(struct worker *w);
/* At exit, before evhttp_free(): hooks the close of the connections
 * accepted last, so that freeing them counts them. */
void conns_hook_pending(struct worker *w);
/* After evhttp_free(), which has closed every connection. */
void conns_free(struct worker *w);
/* evhttp's bevcbs of the plain and the HTTPS listener (arg: the worker). */
struct bufferevent *conn_plain_bevcb(struct event_base *base, void *arg);
struct bufferevent *conn_tls_bevcb(struct event_base *base, void *arg);
/* A request of the connection is in our hands (its deadline paused) ... */
struct http_conn *conn_request_begins(struct worker *w, struct evhttp_request *req);
/* ... and answered: the next one has request_timeout to arrive. */
void conn_request_ends(struct http_conn *c);

/* listen.c: a draining worker ends its loop once nothing is in flight. */
void worker_drain_check(struct worker *w);

#endif
