/*
 * GET /metrics: the Prometheus text format (0.0.4) on its own listener
 * ([metrics] listen), served by the main thread's loop.
 *
 * Counting adds no lock and no shared cache line to a request: every
 * worker owns a metrics_block (cache-line aligned, allocated apart from
 * everything else) that only its own thread writes, with relaxed atomic
 * stores; a scrape sums the blocks of all workers with relaxed loads. The
 * database gauges come from each worker's pool (pgpool_gauges), the
 * process_* series from /proc/self.
 *
 * No label value comes from a request: a route is its pattern
 * ("/v1/lenders/{lender}/loans/{loan_id}"), an unrouted request is
 * route="unmatched", methods and codes come from fixed tables.
 */
#ifndef CD_METRICS_H
#define CD_METRICS_H

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "server.h"

struct route;

/* A worker's counters, zeroed; NULL when out of memory, or when the route
 * table has outgrown the block (logged). */
struct metrics_block *metrics_block_new(void);
void metrics_block_free(struct metrics_block *b);

/* ---- counting: each called by the worker's own thread only ---- */

/* One answer (daemon/request.c): its route (NULL when none matched), method,
 * status, and the time since the request arrived. */
void metrics_request(struct worker *w, const struct route *route, enum evhttp_cmd_type method,
                     int status, int64_t duration_ns);
/* A new loan recorded (201), by the rule that it was approved under. */
void metrics_approval(struct worker *w, const struct loan *l);
/* A disbursement decided and stored: allowed, or refused with the blockers
 * of the answer (bits of enum blocker, the request's included). A replay
 * of a stored answer is not a new decision and is not counted. */
void metrics_decision_allowed(struct worker *w);
void metrics_decision_refused(struct worker *w, unsigned blockers);
/* The audit events not sealed yet, as last counted (daemon/sealer.c). */
void metrics_audit_unsealed(struct worker *w, int64_t n);

/* ---- the operator's signals (docs/operations.md, "Signals for the operator") ---- */

/* A configuration load: at start (ok) and at every SIGHUP, from the main
 * thread; now_s is the time of it, in seconds since the epoch. */
void metrics_config_reload(bool ok, int64_t now_s);
/* The notAfter of the TLS certificate in force (seconds since the epoch),
 * from the main thread; -1: no HTTPS. */
void metrics_tls_certificate(int64_t not_after_s);
/* What worker 0 read from the database (daemon/signals.c): the newest
 * checkpoint's time in seconds since the epoch (0 when there is none) and
 * whether the MRP and the holiday calendar of the coming year are missing. */
void metrics_operator_signals(int64_t last_checkpoint_s, bool mrp_next_year_missing,
                              bool calendar_next_year_missing);
/* Today's local date that worker 0 read with them (days since 1970-01-01):
 * which profile of a schedule is in force (coolingd_policy_info). */
void metrics_policy_today(int64_t today_days);

/* ---- the listener, on the main thread ---- */

/* Serves GET /metrics on s->metrics_fd (bound by server_listen) from
 * s->main_base; nothing when [metrics] listen is empty. */
bool metrics_setup(struct server *s);
void metrics_free(struct server *s);

/* The whole exposition, every worker summed, appended to out. */
void metrics_write(struct server *s, struct evbuffer *out);

#endif
