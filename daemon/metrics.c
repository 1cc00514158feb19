/*
 * The metrics: each worker's counter block, written by that worker alone;
 * the scrape, which sums them on the main thread; and the listener that
 * serves it. The series and their meaning are listed in
 * docs/operations.md ("Metrics").
 */
#include "metrics.h"

#include <dirent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "feed.h"
#include "http.h"
#include "log.h"
#include "timeutil.h"

/* ---- what is counted, as tables: every label value comes from here ---- */

/* routes[] and one more, for the requests that matched no route */
#define ROUTES_MAX 40

static const enum evhttp_cmd_type methods[] = {
    EVHTTP_REQ_GET,     EVHTTP_REQ_POST,  EVHTTP_REQ_HEAD,    EVHTTP_REQ_PUT,   EVHTTP_REQ_DELETE,
    EVHTTP_REQ_OPTIONS, EVHTTP_REQ_TRACE, EVHTTP_REQ_CONNECT, EVHTTP_REQ_PATCH,
};
#define NMETHODS  (sizeof(methods) / sizeof(methods[0]))
#define METHODS_N (NMETHODS + 1) /* and "OTHER" */

/* The statuses coolingd answers; anything else is counted as "other". */
static const int codes[] = {200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 413,
                            414, 415, 422, 429, 431, 500, 501, 502, 503, 504};
#define NCODES  (sizeof(codes) / sizeof(codes[0]))
#define CODES_N (NCODES + 1)

/* Upper bounds of coolingd_http_request_duration_seconds, up to the
 * default request_timeout. */
static const struct {
	int64_t ns;
	const char *le;
} buckets[] = {
    {1000000, "0.001"},  {2500000, "0.0025"}, {5000000, "0.005"},  {10000000, "0.01"},
    {25000000, "0.025"}, {50000000, "0.05"},  {100000000, "0.1"},  {250000000, "0.25"},
    {500000000, "0.5"},  {1000000000, "1"},   {2500000000, "2.5"}, {5000000000, "5"},
    {10000000000, "10"},
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

enum decision { DECISION_ALLOWED, DECISION_REFUSED, DECISION__COUNT };
static const char *const decision_names[DECISION__COUNT] = {"allowed", "refused"};

/*
 * The rule a loan was approved under, the label of coolingd_approvals_total:
 * the tier its profile fixed at approval (lib/names.h enum rule: card,
 * bank_short, bank_long, mfo), "none" when not cooled.
 */
static enum rule approval_rule(const struct loan *l)
{
	return l->rule >= RULE_NONE && l->rule < RULE__COUNT ? l->rule : RULE_NONE;
}

static const char *rule_label(enum rule r)
{
	return r == RULE_NONE ? "none" : name_of(&rule_names, r);
}

/* A path parameter's name in a route label, by the segment before it:
 * the names of docs/openapi.yaml. */
static const struct {
	const char *after;
	const char *name;
} param_names[] = {
    {"lenders", "lender"},
    {"loans", "loan_id"},
    {"borrowers", "iin"},
};

/* ---- a worker's block ---- */

typedef _Atomic uint64_t counter;

struct metrics_block {
	/* aligned so that no other object shares its first or last line */
	_Alignas(64) counter requests[ROUTES_MAX][METHODS_N][CODES_N];
	counter duration[ROUTES_MAX][NBUCKETS + 1]; /* not cumulative; the last: above all */
	counter duration_ns[ROUTES_MAX];
	counter decisions[DECISION__COUNT];
	counter refusals[BLOCKER__COUNT];
	counter approvals[RULE__COUNT];
	_Atomic int64_t audit_unsealed; /* -1: not counted yet */
};

struct metrics_block *metrics_block_new(void)
{
	if (routes_count + 1 > ROUTES_MAX) {
		log_kv(LOG_ERROR, "more routes than the metrics can count; raise ROUTES_MAX", NULL);
		return NULL;
	}
	void *p = NULL;
	if (posix_memalign(&p, 64, sizeof(struct metrics_block)) != 0)
		return NULL;
	struct metrics_block *b = p;
	memset(b, 0, sizeof(*b));
	atomic_init(&b->audit_unsealed, -1);
	return b;
}

void metrics_block_free(struct metrics_block *b)
{
	free(b);
}

/* The owner's increment: a plain load and store, no locked instruction;
 * relaxed, so that the scrape's loads are no data race. */
static inline void add(counter *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	                      memory_order_relaxed);
}

