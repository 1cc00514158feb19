/*
 * HTTP: the listeners of one worker (plain, and HTTPS with [tls]), the
 * connection limit, routing, authentication and its rate limit, header and
 * body limits, replies and the access log. Holds no business rule: the
 * handlers in handlers.c call lib/ for every decision.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "iin.h"
#include "log.h"
#include "ratelimit.h"
#include "request.h"
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

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "OTHER";
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

static void drain_check(struct worker *w)
{
	if (w->draining && w->in_flight == 0) {
		/* a moment for the last replies to leave the socket buffers */
		struct timeval tv = {0, 200 * 1000};
		event_base_loopexit(w->base, &tv);
	}
}

/* Writes the access-log line and frees the request. Called after the reply
 * was handed to evhttp, which may already have freed r->req (a client that
 * went away), so it reads only what was saved before. tls_client is the
 * subject CN of a verified client certificate (mutual TLS), else "". */
static void conn_request_ends(struct conn *c);
static struct conn *conn_request_begins(struct worker *w, struct evhttp_request *req);

/* The access-log line of a request, from what was saved before its reply
 * was handed to evhttp (which may free r->req at once: a client gone). */
struct access_entry {
	const char *method;
	char path[512];
	char tls_client[128];
};

static void access_entry_take(struct request *r, struct access_entry *a)
{
	a->method = method_name(evhttp_request_get_command(r->req));
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
	evhttp_send_reply(r->req, status, reason_phrase(status), NULL);
	r->req = NULL;

	if (logged)
		access_entry_log(r, &a, status);
	json_decref(r->body);
	free(r->refusal_body);
	conn_request_ends(r->conn);
	free(r);
	w->in_flight--;
	drain_check(w);
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

bool request_exec(struct request *r, enum stmt st, const char *const *params, pgpool_cb cb)
{
	r->col0 = db_stmt_loan_col0(st);
	if (!pgpool_exec(r->w->pool, st, params, cb, r)) {
		reply_unavailable(r);
		return false;
	}
	return true;
}

/* ---- routing ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A path segment of len bytes, percent-decoded once into out (ID_BUF). False
 * for an invalid escape, and for "%2F" and "%00", which would make one
 * segment look like two or end an identifier early. A segment that decodes
 * to more than ID_MAX bytes is captured empty, so that it fails
 * validation. */
static bool segment_decode(const char *s, size_t len, char out[ID_BUF])
{
	size_t o = 0;
	bool too_long = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return false;
			int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			if (c == '/' || c == '\0')
				return false;
			i += 2;
		}
		if (o < ID_MAX)
			out[o++] = c;
		else
			too_long = true;
	}
	out[too_long ? 0 : o] = '\0';
	return true;
}

/* Matches a path against a pattern, capturing "{}" segments, each
 * percent-decoded once. */
static bool route_match(const char *pattern, const char *path, char params[][ID_BUF])
{
	int np = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			if (len == 0 || np >= MAX_PATH_PARAMS ||
			    !segment_decode(s, len, params[np]))
				return false;
			np++;
			s += len;
			p += 2;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *p == '\0' && *s == '\0';
}

/* Why a Content-Type is not JSON in UTF-8, or NULL when it is:
 * application/json, with parameters, of which a charset must be UTF-8 (any
 * case, quoted or not). */
static const char *json_content_type_fault(const char *ct)
{
	static const char *const not_json = "Content-Type must be application/json";
	if (ct == NULL)
		return not_json;
	ct += strspn(ct, " \t");
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return not_json;
	const char *p = ct + n;
	p += strspn(p, " \t");
	if (*p == '\0')
		return NULL;
	if (*p != ';')
		return not_json;
	while (*p == ';') {
		p++;
		p += strspn(p, " \t");
		size_t name = strcspn(p, "=; \t");
		bool charset = name == 7 && strncasecmp(p, "charset", 7) == 0;
		p += name;
		p += strspn(p, " \t");
		const char *v = "";
		size_t vlen = 0;
		if (*p == '=') {
			p++;
			p += strspn(p, " \t");
			if (*p == '"') {
				v = ++p;
				vlen = strcspn(p, "\"");
				p += vlen;
				if (*p == '"')
					p++;
			} else {
				v = p;
				vlen = strcspn(p, "; \t");
				p += vlen;
			}
		}
		if (charset && !(vlen == 5 && strncasecmp(v, "utf-8", 5) == 0))
			return "Content-Type charset must be UTF-8";
		p += strspn(p, " \t");
		if (*p != '\0' && *p != ';')
			return not_json;
	}
	return NULL;
}

