/*
 * The request's state table (daemon/request_state.c), which the request's
 * driver (daemon/request.c) checks every change against: a request moves
 * only forward, every state before ANSWERED may end in an answer, a route
 * without authentication skips AUTHENTICATING, nothing follows ANSWERED (a
 * second reply to one request), and no state is a dead end or out of
 * reach.
 */
#include <check.h>
#include <string.h>

#include "../daemon/request_state.h"
#include "check_main.h"

START_TEST(test_the_authenticated_way_is_legal_step_by_step)
{
	ck_assert(request_state_legal(REQ_HEAD, REQ_ROUTED));
	ck_assert(request_state_legal(REQ_ROUTED, REQ_AUTHENTICATING));
	ck_assert(request_state_legal(REQ_AUTHENTICATING, REQ_HANDLING));
	ck_assert(request_state_legal(REQ_HANDLING, REQ_ANSWERED));
}
END_TEST

START_TEST(test_a_route_without_authentication_goes_from_routed_to_handling)
{
	ck_assert(request_state_legal(REQ_ROUTED, REQ_HANDLING));
}
END_TEST

START_TEST(test_every_state_before_answered_may_be_answered)
{
	for (int s = REQ_HEAD; s < REQ_ANSWERED; s++)
		ck_assert_msg(request_state_legal((enum request_state)s, REQ_ANSWERED), "%s",
		              request_state_name((enum request_state)s));
}
END_TEST

START_TEST(test_nothing_follows_answered_and_no_state_repeats_or_goes_back)
{
	for (int to = 0; to < REQ_NSTATES; to++)
		ck_assert(!request_state_legal(REQ_ANSWERED, (enum request_state)to));
	for (int from = 0; from < REQ_NSTATES; from++)
		for (int to = 0; to <= from; to++)
			ck_assert_msg(
			    !request_state_legal((enum request_state)from, (enum request_state)to),
			    "%s -> %s", request_state_name((enum request_state)from),
			    request_state_name((enum request_state)to));
}
END_TEST

START_TEST(test_handling_needs_a_route_and_the_head_cannot_skip_to_handling)
{
	ck_assert(!request_state_legal(REQ_HEAD, REQ_HANDLING));
	ck_assert(!request_state_legal(REQ_HEAD, REQ_AUTHENTICATING));
}
END_TEST

/* The states reachable from `from` by legal changes, as a bit set. */
static unsigned reachable_from(enum request_state from)
{
	unsigned seen = 1u << from, before = 0;
	while (seen != before) {
		before = seen;
		for (int s = 0; s < REQ_NSTATES; s++)
			if (seen & (1u << s))
				for (int to = 0; to < REQ_NSTATES; to++)
					if (request_state_legal((enum request_state)s,
					                        (enum request_state)to))
						seen |= 1u << to;
	}
	return seen;
}

START_TEST(test_every_state_is_reached_from_head_and_reaches_answered)
{
	unsigned from_head = reachable_from(REQ_HEAD);
	for (int s = 0; s < REQ_NSTATES; s++) {
		ck_assert_msg(from_head & (1u << s), "%s is never reached",
		              request_state_name((enum request_state)s));
		ck_assert_msg(reachable_from((enum request_state)s) & (1u << REQ_ANSWERED),
		              "%s never ends in an answer",
		              request_state_name((enum request_state)s));
	}
}
END_TEST

START_TEST(test_a_call_never_goes_back_to_its_token_or_its_route)
{
	ck_assert(!request_state_legal(REQ_HANDLING, REQ_AUTHENTICATING));
	ck_assert(!request_state_legal(REQ_HANDLING, REQ_ROUTED));
	ck_assert(!request_state_legal(REQ_AUTHENTICATING, REQ_ROUTED));
}
END_TEST

START_TEST(test_every_state_has_a_name_and_a_value_out_of_range_does_not_crash)
{
	const char *names[] = {"head", "routed", "authenticating", "handling", "answered"};
	for (int s = 0; s < REQ_NSTATES; s++)
		ck_assert_str_eq(request_state_name((enum request_state)s), names[s]);
	ck_assert_str_eq(request_state_name(REQ_NSTATES), "?");
	ck_assert(!request_state_legal(REQ_NSTATES, REQ_ANSWERED));
	ck_assert(!request_state_legal(REQ_HEAD, REQ_NSTATES));
}
END_TEST

static Suite *request_state_suite(void)
{
	Suite *s = suite_create("request_state");
	TCase *tc = tcase_create("request_state");
	tcase_add_test(tc, test_the_authenticated_way_is_legal_step_by_step);
	tcase_add_test(tc, test_a_route_without_authentication_goes_from_routed_to_handling);
	tcase_add_test(tc, test_every_state_before_answered_may_be_answered);
	tcase_add_test(tc, test_nothing_follows_answered_and_no_state_repeats_or_goes_back);
	tcase_add_test(tc, test_handling_needs_a_route_and_the_head_cannot_skip_to_handling);
	tcase_add_test(tc, test_every_state_is_reached_from_head_and_reaches_answered);
	tcase_add_test(tc, test_a_call_never_goes_back_to_its_token_or_its_route);
	tcase_add_test(tc, test_every_state_has_a_name_and_a_value_out_of_range_does_not_crash);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(request_state_suite)
