/*
 * What coolingd says by itself (CONTRACT.md v1.2, "The lender's event feed
 * and webhooks"): time events and webhook deliveries, both run by worker 0
 * inside its event loop, never blocking it.
 *
 * Time events: every TIME_EVENTS_INTERVAL_MS one asynchronous statement
 * (cd_time_events, sql/013) writes the events of the moments that have
 * come, by the database's clock; an advisory lock lets one daemon do it at
 * a time, and a unique index keeps each loan's event of a moment single.
 *
 * Webhooks: every TICK_MS the deliverer looks at the endpoints it holds;
 * every LEASE_EVERY_TICKS ticks it takes or renews their leases (a lease
 * row: one daemon per endpoint; another takes over LEASE_S after this one
 * stops renewing). For each endpoint, one thing at a time, in this cycle:
 *
 *   idle --read--> the next events after delivered_seq (at most 100)
 *        --POST--> libcurl's multi interface, its sockets and timer driven
 *                  by libevent (WEBHOOK_TIMEOUT_S for the whole exchange)
 *        --2xx---> delivered_seq moved in the database (under the lease),
 *                  then the next batch at once
 *        --else--> failures and next_attempt_at recorded; the same batch
 *                  (kept in memory, signed afresh) again after the backoff
 *                  (1 s doubling to 10 minutes), and the next waits
 *
 * The cursor moves only after a 2xx, so a crash repeats a batch and never
 * loses one. A clean stop drops the POSTs under way and releases the
 * leases, so that another daemon takes the endpoints over at its next lease
 * round instead of after LEASE_S. The secret is opened in memory from its
 * sealed form with the key of [webhooks] secret_key (docs/security.md) and
 * is never logged.
 */
#include "feed.h"

#include <event2/buffer.h>

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "hex.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"
#include "webhook.h"
#include "webhook_key.h"

#define TIME_EVENTS_INTERVAL_MS 500
#define TICK_MS                 500
#define LEASE_EVERY_TICKS       4
#define LEASE_S                 "10"
/* The endpoints one daemon delivers to at most (the rest wait for the
 * next lease round after one goes). */
#define ENDPOINTS_MAX 1024
#define URL_BUF       2001
#define ERROR_BUF     200

/* ---- time events ---- */

static bool writing_time_events;

static void time_events_now(struct worker *w);

static void on_time_events(PGresult *res, void *arg)
{
	struct worker *w = arg;
	writing_time_events = false;
	if (res == NULL)
		return; /* the database is away; the timer tries again */
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_kv(LOG_ERROR, "writing time events failed", "error", PQresultErrorMessage(res),
		       NULL);
		return;
	}
	/* a full batch: there is more; go on at once */
	if (db_time_events_of(res) == DB_TIME_EVENTS_BATCH && !w->draining)
		time_events_now(w);
}

static void time_events_now(struct worker *w)
{
	if (writing_time_events || w->draining || !pgpool_up(w->pool))
		return;
	struct db_num n;
	const char *params[] = {db_num(&n, DB_TIME_EVENTS_BATCH)};
	writing_time_events = pgpool_exec(w->pool, STMT_TIME_EVENTS, params, on_time_events, w);
}

static void on_time_events_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	time_events_now(arg);
}

/* ---- webhooks: state ---- */

enum delivery_result {
	RESULT_OK,
	RESULT_HTTP_ERROR,
	RESULT_TIMEOUT,
	RESULT_CONNECT_ERROR,
	NRESULTS
};
static const char *const result_names[NRESULTS] = {"ok", "http_error", "timeout", "connect_error"};

enum endpoint_step {
	EP_IDLE,      /* nothing in flight; may start when next_attempt_ms has come */
	EP_READING,   /* STMT_LENDER_EVENTS in flight */
	EP_POSTING,   /* the POST in flight (libcurl) */
	EP_RECORDING, /* STMT_WEBHOOK_DELIVERED or _FAILED in flight */
};

