/*
 * The compliance commands of coolingctl: one loan, its audit events, and
 * all loans of one borrower. They only read (loan events seals first, as
 * the export does). The status of a loan is evaluated with
 * loan_evaluate() at the database's clock, and --json prints
 * codec_loan_json(), so that coolingctl and the HTTP API never disagree
 * about a loan. Without --json, times are local times of [policy] timezone
 * (Asia/Almaty by default) with their offset, and amounts are tenge with
 * two decimals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "db.h"
#include "iin.h"
#include "money.h"
#include "policy.h"
#include "timeutil.h"

/* "cooling_period_active, in_person_verification_missing", or "none". */
static void blockers_text(unsigned blockers, char *out, size_t size)
{
	size_t w = 0;
	out[0] = '\0';
	for (int b = 0; b < BLOCKER__COUNT; b++)
		if (blockers & (1u << b))
			w += (size_t)snprintf(out + w, w < size ? size - w : 0, "%s%s",
			                      w ? ", " : "", blocker_name((enum blocker)b));
	if (w == 0)
		snprintf(out, size, "none");
}

/* currency "" (a daemon older than the field): KZT, the only one then */
static void amount_text(int64_t tiyn, const char *currency, char *out, size_t size)
{
	char m[MONEY_BUF];
	money_format(tiyn, m);
	snprintf(out, size, "%s %s", m, currency[0] != '\0' ? currency : "KZT");
}

/* "24h (86400 s)" */
static void period_text(int64_t s, char *out, size_t size)
{
	if (s % 86400 == 0)
		snprintf(out, size, "%lldd (%lld s)", (long long)(s / 86400), (long long)s);
	else if (s % 3600 == 0)
		snprintf(out, size, "%lldh (%lld s)", (long long)(s / 3600), (long long)s);
	else if (s % 60 == 0)
		snprintf(out, size, "%lldm (%lld s)", (long long)(s / 60), (long long)s);
	else
		snprintf(out, size, "%lld s", (long long)s);
}

/* The acts that stand in the way, in words: "consent, extra confirmation
 * (age), reconfirmation after the period, in-person verification"; "" when
 * none. */
static void pending_acts_text(const struct loan_view *v, char *out, size_t size)
{
	static const struct {
		enum blocker b;
		const char *words;
	} acts[] = {
	    {BLOCKER_CONSENT_MISSING, "consent"},
	    {BLOCKER_EXTRA_CONFIRMATION_MISSING, "extra confirmation (age)"},
	    {BLOCKER_RECONFIRMATION_MISSING, "reconfirmation after the period"},
	    {BLOCKER_IN_PERSON_VERIFICATION_MISSING, "in-person verification"},
	};
	size_t w = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (loan_view_has(v, acts[i].b))
			w += (size_t)snprintf(out + w, w < size ? size - w : 0, "%s%s",
			                      w ? ", " : "", acts[i].words);
}

/* Why the earliest disbursement is unknown (null in JSON). */
static void earliest_text(const struct loan_view *v, char *out, size_t size)
{
	if (v->earliest_disbursement_at != TS_NULL) {
		cli_local_time(v->earliest_disbursement_at, true, out);
		return;
	}
	if (loan_view_has(v, BLOCKER_CANCELLED) || loan_view_has(v, BLOCKER_ALREADY_DISBURSED)) {
		snprintf(out, size, "- (never)");
		return;
	}
	if (loan_view_has(v, BLOCKER_VOLUNTARY_REFUSAL_ACTIVE)) {
		snprintf(out, size, "- (a voluntary refusal of the borrower is active)");
		return;
	}
	char acts[160];
	pending_acts_text(v, acts, sizeof(acts));
	snprintf(out, size, "- (waits for an act: %s)", acts);
}

struct field {
	const char *key;
	char value[1024];
};

