/*
 * Fault tests (issue "fault tests"): coolingd killed with SIGKILL under write
 * load, its PostgreSQL stopped (fast) and crashed (immediate) under mixed
 * load, two daemons on one database racing payouts for 20 loans, and SIGTERM
 * under load. The promise checked throughout is CONTRACT.md's "a 5xx never
 * hides a decision": every 2xx a client was given is in the database
 * afterwards with its audit event (lost = 0), and every write that went
 * unanswered can be retried safely (docs/api.md, "Failures": an approval
 * answers 201 or 200, never 409 for the same facts; a disbursement with the
 * same Idempotency-Key gets the first decision). Each test prints its tally
 * to stderr ("faults: ..."); docs/faults.md quotes them.
 *
 * The load comes from THREADS client threads, one request per connection,
 * through a client of this file's own that tells a refused connection, a
 * connection closed or reset before any byte of the answer, a partial answer
 * and a timeout apart (tests/support/httpc.c folds them all into -1).
 *
 * The PostgreSQL server is shared with the other test programs: a checked
 * fixture starts it again before every test if it is down, and so does the
 * teardown, so a failed assertion in the middle of an outage leaves no
 * server stopped.
 */
#include "check_main.h"
#include "support/e2e.h"
#include "support/testdb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS      8
#define MAX_LOANS    4000  /* per thread */
#define MAX_RECS     12000 /* requests per thread */
#define REQ_TIMEOUT  8000  /* ms a client waits for an answer (request_timeout is 4 s) */
#define RECOVERY_MS  10000 /* service must be back this long after PostgreSQL is */
#define MAX_LOAD_MS  30000 /* no load thread runs longer than this, whatever happens */
#define BACKOFF_MS   100   /* a client's pause after an answer that is not 2xx */
#define SMALL_AMOUNT "1000.00"

static const char *const daemon_env[] = {"COOLINGD_SERVER_REQUEST_TIMEOUT=4s", NULL};

static struct e2e_env env; /* env.db_url only: every test runs its own daemons */
static char *tok;          /* core1, lender BANK1 */

/* Starts the shared test server again when it does not answer. */
static void ensure_server_up(void)
{
	e2e_ensure_server_up("faults");
}

static void setup(void)
{
	memset(&env, 0, sizeof env);
	env.d.pid = -1;
	env.db_url = testdb_create("faults");
	e2e_lender_add(&env, "BANK1", "bank");
	tok = e2e_client_add(&env, "core1", "lender", "BANK1");
}

static void teardown(void)
{
	ensure_server_up();
	testdb_drop(env.db_url);
	free(env.db_url);
	free(tok);
}

/* ---- a client that says how a request ended ---- */

enum outcome {
	OC_COMPLETE, /* a whole HTTP answer */
	OC_REFUSED,  /* connect() refused: nothing listens */
	OC_NOBYTES,  /* connected, then closed or reset before any byte of an answer */
	OC_PARTIAL,  /* part of an answer, then closed, reset or silent */
	OC_TIMEOUT,  /* nothing came within the timeout, the connection still open */
	OC_ERROR,    /* anything else (connect timeout, out of memory) */
};

static const char *const oc_name[] = {"complete", "refused",   "closed without answer",
                                      "partial",  "timed out", "error"};

struct fres {
	enum outcome oc;
	int status;
	bool retry_after;
	char code[40];     /* error.code */
	char decision[16]; /* "allowed", "refused" */
	char blockers[96]; /* compact JSON */
	int err;           /* errno of a failed connect() */
};

/* A non-blocking connection to 127.0.0.1:port; -1 with *err set. */
static int fc_connect(int port, int timeout_ms, int *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		return -1;
	}
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int n;
	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	int so = 0;
	socklen_t len = sizeof so;
	if (n <= 0)
		so = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
		so = errno;
	if (so != 0) {
		*err = so;
		close(fd);
		return -1;
	}
	return fd;
}

/* Where the head ends (the offset of the body) and the Content-Length, once
 * the head is complete; false before. */
static bool fc_head(const char *in, size_t len, size_t *body_at, long long *clen)
{
	const char *end = memmem(in, len, "\r\n\r\n", 4);
	if (!end)
		return false;
	*body_at = (size_t)(end - in) + 4;
	*clen = -1;
	for (const char *p = in; p && p < end; p = memchr(p, '\n', (size_t)(end - p))) {
		p++;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			*clen = strtoll(p + 15, NULL, 10);
	}
	return true;
}

/*
 * One request on a fresh connection ("Connection: close"), the bearer token
 * of core1, an Idempotency-Key when idem is not NULL. Waits at most
 * timeout_ms for the whole answer.
 */
