/*
 * The audit-chain sealer: every SEAL_INTERVAL_MS, worker 0 asks the database
 * to seal the committed audit events that are not sealed yet
 * (cd_audit_seal, sql/002_audit_chain.sql). Writers never wait for it; with
 * several daemons on one database, an advisory lock lets one seal at a time
 * and the others skip. See docs/audit.md.
 */
#include <stdlib.h>

#include "log.h"
#include "server.h"

#define SEAL_INTERVAL_MS 200
#define SEAL_BATCH       "5000"

static void seal_now(struct worker *w);

static void on_sealed(PGresult *res, void *arg)
{
	struct worker *w = arg;
	w->sealing = false;
	if (res == NULL)
		return; /* the database is away; the timer tries again */
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_kv(LOG_ERROR, "audit sealing failed", "error", PQresultErrorMessage(res), NULL);
		return;
	}
	/* a full batch: there is more; go on at once */
	if (PQntuples(res) == 1 && atoll(PQgetvalue(res, 0, 0)) == atoll(SEAL_BATCH) &&
	    !w->draining)
		seal_now(w);
}

static void seal_now(struct worker *w)
{
	if (w->sealing || !pgpool_up(w->pool))
		return;
	const char *params[] = {SEAL_BATCH};
	w->sealing = pgpool_exec(w->pool, STMT_AUDIT_SEAL, params, on_sealed, w);
}

static void on_seal_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	seal_now(arg);
}

bool sealer_setup(struct worker *w)
{
	w->seal_timer = event_new(w->base, -1, EV_PERSIST, on_seal_timer, w);
	if (w->seal_timer == NULL)
		return false;
	struct timeval tv = {0, SEAL_INTERVAL_MS * 1000};
	return event_add(w->seal_timer, &tv) == 0;
}
