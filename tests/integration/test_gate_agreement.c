/*
 * The SQL that guards each write (lib/db/statements.c: GUARD, CONSENT_GUARD,
 * VERIFY_GUARD, CANCEL_GUARD, CONTROL_CALL_GUARD, ...) and the C that
 * decides it (loan_evaluate, loan_consent_decide, loan_verify_decide,
 * loan_cancel_decide, loan_control_call_decide, ...) must never
 * drift apart: for every combination of loan state, each guarded UPDATE
 * succeeds exactly when the C rules choose to write, and the payout's
 * payee guard exactly when loan_disburse_decide() finds its payee
 * flagged; the cross-lender window (uz-2026-01's) on loans whose borrower
 * another lender paid out within it, beyond it, exactly at its end, or
 * only through loans the window does not count, and two payouts of one
 * borrower racing at two lenders; a consent of a loan cooled until the
 * next working day writes the end that the C twin of the calendar gives.
 * Also: the MRP in force
 * is the one of the approval's Asia/Almaty local date, as the database
 * computes it; the STMT_AUTH_* twins return their read beside the client;
 * every statement fits the pool's parameter bound.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "check_main.h"
#include "db.h"
#include "loan.h"
#include "policy.h"
#include "support/testdb.h"
#include "timeutil.h"

static char *url;
static PGconn *conn;

static void setup(void)
{
	url = testdb_create("gate");
	conn = testdb_connect(url);
	struct cd_error err;
	ck_assert_msg(db_prepare_all(conn, &err), "%s", err.message);
	PGresult *r = PQexec(conn, "SET TimeZone = 'UTC'; "
	                           "INSERT INTO lender (id, kind) VALUES ('B1', 'bank')");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

static void teardown(void)
{
	PQfinish(conn);
	testdb_drop(url);
	free(url);
}

static PGresult *exec_prepared(enum stmt st, const char *const *params)
{
	return PQexecPrepared(conn, db_statements[st].name, db_statements[st].nparams, params, NULL,
	                      NULL, 0);
}

struct state {
	bool cancelled, disbursed, consent, cooling_required, cooling_over, in_person_required,
	    verified;
	/* profile kz-2025-09's acts */
	bool extra_required, extra_confirmed, reconfirmation_required, reconfirmed;
	/* profile ru-2025-09's: a loan of it, confirmed by the trusted person
	 * (exempt then, its cooling cleared) */
	bool ru, trusted;
	/* profile kg-2024-11's: a loan of its third band, which asks for a
	 * control call, and the call recorded */
	bool kg, called;
	/* a loan that a cross-lender window holds, of this many seconds (0:
	 * none) */
	int64_t window_s;
	/* profile by-2025-11's: cooled until the next working day in Minsk
	 * (a zone and no length) */
	bool by;
	const char *iin; /* NULL: BORROWER */
};

/* The borrowers of the loans, by what the voluntary refusal registry holds
 * for them (setup_refusals()): nothing, a refusal in force, one set and
 * withdrawn, one that takes effect only tomorrow. */
#define BORROWER           "900101300126"
#define BORROWER_REFUSED   "900101300001"
#define BORROWER_WITHDRAWN "900101300002"
#define BORROWER_FUTURE    "900101300003"
/* ... and by their fraud claims: one open, one closed */
#define BORROWER_CLAIMED      "900101300004"
#define BORROWER_CLAIM_CLOSED "900101300005"

static void setup_refusals(void)
{
	PGresult *r =
	    PQexec(conn, "INSERT INTO voluntary_refusal (iin, active, effective_at, source) VALUES "
	                 "('" BORROWER_REFUSED "', true, now() - interval '1 day', 'fcb'), "
	                 "('" BORROWER_WITHDRAWN "', true, now() - interval '2 days', 'fcb'), "
	                 "('" BORROWER_WITHDRAWN "', false, now() - interval '1 day', 'fcb'), "
	                 "('" BORROWER_FUTURE "', true, now() + interval '1 day', 'fcb')");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
	r = PQexec(conn, "INSERT INTO fraud_claim (borrower_iin, reference, opened_by) VALUES "
	                 "('" BORROWER_CLAIMED "', 'C-1', 'test'); "
	                 "INSERT INTO fraud_claim (borrower_iin, reference, opened_by, closed_at, "
	                 "closed_by, outcome) VALUES ('" BORROWER_CLAIM_CLOSED "', 'C-2', 'test', "
	                 "now(), 'test', 'confirmed')");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
}

/* Another lender (B2) and its payouts to the borrowers above, by what a
 * window of 1 or 3 hours makes of them: a counted payout 2 hours ago
 * (inside 3 hours, beyond 1) for BORROWER, BORROWER_REFUSED and
 * BORROWER_CLAIMED; one 5 hours ago for BORROWER_CLAIM_CLOSED; for
 * BORROWER_WITHDRAWN and BORROWER_FUTURE only payouts 10 minutes ago that
 * no window counts (a loan without one: another profile's, or a branch
 * loan). */
#define OTHER_PAID_AGO_S 7200
static void setup_other_lender(void)
{
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B2', 'mfo')");
	static const struct {
		const char *iin, *ago, *window;
	} paid[] = {
	    {BORROWER, "2 hours", "86400"},
	    {BORROWER_REFUSED, "2 hours", "86400"},
	    {BORROWER_CLAIMED, "2 hours", "3600"},
	    {BORROWER_CLAIM_CLOSED, "5 hours", "86400"},
	    {BORROWER_WITHDRAWN, "10 minutes", "NULL"},
	    {BORROWER_FUTURE, "10 minutes", "NULL"},
	};
	for (size_t i = 0; i < sizeof(paid) / sizeof(paid[0]); i++) {
		char sql[1024];
		snprintf(
		    sql, sizeof(sql),
		    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
		    "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
		    "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
		    "approved_at, consent_at, disbursed_at, currency, cross_lender_window_s) "
		    "VALUES ('B2', 'OTHER-%zu', '%s', 100000, 'online', false, false, true, "
		    "'uz-2026-01', 0, 0, false, NULL, false, now() - interval '1 day', "
		    "now() - interval '1 day', now() - interval '%s', 'UZS', %s)",
		    i, paid[i].iin, paid[i].ago, paid[i].window);
		testdb_exec(conn, sql);
	}
}

/* Whether a window counts a payout of setup_other_lender() for the
 * borrower, and whether one of window_s holds a loan of the borrower. */
