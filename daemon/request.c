/*
 * A request's life, in one place: request_drive() is its one driver, the
 * only function that advances r->state, as a switch on it. Each step
 * returns its verdict to the driver and calls no other step: the router
 * (daemon/route.c), the token's checks (daemon/auth.c), the call itself
 * (the route's handler, or its parse and start). The driver runs until the
 * request waits for a statement, is handed to its call, or is answered;
 * the statement's callback, or the call's one answer (reply.c ->
 * request_answer), drives it on.
 *
 *   HEAD            draining: 503; the head's checks and the router: 4xx
 *     |  a route matched
 *   ROUTED          a public route goes on to HANDLING; else the token
 *     |             (401, 429), the body's checks and the call's parse
 *     |  the token's statement sent, with the call's first read when
 *     |  the parse passed and the call has a start
 *   AUTHENTICATING  the statement's result: 503/500, 401, 429, 403
 *     |  authorized
 *   HANDLING        the first read's callback, the parse's error, or the
 *     |             call; it answers through reply.c, once
 *   ANSWERED        sent, counted, logged, freed (from any state above)
 */
#include <assert.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "http.h"
#include "iin.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"

static void request_drive(struct request *r, PGresult *res);

/* The only place r->state changes, called by request_drive() alone. An
 * illegal change is a bug of the driver: it aborts a debug build, and is
 * logged as an error by a release one. */
static void request_change_state(struct request *r, enum request_state to)
{
	enum request_state from = r->state;
	bool legal = request_state_legal(from, to);
	if (!legal)
		log_kv(LOG_ERROR, "illegal request state change", "route",
		       r->route ? r->route->name : "", "from", request_state_name(from), "to",
		       request_state_name(to), NULL);
	else if (log_enabled(LOG_DEBUG))
		log_kv(LOG_DEBUG, "request state", "route", r->route ? r->route->name : "", "from",
		       request_state_name(from), "to", request_state_name(to), NULL);
	assert(legal);
	r->state = to;
}

/* A new request is zero up to its loan: the rest (17 of its 18 KiB) only a
 * call with a token uses, and clearing it cost a public answer such as
 * /healthz a quarter of its instructions. Such a call clears it up to the
 * claim, which the claims' calls clear themselves (handlers.c). */
#define REQUEST_HEAD_BYTES offsetof(struct request, loan)
#define REQUEST_TAIL_BYTES (offsetof(struct request, claim) - REQUEST_HEAD_BYTES)

static void request_tail_clear(struct request *r)
{
	memset((char *)r + REQUEST_HEAD_BYTES, 0, REQUEST_TAIL_BYTES);
}

/* ---- the answer ---- */

/* The digit at p, written plain or percent-encoded (%30-%39): its value,
 * and in *len the bytes it takes; -1 when p holds no digit. */
static int digit_at(const char *p, size_t *len)
{
	if (*p >= '0' && *p <= '9') {
		*len = 1;
		return *p - '0';
	}
	if (p[0] == '%' && p[1] == '3' && p[2] >= '0' && p[2] <= '9') {
		*len = 3;
		return p[2] - '0';
	}
	return -1;
}

/* The path for the access log, without the query string. A run of exactly
 * 12 digits (an IIN) is masked as iin_mask() does; a longer run may hold an
 * IIN anywhere inside, so each of its digits becomes '*'. Digits count
 * whether written plain or percent-encoded, since the router decodes them. */
