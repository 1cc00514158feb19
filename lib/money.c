/*
 * Amounts: the contract's decimal string <-> integer tiyn. The grammar is
 * checked by hand, character by character, because strtod/strtoll/sscanf
 * accept signs, spaces, exponents and locale separators the contract refuses,
 * and a float must never touch money.
 */
#include "money.h"

#include <stddef.h>
#include <string.h>

#include "text.h"

/* "999999999999.99": the integer part never has more than 12 digits. */
#define MONEY_MAX_INT_DIGITS 12

bool money_parse(const char *s, int64_t *tiyn, const char **why)
{
	const char *p = s;
	const char *int_start, *frac_start = NULL;
	size_t int_len, frac_len = 0;
	int64_t v = 0;

	if (!s)
		return why_fail(why, "not a decimal amount");

	/* Shape first, then the finer reasons: "1.2x" is not an amount at
	 * all, whereas "1.234" is an amount with too many decimals. */
	int_start = p;
	while (is_digit(*p))
		p++;
	int_len = (size_t)(p - int_start);
	if (*p == '.') {
		frac_start = ++p;
		while (is_digit(*p))
			p++;
		frac_len = (size_t)(p - frac_start);
		if (frac_len == 0)
			return why_fail(why, "not a decimal amount");
	}
	if (*p != '\0' || int_len == 0)
		return why_fail(why, "not a decimal amount");
	if (frac_len > 2)
		return why_fail(why, "at most 2 decimals");
	if (int_len > 1 && int_start[0] == '0')
		return why_fail(why, "leading zeros");
	/* Decided by length before any arithmetic, so that a long digit
	 * string can never overflow the accumulator. */
	if (int_len > MONEY_MAX_INT_DIGITS)
		return why_fail(why, "too large");

	for (size_t i = 0; i < int_len; i++)
		v = v * 10 + (int_start[i] - '0');
	v *= 100;
	if (frac_len >= 1)
		v += (frac_start[0] - '0') * 10;
	if (frac_len == 2)
		v += frac_start[1] - '0';

	if (v == 0)
		return why_fail(why, "must be greater than 0");
	if (v > MONEY_MAX_TIYN)
		return why_fail(why, "too large");
	*tiyn = v;
	return true;
}

void money_format(int64_t tiyn, char out[MONEY_BUF])
{
	/* Negative amounts never come from money_parse, but a bug elsewhere
	 * must still print a readable number; the magnitude is taken as
	 * unsigned so that INT64_MIN does not overflow. */
	uint64_t mag = tiyn < 0 ? (uint64_t)0 - (uint64_t)tiyn : (uint64_t)tiyn;

	/* written backwards, digit by digit: a loan's answer holds three
	 * amounts, and snprintf cost more than the rest of their writing */
	char tmp[MONEY_BUF];
	size_t i = sizeof(tmp);
	tmp[--i] = '\0';
	tmp[--i] = (char)('0' + mag % 10);
	tmp[--i] = (char)('0' + mag / 10 % 10);
	tmp[--i] = '.';
	uint64_t whole = mag / 100;
	do {
		tmp[--i] = (char)('0' + whole % 10);
		whole /= 10;
	} while (whole != 0);
	if (tiyn < 0)
		tmp[--i] = '-';
	memcpy(out, tmp + i, sizeof(tmp) - i);
}
