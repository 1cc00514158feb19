/*
 * The API's calls, for the route table (daemon/route.c): each is a plain
 * handler, or a parse and a start (request.h, struct route, says how the
 * driver uses them). The console's and /openapi.yaml's are in console.h.
 */
#ifndef CD_CALLS_H
#define CD_CALLS_H

#include <stdbool.h>

struct request;
struct cd_error;

/* handlers.c: the service */
void h_healthz(struct request *r);
void h_readyz(struct request *r);
void h_policy(struct request *r);

/* handlers.c: the loans */
bool approval_parse(struct request *r, struct cd_error *err);
void approval_start(struct request *r, bool authenticate);
/* the calls on one loan: each parses its own body, and all start alike */
bool loan_parse(struct request *r, struct cd_error *err);
bool consent_parse(struct request *r, struct cd_error *err);
bool verify_parse(struct request *r, struct cd_error *err);
bool cancel_parse(struct request *r, struct cd_error *err);
bool reconfirm_parse(struct request *r, struct cd_error *err);
bool extra_confirm_parse(struct request *r, struct cd_error *err);
bool trusted_person_parse(struct request *r, struct cd_error *err);
bool control_call_parse(struct request *r, struct cd_error *err);
void act_start(struct request *r, bool authenticate);
bool disburse_parse(struct request *r, struct cd_error *err);
void disburse_start(struct request *r, bool authenticate);
bool borrower_parse(struct request *r, struct cd_error *err);
bool borrower_search_parse(struct request *r, struct cd_error *err);
void h_borrower_loans(struct request *r);

/* handlers.c: the voluntary refusal registry */
bool refusal_iin_parse(struct request *r, struct cd_error *err);
bool refusal_put_parse(struct request *r, struct cd_error *err);
void h_refusal_get(struct request *r);
void h_refusal_put(struct request *r);
bool payee_key_parse(struct request *r, struct cd_error *err);
bool payee_put_parse(struct request *r, struct cd_error *err);
void h_payee_get(struct request *r);
void h_payee_put(struct request *r);
bool claim_open_parse(struct request *r, struct cd_error *err);
void h_claim_open(struct request *r);
bool claim_id_parse_path(struct request *r, struct cd_error *err);
void h_claim_get(struct request *r);
bool claim_close_parse(struct request *r, struct cd_error *err);
void h_claim_close(struct request *r);

/* queries.c: query-string calls for compliance staff and auditors */
void h_audit_list(struct request *r);
void h_loans_list(struct request *r);
void h_lender_loans_list(struct request *r);
void h_loan_events(struct request *r);
void h_decision_stats(struct request *r);
/* queries.c: the personal-data access log, for auditors */
bool access_search_parse(struct request *r, struct cd_error *err);
void h_access_log_list(struct request *r);
void h_access_log_search(struct request *r);
void h_lender_events(struct request *r);

#endif