struct endpoint {
	int64_t id;
	char lender[ID_BUF];
	char url[URL_BUF];
	char secret[WEBHOOK_SECRET_BUF];
	int64_t delivered_seq;
	int64_t failures;
	int64_t next_attempt_ms; /* mono_ms() */
	int64_t behind;
	bool leased; /* in the last lease round's result */
	enum endpoint_step step;
	/* the batch in flight */
	int64_t batch_last_seq;
	int64_t batch_events;
	char *body;
	struct curl_slist *headers;
	CURL *easy;
	char curl_error[CURL_ERROR_SIZE];
	struct worker *w;
};

static struct {
	bool on;
	unsigned char key[WEBHOOK_KEY_LEN];
	char owner[96];
	struct worker *w;
	struct endpoint *eps[ENDPOINTS_MAX];
	int neps;
	int tick;
	bool leasing;
	bool releasing; /* a clean stop: the leases are (to be) released */
	CURLM *multi;
	struct event *curl_timer;
	struct event *tick_timer;
} hooks;

/* For GET /metrics, read by the main thread. */
static _Atomic int64_t deliveries[NRESULTS];
static pthread_mutex_t behind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t id, behind;
} behind_shown[ENDPOINTS_MAX];
static int nbehind_shown;

static void behind_publish(void)
{
	pthread_mutex_lock(&behind_lock);
	nbehind_shown = hooks.neps;
	for (int i = 0; i < hooks.neps; i++) {
		behind_shown[i].id = hooks.eps[i]->id;
		behind_shown[i].behind = hooks.eps[i]->behind;
	}
	pthread_mutex_unlock(&behind_lock);
}

void feed_metrics_write(struct evbuffer *out)
{
	evbuffer_add_printf(out,
	                    "# HELP coolingd_webhook_deliveries_total Webhook delivery attempts, "
	                    "by result.\n# TYPE coolingd_webhook_deliveries_total counter\n");
	for (int i = 0; i < NRESULTS; i++)
		evbuffer_add_printf(out, "coolingd_webhook_deliveries_total{result=\"%s\"} %lld\n",
		                    result_names[i], (long long)atomic_load(&deliveries[i]));
	pthread_mutex_lock(&behind_lock);
	if (nbehind_shown > 0)
		evbuffer_add_printf(out,
		                    "# HELP coolingd_webhook_events_behind Sealed events of the "
		                    "endpoint's lender not delivered yet (endpoints this daemon "
		                    "delivers to).\n# TYPE coolingd_webhook_events_behind gauge\n");
	for (int i = 0; i < nbehind_shown; i++)
		evbuffer_add_printf(out, "coolingd_webhook_events_behind{webhook=\"%lld\"} %lld\n",
		                    (long long)behind_shown[i].id,
		                    (long long)behind_shown[i].behind);
	pthread_mutex_unlock(&behind_lock);
}

static void endpoint_free(struct endpoint *ep)
{
	free(ep->body);
	curl_slist_free_all(ep->headers);
	memset(ep->secret, 0, sizeof(ep->secret));
	free(ep);
}

static void endpoint_next(struct endpoint *ep);

/* ---- webhooks: recording the outcome ---- */

static void on_recorded(PGresult *res, void *arg)
{
	struct endpoint *ep = arg;
	ep->step = EP_IDLE;
	bool moved = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	if (ep->failures == 0) { /* a STMT_WEBHOOK_DELIVERED */
		free(ep->body);
		ep->body = NULL;
		if (moved) {
			ep->delivered_seq = ep->batch_last_seq;
			ep->behind =
			    ep->behind > ep->batch_events ? ep->behind - ep->batch_events : 0;
			behind_publish();
			endpoint_next(ep); /* more may be waiting: at once */
			return;
		}
		/* the lease went to another daemon, or the endpoint was removed,
		 * or the database is away: the batch is delivered again, by
		 * whoever holds the lease */
		ep->leased = false;
		return;
	}
	if (!moved)
		ep->leased = false;
}

