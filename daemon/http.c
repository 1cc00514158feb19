/*
 * What every HTTP file of the daemon may take, and that calls none of them:
 * the names of methods and statuses, a request's id, the Retry-After header, the errors of
 * a request that was not served (a 503) or whose statement failed, the
 * Date of an answer, and the end of a draining worker's loop.
 */
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "token_random.h"

const char *http_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "OTHER";
}

const char *http_reason_phrase(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 304:
		return "Not Modified";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

void http_request_id(struct evhttp_request *req, char out[REQUEST_ID_BUF])
{
	const char *given =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
	if (request_id_valid(given)) {
		snprintf(out, REQUEST_ID_BUF, "%s", given);
		return;
	}
	if (request_id_generate(out))
		return;
	/* no randomness from the kernel (never seen on a running system):
	 * the wall clock, the process and the request's address still make a
	 * repeat unlikely */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, REQUEST_ID_BUF, "t%llx.%lx-%lx.%lx", (unsigned long long)ts.tv_sec,
	         (unsigned long)ts.tv_nsec, (unsigned long)getpid(), (unsigned long)(uintptr_t)req);
}

void set_retry_after(struct request *r, int64_t seconds)
{
	if (seconds <= 0)
		return;
	char s[24];
	snprintf(s, sizeof(s), "%lld", (long long)seconds);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", s);
}

bool unavailable_error(struct request *r, const char *message, struct cd_error *err)
{
	set_retry_after(r, 1);
	return cd_error_set(err, 503, "unavailable", "", "%s", message);
}

bool db_failure_error(struct request *r, const PGresult *res, const char *what,
                      struct cd_error *err)
{
	if (res == NULL || db_error_is_unavailable(res))
		return unavailable_error(r, HTTP_DB_UNAVAILABLE, err);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	log_kv(LOG_ERROR, "database error", "statement", what, "sqlstate", db_sqlstate(res),
	       "error", msg ? msg : "", NULL);
	return cd_error_set(err, 500, "internal_error", "", "internal error; nothing was decided");
}

const char *http_date(struct worker *w)
{
	time_t now = time(NULL);
	if (now != w->date_s || w->date[0] == '\0') {
		struct tm tm;
		gmtime_r(&now, &tm);
		evutil_date_rfc1123(w->date, sizeof(w->date), &tm);
		w->date_s = now;
	}
	return w->date;
}

void worker_drain_check(struct worker *w)
{
	if (w->draining && w->in_flight == 0) {
		/* a moment for the last replies to leave the socket buffers */
		struct timeval tv = {0, 200 * 1000};
		event_base_loopexit(w->base, &tv);
	}
}