static bool other_lender_counted(const char *iin)
{
	return strcmp(iin, BORROWER) == 0 || strcmp(iin, BORROWER_REFUSED) == 0 ||
	       strcmp(iin, BORROWER_CLAIMED) == 0 || strcmp(iin, BORROWER_CLAIM_CLOSED) == 0;
}
static bool other_lender_holds(const char *iin, int64_t window_s)
{
	return other_lender_counted(iin) && strcmp(iin, BORROWER_CLAIM_CLOSED) != 0 &&
	       window_s > OTHER_PAID_AGO_S;
}

/* The payees of the payouts, by what the suspicious payee registry holds
 * for them (setup_payees()): nothing, a flag in force, one set and
 * withdrawn, one that takes effect only tomorrow; and no payee at all. */
static const struct payee payees[] = {
    {.kind = PAYEE_ACCOUNT, .id = "ACC-CLEAN"},
    {.kind = PAYEE_CARD, .id = "tok-flagged"},
    {.kind = PAYEE_WALLET, .id = "W-WITHDRAWN"},
    {.kind = PAYEE_ACCOUNT, .id = "ACC-FUTURE"},
};
#define PAYEE_FLAGGED_AT 1 /* the index of the one flagged now */

static void setup_payees(void)
{
	PGresult *r = PQexec(
	    conn, "INSERT INTO suspicious_payee (kind, id, active, effective_at, source) VALUES "
	          "('card', 'tok-flagged', true, now() - interval '1 day', 'afc'), "
	          "('wallet', 'W-WITHDRAWN', true, now() - interval '2 days', 'afc'), "
	          "('wallet', 'W-WITHDRAWN', false, now() - interval '1 day', 'afc'), "
	          "('account', 'ACC-FUTURE', true, now() + interval '1 day', 'afc'), "
	          /* the same id as another kind's: a flag is of one kind */
	          "('account', 'tok-flagged', false, now() - interval '1 day', 'afc')");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
}

/* Inserts a loan in the given state directly, bypassing the daemon. */
static void insert_loan(const char *loan_id, const struct state *s)
{
	char sql[2048], window[24] = "NULL";
	if (s->window_s > 0)
		snprintf(window, sizeof(window), "%lld", (long long)s->window_s);
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	    "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	    "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	    "approved_at, consent_at, cooling_ends_at, in_person_verified_at, cancelled_at, "
	    "disbursed_at, aggregated_amount_tiyn, rule, extra_confirmation_required, "
	    "extra_confirmed_at, extra_confirmation_method, reconfirmation_required, "
	    "reconfirmed_at, currency, trusted_person_confirmed_at, exemption, "
	    "control_call_required, control_called_at, control_call_officer_id, "
	    "cross_lender_window_s, cooling_calendar_zone) "
	    "VALUES ('B1', '%s', '%s', 70000000, 'online', false, "
	    "true, true, '%s', 4325, 64875000, %s, %s, %s, now() - interval '3 hours', "
	    "%s, %s, %s, %s, %s, 70000000, %s, %s, %s, %s, %s, %s, '%s', %s, %s, %s, %s, %s, %s, "
	    "%s)",
	    loan_id, s->iin ? s->iin : BORROWER,
	    s->ru         ? "ru-2025-09"
	    : s->kg       ? "kg-2024-11"
	    : s->window_s ? "uz-2026-01"
	    : s->by       ? "by-2025-11"
	                  : "kz-2025-09",
	    s->cooling_required ? "true" : "false", s->cooling_required && !s->by ? "7200" : "NULL",
	    s->in_person_required ? "true" : "false",
	    s->consent ? "now() - interval '2 hours' - interval '30 minutes'" : "NULL",
	    s->cooling_required && s->consent
	        ? (s->cooling_over ? "now() - interval '1 hour'" : "now() + interval '1 hour'")
	        : "NULL",
	    s->verified ? "now() - interval '2 hours'" : "NULL",
	    s->cancelled ? "now() - interval '1 hour'" : "NULL",
	    s->disbursed ? "now() - interval '10 minutes'" : "NULL",
	    s->cooling_required ? (s->ru   ? "'ru_short'"
	                           : s->kg ? "'kg_band3'"
	                           : s->by ? "'next_working_day'"
	                                   : "'bank_short'")
	                        : "NULL",
	    s->extra_required ? "true" : "false",
	    s->extra_confirmed ? "now() - interval '2 hours'" : "NULL",
	    s->extra_confirmed ? "'egov'" : "NULL", s->reconfirmation_required ? "true" : "false",
	    s->reconfirmed ? "now() - interval '30 minutes'" : "NULL",
	    s->ru         ? "RUB"
	    : s->kg       ? "KGS"
	    : s->window_s ? "UZS"
	    : s->by       ? "BYN"
	                  : "KZT",
	    s->trusted ? "now() - interval '20 minutes'" : "NULL",
	    s->trusted ? "'trusted_person'" : "NULL", s->kg ? "true" : "false",
	    s->called ? "now() - interval '2 hours' - interval '45 minutes'" : "NULL",
	    s->called ? "'OF-1'" : "NULL", window,
	    s->by && s->cooling_required ? "'Europe/Minsk'" : "NULL");
	PGresult *r = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
}

/* GET /v1/loans?status=S filters with an SQL expression of the status:
 * the loan must be listed under the status loan_evaluate() gives, and under
 * no other. */
static void check_status_filter_agrees(const struct loan *l, const struct loan_view *v)
{
	static const enum loan_status all[] = {STATUS_CANCELLED,
	                                       STATUS_DISBURSED,
	                                       STATUS_BLOCKED_BY_REFUSAL,
	                                       STATUS_BLOCKED_BY_FRAUD_CLAIM,
	                                       STATUS_AWAITING_CONSENT,
	                                       STATUS_AWAITING_EXTRA_CONFIRMATION,
	                                       STATUS_COOLING,
	                                       STATUS_AWAITING_CONTROL_CALL,
	                                       STATUS_BLOCKED_BY_OTHER_LOAN,
	                                       STATUS_AWAITING_RECONFIRMATION,
	                                       STATUS_AWAITING_IN_PERSON,
	                                       STATUS_ELIGIBLE};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct db_num n[3];
		const char *p[] = {db_num(&n[0], l->approved_at),
		                   db_num(&n[1], l->approved_at + 1),
		                   NULL,
		                   NULL,
		                   status_name(all[i]),
		                   "1000",
		                   "B1"};
		PGresult *r = exec_prepared(STMT_LOANS_LIST_LENDER, p);
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		bool listed = false;
		struct loan got;
		for (int row = 0; db_loan_row(r, row, &got, NULL); row++)
			listed = listed || got.pk == l->pk;
		PQclear(r);
		(void)n;
		ck_assert_msg(listed == (all[i] == v->status),
		              "loan %s: C status %s, SQL filter %s lists it: %d", l->loan_id,
		              status_name(v->status), status_name(all[i]), listed);
	}
}