static void fc_req(int port, const char *method, const char *path, const char *body,
                   const char *idem, int timeout_ms, struct fres *out)
{
	memset(out, 0, sizeof *out);
	char req[2048], extra[128] = "", clen[96] = "";
	if (idem)
		snprintf(extra, sizeof extra, "Idempotency-Key: %s\r\n", idem);
	if (body)
		snprintf(clen, sizeof clen,
		         "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(body));
	else if (strcmp(method, "POST") == 0)
		snprintf(clen, sizeof clen, "Content-Length: 0\r\n");
	int n = snprintf(req, sizeof req,
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
	                 "Authorization: Bearer %s\r\n%s%s\r\n%s",
	                 method, path, port, tok, clen, extra, body ? body : "");
	if (n < 0 || (size_t)n >= sizeof req) {
		out->oc = OC_ERROR;
		return;
	}
	long long deadline = test_now_ms() + timeout_ms;
	int err = 0;
	int fd = fc_connect(port, timeout_ms, &err);
	if (fd < 0) {
		/* A reset during the handshake is a refusal too: the listener
		 * closed with the connection in its queue. */
		out->oc = err == ECONNREFUSED || err == ECONNRESET ? OC_REFUSED : OC_ERROR;
		out->err = err;
		return;
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			long long left = deadline - test_now_ms();
			if (left > 0 && poll(&p, 1, (int)left) >= 0)
				continue;
		}
		break; /* closed or reset: the reading below tells what came */
	}

	size_t cap = 16384, len = 0, body_at = 0;
	long long cl = -1;
	char *in = malloc(cap);
	bool head = false, eof = false, timed_out = false;
	while (in) {
		if (!head)
			head = fc_head(in, len, &body_at, &cl);
		if (head && cl >= 0 && len >= body_at + (size_t)cl)
			break;
		long long left = deadline - test_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pn = poll(&p, 1, (int)left);
		if (pn < 0 && errno == EINTR)
			continue;
		if (pn == 0) {
			timed_out = true;
			break;
		}
		if (len + 4096 > cap) {
			if (cap >= (1u << 20))
				break;
			char *bigger = realloc(in, cap * 2);
			if (!bigger)
				break;
			in = bigger;
			cap *= 2;
		}
		ssize_t r = recv(fd, in + len, cap - len - 1, 0);
		if (r > 0)
			len += (size_t)r;
		else if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		else {
			eof = true; /* closed or reset */
			break;
		}
	}
	close(fd);
	if (!in) {
		out->oc = OC_ERROR;
		return;
	}
	in[len] = '\0';
	if (!head)
		head = fc_head(in, len, &body_at, &cl);
	bool complete =
	    head && strncmp(in, "HTTP/1.", 7) == 0 &&
	    ((cl >= 0 && len >= body_at + (size_t)cl) || (cl < 0 && eof)); /* HTTP/1.0 style */
	if (len == 0)
		out->oc = timed_out ? OC_TIMEOUT : OC_NOBYTES;
	else if (!complete)
		out->oc = OC_PARTIAL;
	else {
		out->oc = OC_COMPLETE;
		out->status = atoi(in + 9);
		in[body_at - 2] = '\0'; /* the head alone, for the header search */
		out->retry_after = strcasestr(in, "\r\nRetry-After:") != NULL;
		size_t blen = cl >= 0 ? (size_t)cl : len - body_at;
		json_t *j = json_loadb(in + body_at, blen, 0, NULL);
		const char *s = e2e_jstr(j, "decision");
		snprintf(out->decision, sizeof out->decision, "%s", s ? s : "");
		s = e2e_jstr(j, "error.code");
		snprintf(out->code, sizeof out->code, "%s", s ? s : "");
		json_t *b = e2e_json_at(j, "blockers");
		char *bs = b ? json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		snprintf(out->blockers, sizeof out->blockers, "%s", bs ? bs : "");
		free(bs);
		json_decref(j);
	}
	free(in);
}

static bool is_2xx(const struct fres *r)
{
	return r->oc == OC_COMPLETE && r->status >= 200 && r->status < 300;
}

/* ---- load: THREADS clients, each working through loans of its own ---- */

enum op { OP_APPROVE, OP_CONSENT, OP_DISBURSE, OP_GET };
static const char *const op_name[] = {"approval", "consent", "disbursement", "read"};

struct rec {
	int loan; /* the loan's index in its thread: loan_id PREFIX-THREAD-INDEX */
	unsigned char op;
	unsigned char oc;
	short status;
	bool retry_after;
	bool unavailable; /* error.code "unavailable" */
	bool allowed;     /* decision "allowed" */
	int err;          /* errno of a failed connect() */
	int t0, t1;       /* ms since the load began */
};

struct loader {
	pthread_t th;
	int id;
	int port;
	const char *prefix;
	/* true: approval, consent, disbursement, read of every loan; false:
	 * approval with consent_at (eligible at once), then disbursement */
	bool full_flow;
	bool end_on_refused; /* the daemon is going away: stop at the first refusal */
	int nloans;
	char consent_at[MAX_LOANS][24]; /* !full_flow: what the approval sent */
	int nrecs;
	struct rec recs[MAX_RECS];
	atomic_int streak; /* 2xx in a row among requests begun after g_up_ms */
	atomic_int ok;     /* answers 2xx */
};

static struct loader loaders[THREADS];
static atomic_bool g_stop;
static atomic_int g_up_ms; /* > 0: the database is back since then (outage tests) */
static long long g_base_ms;

static int rel_ms(void)
{
	return (int)(test_now_ms() - g_base_ms);
}

static void loan_id_of(char *out, size_t size, const char *prefix, int t, int i)
{
	snprintf(out, size, "%s-%d-%d", prefix, t, i);
}

static void approval_body(char *out, size_t size, const char *prefix, int t, int i,
                          const char *consent_at)
{
	char id[48];
	loan_id_of(id, sizeof id, prefix, t, i);
	e2e_approval_body(
	    out, size, id,
	    &(struct e2e_loan){.iin_seed = (unsigned)(t * 1000 + i % 1000),
	                       .amount = SMALL_AMOUNT,
	                       .consent_at = consent_at && *consent_at ? consent_at : NULL});
}

static void op_path(char *out, size_t size, enum op op, const char *prefix, int t, int i)
{
	char id[48];
	loan_id_of(id, sizeof id, prefix, t, i);
	switch (op) {
	case OP_APPROVE:
		snprintf(out, size, "/v1/lenders/BANK1/loans");
		break;
	case OP_CONSENT:
		snprintf(out, size, "/v1/lenders/BANK1/loans/%s/consent", id);
		break;
	case OP_DISBURSE:
		snprintf(out, size, "/v1/lenders/BANK1/loans/%s/disbursement", id);
		break;
	case OP_GET:
		snprintf(out, size, "/v1/lenders/BANK1/loans/%s", id);
		break;
	}
}