static void on_auth(PGresult *res, void *arg);

/* The request's source address, as the failed-authentication limit counts
 * it (r->source; family 0 when unknown) and as its log line names it. */
static void take_source(struct request *r)
{
	char *addr = NULL;
	ev_uint16_t port = 0;
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(r->peer, sizeof(r->peer), "%s", addr ? addr : "");
	if (addr == NULL || !ratelimit_key(addr, &r->source))
		memset(&r->source, 0, sizeof(r->source));
}

/* A presented token that did not verify: counts against the source address. */
static void auth_failed(struct request *r)
{
	if (ratelimit_failure(&r->source)) {
		char n[32], win[32];
		snprintf(n, sizeof(n), "%lld", (long long)r->rt->cfg.auth_failures_per_minute);
		snprintf(win, sizeof(win), "%llds", (long long)r->rt->cfg.auth_failure_window_s);
		log_kv(LOG_WARN,
		       "too many failed authentications; refusing this address for a while", "peer",
		       r->peer, "failures", n, "window", win, NULL);
	}
	reply_simple_error(r, 401, "unauthorized", NULL, "unknown or revoked token");
}

/* The checks of a request body that need no database: its size, its media
 * type, and that it is a JSON object (r->body). False with err set. */
static bool body_check(struct request *r, struct cd_error *err)
{
	const struct route *rt = r->route;
	if (rt->body == BODY_NONE || r->body != NULL)
		return true;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	if ((int64_t)len > r->rt->cfg.max_body_bytes)
		return cd_error_set(err, 413, "payload_too_large", "",
		                    "request body is larger than max_body_bytes");
	/* an empty body is judged by the parser below */
	const char *ct_fault = len > 0
	                           ? json_content_type_fault(evhttp_find_header(
	                                 evhttp_request_get_input_headers(r->req), "Content-Type"))
	                           : NULL;
	if (ct_fault != NULL)
		return cd_error_set(err, 415, "unsupported_media_type", "", "%s", ct_fault);
	const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
	r->body = codec_parse_body(data, len, rt->body == BODY_OPTIONAL, err);
	return r->body != NULL;
}

static void dispatch_authorized(struct request *r)
{
	const struct route *rt = r->route;
	struct cd_error err;
	cd_error_clear(&err);
	if (!body_check(r, &err) || (rt->parse != NULL && !rt->parse(r, &err))) {
		reply_error(r, &err);
		return;
	}
	if (rt->start != NULL)
		rt->start(r, false);
	else
		rt->handler(r);
}

bool request_check_auth(struct request *r, const PGresult *res)
{
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "auth");
		return false;
	}
	unsigned char stored[TOKEN_HASH_LEN];
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 3) ||
	    !token_hash_from_bytea_text(PQgetvalue(res, 0, 3), stored) ||
	    !token_hash_equal(stored, r->token_hash)) {
		/* revoked, perhaps: no longer spared by the rate limit */
		if (ratelimit_enabled())
			ratelimit_valid_forget(r->token_hash);
		auth_failed(r);
		return false;
	}
	if (ratelimit_enabled())
		ratelimit_valid_remember(r->token_hash);
	snprintf(r->client, sizeof(r->client), "%s", PQgetvalue(res, 0, 0));
	const char *role = PQgetvalue(res, 0, 1);
	r->role = strcmp(role, "lender") == 0       ? ROLE_LENDER
	          : strcmp(role, "compliance") == 0 ? ROLE_COMPLIANCE
	          : strcmp(role, "auditor") == 0    ? ROLE_AUDITOR
	                                            : ROLE_NONE;
	snprintf(r->client_lender, sizeof(r->client_lender), "%s", PQgetvalue(res, 0, 2));

	if (!(r->route->roles & r->role)) {
		reply_simple_error(r, 403, "forbidden", NULL, "this role may not make this call");
		return false;
	}
	if (r->route->lender_scoped && r->role == ROLE_LENDER &&
	    strcmp(r->params[0], r->client_lender) != 0) {
		reply_simple_error(r, 403, "forbidden", NULL,
		                   "this token belongs to another lender");
		return false;
	}
	return true;
}