/* Runs a guarded write in a transaction that is rolled back, so that each
 * act meets the loan in the state inserted; true when it wrote. */
static bool sql_writes(enum stmt st, const char *const *params)
{
	PGresult *r = PQexec(conn, "BEGIN");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	r = exec_prepared(st, params);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", db_statements[st].name,
	              PQresultErrorMessage(r));
	bool wrote = PQntuples(r) == 1;
	PQclear(r);
	r = PQexec(conn, "ROLLBACK");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	return wrote;
}

/* The payout to each payee (and to none): the guarded statement pays
 * exactly when loan_disburse_decide(), on the context the database reads
 * for it, allows it. Each payout is rolled back. Returns how many of them
 * only the payee's flag refused. */
static int check_payee_guard_agrees(unsigned bits, const struct loan *l)
{
	int by_flag = 0;
	struct payee_rules rules = {0};
	for (int i = -1; i < (int)(sizeof(payees) / sizeof(payees[0])); i++) {
		const struct payee *py = i < 0 ? NULL : &payees[i];
		struct disbursement_req q = {.has_payee = py != NULL};
		if (py != NULL)
			q.payee = *py;
		struct db_params p;
		PGresult *r = exec_prepared(
		    STMT_DISBURSE_CONTEXT,
		    db_params_disburse_context(&p, l->lender, l->loan_id, NULL, "UTC", py, NULL));
		struct loan got;
		struct disburse_context c;
		ck_assert(db_disburse_context(r, &got, &c));
		ck_assert_msg(c.payee_flagged == (i == PAYEE_FLAGGED_AT), "payee %d", i);
		struct disburse_outcome o;
		enum disburse_verdict v = loan_disburse_decide(&got, &q, &rules, &c, &o);
		PQclear(r);
		bool sql =
		    sql_writes(STMT_DISBURSE, db_params_disburse(&p, &got, "test", NULL, "{}", py));
		ck_assert_msg(sql == (v == DISBURSE_ALLOW),
		              "state %u, payee %d: SQL guard %s, C blockers 0x%x", bits, i,
		              sql ? "pays" : "refuses", o.blockers);
		by_flag += v == DISBURSE_DENY && o.blockers == (1u << BLOCKER_PAYEE_FLAGGED);
	}
	return by_flag;
}

static int act_writes;  /* writes the C rules chose, over all states */
static int by_consents; /* consents of loans cooled until the next working day */

/* A consent of a loan cooled until the next working day writes, as its
 * end, the start of the next working day after it in the loan's zone:
 * the C twin's (calendar_next_working_day(), no holiday in this database)
 * at the local midnight that the database reads. */
static void check_calendar_end(const struct loan *l, const struct act_outcome *write)
{
	struct db_params p;
	PGresult *r = PQexec(conn, "BEGIN");
	PQclear(r);
	r = exec_prepared(STMT_CONSENT, db_params_consent(&p, l, write, "test", "{}"));
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s",
	              PQresultErrorMessage(r));
	struct loan got;
	ck_assert(db_loan_row(r, 0, &got, NULL));
	PQclear(r);
	struct db_num n;
	const char *q[] = {db_num(&n, write->at), l->cooling_calendar_zone};
	int64_t day =
	    testdb_num(conn, "SELECT (cd_ts($1::bigint) AT TIME ZONE $2)::date - DATE '1970-01-01'",
	               q[0], q[1], NULL);
	char next[32];
	snprintf(next, sizeof(next), "%lld", (long long)calendar_next_working_day(day, NULL, 0));
	int64_t want = testdb_num(
	    conn, "SELECT cd_us((DATE '1970-01-01' + $1::integer)::timestamp AT TIME ZONE $2)",
	    next, q[1], NULL);
	ck_assert_msg(got.cooling_ends_at == want, "consent at %lld: SQL end %lld, C twin %lld",
	              (long long)write->at, (long long)got.cooling_ends_at, (long long)want);
	ck_assert_msg(got.cooling_ends_at > write->at, "the end is after the consent");
	r = PQexec(conn, "ROLLBACK");
	PQclear(r);
}
static int trusted_writes; /* of them, the trusted person's confirmation */
static int call_writes;    /* and the control call */

static void check_one_act(unsigned bits, const char *act, const struct act_outcome *o, enum stmt st,
                          const char *const *params)
{
	bool c_writes = o->verdict == ACT_WRITE;
	bool sql = sql_writes(st, params);
	ck_assert_msg(sql == c_writes, "state %u: %s: SQL guard %s, C verdict %d (%s)", bits, act,
	              sql ? "writes" : "refuses", o->verdict, o->err.message);
	act_writes += c_writes;
}

/* Consent, visit and cancellation, each as a client would send it with
 * no time of its own (the time is now, which every clock rule accepts, so
 * that only the loan's state decides): the SQL guard writes exactly when
 * lib/loan.c's rule says to write. */
