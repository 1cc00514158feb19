/*
 * Time in the domain is int64 microseconds since the Unix epoch, UTC.
 * TS_NULL stands for SQL NULL / JSON null.
 */
#ifndef CD_TIMEUTIL_H
#define CD_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define TS_NULL      INT64_MIN
#define USEC_PER_SEC INT64_C(1000000)
#define TS_BUF       40

/* RFC 3339 date-time with a mandatory offset: "2025-06-15T10:00:00+05:00",
 * "2025-06-15T05:00:00Z", "2025-06-15t05:00:00.5z", fractional seconds up to
 * 6 digits (more digits: refused). 'T' or 't' (not space). Offsets +hh:mm /
 * -hh:mm with hh <= 23, mm <= 59. Years 0001-9999, as written and in UTC;
 * real calendar dates (leap years); seconds 00-59 (a leap second 60 is
 * refused). On false *why is "not an RFC 3339 timestamp with offset" or a
 * more precise reason. */
bool ts_parse_rfc3339(const char *s, int64_t *usec, const char **why);

/* UTC with Z: "2025-06-15T05:00:00Z"; fractional part only when non-zero, as
 * six digits: "2025-06-15T05:00:00.500000Z". */
void ts_format_utc(int64_t usec, char out[TS_BUF]);

/* Durations for config: a positive integer followed by one unit s, m, h or d:
 * "90s", "15m", "24h", "2d". "0s" is allowed (value 0). No spaces, no sign,
 * no missing unit, no overflow beyond 100 years. Result in seconds. */
bool duration_parse(const char *s, int64_t *seconds, const char **why);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
/* A real calendar date (leap years): one that survives the round trip
 * through a day count. */
bool civil_date_valid(int64_t y, unsigned m, unsigned d);
/* "YYYY-MM-DD", a real calendar date of the years 0001-9999. */
bool date_valid_iso(const char *s);

#endif
