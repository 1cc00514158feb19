/*
 * API bearer tokens: "cdt_" + 12 hex (the public id that finds the row) +
 * "_" + 40 hex of secret. Only the SHA-256 of the whole token is stored.
 */
#ifndef CD_TOKEN_H
#define CD_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define TOKEN_BUF      64
#define TOKEN_ID_BUF   16
#define TOKEN_HASH_LEN 32

/* Extracts the id of a well-formed token; false for anything else. */
bool token_parse_id(const char *token, char token_id[TOKEN_ID_BUF]);
void token_hash(const char *token, unsigned char out[TOKEN_HASH_LEN]);
/* Constant time, so that response times reveal nothing of the hash. */
bool token_hash_equal(const unsigned char *a, const unsigned char *b);
/* "\\x0a1b..." (PostgreSQL bytea text form) -> 32 bytes. */
bool token_hash_from_bytea_text(const char *s, unsigned char out[TOKEN_HASH_LEN]);

#endif