static void check_act_guards_agree(unsigned bits, const struct loan *l, int64_t now)
{
	const struct ts_window w = {.skew_s = 120, .backdate_s = 3600};
	struct db_params p;
	struct act_outcome o;

	struct consent_req consent = {.consent_at = TS_NULL};
	loan_consent_decide(l, &consent, now, &w, &o);
	struct act_outcome write = o;
	write.at = now; /* what a write would store, whatever C decided */
	write.cooling_ends_at = policy_cooling_ends_at(l, now);
	check_one_act(bits, "consent", &o, STMT_CONSENT,
	              db_params_consent(&p, l, &write, "test", "{}"));
	if (o.verdict == ACT_WRITE && policy_cooled_by_calendar(l)) {
		check_calendar_end(l, &write);
		by_consents++;
	}

	struct verification_req visit = {
	    .branch_id = "BR-T", .officer_id = "OF-T", .verified_at = TS_NULL};
	loan_verify_decide(l, &visit, now, &w, &o);
	write = o;
	write.at = now;
	check_one_act(bits, "verification", &o, STMT_VERIFY,
	              db_params_verify(&p, l, &write, &visit, "test", "{}"));

	struct cancellation_req cancel = {.reason = "test"};
	loan_cancel_decide(l, &cancel, &o);
	check_one_act(bits, "cancellation", &o, STMT_CANCEL,
	              db_params_cancel(&p, l, &cancel, "test"));

	struct reconfirmation_req reconfirm = {
	    .reconfirmed_at = TS_NULL, .has_method = true, .method = EXTRA_LENDER_APP};
	loan_reconfirm_decide(l, &reconfirm, now, &w, &o);
	write = o;
	write.at = now;
	check_one_act(bits, "reconfirmation", &o, STMT_RECONFIRM,
	              db_params_reconfirm(&p, l, &write, &reconfirm, "test", "{}"));

	struct extra_confirmation_req extra = {.method = EXTRA_EGOV, .confirmed_at = TS_NULL};
	loan_extra_confirm_decide(l, &extra, now, &w, &o);
	write = o;
	write.at = now;
	check_one_act(bits, "extra confirmation", &o, STMT_EXTRA_CONFIRM,
	              db_params_extra_confirm(&p, l, &write, &extra, "test", "{}"));

	struct trusted_person_req trusted = {.confirmed_at = TS_NULL};
	loan_trusted_person_decide(l, &trusted, now, &w, &o);
	write = o;
	write.at = now;
	check_one_act(bits, "trusted person", &o, STMT_TRUSTED_PERSON,
	              db_params_trusted_person(&p, l, &write, "test", "{}"));
	trusted_writes += o.verdict == ACT_WRITE;

	struct control_call_req call = {.officer_id = "OF-T", .called_at = TS_NULL};
	loan_control_call_decide(l, &call, now, &w, &o);
	write = o;
	write.at = now;
	check_one_act(bits, "control call", &o, STMT_CONTROL_CALL,
	              db_params_control_call(&p, l, &write, &call, "test", "{}"));
	call_writes += o.verdict == ACT_WRITE;
}

START_TEST(test_sql_guard_allows_exactly_when_c_finds_no_blocker)
{
	int combos = 0, allowed = 0, refused_by_registry = 0, refused_by_flag = 0, by_claim = 0;
	int ru_loans = 0, trusted_loans = 0, kg_loans = 0, called_loans = 0, by_call = 0;
	int uz_loans = 0, by_other_loan = 0, uz_allowed = 0, by_loans = 0;
	setup_refusals();
	setup_payees();
	setup_other_lender();
	/* bit 2048: the borrower's refusal is in force; without it, the
	 * borrower has none, a withdrawn one, a future one, an open fraud
	 * claim or a closed one, in turn */
	static const char *const not_refused[] = {BORROWER, BORROWER_WITHDRAWN, BORROWER_FUTURE,
	                                          BORROWER_CLAIMED, BORROWER_CLAIM_CLOSED};
	/* each state twice: the second time (twin) only the cooled states
	 * that kg-2024-11 takes, as a by-2025-11 loan instead */
	for (unsigned pass = 0; pass < 2 * 4096; pass++) {
		unsigned bits = pass % 4096;
		bool twin = pass >= 4096;
		struct state s = {
		    .cancelled = bits & 1,
		    .disbursed = bits & 2,
		    .consent = bits & 4,
		    .cooling_required = bits & 8,
		    .cooling_over = bits & 16,
		    .in_person_required = bits & 32,
		    .verified = bits & 64,
		    .extra_required = bits & 128,
		    .extra_confirmed = bits & 256,
		    .reconfirmation_required = bits & 512,
		    .reconfirmed = bits & 1024,
		    .iin = bits & 2048 ? BORROWER_REFUSED : not_refused[bits % 5],
		};
		/* one state in three is a ru-2025-09 loan (which has neither of
		 * kz-2025-09's acts), and of those every other one not cooled
		 * is one that its borrower's trusted person confirmed */
		s.ru = bits % 3 == 0 && !s.extra_required && !s.reconfirmation_required;
		s.trusted = s.ru && !s.cooling_required && bits % 2 == 0;
		/* one in three is a loan that a cross-lender window of 1 or 3
		 * hours holds (with or without cooling: the two ends meet) */
		if (bits % 3 == 1 && !s.extra_required && !s.reconfirmation_required)
			s.window_s = (bits / 3) % 2 ? 3 * 3600 : 3600;
		/* of the last third, each cooled one without kz-2025-09's acts is
		 * a kg-2024-11 loan of the third band (the call asked), called in
		 * about half of them (a bit of a hash of the state: few of the
		 * state's own bits are free then) */
		s.kg = bits % 3 == 2 && s.cooling_required && !s.extra_required &&
		       !s.reconfirmation_required;
		s.called = s.kg && ((bits * 2654435761u) >> 20) & 1;
		/* the twin: a by-2025-11 loan, cooled until the next working day */
		if (twin && !s.kg)
			continue;
		if (twin) {
			s.by = true;
			s.kg = s.called = false;
		}
		/* States the schema itself forbids. */
		if (s.cancelled && s.disbursed)
			continue;
		if (s.disbursed && (!s.consent || (s.cooling_required && !s.cooling_over) ||
		                    (s.in_person_required && !s.verified)))
			continue;
		if (s.cooling_over && !(s.cooling_required && s.consent))
			continue;
		if (s.extra_confirmed && !s.extra_required)
			continue;
		if (s.reconfirmation_required && !s.cooling_required)
			continue;
		if (s.reconfirmed && !(s.reconfirmation_required && s.cooling_over))
			continue;
		if (s.disbursed && ((s.extra_required && !s.extra_confirmed) ||
		                    (s.reconfirmation_required && !s.reconfirmed)))
			continue;
		if (s.disbursed && s.kg && !s.called)
			continue;
		bool held = s.window_s > 0 && other_lender_holds(s.iin, s.window_s);
		char loan_id[32];
		snprintf(loan_id, sizeof(loan_id), "S-%u", pass);
		insert_loan(loan_id, &s);
		combos++;
		ru_loans += s.ru;
		trusted_loans += s.trusted;
		kg_loans += s.kg;
		called_loans += s.called;
		by_loans += s.by;

		const char *get[] = {"B1", loan_id};
		PGresult *r = exec_prepared(STMT_LOAN_GET, get);
		ck_assert_int_eq(PQntuples(r), 1);
		struct loan l;
		int64_t now;
		ck_assert(db_loan_row(r, 0, &l, &now));
		PQclear(r);
		struct loan_view v;
		loan_evaluate(&l, now, &v);
		check_status_filter_agrees(&l, &v);
		check_act_guards_agree(bits, &l, now);
		refused_by_flag += check_payee_guard_agrees(bits, &l);

		/* the payouts that the window counts: another lender's, never
		 * this lender's own (earlier states' loans paid out here) */
		ck_assert_msg((l.other_lender_paid_at != TS_NULL) ==
		                  (s.window_s > 0 && other_lender_counted(s.iin)),
		              "state %u", bits);
		ck_assert_msg(loan_view_has(&v, BLOCKER_OTHER_LOAN_WITHIN_24H) ==
		                  (held && !s.cancelled && !s.disbursed),
		              "state %u", bits);
		if (loan_view_has(&v, BLOCKER_OTHER_LOAN_WITHIN_24H) &&
		    (v.blockers & ~BLOCKERS_OF_TIME) == 0) {
			int64_t ends = l.other_lender_paid_at + s.window_s * USEC_PER_SEC;
			if (loan_view_has(&v, BLOCKER_COOLING_PERIOD_ACTIVE) &&
			    l.cooling_ends_at > ends)
				ends = l.cooling_ends_at;
			ck_assert_int_eq(v.earliest_disbursement_at, ends);
			ck_assert_int_eq(loan_retry_after(&l, &v, now),
			                 (ends - now + USEC_PER_SEC - 1) / USEC_PER_SEC);
		}
		uz_loans += s.window_s > 0;
		by_other_loan += v.blockers == (1u << BLOCKER_OTHER_LOAN_WITHIN_24H);

		struct db_params dp;
		r = exec_prepared(STMT_DISBURSE,
		                  db_params_disburse(&dp, &l, "test", NULL, "{}", NULL));
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		bool sql_allowed = PQntuples(r) == 1;
		PQclear(r);
		ck_assert_msg(sql_allowed == (v.blockers == 0),
		              "state %u: SQL guard says %s, loan_evaluate blockers 0x%x", bits,
		              sql_allowed ? "allowed" : "refused", v.blockers);
		ck_assert_msg(l.voluntary_refusal_active == ((bits & 2048) != 0), "state %u", bits);
		allowed += sql_allowed;
		uz_allowed += sql_allowed && s.window_s > 0;
		refused_by_registry += v.blockers == (1u << BLOCKER_VOLUNTARY_REFUSAL_ACTIVE);
		ck_assert_msg(l.fraud_claim_open == (strcmp(s.iin, BORROWER_CLAIMED) == 0),
		              "state %u", bits);
		by_claim += v.blockers == (1u << BLOCKER_FRAUD_CLAIM_OPEN);
		by_call += v.blockers == (1u << BLOCKER_CONTROL_CALL_MISSING);
	}
	/* a loan that only the refusal holds back was met, and refused */
	ck_assert_int_ge(refused_by_registry, 1);
	/* and a payout that only its payee's flag holds back, and a loan that
	 * only its borrower's open claim holds back */
	ck_assert_int_ge(refused_by_flag, 1);
	ck_assert_int_ge(by_claim, 1);
	ck_assert_int_ge(combos, 60);
	ck_assert_int_ge(ru_loans, 20);
	ck_assert_int_ge(trusted_loans, 5);
	ck_assert_int_ge(trusted_writes, 1);
	ck_assert_int_ge(kg_loans, 12);
	ck_assert_int_ge(called_loans, 5);
	ck_assert_int_ge(call_writes, 1);
	ck_assert_int_ge(by_loans, 10);
	ck_assert_int_ge(by_consents, 1);
	/* a loan that only its missing call holds back was met, and refused */
	ck_assert_int_ge(by_call, 1);
	/* loans the window held, some by it alone, and some it let through */
	ck_assert_int_ge(uz_loans, 20);
	ck_assert_int_ge(by_other_loan, 1);
	ck_assert_int_ge(uz_allowed, 1);
	ck_assert_int_ge(allowed, 2); /* both outcomes were exercised */
	ck_assert_int_lt(allowed, combos);
	ck_assert_int_ge(act_writes, 5); /* and for the acts */
	ck_assert_int_lt(act_writes, 7 * combos);
}
END_TEST

