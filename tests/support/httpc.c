/*
 * The tests' HTTP client: plain blocking sockets, one request per connection,
 * timeouts everywhere. Deliberately independent of libevent so that it does
 * not share the daemon's bugs.
 */
#include "support/httpc.h"
#include "support/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

static bool buf_append(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return false;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return false;
	return buf_append(b, tmp, (size_t)n);
}

/* A blocking TCP connection to 127.0.0.1:port whose sends and receives give up
 * after timeout_ms; -1 on failure. */
static int connect_local(int port, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Finds header `name` in a raw block of "K: V\r\n" lines; sets *val and
 * *val_len to the trimmed value. */
static bool find_header(const char *block, size_t block_len, const char *name, const char **val,
                        size_t *val_len)
{
	size_t name_len = strlen(name);
	const char *p = block, *end = block + block_len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon && (size_t)(colon - p) == name_len &&
		    strncasecmp(p, name, name_len) == 0) {
			const char *v = colon + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*val = v;
			*val_len = (size_t)(ve - v);
			return true;
		}
		p = eol + 1;
	}
	return false;
}

/* Undoes chunked encoding of in[0..n) into *out. Returns 1 when the last
 * chunk has been seen, 0 when more input is needed, -1 when malformed. */
static int dechunk(const char *in, size_t n, struct buf *out)
{
	size_t pos = 0;
	out->len = 0;
	for (;;) {
		const char *eol = memchr(in + pos, '\n', n - pos);
		if (!eol)
			return 0;
		char *endp;
		unsigned long size = strtoul(in + pos, &endp, 16);
		if (endp == in + pos)
			return -1;
		pos = (size_t)(eol - in) + 1;
		if (size == 0) {
			/* Trailers, then an empty line. */
			for (;;) {
				eol = memchr(in + pos, '\n', n - pos);
				if (!eol)
					return 0;
				size_t line = (size_t)(eol - (in + pos));
				pos = (size_t)(eol - in) + 1;
				if (line == 0 || (line == 1 && in[pos - 2] == '\r'))
					return 1;
			}
		}
		if (n - pos < size + 2)
			return 0;
		if (!buf_append(out, in + pos, size))
			return -1;
		pos += size;
		if (in[pos] == '\r')
			pos++;
		if (in[pos] != '\n')
			return -1;
		pos++;
	}
}

struct parsed {
	int status;
	size_t head_end;       /* offset of the body */
	size_t hdr_start;      /* offset of the first header line */
	long long content_len; /* -1: none */
	bool chunked;
};

/* Parses the status line and headers once they are complete; false while
 * the header block has not fully arrived or is malformed (*bad set). */
static bool parse_head(const char *data, size_t len, struct parsed *p, bool *bad)
{
	const char *end = memmem(data, len, "\r\n\r\n", 4);
	if (!end)
		return false;
	if (len < 12 || strncmp(data, "HTTP/1.", 7) != 0) {
		*bad = true;
		return false;
	}
	p->status = atoi(data + 9);
	const char *sl_end = memmem(data, len, "\r\n", 2);
	p->hdr_start = (size_t)(sl_end - data) + 2;
	p->head_end = (size_t)(end - data) + 4;
	const char *block = data + p->hdr_start;
	size_t block_len = p->head_end - 2 - p->hdr_start;
	const char *v;
	size_t vl;
	p->content_len = -1;
	if (find_header(block, block_len, "Content-Length", &v, &vl))
		p->content_len = strtoll(v, NULL, 10);
	p->chunked = find_header(block, block_len, "Transfer-Encoding", &v, &vl) && vl >= 7 &&
	             strncasecmp(v + vl - 7, "chunked", 7) == 0;
	return true;
}

static bool has_header(const char *extra, const char *name)
{
	const char *v;
	size_t vl;
	return extra && find_header(extra, strlen(extra), name, &v, &vl);
}

