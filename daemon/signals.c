/*
 * What the operator's metrics read from the database (docs/operations.md,
 * "Signals for the operator"): every SIGNALS_INTERVAL_MS, worker 0 asks, in
 * one asynchronous statement (never two at once), for the time of the
 * newest signed audit checkpoint, the newest date of the MRP table,
 * today's local date in policy.timezone, and, when a profile of the
 * schedule waits on a calendar, today's date in the calendar's zone and
 * which of its year and the next the calendar holds. The database's clock
 * and date, as for every other rule: several daemons on one database then
 * agree. Whether the MRP or the calendar of the coming year is missing is
 * policy_mrp_next_year_missing()'s and
 * policy_calendar_next_year_missing()'s to say; today's date also picks
 * the profile of a schedule that coolingd_policy_info shows.
 */
#include <stdbool.h>

#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "server.h"
#include "timeutil.h"

#define SIGNALS_INTERVAL_MS 2000

static bool reading; /* a read is in flight; worker 0's thread alone */

static void on_signals(PGresult *res, void *arg)
{
	struct worker *w = arg;
	reading = false;
	if (res == NULL)
		return; /* the database is away: the gauges keep their last values */
	struct db_operator_signals o;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || !db_operator_signals_of(res, &o)) {
		log_kv(LOG_WARN, "reading the operator's signals failed", "error",
		       PQresultErrorMessage(res), NULL);
		return;
	}
	int64_t checkpoint_s =
	    o.last_checkpoint_us == TS_NULL ? 0 : o.last_checkpoint_us / USEC_PER_SEC;
	/* no date: no profile of the schedule had a calendar when it was asked */
	bool calendar_missing = o.calendar_today_days != TS_NULL &&
	                        policy_calendar_next_year_missing(
	                            &server_runtime(w->srv)->schedule, o.calendar_today_days,
	                            o.calendar_this_year, o.calendar_next_year);
	metrics_operator_signals(checkpoint_s,
	                         policy_mrp_next_year_missing(o.today_days, o.newest_mrp_days),
	                         calendar_missing);
	metrics_policy_today(o.today_days);
}

static void on_signals_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (reading || w->draining || !pgpool_up(w->pool))
		return;
	const struct runtime *rt = server_runtime(w->srv);
	const char *params[] = {rt->cfg.timezone, policy_schedule_calendar_zone(&rt->schedule)};
	reading = pgpool_exec(w->pool, STMT_OPERATOR_SIGNALS, params, on_signals, w);
}

bool operator_signals_setup(struct worker *w)
{
	w->signals_timer = event_new(w->base, -1, EV_PERSIST, on_signals_timer, w);
	if (w->signals_timer == NULL)
		return false;
	struct timeval tv = {SIGNALS_INTERVAL_MS / 1000, (SIGNALS_INTERVAL_MS % 1000) * 1000};
	if (event_add(w->signals_timer, &tv) != 0)
		return false;
	/* the first read as soon as the loop runs, not a period later */
	event_active(w->signals_timer, 0, 0);
	return true;
}
