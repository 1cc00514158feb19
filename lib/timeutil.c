/*
 * Timestamps and durations. Parsing is by hand over fixed positions: strptime
 * and sscanf are locale- and TZ-dependent and accept far more than RFC 3339,
 * and timegm/mktime would drag the process time zone into a domain that is
 * UTC-only.
 */
#include "timeutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

#define SEC_PER_DAY INT64_C(86400)
/* The cap on configured durations: 100 years of 365.25 days. */
#define DURATION_MAX_SEC (INT64_C(36525) * SEC_PER_DAY)

static const char NOT_RFC3339[] = "not an RFC 3339 timestamp with offset";

/* Howard Hinnant's algorithms (http://howardhinnant.github.io/date_algorithms.html):
 * exact for every int64 year the callers can produce, no tables, no libc. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool leap_year(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool civil_date_valid(int64_t y, unsigned m, unsigned d)
{
	int64_t ry;
	unsigned rm, rd;

	if (m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	civil_from_days(days_from_civil(y, m, d), &ry, &rm, &rd);
	return ry == y && rm == m && rd == d;
}

bool date_valid_iso(const char *s)
{
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : !is_digit(s[i]))
			return false;
	if (s[10] != '\0')
		return false;
	int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	return y >= 1 && civil_date_valid(y, m, d);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && leap_year(y) ? 29 : dim[m - 1];
}

/* n digits at s as a number, or -1 when any of them is not a digit. The
 * caller has already checked that the string is long enough (by walking it
 * up to the NUL), so this never reads past the end. */
static int fixed_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* True when s has at least n characters before its NUL. */
static bool has_len(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] == '\0')
			return false;
	return true;
}

bool ts_parse_rfc3339(const char *s, int64_t *usec, const char **why)
{
	int year, mon, day, hour, min, sec;
	int64_t frac = 0, off_sec = 0, days, t;
	const char *p;

	/* "YYYY-MM-DDTHH:MM:SS" is 19 fixed characters. */
	if (!s || !has_len(s, 19))
		return why_fail(why, NOT_RFC3339);
	year = fixed_digits(s, 4);
	mon = fixed_digits(s + 5, 2);
	day = fixed_digits(s + 8, 2);
	hour = fixed_digits(s + 11, 2);
	min = fixed_digits(s + 14, 2);
	sec = fixed_digits(s + 17, 2);
	if (year < 0 || mon < 0 || day < 0 || hour < 0 || min < 0 || sec < 0 || s[4] != '-' ||
	    s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return why_fail(why, NOT_RFC3339);

	p = s + 19;
	if (*p == '.') {
		int n = 0;

		p++;
		while (is_digit(p[n]))
			n++;
		if (n == 0)
			return why_fail(why, NOT_RFC3339);
		if (n > 6)
			return why_fail(why, "at most 6 fractional digits");
		for (int i = 0; i < 6; i++)
			frac = frac * 10 + (i < n ? p[i] - '0' : 0);
		p += n;
	}

	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (!has_len(p, 6))
			return why_fail(why, NOT_RFC3339);
		oh = fixed_digits(p + 1, 2);
		om = fixed_digits(p + 4, 2);
		if (oh < 0 || om < 0 || p[3] != ':')
			return why_fail(why, NOT_RFC3339);
		if (oh > 23 || om > 59)
			return why_fail(why, "bad UTC offset");
		/* RFC 3339's "-00:00" (offset unknown) still names an
		 * instant in UTC, so it is taken as +00:00. */
		off_sec = (int64_t)(oh * 3600 + om * 60);
		if (*p == '-')
			off_sec = -off_sec;
		p += 6;
	} else if (*p == '\0') {
		return why_fail(why, "missing UTC offset");
	} else {
		return why_fail(why, NOT_RFC3339);
	}
	if (*p != '\0')
		return why_fail(why, NOT_RFC3339);

	if (year < 1 || mon < 1 || mon > 12 || day < 1 ||
	    (unsigned)day > days_in_month(year, (unsigned)mon))
		return why_fail(why, "no such date");
	if (hour > 23 || min > 59 || sec > 59)
		return why_fail(why, "no such time of day");

	days = days_from_civil(year, (unsigned)mon, (unsigned)day);
	t = days * SEC_PER_DAY + hour * 3600 + min * 60 + sec - off_sec;
	/* An offset can carry the first or last day of 0001-9999 out of those
	 * years in UTC, where ts_format_utc could not write it back. */
	if (t < INT64_C(-62135596800) || t > INT64_C(253402300799))
		return why_fail(why, "outside years 0001-9999 in UTC");
	*usec = t * USEC_PER_SEC + frac;
	return true;
}

