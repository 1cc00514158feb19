/*
 * Ed25519 checkpoints of the audit chain: the canonical message, signing,
 * verifying, and the key files (audit_sign.h).
 */
#include "audit_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"

size_t audit_checkpoint_message(int64_t seq, const unsigned char hash[AUDIT_HASH_LEN],
                                int64_t signed_at_us, const char *key_id,
                                char out[AUDIT_CHECKPOINT_MSG_MAX])
{
	char hex[AUDIT_HASH_HEX_BUF];
	audit_hash_hex(hash, hex);
	int n = snprintf(out, AUDIT_CHECKPOINT_MSG_MAX,
	                 AUDIT_CHECKPOINT_MAGIC "%" PRId64 "\n%s\n%" PRId64 "\n%.64s\n", seq, hex,
	                 signed_at_us, key_id);
	return n < 0 ? 0 : (size_t)n;
}

/* The last OpenSSL error as text, for a message. */
static const char *ssl_error(void)
{
	static _Thread_local char buf[160];
	unsigned long e = ERR_get_error();
	if (e == 0)
		return "unknown OpenSSL error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Refuses to prompt for a passphrase: the daemon has no one to ask. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static bool set_key_id(struct audit_key *k)
{
	unsigned char raw[32], digest[EVP_MAX_MD_SIZE];
	size_t len = sizeof(raw);
	unsigned int dlen = 0;
	if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &len) != 1 || len != sizeof(raw) ||
	    EVP_Digest(raw, len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		return false;
	hex_encode(digest, 32, k->id);
	return true;
}

bool audit_key_load_private(struct audit_key *k, const char *path, char *msg, size_t msg_size)
{
	k->pkey = NULL;
	k->id[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	struct stat st;
	const char *why = NULL;
	char why_buf[128];
	if (fstat(fd, &st) != 0) {
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
	} else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(why_buf, sizeof(why_buf),
		         "mode %04o lets group or others at the private key; it must be 0600 or "
		         "0400",
		         (unsigned)(st.st_mode & 07777));
		why = why_buf;
	} else if (st.st_uid != geteuid()) {
		snprintf(why_buf, sizeof(why_buf),
		         "owned by uid %u, not by the daemon's user (uid %u)", (unsigned)st.st_uid,
		         (unsigned)geteuid());
		why = why_buf;
	}
	if (why != NULL) {
		close(fd);
		snprintf(msg, msg_size, "%s: %s", path, why);
		return false;
	}
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	ERR_clear_error();
	k->pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (k->pkey == NULL) {
		snprintf(msg, msg_size, "%s: not an unencrypted PEM private key (%s)", path,
		         ssl_error());
		return false;
	}
	if (!EVP_PKEY_is_a(k->pkey, "ED25519")) {
		snprintf(msg, msg_size, "%s: not an Ed25519 key (it is %s)", path,
		         EVP_PKEY_get0_type_name(k->pkey));
		audit_key_free(k);
		return false;
	}
	if (!set_key_id(k)) {
		snprintf(msg, msg_size, "%s: cannot read the public half (%s)", path, ssl_error());
		audit_key_free(k);
		return false;
	}
	return true;
}

bool audit_keyring_load(const char *path, struct audit_key *keys, int max, int *n, char *msg,
                        size_t msg_size)
{
	*n = 0;
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	bool ok = true;
	for (;;) {
		/* blanks after the last key are the end, not another key */
		int ch;
		while ((ch = getc(f)) == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			;
		if (ch == EOF)
			break;
		ungetc(ch, f);
		ERR_clear_error();
		EVP_PKEY *p = PEM_read_PUBKEY(f, NULL, no_passphrase, NULL);
		if (p == NULL) {
			snprintf(msg, msg_size, "%s: key %d is not a PEM public key (%s)", path,
			         *n + 1, ssl_error());
			ok = false;
			break;
		}
		if (!EVP_PKEY_is_a(p, "ED25519")) {
			snprintf(msg, msg_size, "%s: key %d is not an Ed25519 key (it is %s)", path,
			         *n + 1, EVP_PKEY_get0_type_name(p));
			EVP_PKEY_free(p);
			ok = false;
			break;
		}
		if (*n == max) {
			snprintf(msg, msg_size, "%s: more than %d public keys", path, max);
			EVP_PKEY_free(p);
			ok = false;
			break;
		}
		keys[*n].pkey = p;
		if (!set_key_id(&keys[*n])) {
			snprintf(msg, msg_size, "%s: cannot read key %d (%s)", path, *n + 1,
			         ssl_error());
			EVP_PKEY_free(p);
			ok = false;
			break;
		}
		(*n)++;
	}
	fclose(f);
	if (ok && *n == 0) {
		snprintf(msg, msg_size, "%s: holds no PEM public key", path);
		ok = false;
	}
	if (!ok) {
		for (int i = 0; i < *n; i++)
			audit_key_free(&keys[i]);
		*n = 0;
	}
	return ok;
}

void audit_key_free(struct audit_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

bool audit_checkpoint_sign(const struct audit_key *k, int64_t seq,
                           const unsigned char hash[AUDIT_HASH_LEN], int64_t signed_at_us,
                           unsigned char sig[AUDIT_SIG_LEN])
{
	char m[AUDIT_CHECKPOINT_MSG_MAX];
	size_t mlen = audit_checkpoint_message(seq, hash, signed_at_us, k->id, m);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = AUDIT_SIG_LEN;
	/* Ed25519 hashes the message itself: no digest is named */
	bool ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	          EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)m, mlen) == 1 &&
	          slen == AUDIT_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

bool audit_checkpoint_verify(const struct audit_key *k, int64_t seq,
                             const unsigned char hash[AUDIT_HASH_LEN], int64_t signed_at_us,
                             const unsigned char sig[AUDIT_SIG_LEN])
{
	char m[AUDIT_CHECKPOINT_MSG_MAX];
	size_t mlen = audit_checkpoint_message(seq, hash, signed_at_us, k->id, m);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	          EVP_DigestVerify(ctx, sig, AUDIT_SIG_LEN, (const unsigned char *)m, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* Writes a PEM file that must not exist yet, with mode, synced. */
static bool write_pem(const char *path, mode_t mode, EVP_PKEY *p, bool private_key, char *msg,
                      size_t msg_size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	bool ok = fchmod(fd, mode) == 0 &&
	          (private_key ? PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL)
	                       : PEM_write_PUBKEY(f, p)) == 1 &&
	          fflush(f) == 0 && fsync(fd) == 0;
	int e = errno;
	if (fclose(f) != 0)
		ok = false;
	if (!ok) {
		unlink(path);
		snprintf(msg, msg_size, "%s: cannot write: %s", path,
		         e ? strerror(e) : ssl_error());
	}
	return ok;
}

bool audit_keygen(const char *path, char key_id[AUDIT_KEY_ID_BUF], char *msg, size_t msg_size)
{
	char pub[4096];
	if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub)) {
		snprintf(msg, msg_size, "%s: the path is too long", path);
		return false;
	}
	struct audit_key k = {0};
	k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k.pkey == NULL || !set_key_id(&k)) {
		snprintf(msg, msg_size, "cannot make an Ed25519 key: %s", ssl_error());
		audit_key_free(&k);
		return false;
	}
	bool ok = write_pem(path, 0600, k.pkey, true, msg, msg_size);
	if (ok && !write_pem(pub, 0644, k.pkey, false, msg, msg_size)) {
		unlink(path);
		ok = false;
	}
	if (ok)
		snprintf(key_id, AUDIT_KEY_ID_BUF, "%s", k.id);
	audit_key_free(&k);
	return ok;
}