static void idem_key_of(char *out, size_t size, const char *prefix, int t, int i)
{
	snprintf(out, size, "pay-%s-%d-%d", prefix, t, i);
}

/* Sends one request of the loader's loan i and records it; the answer. */
static void load_step(struct loader *l, enum op op, int i, struct fres *res)
{
	char path[160], body[512], key[64];
	const char *b = NULL, *k = NULL;
	op_path(path, sizeof path, op, l->prefix, l->id, i);
	if (op == OP_APPROVE) {
		approval_body(body, sizeof body, l->prefix, l->id, i,
		              l->full_flow ? NULL : l->consent_at[i]);
		b = body;
	} else if (op == OP_CONSENT || op == OP_DISBURSE) {
		b = "{}";
	}
	if (op == OP_DISBURSE) {
		idem_key_of(key, sizeof key, l->prefix, l->id, i);
		k = key;
	}
	int t0 = rel_ms();
	fc_req(l->port, op == OP_GET ? "GET" : "POST", path, b, k, REQ_TIMEOUT, res);
	struct rec *r = &l->recs[l->nrecs++];
	r->loan = i;
	r->op = (unsigned char)op;
	r->oc = (unsigned char)res->oc;
	r->status = (short)res->status;
	r->retry_after = res->retry_after;
	r->unavailable = strcmp(res->code, "unavailable") == 0;
	r->allowed = strcmp(res->decision, "allowed") == 0;
	r->err = res->err;
	r->t0 = t0;
	r->t1 = rel_ms();
	if (is_2xx(res))
		atomic_fetch_add(&l->ok, 1);
	int up = atomic_load(&g_up_ms);
	if (up > 0 && t0 >= up)
		atomic_store(&l->streak, is_2xx(res) ? atomic_load(&l->streak) + 1 : 0);
	if (!is_2xx(res) && res->oc != OC_REFUSED)
		test_sleep_ms(BACKOFF_MS);
}

static void *load_main(void *arg)
{
	struct loader *l = arg;
	static const enum op full[] = {OP_APPROVE, OP_CONSENT, OP_DISBURSE, OP_GET};
	static const enum op quick[] = {OP_APPROVE, OP_DISBURSE};
	const enum op *ops = l->full_flow ? full : quick;
	int nops = l->full_flow ? 4 : 2;
	long long until = test_now_ms() + MAX_LOAD_MS;
	for (int i = 0; i < MAX_LOANS && l->nrecs + nops <= MAX_RECS && !atomic_load(&g_stop) &&
	                test_now_ms() < until;
	     i++) {
		l->nloans = i + 1;
		if (!l->full_flow)
			e2e_ts_from_now(l->consent_at[i], 0);
		for (int k = 0; k < nops; k++) {
			struct fres res;
			load_step(l, ops[k], i, &res);
			if (res.oc == OC_REFUSED) {
				if (l->end_on_refused)
					return NULL;
				test_sleep_ms(BACKOFF_MS);
			}
			if (!is_2xx(&res))
				break; /* the next loan; this one stays where it is */
		}
	}
	return NULL;
}

static void start_load(int port, const char *prefix, bool full_flow, bool end_on_refused)
{
	atomic_store(&g_stop, false);
	atomic_store(&g_up_ms, 0);
	g_base_ms = test_now_ms();
	for (int t = 0; t < THREADS; t++) {
		struct loader *l = &loaders[t];
		l->id = t;
		l->port = port;
		l->prefix = prefix;
		l->full_flow = full_flow;
		l->end_on_refused = end_on_refused;
		l->nloans = 0;
		l->nrecs = 0;
		atomic_store(&l->streak, 0);
		atomic_store(&l->ok, 0);
		ck_assert_int_eq(pthread_create(&l->th, NULL, load_main, l), 0);
	}
}

/* Waits until every loader has had n answers 2xx (at most 30 s): the load
 * is under way, however slowly the machine runs it. */
static void await_load(int n)
{
	long long deadline = test_now_ms() + 30000;
	for (int t = 0; t < THREADS; t++)
		while (atomic_load(&loaders[t].ok) < n) {
			ck_assert_msg(test_now_ms() < deadline,
			              "loader %d had %d answers 2xx after 30 s, want %d", t,
			              atomic_load(&loaders[t].ok), n);
			test_sleep_ms(20);
		}
}

static void stop_load(void)
{
	atomic_store(&g_stop, true);
	for (int t = 0; t < THREADS; t++)
		pthread_join(loaders[t].th, NULL);
}

/* ---- what the database holds ---- */

struct dbloan {
	bool exists, consent, disbursed;
	int n_approval, n_consent, n_allowed, n_refused;
};

static struct dbloan db_state[THREADS][MAX_LOANS];

