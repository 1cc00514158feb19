/*
 * One HTTP request in flight. Its states are r->state (request_state.h has
 * the diagram), advanced by one driver alone (daemon/request.c): the head
 * is checked and routed (daemon/route.c), the token checked
 * (daemon/auth.c), the call handled in one or more statements
 * (daemon/handlers.c, daemon/queries.c).
 *
 * Every path ends in exactly one reply_*() call (daemon/reply.c), which
 * hands the answer to the driver; the driver sends it, writes the
 * access-log line and frees the request. A helper that may do so in its
 * caller's stead is named *_or_reply and returns false when it did: the
 * caller must then not touch the request.
 */
#ifndef CD_REQUEST_H
#define CD_REQUEST_H

#include <event2/http.h>
#include <jansson.h>
#include <stdint.h>

#include "cd_error.h"
#include "codec.h"
#include "names.h"
#include "ratelimit.h"
#include "request_state.h"
#include "server.h"
#include "text.h"
#include "token.h"

struct request;
struct act;
typedef void (*handler_fn)(struct request *r);

enum body_rule { BODY_NONE, BODY_OPTIONAL, BODY_REQUIRED };

/* The flags of a route (struct route's .flags). */
enum route_flag {
	RF_PUBLIC = 1u << 0,        /* no authentication: .roles is 0 */
	RF_LENDER_SCOPED = 1u << 1, /* a lender may use it only for its own lender */
};

struct route {
	enum evhttp_cmd_type method;
	const char *pattern; /* "/v1/lenders/{}/loans/{}" */
	const char *name;    /* for logs */
	unsigned roles;      /* the roles that may make the call */
	unsigned flags;      /* RF_* */
	enum body_rule body;
	/* A call is either a plain handler (called once authorized), or a parse
	 * and a start. parse checks the path and the body without the database
	 * (false with err: 404, 422); start sends the first read, together
	 * with the authentication when `authenticate` (one round trip,
	 * STMT_AUTH_*). The driver (daemon/request.c) takes that way when the
	 * body passes every check that needs no database; else it
	 * authenticates first and then answers the parse's error (kept in the
	 * request: parse runs once), so that a field error is never reported
	 * before the token is checked. */
	handler_fn handler;
	bool (*parse)(struct request *r, struct cd_error *err);
	void (*start)(struct request *r, bool authenticate);
};

#define MAX_PATH_PARAMS 3

struct request {
	enum request_state state; /* the driver's alone (daemon/request.c) */
	struct worker *w;
	struct http_conn *conn; /* NULL when not tracked */
	struct evhttp_request *req;
	const struct route *route;
	const struct runtime *rt; /* the configuration at arrival */
	char params[MAX_PATH_PARAMS][ID_BUF];
	int64_t started_ns;
	/* set once, at arrival: the client's X-Request-Id when valid, else
	 * one made here; in the Request-Id header of the answer, its error
	 * body and its access-log line */
	char request_id[REQUEST_ID_BUF];

	/* the authenticated client */
	char token_id[TOKEN_ID_BUF];
	unsigned char token_hash[TOKEN_HASH_LEN];
	/* > 0: the source address is blocked by the failed-authentication limit
	 * and this token was not known to be valid; a failure is then 429 with
	 * this Retry-After instead of 401 */
	int64_t auth_blocked_retry_s;
	char client[ID_BUF];
	enum role role;
	char client_lender[ID_BUF];
	struct rl_key source; /* the failed-authentication limit's key */
	char peer[64];        /* the source address, for its log line */

	json_t *body;
	/* the body checks' and the parse's failure, when it came before the
	 * token was checked: answered once it is (route_parse) */
	bool parse_failed;
	struct cd_error parse_err;
	int attempts;         /* reads of the loan, bounded (lost races) */
	pgpool_cb after_auth; /* the first read's callback, once authenticated */
	int status;           /* of the one answer, once it is given */

	/* the loan a call on one loan read (r->loan), and the database's now
	 * with it */
	const struct act *act; /* what a loan read leads to (handlers.c) */
	int64_t now;
	char *refusal_body; /* the 409 of a refused disbursement, until stored;
	                       freed with the request */
	int day_attempts;   /* how often an approval decided again (approval_ctx) */
	/* a read that the personal-data access log records: what it does once
	 * its access is recorded (handlers.c, access_record_or_reply) */
	void (*recorded)(struct request *r);