static void loggable_path(const char *uri, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; uri[i] != '\0' && uri[i] != '?' && o + 1 < size;) {
		char digits[IIN_LEN + 1];
		size_t run = 0, bytes = 0, len;
		int d;
		while ((d = digit_at(uri + i + bytes, &len)) >= 0) {
			if (run < IIN_LEN)
				digits[run] = (char)('0' + d);
			run++;
			bytes += len;
		}
		if (run == 0) {
			out[o++] = uri[i++];
		} else if (run < IIN_LEN) {
			for (size_t k = 0; k < bytes && o + 1 < size; k++)
				out[o++] = uri[i + k];
			i += bytes;
		} else if (run == IIN_LEN) {
			char masked[IIN_MASKED_BUF];
			digits[IIN_LEN] = '\0';
			iin_mask(digits, masked);
			for (size_t k = 0; k < IIN_LEN && o + 1 < size; k++)
				out[o++] = masked[k];
			i += bytes;
		} else {
			for (size_t k = 0; k < run && o + 1 < size; k++)
				out[o++] = '*';
			i += bytes;
		}
	}
	out[o] = '\0';
}

/* The access-log line of a request, from what was saved before its reply
 * was handed to evhttp (which may free r->req at once: a client gone). */
struct access_entry {
	const char *method;
	char path[512];
	char tls_client[128];
};

static void access_entry_take(struct request *r, struct access_entry *a)
{
	a->method = http_method_name(evhttp_request_get_command(r->req));
	const char *uri = evhttp_request_get_uri(r->req);
	loggable_path(uri ? uri : "", a->path, sizeof(a->path));
	a->tls_client[0] = '\0';
	/* only mutual TLS has a client certificate to name */
	if (r->w->tls_http != NULL && r->rt->cfg.tls_client_ca_file[0] != '\0') {
		struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
		if (evcon != NULL)
			tls_peer_cn(evhttp_connection_get_bufferevent(evcon), a->tls_client,
			            sizeof(a->tls_client));
	}
}

static void access_entry_log(const struct request *r, const struct access_entry *a, int status)
{
	char st[8], dur[32];
	snprintf(st, sizeof(st), "%d", status);
	snprintf(dur, sizeof(dur), "%.3f", (double)(mono_ns() - r->started_ns) / 1e6);
	log_kv(LOG_INFO, "request", "method", a->method, "path", a->path, "status", st,
	       "duration_ms", dur, "request_id", r->request_id, "client", r->client,
	       a->tls_client[0] ? "tls_client" : NULL, a->tls_client, NULL);
}

void request_answer(struct request *r, int status, const char *content_type,
                    const char *cache_control, const char *body, size_t len, bool newline)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", cache_control);
	evhttp_add_header(h, "Request-Id", r->request_id);
	if (r->w->draining)
		evhttp_add_header(h, "Connection", "close");
	/* the request's own output buffer: no extra buffer, no extra copy */
	struct evbuffer *buf = evhttp_request_get_output_buffer(r->req);
	size_t total = body != NULL ? len + (newline ? 1 : 0) : 0;
	if (evhttp_request_get_command(r->req) == EVHTTP_REQ_HEAD) {
		/* the headers GET would send, Content-Length included; libevent
		 * sends no body for HEAD, nor a length of its own */
		char cl[24];
		snprintf(cl, sizeof(cl), "%zu", total);
		evhttp_add_header(h, "Content-Length", cl);
	} else if (body != NULL) {
		evbuffer_add(buf, body, len);
		if (newline)
			evbuffer_add(buf, "\n", 1);
	}
	/* evhttp adds the same Date to an HTTP/1.1 answer, where it is the
	 * next header, but formats it anew for each answer */
	if (r->req->major == 1 && r->req->minor >= 1)
		evhttp_add_header(h, "Date", http_date(r->w));
	r->status = status;
	request_drive(r, NULL);
}

void request_answer_error(struct request *r, const struct cd_error *err)
{
	json_t *body = codec_error_json(err, r->request_id);
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	request_answer(r, err->status ? err->status : 500, "application/json", "no-store", s,
	               s ? strlen(s) : 0, true);
	free(s);
}

/* Sends the answer request_answer() wrote, counts it, writes the
 * access-log line and frees the request. */