static void on_auth(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (request_check_auth(r, res))
		dispatch_authorized(r);
}

static void authenticate(struct request *r)
{
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	const char *token = NULL;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		token = auth + 7;
		while (*token == ' ')
			token++;
	}
	bool well_formed = token != NULL && token_parse_id(token, r->token_id);
	if (well_formed)
		token_hash(token, r->token_hash);
	if (auth != NULL && ratelimit_enabled()) {
		/* An address that failed too often is refused before its token
		 * costs a database round trip, unless the token authenticated
		 * recently: other tokens failing from the same address (a shared
		 * proxy, a NAT) must not lock out a valid one. Such a token is
		 * still checked against the database below. */
		take_source(r);
		int64_t retry = ratelimit_blocked(&r->source);
		if (retry > 0 && !(well_formed && ratelimit_valid_known(r->token_hash))) {
			set_retry_after(r, retry);
			reply_simple_error(r, 429, "too_many_requests", NULL,
			                   "too many failed authentications from this address; "
			                   "try again after Retry-After seconds");
			return;
		}
	}
	if (!well_formed) {
		reply_simple_error(r, 401, "unauthorized", NULL,
		                   "missing or malformed bearer token");
		return;
	}
	/* One round trip where the call allows it; else authenticate first. */
	const struct route *rt = r->route;
	struct cd_error err;
	cd_error_clear(&err);
	if (rt->start != NULL && body_check(r, &err) && rt->parse(r, &err)) {
		rt->start(r, true);
		return;
	}
	const char *params[] = {r->token_id};
	request_exec(r, STMT_AUTH, params, on_auth);
}

/*
 * One pass over the request head: its size (the request line and the header
 * fields as they came, give or take the line ends) for max_header_bytes, and
 * framing that a proxy in front could read differently than libevent does
 * (request smuggling, RFC 9112 6.1-6.3), which is refused and the connection
 * closed. (A request with both Content-Length and a chunked body never gets
 * here: libevent refuses it itself.)
 */
struct head_check {
	int64_t bytes;
	const char *framing; /* NULL when sound */
};

