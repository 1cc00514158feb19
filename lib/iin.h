/*
 * IIN, the Kazakh individual identification number: 12 digits, YYMMDD, a
 * century/sex digit, a serial and a check digit (two weighted passes).
 */
#ifndef CD_IIN_H
#define CD_IIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IIN_LEN        12
#define IIN_MASKED_BUF 13

/* True when s is exactly 12 ASCII digits, the date part is a real calendar
 * date (century from digit 7: 1-2 1800s, 3-4 1900s, 5-6 2000s; 0 and 7-9
 * invalid) and the check digit matches. On false, *why (if not NULL) names
 * the problem: "must be 12 digits", "bad century digit", "bad birth date",
 * "bad check digit". */
bool iin_valid(const char *s, const char **why);

/* The birth date of a valid IIN, in days since 1970-01-01 (negative
 * before); false when s is not a valid IIN. */
bool iin_birth_days(const char *s, int64_t *days);

/* True when a valid IIN's birth date is not after today (a local date, in
 * days since 1970-01-01: the database's, in policy.timezone). On false, *why
 * (if not NULL) is "birth date is in the future". */
bool iin_born_by(const char *s, int64_t today_days, const char **why);

/* The age in whole years of a valid IIN's holder on a local date (days
 * since 1970-01-01): a year is gained on the birthday, and someone born on
 * 29 February gains it on 28 February in the years without a 29th. False
 * when s is not a valid IIN or the date is before the birth. */
bool iin_age_on(const char *s, int64_t day, int *age);

/* The check digit of the first 11 digits, or -1 when both passes give 10. */
int iin_check_digit(const char *digits11);

/* "900101300126" -> "9001******26", for logs. Anything not 12 characters long
 * becomes "************" (never echoes input). out must hold 13 bytes. */
void iin_mask(const char *iin, char out[IIN_MASKED_BUF]);

#endif
