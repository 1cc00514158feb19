/*
 * The vocabularies of the project, one name table each, for the daemon,
 * the CLI and the messages that list them ("must be lender, compliance or
 * auditor or registry"): a word is spelled in one place. Pure.
 */
#ifndef CD_NAMES_H
#define CD_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct name_table {
	const char *const *names; /* index: the enum value */
	int count;
};

/* The index of s in t; false when t has no such name. */
bool name_lookup(const struct name_table *t, const char *s, int *index);
/* The name of index, or "unknown". */
const char *name_of(const struct name_table *t, int index);
/* The names joined by sep, the last two by last: ("lender, compliance or
 * auditor" with ", " and " or "; "bank|mfo" with "|" and "|"). Returns out. */
char *names_join(const struct name_table *t, const char *sep, const char *last, char *out,
                 size_t size);

/* A client's role; bits, since a route admits a set of them. The table is
 * by bit position: role_names.names[0] is ROLE_LENDER's. */
enum role {
	ROLE_NONE = 0,
	ROLE_LENDER = 1,
	ROLE_COMPLIANCE = 2,
	ROLE_AUDITOR = 4,
	ROLE_REGISTRY = 8, /* the connector of the voluntary refusal registry */
};
extern const struct name_table role_names;
/* ROLE_NONE for a name that is none. */
enum role role_parse(const char *s);

/* A lender's kind (lenders.kind). */
enum lender_kind { LENDER_BANK, LENDER_MFO };
extern const struct name_table lender_kind_names;

/* The daemon's log, [log] level and format. */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
extern const struct name_table log_level_names;
enum log_format { LOG_FORMAT_JSON, LOG_FORMAT_TEXT };
extern const struct name_table log_format_names;

/* [tls] min_version. */
extern const struct name_table tls_version_names;

#endif