/*
 * Opt-in recording of every exchange, for checking the answers against
 * docs/openapi.yaml (tests/api/validate.mjs): when COOLINGD_TEST_RECORD_DIR
 * is set, each complete response is appended as one JSON line (method, the
 * request target as sent, status, Content-Type, Request-Id, Retry-After,
 * Allow, the body) to a file of this process in that folder. One write() per line on a
 * file opened with O_APPEND, so that the threads of a racing test do not
 * interleave their lines.
 */
static void record_exchange(const char *method, const char *path, const struct http_resp *resp)
{
	const char *dir = getenv("COOLINGD_TEST_RECORD_DIR");
	if (dir == NULL || *dir == '\0')
		return;
	static const char *const names[] = {"Content-Type", "Request-Id", "Retry-After", "Allow"};
	json_t *headers = json_object();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v = http_header(resp, names[i]);
		if (v != NULL)
			json_object_set_new(headers, names[i], json_string(v));
	}
	/* NULL when the body is not UTF-8: recorded as such, never valid JSON */
	json_t *body = json_stringn(resp->body, resp->body_len);
	json_t *line =
	    json_pack("{s:s,s:s,s:i,s:o,s:o}", "method", method, "path", path, "status",
	              resp->status, "headers", headers, "body", body ? body : json_null());
	char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	char file[4096];
	snprintf(file, sizeof file, "%s/%s-%d.jsonl", dir, program_invocation_short_name,
	         (int)getpid());
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (text != NULL && fd >= 0) {
		size_t n = strlen(text);
		text[n] = '\n'; /* the NUL is not written */
		if (write(fd, text, n + 1) != (ssize_t)(n + 1))
			fprintf(stderr, "httpc: could not record an exchange in %s\n", file);
	} else {
		fprintf(stderr, "httpc: could not record an exchange in %s\n", file);
	}
	if (fd >= 0)
		close(fd);
	free(text);
}

static int do_request(int port, const char *method, const char *path, const char *token,
                      const char *body, const char *extra_headers, struct http_resp *out,
                      int timeout_ms)
{
	memset(out, 0, sizeof *out);
	struct buf req = {0}, in = {0}, dec = {0};
	int rc = -1;
	size_t body_len = body ? strlen(body) : 0;
	bool ok = buf_printf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
	                     method, path, port);
	if (token)
		ok = ok && buf_printf(&req, "Authorization: Bearer %s\r\n", token);
	if (body && !has_header(extra_headers, "Content-Type"))
		ok = ok && buf_printf(&req, "Content-Type: application/json\r\n");
	if (!has_header(extra_headers, "Content-Length")) {
		if (body)
			ok = ok && buf_printf(&req, "Content-Length: %zu\r\n", body_len);
		else if (!strcmp(method, "POST") || !strcmp(method, "PUT") ||
		         !strcmp(method, "PATCH"))
			ok = ok && buf_printf(&req, "Content-Length: 0\r\n");
	}
	if (extra_headers)
		ok = ok && buf_append(&req, extra_headers, strlen(extra_headers));
	ok = ok && buf_append(&req, "\r\n", 2);
	if (body)
		ok = ok && buf_append(&req, body, body_len);
	if (!ok)
		goto done;

	int fd = connect_local(port, timeout_ms);
	if (fd < 0)
		goto done;
	if (!send_all(fd, req.data, req.len)) {
		/* The server may answer (413, say) before reading everything. */
		if (errno != EPIPE && errno != ECONNRESET) {
			close(fd);
			goto done;
		}
	}

	struct parsed p = {0};
	bool have_head = false, bad = false, complete = false, head_only = !strcmp(method, "HEAD");
	for (;;) {
		char chunk[16384];
		ssize_t r = recv(fd, chunk, sizeof chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != ECONNRESET)
			break; /* timeout or error */
		if (r <= 0) {
			complete = have_head && !p.chunked;
			if (have_head && p.chunked)
				complete =
				    dechunk(in.data + p.head_end, in.len - p.head_end, &dec) == 1;
			break;
		}
		if (!buf_append(&in, chunk, (size_t)r))
			break;
		if (!have_head) {
			have_head = parse_head(in.data, in.len, &p, &bad);
			if (bad)
				break;
		}
		if (!have_head)
			continue;
		size_t got = in.len - p.head_end;
		if (head_only || p.status == 204 || p.status == 304 ||
		    (!p.chunked && p.content_len >= 0 && got >= (size_t)p.content_len)) {
			complete = true;
			break;
		}
		if (p.chunked) {
			int d = dechunk(in.data + p.head_end, got, &dec);
			if (d < 0)
				break;
			if (d == 1) {
				complete = true;
				break;
			}
		}
	}
	close(fd);
	if (!complete)
		goto done;

	const char *b = in.data + p.head_end;
	size_t bl = in.len - p.head_end;
	if (head_only || p.status == 204 || p.status == 304)
		bl = 0;
	else if (p.chunked) {
		b = dec.data ? dec.data : "";
		bl = dec.len;
	} else if (p.content_len >= 0 && (size_t)p.content_len < bl)
		bl = (size_t)p.content_len;
	size_t hl = p.head_end - 2 - p.hdr_start;
	out->body = malloc(bl + 1);
	out->headers = malloc(hl + 1);
	if (!out->body || !out->headers) {
		http_resp_free(out);
		goto done;
	}
	memcpy(out->body, b, bl);
	out->body[bl] = '\0';
	out->body_len = bl;
	memcpy(out->headers, in.data + p.hdr_start, hl);
	out->headers[hl] = '\0';
	out->status = p.status;
	out->json = bl ? json_loadb(out->body, bl, JSON_DECODE_ANY, NULL) : NULL;
	record_exchange(method, path, out);
	rc = 0;
