/*
 * The query-string values: cursor_decode / cursor_encode and
 * idempotency_key_valid (lib/codec.c), int_parse and id_valid (lib/text.c).
 * Checks, on every input:
 * - a decoded cursor has id > 0 and a position in years 0001-9999, and
 *   encoding it again decodes to the same position;
 * - any (position, id) pair from the first 16 bytes that lies in the
 *   cursor's domain survives encode -> decode;
 * - int_parse, id_valid and idempotency_key_valid agree with reference
 *   models of their grammars.
 */
#include <stdbool.h>

#include "codec.h"
#include "fuzz_util.h"

/* years 0001-9999 in microseconds, as cursor_decode documents */
#define CURSOR_LO (INT64_C(-62135596800) * INT64_C(1000000))
#define CURSOR_HI (INT64_C(253402300799) * INT64_C(1000000) + INT64_C(999999))
/* ids are written with at most 18 digits */
#define CURSOR_ID_MAX INT64_C(999999999999999999)

/* int_parse takes digits up to 9223372036854775799: it stops before a
 * digit could overflow, whichever digit comes. The model compares the
 * digits, leading zeros dropped, with that bound as text. */
static bool reference_int(const char *s, int64_t *out)
{
	static const char max[] = "9223372036854775799";
	size_t n = strlen(s);

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	const char *d = s + strspn(s, "0");
	size_t nd = strlen(d);
	if (nd > sizeof(max) - 1 || (nd == sizeof(max) - 1 && strcmp(d, max) > 0))
		return false;
	int64_t v = 0;
	for (; *d; d++)
		v = v * 10 + (*d - '0');
	*out = v;
	return true;
}

static bool reference_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	/* "." and ".." are refused (CONTRACT.md v1.1) */
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-",
		            s[i]))
			return false;
	return true;
}

static bool reference_key(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void round_trip(int64_t at, int64_t id, const char *from)
{
	char cur[CURSOR_BUF + 8];
	int64_t at2 = 0, id2 = 0;

	memset(cur, 'x', sizeof(cur));
	cursor_encode(at, id, cur);
	FUZZ_CHECK(fuzz_terminated(cur, CURSOR_BUF), "cursor_encode(%lld, %lld) overflows",
	           (long long)at, (long long)id);
	FUZZ_CHECK(cursor_decode(cur, &at2, &id2) && at2 == at && id2 == id,
	           "(%lld, %lld) from \"%s\" -> \"%s\" -> (%lld, %lld)", (long long)at,
	           (long long)id, from, cur, (long long)at2, (long long)id2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	int64_t at = 0, id = 0, n = -1, ref = -1;

	if (cursor_decode(s, &at, &id)) {
		FUZZ_CHECK(id > 0, "cursor \"%s\" has id %lld", s, (long long)id);
		FUZZ_CHECK(at >= CURSOR_LO && at <= CURSOR_HI, "cursor \"%s\" at %lld", s,
		           (long long)at);
		round_trip(at, id, s);
	}

	if (size >= 16) {
		memcpy(&at, data, sizeof(at));
		memcpy(&id, data + 8, sizeof(id));
		if (id > 0 && id <= CURSOR_ID_MAX && at >= CURSOR_LO && at <= CURSOR_HI)
			round_trip(at, id, "(bytes)");
	}

	bool ok = int_parse(s, &n);
	bool ref_ok = reference_int(s, &ref);
	FUZZ_CHECK(ok == ref_ok && (!ok || n == ref), "int_parse(\"%s\") = %d/%lld", s, ok,
	           (long long)n);
	FUZZ_CHECK(id_valid(s) == reference_id(s), "id_valid(\"%s\")", s);
	FUZZ_CHECK(idempotency_key_valid(s) == reference_key(s), "idempotency_key_valid(\"%s\")",
	           s);
	free(s);
	return 0;
}