static void print_fields(const struct field *f, int n)
{
	int width = 0;
	for (int i = 0; i < n; i++)
		if (f[i].key && (int)strlen(f[i].key) > width)
			width = (int)strlen(f[i].key);
	for (int i = 0; i < n; i++) {
		if (f[i].key == NULL) {
			putchar('\n');
			continue;
		}
		char v[sizeof(f[i].value)];
		cli_printable(f[i].value, v, sizeof(v));
		printf("%s:%*s %s\n", f[i].key, width - (int)strlen(f[i].key), "", v);
	}
}

#define YESNO(b) ((b) ? "yes" : "no")

/* "first_time, prior_fraud_victim", or "none". */
static void reasons_text(unsigned reasons, char *out, size_t size)
{
	size_t w = 0;
	out[0] = '\0';
	for (int i = 0; i < in_person_reason_names.count && w < size; i++)
		if (reasons & (1u << i))
			w += (size_t)snprintf(out + w, size - w, "%s%s", w ? ", " : "",
			                      in_person_reason_names.names[i]);
	if (w == 0)
		snprintf(out, size, "none");
}

/* What a loan read through the API (--api) cannot show: the API's loan
 * does not hold it. */
#define NOT_IN_API "- (not in the API's answer)"

/* from_api: l came from the API's answer (cli_loan_from_json), and now is
 * unknown. */
static void print_loan(const struct loan *l, const struct loan_view *v, int64_t now, bool from_api)
{
	struct field f[56];
	int n = 0;
#define FIELD(k, ...) (f[n].key = (k), snprintf(f[n].value, sizeof(f[n].value), __VA_ARGS__), n++)
#define TIME(k, ts)   (f[n].key = (k), cli_local_time((ts), true, f[n].value), n++)
#define GAP()         (f[n].key = NULL, n++)

	FIELD("lender", "%s", l->lender);
	FIELD("loan_id", "%s", l->loan_id);
	FIELD("borrower_iin", "%s", l->borrower_iin);
	amount_text(l->amount_tiyn, l->currency, f[n].value, sizeof(f[n].value));
	f[n++].key = "amount";
	FIELD("channel", "%s", channel_name(l->channel));
	FIELD("secured", "%s", YESNO(l->secured));
	if (from_api)
		FIELD("first_time_borrower", "%s", YESNO(l->first_time_borrower));
	else
		FIELD("first_time_borrower", "%s (%s)", YESNO(l->first_time_borrower),
		      l->first_time_given ? "stated by the lender" : "from the loans on record");
	GAP();
	FIELD("status", "%s", status_name(v->status));
	blockers_text(v->blockers, f[n].value, sizeof(f[n].value));
	f[n++].key = "blockers";
	earliest_text(v, f[n].value, sizeof(f[n].value));
	f[n++].key = "earliest_disbursement_at";
	if (from_api)
		FIELD("evaluated_at", "%s", "- (the daemon's clock)");
	else
		TIME("evaluated_at", now);
	GAP();
	FIELD("policy", "%s", l->policy);
	FIELD("mrp", "%lld tenge", (long long)l->mrp_tenge);
	amount_text(l->threshold_tiyn, l->currency, f[n].value, sizeof(f[n].value));
	f[n++].key = "threshold_amount";
	FIELD("cooling_required", "%s", YESNO(l->cooling_required));
	if (policy_cooled_by_calendar(l))
		snprintf(f[n].value, sizeof(f[n].value), "until the next working day (%s)",
		         l->cooling_calendar_zone);
	else if (l->cooling_required)
		period_text(l->cooling_period_s, f[n].value, sizeof(f[n].value));
	else
		snprintf(f[n].value, sizeof(f[n].value), "-");
	f[n++].key = "cooling_period";
	FIELD("in_person_required", "%s", YESNO(l->in_person_required));
	reasons_text(loan_in_person_reasons(l), f[n].value, sizeof(f[n].value));
	f[n++].key = "in_person_reasons";
	FIELD("fraud_claim_open", "%s", YESNO(l->fraud_claim_open));
	FIELD("lender_kind", "%s", name_of(&lender_kind_names, l->lender_kind));
	FIELD("product", "%s", name_of(&product_names, l->product));
	FIELD("exemption", "%s", l->exemption ? name_of(&exemption_names, l->exemption) : "-");
	FIELD("rule", "%s", l->rule ? name_of(&rule_names, l->rule) : "- (not cooled)");
	amount_text(l->aggregated_tiyn, l->currency, f[n].value, sizeof(f[n].value));
	f[n++].key = "days_amount";
	if (l->borrower_age >= 0)
		FIELD("borrower_age", "%lld", (long long)l->borrower_age);
	else
		FIELD("borrower_age", "-");
	FIELD("reconfirmation_required", "%s", YESNO(l->reconfirmation_required));
	FIELD("extra_confirmation_required", "%s", YESNO(l->extra_confirmation_required));
	pending_acts_text(v, f[n].value, sizeof(f[n].value));
	if (f[n].value[0] == '\0')
		snprintf(f[n].value, sizeof(f[n].value), "none");
	f[n++].key = "pending_acts";
	GAP();
	TIME("approved_at", l->approved_at);
	TIME("consent_at", l->consent_at);
	TIME("cooling_ends_at", l->cooling_required ? l->cooling_ends_at : TS_NULL);
	TIME("in_person_verified_at", l->in_person_verified_at);
	FIELD("in_person_branch_id", "%s",
	      from_api                    ? NOT_IN_API
	      : l->in_person_branch_id[0] ? l->in_person_branch_id
	                                  : "-");
	FIELD("in_person_officer_id", "%s",
	      from_api                     ? NOT_IN_API
	      : l->in_person_officer_id[0] ? l->in_person_officer_id
	                                   : "-");
	TIME("disbursed_at", l->disbursed_at);
	TIME("cancelled_at", l->cancelled_at);
	FIELD("cancel_reason", "%s",
	      from_api              ? NOT_IN_API
	      : l->cancel_reason[0] ? l->cancel_reason
	                            : "-");
	TIME("extra_confirmed_at", l->extra_confirmed_at);
	FIELD("extra_confirmation_method", "%s",
	      l->extra_confirmation_method[0] ? l->extra_confirmation_method : "-");
	TIME("reconfirmed_at", l->reconfirmed_at);
	FIELD("reconfirmation_method", "%s",
	      l->reconfirmation_method[0] ? l->reconfirmation_method : "-");
	TIME("trusted_person_confirmed_at", l->trusted_person_confirmed_at);
	FIELD("control_call_required", "%s", YESNO(l->control_call_required));
	TIME("control_called_at", l->control_called_at);
	FIELD("control_call_officer_id", "%s",
	      l->control_call_officer_id[0] ? l->control_call_officer_id : "-");
#undef FIELD
#undef TIME
#undef GAP
	print_fields(f, n);
}

