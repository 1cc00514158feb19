/*
 * Whether a build may serve on a database's schema (docs/upgrading.md):
 * release versions ("MAJOR.MINOR.PATCH") parsed and compared, and the
 * readiness verdict that GET /readyz gives. Each migration from
 * sql/012_release_compat.sql on records in the table schema_release the
 * oldest release that can still run on the schema it leaves; a build is
 * ready while the database's schema is at least its own and that oldest
 * release is not newer than the build.
 */
#ifndef CD_SCHEMA_COMPAT_H
#define CD_SCHEMA_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

struct release_version {
	uint32_t major, minor, patch;
};

/* Each part: 1 to 9 decimal digits, so that it fits and compares as a number. */
#define RELEASE_PART_DIGITS_MAX 9

/* True when s is exactly "MAJOR.MINOR.PATCH", each part 1 to
 * RELEASE_PART_DIGITS_MAX ASCII digits (no sign, blank, suffix or empty
 * part); *out (if not NULL) gets the numbers. s may be NULL (false). */
bool release_version_parse(const char *s, struct release_version *out);

/* <0, 0 or >0 as a is older than, the same as or newer than b: major, then
 * minor, then patch, as numbers ("0.10.0" is newer than "0.9.0"). */
int release_version_cmp(const struct release_version *a, const struct release_version *b);

enum schema_verdict {
	SCHEMA_READY,
	SCHEMA_OLDER,               /* the database lacks migrations of this build */
	SCHEMA_RELEASE_TOO_OLD,     /* a contract migration needs a newer release */
	SCHEMA_MIN_RELEASE_MISSING, /* the newest schema records no oldest release */
	SCHEMA_MIN_RELEASE_MALFORMED,
	SCHEMA_OWN_RELEASE_MALFORMED,
	SCHEMA_VERDICT__N
};

/* The verdict for a build of release own_release made for schema
 * own_schema, on a database at schema db_schema whose oldest compatible
 * release is db_min_release (NULL when the database records none). Every
 * doubt is "not ready": a schema the build cannot vouch for must not
 * take traffic. */
enum schema_verdict schema_verdict(int64_t db_schema, const char *db_min_release,
                                   int64_t own_schema, const char *own_release);

/* The verdict as the "reason" of /readyz ("ready" for SCHEMA_READY). */
const char *schema_verdict_reason(enum schema_verdict v);

#endif
