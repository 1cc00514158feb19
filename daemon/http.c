/*
 * HTTP: the listener of one worker, routing, authentication, body limits,
 * replies and the access log. Holds no business rule: the handlers in
 * handlers.c call lib/ for every decision.
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "iin.h"
#include "log.h"
#include "request.h"

#define MAX_HEADERS_BYTES 16384

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
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

/* The path for the access log: any run of 12 digits (an IIN) is masked, and
 * the query string is left out. */
static void loggable_path(const char *uri, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; uri[i] != '\0' && uri[i] != '?' && o + 1 < size;) {
		size_t run = 0;
		while (uri[i + run] >= '0' && uri[i + run] <= '9')
			run++;
		if (run == IIN_LEN && o + IIN_LEN < size) {
			char masked[IIN_MASKED_BUF];
			char iin[IIN_LEN + 1];
			memcpy(iin, uri + i, IIN_LEN);
			iin[IIN_LEN] = '\0';
			iin_mask(iin, masked);
			memcpy(out + o, masked, IIN_LEN);
			o += IIN_LEN;
			i += run;
		} else if (run > 0) {
			for (size_t k = 0; k < run && o + 1 < size; k++)
				out[o++] = uri[i++];
		} else {
			out[o++] = uri[i++];
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
 * went away), so it reads only what was saved before. */
static void request_finish(struct request *r, int status, const char *method, const char *path)
{
	struct worker *w = r->w;
	char st[8], dur[32];
	snprintf(st, sizeof(st), "%d", status);
	snprintf(dur, sizeof(dur), "%.3f", (double)(mono_ns() - r->started_ns) / 1e6);
	log_kv(LOG_INFO, "request", "method", method, "path", path, "status", st, "duration_ms",
	       dur, "client", r->client, NULL);
	json_decref(r->body);
	free(r->refusal_body);
	free(r);
	w->in_flight--;
	drain_check(w);
}

void reply_json(struct request *r, int status, json_t *body)
{
	const char *method = method_name(evhttp_request_get_command(r->req));
	char path[512];
	const char *uri = evhttp_request_get_uri(r->req);
	loggable_path(uri ? uri : "", path, sizeof(path));

	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (r->w->draining)
		evhttp_add_header(h, "Connection", "close");
	struct evbuffer *buf = evbuffer_new();
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (buf != NULL && s != NULL) {
		evbuffer_add(buf, s, strlen(s));
		evbuffer_add(buf, "\n", 1);
	}
	evhttp_send_reply(r->req, status, reason_phrase(status), buf);
	r->req = NULL;
	if (buf)
		evbuffer_free(buf);
	free(s);
	json_decref(body);
	request_finish(r, status, method, path);
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

void reply_unavailable(struct request *r)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", "1");
	reply_simple_error(r, 503, "unavailable", NULL,
	                   "the database is out of reach; nothing was decided, try again");
}

void reply_db_failure(struct request *r, PGresult *res, const char *what)
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
	if (!pgpool_exec(r->w->pool, st, params, cb, r)) {
		reply_unavailable(r);
		return false;
	}
	return true;
}

/* ---- routing ---- */