/* Floor division, so that instants before 1970 still get a time of day in
 * [00:00:00, 24:00:00) and a fraction in [0, 1) s. */
static int64_t floor_div(int64_t a, int64_t b, int64_t *rem)
{
	int64_t q = a / b, r = a % b;

	if (r < 0) {
		r += b;
		q--;
	}
	*rem = r;
	return q;
}

/* n decimal digits of v, zero-padded, at out */
static void put_digits(char *out, unsigned v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Out-of-range inputs (before year 1, after 9999, TS_NULL) are not valid
 * RFC 3339, but still produce a bounded, readable string rather than
 * garbage: callers are expected to map TS_NULL to JSON null themselves.
 * Years 0-9999 are written digit by digit: a loan's answer holds several
 * instants, and snprintf made them 6 % of a loan read's instructions. */
void ts_format_utc(int64_t usec, char out[TS_BUF])
{
	int64_t frac, sod, secs, days, y;
	unsigned m, d;

	secs = floor_div(usec, USEC_PER_SEC, &frac);
	days = floor_div(secs, SEC_PER_DAY, &sod);
	civil_from_days(days, &y, &m, &d);
	if (y >= 0 && y <= 9999) {
		memcpy(out, "0000-00-00T00:00:00", 19);
		put_digits(out, (unsigned)y, 4);
		put_digits(out + 5, m, 2);
		put_digits(out + 8, d, 2);
		put_digits(out + 11, (unsigned)(sod / 3600), 2);
		put_digits(out + 14, (unsigned)(sod / 60 % 60), 2);
		put_digits(out + 17, (unsigned)(sod % 60), 2);
		char *p = out + 19;
		if (frac != 0) {
			*p++ = '.';
			put_digits(p, (unsigned)frac, 6);
			p += 6;
		}
		p[0] = 'Z';
		p[1] = '\0';
		return;
	}
	if (frac != 0)
		snprintf(out, TS_BUF, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u.%06uZ", y, m, d,
		         (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
		         (unsigned)frac);
	else
		snprintf(out, TS_BUF, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", y, m, d,
		         (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
}

/* Leading zeros ("05m") are accepted: with a hand-written decimal loop they
 * cannot be mistaken for octal, and refusing them would only stop a daemon
 * over a harmless spelling. */
bool duration_parse(const char *s, int64_t *seconds, const char **why)
{
	static const char bad[] = "not a duration such as 90s, 15m, 24h or 2d";
	const char *p = s;
	int64_t n = 0, unit;
	size_t ndigits;

	if (!s)
		return why_fail(why, bad);
	while (is_digit(*p))
		p++;
	ndigits = (size_t)(p - s);
	if (ndigits == 0 || p[0] == '\0' || p[1] != '\0')
		return why_fail(why, bad);
	switch (*p) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = SEC_PER_DAY;
		break;
	default:
		return why_fail(why, bad);
	}

	/* Stop as soon as the count alone exceeds the cap: n stays below
	 * 10 * DURATION_MAX_SEC, so a long digit string cannot overflow. */
	for (size_t i = 0; i < ndigits; i++) {
		n = n * 10 + (s[i] - '0');
		if (n > DURATION_MAX_SEC)
			return why_fail(why, "longer than 100 years");
	}
	if (n > DURATION_MAX_SEC / unit)
		return why_fail(why, "longer than 100 years");
	*seconds = n * unit;
	return true;
}
