/*
 * Amounts: the contract's decimal string grammar <-> integer tiyn
 * (1 tenge = 100 tiyn). No floating point anywhere.
 */
#ifndef CD_MONEY_H
#define CD_MONEY_H

#include <stdbool.h>
#include <stdint.h>

#define MONEY_MAX_TIYN INT64_C(99999999999999) /* "999999999999.99" */
#define MONEY_BUF      24

/* Grammar: [1-9][0-9]* or "0", optionally "." and 1 or 2 digits; no sign, no
 * exponent, no spaces, no leading zeros ("0.50" ok, "00.5" and "01" not).
 * The value must be > 0 and <= MONEY_MAX_TIYN. On false *why says why:
 * "not a decimal amount", "at most 2 decimals", "leading zeros",
 * "must be greater than 0", "too large". */
bool money_parse(const char *s, int64_t *tiyn, const char **why);

/* Always two decimals: 60000000 -> "600000.00", 1 -> "0.01". tiyn >= 0. */
void money_format(int64_t tiyn, char out[MONEY_BUF]);

#endif
