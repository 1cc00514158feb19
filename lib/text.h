/*
 * Small text helpers that the parsers of lib/, cli/ and daemon/ share, so
 * that each rule is written once: digits, identifiers, free text for
 * people. Pure.
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

/* 1-64 characters of A-Z a-z 0-9 . _ : -, but not "." or ".." */
bool id_valid(const char *s);
/* "." or "..": refused as identifiers (id_valid() is false for them). */
bool id_is_dot_segment(const char *s);

/* A request id: the client's X-Request-Id is taken when it is 1-64
 * characters of A-Z a-z 0-9 . _ : - (CONTRACT.md v1.2; "." and ".." too:
 * it is never a path segment); false for NULL. */
#define REQUEST_ID_BUF 65
bool request_id_valid(const char *s);

/* True when s (UTF-8) holds nothing but white space (or nothing at all). */
bool text_blank(const char *s);

/* The rule text_valid() found broken; each caller words its own message. */
enum text_fault {
	TEXT_NOT_UTF8, /* not well-formed UTF-8 */
	TEXT_LENGTH,   /* no character, or more than max_chars */
	TEXT_CONTROL,  /* a C0 control, DEL or a C1 control (U+0080-U+009F) */
};

/* Free text for people (a lender's display name, a cancellation reason):
 * 1-max_chars characters (code points) of UTF-8 without control
 * characters. On false, *fault is the first rule broken, in the order of
 * enum text_fault. */
bool text_valid(const char *s, size_t max_chars, enum text_fault *fault);

#endif