static void request_end(struct request *r)
{
	struct worker *w = r->w;
	struct access_entry a;
	bool logged = log_enabled(LOG_INFO);
	if (logged)
		access_entry_take(r, &a);
	metrics_request(w, r->route, evhttp_request_get_command(r->req), r->status,
	                mono_ns() - r->started_ns);
	evhttp_send_reply(r->req, r->status, http_reason_phrase(r->status), NULL);
	r->req = NULL;

	if (logged)
		access_entry_log(r, &a, r->status);
	json_decref(r->body);
	free(r->refusal_body);
	conn_request_ends(r->conn);
	free(r);
	w->in_flight--;
	worker_drain_check(w);
}

/* ---- the driver ---- */

/* The token's statement alone: the call's first read goes after it. */
static void on_auth(PGresult *res, void *arg)
{
	request_drive(arg, res);
}

void request_auth_result(struct request *r, PGresult *res)
{
	request_drive(r, res);
}

/* res: when the token's statement woke the request (AUTHENTICATING), its
 * result (NULL when the database was out of reach); NULL otherwise. Every
 * step that may answer is the last thing its case does: the request may
 * be freed when it returns. */
static void request_drive(struct request *r, PGresult *res)
{
	struct cd_error err;
	for (;;) {
		/* the one answer is given, in whatever state */
		if (r->status != 0 && r->state != REQ_ANSWERED)
			request_change_state(r, REQ_ANSWERED);
		const struct route *route = r->route;
		switch (r->state) {
		case REQ_HEAD:
			if (r->w->draining) {
				unavailable_error(r, "shutting down; nothing was decided", &err);
				request_answer_error(r, &err);
				return;
			}
			if (!route_request(r, &err)) {
				request_answer_error(r, &err);
				return;
			}
			request_change_state(r, REQ_ROUTED);
			continue;

		case REQ_ROUTED: {
			assert((route->flags & RF_PUBLIC) ? route->roles == 0 : route->roles != 0);
			if (route->flags & RF_PUBLIC) {
				request_change_state(r, REQ_HANDLING);
				continue;
			}
			request_tail_clear(r);
			if (!auth_token_take(r, &err)) {
				request_answer_error(r, &err);
				return;
			}
			/* One round trip where the call allows it; else
			 * authenticate first and then answer the parse's error,
			 * or make the call. */
			bool parsed = route_parse(r);
			request_change_state(r, REQ_AUTHENTICATING);
			if (parsed && route->start != NULL) {
				route->start(r, true);
				return;
			}
			const char *params[] = {r->token_id};
			if (!pgpool_exec(r->w->pool, STMT_AUTH, params, on_auth, r)) {
				unavailable_error(r, HTTP_DB_UNAVAILABLE, &err);
				request_answer_error(r, &err);
			}
			return;
		}

		case REQ_AUTHENTICATING:
			if (!auth_check(r, res, &err)) {
				request_answer_error(r, &err);
				return;
			}
			request_change_state(r, REQ_HANDLING);
			continue;

		case REQ_HANDLING:
			if (r->after_auth != NULL) /* the first read came with the token */
				r->after_auth(res, r);
			else if (r->parse_failed)
				request_answer_error(r, &r->parse_err);
			else if (route->start != NULL)
				route->start(r, false);
			else
				route->handler(r);
			return;

		case REQ_ANSWERED:
			request_end(r);
			return;

		case REQ_NSTATES:
			break;
		}
		assert(!"a request state out of range");
		return;
	}
}

/* zeroing makes a request HEAD: the driver alone changes r->state */
_Static_assert(REQ_HEAD == 0, "a new request is HEAD");

void http_on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct request *r = malloc(sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	memset(r, 0, REQUEST_HEAD_BYTES);
	r->w = w;
	r->req = req;
	r->rt = server_runtime(w->srv);
	r->started_ns = mono_ns();
	http_request_id(req, r->request_id);
	r->conn = conn_request_begins(w, req);
	w->in_flight++;
	request_drive(r, NULL);
}