/* Another lender's payout at the window's end, a microsecond either side:
 * in one transaction, so that the C decision and the guard share the
 * database's now. The window holds the loan while now < payout + window. */
START_TEST(test_the_window_s_end_agrees_to_the_microsecond)
{
	setup_other_lender();
	static const struct {
		const char *offset; /* the payout's age beyond the window */
		bool held;
	} edge[] = {{"1 microsecond", false}, {"0", false}, {"-1 microsecond", true}};
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		testdb_exec(conn, "BEGIN");
		char sql[512];
		snprintf(sql, sizeof(sql),
		         "UPDATE loan SET disbursed_at = now() - interval '3600 seconds' - "
		         "interval '%s', cross_lender_window_s = 60 WHERE loan_id = 'OTHER-0'",
		         edge[i].offset);
		testdb_exec(conn, sql);
		struct state st = {.consent = true, .window_s = 3600};
		insert_loan("EDGE", &st);
		const char *get[] = {"B1", "EDGE"};
		PGresult *r = exec_prepared(STMT_LOAN_GET, get);
		struct loan l;
		int64_t now;
		ck_assert(db_loan_row(r, 0, &l, &now));
		PQclear(r);
		struct loan_view v;
		loan_evaluate(&l, now, &v);
		ck_assert_msg(loan_view_has(&v, BLOCKER_OTHER_LOAN_WITHIN_24H) == edge[i].held,
		              "%s: blockers 0x%x", edge[i].offset, v.blockers);
		ck_assert_int_eq(v.status,
		                 edge[i].held ? STATUS_BLOCKED_BY_OTHER_LOAN : STATUS_ELIGIBLE);
		ck_assert_int_eq(v.earliest_disbursement_at,
		                 edge[i].held ? l.other_lender_paid_at + 3600 * USEC_PER_SEC : now);
		ck_assert_int_eq(loan_retry_after(&l, &v, now), edge[i].held ? 1 : 0);
		check_status_filter_agrees(&l, &v);
		struct db_params p;
		r = exec_prepared(STMT_DISBURSE,
		                  db_params_disburse(&p, &l, "test", NULL, "{}", NULL));
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		ck_assert_msg((PQntuples(r) == 1) == !edge[i].held, "%s: the guard disagrees",
		              edge[i].offset);
		PQclear(r);
		testdb_exec(conn, "ROLLBACK");
	}
}
END_TEST

/* A windowed loan of BORROWER at lender `lender`, eligible but for the
 * window; its row id. */
static long long windowed_loan(const char *lender, const char *loan_id)
{
	char sql[1024];
	snprintf(sql, sizeof(sql),
	         "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	         "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	         "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	         "approved_at, consent_at, currency, cross_lender_window_s) "
	         "VALUES ('%s', '%s', '" BORROWER "', 100000, 'online', false, false, true, "
	         "'uz-2026-01', 0, 0, false, NULL, false, now() - interval '1 hour', "
	         "now() - interval '1 hour', 'UZS', 86400) RETURNING id",
	         lender, loan_id);
	return testdb_num(conn, sql, NULL);
}

