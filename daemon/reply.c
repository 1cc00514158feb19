/*
 * Replies: every request ends in exactly one reply_*() here, which sends
 * the answer, counts it (daemon/metrics.c), writes the access-log line and
 * frees the request. Also the
 * request's state changes (request_set_state) and request_exec_or_reply,
 * which may answer 503 and free the request in its stead.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
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

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 304:
		return "Not Modified";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

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

void request_set_state(struct request *r, enum request_state to)
{
	enum request_state from = r->state;
	if (!request_state_legal(from, to))
		log_kv(LOG_ERROR, "illegal request state change", "route",
		       r->route ? r->route->name : "", "from", request_state_name(from), "to",
		       request_state_name(to), NULL);
	else if (log_enabled(LOG_DEBUG))
		log_kv(LOG_DEBUG, "request state", "route", r->route ? r->route->name : "", "from",
		       request_state_name(from), "to", request_state_name(to), NULL);
	r->state = to;
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
	       "duration_ms", dur, "client", r->client, a->tls_client[0] ? "tls_client" : NULL,
	       a->tls_client, NULL);
}

/* Sends a body (or none) of that type, a JSON body with a final newline,
 * writes the access-log line and frees the request. */
static void reply_send(struct request *r, int status, const char *content_type,
                       const char *cache_control, const char *body, size_t len, bool newline)
{
	struct worker *w = r->w;
	struct access_entry a;
	bool logged = log_enabled(LOG_INFO);
	if (logged)
		access_entry_take(r, &a);

	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", cache_control);
	if (w->draining)
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
	request_set_state(r, REQ_ANSWERED);
	metrics_request(w, r->route, evhttp_request_get_command(r->req), status,
	                mono_ns() - r->started_ns);
	evhttp_send_reply(r->req, status, reason_phrase(status), NULL);
	r->req = NULL;

	if (logged)
		access_entry_log(r, &a, status);
	json_decref(r->body);
	free(r->refusal_body);
	conn_request_ends(r->conn);
	free(r);
	w->in_flight--;
	worker_drain_check(w);
}

void reply_raw(struct request *r, int status, const char *body, size_t len)
{
	reply_send(r, status, "application/json", "no-store", body, len, true);
}

void reply_static(struct request *r, int status, const char *content_type,
                  const char *cache_control, const void *body, size_t len)
{
	reply_send(r, status, content_type, cache_control, body, len, false);
}

void reply_json(struct request *r, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	reply_raw(r, status, s, s ? strlen(s) : 0);
	free(s);
}

void reply_error(struct request *r, const struct cd_error *err)
{
	reply_json(r, err->status ? err->status : 500, codec_error_json(err));
}

void reply_simple_error(struct request *r, int status, const char *code, const char *field,
                        const char *message)
{
	struct cd_error err;
	cd_error_set(&err, status, code, field ? field : "", "%s", message);
	reply_error(r, &err);
}

void set_retry_after(struct request *r, int64_t seconds)
{
	if (seconds <= 0)
		return;
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)seconds);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", s);
}

void reply_unavailable_because(struct request *r, const char *message)
{
	set_retry_after(r, 1);
	reply_simple_error(r, 503, "unavailable", NULL, message);
}

void reply_unavailable(struct request *r)
{
	reply_unavailable_because(r,
	                          "the database is out of reach; nothing was decided, try again");
}

void reply_db_failure(struct request *r, const PGresult *res, const char *what)
{
	if (res == NULL || db_error_is_unavailable(res)) {
		reply_unavailable(r);
		return;
	}
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	log_kv(LOG_ERROR, "database error", "statement", what, "sqlstate", db_sqlstate(res),
	       "error", msg ? msg : "", NULL);
	reply_simple_error(r, 500, "internal_error", NULL, "internal error; nothing was decided");
}

bool request_exec_or_reply(struct request *r, enum stmt st, const char *const *params, pgpool_cb cb)
{
	if (!pgpool_exec(r->w->pool, st, params, cb, r)) {
		reply_unavailable(r);
		return false;
	}
	return true;
}
