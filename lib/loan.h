/*
 * The loan's life cycle: what each call on a loan may do, given the loan as
 * recorded, the request and the database's "now". Pure functions: each
 * returns an outcome (a repeat of what is recorded, the values to write, or
 * a refusal with its error) and the daemon only maps outcomes to statements
 * and replies (daemon/handlers.c).
 *
 * The rules of each act, in the order they are checked:
 *
 *   consent       anything after cancellation is 409; a consent already
 *                 recorded is a repeat (200) at the same time or without a
 *                 time, a 409 at another time; after disbursement 409; the
 *                 time must lie in the clock window and not precede
 *                 approved_at by more than max_clock_skew.
 *   verification  the same shape: after cancellation 409; recorded with the
 *                 same branch, officer (and time, when given) a repeat,
 *                 otherwise 409; after disbursement 409; window; not before
 *                 approved_at beyond max_clock_skew.
 *   reconfirmation  after cancellation 409; a loan that needs none 409; one
 *                 recorded is a repeat at the same time or without a time,
 *                 and with the same method or none (after disbursement
 *                 too), a 409 at another time or with another method; after
 *                 disbursement 409; before consent or before the cooling
 *                 period's end 409 (it does not count then); the time in the
 *                 clock window, and not before the period's end (409).
 *   extra confirmation  after cancellation 409; a loan that needs none 409;
 *                 recorded with the same method (and time, when given) a
 *                 repeat, otherwise 409; after disbursement 409; window;
 *                 not before approved_at beyond max_clock_skew (422).
 *   trusted person  after cancellation 409; under a profile without the
 *                 act 409; recorded, a repeat at the same time or without
 *                 a time (after disbursement too), 409 at another; after
 *                 disbursement 409; window; not before approved_at beyond
 *                 max_clock_skew (422).
 *   control call  after cancellation 409; a loan whose band asks for none
 *                 409; recorded by the same officer (and at the same time,
 *                 when given) a repeat (after disbursement too), by
 *                 another officer or at another time 409; after
 *                 disbursement 409; window; not before approved_at beyond
 *                 max_clock_skew (422). Before consent and during the
 *                 period too.
 *   cancellation  a repeat with the same reason, another reason 409; a
 *                 disbursed loan cannot be cancelled (409).
 *   disbursement  a payee is required when the configuration says so
 *                 (422, disbursement_check()); a payee's owner born after
 *                 today is 422; a stored answer for the Idempotency-Key is
 *                 replayed (a key of another loan is a 422); otherwise
 *                 allowed exactly when loan_evaluate() finds no blocker and
 *                 the request none (payee_flagged, payee_not_borrower).
 *
 * Each 409 invalid_state names its reason (enum state_reason, names.h):
 * cancelled, already_disbursed, different_time (a repeat with another time
 * or method), different_details (another branch, officer or cancellation
 * reason), not_required, cooling_not_ended.
 *
 * Each guarded write in lib/db/statements.c re-checks in SQL what these functions
 * relied on; tests/integration/test_gate_agreement.c keeps the two in step. A
 * guard that fails makes the daemon read the loan and decide here again, so
 * every refusal, and its reason, comes from these functions.
 */
#ifndef CD_LOAN_H
#define CD_LOAN_H

#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"
#include "payee.h"
#include "policy.h"

/* 200 characters of up to 4 bytes, and the NUL. */
#define LOAN_REASON_BUF 801

/* ---- the requests ---- */

struct approval_req {
	char loan_id[ID_BUF];
	char borrower_iin[13];
	int64_t amount_tiyn;
	char currency[4]; /* three capital letters; the profile's, loan_approval_decide() */
	enum channel channel;
	bool secured;
	enum product product; /* PRODUCT_CONSUMER when omitted */
	bool has_first_time;
	bool first_time_borrower;
	int64_t approved_at; /* TS_NULL when omitted: now */
	int64_t consent_at;  /* TS_NULL when omitted */
};

struct consent_req {
	int64_t consent_at; /* TS_NULL when omitted: now */
};

