/*
 * The answers a call gives: JSON, a body as it is, an error, a 503, a
 * statement's failure. Each hands its one answer to the request's driver
 * (request_answer, daemon/request.c), which sends it and frees the
 * request. Also request_exec_or_reply, which may answer 503 in its
 * caller's stead.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

void reply_raw(struct request *r, int status, const char *body, size_t len)
{
	request_answer(r, status, "application/json", "no-store", body, len, true);
}

void reply_static(struct request *r, int status, const char *content_type,
                  const char *cache_control, const void *body, size_t len)
{
	request_answer(r, status, content_type, cache_control, body, len, false);
}

void reply_json(struct request *r, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	reply_raw(r, status, s, s ? strlen(s) : 0);
	free(s);
}

void reply_error(struct request *r, const struct cd_error *err)
{
	request_answer_error(r, err);
}

void reply_simple_error(struct request *r, int status, const char *code, const char *field,
                        const char *message)
{
	struct cd_error err;
	cd_error_set(&err, status, code, field ? field : "", "%s", message);
	reply_error(r, &err);
}

void reply_unavailable_because(struct request *r, const char *message)
{
	struct cd_error err;
	unavailable_error(r, message, &err);
	reply_error(r, &err);
}

void reply_unavailable(struct request *r)
{
	reply_unavailable_because(r, HTTP_DB_UNAVAILABLE);
}

void reply_db_failure(struct request *r, const PGresult *res, const char *what)
{
	struct cd_error err;
	db_failure_error(r, res, what, &err);
	reply_error(r, &err);
}

bool request_exec_or_reply(struct request *r, enum stmt st, const char *const *params, pgpool_cb cb)
{
	if (!pgpool_exec(r->w->pool, st, params, cb, r)) {
		reply_unavailable(r);
		return false;
	}
	return true;
}
