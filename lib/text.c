/*
 * The shared text helpers (text.h).
 */
#include "text.h"

bool int_parse(const char *s, int64_t *out)
{
	if (*s == '\0')
		return false;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return false;
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}