static void record_failure(struct endpoint *ep, enum delivery_result result, const char *why)
{
	atomic_fetch_add(&deliveries[result], 1);
	ep->failures++;
	int64_t delay = webhook_backoff_ms(ep->failures);
	ep->next_attempt_ms = mono_ms() + delay;
	char id[24], failures[24], delay_s[24];
	snprintf(id, sizeof(id), "%lld", (long long)ep->id);
	snprintf(failures, sizeof(failures), "%lld", (long long)ep->failures);
	snprintf(delay_s, sizeof(delay_s), "%lld", (long long)(delay / 1000));
	log_kv(LOG_WARN, "webhook delivery failed; the batch is retried", "webhook", id, "error",
	       why, "failures", failures, "retry_in_s", delay_s, NULL);
	struct db_num n[2];
	const char *params[] = {db_num(&n[0], ep->id), hooks.owner, why, db_num(&n[1], delay)};
	ep->step = EP_RECORDING;
	if (!pgpool_exec(ep->w->pool, STMT_WEBHOOK_FAILED, params, on_recorded, ep))
		ep->step = EP_IDLE;
}

static void delivered(struct endpoint *ep)
{
	atomic_fetch_add(&deliveries[RESULT_OK], 1);
	ep->failures = 0;
	ep->next_attempt_ms = 0;
	struct db_num n[3];
	const char *params[] = {db_num(&n[0], ep->id), hooks.owner,
	                        db_num(&n[1], ep->delivered_seq),
	                        db_num(&n[2], ep->batch_last_seq)};
	ep->step = EP_RECORDING;
	if (!pgpool_exec(ep->w->pool, STMT_WEBHOOK_DELIVERED, params, on_recorded, ep))
		ep->step = EP_IDLE; /* the batch goes again */
}

/* ---- webhooks: the POST, through libcurl's multi interface ---- */

static void post_done(struct endpoint *ep, CURLcode rc)
{
	long status = 0;
	curl_easy_getinfo(ep->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(hooks.multi, ep->easy);
	curl_easy_cleanup(ep->easy);
	ep->easy = NULL;
	curl_slist_free_all(ep->headers);
	ep->headers = NULL;
	char why[ERROR_BUF];
	if (rc == CURLE_OK && status >= 200 && status < 300) {
		delivered(ep);
		return;
	}
	if (rc == CURLE_OK) {
		snprintf(why, sizeof(why), "HTTP %ld", status);
		record_failure(ep, RESULT_HTTP_ERROR, why);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(why, sizeof(why), "no answer within %d s", WEBHOOK_TIMEOUT_S);
		record_failure(ep, RESULT_TIMEOUT, why);
	} else {
		snprintf(why, sizeof(why), "%.190s",
		         ep->curl_error[0] ? ep->curl_error : curl_easy_strerror(rc));
		record_failure(ep, RESULT_CONNECT_ERROR, why);
	}
}

static void curl_check_done(void)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(hooks.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		struct endpoint *ep = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&ep);
		if (ep != NULL)
			post_done(ep, m->data.result);
	}
}

static void on_curl_socket_event(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	int action =
	    ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	int running;
	curl_multi_socket_action(hooks.multi, fd, action, &running);
	curl_check_done();
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)e;
	(void)userp;
	struct event *ev = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(hooks.multi, s, NULL);
		}
		return 0;
	}
	short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
	                     ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, hooks.w->base, s, kind, on_curl_socket_event, NULL);
	} else {
		ev = event_new(hooks.w->base, s, kind, on_curl_socket_event, NULL);
		if (ev == NULL)
			return -1;
		curl_multi_assign(hooks.multi, s, ev);
	}
	return event_add(ev, NULL) == 0 ? 0 : -1;
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	int running;
	curl_multi_socket_action(hooks.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curl_check_done();
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	if (timeout_ms < 0)
		return evtimer_del(hooks.curl_timer);
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	return evtimer_add(hooks.curl_timer, &tv);
}

