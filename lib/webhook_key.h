/*
 * The runtime side of webhooks (cd_runtime): the key that seals the
 * endpoints' secrets at rest, read from the file that [webhooks]
 * secret_key names, and fresh secrets and nonces from the kernel's CSPRNG.
 */
#ifndef CD_WEBHOOK_KEY_H
#define CD_WEBHOOK_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "webhook.h"

/* Reads the key file: 32 bytes as 64 hex characters (a trailing newline
 * allowed), the file not readable by group or others. False with msg
 * naming why. */
bool webhook_key_load(const char *path, unsigned char key[WEBHOOK_KEY_LEN], char *msg,
                      size_t msg_size);

/* A new secret's text (32 random bytes as 64 lowercase hex). */
bool webhook_secret_generate(char secret[WEBHOOK_SECRET_BUF]);

/* A fresh nonce for webhook_secret_seal(). */
bool webhook_nonce_generate(unsigned char nonce[WEBHOOK_NONCE_LEN]);

#endif
