/*
 * iin_valid / iin_check_digit / iin_mask (lib/iin.c). Checks, on every
 * input:
 * - iin_valid agrees with a reference model of REGULATION.md's rule (12
 *   digits, century digit 1-6, a real birth date, the two-pass check digit);
 * - iin_check_digit agrees with the reference (on short inputs too);
 * - iin_mask always gives 12 characters and a NUL, never echoes digits 5..10
 *   (positions 4..9), and masks completely anything that is not exactly 12
 *   ASCII digits.
 */
#include <stdbool.h>

#include "fuzz_util.h"
#include "iin.h"

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static int reference_check_digit(const char *d)
{
	int s1 = 0, s2 = 0;

	for (int i = 0; i < 11; i++) {
		if (!digit(d[i]))
			return -1;
		s1 += (d[i] - '0') * (i + 1);
		s2 += (d[i] - '0') * ((i + 2) % 11 + 1); /* 3,4,...,11,1,2 */
	}
	if (s1 % 11 != 10)
		return s1 % 11;
	return s2 % 11 == 10 ? -1 : s2 % 11;
}

static bool reference_valid(const char *s)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int year, mon, day, century;

	if (strlen(s) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (!digit(s[i]))
			return false;
	if (s[6] < '1' || s[6] > '6')
		return false;
	century = 1800 + (s[6] - '1') / 2 * 100;
	year = century + (s[0] - '0') * 10 + (s[1] - '0');
	mon = (s[2] - '0') * 10 + (s[3] - '0');
	day = (s[4] - '0') * 10 + (s[5] - '0');
	if (mon < 1 || mon > 12 || day < 1)
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (day > mdays[mon - 1] + (mon == 2 && leap))
		return false;
	return reference_check_digit(s) == s[11] - '0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	const char *why = NULL;
	bool ok = iin_valid(s, &why);
	char masked[IIN_MASKED_BUF + 8];
	size_t len = strlen(s);
	bool twelve_digits = len == 12;

	FUZZ_CHECK(ok == reference_valid(s), "iin_valid(\"%s\") = %d (%s), reference disagrees", s,
	           ok, why ? why : "-");
	FUZZ_CHECK(ok || (why != NULL && why[0] != '\0'), "\"%s\" refused without a reason", s);

	/* Documented to stop at a NUL: short inputs are fair game too. */
	int c = iin_check_digit(s);
	FUZZ_CHECK(c == reference_check_digit(s), "iin_check_digit(\"%.11s\") = %d", s, c);

	for (size_t i = 0; i < len && twelve_digits; i++)
		twelve_digits = digit(s[i]);
	memset(masked, 'x', sizeof(masked));
	iin_mask(s, masked);
	FUZZ_CHECK(masked[IIN_LEN] == '\0', "mask of \"%s\" is not 12 characters", s);
	FUZZ_CHECK(masked[IIN_MASKED_BUF] == 'x', "iin_mask wrote past its 13 bytes");
	for (int i = 0; i < IIN_LEN; i++) {
		bool shown = i < 4 || i >= 10;
		if (twelve_digits && shown)
			FUZZ_CHECK(masked[i] == s[i], "mask \"%s\" of \"%s\" at %d", masked, s, i);
		else
			FUZZ_CHECK(masked[i] == '*', "mask \"%s\" of \"%s\" echoes position %d",
			           masked, s, i);
	}
	free(s);
	return 0;
}
