/*
 * Raw HTTP/1.1 over plain sockets (see rawhttp.h).
 */
#include "support/rawhttp.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "support/daemon.h"

#define RAWHTTP_MAX (1u << 22)

int rawhttp_connect(const char *src, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (src != NULL) {
		struct sockaddr_in from = {.sin_family = AF_INET, .sin_port = 0};
		if (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
		    bind(fd, (struct sockaddr *)&from, sizeof from) != 0) {
			int err = errno;
			close(fd);
			errno = err;
			return -1;
		}
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc;
	do
		rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (rc != 0 && errno == EINTR);
	if (rc != 0) {
		int err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

bool rawhttp_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

bool rawhttp_complete(const struct rawhttp_answer *a)
{
	const char *end = a->len ? memmem(a->data, a->len, "\r\n\r\n", 4) : NULL;
	if (!end)
		return false;
	const char *cl = strcasestr(a->data, "\r\nContent-Length:");
	if (!cl || cl > end)
		return false;
	size_t body = (size_t)(end + 4 - a->data);
	return a->len >= body + strtoul(cl + 17, NULL, 10);
}

void rawhttp_read(int fd, int timeout_ms, bool until_complete, struct rawhttp_answer *a)
{
	size_t cap = 1 << 16;
	memset(a, 0, sizeof *a);
	a->data = malloc(cap);
	ck_assert_ptr_nonnull(a->data);
	a->data[0] = '\0';
	long long deadline = test_now_ms() + timeout_ms;
	for (;;) {
		if (until_complete && rawhttp_complete(a))
			return;
		long long left = deadline - test_now_ms();
		if (left <= 0)
			return;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (a->len + 1 >= cap) {
			if (cap >= RAWHTTP_MAX)
				return;
			cap *= 2;
			a->data = realloc(a->data, cap);
			ck_assert_ptr_nonnull(a->data);
		}
		ssize_t r = recv(fd, a->data + a->len, cap - a->len - 1, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			a->closed = true;
			return;
		}
		a->len += (size_t)r;
		a->data[a->len] = '\0';
	}
}

void rawhttp_free(struct rawhttp_answer *a)
{
	free(a->data);
	memset(a, 0, sizeof *a);
}

int rawhttp_status(const char *data)
{
	int st = 0;
	if (data == NULL || sscanf(data, "HTTP/1.%*d %d", &st) != 1)
		return 0;
	return st;
}

bool rawhttp_header(const char *data, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = strstr(data, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (line[0] == '\r')
			break; /* end of the head */
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			size_t k = strcspn(v, "\r\n");
			snprintf(out, size, "%.*s", (int)k, v);
			return true;
		}
	}
	return false;
}
