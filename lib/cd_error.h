/*
 * Errors as values: a status, a wire code, the offending field and a
 * message that goes straight into the 4xx body.
 */
#ifndef CD_ERROR_H
#define CD_ERROR_H

#include <stdbool.h>

#include "names.h"

struct cd_error {
	int status;               /* HTTP status, 0 when no error */
	const char *code;         /* wire code: "validation_failed", ... */
	char field[64];           /* offending field, "" when none */
	char message[256];        /* "borrower_iin: bad check digit" */
	enum state_reason reason; /* a 409 invalid_state's; REASON_NONE otherwise */
};

void cd_error_clear(struct cd_error *err);
/* Sets every member; the message is printf-formatted. Returns false so that
 * callers can write `return cd_error_set(...)`. */
bool cd_error_set(struct cd_error *err, int status, const char *code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 409 invalid_state with its reason; the message is printf-formatted.
 * Returns false. */
bool cd_error_state(struct cd_error *err, enum state_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 422 validation_failed, message "FIELD: WHY". */
bool cd_error_invalid(struct cd_error *err, const char *field, const char *why);

#endif
