/*
 * Fraud claims: a borrower's report of being defrauded, open until closed
 * once, confirmed or unfounded. While a claim is open every loan of the
 * borrower that could still be paid is blocked (loan_evaluate(),
 * fraud_claim_open; the payout's guard in lib/db/statements.c,
 * CLAIM_GUARD). This file holds the claim's values and the rule of its
 * closure. Pure.
 */
#ifndef CD_CLAIM_H
#define CD_CLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "cd_error.h"
#include "policy.h"

#define CLAIM_REFERENCE_MAX_CHARS 200
#define CLAIM_NOTE_MAX_CHARS      1000
/* characters of up to 4 bytes, and the NUL */
#define CLAIM_REFERENCE_BUF (4 * CLAIM_REFERENCE_MAX_CHARS + 1)
#define CLAIM_NOTE_BUF      (4 * CLAIM_NOTE_MAX_CHARS + 1)
/* "FC-" and the claim's number */
#define CLAIM_ID_BUF 24

enum claim_outcome { CLAIM_OUTCOME_NONE, CLAIM_CONFIRMED, CLAIM_UNFOUNDED };

/* POST /v1/fraud-claims */
struct claim_open_req {
	char borrower_iin[13];
	char reference[CLAIM_REFERENCE_BUF];
	bool has_note;
	char note[CLAIM_NOTE_BUF];
};

/* POST /v1/fraud-claims/{id}/closure */
struct claim_close_req {
	enum claim_outcome outcome;
	bool has_note;
	char note[CLAIM_NOTE_BUF];
};

/* A claim as recorded. */
struct fraud_claim {
	int64_t id;
	char borrower_iin[13];
	char reference[CLAIM_REFERENCE_BUF];
	char note[CLAIM_NOTE_BUF]; /* "" when none */
	int64_t opened_at;
	char opened_by[ID_BUF];
	char opener_lender[ID_BUF]; /* "" unless a lender's client opened it */
	int64_t closed_at;          /* TS_NULL while open */
	enum claim_outcome outcome;
};

/* "confirmed", "unfounded"; NULL for none. */
const char *claim_outcome_name(enum claim_outcome o);
bool claim_outcome_parse(const char *s, enum claim_outcome *o);

/* "FC-123" <-> 123; false for anything else. */
void claim_id_format(int64_t id, char out[CLAIM_ID_BUF]);
bool claim_id_parse(const char *s, int64_t *id);

/* The rules of the texts, each false with a 422 naming field. */
bool claim_reference_check(const char *s, const char *field, struct cd_error *err);
bool claim_note_check(const char *s, const char *field, struct cd_error *err);

/* A closure of c: a write while it is open; a repeat (200, nothing
 * written) when it is closed with the same outcome; otherwise 409
 * invalid_state (different_details). */
enum claim_close_verdict { CLAIM_CLOSE_WRITE, CLAIM_CLOSE_REPEAT, CLAIM_CLOSE_REFUSE };
enum claim_close_verdict claim_close_decide(const struct fraud_claim *c,
                                            const struct claim_close_req *q, struct cd_error *err);

#endif