struct verification_req {
	char branch_id[ID_BUF];
	char officer_id[ID_BUF];
	int64_t verified_at; /* TS_NULL when omitted: now */
};

struct cancellation_req {
	char reason[LOAN_REASON_BUF];
};

struct reconfirmation_req {
	int64_t reconfirmed_at; /* TS_NULL when omitted: now */
	bool has_method;        /* the channel it was given through, when sent */
	enum extra_method method;
};

struct trusted_person_req {
	int64_t confirmed_at; /* TS_NULL when omitted: now */
};

struct control_call_req {
	char officer_id[ID_BUF];
	int64_t called_at; /* TS_NULL when omitted: now */
};

struct disbursement_req {
	bool has_payee;
	struct payee payee;
};

struct extra_confirmation_req {
	enum extra_method method;
	int64_t confirmed_at; /* TS_NULL when omitted: now */
};

/* How far a client's timestamps may stray from the database's now
 * ([policy] max_clock_skew, max_backdate). */
struct ts_window {
	int64_t skew_s;
	int64_t backdate_s;
};

/* Client timestamps must lie in [now - backdate, now + skew]. */
bool ts_check_window(int64_t ts, int64_t now, int64_t skew_s, int64_t backdate_s, const char *field,
                     struct cd_error *err);
/* An act's time (field) may not precede approved_at by more than
 * max_clock_skew. */
bool ts_check_after_approval(int64_t ts, int64_t approved_at, int64_t skew_s, const char *field,
                             struct cd_error *err);
/* consent_at may not precede approved_at by more than max_clock_skew. */
bool consent_check_order(int64_t consent_at, int64_t approved_at, int64_t skew_s,
                         struct cd_error *err);

/* ---- outcomes ---- */

enum act_verdict {
	ACT_REPEAT, /* already recorded so: answer the loan as it is, 200 */
	ACT_WRITE,  /* write the outcome's values with the act's guarded statement */
	ACT_REFUSE, /* answer the outcome's error; nothing is written */
};

/* What an act comes to. The values to write are the act's: its time (`at`:
 * consent_at, verified_at; TS_NULL where the database's now is taken, as
 * for a cancellation) and what follows from it (cooling_ends_at for a
 * consent). The strings of a write (branch, officer, reason) are the
 * request's own. */
struct act_outcome {
	enum act_verdict verdict;
	struct cd_error err; /* ACT_REFUSE */
	int64_t at;
	int64_t cooling_ends_at;
};

enum act_verdict loan_consent_decide(const struct loan *l, const struct consent_req *q, int64_t now,
                                     const struct ts_window *w, struct act_outcome *o);
enum act_verdict loan_verify_decide(const struct loan *l, const struct verification_req *q,
                                    int64_t now, const struct ts_window *w, struct act_outcome *o);
enum act_verdict loan_cancel_decide(const struct loan *l, const struct cancellation_req *q,
                                    struct act_outcome *o);
enum act_verdict loan_reconfirm_decide(const struct loan *l, const struct reconfirmation_req *q,
                                       int64_t now, const struct ts_window *w,
                                       struct act_outcome *o);
enum act_verdict loan_extra_confirm_decide(const struct loan *l,
                                           const struct extra_confirmation_req *q, int64_t now,
                                           const struct ts_window *w, struct act_outcome *o);
/* The borrower's trusted person confirms the loan, under a profile that
 * knows the act (policy_takes_trusted_person), at any time before the
 * payout: the loan is exempt from then on. */
enum act_verdict loan_trusted_person_decide(const struct loan *l,
                                            const struct trusted_person_req *q, int64_t now,
                                            const struct ts_window *w, struct act_outcome *o);

/* The control call that the loan's band asks for (control_call_required),
 * at any time before the payout. */
enum act_verdict loan_control_call_decide(const struct loan *l, const struct control_call_req *q,
                                          int64_t now, const struct ts_window *w,
                                          struct act_outcome *o);

/* ---- approval ---- */