/* Reads every loan PREFIX-T-I of BANK1 with its audit events. */
static void load_db_state(const char *prefix)
{
	memset(db_state, 0, sizeof db_state);
	PGconn *c = testdb_connect(env.db_url);
	char like[32];
	snprintf(like, sizeof like, "%s-%%", prefix);
	const char *params[] = {like};
	PGresult *r = PQexecParams(
	    c,
	    "SELECT l.loan_id, l.consent_at IS NOT NULL, l.disbursed_at IS NOT NULL, "
	    "count(a.type) FILTER (WHERE a.type = 'approval_recorded'), "
	    "count(a.type) FILTER (WHERE a.type = 'consent_recorded'), "
	    "count(a.type) FILTER (WHERE a.type = 'disbursement_allowed'), "
	    "count(a.type) FILTER (WHERE a.type = 'disbursement_refused') "
	    "FROM loan l LEFT JOIN audit_event a ON a.lender_id = l.lender_id "
	    "AND a.loan_id = l.loan_id WHERE l.lender_id = 'BANK1' AND l.loan_id LIKE $1 "
	    "GROUP BY l.loan_id, l.consent_at, l.disbursed_at",
	    1, NULL, params, NULL, NULL, 0);
	char err[256];
	snprintf(err, sizeof err, "%s", PQresultErrorMessage(r));
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	for (int row = 0; ok && row < PQntuples(r); row++) {
		int t, i;
		const char *id = PQgetvalue(r, row, 0) + strlen(prefix) + 1;
		if (sscanf(id, "%d-%d", &t, &i) != 2 || t < 0 || t >= THREADS || i < 0 ||
		    i >= MAX_LOANS)
			continue;
		struct dbloan *s = &db_state[t][i];
		s->exists = true;
		s->consent = PQgetvalue(r, row, 1)[0] == 't';
		s->disbursed = PQgetvalue(r, row, 2)[0] == 't';
		s->n_approval = atoi(PQgetvalue(r, row, 3));
		s->n_consent = atoi(PQgetvalue(r, row, 4));
		s->n_allowed = atoi(PQgetvalue(r, row, 5));
		s->n_refused = atoi(PQgetvalue(r, row, 6));
	}
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(ok, "reading the loans back: %s", err);
}

/* Is the 2xx in rec in the database (the act and its audit event)? */
static bool stored(const struct rec *r, const struct dbloan *s)
{
	switch (r->op) {
	case OP_APPROVE:
		return s->exists && s->n_approval == 1;
	case OP_CONSENT:
		return s->consent && s->n_consent == 1;
	case OP_DISBURSE:
		return r->allowed && s->disbursed && s->n_allowed == 1;
	default:
		return s->exists;
	}
}

/* Did the write in rec take effect, whatever its answer? (Each loan gets
 * each act once in the load.) */
static bool committed(const struct rec *r, const struct dbloan *s)
{
	switch (r->op) {
	case OP_APPROVE:
		return s->exists;
	case OP_CONSENT:
		return s->consent;
	case OP_DISBURSE:
		return s->disbursed;
	default:
		return false;
	}
}

struct tally {
	int sent, ok2xx, s503, other, timeouts, nobytes, partial, refused, errors;
	int lost, dups, in_flight;
};

/* Counts the records and checks every 2xx against the database; prints the
 * first few lost ones. */
static void tally_up(const char *what, struct tally *t)
{
	memset(t, 0, sizeof *t);
	for (int th = 0; th < THREADS; th++) {
		const struct loader *l = &loaders[th];
		for (int k = 0; k < l->nrecs; k++) {
			const struct rec *r = &l->recs[k];
			if (r->oc != OC_REFUSED)
				t->sent++;
			switch (r->oc) {
			case OC_COMPLETE:
				if (r->status >= 200 && r->status < 300)
					t->ok2xx++;
				else if (r->status == 503)
					t->s503++;
				else
					t->other++;
				break;
			case OC_REFUSED:
				t->refused++;
				break;
			case OC_NOBYTES:
				t->nobytes++;
				break;
			case OC_PARTIAL:
				t->partial++;
				break;
			case OC_TIMEOUT:
				t->timeouts++;
				break;
			default:
				t->errors++;
			}
			if (r->oc != OC_COMPLETE || r->status < 200 || r->status >= 300)
				continue;
			if (!stored(r, &db_state[th][r->loan])) {
				if (t->lost++ < 10)
					fprintf(stderr,
					        "faults: %s: LOST: %s of %s-%d-%d was answered %d "
					        "but is not in the database\n",
					        what, op_name[r->op], l->prefix, th, r->loan,
					        r->status);
			}
		}
		for (int i = 0; i < l->nloans; i++) {
			const struct dbloan *s = &db_state[th][i];
			if (s->n_approval > 1 || s->n_consent > 1 || s->n_allowed > 1) {
				if (t->dups++ < 10)
					fprintf(stderr,
					        "faults: %s: DUPLICATE: %s-%d-%d has %d approvals, "
					        "%d consents, %d allowed payouts\n",
					        what, l->prefix, th, i, s->n_approval, s->n_consent,
					        s->n_allowed);
			}
		}
	}
}

static void assert_log_clean(const struct daemon *d)
{
	char *s = e2e_log_sanitizer_report(d->log_path);
	ck_assert_msg(s == NULL, "%s: %s", d->log_path, s ? s : "");
}

/* ---- kill -9 under write load ---- */

struct retry_tally {
	int approvals, got201, got200, disbursements, allowed, wrong;
};

/* Retries every approval and disbursement of the load that got no answer
 * (or a 503), with the same body and Idempotency-Key; db_state must hold
 * the database as it was before. An approval must answer 200 when the first
 * attempt was committed and 201 when not; a disbursement the allowed
 * decision (the first one, or a new one). */
