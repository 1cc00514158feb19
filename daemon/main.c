/*
 * coolingd: the payout gate. main() reads like a table of contents: options,
 * configuration, logging, the listening sockets (bound once), workers (one
 * event loop per core, each with its listener and database pool), the
 * metrics listener (on the main loop), signals, READY, run, drain, exit.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "codec.h"
#include "conninfo.h"
#include "feed.h"
#include "log.h"
#include "metrics.h"
#include "migrations.h"
#include "ratelimit.h"
#include "sealer.h"
#include "server.h"
#include "timeutil.h"
#include "tls.h"

static struct server srv;

/* The systemd watchdog period (WATCHDOG_USEC), 0 when systemd wants none. */
static uint64_t watchdog_usec;

static void usage(FILE *f)
{
	fprintf(f, "usage: coolingd [-c FILE] [--check-config] [--version] [--help]\n"
	           "  -c, --config FILE   configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	           "      --check-config  load and print the effective configuration, then exit\n"
	           "  -V, --version       print the version and exit\n"
	           "Every key K of section [S] can be set with COOLINGD_<S>_<K>.\n");
}

static struct runtime *runtime_new(const struct config *c)
{
	struct runtime *rt = calloc(1, sizeof(*rt));
	if (rt == NULL)
		return NULL;
	rt->cfg = *c;
	config_schedule(c, &rt->schedule);
	rt->sums_days = policy_schedule_aggregates(&rt->schedule);
	return rt;
}

/* policy.allow_below_legal_minimum switches off the guards that hold the
 * cooling period and max_backdate to the law: said at start and at every
 * reload, so that it cannot stay on unnoticed. */
static void warn_if_below_legal_minimum(const struct config *c)
{
	if (!c->allow_below_legal_minimum)
		return;
	struct policy p;
	config_policy(c, &p);
	char period[32], backdate[32];
	snprintf(period, sizeof(period), "%llds", (long long)p.cooling_period_s);
	snprintf(backdate, sizeof(backdate), "%llds", (long long)c->max_backdate_s);
	log_kv(LOG_WARN,
	       "policy.allow_below_legal_minimum is on: the cooling period and max_backdate are "
	       "not held to the legal minimum; for tests only",
	       "cooling_period", period, "max_backdate", backdate, NULL);
}

/* The rules in force, as `coolingctl policy show` prints them. */
static void print_policy_table(const struct config *c)
{
	struct policy_schedule s;
	struct policy_schedule_table t;
	config_schedule(c, &s);
	policy_schedule_table_of(&s, &t);
	char *text = codec_policy_schedule_text(&t);
	if (text != NULL)
		fputs(text, stdout);
	free(text);
}

/*
 * A loop that ends on the drain's timeout leaves requests waiting on the
 * database, and the pools' callbacks answer them: so the pools are closed
 * here, while evhttp still holds those requests (server_free() frees it
 * before the pools), and a closed pool refuses any job a callback retries.
 * Each such request is answered 503, and a moment more of the loop sends
 * the answers, as worker_drain_check() gives the last ones.
 */
static void worker_close_pools(struct worker *w)
{
	bool waiting = w->in_flight > 0;
	pgpool_close(w->pool);
	pgpool_close(w->read_pool);
	if (!waiting)
		return;
	struct timeval tv = {0, 200 * 1000};
	event_base_loopexit(w->base, &tv);
	event_base_dispatch(w->base);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_dispatch(w->base);
	worker_close_pools(w);
	return NULL;
}

static void worker_shutdown_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	if (w->seal_timer)
		event_del(w->seal_timer);
	if (w->unsealed_timer)
		event_del(w->unsealed_timer);
	if (w->signals_timer)
		event_del(w->signals_timer);
	feed_drain(w);
	worker_begin_drain(w);
	/* requests still running after their own timeout are cut short */
	struct timeval tv = {w->srv->cfg.request_timeout_s + 2, 0};
	event_add(w->drain_timer, &tv);
}