/* What the database knows when an approval arrives (STMT_APPROVAL_CONTEXT). */
struct approval_context {
	int64_t now;
	bool exists; /* a loan of this lender and loan_id is recorded: `existing` */
	struct loan existing;
	int64_t approved_at; /* the request's, or now */
	bool has_mrp;        /* an MRP is recorded for approved_at's local date */
	int64_t mrp_tenge;
	bool first_time_derived; /* no unsecured loan of the borrower was paid out */
	int64_t today_days;      /* today's local date, days since 1970-01-01 */
	/* kz-2025-09's inputs */
	bool has_lender;         /* the lender is recorded: lender_kind */
	int lender_kind;         /* enum lender_kind */
	int64_t approval_day;    /* approved_at's local date, days since 1970-01-01 */
	int64_t day_others_tiyn; /* the other loans of that day that count (policy.aggregation) */
	bool prior_fraud_victim; /* a confirmed claim within policy.prior_victim_days */
	/* policy.burst_lenders (0: bursts do not count), set by the caller,
	 * and the most distinct other lenders whose online approvals of the
	 * borrower fall with this one within policy.burst_window */
	int64_t burst_lenders;
	int64_t burst_others;
};

/* True when a retried approval states the same facts as the recorded loan.
 * Omitted optional fields (approved_at, consent_at, first_time_borrower) are
 * not compared, so that a retry of a request that left them out matches. */
bool approval_matches(const struct approval_req *r, const struct loan *l);

/* Decides an approval: a repeat of the recorded loan (ACT_REPEAT, the loan
 * is c->existing), a refusal (a loan_id recorded with other facts 409, a
 * field 422), or the new loan to insert (ACT_WRITE, into *out): the
 * lender's statement of a first-time borrower wins, else it is derived;
 * policy_assess() fixes what the loan must go through; cooling_ends_at
 * follows from a consent given with the approval. */
enum act_verdict loan_approval_decide(const struct policy *p, const char *lender,
                                      const struct approval_req *a,
                                      const struct approval_context *c, const struct ts_window *w,
                                      struct loan *out, struct act_outcome *o);

/* ---- disbursement ---- */

/* The Idempotency-Key's stored answer, when there is one. */
struct idempotency_record {
	bool found;
	int64_t loan_pk;
	int status;       /* 200 or 409 */
	const char *body; /* the 409's body; NULL for a 200 */
};

/* What the database knows when a disbursement arrives
 * (STMT_DISBURSE_CONTEXT), besides the loan. */
struct disburse_context {
	int64_t now;
	int64_t today_days; /* the local date a payee's owner must be born by */
	struct idempotency_record key;
	bool payee_flagged; /* the request's payee is a suspicious payee at now */
};

enum disburse_verdict {
	DISBURSE_REPLAY, /* answer the stored answer again (a 200 renders the loan) */
	DISBURSE_ALLOW,  /* pay out with the guarded statement */
	DISBURSE_DENY,   /* record the refusal; view and retry_after explain it */
	DISBURSE_REFUSE, /* answer err; nothing is written */
};

struct disburse_outcome {
	enum disburse_verdict verdict;
	struct cd_error err;   /* DISBURSE_REFUSE */
	struct loan_view view; /* the loan's own (DISBURSE_DENY, DISBURSE_REPLAY) */
	/* DISBURSE_DENY: the loan's blockers and the request's, and when the
	 * loan could be paid: the view's, but null when the request's
	 * blockers alone stand in the way (another request is needed) */
	unsigned blockers;
	int64_t earliest_disbursement_at;
	int64_t retry_after; /* seconds for Retry-After, 0 for none */
};

/* The request against the configuration before anything is read: a
 * payee is required (422 `payee`) when rules->required. */
bool disbursement_check(const struct disbursement_req *q, const struct payee_rules *rules,
                        struct cd_error *err);

enum disburse_verdict loan_disburse_decide(const struct loan *l, const struct disbursement_req *q,
                                           const struct payee_rules *rules,
                                           const struct disburse_context *c,
                                           struct disburse_outcome *o);

#endif
