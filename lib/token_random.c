/*
 * New bearer tokens and request ids from the kernel's CSPRNG (getrandom). Apart from
 * token.c, whose functions are pure, because every call reads the kernel.
 */
#include "token_random.h"

#include <stdio.h>
#include <sys/random.h>

#include "hex.h"

/* 2 * nbytes hex digits of randomness. */
static bool random_hex(char *out, size_t nbytes)
{
	unsigned char raw[32];
	if (nbytes > sizeof(raw))
		return false;
	if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes)
		return false;
	hex_encode(raw, nbytes, out);
	return true;
}

bool token_generate(char token[TOKEN_BUF], char token_id[TOKEN_ID_BUF])
{
	char id[13], secret[41];
	if (!random_hex(id, 6) || !random_hex(secret, 20))
		return false;
	snprintf(token_id, TOKEN_ID_BUF, "%s", id);
	snprintf(token, TOKEN_BUF, "cdt_%s_%s", id, secret);
	return true;
}

bool request_id_generate(char out[REQUEST_ID_BUF])
{
	_Static_assert(REQUEST_ID_BUF > 32, "32 hex digits and the NUL");
	return random_hex(out, 16);
}