static void head_check(struct evhttp_request *req, struct head_check *hc)
{
	const char *uri = evhttp_request_get_uri(req);
	hc->bytes = (int64_t)strlen(method_name(evhttp_request_get_command(req))) +
	            (int64_t)(uri ? strlen(uri) : 0) + (int64_t)strlen("  HTTP/1.1\r\n");
	hc->framing = NULL;
	const char *length = NULL;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	for (struct evkeyval *h = in->tqh_first; h != NULL; h = h->next.tqe_next) {
		hc->bytes += (int64_t)(strlen(h->key) + strlen(h->value)) + 4;
		if (hc->framing != NULL)
			continue;
		if (strpbrk(h->key, " \t") != NULL) {
			hc->framing = "whitespace in a header name";
		} else if (strcasecmp(h->key, "Content-Length") == 0) {
			if (length != NULL && strcmp(length, h->value) != 0)
				hc->framing = "conflicting Content-Length headers";
			length = h->value;
		} else if (strcasecmp(h->key, "Transfer-Encoding") == 0 &&
		           strcasecmp(h->value, "chunked") != 0) {
			hc->framing = "Transfer-Encoding other than chunked";
		}
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct request *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	r->w = w;
	r->req = req;
	r->rt = server_runtime(w->srv);
	r->started_ns = mono_ns();
	r->conn = conn_request_begins(w, req);
	w->in_flight++;

	if (w->draining) {
		reply_unavailable_because(r, "shutting down; nothing was decided");
		return;
	}

	struct head_check hc;
	head_check(req, &hc);
	if (hc.bytes > r->rt->cfg.max_header_bytes) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_simple_error(r, 431, "request_header_fields_too_large", NULL,
		                   "the request line and headers are larger than max_header_bytes");
		return;
	}

	if (hc.framing != NULL) {
		/* what follows on this connection cannot be trusted: close it */
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply_simple_error(r, 400, "bad_request", NULL, hc.framing);
		return;
	}

	/* A request target is printable ASCII without spaces (RFC 9112 3.2,
	 * RFC 3986); libevent takes the last space of the request line as the
	 * one before the version, so one with spaces inside could also pose
	 * as other fields in a log. */
	const char *target = evhttp_request_get_uri(req);
	for (const char *t = target ? target : ""; *t != '\0'; t++) {
		if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
			                  "close");
			reply_simple_error(r, 400, "bad_request", NULL,
			                   "the request target holds a space or a control byte");
			return;
		}
	}
	/* RFC 9112 3.2: a server answers 400 to an HTTP/1.1 request without
	 * Host. */
	if (req->major == 1 && req->minor >= 1 &&
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host") == NULL) {
		reply_simple_error(r, 400, "bad_request", NULL, "an HTTP/1.1 request needs a Host");
		return;
	}

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL) {
		reply_simple_error(r, 400, "bad_request", NULL, "no request path");
		return;
	}
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	/* HEAD is GET without the body (RFC 9110 9.3.2): it takes the GET
	 * route, and reply_raw() leaves the body out. */
	enum evhttp_cmd_type as = method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : method;

	char allow[64] = "";
	for (int i = 0; i < routes_count; i++) {
		if (!route_match(routes[i].pattern, path, r->params))
			continue;
		if (routes[i].method == as) {
			r->route = &routes[i];
			break;
		}
		size_t used = strlen(allow);
		snprintf(allow + used, sizeof(allow) - used, "%s%s%s", used ? ", " : "",
		         method_name(routes[i].method),
		         routes[i].method == EVHTTP_REQ_GET ? ", HEAD" : "");
	}
	if (r->route == NULL) {
		if (allow[0] != '\0') {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
			reply_simple_error(r, 405, "method_not_allowed", NULL,
			                   "method not allowed on this path");
		} else {
			reply_simple_error(r, 404, "not_found", NULL, "no such resource");
		}
		return;
	}
	if (r->route->roles == 0) {
		r->route->handler(r);
		return;
	}
	authenticate(r);
}

/* ---- connections: the limit, and the listeners ---- */

/*
 * server.max_connections. libevent 2.1's evhttp has no such limit, but every
 * connection it accepts gets its bufferevent from our bevcb, so that is
 * where we count. To count the connection's end, we ask evhttp to call us
 * when it frees the connection (evhttp_connection_set_closecb(), which
 * evhttp_connection_free() calls whatever the reason: a reply with
 * Connection: close, the client gone, a timeout, a failed TLS handshake,
 * evhttp_free() at exit). The bevcb does not see the connection object
 * itself; evhttp makes it right after the bevcb returns and makes itself the
 * bufferevent's callback argument. So the bevcb keeps a reference to the new
 * bufferevent and activates conns_ev, which runs once the accept callback
 * has returned, before any I/O on the new connection: it finds the
 * connection through bufferevent_getcb() and sets the close callback. A
 * bufferevent whose callbacks are gone by then was already freed by evhttp
 * (it could not set up the connection), and counts as closed at once.
 *
 * (A pass-through bufferevent_filter with a free-context callback looks
 * simpler, and libevent 2.1.12 does forward evhttp's bufferevent_setfd()
 * through it, but replies then stall or get lost, as tried: evhttp queues a
 * reply while EV_WRITE is disabled and then enables it, which a filter does
 * not take as a cue to pass the data on (be_filter_enable); and a filter's
 * write callback means "moved to the bufferevent below", not "sent", which
 * is when evhttp frees a Connection: close connection.)
 *
 * At the limit a worker stops accepting (evconnlistener_disable), so that
 * new connections wait in the kernel's listen backlog instead of being
 * accepted and dropped; below it again every worker resumes. The count is
 * shared by the workers; the worker that crosses the limit tells the others
 * through their limits_ev, since a worker touches only its own listeners.
 * Workers that accept at the very same moment may overshoot the limit by a
 * few connections.
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

struct conn {
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

static struct conn *conn_find(struct worker *w, const struct evhttp_connection *evcon)
{
	int fd = conn_fd(evcon);
	if (fd < 0 || fd >= w->conn_slots_cap)
		return NULL;
	struct conn *c = w->conn_slots[fd];
	return c != NULL && c->evcon == evcon ? c : NULL;
}

static bool conn_insert(struct worker *w, struct conn *c)
{
	if (c->fd < 0)
		return false;
	if (c->fd >= w->conn_slots_cap) {
		int cap = w->conn_slots_cap ? w->conn_slots_cap : 256;
		while (cap <= c->fd)
			cap *= 2;
		struct conn **slots = realloc(w->conn_slots, (size_t)cap * sizeof(*slots));
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

static void conn_remove(struct worker *w, struct conn *c)
{
	if (c->fd >= 0 && c->fd < w->conn_slots_cap && w->conn_slots[c->fd] == c)
		w->conn_slots[c->fd] = NULL;
}

static void conn_free(struct conn *c)
{
	if (c->deadline)
		event_free(c->deadline);
	free(c);
}

static void conn_arm(struct conn *c)
{
	struct timeval tv = {c->w->srv->cfg.request_timeout_s, 0};
	evtimer_add(c->deadline, &tv);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
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
	struct conn *c = arg;
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

/* A request of the connection is in our hands from now on. */
static struct conn *conn_request_begins(struct worker *w, struct evhttp_request *req)
{
	struct conn *c = conn_find(w, evhttp_request_get_connection(req));
	if (c != NULL) {
		c->busy++;
		evtimer_del(c->deadline);
	}
	return c;
}

