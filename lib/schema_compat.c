/*
 * Release versions and the readiness verdict on a database's schema
 * (schema_compat.h, docs/upgrading.md).
 */
#include "schema_compat.h"

#include <stddef.h>

/* One part: digits up to '.' (or the end when last), at most
 * RELEASE_PART_DIGITS_MAX of them; *s is left after the part. */
static bool parse_part(const char **s, char end, uint32_t *out)
{
	uint32_t v = 0;
	int digits = 0;
	const char *p = *s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > RELEASE_PART_DIGITS_MAX)
			return false;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	if (digits == 0 || *p != end)
		return false;
	*out = v;
	*s = end == '\0' ? p : p + 1;
	return true;
}

bool release_version_parse(const char *s, struct release_version *out)
{
	struct release_version v;
	if (s == NULL || !parse_part(&s, '.', &v.major) || !parse_part(&s, '.', &v.minor) ||
	    !parse_part(&s, '\0', &v.patch))
		return false;
	if (out != NULL)
		*out = v;
	return true;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

int release_version_cmp(const struct release_version *a, const struct release_version *b)
{
	int c = cmp_u32(a->major, b->major);
	if (c == 0)
		c = cmp_u32(a->minor, b->minor);
	if (c == 0)
		c = cmp_u32(a->patch, b->patch);
	return c;
}

enum schema_verdict schema_verdict(int64_t db_schema, const char *db_min_release,
                                   int64_t own_schema, const char *own_release)
{
	struct release_version own, min;
	if (!release_version_parse(own_release, &own))
		return SCHEMA_OWN_RELEASE_MALFORMED;
	if (db_schema < own_schema)
		return SCHEMA_OLDER;
	if (db_min_release == NULL)
		return SCHEMA_MIN_RELEASE_MISSING;
	if (!release_version_parse(db_min_release, &min))
		return SCHEMA_MIN_RELEASE_MALFORMED;
	if (release_version_cmp(&min, &own) > 0)
		return SCHEMA_RELEASE_TOO_OLD;
	return SCHEMA_READY;
}

static const char *const reasons[SCHEMA_VERDICT__N] = {
    [SCHEMA_READY] = "ready",
    [SCHEMA_OLDER] = "schema older than this build's (run coolingctl migrate)",
    [SCHEMA_RELEASE_TOO_OLD] = "schema needs a newer release",
    [SCHEMA_MIN_RELEASE_MISSING] = "schema records no oldest compatible release",
    [SCHEMA_MIN_RELEASE_MALFORMED] = "schema's oldest compatible release is malformed",
    [SCHEMA_OWN_RELEASE_MALFORMED] = "this build's release version is malformed",
};

const char *schema_verdict_reason(enum schema_verdict v)
{
	return (unsigned)v < SCHEMA_VERDICT__N ? reasons[v] : "unknown verdict";
}
