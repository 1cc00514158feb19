/*
 * Listeners: the listening sockets, bound once by the main thread for every
 * worker, and each worker's evhttps (plain, and HTTPS with [tls]) on its
 * own dup()s of them, with the limits and timeouts they share; draining at
 * shutdown.
 */
#include <errno.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

static bool resolve(const char *host, int port_num, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *ai = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof(port), "%d", port_num);
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

/*
 * The listening sockets are made once, by the main thread, before the
 * workers (server_listen()); each worker accepts on its own dup() of them.
 * The kernel can then never split connections with another process, as it
 * would with one SO_REUSEPORT socket per worker: a second daemon (or
 * anything else) on the port is refused at start instead of silently
 * sharing it. SO_REUSEADDR only lets a restart bind while the old
 * connections are in TIME_WAIT; it does not let two listeners share a port.
 */
static int listen_socket(const char *key, const char *addr, const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (!resolve(host, port, &ss, &len)) {
		log_kv(LOG_ERROR, "cannot resolve the listen address", "key", key, "listen", addr,
		       NULL);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
		int e = errno;
		log_kv(LOG_ERROR,
		       e == EADDRINUSE ? "cannot listen: address already in use (another process "
		                         "holds the port)"
		                       : "cannot listen",
		       "key", key, "listen", addr, "error", strerror(e), NULL);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

bool server_listen(struct server *s)
{
	const struct config *c = &s->cfg;
	s->listen_fd = s->tls_listen_fd = s->metrics_fd = -1;
	s->listen_fd = listen_socket("server.listen", c->listen, c->listen_host, c->listen_port);
	if (s->listen_fd < 0)
		return false;
	if (c->tls_listen[0] != '\0') {
		s->tls_listen_fd = listen_socket("tls.listen", c->tls_listen, c->tls_listen_host,
		                                 c->tls_listen_port);
		if (s->tls_listen_fd < 0)
			return false;
	}
	if (c->metrics_listen[0] != '\0') {
		s->metrics_fd = listen_socket("metrics.listen", c->metrics_listen,
		                              c->metrics_listen_host, c->metrics_listen_port);
		if (s->metrics_fd < 0)
			return false;
	}
	return true;
}

void server_listen_close(struct server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->tls_listen_fd >= 0)
		close(s->tls_listen_fd);
	s->listen_fd = s->tls_listen_fd = -1;
}

/* This worker's listener on its own dup() of a listening socket, bound to
 * http; *dup is that descriptor, which the listener does not close (the
 * worker's loop batches its epoll changes, and a dup() closed before its
 * deletion reaches epoll would stay registered there: worker_begin_drain
 * closes it a turn later). */
static struct evhttp_bound_socket *listen_on(struct worker *w, struct evhttp *http, int listen_fd,
                                             int *dup)
{
	int fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		log_kv(LOG_ERROR, "cannot share the listening socket", "error", strerror(errno),
		       NULL);
		return NULL;
	}
	/* backlog 0: the socket already listens */
	struct evconnlistener *l =
	    evconnlistener_new(w->base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	struct evhttp_bound_socket *b = l != NULL ? evhttp_bind_listener(http, l) : NULL;
	if (b == NULL) {
		if (l != NULL)
			evconnlistener_free(l);
		close(fd);
		return NULL;
	}
	*dup = fd;
	return b;
}

static void close_dup(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	int *dup = arg;
	if (*dup >= 0)
		close(*dup);
	*dup = -1;
}

/* The settings both evhttps of a worker share: limits, timeouts, methods,
 * the request handler. */
static struct evhttp *http_new(struct worker *w)
{
	const struct config *c = &w->srv->cfg;
	struct evhttp *http = evhttp_new(w->base);
	if (http == NULL)
		return NULL;
	/* Bodies between max_body_bytes and this hard cap get a JSON 413 from
	 * us; beyond it libevent answers 413 itself and, with lingering close,
	 * still makes sure that the client reads it. */
	int64_t hard_cap = c->max_body_bytes * 4;
	if (hard_cap < 1 << 20)
		hard_cap = 1 << 20;
	evhttp_set_max_body_size(http, hard_cap);
	/* The same for headers: above max_header_bytes a JSON 431 from us
	 * (on_request), above twice that libevent cuts the request off. */
	evhttp_set_max_headers_size(http, c->max_header_bytes * 2);
	evhttp_set_timeout(http, (int)c->request_timeout_s);
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* every method reaches the router, which answers 405 in JSON */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	                                     EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_default_content_type(http, "application/json");
	evhttp_set_gencb(http, http_on_request, w);
	return http;
}

bool worker_http_setup(struct worker *w)
{
	const struct config *c = &w->srv->cfg;
	if (!conns_setup(w))
		return false;
	w->http = http_new(w);
	if (w->http == NULL)
		return false;
	evhttp_set_bevcb(w->http, conn_plain_bevcb, w);
	w->listen_dup = w->tls_listen_dup = -1;
	w->bound = listen_on(w, w->http, w->srv->listen_fd, &w->listen_dup);
	if (w->bound == NULL)
		return false;
	if (c->tls_listen[0] != '\0') {
		w->tls_http = http_new(w);
		if (w->tls_http == NULL)
			return false;
		evhttp_set_bevcb(w->tls_http, conn_tls_bevcb, w);
		w->tls_bound = listen_on(w, w->tls_http, w->srv->tls_listen_fd, &w->tls_listen_dup);
		if (w->tls_bound == NULL)
			return false;
	}
	w->accepting = true;
	return true;
}

void worker_begin_drain(struct worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	w->accepting = false;
	if (w->bound != NULL) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->tls_bound != NULL) {
		evhttp_del_accept_socket(w->tls_http, w->tls_bound);
		w->tls_bound = NULL;
	}
	/* the next turn of the loop, once the deletions have reached epoll */
	static const struct timeval now = {0, 0};
	if (w->listen_dup >= 0)
		event_base_once(w->base, -1, EV_TIMEOUT, close_dup, &w->listen_dup, &now);
	if (w->tls_listen_dup >= 0)
		event_base_once(w->base, -1, EV_TIMEOUT, close_dup, &w->tls_listen_dup, &now);
	worker_drain_check(w);
}

void worker_http_free(struct worker *w)
{
	/* the connections they still hold are freed too; conn_closed() sees
	 * srv->stopping and leaves the other workers alone */
	conns_hook_pending(w);
	if (w->http != NULL)
		evhttp_free(w->http);
	if (w->tls_http != NULL)
		evhttp_free(w->tls_http);
	w->http = w->tls_http = NULL;
	close_dup(-1, 0, &w->listen_dup);
	close_dup(-1, 0, &w->tls_listen_dup);
	conns_free(w);
}
