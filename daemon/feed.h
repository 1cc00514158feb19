/*
 * Time events and webhook deliveries (daemon/feed.c): run by worker 0,
 * inside its loop.
 */
#ifndef CD_FEED_H
#define CD_FEED_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "server.h"

/* Loads the key of [webhooks] secret_key, if set (then webhooks are
 * delivered). On false, msg names the key and why: the daemon must not
 * start. */
bool feed_key_load(const struct config *cfg, char *msg, size_t msg_size);

/* Worker 0: the time events' timer, and the deliverer when webhooks are
 * on. */
bool feed_setup(struct worker *w);
/* Worker w's drain begins (a clean stop): worker 0 drops the POSTs under
 * way and releases its endpoints' leases, the drain waiting for that. */
void feed_drain(struct worker *w);
/* Before worker 0's loop is freed. */
void feed_free(void);

/* coolingd_webhook_deliveries_total and coolingd_webhook_events_behind;
 * from the metrics listener's thread. */
void feed_metrics_write(struct evbuffer *out);

#endif
