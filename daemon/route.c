/*
 * Routing: the checks of a request head (its size, framing a proxy could
 * read otherwise, the target's bytes, Host), the route table's match with
 * its path parameters, 404 and 405, and the checks of the body that need no
 * database (its size, media type, JSON), run once per request.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "hex.h"
#include "http.h"
#include "log.h"

const char *http_method_name(enum evhttp_cmd_type m)
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

/* ---- routing ---- */

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

/* Run once: before the token is checked when the call can send its first
 * read with it (auth.c), else after; a failure is kept for
 * request_dispatch_or_reply, so that a field error is never reported
 * before the token is checked, and nothing is parsed twice. */
bool request_parse(struct request *r)
{
	const struct route *rt = r->route;
	cd_error_clear(&r->parse_err);
	r->parse_failed =
	    !body_check(r, &r->parse_err) || (rt->parse != NULL && !rt->parse(r, &r->parse_err));
	return !r->parse_failed;
}

void request_dispatch_or_reply(struct request *r)
{
	const struct route *rt = r->route;
	if (r->parse_failed) {
		reply_error(r, &r->parse_err);
		return;
	}
	if (rt->start != NULL)
		rt->start(r, false);
	else
		rt->handler(r);
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
	hc->bytes = (int64_t)strlen(http_method_name(evhttp_request_get_command(req))) +
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

void http_on_request(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	struct request *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(req, 503, "Service Unavailable");
		return;
	}
	r->state = REQ_HEAD;
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
		         http_method_name(routes[i].method),
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
	request_set_state(r, REQ_ROUTED);
	if (r->route->roles == 0) {
		request_set_state(r, REQ_HANDLING);
		r->route->handler(r);
		return;
	}
	request_authenticate_or_reply(r);
}