static void worker_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	log_kv(LOG_WARN, "drain timed out; closing remaining connections", NULL);
	event_base_loopexit(w->base, NULL);
}

/*
 * The systemd watchdog. A keep-alive sent by the main loop alone would prove
 * only that the main thread runs, while the workers serve every request. So
 * each worker's own loop stamps a heartbeat, and the keep-alive goes out only
 * while every stamp is fresh: a stuck worker makes systemd restart the
 * service instead of leaving a daemon that accepts connections and never
 * answers them.
 */
/* Keep-alives go out every half period, as sd_watchdog_enabled(3) advises;
 * a heartbeat older than that means the worker missed several beats. */
static int64_t watchdog_stale_ms(void)
{
	return (int64_t)(watchdog_usec / 2000);
}

static void on_heartbeat_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct worker *w = arg;
	atomic_store(&w->heartbeat_ms, mono_ms());
}

static bool worker_heartbeat_setup(struct worker *w)
{
	/* Four beats per staleness limit, so that one late timer is no stall;
	 * and at least one a second. */
	uint64_t us = watchdog_usec / 8;
	if (us > 1000000)
		us = 1000000;
	if (us < 1000)
		us = 1000;
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
	atomic_store(&w->heartbeat_ms, mono_ms());
	w->heartbeat_timer = event_new(w->base, -1, EV_PERSIST, on_heartbeat_timer, w);
	return w->heartbeat_timer != NULL && event_add(w->heartbeat_timer, &tv) == 0;
}

static void on_watchdog_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct server *s = arg;
	int64_t now = mono_ms();
	for (int i = 0; i < s->nworkers; i++) {
		int64_t age = now - atomic_load(&s->workers[i].heartbeat_ms);
		if (age > watchdog_stale_ms()) {
			char id[16], ms[32];
			snprintf(id, sizeof(id), "%d", i);
			snprintf(ms, sizeof(ms), "%lld", (long long)age);
			log_kv(LOG_ERROR,
			       "worker event loop stalled; withholding the watchdog keep-alive",
			       "worker", id, "heartbeat_age_ms", ms, NULL);
			return;
		}
	}
	sd_notify(0, "WATCHDOG=1");
}

static struct event *watchdog_start(struct server *s)
{
	struct event *ev = event_new(s->main_base, -1, EV_PERSIST, on_watchdog_timer, s);
	uint64_t us = watchdog_usec / 2;
	struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
	if (ev == NULL || event_add(ev, &tv) != 0) {
		if (ev != NULL)
			event_free(ev);
		return NULL;
	}
	char ms[32];
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(us / 1000));
	log_kv(LOG_INFO, "systemd watchdog on", "keepalive_interval_ms", ms, NULL);
	return ev;
}

/* A worker's loop batches the changes of its epoll set within a turn
 * (libevent's changelist): evhttp disables and enables a connection's read
 * and write events around every request, four epoll_ctl() calls a
 * keep-alive request without it. It is safe while no descriptor in the set
 * is closed before its deletion reaches epoll with a dup() of it still
 * open: the only dup()s are the listeners', which worker_begin_drain()
 * closes a turn after deleting their events. */
