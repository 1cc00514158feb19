/*
 * The tests' webhook receiver (receiver.h).
 */
#include "support/receiver.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RECEIVER_MAX 20000

struct receiver {
	struct event_base *base;
	struct evhttp *http;
	pthread_t thread;
	pthread_mutex_t lock;
	int port;
	int status;
	int n;
	struct delivery *got;
};

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct receiver *r = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char *body = malloc(len + 1);
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	pthread_mutex_lock(&r->lock);
	int status = r->status;
	if (r->n < RECEIVER_MAX) {
		struct delivery *d = &r->got[r->n++];
		d->body = body;
		d->signature = dup_or_empty(evhttp_find_header(h, "Coolingd-Signature"));
		d->webhook_id = dup_or_empty(evhttp_find_header(h, "Coolingd-Webhook-Id"));
		d->content_type = dup_or_empty(evhttp_find_header(h, "Content-Type"));
		d->answered = status;
	} else {
		free(body);
	}
	pthread_mutex_unlock(&r->lock);
	if (status != 0)
		evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", NULL);
}

static void *run(void *arg)
{
	struct receiver *r = arg;
	event_base_dispatch(r->base);
	return NULL;
}

struct receiver *receiver_start(void)
{
	evthread_use_pthreads();
	struct receiver *r = calloc(1, sizeof(*r));
	r->got = calloc(RECEIVER_MAX, sizeof(*r->got));
	r->status = 200;
	pthread_mutex_init(&r->lock, NULL);
	r->base = event_base_new();
	r->http = r->base ? evhttp_new(r->base) : NULL;
	if (r->http == NULL)
		return NULL;
	evhttp_set_gencb(r->http, on_request, r);
	struct evhttp_bound_socket *s = evhttp_bind_socket_with_handle(r->http, "127.0.0.1", 0);
	if (s == NULL)
		return NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(evhttp_bound_socket_get_fd(s), (struct sockaddr *)&ss, &sl);
	r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (pthread_create(&r->thread, NULL, run, r) != 0)
		return NULL;
	return r;
}

int receiver_port(const struct receiver *r)
{
	return r->port;
}

void receiver_set_status(struct receiver *r, int status)
{
	pthread_mutex_lock(&r->lock);
	r->status = status;
	pthread_mutex_unlock(&r->lock);
}

int receiver_count(struct receiver *r)
{
	pthread_mutex_lock(&r->lock);
	int n = r->n;
	pthread_mutex_unlock(&r->lock);
	return n;
}

bool receiver_get(struct receiver *r, int i, struct delivery *out)
{
	pthread_mutex_lock(&r->lock);
	bool ok = i < r->n;
	if (ok) {
		const struct delivery *d = &r->got[i];
		out->body = strdup(d->body);
		out->signature = strdup(d->signature);
		out->webhook_id = strdup(d->webhook_id);
		out->content_type = strdup(d->content_type);
		out->answered = d->answered;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

void delivery_free(struct delivery *d)
{
	free(d->body);
	free(d->signature);
	free(d->webhook_id);
	free(d->content_type);
}

void receiver_stop(struct receiver *r)
{
	if (r == NULL)
		return;
	event_base_loopbreak(r->base);
	pthread_join(r->thread, NULL);
	evhttp_free(r->http);
	event_base_free(r->base);
	for (int i = 0; i < r->n; i++)
		delivery_free(&r->got[i]);
	free(r->got);
	free(r);
}
