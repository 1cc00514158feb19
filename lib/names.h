/*
 * The vocabularies of the project, one name table each, for the daemon,
 * the CLI and the messages that list them ("must be lender, compliance or
 * auditor or registry"): a word is spelled in one place. Pure.
 */
#ifndef CD_NAMES_H
#define CD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct name_table {
	const char *const *names; /* index: the enum value */
	int count;
};

/* The index of s in t; false when t has no such name. */
bool name_lookup(const struct name_table *t, const char *s, int *index);
/* The name of index, or "unknown". */
const char *name_of(const struct name_table *t, int index);
/* The names joined by sep, the last two by last: ("lender, compliance or
 * auditor" with ", " and " or "; "bank|mfo" with "|" and "|"). Returns out. */
char *names_join(const struct name_table *t, const char *sep, const char *last, char *out,
                 size_t size);

/* A client's role; bits, since a route admits a set of them. The table is
 * by bit position: role_names.names[0] is ROLE_LENDER's. */
enum role {
	ROLE_NONE = 0,
	ROLE_LENDER = 1,
	ROLE_COMPLIANCE = 2,
	ROLE_AUDITOR = 4,
	ROLE_REGISTRY = 8,   /* the connector of the voluntary refusal registry */
	ROLE_ANTIFRAUD = 16, /* the connector of the anti-fraud centre's lists */
};
extern const struct name_table role_names;
/* ROLE_NONE for a name that is none. */
enum role role_parse(const char *s);

/* A lender's kind (lenders.kind). */
enum lender_kind { LENDER_BANK, LENDER_MFO };
extern const struct name_table lender_kind_names;

/* What a loan is for (the approval's `product`). */
enum product {
	PRODUCT_CONSUMER,
	PRODUCT_GOODS,
	PRODUCT_REFINANCING,
	PRODUCT_CARD_LIMIT,
	PRODUCT_EDUCATION
};
extern const struct name_table product_names;

/* Why a loan is not cooled although its amount would be (its `exemption`);
 * EXEMPT_NONE has no name (null on the wire). In the order they are tried. */
enum exemption {
	EXEMPT_NONE,
	EXEMPT_BRANCH,
	EXEMPT_SECURED,
	EXEMPT_GOODS,
	EXEMPT_REFINANCING,
	EXEMPT_CARD_LIMIT,
	EXEMPT_EDUCATION,
	/* never at approval: the act that confirms the loan (a trusted
	 * person's confirmation) makes it exempt from then on */
	EXEMPT_TRUSTED_PERSON,
	EXEMPT__COUNT
};
extern const struct name_table exemption_names;

/* The tier that cooled a loan (its `rule`); RULE_NONE has no name. */
enum rule {
	RULE_NONE,
	RULE_CARD,
	RULE_BANK_SHORT,
	RULE_BANK_LONG,
	RULE_MFO,
	RULE_RU_SHORT,
	RULE_RU_LONG,
	RULE_KG_BAND1,
	RULE_KG_BAND2,
	RULE_KG_BAND3,
	RULE_NEXT_WORKING_DAY, /* until the start of the next working day after the consent */
	RULE__COUNT
};
extern const struct name_table rule_names;

/* Where a payout goes (the disbursement's `payee.kind`): an IBAN, the
 * lender's token or hash of a card (never its number), an e-wallet. */
enum payee_kind { PAYEE_ACCOUNT, PAYEE_CARD, PAYEE_WALLET };
extern const struct name_table payee_kind_names;

/* Why a loan needs an in-person verification (its `in_person_reasons`), in
 * the contract's order. */
enum in_person_reason {
	INPERSON_FIRST_TIME,         /* unsecured and first-time (the profile's rule) */
	INPERSON_PRIOR_FRAUD_VICTIM, /* a cooled loan of a confirmed fraud victim */
	INPERSON_MULTI_LENDER_BURST, /* a cooled loan in a burst of lenders */
	INPERSON__COUNT
};
extern const struct name_table in_person_reason_names;

/* [policy] aggregation: whose loans of the day are added up. */
enum aggregation { AGGREGATION_LENDER, AGGREGATION_ALL };
extern const struct name_table aggregation_names;

/* How an extra confirmation was given (POST .../extra-confirmation). */
enum extra_method { EXTRA_BRANCH, EXTRA_EGOV, EXTRA_CREDIT_BUREAU, EXTRA_LENDER_APP };
extern const struct name_table extra_method_names;

/* Why an act does not fit the loan: the `reason` of a 409 invalid_state,
 * a stable code for the client's program (the message is free text).
 * REASON_NONE has no name (no `reason` on the wire). */
enum state_reason {
	REASON_NONE,
	REASON_CANCELLED,         /* an act after cancellation */
	REASON_ALREADY_DISBURSED, /* an act or a cancellation after the payout */
	REASON_DIFFERENT_TIME,    /* a repeat with another time or method */
	REASON_DIFFERENT_DETAILS, /* a repeat with another branch, officer or cancellation reason */
	REASON_NOT_REQUIRED,      /* an act the loan does not need */
	REASON_COOLING_NOT_ENDED, /* a reconfirmation before the cooling period's end */
	REASON__COUNT
};
extern const struct name_table state_reason_names;

/* The daemon's log, [log] level and format. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern const struct name_table log_level_names;
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };
extern const struct name_table log_format_names;

/* [tls] min_version. */
extern const struct name_table tls_version_names;

#endif