/* Sends the batch in ep->body, signed afresh. */
static void post_start(struct endpoint *ep)
{
	char sig[WEBHOOK_SIGNATURE_BUF], h_sig[WEBHOOK_SIGNATURE_BUF + 32], h_id[64];
	int64_t t = (int64_t)time(NULL);
	if (!webhook_sign(ep->secret, t, ep->body, strlen(ep->body), sig)) {
		record_failure(ep, RESULT_CONNECT_ERROR, "signing failed");
		return;
	}
	snprintf(h_sig, sizeof(h_sig), "Coolingd-Signature: %s", sig);
	snprintf(h_id, sizeof(h_id), "Coolingd-Webhook-Id: %lld", (long long)ep->id);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = h ? curl_slist_append(h, h_id) : NULL;
	h = h ? curl_slist_append(h, h_sig) : NULL;
	h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	ep->headers = h;
	ep->easy = curl_easy_init();
	ep->curl_error[0] = '\0';
	if (h == NULL || ep->easy == NULL) {
		record_failure(ep, RESULT_CONNECT_ERROR, "out of memory");
		return;
	}
	CURL *e = ep->easy;
	curl_easy_setopt(e, CURLOPT_URL, ep->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, ep->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(ep->body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ep->curl_error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)ep);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "coolingd/" COOLINGD_VERSION);
	ep->step = EP_POSTING;
	if (curl_multi_add_handle(hooks.multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		ep->easy = NULL;
		record_failure(ep, RESULT_CONNECT_ERROR, "libcurl refused the transfer");
	}
}

/* ---- webhooks: reading the next batch ---- */

static void on_batch(PGresult *res, void *arg)
{
	struct endpoint *ep = arg;
	ep->step = EP_IDLE;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res != NULL)
			log_kv(LOG_ERROR, "reading a webhook's events failed", "error",
			       PQresultErrorMessage(res), NULL);
		return; /* the next tick tries again */
	}
	json_t *events = json_array();
	struct db_audit_event ev;
	int64_t last = ep->delivered_seq, n = 0;
	for (int i = 0; db_audit_event_row(res, i, &ev); i++, n++) {
		last = ev.seq;
		json_array_append_new(events, codec_audit_event_json(
		                                  &(struct codec_audit_event){.seq = ev.seq,
		                                                              .at = ev.at,
		                                                              .actor = ev.actor,
		                                                              .lender = ev.lender,
		                                                              .loan_id = ev.loan_id,
		                                                              .type = ev.type,
		                                                              .detail = ev.detail,
		                                                              .hash = ev.hash}));
	}
	if (n == 0) {
		json_decref(events);
		if (ep->behind != 0) {
			ep->behind = 0;
			behind_publish();
		}
		return;
	}
	json_t *body = json_pack("{s:I,s:o}", "webhook", (json_int_t)ep->id, "events", events);
	ep->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (ep->body == NULL)
		return;
	ep->batch_last_seq = last;
	ep->batch_events = n;
	if (ep->w->draining)
		return; /* the leases are being released: no POST after that */
	post_start(ep);
}

static void endpoint_next(struct endpoint *ep)
{
	if (ep->step != EP_IDLE || !ep->leased || ep->w->draining ||
	    mono_ms() < ep->next_attempt_ms)
		return;
	if (ep->body != NULL) { /* a failed batch: the same again, signed afresh */
		post_start(ep);
		return;
	}
	struct db_num n[2];
	const char *params[] = {ep->lender, db_num(&n[0], ep->delivered_seq),
	                        db_num(&n[1], WEBHOOK_BATCH_MAX)};
	ep->step = EP_READING;
	if (!pgpool_exec(ep->w->pool, STMT_LENDER_EVENTS, params, on_batch, ep))
		ep->step = EP_IDLE;
}

/* ---- webhooks: leases ---- */

static struct endpoint *endpoint_find(int64_t id)
{
	for (int i = 0; i < hooks.neps; i++)
		if (hooks.eps[i]->id == id)
			return hooks.eps[i];
	return NULL;
}