/* GET of one loan through the API: the answer as it is with --json. */
static int loan_show_api(struct cli *cli, const char *lender, const char *loan_id, bool json)
{
	int rc;
	if (!cli_api_setup(cli, &rc))
		return rc;
	char path[256];
	snprintf(path, sizeof(path), "/v1/lenders/%s/loans/%s", lender, loan_id);
	json_t *o = cli_api_call(cli, "GET", path, NULL, &rc);
	if (o == NULL)
		return rc;
	if (json)
		return cli_print_json(cli, o);
	struct loan l;
	struct loan_view v;
	bool ok = cli_loan_from_json(o, &l, &v);
	json_decref(o);
	if (!ok)
		return cli_fail(cli, CLI_FAIL,
		                "the API's answer is not a loan this coolingctl reads");
	print_loan(&l, &v, TS_NULL, true);
	return CLI_OK;
}

int cmd_loan_show(struct cli *cli, const struct cli_args *a)
{
	const char *lender = a->arg[0], *loan_id = a->arg[1];
	bool json = cli_opt(cli, a, "json") != NULL;
	if (!id_valid(lender))
		return cli_usage(cli, "LENDER must be " ID_RULE);
	if (!id_valid(loan_id))
		return cli_usage(cli, "LOAN_ID must be " ID_RULE);
	if (cli->api_url != NULL)
		return loan_show_api(cli, lender, loan_id, json);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct loan l;
	int64_t now;
	struct cd_error err;
	cd_error_clear(&err);
	if (!db_loan_get(cli->conn, lender, loan_id, &l, &now, &err))
		return cli_db_fail(cli, &err);

	struct loan_view v;
	loan_evaluate(&l, now, &v);
	if (json)
		return cli_print_json(cli, codec_loan_json(&l, &v));
	print_loan(&l, &v, now, false);
	return CLI_OK;
}

