/*
 * Routing, a step of the request's driver (daemon/request.c): the route
 * table, the checks of a request head (its size, framing a proxy could
 * read otherwise, the target's bytes, Host), the table's match with its
 * path parameters, 404 and 405, and the checks of the body that need no
 * database (its size, media type, JSON), run once per request. Each check
 * returns its verdict; the driver answers.
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

#include "calls.h"
#include "console.h"
#include "hex.h"
#include "http.h"

/* ---- the route table ----
 *
 * Every route needs a token whose role is among .roles, unless it is
 * RF_PUBLIC; RF_LENDER_SCOPED: a lender's token only for its own lender
 * (the first path parameter). A call is a .handler, or a .parse and a
 * .start (request.h, struct route). */

#define ALL_ROLES (ROLE_LENDER | ROLE_COMPLIANCE | ROLE_AUDITOR)

/* clang-format off */
const struct route routes[] = {
    {.method = EVHTTP_REQ_GET, .pattern = "/healthz", .name = "healthz",
     .flags = RF_PUBLIC, .handler = h_healthz},
    {.method = EVHTTP_REQ_GET, .pattern = "/readyz", .name = "readyz",
     .flags = RF_PUBLIC, .handler = h_readyz},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans", .name = "approval",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_REQUIRED,
     .parse = approval_parse, .start = approval_start},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/lenders/{}/loans", .name = "lender-loans",
     .roles = ALL_ROLES, .flags = RF_LENDER_SCOPED, .handler = h_lender_loans_list},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/lenders/{}/loans/{}", .name = "loan",
     .roles = ALL_ROLES, .flags = RF_LENDER_SCOPED,
     .parse = loan_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/consent", .name = "consent",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_OPTIONAL,
     .parse = consent_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/in-person-verification",
     .name = "in-person-verification",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_REQUIRED,
     .parse = verify_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/cancellation",
     .name = "cancellation",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_REQUIRED,
     .parse = cancel_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/reconfirmation",
     .name = "reconfirmation",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_OPTIONAL,
     .parse = reconfirm_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/extra-confirmation",
     .name = "extra-confirmation",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_REQUIRED,
     .parse = extra_confirm_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST,
     .pattern = "/v1/lenders/{}/loans/{}/trusted-person-confirmation",
     .name = "trusted-person-confirmation",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_OPTIONAL,
     .parse = trusted_person_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST,
     .pattern = "/v1/lenders/{}/loans/{}/control-call",
     .name = "control-call",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_REQUIRED,
     .parse = control_call_parse, .start = act_start},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/lenders/{}/loans/{}/disbursement",
     .name = "disbursement",
     .roles = ROLE_LENDER, .flags = RF_LENDER_SCOPED, .body = BODY_OPTIONAL,
     .parse = disburse_parse, .start = disburse_start},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/borrowers/{}/loans", .name = "borrower",
     .roles = ALL_ROLES, .parse = borrower_parse, .handler = h_borrower_loans},
    /* the same look-up with the IIN in the body, out of every URL and log */
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/borrowers/search", .name = "borrower-search",
     .roles = ALL_ROLES, .body = BODY_REQUIRED,
     .parse = borrower_search_parse, .handler = h_borrower_loans},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/audit", .name = "audit",
     .roles = ROLE_COMPLIANCE | ROLE_AUDITOR, .handler = h_audit_list},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/access-log", .name = "access-log",
     .roles = ROLE_AUDITOR, .handler = h_access_log_list},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/access-log/search", .name = "access-log-search",
     .roles = ROLE_AUDITOR, .body = BODY_REQUIRED,
     .parse = access_search_parse, .handler = h_access_log_search},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/loans", .name = "loans",
     .roles = ROLE_COMPLIANCE | ROLE_AUDITOR, .handler = h_loans_list},
    /* any lender may check any borrower, as with a credit report */
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/voluntary-refusals/{}",
     .name = "voluntary-refusal",
     .roles = ALL_ROLES | ROLE_REGISTRY,
     .parse = refusal_iin_parse, .handler = h_refusal_get},
    {.method = EVHTTP_REQ_PUT, .pattern = "/v1/voluntary-refusals/{}",
     .name = "voluntary-refusal-change",
     .roles = ROLE_REGISTRY, .body = BODY_REQUIRED,
     .parse = refusal_put_parse, .handler = h_refusal_put},
    /* any lender may check any payee, as any borrower's refusal */
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/suspicious-payees/{}/{}",
     .name = "suspicious-payee",
     .roles = ALL_ROLES | ROLE_ANTIFRAUD,
     .parse = payee_key_parse, .handler = h_payee_get},
    {.method = EVHTTP_REQ_PUT, .pattern = "/v1/suspicious-payees/{}/{}",
     .name = "suspicious-payee-change",
     .roles = ROLE_ANTIFRAUD, .body = BODY_REQUIRED,
     .parse = payee_put_parse, .handler = h_payee_put},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/fraud-claims", .name = "fraud-claims",
     .roles = ROLE_LENDER | ROLE_ANTIFRAUD | ROLE_COMPLIANCE, .body = BODY_REQUIRED,
     .parse = claim_open_parse, .handler = h_claim_open},
    /* a lender reads the claims its clients opened (handlers.c) */
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/fraud-claims/{}", .name = "fraud-claim",
     .roles = ALL_ROLES | ROLE_ANTIFRAUD,
     .parse = claim_id_parse_path, .handler = h_claim_get},
    {.method = EVHTTP_REQ_POST, .pattern = "/v1/fraud-claims/{}/closure",
     .name = "fraud-claim-closure",
     .roles = ROLE_COMPLIANCE | ROLE_ANTIFRAUD, .body = BODY_REQUIRED,
     .parse = claim_close_parse, .handler = h_claim_close},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/lenders/{}/loans/{}/events", .name = "events",
     .roles = ALL_ROLES, .flags = RF_LENDER_SCOPED, .handler = h_loan_events},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/lenders/{}/events", .name = "lender-events",
     .roles = ALL_ROLES, .flags = RF_LENDER_SCOPED, .handler = h_lender_events},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/stats/decisions", .name = "decision-stats",
     .roles = ALL_ROLES, .handler = h_decision_stats},
    {.method = EVHTTP_REQ_GET, .pattern = "/v1/policy", .name = "policy",
     .roles = ALL_ROLES | ROLE_REGISTRY | ROLE_ANTIFRAUD, .handler = h_policy},
    {.method = EVHTTP_REQ_GET, .pattern = "/openapi.yaml", .name = "openapi",
     .flags = RF_PUBLIC, .handler = h_openapi},
    {.method = EVHTTP_REQ_GET, .pattern = "/console", .name = "console",
     .flags = RF_PUBLIC, .handler = h_console_redirect},
    {.method = EVHTTP_REQ_GET, .pattern = "/console/", .name = "console",
     .flags = RF_PUBLIC, .handler = h_console_file},
    {.method = EVHTTP_REQ_GET, .pattern = "/console/{}", .name = "console",
     .flags = RF_PUBLIC, .handler = h_console_file},
    {.method = EVHTTP_REQ_GET, .pattern = "/console/{}/{}", .name = "console",
     .flags = RF_PUBLIC, .handler = h_console_file},
};
/* clang-format on */

