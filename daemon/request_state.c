/*
 * The request's state table: the names for the trace and the legal
 * changes (request_state.h has the diagram).
 */
#include "request_state.h"

static const char *const state_names[REQ_NSTATES] = {
    [REQ_HEAD] = "head",
    [REQ_ROUTED] = "routed",
    [REQ_AUTHENTICATING] = "authenticating",
    [REQ_HANDLING] = "handling",
    [REQ_ANSWERED] = "answered",
};

/* legal[from] has bit `to` set for each state that may follow */
#define TO(s) (1u << (s))
static const unsigned legal[REQ_NSTATES] = {
    [REQ_HEAD] = TO(REQ_ROUTED) | TO(REQ_ANSWERED),
    [REQ_ROUTED] = TO(REQ_AUTHENTICATING) | TO(REQ_HANDLING) | TO(REQ_ANSWERED),
    [REQ_AUTHENTICATING] = TO(REQ_HANDLING) | TO(REQ_ANSWERED),
    [REQ_HANDLING] = TO(REQ_ANSWERED),
    [REQ_ANSWERED] = 0,
};

const char *request_state_name(enum request_state s)
{
	return (unsigned)s < REQ_NSTATES ? state_names[s] : "?";
}

bool request_state_legal(enum request_state from, enum request_state to)
{
	return (unsigned)from < REQ_NSTATES && (unsigned)to < REQ_NSTATES &&
	       (legal[from] & TO(to)) != 0;
}
