/*
 * The audit chain's hash in C (see audit_hash.h): the twin of
 * cd_audit_canonical() and the sha256() step of cd_audit_seal().
 */
#include "audit_hash.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"

static void hash_put(EVP_MD_CTX *md, const char *s)
{
	EVP_DigestUpdate(md, s, strlen(s));
}

void audit_hash_next(const unsigned char prev[AUDIT_HASH_LEN], int64_t seq, int64_t at_us,
                     const char *actor, const char *lender, const char *loan, const char *type,
                     const char *detail_json, unsigned char out[AUDIT_HASH_LEN])
{
	/* The integers exactly as bigint::text writes them: plain decimal. */
	char num[48];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	/* Allocation of a digest context only fails when memory is gone;
	 * then no hash can match, which verify reports as a broken chain
	 * rather than crashing. */
	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		memset(out, 0xff, AUDIT_HASH_LEN);
		EVP_MD_CTX_free(md);
		return;
	}
	EVP_DigestUpdate(md, prev, AUDIT_HASH_LEN);
	snprintf(num, sizeof(num), "%" PRId64 "\n%" PRId64 "\n", seq, at_us);
	hash_put(md, num);
	hash_put(md, actor);
	hash_put(md, "\n");
	/* coalesce(lender, '') and coalesce(loan, '') */
	hash_put(md, lender ? lender : "");
	hash_put(md, "\n");
	hash_put(md, loan ? loan : "");
	hash_put(md, "\n");
	hash_put(md, type);
	hash_put(md, "\n");
	hash_put(md, detail_json);
	unsigned int len = 0;
	EVP_DigestFinal_ex(md, out, &len);
	EVP_MD_CTX_free(md);
}

void audit_hash_hex(const unsigned char h[AUDIT_HASH_LEN], char out[AUDIT_HASH_HEX_BUF])
{
	hex_encode(h, AUDIT_HASH_LEN, out);
}

bool audit_hash_from_hex(const char *hex, unsigned char out[AUDIT_HASH_LEN])
{
	return hex_decode(hex, AUDIT_HASH_LEN, out);
}