static void send_windowed_payout(PGconn *c, long long pk)
{
	static char num[24];
	snprintf(num, sizeof(num), "%lld", pk);
	const char *p[] = {num, "test", NULL, "B1", "{}", NULL, NULL, BORROWER};
	ck_assert(PQsendQueryPrepared(c, db_statements[STMT_DISBURSE].name, 8, p, NULL, NULL, 0));
}

/* READ COMMITTED: the second payout's statement takes its snapshot, then
 * waits for the borrower's lock; when the first commits, the snapshot does
 * not hold it, the gate's own query does: exactly one is paid. */
START_TEST(test_of_two_payouts_racing_at_two_lenders_only_the_first_is_paid)
{
	testdb_exec(conn, "INSERT INTO lender (id, kind) VALUES ('B2', 'mfo')");
	long long first = windowed_loan("B1", "RACE-A"), second = windowed_loan("B2", "RACE-B");
	PGconn *a = testdb_connect_quiet(url), *b = testdb_connect_quiet(url);
	struct cd_error err;
	ck_assert(db_prepare_all(a, &err) && db_prepare_all(b, &err));
	testdb_exec(a, "BEGIN");
	send_windowed_payout(a, first);
	ck_assert_int_eq(testdb_rows_of(a), 1); /* paid, not committed yet */
	send_windowed_payout(b, second);
	ck_assert_msg(testdb_still_waiting(b), "the second payout did not wait for the lock");
	testdb_exec(a, "COMMIT");
	ck_assert_int_eq(testdb_rows_of(b), 0); /* refused */
	ck_assert_int_eq(
	    testdb_num(conn, "SELECT count(*) FROM loan WHERE disbursed_at IS NOT NULL", NULL), 1);
	/* and the same lender's second loan is not held by the first */
	long long again = windowed_loan("B1", "RACE-C");
	send_windowed_payout(b, again);
	ck_assert_int_eq(testdb_rows_of(b), 1);
	PQfinish(a);
	PQfinish(b);
}
END_TEST