static struct endpoint *endpoint_add(const struct db_webhook_row *row)
{
	if (hooks.neps >= ENDPOINTS_MAX)
		return NULL;
	unsigned char sealed[WEBHOOK_SEALED_LEN];
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)row->id);
	if (strlen(row->secret_sealed) != 2 * WEBHOOK_SEALED_LEN ||
	    !hex_decode(row->secret_sealed, sizeof(sealed), sealed)) {
		log_kv(LOG_ERROR, "a webhook's sealed secret is damaged", "webhook", id, NULL);
		return NULL;
	}
	struct endpoint *ep = calloc(1, sizeof(*ep));
	if (ep == NULL)
		return NULL;
	if (!webhook_secret_open(hooks.key, sealed, ep->secret)) {
		log_kv(LOG_ERROR,
		       "a webhook's secret does not open with [webhooks] secret_key (another key "
		       "sealed it); it is not delivered to",
		       "webhook", id, NULL);
		free(ep);
		return NULL;
	}
	ep->id = row->id;
	ep->w = hooks.w;
	snprintf(ep->lender, sizeof(ep->lender), "%s", row->lender);
	snprintf(ep->url, sizeof(ep->url), "%s", row->url);
	hooks.eps[hooks.neps++] = ep;
	log_kv(LOG_INFO, "delivering to a webhook", "webhook", id, "lender", ep->lender, NULL);
	return ep;
}

static void lease_result(PGresult *res)
{
	if (res == NULL)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_kv(LOG_ERROR, "leasing webhooks failed", "error", PQresultErrorMessage(res),
		       NULL);
		return;
	}
	for (int i = 0; i < hooks.neps; i++)
		hooks.eps[i]->leased = false;
	struct db_webhook_row row;
	for (int i = 0; db_webhook_row(res, i, &row); i++) {
		struct endpoint *ep = endpoint_find(row.id);
		if (ep == NULL && (ep = endpoint_add(&row)) == NULL)
			continue;
		ep->leased = true;
		ep->behind = row.events_behind;
		if (ep->step == EP_IDLE) {
			/* the database's word: another daemon may have moved it
			 * while this one did not hold the lease */
			if (row.delivered_seq != ep->delivered_seq) { /* the batch is stale */
				free(ep->body);
				ep->body = NULL;
			}
			ep->delivered_seq = row.delivered_seq;
			ep->failures = row.failures;
			if (row.next_attempt_at != TS_NULL && row.next_attempt_at > row.now &&
			    ep->next_attempt_ms == 0)
				ep->next_attempt_ms =
				    mono_ms() + (row.next_attempt_at - row.now) / 1000;
		}
	}
	/* endpoints removed, or leased by another daemon: dropped once idle */
	for (int i = 0; i < hooks.neps;) {
		struct endpoint *ep = hooks.eps[i];
		if (!ep->leased && ep->step == EP_IDLE) {
			hooks.eps[i] = hooks.eps[--hooks.neps];
			endpoint_free(ep);
			continue;
		}
		i++;
	}
	behind_publish();
	for (int i = 0; i < hooks.neps; i++)
		endpoint_next(hooks.eps[i]);
}

static void release_leases(void);

static void on_leased(PGresult *res, void *arg)
{
	(void)arg;
	hooks.leasing = false;
	lease_result(res);
	/* a drain that began during the round releases after it, so that the
	 * round cannot take the endpoints back */
	if (hooks.releasing)
		release_leases();
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->draining || !pgpool_up(w->pool))
		return;
	if (hooks.tick++ % LEASE_EVERY_TICKS == 0 && !hooks.leasing) {
		const char *params[] = {hooks.owner, LEASE_S};
		hooks.leasing = pgpool_exec(w->pool, STMT_WEBHOOK_LEASE, params, on_leased, NULL);
	}
	for (int i = 0; i < hooks.neps; i++)
		endpoint_next(hooks.eps[i]);
}

/* ---- a clean stop ---- */

/* The drain waits for the release as for a request (worker_drain_check). */
static void release_done(void)
{
	hooks.w->in_flight--;
	worker_drain_check(hooks.w);
}

static void on_released(PGresult *res, void *arg)
{
	(void)arg;
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		log_kv(LOG_WARN, "releasing the webhook leases failed; they lapse after 10 s",
		       "error", res ? PQresultErrorMessage(res) : "no answer", NULL);
	release_done();
}

