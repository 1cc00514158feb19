/*
 * Raw HTTP/1.1 over plain sockets, for the end-to-end tests that must send
 * what http_req() never would (malformed, partial or pipelined requests, a
 * request from another source address) or keep a connection open between
 * requests. Nothing here parses more than a status line, one header and a
 * Content-Length: the tests look at the bytes themselves.
 */
#ifndef CD_TEST_RAWHTTP_H
#define CD_TEST_RAWHTTP_H

#include <stdbool.h>
#include <stddef.h>

/* A TCP connection from src ("127.0.0.2"; NULL: any address) to
 * 127.0.0.1:port, with a 3 s send timeout; -1 with errno set on failure. */
int rawhttp_connect(const char *src, int port);

/* Sends all n bytes (no SIGPIPE); false when the server closed or reset the
 * connection before all was sent. */
bool rawhttp_send(int fd, const void *p, size_t n);

struct rawhttp_answer {
	char *data;  /* malloc'd, NUL-terminated; may hold NULs */
	size_t len;  /* bytes in data, without the NUL */
	bool closed; /* the server closed (or reset) the connection */
};

/*
 * Reads until the server closes the connection, timeout_ms pass, or (with
 * until_complete) one whole response is in (rawhttp_complete()); at most
 * 4 MiB. Fails the test only when memory runs out.
 */
void rawhttp_read(int fd, int timeout_ms, bool until_complete, struct rawhttp_answer *a);

void rawhttp_free(struct rawhttp_answer *a);

/* Whether a holds a whole response: a head with a Content-Length and that
 * many bytes of body after it. */
bool rawhttp_complete(const struct rawhttp_answer *a);

/* The status of the first response in data ("HTTP/1.x NNN ..."), 0 when
 * there is none. */
int rawhttp_status(const char *data);

/* The value of header name (case-insensitive) in the first response head of
 * data, leading blanks skipped, copied to out; false when absent. */
bool rawhttp_header(const char *data, const char *name, char *out, size_t size);

#endif
