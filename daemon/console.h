/*
 * The web console's static files, embedded at build time
 * (cmake/embed_console.cmake writes the table) and served by console.c.
 */
#ifndef CD_CONSOLE_H
#define CD_CONSOLE_H

#include <stddef.h>

struct console_asset {
	const char *path;         /* the URL path: "/console/", "/console/app.js" */
	const char *content_type; /* by the file's ending */
	const unsigned char *bytes;
	size_t len;
	const char *etag; /* "\"<hash of the content>\"" */
};

extern const struct console_asset console_assets[];
extern const int console_assets_count;

struct request;
/* The routes' handlers (daemon/handlers.c): GET /console redirects to
 * /console/; GET /console/... answers an embedded file. */
void h_console_redirect(struct request *r);
void h_console_file(struct request *r);
/* GET /openapi.yaml: docs/openapi.yaml as built into the binary. */
void h_openapi(struct request *r);

#endif
