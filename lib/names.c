/*
 * The name tables (names.h).
 */
#include "names.h"

#include <stdio.h>
#include <string.h>

bool name_lookup(const struct name_table *t, const char *s, int *index)
{
	for (int i = 0; i < t->count; i++) {
		if (strcmp(t->names[i], s) == 0) {
			*index = i;
			return true;
		}
	}
	return false;
}

const char *name_of(const struct name_table *t, int index)
{
	return index >= 0 && index < t->count ? t->names[index] : "unknown";
}

char *names_join(const struct name_table *t, const char *sep, const char *last, char *out,
                 size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < t->count && used < size; i++) {
		const char *before = i == 0 ? "" : i == t->count - 1 ? last : sep;
		int n = snprintf(out + used, size - used, "%s%s", before, t->names[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return out;
}

#define TABLE(name, ...)                                                                           \
	static const char *const name##_list[] = {__VA_ARGS__};                                    \
	const struct name_table name = {name##_list,                                               \
	                                (int)(sizeof(name##_list) / sizeof(name##_list[0]))}

TABLE(role_names, "lender", "compliance", "auditor", "registry", "antifraud");
TABLE(lender_kind_names, [LENDER_BANK] = "bank", [LENDER_MFO] = "mfo");
TABLE(product_names, [PRODUCT_CONSUMER] = "consumer", [PRODUCT_GOODS] = "goods",
      [PRODUCT_REFINANCING] = "refinancing", [PRODUCT_CARD_LIMIT] = "card_limit",
      [PRODUCT_EDUCATION] = "education");
TABLE(exemption_names, [EXEMPT_NONE] = "", [EXEMPT_BRANCH] = "branch", [EXEMPT_SECURED] = "secured",
      [EXEMPT_GOODS] = "goods", [EXEMPT_REFINANCING] = "refinancing",
      [EXEMPT_CARD_LIMIT] = "card_limit", [EXEMPT_EDUCATION] = "education",
      [EXEMPT_TRUSTED_PERSON] = "trusted_person");
TABLE(rule_names, [RULE_NONE] = "", [RULE_CARD] = "card", [RULE_BANK_SHORT] = "bank_short",
      [RULE_BANK_LONG] = "bank_long", [RULE_MFO] = "mfo", [RULE_RU_SHORT] = "ru_short",
      [RULE_RU_LONG] = "ru_long", [RULE_KG_BAND1] = "kg_band1", [RULE_KG_BAND2] = "kg_band2",
      [RULE_KG_BAND3] = "kg_band3", [RULE_NEXT_WORKING_DAY] = "next_working_day");
TABLE(payee_kind_names, [PAYEE_ACCOUNT] = "account", [PAYEE_CARD] = "card",
      [PAYEE_WALLET] = "wallet");
TABLE(in_person_reason_names, [INPERSON_FIRST_TIME] = "first_time",
      [INPERSON_PRIOR_FRAUD_VICTIM] = "prior_fraud_victim",
      [INPERSON_MULTI_LENDER_BURST] = "multi_lender_burst");
TABLE(aggregation_names, [AGGREGATION_LENDER] = "lender", [AGGREGATION_ALL] = "all");
TABLE(extra_method_names, [EXTRA_BRANCH] = "branch", [EXTRA_EGOV] = "egov",
      [EXTRA_CREDIT_BUREAU] = "credit_bureau", [EXTRA_LENDER_APP] = "lender_app");
TABLE(state_reason_names, [REASON_NONE] = "", [REASON_CANCELLED] = "cancelled",
      [REASON_ALREADY_DISBURSED] = "already_disbursed", [REASON_DIFFERENT_TIME] = "different_time",
      [REASON_DIFFERENT_DETAILS] = "different_details", [REASON_NOT_REQUIRED] = "not_required",
      [REASON_COOLING_NOT_ENDED] = "cooling_not_ended");
TABLE(log_level_names, [LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info",
      [LOG_DEBUG] = "debug");
TABLE(log_format_names, [LOG_FORMAT_JSON] = "json", [LOG_FORMAT_TEXT] = "text");
TABLE(tls_version_names, "TLSv1.2", "TLSv1.3");

enum role role_parse(const char *s)
{
	int i;
	return name_lookup(&role_names, s, &i) ? (enum role)(1 << i) : ROLE_NONE;
}
