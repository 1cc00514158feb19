/*
 * IIN validation and masking. The IIN is personal data, so besides checking
 * it this file also provides the only sanctioned way to put one in a log.
 */
#include "iin.h"

#include "text.h"
#include "timeutil.h"

static int weighted_mod11(const char *d, const int w[11])
{
	int sum = 0;

	for (int i = 0; i < 11; i++)
		sum += (d[i] - '0') * w[i];
	return sum % 11;
}

/* Returns -1 for non-digits too (and stops at a NUL), so that a short or
 * dirty input can never be read past its end or yield a "valid" digit. */
int iin_check_digit(const char *digits11)
{
	static const int w1[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	static const int w2[11] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
	int c;

	if (!digits11)
		return -1;
	for (int i = 0; i < 11; i++)
		if (!is_digit(digits11[i]))
			return -1;
	c = weighted_mod11(digits11, w1);
	if (c != 10)
		return c;
	c = weighted_mod11(digits11, w2);
	return c == 10 ? -1 : c;
}

static int two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* The century of digit 7, 0 when it is not a century digit. */
static int64_t century_of(char c)
{
	switch (c) {
	case '1':
	case '2':
		return 1800;
	case '3':
	case '4':
		return 1900;
	case '5':
	case '6':
		return 2000;
	default:
		return 0;
	}
}

bool iin_birth_days(const char *s, int64_t *days)
{
	if (!iin_valid(s, NULL))
		return false;
	*days = days_from_civil(century_of(s[6]) + two_digits(s), (unsigned)two_digits(s + 2),
	                        (unsigned)two_digits(s + 4));
	return true;
}

static bool leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool iin_age_on(const char *s, int64_t day, int *age)
{
	int64_t born;
	if (!iin_birth_days(s, &born) || day < born)
		return false;
	int64_t by, y;
	unsigned bm, bd, m, d;
	civil_from_days(born, &by, &bm, &bd);
	civil_from_days(day, &y, &m, &d);
	/* the birthday of year y: 29 February is 28 February in a common year */
	unsigned birthday_d = bm == 2 && bd == 29 && !leap_year(y) ? 28 : bd;
	bool before_birthday = m < bm || (m == bm && d < birthday_d);
	*age = (int)(y - by - (before_birthday ? 1 : 0));
	return true;
}

/* A birth date after today belongs to nobody yet: a typo or an invented
 * number. */
bool iin_born_by(const char *s, int64_t today_days, const char **why)
{
	int64_t born;
	if (!iin_birth_days(s, &born))
		return why_fail(why, "not a valid IIN");
	if (born > today_days)
		return why_fail(why, "birth date is in the future");
	return true;
}

/* The checks run in the order of the header's reasons, so that the message
 * names the first problem a person reading the number would see. */
bool iin_valid(const char *s, const char **why)
{
	int64_t century;

	if (!s)
		return why_fail(why, "must be 12 digits");
	for (int i = 0; i < IIN_LEN; i++)
		if (!is_digit(s[i]))
			return why_fail(why, "must be 12 digits");
	if (s[IIN_LEN] != '\0')
		return why_fail(why, "must be 12 digits");

	century = century_of(s[6]);
	if (century == 0)
		return why_fail(why, "bad century digit");

	if (!civil_date_valid(century + two_digits(s), (unsigned)two_digits(s + 2),
	                      (unsigned)two_digits(s + 4)))
		return why_fail(why, "bad birth date");

	if (iin_check_digit(s) != s[11] - '0')
		return why_fail(why, "bad check digit");
	return true;
}

/* Anything that is not exactly 12 ASCII digits is masked completely: a
 * 12-character string of other characters may be a token or a name typed
 * into the wrong field, and must not be partly echoed either. */
void iin_mask(const char *iin, char out[IIN_MASKED_BUF])
{
	bool plain = iin != NULL;

	for (int i = 0; plain && i < IIN_LEN; i++)
		if (!is_digit(iin[i]))
			plain = false;
	if (plain && iin[IIN_LEN] != '\0')
		plain = false;

	for (int i = 0; i < IIN_LEN; i++)
		out[i] = '*';
	out[IIN_LEN] = '\0';
	if (plain) {
		/* YYMM and the check digit's pair: enough to tell two log
		 * lines apart, too little to identify a person. */
		for (int i = 0; i < 4; i++)
			out[i] = iin[i];
		out[10] = iin[10];
		out[11] = iin[11];
	}
}
