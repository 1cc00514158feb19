/*
 * idle_conns: opens N keep-alive HTTP connections to HOST:PORT, makes one
 * "GET /healthz" on each (so that the server has set up its full
 * per-connection state), then holds them all idle for SECONDS and closes
 * them. Prints "open N" once every connection has had its answer, so that
 * bench/run.sh can sample the server's memory while they are held.
 *
 *   idle_conns HOST PORT N SECONDS
 *
 * Built by bench/run.sh with the system compiler; needs `ulimit -n` > N.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int read_answer(int fd)
{
	char buf[4096];
	size_t have = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) != 1)
			return -1;
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
		if (have >= (size_t)(end + 4 - buf) + body)
			return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
		if (have == sizeof(buf) - 1)
			return -1;
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: idle_conns HOST PORT N SECONDS\n");
		return 2;
	}
	int n = atoi(argv[3]);
	double hold = atof(argv[4]);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 || n <= 0) {
		fprintf(stderr, "idle_conns: bad arguments\n");
		return 2;
	}
	int *fds = calloc((size_t)n, sizeof(int));
	if (fds == NULL)
		return 1;
	char req[256];
	int len = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: %s:%s\r\n\r\n",
	                   argv[1], argv[2]);
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0) {
			fprintf(stderr, "idle_conns: socket %d: %s\n", i, strerror(errno));
			return 1;
		}
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			fprintf(stderr, "idle_conns: connect %d: %s\n", i, strerror(errno));
			return 1;
		}
		if (write(fds[i], req, (size_t)len) != len || read_answer(fds[i]) != 0) {
			fprintf(stderr, "idle_conns: no answer on connection %d\n", i);
			return 1;
		}
	}
	printf("open %d\n", n);
	fflush(stdout);
	struct timespec ts = {(time_t)hold, (long)((hold - (double)(time_t)hold) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	/* still open? a connection the server closed reads as EOF */
	int alive = 0;
	for (int i = 0; i < n; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		if (poll(&p, 1, 0) == 0)
			alive++;
		close(fds[i]);
	}
	printf("alive %d\n", alive);
	free(fds);
	return 0;
}
