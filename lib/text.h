/*
 * Small text helpers that the parsers of lib/, cli/ and daemon/ share, so
 * that each rule is written once. Pure.
 */
#ifndef CD_TEXT_H
#define CD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An ASCII digit; unlike isdigit(), never a locale's other digits and no
 * cast needed for a negative char. */
static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* For parsers that explain a refusal in *why: sets it (when why is not
 * NULL) and returns false, so that `return why_fail(why, "...")` reads as
 * one step. */
static inline bool why_fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return false;
}

/* A whole number of ASCII digits only (no sign, no space, not empty) that
 * fits an int64_t; false for anything else. */
bool int_parse(const char *s, int64_t *out);

#endif