static inline uint64_t get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static size_t route_index(const struct route *route)
{
	if (route == NULL || route < routes || route >= routes + routes_count)
		return (size_t)routes_count; /* unmatched */
	return (size_t)(route - routes);
}

static size_t method_index(enum evhttp_cmd_type m)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (methods[i] == m)
			return i;
	return NMETHODS;
}

static size_t code_index(int status)
{
	for (size_t i = 0; i < NCODES; i++)
		if (codes[i] == status)
			return i;
	return NCODES;
}

void metrics_request(struct worker *w, const struct route *route, enum evhttp_cmd_type method,
                     int status, int64_t duration_ns)
{
	struct metrics_block *b = w->metrics;
	if (b == NULL)
		return;
	size_t ri = route_index(route), bi = 0;
	while (bi < NBUCKETS && duration_ns > buckets[bi].ns)
		bi++;
	add(&b->requests[ri][method_index(method)][code_index(status)], 1);
	add(&b->duration[ri][bi], 1);
	add(&b->duration_ns[ri], duration_ns > 0 ? (uint64_t)duration_ns : 0);
}

void metrics_approval(struct worker *w, const struct loan *l)
{
	if (w->metrics != NULL)
		add(&w->metrics->approvals[approval_rule(l)], 1);
}

void metrics_decision_allowed(struct worker *w)
{
	if (w->metrics != NULL)
		add(&w->metrics->decisions[DECISION_ALLOWED], 1);
}

void metrics_decision_refused(struct worker *w, unsigned blockers)
{
	struct metrics_block *b = w->metrics;
	if (b == NULL)
		return;
	add(&b->decisions[DECISION_REFUSED], 1);
	for (int i = 0; i < BLOCKER__COUNT; i++)
		if (blockers & (1u << i))
			add(&b->refusals[i], 1);
}

void metrics_audit_unsealed(struct worker *w, int64_t n)
{
	if (w->metrics != NULL)
		atomic_store_explicit(&w->metrics->audit_unsealed, n, memory_order_relaxed);
}

/* ---- the scrape ---- */

/* Every worker's block summed: plain numbers, read once. */
struct totals {
	uint64_t requests[ROUTES_MAX][METHODS_N][CODES_N];
	uint64_t duration[ROUTES_MAX][NBUCKETS + 1];
	uint64_t duration_ns[ROUTES_MAX];
	uint64_t decisions[DECISION__COUNT];
	uint64_t refusals[BLOCKER__COUNT];
	uint64_t approvals[RULE__COUNT];
	int64_t audit_unsealed;
};

static void totals_add(struct totals *t, struct metrics_block *b)
{
	for (size_t r = 0; r < ROUTES_MAX; r++) {
		for (size_t m = 0; m < METHODS_N; m++)
			for (size_t c = 0; c < CODES_N; c++)
				t->requests[r][m][c] += get(&b->requests[r][m][c]);
		for (size_t i = 0; i <= NBUCKETS; i++)
			t->duration[r][i] += get(&b->duration[r][i]);
		t->duration_ns[r] += get(&b->duration_ns[r]);
	}
	for (size_t i = 0; i < DECISION__COUNT; i++)
		t->decisions[i] += get(&b->decisions[i]);
	for (size_t i = 0; i < BLOCKER__COUNT; i++)
		t->refusals[i] += get(&b->refusals[i]);
	for (size_t i = 0; i < RULE__COUNT; i++)
		t->approvals[i] += get(&b->approvals[i]);
	int64_t u = atomic_load_explicit(&b->audit_unsealed, memory_order_relaxed);
	if (u > t->audit_unsealed)
		t->audit_unsealed = u;
}