static void retry_unanswered(const char *what, int port, struct retry_tally *rt)
{
	memset(rt, 0, sizeof *rt);
	for (int th = 0; th < THREADS; th++) {
		struct loader *l = &loaders[th];
		for (int k = 0; k < l->nrecs; k++) {
			const struct rec *r = &l->recs[k];
			bool unanswered =
			    r->oc != OC_COMPLETE || (r->status == 503 && r->unavailable);
			if (!unanswered ||
			    (r->op != OP_APPROVE && r->op != OP_DISBURSE && r->op != OP_CONSENT))
				continue;
			struct fres res;
			char path[160], body[512], key[64];
			op_path(path, sizeof path, (enum op)r->op, l->prefix, th, r->loan);
			if (r->op == OP_APPROVE) {
				bool had = db_state[th][r->loan].exists;
				approval_body(body, sizeof body, l->prefix, th, r->loan,
				              l->full_flow ? NULL : l->consent_at[r->loan]);
				fc_req(port, "POST", path, body, NULL, REQ_TIMEOUT, &res);
				rt->approvals++;
				int want = had ? 200 : 201;
				if (res.oc == OC_COMPLETE && res.status == want) {
					if (want == 201)
						rt->got201++;
					else
						rt->got200++;
					continue;
				}
				if (rt->wrong++ < 10)
					fprintf(
					    stderr,
					    "faults: %s: retry of approval %s-%d-%d (%s before): "
					    "%s %d %s, want %d\n",
					    what, l->prefix, th, r->loan,
					    had ? "stored" : "not stored", oc_name[res.oc],
					    res.status, res.code, want);
			} else if (r->op == OP_CONSENT) {
				fc_req(port, "POST", path, "{}", NULL, REQ_TIMEOUT, &res);
				if (res.oc != OC_COMPLETE || res.status != 200) {
					if (rt->wrong++ < 10)
						fprintf(stderr,
						        "faults: %s: retry of consent %s-%d-%d: %s "
						        "%d %s\n",
						        what, l->prefix, th, r->loan,
						        oc_name[res.oc], res.status, res.code);
				}
			} else {
				idem_key_of(key, sizeof key, l->prefix, th, r->loan);
				fc_req(port, "POST", path, "{}", key, REQ_TIMEOUT, &res);
				rt->disbursements++;
				if (res.oc == OC_COMPLETE && res.status == 200 &&
				    strcmp(res.decision, "allowed") == 0) {
					rt->allowed++;
					continue;
				}
				if (rt->wrong++ < 10)
					fprintf(stderr,
					        "faults: %s: retry of disbursement %s-%d-%d: %s %d "
					        "%s %s\n",
					        what, l->prefix, th, r->loan, oc_name[res.oc],
					        res.status, res.decision, res.blockers);
			}
		}
	}
}

START_TEST(test_kill9_under_write_load_loses_no_acknowledged_write_and_retries_are_safe)
{
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, daemon_env));
	start_load(d.port, "K9", false, true);
	await_load(20);
	int kill_ms = rel_ms();
	bool killed = daemon_kill9(&d);
	stop_load();
	ck_assert(killed);
	char *report = e2e_log_sanitizer_report(d.log_path);

	load_db_state("K9");
	struct tally t;
	tally_up("kill -9", &t);
	int bad_before = 0;
	for (int th = 0; th < THREADS; th++)
		for (int k = 0; k < loaders[th].nrecs; k++) {
			const struct rec *r = &loaders[th].recs[k];
			/* connected, and no answer: in flight when it died */
			if (r->oc != OC_REFUSED && r->oc != OC_COMPLETE)
				t.in_flight++;
			/* before the kill everything was answered, and 2xx */
			if (r->t1 < kill_ms && !(r->oc == OC_COMPLETE && r->status / 100 == 2) &&
			    bad_before++ < 5)
				fprintf(stderr,
				        "faults: kill -9: %s of K9-%d-%d before the kill: %s %d\n",
				        op_name[r->op], th, r->loan, oc_name[r->oc], r->status);
		}

	/* The same database, a new daemon: every unanswered write again. */
	struct daemon d2;
	ck_assert(daemon_start(&d2, env.db_url, daemon_env));
	struct retry_tally rt;
	retry_unanswered("kill -9", d2.port, &rt);
	load_db_state("K9");
	struct tally after;
	tally_up("kill -9, after the retries", &after);
	int missing = 0;
	for (int th = 0; th < THREADS; th++)
		for (int k = 0; k < loaders[th].nrecs; k++) {
			const struct rec *r = &loaders[th].recs[k];
			const struct dbloan *s = &db_state[th][r->loan];
			if (r->op == OP_APPROVE && !(s->exists && s->n_approval == 1))
				missing++;
		}
	int code = daemon_stop(&d2);

	fprintf(stderr,
	        "faults: kill -9 under write load: %d threads, %d requests sent, %d x 2xx, "
	        "%d x 503, %d other answers, %d in flight at the kill (%d closed without "
	        "answer, %d partial, %d timed out), %d refused after the kill; lost = %d, "
	        "duplicates = %d\n",
	        THREADS, t.sent, t.ok2xx, t.s503, t.other, t.in_flight, t.nobytes, t.partial,
	        t.timeouts, t.refused, t.lost, t.dups);
	fprintf(stderr,
	        "faults: kill -9: retried on a new daemon: %d approvals (%d x 201 not stored "
	        "before, %d x 200 stored before, 0 x 409 expected), %d disbursements with the "
	        "same Idempotency-Key (%d allowed); wrong answers = %d, duplicates after = %d\n",
	        rt.approvals, rt.got201, rt.got200, rt.disbursements, rt.allowed, rt.wrong,
	        after.dups);

	ck_assert_msg(report == NULL, "sanitizer report before the kill: %s", report);
	ck_assert_msg(t.sent > 100, "only %d requests were sent", t.sent);
	ck_assert_msg(t.in_flight > 0, "no request was in flight at the kill");
	ck_assert_msg(bad_before == 0, "%d requests failed before the kill", bad_before);
	ck_assert_msg(t.lost == 0, "%d acknowledged writes are not in the database", t.lost);
	ck_assert_msg(t.dups == 0 && after.dups == 0, "duplicated acts");
	ck_assert_msg(rt.wrong == 0, "%d retries were answered wrongly", rt.wrong);
	ck_assert_msg(missing == 0, "%d approvals are missing after the retries", missing);
	ck_assert_msg(after.lost == 0, "lost after the retries");
	ck_assert_int_eq(code, 0);
	assert_log_clean(&d2);
}
END_TEST

