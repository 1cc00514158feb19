/*
 * Signed checkpoints of the audit chain (docs/audit.md, "Checkpoints"):
 * Ed25519 through OpenSSL 3. coolingd signs the chain's head with the
 * private key of [audit] signing_key; coolingctl verifies with public keys
 * that the auditors keep outside the database.
 *
 * The signed message is a canonical ASCII byte string, each line ending in
 * "\n":
 *
 *   coolingd audit checkpoint v1
 *   <seq, decimal>
 *   <the chain hash at seq, 64 lower-case hex digits>
 *   <signed_at, microseconds since 1970-01-01T00:00:00Z, decimal>
 *   <key id, 64 lower-case hex digits>
 *
 * The key id is the SHA-256 of the raw 32-byte Ed25519 public key, in
 * lower-case hex.
 */
#ifndef CD_AUDIT_SIGN_H
#define CD_AUDIT_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_hash.h"

#define AUDIT_SIG_LEN 64
/* 128 hex digits and the NUL */
#define AUDIT_SIG_HEX_BUF 129
#define AUDIT_KEY_ID_BUF  65
/* The longest message: the header, two int64 and two hex lines. */
#define AUDIT_CHECKPOINT_MSG_MAX 192
#define AUDIT_CHECKPOINT_MAGIC   "coolingd audit checkpoint v1\n"

struct evp_pkey_st;

struct audit_key {
	struct evp_pkey_st *pkey; /* NULL: no key */
	char id[AUDIT_KEY_ID_BUF];
};

/* The bytes that are signed (see above), without a NUL; returns their
 * length. */
size_t audit_checkpoint_message(int64_t seq, const unsigned char hash[AUDIT_HASH_LEN],
                                int64_t signed_at_us, const char *key_id,
                                char out[AUDIT_CHECKPOINT_MSG_MAX]);

/*
 * Loads an Ed25519 private key (PEM, unencrypted) from path. Refuses a file
 * that is not a regular file, that is not owned by the effective user, or
 * that group or others may read, write or run: only the daemon's user may
 * hold the key. On false, msg says why (without the key).
 */
bool audit_key_load_private(struct audit_key *k, const char *path, char *msg, size_t msg_size);

/* Loads every PEM public key of path (one or more, concatenated: a
 * keyring) into keys[0..max); each must be Ed25519. *n gets how many; false
 * (msg set) when the file cannot be read, holds none, holds more than max or
 * holds another kind of key. */
bool audit_keyring_load(const char *path, struct audit_key *keys, int max, int *n, char *msg,
                        size_t msg_size);

void audit_key_free(struct audit_key *k);

/* Signs the checkpoint (seq, hash, signed_at_us) with k under k's id. */
bool audit_checkpoint_sign(const struct audit_key *k, int64_t seq,
                           const unsigned char hash[AUDIT_HASH_LEN], int64_t signed_at_us,
                           unsigned char sig[AUDIT_SIG_LEN]);

/* True when sig is k's signature of the checkpoint under k's id. */
bool audit_checkpoint_verify(const struct audit_key *k, int64_t seq,
                             const unsigned char hash[AUDIT_HASH_LEN], int64_t signed_at_us,
                             const unsigned char sig[AUDIT_SIG_LEN]);

/* Makes a new key pair: path (the private key, PEM, mode 0600) and
 * path.pub (the public key, PEM, mode 0644). Neither may exist yet. On
 * success key_id gets the new key's id; on false, msg says why and no file
 * is left behind. */
bool audit_keygen(const char *path, char key_id[AUDIT_KEY_ID_BUF], char *msg, size_t msg_size);

#endif