/* Matches a path against a pattern, capturing "{}" segments. */
static bool route_match(const char *pattern, const char *path, char params[][ID_BUF])
{
	int np = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (p[0] == '{' && p[1] == '}') {
			const char *end = strchr(s, '/');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			if (len == 0 || np >= MAX_PATH_PARAMS)
				return false;
			/* too long for any identifier: captured empty, so it fails
			 * validation */
			size_t keep = len <= ID_MAX ? len : 0;
			memcpy(params[np], s, keep);
			params[np][keep] = '\0';
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

static bool is_json_content_type(const char *ct)
{
	if (ct == NULL)
		return false;
	while (*ct == ' ')
		ct++;
	size_t n = strlen("application/json");
	if (strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

static void on_auth(PGresult *res, void *arg);

static void dispatch_authorized(struct request *r)
{
	const struct route *rt = r->route;
	if (rt->body != BODY_NONE) {
		struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
		size_t len = evbuffer_get_length(in);
		if ((int64_t)len > r->rt->cfg.max_body_bytes) {
			reply_simple_error(r, 413, "payload_too_large", NULL,
			                   "request body is larger than max_body_bytes");
			return;
		}
		if (len > 0) { /* an empty body is judged by the parser below */
			const char *ct = evhttp_find_header(
			    evhttp_request_get_input_headers(r->req), "Content-Type");
			if (!is_json_content_type(ct)) {
				reply_simple_error(r, 415, "unsupported_media_type", NULL,
				                   "Content-Type must be application/json");
				return;
			}
		}
		struct cd_error err;
		cd_error_clear(&err);
		const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
		r->body = codec_parse_body(data, len, rt->body == BODY_OPTIONAL, &err);
		if (r->body == NULL) {
			reply_error(r, &err);
			return;
		}
	}
	rt->handler(r);
}

static void on_auth(PGresult *res, void *arg)
{
	struct request *r = arg;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		reply_db_failure(r, res, "auth");
		return;
	}
	unsigned char stored[TOKEN_HASH_LEN];
	if (PQntuples(res) != 1 || !token_hash_from_bytea_text(PQgetvalue(res, 0, 3), stored) ||
	    !token_hash_equal(stored, r->token_hash)) {
		reply_simple_error(r, 401, "unauthorized", NULL, "unknown or revoked token");
		return;
	}
	snprintf(r->client, sizeof(r->client), "%s", PQgetvalue(res, 0, 0));
	const char *role = PQgetvalue(res, 0, 1);
	r->role = strcmp(role, "lender") == 0       ? ROLE_LENDER
	          : strcmp(role, "compliance") == 0 ? ROLE_COMPLIANCE
	          : strcmp(role, "auditor") == 0    ? ROLE_AUDITOR
	                                            : ROLE_NONE;
	snprintf(r->client_lender, sizeof(r->client_lender), "%s", PQgetvalue(res, 0, 2));

	if (!(r->route->roles & r->role)) {
		reply_simple_error(r, 403, "forbidden", NULL, "this role may not make this call");
		return;
	}
	if (r->route->lender_scoped && r->role == ROLE_LENDER &&
	    strcmp(r->params[0], r->client_lender) != 0) {
		reply_simple_error(r, 403, "forbidden", NULL,
		                   "this token belongs to another lender");
		return;
	}
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
	if (token == NULL || !token_parse_id(token, r->token_id)) {
		reply_simple_error(r, 401, "unauthorized", NULL,
		                   "missing or malformed bearer token");
		return;
	}
	token_hash(token, r->token_hash);
	const char *params[] = {r->token_id};
	request_exec(r, STMT_AUTH, params, on_auth);
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
	w->in_flight++;

	if (w->draining) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		reply_simple_error(r, 503, "unavailable", NULL,
		                   "shutting down; nothing was decided");
		return;
	}

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL) {
		reply_simple_error(r, 400, "bad_request", NULL, "no request path");
		return;
	}
	enum evhttp_cmd_type method = evhttp_request_get_command(req);

	char allow[64] = "";
	for (int i = 0; i < routes_count; i++) {
		if (!route_match(routes[i].pattern, path, r->params))
			continue;
		if (routes[i].method == method) {
			r->route = &routes[i];
			break;
		}
		size_t used = strlen(allow);
		snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
		         method_name(routes[i].method));
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

static bool resolve_listen(const struct config *c, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof(port), "%d", c->listen_port);
	if (getaddrinfo(c->listen_host, port, &hints, &ai) != 0 || ai == NULL)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

bool worker_http_setup(struct worker *w)
{
	const struct config *c = &w->srv->cfg;
	w->http = evhttp_new(w->base);
	if (w->http == NULL)
		return false;
	/* Bodies between max_body_bytes and this hard cap get a JSON 413 from
	 * us; beyond it libevent answers 413 itself and, with lingering close,
	 * still makes sure that the client reads it. */
	int64_t hard_cap = c->max_body_bytes * 4;
	if (hard_cap < 1 << 20)
		hard_cap = 1 << 20;
	evhttp_set_max_body_size(w->http, hard_cap);
	evhttp_set_max_headers_size(w->http, MAX_HEADERS_BYTES);
	evhttp_set_timeout(w->http, (int)c->request_timeout_s);
	evhttp_set_flags(w->http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* every method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                        EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	                                        EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(w->http, "application/json");
	evhttp_set_gencb(w->http, on_request, w);

	struct sockaddr_storage ss;
	socklen_t len;
	if (!resolve_listen(c, &ss, &len)) {
		log_kv(LOG_ERROR, "cannot resolve server.listen", "listen", c->listen, NULL);
		return false;
	}
	struct evconnlistener *l =
	    evconnlistener_new_bind(w->base, NULL, NULL,
	                            LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
	                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	                            1024, (struct sockaddr *)&ss, (int)len);
	if (l == NULL) {
		log_kv(LOG_ERROR, "cannot listen", "listen", c->listen, "error",
		       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()), NULL);
		return false;
	}
	w->bound = evhttp_bind_listener(w->http, l);
	return w->bound != NULL;
}

void worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	drain_check(w);
}