/* The route's label: its pattern with each "{}" named, as
 * "/v1/lenders/{lender}/loans/{loan_id}"; "unmatched" for none. */
static void route_label(size_t ri, char *out, size_t size)
{
	if (ri >= (size_t)routes_count) {
		snprintf(out, size, "unmatched");
		return;
	}
	const char *pattern = routes[ri].pattern;
	size_t o = 0;
	for (const char *p = pattern; *p != '\0' && o + 1 < size;) {
		if (p[0] != '{' || p[1] != '}') {
			out[o++] = *p++;
			continue;
		}
		/* the segment before "/{}" */
		const char *end = p > pattern ? p - 1 : p, *start = end;
		while (start > pattern && start[-1] != '/')
			start--;
		const char *name = "param";
		for (size_t i = 0; i < sizeof(param_names) / sizeof(param_names[0]); i++)
			if (strlen(param_names[i].after) == (size_t)(end - start) &&
			    strncmp(param_names[i].after, start, (size_t)(end - start)) == 0)
				name = param_names[i].name;
		int n = snprintf(out + o, size - o, "{%s}", name);
		o = n > 0 && (size_t)n < size - o ? o + (size_t)n : size - 1;
		p += 2;
	}
	out[o] = '\0';
}

/* A label value as the format wants it: backslash, quote and newline
 * escaped. */
static void put_label_value(struct evbuffer *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

static void put_family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A gauge of 1 or 0 that the database's reading sets; NaN before the
 * first reading (value < 0). */
static void put_flag(struct evbuffer *out, const char *name, const char *help, int value)
{
	put_family(out, name, "gauge", help);
	if (value < 0)
		evbuffer_add_printf(out, "%s NaN\n", name);
	else
		evbuffer_add_printf(out, "%s %d\n", name, value);
}

static const char *method_label(size_t m)
{
	return m < NMETHODS ? http_method_name(methods[m]) : "OTHER";
}

/* Every route's answers with its own method and 200 are written from the
 * first scrape, at 0, so that a series is never absent only because no
 * request came yet; the other codes appear with their first answer. */
static void put_requests(struct evbuffer *out, const struct totals *t)
{
	put_family(out, "coolingd_http_requests_total", "counter",
	           "HTTP requests answered, by route pattern, method and status code.");
	char route[256];
	for (size_t r = 0; r <= (size_t)routes_count; r++) {
		route_label(r, route, sizeof(route));
		for (size_t m = 0; m < METHODS_N; m++) {
			for (size_t c = 0; c < CODES_N; c++) {
				uint64_t n = t->requests[r][m][c];
				if (n == 0 && !(c == code_index(200) && r < (size_t)routes_count &&
				                m == method_index(routes[r].method)))
					continue;
				evbuffer_add_printf(out, "coolingd_http_requests_total{route=\"");
				put_label_value(out, route);
				char code[16];
				if (c < NCODES)
					snprintf(code, sizeof(code), "%d", codes[c]);
				else
					snprintf(code, sizeof(code), "other");
				evbuffer_add_printf(out, "\",method=\"%s\",code=\"%s\"} %llu\n",
				                    method_label(m), code, (unsigned long long)n);
			}
		}
	}
}

static void put_durations(struct evbuffer *out, const struct totals *t)
{
	static const char *const name = "coolingd_http_request_duration_seconds";
	put_family(out, name, "histogram",
	           "Time from a request's arrival to its answer, by route pattern.");
	char route[256];
	for (size_t r = 0; r <= (size_t)routes_count; r++) {
		uint64_t count = 0;
		for (size_t i = 0; i <= NBUCKETS; i++)
			count += t->duration[r][i];
		if (count == 0 && r == (size_t)routes_count)
			continue; /* every route's from the first scrape; "unmatched" once seen */
		route_label(r, route, sizeof(route));
		uint64_t cumulative = 0;
		for (size_t i = 0; i <= NBUCKETS; i++) {
			cumulative += t->duration[r][i];
			evbuffer_add_printf(out, "%s_bucket{route=\"", name);
			put_label_value(out, route);
			evbuffer_add_printf(out, "\",le=\"%s\"} %llu\n",
			                    i < NBUCKETS ? buckets[i].le : "+Inf",
			                    (unsigned long long)cumulative);
		}
		evbuffer_add_printf(out, "%s_sum{route=\"", name);
		put_label_value(out, route);
		evbuffer_add_printf(out, "\"} %.9f\n", (double)t->duration_ns[r] / 1e9);
		evbuffer_add_printf(out, "%s_count{route=\"", name);
		put_label_value(out, route);
		evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)count);
	}
}