static void release_leases(void)
{
	const char *params[] = {hooks.owner};
	if (!pgpool_exec(hooks.w->pool, STMT_WEBHOOK_RELEASE, params, on_released, NULL))
		release_done();
}

void feed_drain(struct worker *w)
{
	if (!hooks.on || hooks.w != w || hooks.releasing)
		return;
	hooks.releasing = true;
	w->in_flight++;
	/* dropped, not awaited: the batch goes again from delivered_seq, by
	 * the daemon that takes the endpoint (at least once) */
	for (int i = 0; i < hooks.neps; i++) {
		struct endpoint *ep = hooks.eps[i];
		ep->leased = false;
		if (ep->easy == NULL)
			continue;
		curl_multi_remove_handle(hooks.multi, ep->easy);
		curl_easy_cleanup(ep->easy);
		ep->easy = NULL;
		curl_slist_free_all(ep->headers);
		ep->headers = NULL;
		ep->step = EP_IDLE;
	}
	if (!hooks.leasing)
		release_leases();
}

/* ---- set-up ---- */

bool feed_key_load(const struct config *cfg, char *msg, size_t msg_size)
{
	if (cfg->webhook_secret_key[0] == '\0')
		return true;
	char why[512];
	if (!webhook_key_load(cfg->webhook_secret_key, hooks.key, why, sizeof(why))) {
		snprintf(msg, msg_size, "webhooks.secret_key: %s", why);
		return false;
	}
	hooks.on = true;
	return true;
}

static struct event *timer_every(struct worker *w, int ms, event_callback_fn fn)
{
	struct event *ev = event_new(w->base, -1, EV_PERSIST, fn, w);
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	if (ev != NULL && event_add(ev, &tv) != 0) {
		event_free(ev);
		return NULL;
	}
	return ev;
}

bool feed_setup(struct worker *w)
{
	w->time_events_timer = timer_every(w, TIME_EVENTS_INTERVAL_MS, on_time_events_timer);
	if (w->time_events_timer == NULL)
		return false;
	if (!hooks.on) {
		log_kv(LOG_INFO, "webhooks off: [webhooks] secret_key is not set", NULL);
		return true;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return false;
	unsigned char nonce[WEBHOOK_NONCE_LEN];
	char host[64] = "", rnd[2 * WEBHOOK_NONCE_LEN + 1];
	if (!webhook_nonce_generate(nonce))
		return false;
	hex_encode(nonce, sizeof(nonce), rnd);
	gethostname(host, sizeof(host) - 1);
	/* unique across daemons and restarts: a restarted daemon waits for
	 * its own old leases to lapse like any other */
	snprintf(hooks.owner, sizeof(hooks.owner), "%.40s:%ld:%s", host, (long)getpid(), rnd);
	hooks.w = w;
	hooks.multi = curl_multi_init();
	hooks.curl_timer = evtimer_new(w->base, on_curl_timeout, NULL);
	if (hooks.multi == NULL || hooks.curl_timer == NULL)
		return false;
	curl_multi_setopt(hooks.multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(hooks.multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	hooks.tick_timer = timer_every(w, TICK_MS, on_tick);
	log_kv(LOG_INFO, "webhooks on", NULL);
	return hooks.tick_timer != NULL;
}

void feed_free(void)
{
	for (int i = 0; i < hooks.neps; i++) {
		struct endpoint *ep = hooks.eps[i];
		if (ep->easy != NULL) {
			curl_multi_remove_handle(hooks.multi, ep->easy);
			curl_easy_cleanup(ep->easy);
		}
		endpoint_free(ep);
	}
	hooks.neps = 0;
	if (hooks.multi != NULL)
		curl_multi_cleanup(hooks.multi);
	if (hooks.curl_timer != NULL)
		event_free(hooks.curl_timer);
	if (hooks.tick_timer != NULL)
		event_free(hooks.tick_timer);
	if (hooks.on)
		curl_global_cleanup();
	memset(hooks.key, 0, sizeof(hooks.key));
}
