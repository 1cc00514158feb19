/*
 * Webhooks (CONTRACT.md v1.2, "The lender's event feed and webhooks"):
 * the pure parts, shared by coolingd (which delivers) and coolingctl
 * (which registers endpoints) and unit-tested alone. The signature of a
 * delivery, the retry delay, the endpoint URL rule, and the sealing of a
 * secret at rest (AES-256-GCM under the [webhooks] secret_key;
 * docs/security.md). No I/O: the nonce and the key are the caller's.
 */
#ifndef CD_WEBHOOK_H
#define CD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A secret is 32 random bytes as 64 lowercase hex characters; the HMAC is
 * keyed with that text. */
#define WEBHOOK_SECRET_LEN 64
#define WEBHOOK_SECRET_BUF (WEBHOOK_SECRET_LEN + 1)
#define WEBHOOK_KEY_LEN    32 /* AES-256 */
#define WEBHOOK_NONCE_LEN  12
#define WEBHOOK_TAG_LEN    16
/* nonce, ciphertext of the secret's text, tag: the column webhook.secret_sealed */
#define WEBHOOK_SEALED_LEN (WEBHOOK_NONCE_LEN + WEBHOOK_SECRET_LEN + WEBHOOK_TAG_LEN)

/* At most this many events in one delivery. */
#define WEBHOOK_BATCH_MAX 100
/* A delivery's answer must come within this, else it is a timeout. */
#define WEBHOOK_TIMEOUT_S 10
/* The retry delay: 1 s after the first failure, doubling, capped. */
#define WEBHOOK_BACKOFF_FIRST_MS 1000
#define WEBHOOK_BACKOFF_MAX_MS   (10 * 60 * 1000)

/* "t=UNIX_SECONDS,v1=HEX" */
#define WEBHOOK_SIGNATURE_BUF 96

/* The Coolingd-Signature header of a body sent at unix second t: HMAC-SHA256
 * keyed with the secret's text over t "." body, in lowercase hex. False
 * when libcrypto fails. */
bool webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_BUF]);

/* The delay before the next attempt after `failures` failures in a row
 * (>= 1): WEBHOOK_BACKOFF_FIRST_MS doubling, at most
 * WEBHOOK_BACKOFF_MAX_MS. */
int64_t webhook_backoff_ms(int64_t failures);

/* An endpoint's URL: https://, or http:// to a loopback address
 * (127.0.0.0/8, [::1], localhost), with a host, at most 2000 characters of
 * printable ASCII. False with *why (a message naming what is wrong). */
bool webhook_url_valid(const char *url, const char **why);

/* A secret's text: 64 lowercase hex characters. */
bool webhook_secret_valid(const char *secret);

/* Seals a secret's text with key and the caller's fresh random nonce into
 * out (WEBHOOK_SEALED_LEN bytes); opens it again, false when the key is
 * not the one that sealed it or the bytes were changed. */
bool webhook_secret_seal(const unsigned char key[WEBHOOK_KEY_LEN],
                         const unsigned char nonce[WEBHOOK_NONCE_LEN], const char *secret,
                         unsigned char out[WEBHOOK_SEALED_LEN]);
bool webhook_secret_open(const unsigned char key[WEBHOOK_KEY_LEN],
                         const unsigned char sealed[WEBHOOK_SEALED_LEN],
                         char secret[WEBHOOK_SECRET_BUF]);

#endif
