/*
 * New API bearer tokens and request ids (cd_runtime: reads the kernel's
 * CSPRNG).
 */
#ifndef CD_TOKEN_RANDOM_H
#define CD_TOKEN_RANDOM_H

#include <stdbool.h>

#include "text.h"
#include "token.h"

/* A fresh token and its public id; false when the kernel gives no
 * randomness. */
bool token_generate(char token[TOKEN_BUF], char token_id[TOKEN_ID_BUF]);

/* A fresh request id: 128 random bits as 32 lowercase hex digits, unique
 * across daemons and restarts without any coordination (docs/api.md);
 * false when the kernel gives no randomness. */
bool request_id_generate(char out[REQUEST_ID_BUF]);

#endif
