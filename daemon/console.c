/*
 * The compliance web console (GET /console/): static files embedded in the
 * binary at build time (cmake/embed_console.cmake), so that nothing is
 * installed beside coolingd and the files always match the API they call.
 * The page needs no token; it calls the API with one that the person
 * pastes in, and every answer of the API is authorized as usual.
 *
 * Each answer carries the headers that let a browser run the console and
 * nothing else: a Content-Security-Policy that allows only this origin's
 * scripts, styles and API (no inline script or style, no framing), nosniff,
 * and no Referer, so that no URL of the console travels elsewhere. The
 * ETag is a hash of the file's content; Cache-Control: no-cache makes the
 * browser revalidate each time, which costs a 304 without a body.
 */
#include <event2/http.h>
#include <stdbool.h>
#include <string.h>

#include "console.h"
#include "request.h"

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
                          "base-uri 'none'; form-action 'none'";

static const struct {
	const char *name, *value;
} security_headers[] = {
    {"Content-Security-Policy", csp},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
};

static void add_security_headers(struct request *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	for (size_t i = 0; i < sizeof(security_headers) / sizeof(security_headers[0]); i++)
		evhttp_add_header(h, security_headers[i].name, security_headers[i].value);
}

/* Whether an If-None-Match value names this ETag (RFC 9110 13.1.2: a list
 * of entity tags or "*", compared weakly, so W/"x" matches "x"). */
static bool etag_listed(const char *header, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = header;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		const char *end = p;
		if (*end == '"') {
			end = strchr(end + 1, '"');
			end = end != NULL ? end + 1 : p + strlen(p);
		} else {
			while (*end != '\0' && *end != ',')
				end++;
		}
		if ((size_t)(end - p) == elen && strncmp(p, etag, elen) == 0)
			return true;
		p = end;
	}
	return false;
}

static const struct console_asset *asset_find(const char *path)
{
	for (int i = 0; i < console_assets_count; i++)
		if (strcmp(console_assets[i].path, path) == 0)
			return &console_assets[i];
	return NULL;
}

/* GET /console: the page's files are addressed relative to /console/. */
void h_console_redirect(struct request *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "Location", "/console/");
	add_security_headers(r);
	reply_static(r, 308, "text/plain; charset=utf-8", "no-cache", NULL, 0);
}

/* GET /console/, /console/FILE, /console/DIR/FILE */
void h_console_file(struct request *r)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const struct console_asset *a = path != NULL ? asset_find(path) : NULL;
	add_security_headers(r);
	if (a == NULL) {
		reply_simple_error(r, 404, "not_found", NULL, "no such file of the console");
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	evhttp_add_header(h, "ETag", a->etag);
	const char *inm =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-None-Match");
	if (inm != NULL && etag_listed(inm, a->etag)) {
		reply_static(r, 304, a->content_type, "no-cache", NULL, 0);
		return;
	}
	reply_static(r, 200, a->content_type, "no-cache", a->bytes, a->len);
}

void h_openapi(struct request *r)
{
	/* the same table and headers as the console's files: the path is the
	 * table's key */
	h_console_file(r);
}