/* ... and answered: the next one has request_timeout to arrive. */
static void conn_request_ends(struct conn *c)
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
	struct conn *c = arg;
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
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n",
	                 e->code, e->message);
	evbuffer_drain(buf, evbuffer_get_length(buf));
	evbuffer_add_printf(buf,
	                    "HTTP/1.%d %d %s\r\nContent-Type: application/json\r\n"
	                    "Cache-Control: no-store\r\nConnection: close\r\n"
	                    "Content-Length: %d\r\n\r\n%s",
	                    minor, e->status, e->phrase, n, body);
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
	struct conn *c = arg;
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
		struct conn *c = NULL;
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
static struct bufferevent *plain_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		conn_track(arg, bev);
	return bev;
}

/* evhttp's bevcb of the HTTPS listener (libevent's sample/https-server.c),
 * counted like the plain one. It must not return NULL, or evhttp would
 * speak plain HTTP on the HTTPS port. */
static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
	struct worker *w = arg;
	struct bufferevent *bev = tls_bufferevent_new(base, w->srv->tls_ctx);
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

static bool resolve(const char *host, int port_num, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof(port), "%d", port_num);
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

/*
 * The listening sockets are made once, by the main thread, before the
 * workers (server_listen()); each worker accepts on its own dup() of them.
 * The kernel can then never split connections with another process, as it
 * would with one SO_REUSEPORT socket per worker: a second daemon (or
 * anything else) on the port is refused at start instead of silently
 * sharing it. SO_REUSEADDR only lets a restart bind while the old
 * connections are in TIME_WAIT; it does not let two listeners share a port.
 */