/* ---- loan events ---- */

/* Appends the events of one page to events; their number, or -1. */
static int events_page(struct cli *cli, const char *lender, const char *loan_id, int64_t *after,
                       json_t *events, struct cd_error *err)
{
	PGresult *r = db_loan_events(cli->conn, lender, loan_id, *after, DB_LOAN_EVENTS_MAX, err);
	if (r == NULL)
		return -1;
	int n = 0;
	struct db_audit_event e;
	for (; db_audit_event_row(r, n, &e); n++) {
		*after = e.seq;
		json_array_append_new(
		    events, codec_audit_event_json(&(struct codec_audit_event){.seq = e.seq,
		                                                               .at = e.at,
		                                                               .actor = e.actor,
		                                                               .lender = e.lender,
		                                                               .loan_id = e.loan_id,
		                                                               .type = e.type,
		                                                               .detail = e.detail,
		                                                               .hash = e.hash}));
	}
	PQclear(r);
	return n;
}

static void print_events_table(const struct cli *cli, json_t *events)
{
	char at_head[96];
	snprintf(at_head, sizeof(at_head), "at (%s)", cli->timezone);
	const char *const header[] = {"seq", at_head, "type", "actor", "detail"};
	static const bool right[] = {true, false, false, false, false};
	struct cli_table t;
	cli_table_init(&t, 5, header, right);
	size_t i;
	json_t *e;
	json_array_foreach(events, i, e)
	{
		char seq[24], at[CLI_TIME_BUF];
		snprintf(seq, sizeof(seq), "%lld",
		         (long long)json_integer_value(json_object_get(e, "seq")));
		int64_t us = TS_NULL;
		const char *why = NULL;
		ts_parse_rfc3339(json_string_value(json_object_get(e, "at")), &us, &why);
		cli_local_time(us, true, at);
		char *detail = json_dumps(json_object_get(e, "detail"), JSON_COMPACT);
		const char *row[] = {seq, at, json_string_value(json_object_get(e, "type")),
		                     json_string_value(json_object_get(e, "actor")),
		                     detail ? detail : "{}"};
		cli_table_add(&t, row);
		free(detail);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

/* Every page of the loan's events through the API (the daemon seals
 * within a moment; what it has not sealed yet is not shown). */
static json_t *events_api(struct cli *cli, const char *lender, const char *loan_id, int *rc)
{
	if (!cli_api_setup(cli, rc))
		return NULL;
	json_t *events = json_array();
	int64_t after = 0;
	for (;;) {
		char path[320];
		snprintf(path, sizeof(path), "/v1/lenders/%s/loans/%s/events?after=%lld&limit=%d",
		         lender, loan_id, (long long)after, DB_LOAN_EVENTS_MAX);
		json_t *o = cli_api_call(cli, "GET", path, NULL, rc);
		if (o == NULL) {
			json_decref(events);
			return NULL;
		}
		json_t *page = json_object_get(o, "events");
		size_t n = json_array_size(page);
		if (n > 0)
			after =
			    json_integer_value(json_object_get(json_array_get(page, n - 1), "seq"));
		json_array_extend(events, page);
		json_decref(o);
		if (n < DB_LOAN_EVENTS_MAX)
			return events;
	}
}

int cmd_loan_events(struct cli *cli, const struct cli_args *a)
{
	const char *lender = a->arg[0], *loan_id = a->arg[1];
	bool json = cli_opt(cli, a, "json") != NULL;
	if (!id_valid(lender))
		return cli_usage(cli, "LENDER must be " ID_RULE);
	if (!id_valid(loan_id))
		return cli_usage(cli, "LOAN_ID must be " ID_RULE);

	json_t *events;
	int rc;
	if (cli->api_url != NULL) {
		if ((events = events_api(cli, lender, loan_id, &rc)) == NULL)
			return rc;
	} else {
		if (!cli_connect(cli, true, &rc))
			return rc;
		struct cd_error err;
		cd_error_clear(&err);
		if (db_audit_seal_all(cli->conn, &err) < 0)
			return cli_db_fail(cli, &err);
		/* every page: a full one may have a successor */
		events = json_array();
		int64_t after = 0;
		int n;
		while ((n = events_page(cli, lender, loan_id, &after, events, &err)) ==
		       DB_LOAN_EVENTS_MAX)
			;
		if (n < 0) {
			json_decref(events);
			return cli_db_fail(cli, &err);
		}
	}
	if (json)
		return cli_print_json(cli, json_pack("{s:o}", "events", events));
	if (json_array_size(events) == 0)
		printf("no sealed events for this loan yet\n");
	else
		print_events_table(cli, events);
	json_decref(events);
	return CLI_OK;
}

static void print_loan_table(const struct cli *cli, const struct loan *ls,
                             const struct loan_view *vs, int n)
{
	char approved_head[96];
	snprintf(approved_head, sizeof(approved_head), "approved (%s)", cli->timezone);
	const char *const header[] = {"lender",      "loan_id",     "amount",   "channel",
	                              "status",      approved_head, "blockers", "tier",
	                              "days_amount", "pending_acts"};
	static const bool right[] = {false, false, true,  false, false,
	                             false, false, false, true,  false};
	struct cli_table t;
	cli_table_init(&t, 10, header, right);
	for (int i = 0; i < n; i++) {
		const struct loan *l = &ls[i];
		const struct loan_view *v = &vs[i];
		char amount[MONEY_BUF], approved[CLI_TIME_BUF], blockers[256], day[MONEY_BUF],
		    acts[160];
		money_format(l->amount_tiyn, amount);
		money_format(l->aggregated_tiyn, day);
		pending_acts_text(v, acts, sizeof(acts));
		cli_local_time(l->approved_at, false, approved);
		blockers_text(v->blockers, blockers, sizeof(blockers));
		const char *row[] = {l->lender,
		                     l->loan_id,
		                     amount,
		                     channel_name(l->channel),
		                     status_name(v->status),
		                     approved,
		                     v->blockers ? blockers : "-",
		                     l->rule ? name_of(&rule_names, l->rule) : "-",
		                     day,
		                     acts[0] ? acts : "-"};
		cli_table_add(&t, row);
	}
	cli_table_print(&t);
	cli_table_free(&t);
}

/* A JSON array of loans (codec_loan_json()) as the loan table, or `none`
 * when it is empty. `owner` is the reference that holds `loans`: it is
 * released here, on every path. */
static int print_loan_list(struct cli *cli, const json_t *loans, json_t *owner, const char *none,
                           const char *unreadable)
{
	size_t n = json_array_size(loans);
	if (n == 0) {
		printf("%s\n", none);
		json_decref(owner);
		return CLI_OK;
	}
	struct loan *ls = calloc(n, sizeof(*ls));
	struct loan_view *vs = calloc(n, sizeof(*vs));
	bool ok = ls != NULL && vs != NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = cli_loan_from_json(json_array_get(loans, i), &ls[i], &vs[i]);
	json_decref(owner);
	if (ok)
		print_loan_table(cli, ls, vs, (int)n);
	free(ls);
	free(vs);
	return ok ? CLI_OK : cli_fail(cli, CLI_FAIL, "%s", unreadable);
}

/* The borrower's loans through the API: POST /v1/borrowers/search, so
 * that the IIN is in no URL (nor a proxy's log). */
static int borrower_api(struct cli *cli, const char *iin, bool json)
{
	int rc;
	if (!cli_api_setup(cli, &rc))
		return rc;
	json_t *o = cli_api_call(cli, "POST", "/v1/borrowers/search",
	                         json_pack("{s:s}", "borrower_iin", iin), &rc);
	if (o == NULL)
		return rc;
	json_t *loans = json_object_get(o, "loans");
	size_t n = json_array_size(loans);
	if (n >= DB_BORROWER_MAX_LOANS)
		fprintf(stderr, "coolingctl: borrower: showing the newest %zu loans only\n", n);
	if (json)
		return cli_print_json(cli, o);
	return print_loan_list(cli, loans, o, "no loans for this borrower",
	                       "the API's answer holds a loan this coolingctl cannot read");
}

int cmd_borrower(struct cli *cli, const struct cli_args *a)
{
	const char *iin = a->arg[0];
	bool json = cli_opt(cli, a, "json") != NULL;
	const char *why = NULL;
	/* the rejected input is not echoed: an IIN is personal data */
	if (!iin_valid(iin, &why))
		return cli_usage(cli, "not a valid IIN: %s", why ? why : "invalid");

	if (cli->api_url != NULL)
		return borrower_api(cli, iin, json);

	int rc;
	if (!cli_connect(cli, true, &rc))
		return rc;
	struct cd_error err;
	cd_error_clear(&err);
	int64_t today;
	if (!db_local_date(cli->conn, cli->timezone, &today, &err))
		return cli_db_fail(cli, &err);
	if (!iin_born_by(iin, today, &why))
		return cli_usage(cli, "not a valid IIN: %s", why);
	PGresult *r = db_borrower_loans(cli->conn, iin, NULL, &err);
	if (r == NULL)
		return cli_db_fail(cli, &err);

	int n = PQntuples(r);
	if (n >= DB_BORROWER_MAX_LOANS)
		fprintf(stderr, "coolingctl: borrower: showing the newest %d loans only\n", n);
	struct loan *ls = calloc(n > 0 ? (size_t)n : 1, sizeof(*ls));
	struct loan_view *vs = calloc(n > 0 ? (size_t)n : 1, sizeof(*vs));
	if (ls == NULL || vs == NULL) {
		free(ls);
		free(vs);
		PQclear(r);
		return cli_fail(cli, CLI_FAIL, "out of memory");
	}
	int got = 0;
	for (int i = 0; i < n; i++) {
		int64_t now;
		if (!db_loan_row(r, i, &ls[got], &now))
			continue;
		loan_evaluate(&ls[got], now, &vs[got]);
		got++;
	}
	PQclear(r);
	if (json) {
		json_t *loans = json_array();
		for (int i = 0; i < got; i++)
			json_array_append_new(loans, codec_loan_json(&ls[i], &vs[i]));
		free(ls);
		free(vs);
		return cli_print_json(cli, json_pack("{s:o}", "loans", loans));
	}
	if (got == 0)
		printf("no loans for this borrower\n");
	else
		print_loan_table(cli, ls, vs, got);
	free(ls);
	free(vs);
	return CLI_OK;
}

/* ---- loans: GET /v1/loans, every page ---- */

struct loans_query {
	const char *status, *lender;
	int64_t from, to, limit;
};

/* Appends every page of the database's list to loans (codec_loan_json). */
static bool loans_db(struct cli *cli, const struct loans_query *q, json_t *loans, int *rc)
{
	if (!cli_connect(cli, true, rc))
		return false;
	int64_t cur_at = TS_NULL, cur_id = TS_NULL;
	for (;;) {
		struct cd_error err;
		cd_error_clear(&err);
		PGresult *r = db_loans_list(cli->conn, q->from, q->to, cur_at, cur_id, q->status,
		                            q->limit, q->lender, &err);
		if (r == NULL) {
			*rc = cli_db_fail(cli, &err);
			return false;
		}
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			struct loan l;
			struct loan_view v;
			int64_t now;
			if (!db_loan_row(r, i, &l, &now))
				continue;
			loan_evaluate(&l, now, &v);
			json_array_append_new(loans, codec_loan_json(&l, &v));
			cur_at = l.approved_at;
			cur_id = l.pk;
		}
		PQclear(r);
		if (n < q->limit)
			return true;
	}
}

/* The same through the API, following "next". */
static bool loans_api(struct cli *cli, const struct loans_query *q, json_t *loans, int *rc)
{
	if (!cli_api_setup(cli, rc))
		return false;
	char base[512], from[TS_BUF], to[TS_BUF];
	int w = snprintf(base, sizeof(base), "/v1/loans?limit=%lld", (long long)q->limit);
	if (q->status)
		w += snprintf(base + w, sizeof(base) - (size_t)w, "&status=%s", q->status);
	if (q->lender)
		w += snprintf(base + w, sizeof(base) - (size_t)w, "&lender=%s", q->lender);
	if (q->from != TS_NULL) {
		ts_format_utc(q->from, from);
		w += snprintf(base + w, sizeof(base) - (size_t)w, "&from=%s", from);
	}
	if (q->to != TS_NULL) {
		ts_format_utc(q->to, to);
		snprintf(base + w, sizeof(base) - (size_t)w, "&to=%s", to);
	}
	char after[CURSOR_BUF] = "";
	for (;;) {
		char path[700];
		snprintf(path, sizeof(path), "%s%s%s", base, after[0] ? "&after=" : "", after);
		json_t *o = cli_api_call(cli, "GET", path, NULL, rc);
		if (o == NULL)
			return false;
		json_array_extend(loans, json_object_get(o, "loans"));
		const char *next = json_string_value(json_object_get(o, "next"));
		bool more = next != NULL && strlen(next) < sizeof(after);
		if (more)
			snprintf(after, sizeof(after), "%s", next);
		json_decref(o);
		if (!more)
			return true;
	}
}

int cmd_loans(struct cli *cli, const struct cli_args *a)
{
	struct loans_query q = {.status = cli_opt(cli, a, "status"),
	                        .lender = cli_opt(cli, a, "lender"),
	                        .from = TS_NULL,
	                        .to = TS_NULL,
	                        .limit = 100};
	bool json = cli_opt(cli, a, "json") != NULL;
	const char *from = cli_opt(cli, a, "from"), *to = cli_opt(cli, a, "to"),
	           *limit = cli_opt(cli, a, "limit"), *why = NULL;
	if (q.status != NULL) {
		enum loan_status st;
		char names[STATUS_LIST_BUF];
		status_list(names);
		if (!status_parse(q.status, &st))
			return cli_usage(cli, "--status must be one of %s", names);
	}
	if (q.lender != NULL && !id_valid(q.lender))
		return cli_usage(cli, "--lender must be " ID_RULE);
	if (from != NULL && !ts_parse_rfc3339(from, &q.from, &why))
		return cli_usage(cli, "--from: %s", why ? why : "not an RFC 3339 timestamp");
	if (to != NULL && !ts_parse_rfc3339(to, &q.to, &why))
		return cli_usage(cli, "--to: %s", why ? why : "not an RFC 3339 timestamp");
	if (limit != NULL &&
	    (strlen(limit) > 4 || !int_parse(limit, &q.limit) || q.limit < 1 || q.limit > 1000))
		return cli_usage(cli, "--limit must be a whole number from 1 to 1000");

	json_t *loans = json_array();
	int rc;
	if (!(cli->api_url != NULL ? loans_api(cli, &q, loans, &rc)
	                           : loans_db(cli, &q, loans, &rc))) {
		json_decref(loans);
		return rc;
	}
	if (json)
		return cli_print_json(cli, json_pack("{s:o}", "loans", loans));
	return print_loan_list(cli, loans, loans, "no loans",
	                       "a loan of the list cannot be read back");
}