static void put_decisions(struct evbuffer *out, const struct totals *t)
{
	put_family(out, "coolingd_decisions_total", "counter",
	           "Disbursement decisions made and stored (replays not counted).");
	for (size_t i = 0; i < DECISION__COUNT; i++)
		evbuffer_add_printf(out, "coolingd_decisions_total{decision=\"%s\"} %llu\n",
		                    decision_names[i], (unsigned long long)t->decisions[i]);
	put_family(out, "coolingd_refusals_total", "counter",
	           "Refused disbursements by blocker; a refusal counts once per blocker.");
	for (size_t i = 0; i < BLOCKER__COUNT; i++)
		evbuffer_add_printf(out, "coolingd_refusals_total{blocker=\"%s\"} %llu\n",
		                    blocker_name((enum blocker)i),
		                    (unsigned long long)t->refusals[i]);
	put_family(out, "coolingd_approvals_total", "counter",
	           "Loans recorded, by the rule they were approved under.");
	for (size_t i = 0; i < RULE__COUNT; i++)
		evbuffer_add_printf(out, "coolingd_approvals_total{rule=\"%s\"} %llu\n",
		                    rule_label((enum rule)i), (unsigned long long)t->approvals[i]);
}

static void put_database(struct evbuffer *out, struct server *s, const struct totals *t)
{
	struct pgpool_gauges sum = {0};
	/* the statements and batches of the primary pools ([0]) and of the
	 * read pools ([1]) */
	struct pgpool_gauges st[2] = {{0}, {0}};
	for (int i = 0; i < s->nworkers; i++) {
		struct pgpool_gauges g;
		if (s->workers[i].read_pool != NULL) {
			pgpool_gauges(s->workers[i].read_pool, &g);
			st[1].statements += g.statements;
			st[1].batches += g.batches;
			st[1].batched += g.batched;
			st[1].batch_fallbacks += g.batch_fallbacks;
		}
		if (s->workers[i].pool == NULL)
			continue;
		pgpool_gauges(s->workers[i].pool, &g);
		sum.idle += g.idle;
		sum.busy += g.busy;
		sum.connecting += g.connecting;
		sum.down += g.down;
		sum.queued += g.queued;
		st[0].statements += g.statements;
		st[0].batches += g.batches;
		st[0].batched += g.batched;
		st[0].batch_fallbacks += g.batch_fallbacks;
	}
	put_family(out, "coolingd_db_up", "gauge",
	           "1 while a connection to the primary database is established, else 0.");
	evbuffer_add_printf(out, "coolingd_db_up %d\n", sum.idle + sum.busy > 0 ? 1 : 0);
	put_family(out, "coolingd_db_pool_connections", "gauge",
	           "Connections of the primary database pools, by state.");
	const struct {
		const char *state;
		int n;
	} states[] = {{"idle", sum.idle},
	              {"busy", sum.busy},
	              {"connecting", sum.connecting},
	              {"down", sum.down}};
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		evbuffer_add_printf(out, "coolingd_db_pool_connections{state=\"%s\"} %d\n",
		                    states[i].state, states[i].n);
	put_family(out, "coolingd_db_queue_length", "gauge",
	           "Statements waiting for a free database connection.");
	evbuffer_add_printf(out, "coolingd_db_queue_length %d\n", sum.queued);
	static const char *const pools[] = {"primary", "read"};
	const struct {
		const char *name, *help;
		size_t offset;
	} counts[] = {
	    {"coolingd_db_statements_total",
	     "Statements sent for requests, by pool; a batch is one.",
	     offsetof(struct pgpool_gauges, statements)},
	    {"coolingd_db_batches_total",
	     "Statements that carried several requests (reads, approvals, payouts, refusals).",
	     offsetof(struct pgpool_gauges, batches)},
	    {"coolingd_db_batched_requests_total", "Requests carried by those batches.",
	     offsetof(struct pgpool_gauges, batched)},
	    {"coolingd_db_batch_fallbacks_total",
	     "Batches the database refused as a whole, whose requests then ran one by one.",
	     offsetof(struct pgpool_gauges, batch_fallbacks)},
	};
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		put_family(out, counts[c].name, "counter", counts[c].help);
		for (size_t p = 0; p < 2; p++) {
			int64_t v;
			memcpy(&v, (const char *)&st[p] + counts[c].offset, sizeof(v));
			evbuffer_add_printf(out, "%s{pool=\"%s\"} %lld\n", counts[c].name, pools[p],
			                    (long long)v);
		}
	}
	/* NaN until worker 0 has counted once: present from the first scrape
	 * (an alert on absent() means the daemon or its scrape is gone), and
	 * never a 0 that would say "all sealed" before anyone looked */
	put_family(out, "coolingd_audit_unsealed_events", "gauge",
	           "Audit events not sealed into the hash chain yet, as last counted; NaN before "
	           "the first count.");
	if (t->audit_unsealed >= 0)
		evbuffer_add_printf(out, "coolingd_audit_unsealed_events %lld\n",
		                    (long long)t->audit_unsealed);
	else
		evbuffer_add_printf(out, "coolingd_audit_unsealed_events NaN\n");
}