/* ---- PostgreSQL stopped and crashed under load ---- */

static bool all_streaks_at_least(int n)
{
	for (int t = 0; t < THREADS; t++)
		if (atomic_load(&loaders[t].streak) < n)
			return false;
	return true;
}

static void outage_under_load(const char *mode, const char *prefix)
{
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, daemon_env));
	start_load(d.port, prefix, true, false);
	await_load(10);

	/* Nothing below may fail before the server is started again. */
	int stop_ms = rel_ms();
	bool stopped = testdb_server_stop_mode(mode);
	int stopped_ms = rel_ms();
	test_sleep_ms(2000);
	bool started = testdb_server_start();
	int up_ms = rel_ms();
	atomic_store(&g_up_ms, up_ms);
	for (int k = 0; k < RECOVERY_MS / 50 + 40 && !all_streaks_at_least(5); k++)
		test_sleep_ms(50);
	bool recovered = all_streaks_at_least(5);
	test_sleep_ms(1000);
	stop_load();
	if (!started)
		started = testdb_server_start();
	ck_assert_msg(stopped, "pg_ctl stop -m %s failed", mode);
	ck_assert_msg(started, "the test server did not start again");

	load_db_state(prefix);
	struct tally t;
	tally_up(mode, &t);
	int wrong = 0, steady_bad = 0, late_timeouts = 0, no_retry_after = 0, last_bad = -1;
	int ok_after_last_bad = 0;
	for (int th = 0; th < THREADS; th++)
		for (int k = 0; k < loaders[th].nrecs; k++) {
			const struct rec *r = &loaders[th].recs[k];
			bool ok = r->oc == OC_COMPLETE && r->status / 100 == 2;
			if (!ok && r->t1 > last_bad)
				last_bad = r->t1;
			if (r->t1 < stop_ms && !ok && steady_bad++ < 5)
				fprintf(stderr,
				        "faults: %s: %s of %s-%d-%d before the stop: %s %d\n", mode,
				        op_name[r->op], prefix, th, r->loan, oc_name[r->oc],
				        r->status);
			if (r->oc == OC_COMPLETE && r->status == 503 &&
			    !(r->retry_after && r->unavailable))
				no_retry_after++;
			if (r->oc == OC_TIMEOUT && r->t0 > up_ms + RECOVERY_MS)
				late_timeouts++;
			/* only 2xx, 503 or a timeout; never another status, never
			 * a connection dropped without an answer */
			bool allowed =
			    ok || (r->oc == OC_COMPLETE && r->status == 503) || r->oc == OC_TIMEOUT;
			if (!allowed && wrong++ < 10)
				fprintf(stderr, "faults: %s: %s of %s-%d-%d at %d ms: %s %d\n",
				        mode, op_name[r->op], prefix, th, r->loan, r->t0,
				        oc_name[r->oc], r->status);
		}
	for (int th = 0; th < THREADS; th++)
		for (int k = 0; k < loaders[th].nrecs; k++) {
			const struct rec *r = &loaders[th].recs[k];
			if (r->t0 > last_bad && r->oc == OC_COMPLETE && r->status / 100 == 2)
				ok_after_last_bad++;
		}
	int recovery_ms = last_bad > up_ms ? last_bad - up_ms : 0;

	/* What went unanswered can be retried safely now. */
	struct retry_tally rt;
	retry_unanswered(mode, d.port, &rt);
	load_db_state(prefix);
	struct tally after;
	tally_up(mode, &after);
	int code = daemon_stop(&d);

	fprintf(stderr,
	        "faults: postgres %s stop under load: %d threads, %d requests sent, %d x 2xx, "
	        "%d x 503 (%d without Retry-After/unavailable), %d timed out, %d other "
	        "answers, %d dropped connections; stop took %d ms, server away %d ms, service "
	        "back %d ms after the server (%d x 2xx after that); lost = %d, duplicates = "
	        "%d\n",
	        mode, THREADS, t.sent, t.ok2xx, t.s503, no_retry_after, t.timeouts, t.other,
	        t.nobytes + t.partial + t.refused + t.errors, stopped_ms - stop_ms, up_ms - stop_ms,
	        recovery_ms, ok_after_last_bad, t.lost, t.dups);
	fprintf(stderr,
	        "faults: postgres %s: retried after recovery: %d approvals (%d x 201, %d x "
	        "200), %d disbursements with the same Idempotency-Key (%d allowed); wrong "
	        "answers = %d; lost after = %d, duplicates after = %d\n",
	        mode, rt.approvals, rt.got201, rt.got200, rt.disbursements, rt.allowed, rt.wrong,
	        after.lost, after.dups);

	ck_assert_msg(t.s503 > 0, "%s: the outage was never seen", mode);
	ck_assert_msg(steady_bad == 0, "%s: %d failures before the server stopped", mode,
	              steady_bad);
	ck_assert_msg(wrong == 0, "%s: %d answers other than 2xx, 503 or a timeout", mode, wrong);
	ck_assert_msg(no_retry_after == 0, "%s: %d 503s without Retry-After or not unavailable",
	              mode, no_retry_after);
	ck_assert_msg(t.lost == 0, "%s: %d acknowledged writes are not in the database", mode,
	              t.lost);
	ck_assert_msg(t.dups == 0 && after.dups == 0, "%s: duplicated acts", mode);
	ck_assert_msg(recovered && recovery_ms <= RECOVERY_MS && late_timeouts == 0,
	              "%s: service not back %d ms after the server (every client 5 x 2xx in "
	              "a row: %s)",
	              mode, recovery_ms, recovered ? "yes" : "no");
	ck_assert_msg(ok_after_last_bad >= THREADS, "%s: only %d x 2xx after recovery", mode,
	              ok_after_last_bad);
	ck_assert_msg(rt.wrong == 0, "%s: %d retries were answered wrongly", mode, rt.wrong);
	ck_assert_msg(after.lost == 0, "%s: lost after the retries", mode);
	ck_assert_int_eq(code, 0);
	assert_log_clean(&d);
}

