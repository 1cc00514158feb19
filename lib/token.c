/*
 * Bearer tokens: parsing, SHA-256 hashing and constant-time comparison
 * (OpenSSL libcrypto). Generation, which reads the kernel's CSPRNG, is in
 * token_random.c.
 */
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "hex.h"

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool token_parse_id(const char *token, char token_id[TOKEN_ID_BUF])
{
	if (strlen(token) != 4 + 12 + 1 + 40 || strncmp(token, "cdt_", 4) != 0 || token[16] != '_')
		return false;
	if (!all_hex(token + 4, 12) || !all_hex(token + 17, 40))
		return false;
	memcpy(token_id, token + 4, 12);
	token_id[12] = '\0';
	return true;
}

void token_hash(const char *token, unsigned char out[TOKEN_HASH_LEN])
{
	unsigned int len = TOKEN_HASH_LEN;
	EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL);
}

bool token_hash_equal(const unsigned char *a, const unsigned char *b)
{
	return CRYPTO_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}

bool token_hash_from_bytea_text(const char *s, unsigned char out[TOKEN_HASH_LEN])
{
	if (strncmp(s, "\\x", 2) != 0 || strlen(s) != 2 + 2 * TOKEN_HASH_LEN)
		return false;
	return hex_decode(s + 2, TOKEN_HASH_LEN, out);
}
