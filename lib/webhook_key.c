/*
 * The webhook secrets' key file and fresh randomness (webhook_key.h).
 */
#include "webhook_key.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "hex.h"

bool webhook_key_load(const char *path, unsigned char key[WEBHOOK_KEY_LEN], char *msg,
                      size_t msg_size)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(msg, msg_size, "%s: %s", path, strerror(errno));
		return false;
	}
	struct stat st;
	char text[WEBHOOK_KEY_LEN * 2 + 8] = "";
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	bool mode_ok = fstat(fileno(f), &st) == 0 && (st.st_mode & 077) == 0;
	fclose(f);
	if (!mode_ok) {
		snprintf(msg, msg_size, "%s: readable by group or others (chmod 600)", path);
		return false;
	}
	text[n] = '\0';
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	for (size_t i = 0; i < WEBHOOK_KEY_LEN && n == WEBHOOK_KEY_LEN * 2; i++) {
		int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			break;
		key[i] = (unsigned char)(hi * 16 + lo);
		if (i == WEBHOOK_KEY_LEN - 1)
			return true;
	}
	snprintf(msg, msg_size,
	         "%s: not a key (64 hex characters; make one with "
	         "openssl rand -hex 32)",
	         path);
	return false;
}

bool webhook_secret_generate(char secret[WEBHOOK_SECRET_BUF])
{
	unsigned char raw[WEBHOOK_SECRET_LEN / 2];
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return false;
	hex_encode(raw, sizeof(raw), secret);
	return true;
}

bool webhook_nonce_generate(unsigned char nonce[WEBHOOK_NONCE_LEN])
{
	return getrandom(nonce, WEBHOOK_NONCE_LEN, 0) == WEBHOOK_NONCE_LEN;
}