done:
	free(req.data);
	free(in.data);
	free(dec.data);
	return rc;
}

int http_req(int port, const char *method, const char *path, const char *token, const char *body,
             const char *extra_headers, struct http_resp *out)
{
	return do_request(port, method, path, token, body, extra_headers, out, HTTPC_TIMEOUT_MS);
}

int http_get_status(int port, const char *path, int timeout_ms)
{
	struct http_resp r;
	if (do_request(port, "GET", path, NULL, NULL, NULL, &r, timeout_ms) != 0)
		return -1;
	int status = r.status;
	http_resp_free(&r);
	return status;
}

const char *http_header(const struct http_resp *resp, const char *name)
{
	static _Thread_local char value[4096];
	const char *v;
	size_t vl;
	if (!resp || !resp->headers ||
	    !find_header(resp->headers, strlen(resp->headers), name, &v, &vl))
		return NULL;
	if (vl >= sizeof value)
		vl = sizeof value - 1;
	memcpy(value, v, vl);
	value[vl] = '\0';
	return value;
}

void http_resp_free(struct http_resp *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->headers);
	if (resp->json)
		json_decref(resp->json);
	memset(resp, 0, sizeof *resp);
}

int http_raw(int port, const char *raw, size_t len, char **response, int timeout_ms)
{
	*response = NULL;
	long long deadline = test_now_ms() + timeout_ms;
	int fd = connect_local(port, timeout_ms);
	if (fd < 0)
		return -1;
	struct buf in = {0};
	int rc = 1;
	(void)send_all(fd, raw, len); /* an early close shows up as the answer */
	for (;;) {
		long long left = deadline - test_now_ms();
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char chunk[16384];
		ssize_t r = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			rc = 0; /* closed or reset */
			break;
		}
		if (!buf_append(&in, chunk, (size_t)r))
			break;
	}
	close(fd);
	if (!in.data && !buf_append(&in, "", 0))
		return -1;
	*response = in.data;
	return rc;
}
