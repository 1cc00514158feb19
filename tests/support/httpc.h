/*
 * A small blocking HTTP/1.1 client for the end-to-end tests: one request per
 * connection to 127.0.0.1, every socket with a receive timeout, so that a
 * test never hangs on a daemon that does not answer.
 */
#ifndef CD_TEST_HTTPC_H
#define CD_TEST_HTTPC_H

#include <jansson.h>
#include <stddef.h>

/* Receive/send timeout of http_req(), in milliseconds. */
#define HTTPC_TIMEOUT_MS 15000

struct http_resp {
	int status;      /* 200, 404, ...; 0 when no response was parsed */
	char *body;      /* the body, NUL-terminated (chunked encoding undone) */
	size_t body_len; /* bytes in body, without the NUL */
	json_t *json;    /* the body parsed as JSON, or NULL */
	char *headers;   /* the header lines after the status line, "K: V\r\n"... */
};

/*
 * Sends one request to 127.0.0.1:port and reads the whole response
 * (Content-Length, chunked, or until the server closes). Always sends
 * Host and Connection: close; "Authorization: Bearer TOKEN" when token is not
 * NULL; with a body, Content-Type: application/json (unless extra_headers
 * holds a Content-Type) and Content-Length; without a body, POST/PUT/PATCH
 * send Content-Length: 0 (unless extra_headers holds one). extra_headers is
 * "K: V\r\n..." or NULL. Returns 0 and fills *out (free with
 * http_resp_free()), or -1 on a connection error, a timeout or an unparsable
 * response (then *out is zeroed and needs no free).
 */
int http_req(int port, const char *method, const char *path, const char *token, const char *body,
             const char *extra_headers, struct http_resp *out);

/* GET path without a token, with the given timeout: the status, or -1 when
 * nothing answered. For polling /healthz and /readyz. */
int http_get_status(int port, const char *path, int timeout_ms);

/*
 * The value of header `name` (case-insensitive, surrounding blanks trimmed),
 * or NULL when absent. The value lives in a thread-local buffer that the next
 * call in the same thread overwrites; copy it to keep it. Values longer than
 * 4095 bytes are truncated.
 */
const char *http_header(const struct http_resp *resp, const char *name);

void http_resp_free(struct http_resp *resp);

/*
 * Sends len raw bytes to 127.0.0.1:port (no half-close afterwards) and reads
 * whatever comes back until the server closes the connection or timeout_ms
 * has passed since connecting. *response gets everything received,
 * malloc'd and NUL-terminated (possibly empty). Returns 0 when the server
 * closed (or reset) the connection, 1 when the timeout passed with it still
 * open, -1 when no connection could be made (then *response is NULL).
 */
int http_raw(int port, const char *raw, size_t len, char **response, int timeout_ms);

#endif