/* The process_* series of the Prometheus client libraries, from
 * /proc/self (procfs: no disk, no wait). A value that cannot be read is
 * left out. */
static void put_process(struct evbuffer *out)
{
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* the fields after the command name, which may hold spaces: field 3
	 * (the state) first */
	char *p = strrchr(buf, ')');
	unsigned long long field[64] = {0};
	int nf = 0;
	if (p != NULL && ticks > 0) {
		char *save = NULL;
		for (char *tok = strtok_r(p + 1, " ", &save); tok != NULL && nf < 64;
		     tok = strtok_r(NULL, " ", &save))
			field[nf++] = strtoull(tok, NULL, 10);
	}
	/* field k of proc(5) is field[k - 3] */
	if (nf > 24 - 3) {
		put_family(out, "process_cpu_seconds_total", "counter",
		           "Total user and system CPU time spent in seconds.");
		evbuffer_add_printf(out, "process_cpu_seconds_total %.2f\n",
		                    (double)(field[14 - 3] + field[15 - 3]) / (double)ticks);
		put_family(out, "process_virtual_memory_bytes", "gauge",
		           "Virtual memory size in bytes.");
		evbuffer_add_printf(out, "process_virtual_memory_bytes %llu\n", field[23 - 3]);
		put_family(out, "process_resident_memory_bytes", "gauge",
		           "Resident memory size in bytes.");
		evbuffer_add_printf(out, "process_resident_memory_bytes %llu\n",
		                    field[24 - 3] * (unsigned long long)page);
		unsigned long long btime = 0;
		f = fopen("/proc/stat", "r");
		char line[256];
		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		if (f)
			fclose(f);
		if (btime > 0) {
			put_family(out, "process_start_time_seconds", "gauge",
			           "Start time of the process since unix epoch in seconds.");
			evbuffer_add_printf(out, "process_start_time_seconds %.2f\n",
			                    (double)btime + (double)field[22 - 3] / (double)ticks);
		}
	}
	DIR *d = opendir("/proc/self/fd");
	if (d != NULL) {
		long fds = -1; /* the directory's own */
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				fds++;
		closedir(d);
		put_family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
		evbuffer_add_printf(out, "process_open_fds %ld\n", fds);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		put_family(out, "process_max_fds", "gauge",
		           "Maximum number of open file descriptors.");
		evbuffer_add_printf(out, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

/* ---- the operator's signals: set by the main thread (the reload, the
 * certificate) or worker 0 (what the database says), read by a scrape ---- */

static _Atomic bool reload_ok = true;
static _Atomic int64_t reload_success_s;
static _Atomic int64_t tls_not_after_s = -1;
/* -1 until worker 0 has read them: then NaN, "not known yet" */
static _Atomic int64_t checkpoint_s = -1;
static _Atomic int mrp_missing = -1;
static _Atomic int calendar_missing = -1;
/* TS_NULL until worker 0 has read today's local date */
static _Atomic int64_t policy_today = TS_NULL;

void metrics_config_reload(bool ok, int64_t now_s)
{
	atomic_store(&reload_ok, ok);
	if (ok)
		atomic_store(&reload_success_s, now_s);
}

void metrics_tls_certificate(int64_t not_after_s)
{
	atomic_store(&tls_not_after_s, not_after_s);
}

void metrics_operator_signals(int64_t last_checkpoint_s, bool mrp_next_year_missing,
                              bool calendar_next_year_missing)
{
	atomic_store(&checkpoint_s, last_checkpoint_s);
	atomic_store(&mrp_missing, mrp_next_year_missing ? 1 : 0);
	atomic_store(&calendar_missing, calendar_next_year_missing ? 1 : 0);
}

void metrics_policy_today(int64_t today_days)
{
	atomic_store(&policy_today, today_days);
}

/* The profile in force: a single one at once; under a schedule, the one of
 * the database's today, labelled with the whole schedule so that daemons
 * with other schedules differ too, and absent until today has been read. */
static void put_policy_info(struct evbuffer *out, const struct runtime *rt)
{
	put_family(out, "coolingd_policy_info", "gauge", "The policy profile in force; always 1.");
	int64_t today = atomic_load(&policy_today);
	if (rt->schedule.n > 1 && today == TS_NULL)
		return;
	evbuffer_add_printf(out, "coolingd_policy_info{profile=\"");
	put_label_value(out, policy_in_force(&rt->schedule, today)->name);
	if (rt->schedule.n > 1) {
		evbuffer_add_printf(out, "\",schedule=\"");
		put_label_value(out, rt->cfg.profile);
	}
	evbuffer_add_printf(out, "\"} 1\n");
}

static void put_operator_signals(struct evbuffer *out, struct server *s)
{
	put_family(out, "coolingd_config_last_reload_successful", "gauge",
	           "1 when the last configuration load (start or SIGHUP) succeeded, else 0.");
	evbuffer_add_printf(out, "coolingd_config_last_reload_successful %d\n",
	                    atomic_load(&reload_ok) ? 1 : 0);
	put_family(out, "coolingd_config_last_reload_success_timestamp_seconds", "gauge",
	           "When the configuration in force was loaded, in seconds since the epoch.");
	evbuffer_add_printf(out, "coolingd_config_last_reload_success_timestamp_seconds %lld\n",
	                    (long long)atomic_load(&reload_success_s));
	put_policy_info(out, server_runtime(s));
	int64_t not_after = atomic_load(&tls_not_after_s);
	if (not_after >= 0) {
		put_family(out, "coolingd_tls_certificate_expiry_timestamp_seconds", "gauge",
		           "The notAfter of the HTTPS certificate in force, in seconds since the "
		           "epoch.");
		evbuffer_add_printf(out, "coolingd_tls_certificate_expiry_timestamp_seconds %lld\n",
		                    (long long)not_after);
	}
	int64_t checkpoint = atomic_load(&checkpoint_s);
	put_family(out, "coolingd_audit_last_checkpoint_timestamp_seconds", "gauge",
	           "When the newest signed audit checkpoint in the database was signed, in "
	           "seconds since the epoch; 0 when there is none.");
	if (checkpoint < 0)
		evbuffer_add_printf(out, "coolingd_audit_last_checkpoint_timestamp_seconds NaN\n");
	else
		evbuffer_add_printf(out, "coolingd_audit_last_checkpoint_timestamp_seconds %lld\n",
		                    (long long)checkpoint);
	put_flag(out, "coolingd_mrp_next_year_missing",
	         "1 from 1 December while the MRP table has no value for the next year.",
	         atomic_load(&mrp_missing));
	put_flag(out, "coolingd_holiday_calendar_next_year_missing",
	         "1 from 1 December while a scheduled profile waits on the calendar of "
	         "non-working days and it holds no day of the next year.",
	         atomic_load(&calendar_missing));
}

void metrics_write(struct server *s, struct evbuffer *out)
{
	struct totals *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return;
	t->audit_unsealed = -1;
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].metrics != NULL)
			totals_add(t, s->workers[i].metrics);
	put_requests(out, t);
	put_durations(out, t);
	put_decisions(out, t);
	put_database(out, s, t);
	feed_metrics_write(out);
	put_family(out, "coolingd_build_info", "gauge",
	           "The running coolingd's version; always 1.");
	evbuffer_add_printf(out, "coolingd_build_info{version=\"");
	put_label_value(out, COOLINGD_VERSION);
	evbuffer_add_printf(out, "\"} 1\n");
	put_operator_signals(out, s);
	put_process(out);
	free(t);
}

/* ---- the listener ---- */

static void metrics_on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf = evhttp_request_get_output_buffer(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	char id[REQUEST_ID_BUF];
	http_request_id(req, id);
	evhttp_add_header(h, "Request-Id", id);
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evbuffer_add_printf(buf, "not found: the metrics are at /metrics\n");
		evhttp_send_reply(req, 404, "Not Found", NULL);
		return;
	}
	if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
		evhttp_add_header(h, "Allow", "GET, HEAD");
		evbuffer_add_printf(buf, "method not allowed\n");
		evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
		return;
	}
	if (m == EVHTTP_REQ_GET)
		metrics_write(s, buf);
	evhttp_send_reply(req, 200, "OK", NULL);
}

bool metrics_setup(struct server *s)
{
	if (s->metrics_fd < 0)
		return true;
	s->metrics_http = evhttp_new(s->main_base);
	if (s->metrics_http == NULL)
		return false;
	/* a scrape is a small GET: small limits, a short timeout */
	evhttp_set_max_headers_size(s->metrics_http, 16384);
	evhttp_set_max_body_size(s->metrics_http, 4096);
	evhttp_set_timeout(s->metrics_http, 10);
	evhttp_set_allowed_methods(s->metrics_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	                                                EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(s->metrics_http, metrics_on_request, s);
	struct evconnlistener *l =
	    evconnlistener_new(s->main_base, NULL, NULL,
	                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, s->metrics_fd);
	if (l == NULL)
		return false;
	s->metrics_fd = -1; /* the listener's now */
	if (evhttp_bind_listener(s->metrics_http, l) == NULL) {
		evconnlistener_free(l);
		return false;
	}
	return true;
}

void metrics_free(struct server *s)
{
	if (s->metrics_http != NULL)
		evhttp_free(s->metrics_http);
	s->metrics_http = NULL;
	if (s->metrics_fd >= 0)
		close(s->metrics_fd);
	s->metrics_fd = -1;
}
