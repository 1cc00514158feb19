/*
 * Authentication, a step of the request's driver (daemon/request.c): the
 * bearer token, checked against the database (alone, or in the same
 * statement as the call's first read), the role and the lender it may act
 * for, and the failed-authentication limit per source address. Each check
 * returns its verdict; the driver sends the statement and answers.
 */
#include <event2/http.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "pgpool.h"
#include "ratelimit.h"

/* The request's source address, as the failed-authentication limit counts
 * it (r->source; family 0 when unknown) and as its log line names it. */
static void take_source(struct request *r)
{
	char *addr = NULL;
	ev_uint16_t port = 0;
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(r->peer, sizeof(r->peer), "%s", addr ? addr : "");
	if (addr == NULL || !ratelimit_key(addr, &r->source))
		memset(&r->source, 0, sizeof(r->source));
}

static bool too_many_failures(struct request *r, int64_t retry_s, struct cd_error *err)
{
	set_retry_after(r, retry_s);
	return cd_error_set(err, 429, "too_many_requests", "",
	                    "too many failed authentications from this address; "
	                    "try again after Retry-After seconds");
}

/* A presented token that did not verify: counts against the source address.
 * why is the 401's message. */
static bool auth_failed(struct request *r, const char *why, struct cd_error *err)
{
	if (r->auth_blocked_retry_s > 0) {
		ratelimit_failure(&r->source);
		return too_many_failures(r, r->auth_blocked_retry_s, err);
	}
	if (ratelimit_failure(&r->source)) {
		char n[32], win[32];
		snprintf(n, sizeof(n), "%lld", (long long)r->rt->cfg.auth_failures_per_minute);
		snprintf(win, sizeof(win), "%llds", (long long)r->rt->cfg.auth_failure_window_s);
		log_kv(LOG_WARN,
		       "too many failed authentications; refusing this address for a while", "peer",
		       r->peer, "failures", n, "window", win, NULL);
	}
	return cd_error_set(err, 401, "unauthorized", "", "%s", why);
}

/* ---- a client's last use, for the access review ---- */

/* A client's use is written at most this often per worker, so that the
 * review's last_used_at is right to a minute and costs a write per client
 * and minute, not per request. */
#define SEEN_EVERY_MS 60000
#define SEEN_SLOTS    64

/* Per worker thread: the clients written last, by a hash of the name (a
 * collision only writes again sooner). */
static _Thread_local struct {
	char name[sizeof(((struct request *)0)->client)];
	int64_t at_ms;
} seen[SEEN_SLOTS];

static void on_seen(PGresult *res, void *arg)
{
	(void)arg;
	if (res != NULL && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_kv(LOG_WARN, "recording a client's last use failed", "error",
		       PQresultErrorMessage(res), NULL);
}

static void note_seen(struct request *r)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = r->client; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	int64_t now = mono_ms();
	unsigned i = h % SEEN_SLOTS;
	if (strcmp(seen[i].name, r->client) == 0 && now - seen[i].at_ms < SEEN_EVERY_MS)
		return;
	const char *params[] = {r->client};
	/* best effort: a full queue or an absent database skips this use */
	if (pgpool_exec(r->w->pool, STMT_CLIENT_SEEN, params, on_seen, NULL)) {
		snprintf(seen[i].name, sizeof(seen[i].name), "%s", r->client);
		seen[i].at_ms = now;
	}
}

bool auth_check(struct request *r, const PGresult *res, struct cd_error *err)
{
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		return db_failure_error(r, res, "auth", err);
	struct db_auth_row a;
	if (!db_auth_row(res, &a) || !token_hash_equal(a.token_hash, r->token_hash)) {
		/* revoked, perhaps: no longer spared by the rate limit */
		if (ratelimit_enabled())
			ratelimit_valid_forget(r->token_hash);
		return auth_failed(r, "unknown or revoked token", err);
	}
	/* An expired token is no longer spared either; saying so tells its
	 * holder (who proved to hold it) to ask for a new one. */
	if (a.expired) {
		if (ratelimit_enabled())
			ratelimit_valid_forget(r->token_hash);
		return auth_failed(r, "token expired", err);
	}
	if (ratelimit_enabled())
		ratelimit_valid_remember(r->token_hash);
	snprintf(r->client, sizeof(r->client), "%s", a.name);
	note_seen(r);
	r->role = role_parse(a.role);
	snprintf(r->client_lender, sizeof(r->client_lender), "%s", a.lender);

	if (!(r->route->roles & r->role))
		return cd_error_set(err, 403, "forbidden", "", "this role may not make this call");
	if ((r->route->flags & RF_LENDER_SCOPED) && r->role == ROLE_LENDER &&
	    strcmp(r->params[0], r->client_lender) != 0)
		return cd_error_set(err, 403, "forbidden", "",
		                    "this token belongs to another lender");
	return true;
}

bool auth_token_take(struct request *r, struct cd_error *err)
{
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	const char *token = NULL;
	if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		token = auth + 7;
		while (*token == ' ')
			token++;
	}
	bool well_formed = token != NULL && token_parse_id(token, r->token_id);
	if (well_formed)
		token_hash(token, r->token_hash);
	if (auth != NULL && ratelimit_enabled()) {
		/* An address that failed too often gets 429 for a token that
		 * cannot be valid, without a database round trip. A well-formed
		 * token is still looked up: other tokens failing from the same
		 * address (a shared proxy, a NAT) must never lock out a valid
		 * one (CONTRACT.md v1.1). One that authenticated recently is
		 * known to the limit and goes on as from any address; any other
		 * that fails is answered 429, like the malformed ones, so the
		 * blocked address learns nothing new from the answer. */
		take_source(r);
		int64_t retry = ratelimit_blocked(&r->source);
		if (retry > 0 && !well_formed)
			return too_many_failures(r, retry, err);
		if (retry > 0 && !ratelimit_valid_known(r->token_hash))
			r->auth_blocked_retry_s = retry;
	}
	if (!well_formed)
		return cd_error_set(err, 401, "unauthorized", "",
		                    "missing or malformed bearer token");
	return true;
}
