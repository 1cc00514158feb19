/*
 * The hash chain of the audit trail, computed in C: the same bytes and the
 * same SHA-256 as cd_audit_canonical() and cd_audit_seal() in
 * sql/002_audit_chain.sql, so that `coolingctl audit verify` checks the
 * chain without trusting any SQL function of the database it checks.
 */
#ifndef CD_AUDIT_HASH_H
#define CD_AUDIT_HASH_H

#include <stdbool.h>
#include <stdint.h>

#define AUDIT_HASH_LEN 32
/* 64 hex digits and the NUL */
#define AUDIT_HASH_HEX_BUF 65

/*
 * out = SHA-256(prev || canonical), where canonical is the UTF-8 text
 *   seq \n at_us \n actor \n lender \n loan \n type \n detail_json
 * with the integers in decimal (a '-' for negatives, as PostgreSQL's
 * bigint::text), a NULL lender or loan as the empty string, and detail_json
 * exactly as jsonb::text renders it. The first event's prev is 32 zero
 * bytes. Pure: no allocation beyond OpenSSL's digest context.
 */
void audit_hash_next(const unsigned char prev[AUDIT_HASH_LEN], int64_t seq, int64_t at_us,
                     const char *actor, const char *lender, const char *loan, const char *type,
                     const char *detail_json, unsigned char out[AUDIT_HASH_LEN]);

/* Lower-case hex of a hash. */
void audit_hash_hex(const unsigned char h[AUDIT_HASH_LEN], char out[AUDIT_HASH_HEX_BUF]);

/* Parses 64 hex digits (either case); false on anything else. */
bool audit_hash_from_hex(const char *hex, unsigned char out[AUDIT_HASH_LEN]);

#endif
