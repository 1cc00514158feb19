/*
 * What the HTTP files of the daemon share among themselves; the handlers
 * see only request.h. The request's way through them:
 *
 *   conn.c     a connection accepted, counted, given a deadline; its input
 *              and output watched (Expect: 100-continue, libevent's own
 *              error pages made JSON)
 *   request.c  the request's one driver: it takes the request from arrival
 *              to its one answer, asking each step for its verdict
 *   route.c    step: the request head checked, the route found, the body
 *              parsed (and the route table)
 *   auth.c     step: the bearer token checked (alone, or with the call's
 *              first read)
 *   reply.c    the answers a call gives, each handed to the driver
 *   http.c     names and pieces every file here may take
 *   listen.c   the listening sockets and each worker's evhttps
 *
 * The steps call neither the driver nor one another; the driver calls them
 * and the calls (through the route table), and reply.c calls the driver.
 */
#ifndef CD_HTTP_H
#define CD_HTTP_H

#include <event2/bufferevent.h>
#include <event2/http.h>

#include "request.h"

/* http.c */
const char *http_method_name(enum evhttp_cmd_type m);
/* "OK", "Not Found", ...; "Error" or "Internal Server Error" for others. */
const char *http_reason_phrase(int status);
/* A request's id (CONTRACT.md v1.2), taken once at arrival: the client's
 * X-Request-Id when it is 1-64 identifier characters, else a fresh one. */
void http_request_id(struct evhttp_request *req, char out[REQUEST_ID_BUF]);
#define HTTP_DB_UNAVAILABLE "the database is out of reach; nothing was decided, try again"
/* 503 unavailable with this message, and Retry-After: 1 on the answer.
 * Returns false. */
bool unavailable_error(struct request *r, const char *message, struct cd_error *err);
/* A failed statement's error: 503 (as unavailable_error) when the database
 * is out of reach, else 500, logged with what. Returns false. */
bool db_failure_error(struct request *r, const PGresult *res, const char *what,
                      struct cd_error *err);
/* A draining worker ends its loop once nothing is in flight. */
void worker_drain_check(struct worker *w);
/* The Date header of an answer now, as evhttp writes it (RFC 1123, GMT),
 * formatted once a second per worker. */
const char *http_date(struct worker *w);

/* request.c: evhttp's request callback of every listener (arg: the
 * worker). */
void http_on_request(struct evhttp_request *req, void *arg);
/* The one answer of a request (reply.c gives it): writes the body (or
 * none) of that type, a JSON body with a final newline; the driver then
 * sends it, counts it, writes the access-log line and frees the request. */
void request_answer(struct request *r, int status, const char *content_type,
                    const char *cache_control, const char *body, size_t len, bool newline);
/* The same, for an error: its JSON body, with err->status (500 when 0). */
void request_answer_error(struct request *r, const struct cd_error *err);

/* route.c: the request head's checks and the route's match. True with
 * r->route set; false with err (and any header its answer needs). */
bool route_request(struct request *r, struct cd_error *err);
/* The checks of the body that need no database and the call's parse, run
 * once per request: false, with the error kept in r->parse_err, when they
 * fail. */
bool route_parse(struct request *r);

/* auth.c: the bearer token of the Authorization header, and the
 * failed-authentication limit of its source address. True with
 * r->token_id and r->token_hash set; false with err (401, 429). */
bool auth_token_take(struct request *r, struct cd_error *err);
/* A result that begins with the authentication columns (AUTH_NCOLS, row 0)
 * against the request's token, role and lender. False with err: 503/500
 * for a failed statement, 401/429 for a token that does not verify, 403
 * for one that may not make this call. */
bool auth_check(struct request *r, const PGresult *res, struct cd_error *err);

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

#endif