static int listen_socket(const char *key, const char *addr, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (!resolve(host, port, &ss, &len)) {
		log_kv(LOG_ERROR, "cannot resolve the listen address", "key", key, "listen", addr,
		       NULL);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		log_kv(LOG_ERROR,
		       e == EADDRINUSE ? "cannot listen: address already in use (another process "
		                         "holds the port)"
		                       : "cannot listen",
		       "key", key, "listen", addr, "error", strerror(e), NULL);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

bool server_listen(struct server *s)
{
	const struct config *c = &s->cfg;
	s->listen_fd = s->tls_listen_fd = -1;
	s->listen_fd = listen_socket("server.listen", c->listen, c->listen_host, c->listen_port);
	if (s->listen_fd < 0)
		return false;
	if (c->tls_listen[0] != '\0') {
		s->tls_listen_fd = listen_socket("tls.listen", c->tls_listen, c->tls_listen_host,
		                                 c->tls_listen_port);
		if (s->tls_listen_fd < 0)
			return false;
	}
	return true;
}

void server_listen_close(struct server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->tls_listen_fd >= 0)
		close(s->tls_listen_fd);
	s->listen_fd = s->tls_listen_fd = -1;
}

/* This worker's listener on its own dup() of a listening socket, bound to
 * http. */
static struct evhttp_bound_socket *listen_on(struct worker *w, struct evhttp *http, int listen_fd)
{
	int fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		log_kv(LOG_ERROR, "cannot share the listening socket", "error", strerror(errno),
		       NULL);
		return NULL;
	}
	/* backlog 0: the socket already listens */
	struct evconnlistener *l = evconnlistener_new(
	    w->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (l == NULL) {
		close(fd);
		return NULL;
	}
	struct evhttp_bound_socket *b = evhttp_bind_listener(http, l);
	if (b == NULL)
		evconnlistener_free(l);
	return b;
}

/* The settings both evhttps of a worker share: limits, timeouts, methods,
 * the request handler. */
static struct evhttp *http_new(struct worker *w)
{
	const struct config *c = &w->srv->cfg;
	struct evhttp *http = evhttp_new(w->base);
	if (http == NULL)
		return NULL;
	/* Bodies between max_body_bytes and this hard cap get a JSON 413 from
	 * us; beyond it libevent answers 413 itself and, with lingering close,
	 * still makes sure that the client reads it. */
	int64_t hard_cap = c->max_body_bytes * 4;
	if (hard_cap < 1 << 20)
		hard_cap = 1 << 20;
	evhttp_set_max_body_size(http, hard_cap);
	/* The same for headers: above max_header_bytes a JSON 431 from us
	 * (on_request), above twice that libevent cuts the request off. */
	evhttp_set_max_headers_size(http, c->max_header_bytes * 2);
	evhttp_set_timeout(http, (int)c->request_timeout_s);
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* every method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	                                     EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(http, "application/json");
	evhttp_set_gencb(http, on_request, w);
	return http;
}

bool worker_http_setup(struct worker *w)
{
	const struct config *c = &w->srv->cfg;
	w->limits_ev = event_new(w->base, -1, 0, on_limits, w);
	w->conns_ev = event_new(w->base, -1, 0, on_new_conns, w);
	w->http = http_new(w);
	if (w->limits_ev == NULL || w->conns_ev == NULL || w->http == NULL)
		return false;
	evhttp_set_bevcb(w->http, plain_bevcb, w);
	w->bound = listen_on(w, w->http, w->srv->listen_fd);
	if (w->bound == NULL)
		return false;
	if (c->tls_listen[0] != '\0') {
		w->tls_http = http_new(w);
		if (w->tls_http == NULL)
			return false;
		evhttp_set_bevcb(w->tls_http, tls_bevcb, w);
		w->tls_bound = listen_on(w, w->tls_http, w->srv->tls_listen_fd);
		if (w->tls_bound == NULL)
			return false;
	}
	w->accepting = true;
	return true;
}

void worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	w->accepting = false;
	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->tls_bound != NULL) {
		evhttp_del_accept_socket(w->tls_http, w->tls_bound);
		w->tls_bound = NULL;
	}
	drain_check(w);
}

void worker_http_free(struct worker *w)
{
	/* the connections they still hold are freed too; conn_closed() sees
	 * srv->stopping and leaves the other workers alone */
	conns_fixup(w);
	if (w->http != NULL)
		evhttp_free(w->http);
	if (w->tls_http != NULL)
		evhttp_free(w->tls_http);
	if (w->limits_ev != NULL)
		event_free(w->limits_ev);
	if (w->conns_ev != NULL)
		event_free(w->conns_ev);
	free(w->new_conns);
	free(w->conn_slots); /* every connection is closed by now */
	w->conn_slots = NULL;
	w->conn_slots_cap = 0;
	w->http = w->tls_http = NULL;
	w->limits_ev = w->conns_ev = NULL;
	w->new_conns = NULL;
	w->new_conns_len = w->new_conns_cap = 0;
}