START_TEST(test_postgres_fast_stop_under_load_gives_only_503_and_loses_nothing)
{
	outage_under_load("fast", "PF");
}
END_TEST

START_TEST(test_postgres_crash_under_load_gives_only_503_and_loses_nothing)
{
	outage_under_load("immediate", "PI");
}
END_TEST

/* ---- two daemons racing payouts ---- */

#define RACE_LOANS  20
#define RACE_PER    10
#define RACE_RACERS (RACE_LOANS * RACE_PER)

struct racer {
	pthread_barrier_t *barrier;
	int port;
	int loan;
	struct fres res;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	char path[160];
	snprintf(path, sizeof path, "/v1/lenders/BANK1/loans/RACE-%d/disbursement", r->loan);
	pthread_barrier_wait(r->barrier);
	fc_req(r->port, "POST", path, "{}", NULL, 15000, &r->res);
	return NULL;
}

START_TEST(test_two_daemons_racing_payouts_for_20_loans_allow_each_exactly_once)
{
	struct daemon d1, d2;
	ck_assert(daemon_start(&d1, env.db_url, daemon_env));
	ck_assert(daemon_start(&d2, env.db_url, daemon_env));
	for (int i = 0; i < RACE_LOANS; i++) {
		char body[512], iin[13], ts[32];
		struct fres res;
		e2e_iin(iin, 9000 + (unsigned)i);
		e2e_ts_from_now(ts, 0);
		snprintf(
		    body, sizeof body,
		    "{\"loan_id\":\"RACE-%d\",\"borrower_iin\":\"%s\",\"amount\":\"" SMALL_AMOUNT
		    "\",\"currency\":\"KZT\",\"channel\":\"online\",\"secured\":false,"
		    "\"first_time_borrower\":false,\"consent_at\":\"%s\"}",
		    i, iin, ts);
		fc_req(i % 2 ? d2.port : d1.port, "POST", "/v1/lenders/BANK1/loans", body, NULL,
		       REQ_TIMEOUT, &res);
		ck_assert_msg(res.oc == OC_COMPLETE && res.status == 201, "RACE-%d: %s %d", i,
		              oc_name[res.oc], res.status);
	}

	static struct racer rs[RACE_RACERS];
	static pthread_t th[RACE_RACERS];
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, RACE_RACERS);
	for (int k = 0; k < RACE_RACERS; k++) {
		memset(&rs[k], 0, sizeof rs[k]);
		rs[k].barrier = &barrier;
		rs[k].loan = k % RACE_LOANS;
		rs[k].port = (k / RACE_LOANS) % 2 ? d2.port : d1.port; /* 5 + 5 per loan */
		ck_assert_int_eq(pthread_create(&th[k], NULL, racer_main, &rs[k]), 0);
	}
	for (int k = 0; k < RACE_RACERS; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&barrier);

	int allowed[RACE_LOANS] = {0}, by_daemon[2] = {0}, refused = 0, other = 0;
	for (int k = 0; k < RACE_RACERS; k++) {
		const struct fres *r = &rs[k].res;
		if (r->oc == OC_COMPLETE && r->status == 200 && !strcmp(r->decision, "allowed")) {
			allowed[rs[k].loan]++;
			by_daemon[rs[k].port == d2.port]++;
		} else if (r->oc == OC_COMPLETE && r->status == 409 &&
		           !strcmp(r->decision, "refused") &&
		           !strcmp(r->blockers, "[\"already_disbursed\"]")) {
			refused++;
		} else if (other++ < 5) {
			fprintf(stderr, "faults: race: racer %d (RACE-%d): %s %d %s %s\n", k,
			        rs[k].loan, oc_name[r->oc], r->status, r->decision, r->code);
		}
	}
	int once = 0;
	for (int i = 0; i < RACE_LOANS; i++)
		once += allowed[i] == 1;
	long long rows_allowed = e2e_sql_num(&env,
	                                     "SELECT count(*) FROM audit_event WHERE loan_id LIKE "
	                                     "'RACE-%' AND type = 'disbursement_allowed'",
	                                     NULL);
	long long loans_one_row = e2e_sql_num(
	    &env,
	    "SELECT count(*) FROM (SELECT l.loan_id FROM loan l JOIN audit_event a ON "
	    "a.lender_id = l.lender_id AND a.loan_id = l.loan_id AND a.type = "
	    "'disbursement_allowed' WHERE l.loan_id LIKE 'RACE-%' AND l.disbursed_at IS NOT NULL "
	    "GROUP BY l.loan_id HAVING count(*) = 1) x",
	    NULL);
	long long rows_refused = e2e_sql_num(&env,
	                                     "SELECT count(*) FROM audit_event WHERE loan_id LIKE "
	                                     "'RACE-%' AND type = 'disbursement_refused'",
	                                     NULL);
	int c1 = daemon_stop(&d1), c2 = daemon_stop(&d2);
	fprintf(stderr,
	        "faults: two daemons: %d loans x %d racers (%d per daemon per loan): %d allowed "
	        "(%d via the first daemon, %d via the second), %d refused already_disbursed, %d "
	        "other; database: %lld disbursement_allowed rows, %lld loans with exactly one, "
	        "%lld disbursement_refused rows\n",
	        RACE_LOANS, RACE_PER, RACE_PER / 2, by_daemon[0] + by_daemon[1], by_daemon[0],
	        by_daemon[1], refused, other, rows_allowed, loans_one_row, rows_refused);
	ck_assert_msg(other == 0, "%d racers got another answer", other);
	ck_assert_msg(once == RACE_LOANS, "only %d of %d loans were allowed exactly once", once,
	              RACE_LOANS);
	ck_assert_int_eq(refused, RACE_RACERS - RACE_LOANS);
	ck_assert_int_eq(rows_allowed, RACE_LOANS);
	ck_assert_int_eq(loans_one_row, RACE_LOANS);
	ck_assert_int_eq(rows_refused, RACE_RACERS - RACE_LOANS);
	ck_assert_int_eq(c1, 0);
	ck_assert_int_eq(c2, 0);
	assert_log_clean(&d1);
	assert_log_clean(&d2);
}
END_TEST

