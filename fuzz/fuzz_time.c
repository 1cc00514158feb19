/*
 * ts_parse_rfc3339 / ts_format_utc / duration_parse (lib/timeutil.c).
 * Checks, on every input:
 * - an accepted timestamp formats as UTC with 'Z', and that text parses back
 *   to the same instant (and formats identically again);
 * - an accepted duration is in [0, 100 years] and agrees with a reference
 *   model (digits then one of s m h d);
 * - ts_format_utc of any int64 (the first 8 bytes) is terminated and fits.
 */
#include <stdbool.h>

#include "fuzz_util.h"
#include "timeutil.h"

#define DURATION_MAX_SEC (INT64_C(36525) * 86400)

/* digits followed by exactly one unit; the value without overflow, or -1
 * when above the cap. Written independently of timeutil.c. */
static bool reference_duration(const char *s, int64_t *out)
{
	size_t n = 0;
	int64_t v = 0, unit;

	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || s[n] == '\0' || s[n + 1] != '\0')
		return false;
	switch (s[n]) {
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
		unit = 86400;
		break;
	default:
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (v > DURATION_MAX_SEC) { /* already too long: stop before overflow */
			*out = -1;
			return true;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v > DURATION_MAX_SEC / unit ? -1 : v * unit;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t t = 0, d = 0, ref = 0;
	const char *why = NULL;

	if (ts_parse_rfc3339(s, &t, &why)) {
		char out[TS_BUF], again[TS_BUF];
		int64_t back = 0;
		const char *bwhy = NULL;

		FUZZ_CHECK(t != TS_NULL, "\"%s\" parses to TS_NULL", s);
		memset(out, 'x', sizeof(out));
		ts_format_utc(t, out);
		FUZZ_CHECK(fuzz_terminated(out, sizeof(out)), "ts_format_utc unterminated");
		FUZZ_CHECK(out[strlen(out) - 1] == 'Z', "\"%s\" -> \"%s\" has no Z", s, out);
		FUZZ_CHECK(ts_parse_rfc3339(out, &back, &bwhy) && back == t,
		           "\"%s\" -> %lld -> \"%s\" -> %lld (%s)", s, (long long)t, out,
		           (long long)back, bwhy ? bwhy : "-");
		ts_format_utc(back, again);
		FUZZ_CHECK(strcmp(out, again) == 0, "\"%s\" formats as \"%s\" then \"%s\"", s, out,
		           again);
	} else {
		FUZZ_CHECK(why != NULL && why[0] != '\0', "\"%s\" refused without a reason", s);
	}

	why = NULL;
	bool ok = duration_parse(s, &d, &why);
	bool ref_shape = reference_duration(s, &ref);
	bool ref_ok = ref_shape && ref >= 0;
	FUZZ_CHECK(ok == ref_ok, "duration_parse(\"%s\") = %d, reference %d", s, ok, ref_ok);
	if (ok) {
		FUZZ_CHECK(d == ref, "duration_parse(\"%s\") = %lld, reference %lld", s,
		           (long long)d, (long long)ref);
		FUZZ_CHECK(d >= 0 && d <= DURATION_MAX_SEC, "\"%s\" -> %lld out of range", s,
		           (long long)d);
	} else {
		FUZZ_CHECK(why != NULL && why[0] != '\0', "duration \"%s\" refused without reason",
		           s);
	}

	if (size >= 8) {
		int64_t any;
		char out[TS_BUF];

		memcpy(&any, data, sizeof(any));
		memset(out, 'x', sizeof(out));
		ts_format_utc(any, out);
		FUZZ_CHECK(fuzz_terminated(out, sizeof(out)), "ts_format_utc(%lld) unterminated",
		           (long long)any);
	}
	free(s);
	return 0;
}
