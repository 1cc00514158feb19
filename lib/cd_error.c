/*
 * Errors as values. Every layer fills one struct cd_error and returns false,
 * so the HTTP layer can turn any failure into a 4xx/5xx body without knowing
 * where it came from.
 */
#include "cd_error.h"

#include <stdarg.h>
#include <stdio.h>

void cd_error_clear(struct cd_error *err)
{
	err->status = 0;
	/* "" rather than NULL so that a careless log line never prints "(null)"
	 * or crashes; status == 0 is the test for "no error". */
	err->code = "";
	err->field[0] = '\0';
	err->message[0] = '\0';
	err->reason = REASON_NONE;
}

bool cd_error_set(struct cd_error *err, int status, const char *code, const char *field,
                  const char *fmt, ...)
{
	va_list ap;

	err->status = status;
	err->code = code ? code : "";
	/* Truncation is acceptable: both buffers end up in a response body,
	 * where a clipped text is better than a missing one. */
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->reason = REASON_NONE;
	return false;
}

bool cd_error_state(struct cd_error *err, enum state_reason reason, const char *fmt, ...)
{
	va_list ap;

	err->status = 409;
	err->code = "invalid_state";
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->reason = reason;
	return false;
}

bool cd_error_invalid(struct cd_error *err, const char *field, const char *why)
{
	const char *f = field ? field : "";

	if (f[0] == '\0')
		return cd_error_set(err, 422, "validation_failed", f, "%s", why ? why : "invalid");
	return cd_error_set(err, 422, "validation_failed", f, "%s: %s", f, why ? why : "invalid");
}