START_TEST(test_schema_refuses_a_disbursed_loan_whose_rules_were_unmet)
{
	struct state s = {.consent = false};
	insert_loan("NOCONSENT", &s);
	PGresult *r =
	    PQexec(conn, "UPDATE loan SET disbursed_at = now() WHERE loan_id = 'NOCONSENT'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	ck_assert_str_eq(db_sqlstate(r), "23514"); /* check_violation */
	PQclear(r);
}
END_TEST

START_TEST(test_schema_refuses_a_disbursed_loan_not_confirmed_again)
{
	struct state s = {.consent = true,
	                  .cooling_required = true,
	                  .cooling_over = true,
	                  .reconfirmation_required = true};
	insert_loan("NORECONF", &s);
	struct state e = {.consent = true, .extra_required = true};
	insert_loan("NOEXTRA", &e);
	static const char *const ids[] = {"NORECONF", "NOEXTRA"};
	for (int i = 0; i < 2; i++) {
		char sql[128];
		snprintf(sql, sizeof(sql),
		         "UPDATE loan SET disbursed_at = now() WHERE loan_id = '%s'", ids[i]);
		PGresult *r = PQexec(conn, sql);
		ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
		ck_assert_str_eq(db_sqlstate(r), "23514"); /* check_violation */
		PQclear(r);
	}
	/* nor a loan whose band asked for a control call that was not made */
	struct state k = {
	    .consent = true, .cooling_required = true, .cooling_over = true, .kg = true};
	insert_loan("NOCALL", &k);
	PGresult *c = PQexec(conn, "UPDATE loan SET disbursed_at = now() WHERE loan_id = 'NOCALL'");
	ck_assert_int_eq(PQresultStatus(c), PGRES_FATAL_ERROR);
	ck_assert_str_eq(db_sqlstate(c), "23514"); /* check_violation */
	PQclear(c);
	/* a reconfirmation before the period's end cannot be stored so either */
	PGresult *r = PQexec(conn, "UPDATE loan SET reconfirmed_at = cooling_ends_at - "
	                           "interval '1 second', disbursed_at = now() "
	                           "WHERE loan_id = 'NORECONF'");
	ck_assert_int_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
	PQclear(r);
}
END_TEST

/* The MRP the approval context picks for an approval at `at` (UTC). */
static int64_t mrp_for(const char *at)
{
	int64_t us;
	ck_assert(ts_parse_rfc3339(at, &us, NULL));
	struct db_num n;
	const char *p[] = {"B1", "NONE", db_num(&n, us), "Asia/Almaty", "900101300126", "B1", "365",
	                   NULL, "t"};
	PGresult *r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	struct approval_context c;
	ck_assert(db_approval_context(r, &c));
	PQclear(r);
	ck_assert(c.has_mrp);
	return c.mrp_tenge;
}

START_TEST(test_mrp_is_the_one_of_the_almaty_local_date)
{
	/* UTC+5 since 2024-03-01: 19:00Z on 31 December is midnight in Almaty */
	ck_assert_int_eq(mrp_for("2025-12-31T18:59:59Z"), 3932);
	ck_assert_int_eq(mrp_for("2025-12-31T19:00:00Z"), 4325);
	ck_assert_int_eq(mrp_for("2025-12-31T19:30:00Z"), 4325);
	ck_assert_int_eq(mrp_for("2026-01-01T00:00:00+05:00"), 4325);
	ck_assert_int_eq(mrp_for("2025-12-31T23:59:59+05:00"), 3932);
	/* UTC+6 before: 18:00Z on 31 December 2023 is midnight in Almaty */
	ck_assert_int_eq(mrp_for("2023-12-31T17:59:59Z"), 3450);
	ck_assert_int_eq(mrp_for("2023-12-31T18:00:00Z"), 3692);
	ck_assert_int_eq(mrp_for("2024-12-31T19:00:00Z"), 3932);
}
END_TEST

START_TEST(test_mrp_set_mid_year_applies_from_its_local_date)
{
	PGresult *r =
	    PQexec(conn, "INSERT INTO mrp (valid_from, tenge) VALUES ('2026-07-01', 5000)");
	ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	ck_assert_int_eq(mrp_for("2026-06-30T18:59:59Z"), 4325);
	ck_assert_int_eq(mrp_for("2026-06-30T19:00:00Z"), 5000);
}
END_TEST

START_TEST(test_first_time_borrower_is_derived_from_disbursed_loans)
{
	const char *p[] = {"B1",  "NONE", NULL, "Asia/Almaty", "900101300126", "B1",
	                   "365", NULL,   "t"};
	PGresult *r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	struct approval_context c;
	ck_assert(db_approval_context(r, &c));
	ck_assert(c.first_time_derived); /* nothing disbursed yet */
	PQclear(r);
	struct state s = {.consent = true, .disbursed = true};
	insert_loan("PAID", &s);
	r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert(db_approval_context(r, &c));
	ck_assert(!c.first_time_derived);
	PQclear(r);
}
END_TEST

/* The borrower's other online loans of the approval's day, summed only when
 * a profile of the schedule adds the day up ($9); otherwise 0, as the
 * profiles that do not count it take it. */
START_TEST(test_the_day_is_summed_only_when_a_profile_adds_it_up)
{
	struct state s = {0};
	insert_loan("DAY-1", &s);
	insert_loan("DAY-2", &s);
	PGresult *r =
	    PQexec(conn, "SELECT cd_us(approved_at)::text FROM loan WHERE loan_id = 'DAY-1'");
	ck_assert_int_eq(PQntuples(r), 1);
	char at[32];
	snprintf(at, sizeof(at), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	const char *p[] = {"B1", "DAY-3", at, "Asia/Almaty", BORROWER, "B1", "365", NULL, "t"};
	struct approval_context c;
	r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert(db_approval_context(r, &c));
	PQclear(r);
	ck_assert_int_eq(c.day_others_tiyn, 2 * 70000000LL);
	p[8] = "f";
	r = exec_prepared(STMT_APPROVAL_CONTEXT, p);
	ck_assert(db_approval_context(r, &c));
	PQclear(r);
	ck_assert_int_eq(c.day_others_tiyn, 0);
}
END_TEST

START_TEST(test_migrations_are_idempotent)
{
	int applied = -1;
	struct cd_error err;
	ck_assert_msg(db_migrate(conn, NULL, &applied, &err), "%s", err.message);
	ck_assert_int_eq(applied, 0);
	ck_assert_int_eq(db_schema_version(conn), DB_SCHEMA_VERSION);
}
END_TEST

START_TEST(test_every_statement_fits_the_pools_parameter_bound)
{
	for (int i = 0; i < STMT__COUNT; i++) {
		ck_assert_msg(db_statements[i].name != NULL, "statement %d has no definition", i);
		ck_assert_msg(db_statements[i].nparams <= DB_MAX_PARAMS, "%s: %d parameters",
		              db_statements[i].name, db_statements[i].nparams);
	}
}
END_TEST

/* A lender client whose token id is tid-1 (its hash is not checked here). */
static void insert_client(void)
{
	PGresult *r = PQexec(conn, "INSERT INTO api_client (name, role, lender_id, token_id, "
	                           "token_hash) VALUES ('c1', 'lender', 'B1', 'tid-1', "
	                           "decode(repeat('ab', 32), 'hex'))");
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
	PQclear(r);
}

START_TEST(test_auth_twins_return_the_read_beside_the_client)
{
	insert_client();
	struct state s = {.consent = true};
	insert_loan("TWIN", &s);

	const char *plain[] = {"B1", "TWIN"};
	PGresult *r = exec_prepared(STMT_LOAN_GET, plain);
	struct loan want, got;
	ck_assert(db_loan_row(r, 0, &want, NULL));
	PQclear(r);

	const char *twin[] = {"B1", "TWIN", "tid-1"};
	r = exec_prepared(db_stmt_with_auth(STMT_LOAN_GET), twin);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	struct db_auth_row a;
	ck_assert(db_auth_row(r, &a));
	ck_assert_str_eq(a.name, "c1");
	ck_assert_str_eq(a.role, "lender");
	ck_assert_str_eq(a.lender, "B1");
	ck_assert(db_loan_row(r, 0, &got, NULL));
	ck_assert_int_eq(got.pk, want.pk);
	ck_assert_int_eq(got.consent_at, want.consent_at);
	ck_assert_str_eq(got.loan_id, "TWIN");
	PQclear(r);

	/* a loan that does not exist: the client, and no loan */
	const char *none[] = {"B1", "NONE", "tid-1"};
	r = exec_prepared(STMT_AUTH_LOAN_GET, none);
	ck_assert_int_eq(PQntuples(r), 1);
	ck_assert(db_auth_row(r, &a));
	ck_assert(!db_loan_row(r, 0, &got, NULL));
	PQclear(r);

	/* an unknown token: no row at all, whichever read */
	const char *bad_get[] = {"B1", "TWIN", "tid-x"};
	r = exec_prepared(STMT_AUTH_LOAN_GET, bad_get);
	ck_assert_int_eq(PQntuples(r), 0);
	ck_assert(!db_auth_row(r, &a));
	PQclear(r);
	const char *bad_ctx[] = {"B1", "TWIN", NULL, "Asia/Almaty", "900101300126",
	                         "B1", "365",  NULL, "t",           "tid-x"};
	r = exec_prepared(STMT_AUTH_APPROVAL_CONTEXT, bad_ctx);
	ck_assert_int_eq(PQntuples(r), 0);
	PQclear(r);

	/* the approval context beside the client is the context alone */
	const char *ctx[] = {"B1", "TWIN", NULL, "Asia/Almaty", "900101300126",
	                     "B1", "365",  NULL, "t",           "tid-1"};
	r = exec_prepared(STMT_AUTH_APPROVAL_CONTEXT, ctx);
	struct approval_context c;
	ck_assert(db_approval_context(r, &c));
	ck_assert(c.exists);
	ck_assert_int_eq(c.existing.pk, want.pk);
	ck_assert(c.has_mrp);
	PQclear(r);

	/* and the disbursement context, with no stored answer */
	const char *dis[] = {"B1", "TWIN", "k-1", "Asia/Almaty", NULL, NULL, "tid-1"};
	r = exec_prepared(STMT_AUTH_DISBURSE_CONTEXT, dis);
	struct disburse_context dc;
	ck_assert(db_disburse_context(r, &got, &dc));
	ck_assert_int_eq(got.pk, want.pk);
	ck_assert(!dc.key.found);
	ck_assert(!dc.payee_flagged);
	PQclear(r);
}
END_TEST

/* The plan of a list filtered by status (EXPLAIN of the prepared list
 * statement, one line per row of the plan). */
static void explain_status_plan(const char *status, bool lender, char *out, size_t size)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
	         lender ? "EXPLAIN EXECUTE %s(NULL, NULL, NULL, NULL, '%s', 100, 'B1')"
	                : "EXPLAIN EXECUTE %s(NULL, NULL, NULL, NULL, '%s', 100)",
	         db_statements[lender ? STMT_LOANS_LIST_LENDER : STMT_LOANS_LIST].name, status);
	PGresult *r = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
	out[0] = '\0';
	for (int i = 0; i < PQntuples(r); i++) {
		strncat(out, PQgetvalue(r, i, 0), size - strlen(out) - 2);
		strcat(out, "\n");
	}
	PQclear(r);
}