static struct event_base *worker_base_new(void)
{
	struct event_config *cfg = event_config_new();
	if (cfg == NULL)
		return NULL;
	struct event_base *base = NULL;
	if (event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == 0)
		base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static bool workers_setup(struct server *s)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	s->nworkers = s->cfg.threads > 0 ? (int)s->cfg.threads : (cores > 0 ? (int)cores : 1);
	s->workers = calloc((size_t)s->nworkers, sizeof(*s->workers));
	if (s->workers == NULL)
		return false;
	int per_worker = (int)(s->cfg.pool_size / s->nworkers);
	if (per_worker < 1)
		per_worker = 1;
	for (int i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->id = i;
		w->srv = s;
		w->listen_dup = w->tls_listen_dup = -1;
		w->base = worker_base_new();
		w->metrics = metrics_block_new();
		if (w->base == NULL || w->metrics == NULL || !worker_http_setup(w))
			return false;
		struct pgpool_opts po = {
		    .url = s->cfg.database_url,
		    .size = per_worker,
		    .statement_timeout_s = s->cfg.request_timeout_s,
		    .queue_timeout_s = s->cfg.request_timeout_s,
		    .health_timeout_ms = s->cfg.database_health_timeout_s * 1000,
		    .max_queue = 4096,
		    .name = "primary",
		};
		w->pool = pgpool_new(w->base, &po);
		if (s->cfg.database_read_url[0] != '\0') {
			struct pgpool_opts ro = po;
			ro.url = s->cfg.database_read_url;
			ro.read_only = true;
			ro.name = "read";
			if ((w->read_pool = pgpool_new(w->base, &ro)) == NULL)
				return false;
		}
		w->shutdown_ev = event_new(w->base, -1, 0, worker_shutdown_cb, w);
		w->drain_timer = evtimer_new(w->base, worker_drain_timeout_cb, w);
		if (w->pool == NULL || w->shutdown_ev == NULL || w->drain_timer == NULL)
			return false;
		if (watchdog_usec > 0 && !worker_heartbeat_setup(w))
			return false;
		if (i == 0 && s->cfg.audit_seal && !sealer_setup(w))
			return false;
		if (i == 0 && (!unsealed_count_setup(w) || !operator_signals_setup(w)))
			return false;
		if (i == 0 && !feed_setup(w))
			return false;
	}
	return true;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct server *s = arg;
	log_kv(LOG_INFO, "stopping: answering requests in flight", "signal",
	       sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
	sd_notify(0, "STOPPING=1");
	atomic_store(&s->stopping, true);
	for (int i = 0; i < s->nworkers; i++)
		event_active(s->workers[i].shutdown_ev, 0, 0);
	event_base_loopexit(s->main_base, NULL);
}

/* What `systemctl status` shows while the daemon serves (STATUS=): the
 * profile in force and the time of the last configuration load, and after
 * a failed reload, the failure, until a reload succeeds. */
static void notify_status(bool ok, const char *profile, const char *why)
{
	char at[TS_BUF];
	ts_format_utc((int64_t)time(NULL) * USEC_PER_SEC, at);
	if (ok)
		sd_notifyf(0, "READY=1\nSTATUS=serving, profile %s; configuration loaded at %s",
		           profile, at);
	else
		sd_notifyf(0,
		           "READY=1\nSTATUS=reload failed at %s: %s; still serving with the "
		           "previous configuration (profile %s)",
		           at, why, profile);
}

/* Loads the configuration file again and, with HTTPS, the certificate and
 * key: all of it, or (false, msg naming the key) nothing. */
static bool reload(struct server *s, char *msg, size_t msg_size)
{
	struct config c;
	if (!config_load(&c, s->config_path, s->config_path_is_default, msg, msg_size))
		return false;
	char which[512];
	if (config_restart_needed(&s->cfg, &c, which, sizeof(which)))
		log_kv(LOG_WARN, "these keys change only at restart", "keys", which, NULL);
	/* the HTTPS listener itself (tls.listen) is there or not until a restart */
	SSL_CTX *tls = NULL;
	if (s->tls_ctx != NULL && c.tls_listen[0] != '\0' &&
	    (tls = tls_ctx_new(&c, msg, msg_size)) == NULL)
		return false;
	struct runtime *rt = runtime_new(&c);
	if (rt == NULL) {
		if (tls != NULL)
			SSL_CTX_free(tls);
		snprintf(msg, msg_size, "out of memory");
		return false;
	}
	/* Requests in flight keep the snapshot they started with; retired
	 * snapshots are freed at exit. */
	rt->older = atomic_load(&s->rt);
	atomic_store(&s->rt, rt);
	if (tls != NULL) {
		tls_ctx_replace(&s->tls_ctx, tls);
		metrics_tls_certificate(tls_ctx_not_after(tls));
	}
	log_setup(c.log_level, c.log_format);
	warn_if_below_legal_minimum(&c);
	return true;
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct server *s = arg;
	sd_notify(0, "RELOADING=1");
	char msg[512];
	bool ok = reload(s, msg, sizeof(msg));
	metrics_config_reload(ok, (int64_t)time(NULL));
	if (ok)
		log_kv(LOG_INFO, "configuration reloaded", NULL);
	else
		log_kv(LOG_ERROR, "reload failed; keeping the running configuration", "error", msg,
		       NULL);
	notify_status(ok, server_runtime(s)->cfg.profile, msg);
}

static void server_free(struct server *s)
{
	atomic_store(&s->stopping, true);
	for (int i = 0; s->workers && i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		worker_http_free(w);
		pgpool_free(w->pool);
		pgpool_free(w->read_pool);
		if (i == 0)
			feed_free(); /* before its loop: libcurl's socket events */
		if (w->time_events_timer)
			event_free(w->time_events_timer);
		if (w->shutdown_ev)
			event_free(w->shutdown_ev);
		if (w->drain_timer)
			event_free(w->drain_timer);
		if (w->seal_timer)
			event_free(w->seal_timer);
		if (w->unsealed_timer)
			event_free(w->unsealed_timer);
		if (w->signals_timer)
			event_free(w->signals_timer);
		if (w->heartbeat_timer)
			event_free(w->heartbeat_timer);
		if (w->base)
			event_base_free(w->base);
		metrics_block_free(w->metrics);
	}
	free(s->workers);
	metrics_free(s); /* the listening socket, when the listener never took it */
	/* every connection's SSL is gone with the event bases */
	if (s->tls_ctx != NULL)
		tls_ctx_replace(&s->tls_ctx, NULL);
	ratelimit_free();
	sealer_key_free();
	struct runtime *rt = atomic_load(&s->rt);
	while (rt != NULL) {
		struct runtime *older = rt->older;
		free(rt);
		rt = older;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"check-config", no_argument, NULL, 'C'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *path = CONFIG_DEFAULT_PATH;
	bool path_is_default = true, check_only = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			path_is_default = false;
			break;
		case 'C':
			check_only = true;
			break;
		case 'V':
			/* its own schema and the newest whose migration it carries */
			printf("coolingd %s schema %d-%d\n", COOLINGD_VERSION, DB_SCHEMA_VERSION,
			       migrations[migrations_count - 1].version);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	char msg[512];
	if (!config_load(&srv.cfg, path, path_is_default, msg, sizeof(msg))) {
		fprintf(stderr, "coolingd: configuration: %s\n", msg);
		return 1;
	}
	srv.config_path = path;
	srv.config_path_is_default = path_is_default;
	/* The certificate and key are checked at start (and by --check-config):
	 * a daemon that cannot serve HTTPS as configured does not start. */
	if (srv.cfg.tls_listen[0] != '\0') {
		srv.tls_ctx = tls_ctx_new(&srv.cfg, msg, sizeof(msg));
		if (srv.tls_ctx == NULL) {
			fprintf(stderr, "coolingd: configuration: %s\n", msg);
			return 1;
		}
	}
	/* So is the audit signing key: a key that others could read signs
	 * nothing an auditor could trust. */
	if (!sealer_key_load(&srv.cfg, msg, sizeof(msg))) {
		fprintf(stderr, "coolingd: configuration: %s\n", msg);
		if (srv.tls_ctx != NULL)
			SSL_CTX_free(srv.tls_ctx);
		return 1;
	}
	/* and the key of the webhooks' secrets */
	if (!feed_key_load(&srv.cfg, msg, sizeof(msg))) {
		fprintf(stderr, "coolingd: configuration: %s\n", msg);
		if (srv.tls_ctx != NULL)
			SSL_CTX_free(srv.tls_ctx);
		return 1;
	}
	if (check_only) {
		config_dump(&srv.cfg, stdout, conninfo_mask);
		print_policy_table(&srv.cfg);
		if (sealer_key_id()[0] != '\0')
			printf("audit checkpoint key id: %s\n", sealer_key_id());
		sealer_key_free();
		printf("configuration OK\n");
		if (srv.tls_ctx != NULL)
			SSL_CTX_free(srv.tls_ctx);
		return 0;
	}
	log_setup(srv.cfg.log_level, srv.cfg.log_format);
	warn_if_below_legal_minimum(&srv.cfg);
	signal(SIGPIPE, SIG_IGN);

	struct runtime *rt = runtime_new(&srv.cfg);
	if (rt == NULL || evthread_use_pthreads() != 0)
		return 1;
	atomic_store(&srv.rt, rt);
	if (!ratelimit_init(srv.cfg.auth_failures_per_minute, srv.cfg.auth_failure_window_s))
		return 1;

	/* Honours WATCHDOG_PID: a watchdog meant for another process is not ours. */
	int wd = sd_watchdog_enabled(0, &watchdog_usec);
	if (wd < 0)
		log_kv(LOG_WARN, "ignoring an unusable systemd watchdog setting", "error",
		       strerror(-wd), NULL);
	if (wd <= 0)
		watchdog_usec = 0;

	if (!server_listen(&srv) || !workers_setup(&srv)) {
		log_kv(LOG_ERROR, "start-up failed", NULL);
		server_listen_close(&srv);
		server_free(&srv);
		return 1;
	}
	/* every worker has its own dup() now */
	server_listen_close(&srv);
	srv.main_base = event_base_new();
	if (srv.main_base == NULL || !metrics_setup(&srv)) {
		log_kv(LOG_ERROR, "cannot serve the metrics", "key", "metrics.listen", NULL);
		server_free(&srv);
		return 1;
	}
	struct event *sigterm = evsignal_new(srv.main_base, SIGTERM, on_stop_signal, &srv);
	struct event *sigint = evsignal_new(srv.main_base, SIGINT, on_stop_signal, &srv);
	struct event *sighup = evsignal_new(srv.main_base, SIGHUP, on_reload_signal, &srv);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_add(sighup, NULL);
	struct event *watchdog = NULL;
	if (watchdog_usec > 0 && (watchdog = watchdog_start(&srv)) == NULL) {
		log_kv(LOG_ERROR, "cannot start the watchdog timer", NULL);
		return 1;
	}

	for (int i = 0; i < srv.nworkers; i++) {
		if (pthread_create(&srv.workers[i].thread, NULL, worker_main, &srv.workers[i]) !=
		    0) {
			log_kv(LOG_ERROR, "cannot start worker thread", NULL);
			return 1;
		}
	}
	char masked[1024], nworkers[16];
	conninfo_mask(srv.cfg.database_url, masked, sizeof(masked));
	snprintf(nworkers, sizeof(nworkers), "%d", srv.nworkers);
	log_kv(LOG_INFO, "coolingd ready", "version", COOLINGD_VERSION, "listen", srv.cfg.listen,
	       "threads", nworkers, "database", masked, "policy", rt->cfg.profile, "metrics_listen",
	       srv.cfg.metrics_listen[0] ? srv.cfg.metrics_listen : "off",
	       srv.tls_ctx ? "tls_listen" : NULL, srv.cfg.tls_listen,
	       srv.cfg.tls_client_ca_file[0] ? "tls_client_ca_file" : NULL,
	       srv.cfg.tls_client_ca_file, NULL);
	metrics_config_reload(true, (int64_t)time(NULL));
	if (srv.tls_ctx != NULL)
		metrics_tls_certificate(tls_ctx_not_after(srv.tls_ctx));
	notify_status(true, rt->cfg.profile, NULL);

	event_base_dispatch(srv.main_base);

	for (int i = 0; i < srv.nworkers; i++)
		pthread_join(srv.workers[i].thread, NULL);
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	if (watchdog)
		event_free(watchdog);
	metrics_free(&srv);
	event_base_free(srv.main_base);
	server_free(&srv);
	log_kv(LOG_INFO, "coolingd stopped", NULL);
	libevent_global_shutdown();
	return 0;
}