/* ---- SIGTERM under load ---- */

START_TEST(test_sigterm_under_load_answers_every_accepted_request_and_exits_0)
{
	struct daemon d;
	ck_assert(daemon_start(&d, env.db_url, daemon_env));
	start_load(d.port, "SG", true, true);
	/* More than the 100 requests asserted below, whatever the machine's pace. */
	await_load(100 / THREADS + 1);
	int term_ms = rel_ms();
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	int code = -1, status;
	for (int k = 0; k < 3000; k++) { /* 30 s */
		pid_t r = waitpid(d.pid, &status, WNOHANG);
		if (r == d.pid) {
			code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		test_sleep_ms(10);
	}
	int exit_ms = rel_ms();
	if (code == -1)
		daemon_kill9(&d);
	d.pid = -1;
	stop_load();

	load_db_state("SG");
	struct tally t;
	tally_up("SIGTERM", &t);
	char *log = e2e_read_file(d.log_path, NULL);
	ck_assert_ptr_nonnull(log);
	int bad = 0, not_accepted = 0, answered_503 = 0, in_flight = 0;
	for (int th = 0; th < THREADS; th++)
		for (int k = 0; k < loaders[th].nrecs; k++) {
			const struct rec *r = &loaders[th].recs[k];
			const char *why = NULL;
			char id[48], needle[200], path[160];
			loan_id_of(id, sizeof id, "SG", th, r->loan);
			if (r->t0 <= term_ms && r->t1 >= term_ms)
				in_flight++;
			switch (r->oc) {
			case OC_COMPLETE:
				if (r->status == 503 && r->retry_after && r->unavailable)
					answered_503++;
				else if (r->status / 100 != 2)
					why = "an answer other than 2xx or 503";
				break;
			case OC_REFUSED:
				if (r->t0 < term_ms)
					why = "refused before SIGTERM";
				break;
			case OC_NOBYTES:
				/* Closed before any answer: fine for a connection the
				 * daemon never took (the kernel resets the backlog of a
				 * closed listener), not for a request it handled. */
				if (r->t1 < term_ms) {
					why = "closed without answer before SIGTERM";
				} else if (committed(r, &db_state[th][r->loan])) {
					why = "committed, then the connection closed without "
					      "an answer";
				} else if (r->op != OP_APPROVE) { /* its path names the loan */
					op_path(path, sizeof path, (enum op)r->op, "SG", th,
					        r->loan);
					snprintf(needle, sizeof needle, "\"path\":\"%s\"", path);
					if (strstr(log, needle))
						why = "answered in the access log, but the "
						      "connection closed without the answer";
				}
				if (!why)
					not_accepted++;
				break;
			default:
				why = r->oc == OC_PARTIAL
				          ? "connection cut in the middle of the answer"
				      : r->oc == OC_TIMEOUT ? "no answer (timeout)"
				                            : "client error";
			}
			if (why && bad++ < 10)
				fprintf(stderr,
				        "faults: SIGTERM: %s of %s (sent %d ms, SIGTERM at %d "
				        "ms): %s (%s %d %s)\n",
				        op_name[r->op], id, r->t0, term_ms, why, oc_name[r->oc],
				        r->status, r->err ? strerror(r->err) : "");
		}
	free(log);
	fprintf(stderr,
	        "faults: SIGTERM under load: %d threads, %d requests sent, %d x 2xx, %d x 503 "
	        "while draining, %d other answers, %d in flight at SIGTERM, %d closed before "
	        "being accepted, %d refused after the listener closed, %d partial, %d timed out; "
	        "exit %d after %d ms; lost = %d, bad = %d\n",
	        THREADS, t.sent, t.ok2xx, answered_503, t.other, in_flight, not_accepted, t.refused,
	        t.partial, t.timeouts, code, exit_ms - term_ms, t.lost, bad);
	ck_assert_msg(t.sent > 100, "only %d requests were sent", t.sent);
	ck_assert_msg(bad == 0, "%d requests were not answered properly around SIGTERM", bad);
	ck_assert_msg(t.lost == 0, "%d acknowledged writes are not in the database", t.lost);
	ck_assert_msg(t.dups == 0, "duplicated acts");
	ck_assert_msg(code == 0, "coolingd exit status %d after SIGTERM", code);
	assert_log_clean(&d);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("faults");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(tc, ensure_server_up, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(
	    tc, test_kill9_under_write_load_loses_no_acknowledged_write_and_retries_are_safe);
	tcase_add_test(tc, test_postgres_fast_stop_under_load_gives_only_503_and_loses_nothing);
	tcase_add_test(tc, test_postgres_crash_under_load_gives_only_503_and_loses_nothing);
	tcase_add_test(tc, test_two_daemons_racing_payouts_for_20_loans_allow_each_exactly_once);
	tcase_add_test(tc, test_sigterm_under_load_answers_every_accepted_request_and_exits_0);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(faults_suite)