/* A loan's read plans the borrower's refusal and fraud claim (and the
 * payout's context, the payee's flag) with itself (sql/027): the tables
 * appear in its plan, and no call of a function that would plan them
 * again on every execution. */
START_TEST(test_a_loan_read_plans_the_borrowers_state_with_itself)
{
	static const struct {
		enum stmt st;
		const char *args;
		const char *table;
	} reads[] = {
	    {STMT_LOAN_GET, "('B1', 'X')", "public.fraud_claim"},
	    {STMT_DISBURSE_CONTEXT, "('B1', 'X', NULL, 'Asia/Almaty', 'account', 'KZ1')",
	     "public.suspicious_payee"},
	};
	static const char *const calls[] = {"cd_refusal_state_at", "cd_claim_state",
	                                    "cd_payee_state_at",   "cd_refusal_active",
	                                    "cd_claim_open",       "cd_payee_flagged"};
	for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
		char sql[256];
		snprintf(sql, sizeof(sql), "EXPLAIN VERBOSE EXECUTE %s%s",
		         db_statements[reads[k].st].name, reads[k].args);
		PGresult *r = PQexec(conn, sql);
		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
		char plan[16384] = "";
		for (int i = 0; i < PQntuples(r); i++) {
			strncat(plan, PQgetvalue(r, i, 0), sizeof(plan) - strlen(plan) - 2);
			strcat(plan, "\n");
		}
		PQclear(r);
		ck_assert_msg(strstr(plan, "public.voluntary_refusal") != NULL,
		              "no refusal read:\n%s", plan);
		ck_assert_msg(strstr(plan, reads[k].table) != NULL, "no %s:\n%s", reads[k].table,
		              plan);
		for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
			ck_assert_msg(strstr(plan, calls[i]) == NULL, "%s is called:\n%s", calls[i],
			              plan);
	}
}
END_TEST

/* A list filtered by status reads the loans of the state that the status
 * implies from the state's index, for each status, with and without a
 * lender; never a scan of every loan. */
START_TEST(test_a_status_filter_reads_the_index_of_its_state)
{
	testdb_exec(
	    conn,
	    "INSERT INTO loan (lender_id, loan_id, borrower_iin, amount_tiyn, channel, "
	    "secured, first_time_borrower, first_time_given, policy, mrp_tenge, "
	    "threshold_tiyn, cooling_required, cooling_period_s, in_person_required, "
	    "approved_at, consent_at, disbursed_at, cancelled_at) "
	    "SELECT 'B1', 'P' || g, lpad(g::text, 12, '0'), 100000, 'online', true, false, "
	    "true, 'kz', 3692, 73840000, false, NULL, false, now() - g * interval '1 minute', "
	    "now() - g * interval '1 minute', "
	    "CASE WHEN g % 10 < 8 THEN now() - g * interval '30 seconds' END, "
	    "CASE WHEN g % 10 = 8 THEN now() END "
	    "FROM generate_series(1, 20000) g");
	testdb_exec(conn, "ANALYZE loan");
	/* as the daemon plans them: custom plans (docs/queries.md) */
	testdb_exec(conn, "SET plan_cache_mode = force_custom_plan");
	/* a table this small may as well be read whole; what is checked is
	 * that the state is an index condition (docs/queries.md has the plans
	 * that 1,000,000 loans get) */
	testdb_exec(conn, "SET enable_seqscan = off");
	static const char *const statuses[] = {"cancelled",          "disbursed",
	                                       "awaiting_consent",   "cooling",
	                                       "awaiting_in_person", "eligible"};
	static const char *const state[] = {"= 2)", "= 1)", "= 0)", "= 0)", "= 0)", "= 0)"};
	char plan[8192];
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		for (int lender = 0; lender < 2; lender++) {
			explain_status_plan(statuses[i], lender, plan, sizeof(plan));
			/* loan_state_approved_idx or, with a lender (that may be
			 * every loan's, as here), loan_lender_state_approved_idx */
			const char *idx = strstr(plan, "state_approved_idx");
			ck_assert_msg(idx != NULL, "%s: not the state's index:\n%s", statuses[i],
			              plan);
			const char *cond = strstr(idx, "Index Cond: ");
			ck_assert_msg(cond != NULL && strstr(cond, "ELSE 0 END ") != NULL &&
			                  strstr(cond, state[i]) != NULL,
			              "%s: the state is no index condition:\n%s", statuses[i],
			              plan);
			ck_assert_msg(strstr(plan, "Seq Scan") == NULL, "%s: a scan:\n%s",
			              statuses[i], plan);
		}
	testdb_exec(conn, "RESET plan_cache_mode; RESET enable_seqscan");
}
END_TEST

static Suite *gate_suite(void)
{
	Suite *s = suite_create("gate_agreement");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_sql_guard_allows_exactly_when_c_finds_no_blocker);
	tcase_add_test(tc, test_the_window_s_end_agrees_to_the_microsecond);
	tcase_add_test(tc, test_of_two_payouts_racing_at_two_lenders_only_the_first_is_paid);
	tcase_add_test(tc, test_schema_refuses_a_disbursed_loan_whose_rules_were_unmet);
	tcase_add_test(tc, test_schema_refuses_a_disbursed_loan_not_confirmed_again);
	tcase_add_test(tc, test_mrp_is_the_one_of_the_almaty_local_date);
	tcase_add_test(tc, test_mrp_set_mid_year_applies_from_its_local_date);
	tcase_add_test(tc, test_first_time_borrower_is_derived_from_disbursed_loans);
	tcase_add_test(tc, test_the_day_is_summed_only_when_a_profile_adds_it_up);
	tcase_add_test(tc, test_migrations_are_idempotent);
	tcase_add_test(tc, test_every_statement_fits_the_pools_parameter_bound);
	tcase_add_test(tc, test_auth_twins_return_the_read_beside_the_client);
	tcase_add_test(tc, test_a_status_filter_reads_the_index_of_its_state);
	tcase_add_test(tc, test_a_loan_read_plans_the_borrowers_state_with_itself);
	suite_add_tcase(s, tc);
	return s;
}

CD_CHECK_MAIN(gate_suite)