const int routes_count = sizeof(routes) / sizeof(routes[0]);

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
	const struct route *route = r->route;
	if (route->body == BODY_NONE || r->body != NULL)
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
	r->body = codec_parse_body(data, len, route->body == BODY_OPTIONAL, err);
	return r->body != NULL;
}

/* Run once: before the token is checked when the call can send its first
 * read with it, else after; the driver answers a failure once the token
 * is checked, so that a field error is never reported before, and nothing
 * is parsed twice. */
bool route_parse(struct request *r)
{
	const struct route *route = r->route;
	cd_error_clear(&r->parse_err);
	r->parse_failed = !body_check(r, &r->parse_err) ||
	                  (route->parse != NULL && !route->parse(r, &r->parse_err));
	return !r->parse_failed;
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

bool route_request(struct request *r, struct cd_error *err)
{
	struct evhttp_request *req = r->req;
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct head_check hc;
	head_check(req, &hc);
	if (hc.bytes > r->rt->cfg.max_header_bytes) {
		evhttp_add_header(out, "Connection", "close");
		return cd_error_set(
		    err, 431, "request_header_fields_too_large", "",
		    "the request line and headers are larger than max_header_bytes");
	}

	if (hc.framing != NULL) {
		/* what follows on this connection cannot be trusted: close it */
		evhttp_add_header(out, "Connection", "close");
		return cd_error_set(err, 400, "bad_request", "", "%s", hc.framing);
	}

	/* A request target is printable ASCII without spaces (RFC 9112 3.2,
	 * RFC 3986); libevent takes the last space of the request line as the
	 * one before the version, so one with spaces inside could also pose
	 * as other fields in a log. */
	const char *target = evhttp_request_get_uri(req);
	for (const char *t = target ? target : ""; *t != '\0'; t++) {
		if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f) {
			evhttp_add_header(out, "Connection", "close");
			return cd_error_set(err, 400, "bad_request", "",
			                    "the request target holds a space or a control byte");
		}
	}
	/* RFC 9112 3.2: a server answers 400 to an HTTP/1.1 request without
	 * Host. */
	if (req->major == 1 && req->minor >= 1 &&
	    evhttp_find_header(evhttp_request_get_input_headers(req), "Host") == NULL)
		return cd_error_set(err, 400, "bad_request", "",
		                    "an HTTP/1.1 request needs a Host");

	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL)
		return cd_error_set(err, 400, "bad_request", "", "no request path");
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	/* HEAD is GET without the body (RFC 9110 9.3.2): it takes the GET
	 * route, and the answer leaves the body out. */
	enum evhttp_cmd_type as = method == EVHTTP_REQ_HEAD ? EVHTTP_REQ_GET : method;

	char allow[64] = "";
	for (int i = 0; i < routes_count; i++) {
		if (!route_match(routes[i].pattern, path, r->params))
			continue;
		if (routes[i].method == as) {
			r->route = &routes[i];
			return true;
		}
		size_t used = strlen(allow);
		snprintf(allow + used, sizeof(allow) - used, "%s%s%s", used ? ", " : "",
		         http_method_name(routes[i].method),
		         routes[i].method == EVHTTP_REQ_GET ? ", HEAD" : "");
	}
	if (allow[0] == '\0')
		return cd_error_set(err, 404, "not_found", "", "no such resource");
	evhttp_add_header(out, "Allow", allow);
	return cd_error_set(err, 405, "method_not_allowed", "", "method not allowed on this path");
}