	/* From here on, what only a call with a token uses: zeroed when such a
	 * route is matched (request_tail_clear), up to the claim, so that a
	 * public route such as /healthz does not clear it. */
	struct loan loan;
	/* an approval's context, kept to decide again when another approval of
	 * the borrower's day was recorded first (handlers.c) */
	struct approval_context approval_ctx;
	/* per call: the parsed request of the route's parse(), one member each */
	union {
		struct approval_req approval;             /* POST .../loans */
		struct consent_req consent;               /* POST .../consent */
		struct verification_req verification;     /* POST .../in-person-verification */
		struct cancellation_req cancellation;     /* POST .../cancellation */
		struct reconfirmation_req reconfirmation; /* POST .../reconfirmation */
		struct extra_confirmation_req extra_confirmation; /* POST .../extra-confirmation */
		struct trusted_person_req trusted_person; /* POST .../trusted-person-confirmation */
		struct control_call_req control_call;     /* POST .../control-call */
		struct {
			struct disbursement_req q;
			char idem_key[65];
			bool has_idem_key;
			int64_t retry_after;
			unsigned blockers; /* of a refusal, for the metrics */
		} disbursement;            /* POST .../disbursement */
		struct {
			int64_t page_after, page_limit;
		} query; /* GET /v1/audit, GET /v1/loans */
		struct {
			struct refusal_req q; /* q.iin alone for a GET */
			int status;           /* of the PUT's answer: 201 new, 200 known */
		} refusal;                    /* GET, PUT /v1/voluntary-refusals/{iin} */
		struct {
			struct payee key;     /* kind and id of the path */
			struct refusal_req q; /* a PUT's change; q.iin unused */
			int status;           /* of the PUT's answer: 201 new, 200 known */
		} payee_flag;                 /* GET, PUT /v1/suspicious-payees/{kind}/{id} */
		struct {
			char iin[13];
		} borrower; /* GET /v1/borrowers/{iin}/loans, POST /v1/borrowers/search */
		struct access_query access; /* GET /v1/access-log, POST .../search */
	} call;
	/* The fraud claims' calls, out of the union: 13.5 of the request's 18
	 * KiB, which their parse functions clear (handlers.c), not the
	 * driver for every call with a token. */
	struct {
		int64_t id;                 /* of the path */
		struct claim_open_req open; /* POST /v1/fraud-claims */
		struct claim_close_req close;
		struct fraud_claim got; /* a read's, while its access is recorded */
	} claim;
};

/* Replies; each one ends the request. */
void reply_json(struct request *r, int status, json_t *body);
/* A body sent as it is, with its own Content-Type and Cache-Control (the
 * console's files, daemon/console.c); NULL: no body (304, a redirect). */
void reply_static(struct request *r, int status, const char *content_type,
                  const char *cache_control, const void *body, size_t len);
void reply_raw(struct request *r, int status, const char *body, size_t len);
void reply_error(struct request *r, const struct cd_error *err);
void reply_simple_error(struct request *r, int status, const char *code, const char *field,
                        const char *message);
void reply_unavailable(struct request *r);
/* 503 unavailable with Retry-After: 1, and this message. */
void reply_unavailable_because(struct request *r, const char *message);
/* Adds Retry-After: seconds to the answer (nothing when seconds <= 0;
 * daemon/http.c). */
void set_retry_after(struct request *r, int64_t seconds);
/* Sends a statement's failure: 503 when the database is out of reach,
 * 500 (logged) for anything else. */
void reply_db_failure(struct request *r, const PGresult *res, const char *what);

/* The result of a statement that carried the authentication with the
 * call's first read (a route's start, when authenticate): the driver
 * checks the token and then hands res to r->after_auth, or answers. */
void request_auth_result(struct request *r, PGresult *res);

/* Runs a statement for the request; on refusal by the pool answers 503 and
 * returns false (the request is then freed). */
bool request_exec_or_reply(struct request *r, enum stmt st, const char *const *params, pgpool_cb cb)
    __attribute__((warn_unused_result));

/* The loans of a result (LOAN_NCOLS loan columns, then now), each with
 * its status at the database's now, as a JSON array (handlers.c). */
json_t *loans_json(const PGresult *res);

/* The routes, for daemon/route.c's router and daemon/metrics.c (route.c) */
extern const struct route routes[];
extern const int routes_count;

#endif
