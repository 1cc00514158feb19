/*
 * money_parse / money_format (lib/money.c). Checks, on every input:
 * - money_parse agrees with a simple reference model of the contract's
 *   grammar (digits, no leading zeros, at most 2 decimals, 0 < value <=
 *   999999999999.99);
 * - an accepted amount is in (0, MONEY_MAX_TIYN], and money_format of it
 *   parses back to the same tiyn; with exactly two decimals the text is
 *   reproduced byte for byte;
 * - a refusal names one of the documented reasons;
 * - money_format of any int64 (the first 8 bytes) fits its buffer.
 */
#include <stdbool.h>

#include "fuzz_util.h"
#include "money.h"

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The contract's grammar, written independently of money.c. */
static bool reference_parse(const char *s, int64_t *tiyn)
{
	size_t i = 0, int_len, frac_len = 0;
	int64_t v = 0;

	while (digit(s[i]))
		i++;
	int_len = i;
	if (int_len == 0 || int_len > 12 || (int_len > 1 && s[0] == '0'))
		return false;
	for (size_t k = 0; k < int_len; k++)
		v = v * 10 + (s[k] - '0');
	v *= 100;
	if (s[i] == '.') {
		i++;
		while (digit(s[i + frac_len]))
			frac_len++;
		if (frac_len < 1 || frac_len > 2)
			return false;
		v += (s[i] - '0') * 10;
		if (frac_len == 2)
			v += s[i + 1] - '0';
		i += frac_len;
	}
	if (s[i] != '\0' || v <= 0 || v > MONEY_MAX_TIYN)
		return false;
	*tiyn = v;
	return true;
}

static bool known_reason(const char *why)
{
	static const char *const reasons[] = {"not a decimal amount", "at most 2 decimals",
	                                      "leading zeros", "must be greater than 0",
	                                      "too large"};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (why != NULL && strcmp(why, reasons[i]) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t v = -1, ref = -1;
	const char *why = NULL;
	bool ok = money_parse(s, &v, &why);
	bool ref_ok = reference_parse(s, &ref);

	FUZZ_CHECK(ok == ref_ok, "money_parse(\"%s\") = %d, reference says %d (%s)", s, ok, ref_ok,
	           why ? why : "-");
	if (ok) {
		char out[MONEY_BUF];
		int64_t back = -1;
		const char *dot = strchr(s, '.');

		FUZZ_CHECK(v == ref, "money_parse(\"%s\") = %lld, reference %lld", s, (long long)v,
		           (long long)ref);
		FUZZ_CHECK(v > 0 && v <= MONEY_MAX_TIYN, "\"%s\" -> %lld out of range", s,
		           (long long)v);
		money_format(v, out);
		FUZZ_CHECK(fuzz_terminated(out, sizeof(out)), "money_format unterminated");
		FUZZ_CHECK(money_parse(out, &back, NULL) && back == v,
		           "\"%s\" -> %lld -> \"%s\" -> %lld", s, (long long)v, out,
		           (long long)back);
		if (dot != NULL && strlen(dot) == 3)
			FUZZ_CHECK(strcmp(out, s) == 0, "\"%s\" formats as \"%s\"", s, out);
	} else {
		FUZZ_CHECK(known_reason(why), "money_parse(\"%s\") refused with reason \"%s\"", s,
		           why ? why : "(null)");
	}

	if (size >= 8) {
		int64_t any;
		char out[MONEY_BUF];

		memcpy(&any, data, sizeof(any));
		memset(out, 'x', sizeof(out));
		money_format(any, out);
		FUZZ_CHECK(fuzz_terminated(out, sizeof(out)), "money_format(%lld) unterminated",
		           (long long)any);
		/* Positive values must be complete, never silently clipped. */
		if (any > 0) {
			char expect[32];

			snprintf(expect, sizeof(expect), "%lld.%02lld", (long long)(any / 100),
			         (long long)(any % 100));
			FUZZ_CHECK(strcmp(out, expect) == 0, "money_format(%lld) = \"%s\"",
			           (long long)any, out);
		}
	}
	free(s);
	return 0;
}
