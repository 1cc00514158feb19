/*
 * New API bearer tokens (cd_runtime: reads the kernel's CSPRNG).
 */
#ifndef CD_TOKEN_RANDOM_H
#define CD_TOKEN_RANDOM_H

#include <stdbool.h>

#include "token.h"

/* A fresh token and its public id; false when the kernel gives no
 * randomness. */
bool token_generate(char token[TOKEN_BUF], char token_id[TOKEN_ID_BUF]);

#endif
