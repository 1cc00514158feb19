/*
 * The states of a request in flight and the changes between them, as
 * data: the request's driver (daemon/request.c, which draws the whole way)
 * checks every change against request_state_legal() and traces it by
 * request_state_name(). Pure, so that the table is unit-tested alone
 * (tests/unit/test_request_state.c).
 *
 *   HEAD --(route found)--> ROUTED --(bearer token)--> AUTHENTICATING
 *     --(role, scope)--> HANDLING --(one reply)--> ANSWERED (freed)
 *
 * A route without authentication goes from ROUTED to HANDLING; every state
 * before ANSWERED may end in an answer (an error, a 503).
 */
#ifndef CD_REQUEST_STATE_H
#define CD_REQUEST_STATE_H

#include <stdbool.h>

enum request_state {
	REQ_HEAD,           /* arrived: the head checks and the router */
	REQ_ROUTED,         /* a route matched; the body is parsed, the token not yet checked */
	REQ_AUTHENTICATING, /* the token's statement (alone or with the first read) is in the pool
	                     */
	REQ_HANDLING,       /* authorized, or a route without authentication: the call runs */
	REQ_ANSWERED,       /* the one reply is handed to evhttp; the request is freed at once */
	REQ_NSTATES
};

/* "head", "routed", ...; "?" for a value out of range. */
const char *request_state_name(enum request_state s);
bool request_state_legal(enum request_state from, enum request_state to);

#endif
