/*
 * The voluntary refusal of credit ("Stop credit", REGULATION.md): a change
 * of one borrower's refusal, the state that a list of changes gives at a
 * moment, and the checks of a change as the API and the bureau's CSV file
 * bring it. Pure.
 *
 * refusal_in_force() is the C twin of the SQL function
 * cd_refusal_active_at() (sql/007_voluntary_refusals.sql), which the loan
 * reads and the payout's guard use; tests/integration/test_refusals.c
 * checks the two on the same changes.
 */
#ifndef CD_REFUSAL_H
#define CD_REFUSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_error.h"
#include "policy.h"

#define REFUSAL_REFERENCE_MAX_CHARS 200
/* 200 characters of up to 4 bytes, and the NUL */
#define REFUSAL_REFERENCE_BUF 801

/* A change as it is reported (PUT /v1/voluntary-refusals/{iin}, a line of
 * the bureau's file). */
struct refusal_req {
	char iin[13];
	bool active;
	int64_t effective_at;
	char source[ID_BUF];
	bool has_reference;
	char reference[REFUSAL_REFERENCE_BUF];
};

/* A change as recorded (its strings point into the database's result). */
struct refusal_change {
	int64_t seq; /* arrival order */
	bool active;
	int64_t effective_at;
	const char *source;
	const char *reference; /* NULL: none */
	int64_t recorded_at;
};

/* The change in force at `now`: the latest by (effective_at, seq) whose
 * effective_at is not after now; -1 when there is none (no change, or every
 * change is still in the future). The changes may come in any order. */
int refusal_in_force(const struct refusal_change *c, size_t n, int64_t now);

/* Whether a refusal is active at now. */
bool refusal_active_at(const struct refusal_change *c, size_t n, int64_t now);

/* The rules of the values, each false with a 422 naming the field. */
bool refusal_source_check(const char *s, const char *field, struct cd_error *err);
bool refusal_reference_check(const char *s, const char *field, struct cd_error *err);

/* ---- the bureau's file: RFC 4180 CSV, streamed a byte at a time ---- */

#define CSV_MAX_FIELDS 8
/* bytes kept of one field; a longer one is marked too long (no value of a
 * change is longer) */
#define CSV_FIELD_MAX 1024

struct csv_reader {
	char field[CSV_MAX_FIELDS][CSV_FIELD_MAX + 1];
	size_t len[CSV_MAX_FIELDS];
	bool too_long[CSV_MAX_FIELDS];
	int cur;             /* the field being read */
	int nfields;         /* of the record just completed */
	bool quoted;         /* the record had a quote (so an empty line is a record) */
	int state;           /* enum csv_state in refusal.c */
	bool complete;       /* a record was returned: the next byte starts a new one */
	bool any;            /* the current record has a byte */
	int64_t line;        /* the physical line being read, 1-based */
	int64_t record_line; /* where the record began */
	const char *fault;   /* the record is not well-formed CSV: why */
	int fault_field;     /* ... in which field */
	int64_t records;     /* records returned so far */
};

void csv_init(struct csv_reader *r);
/* Feeds one byte; true when it completed a record (then r->field[0 ..
 * nfields-1] hold it, NUL-terminated, and r->record_line its first line).
 * Empty lines are no record. */
bool csv_push(struct csv_reader *r, char c);
/* At the end of input: true when a last record without a line end remains
 * (an unterminated quote is its fault). */
bool csv_end(struct csv_reader *r);

/* The header of the file: exactly iin,active,effective_at,source,reference. */
#define REFUSAL_CSV_HEADER "iin,active,effective_at,source,reference"
bool refusal_csv_header_check(const struct csv_reader *r, struct cd_error *err);
/* Whether the record is exactly these n names (after a UTF-8 byte order
 * mark), well-formed. */
bool csv_header_is(const struct csv_reader *r, const char *const *names, int n);
/* Whether a record of a file of the n columns names (header: their line,
 * for messages) is whole: no fault, n fields, none too long; else a 422
 * naming the column. */
bool csv_record_fits(const struct csv_reader *r, const char *const *names, int n,
                     const char *header, struct cd_error *err);

/* The fields of a change (active, effective_at, source, reference; an
 * empty reference is none) into q; false with err naming the field. Shared
 * by the files of every registry. */
bool refusal_csv_change(const char *const f[4], struct refusal_req *q, struct cd_error *err);

/* A record of the file as a change: every field checked, the IIN against
 * today's local date (days since 1970-01-01) too; false with err naming the
 * field (iin, active, effective_at, source, reference). */
bool refusal_csv_record(const struct csv_reader *r, int64_t today_days, struct refusal_req *q,
                        struct cd_error *err);

#endif
