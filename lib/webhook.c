/*
 * The pure parts of webhooks: signature, backoff, URL rule, the secret
 * sealed at rest (webhook.h).
 */
#include "webhook.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hex.h"

bool webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_BUF])
{
	char ts[24];
	int tn = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	bool ok = false;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	size_t outl = 0;
	if (c != NULL &&
	    EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret), params) == 1 &&
	    EVP_MAC_update(c, (const unsigned char *)ts, (size_t)tn) == 1 &&
	    EVP_MAC_update(c, (const unsigned char *)body, len) == 1 &&
	    EVP_MAC_final(c, mac, &outl, sizeof(mac)) == 1 && outl == 32)
		ok = true;
	mac_len = (unsigned int)outl;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	if (!ok)
		return false;
	char hex[65];
	hex_encode(mac, mac_len, hex);
	snprintf(out, WEBHOOK_SIGNATURE_BUF, "t=%lld,v1=%s", (long long)t, hex);
	return true;
}

int64_t webhook_backoff_ms(int64_t failures)
{
	if (failures < 1)
		return 0;
	int64_t d = WEBHOOK_BACKOFF_FIRST_MS;
	for (int64_t i = 1; i < failures && d < WEBHOOK_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d < WEBHOOK_BACKOFF_MAX_MS ? d : WEBHOOK_BACKOFF_MAX_MS;
}

/* The host of an authority (after "scheme://"): into host, without port,
 * brackets kept for IPv6. */
static bool url_host(const char *auth, char *host, size_t size)
{
	size_t n = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', n);
	if (at != NULL)
		return false; /* credentials in a URL would end up in logs */
	size_t hl;
	if (auth[0] == '[') {
		const char *close = memchr(auth, ']', n);
		if (close == NULL)
			return false;
		hl = (size_t)(close - auth) + 1;
	} else {
		hl = strcspn(auth, ":/?#");
	}
	if (hl == 0 || hl >= size)
		return false;
	memcpy(host, auth, hl);
	host[hl] = '\0';
	return true;
}

static bool host_is_loopback(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	unsigned a, b, c, d;
	char rest;
	return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &rest) == 4 && a == 127 && b < 256 &&
	       c < 256 && d < 256;
}

bool webhook_url_valid(const char *url, const char **why)
{
	size_t len = strlen(url);
	if (len == 0 || len > 2000) {
		*why = "the URL must be 1-2000 characters";
		return false;
	}
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			*why = "the URL holds a space, a control or a non-ASCII character";
			return false;
		}
	}
	bool https = strncasecmp(url, "https://", 8) == 0;
	bool http = strncasecmp(url, "http://", 7) == 0;
	if (!https && !http) {
		*why = "the URL must begin with https:// (or http:// to a loopback address)";
		return false;
	}
	char host[256];
	if (!url_host(url + (https ? 8 : 7), host, sizeof(host))) {
		*why = "the URL has no host (or holds user:password@, which is not allowed)";
		return false;
	}
	if (http && !host_is_loopback(host)) {
		*why = "the URL must be https:// unless it is http:// to a loopback address "
		       "(127.0.0.1, [::1], localhost)";
		return false;
	}
	return true;
}

bool webhook_secret_valid(const char *secret)
{
	if (strlen(secret) != WEBHOOK_SECRET_LEN)
		return false;
	for (const char *p = secret; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool webhook_secret_seal(const unsigned char key[WEBHOOK_KEY_LEN],
                         const unsigned char nonce[WEBHOOK_NONCE_LEN], const char *secret,
                         unsigned char out[WEBHOOK_SEALED_LEN])
{
	if (!webhook_secret_valid(secret))
		return false;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	memcpy(out, nonce, WEBHOOK_NONCE_LEN);
	bool ok = c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
	          EVP_EncryptUpdate(c, out + WEBHOOK_NONCE_LEN, &n, (const unsigned char *)secret,
	                            WEBHOOK_SECRET_LEN) == 1 &&
	          n == WEBHOOK_SECRET_LEN &&
	          EVP_EncryptFinal_ex(c, out + WEBHOOK_NONCE_LEN + n, &fin) == 1 && fin == 0 &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, WEBHOOK_TAG_LEN,
	                              out + WEBHOOK_NONCE_LEN + WEBHOOK_SECRET_LEN) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

bool webhook_secret_open(const unsigned char key[WEBHOOK_KEY_LEN],
                         const unsigned char sealed[WEBHOOK_SEALED_LEN],
                         char secret[WEBHOOK_SECRET_BUF])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	unsigned char tag[WEBHOOK_TAG_LEN];
	memcpy(tag, sealed + WEBHOOK_NONCE_LEN + WEBHOOK_SECRET_LEN, sizeof(tag));
	bool ok = c != NULL && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
	          EVP_DecryptUpdate(c, (unsigned char *)secret, &n, sealed + WEBHOOK_NONCE_LEN,
	                            WEBHOOK_SECRET_LEN) == 1 &&
	          n == WEBHOOK_SECRET_LEN &&
	          EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, WEBHOOK_TAG_LEN, tag) == 1 &&
	          EVP_DecryptFinal_ex(c, (unsigned char *)secret + n, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	secret[ok ? WEBHOOK_SECRET_LEN : 0] = '\0';
	return ok && webhook_secret_valid(secret);
}
