/*
 * Hexadecimal text of bytes (see hex.h).
 */
#include "hex.h"

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

bool hex_decode(const char *s, size_t nbytes, unsigned char *out)
{
	for (size_t i = 0; i < nbytes; i++) {
		/* a NUL is no digit, so a short s stops here, unread beyond */
		int hi = hex_value(s[2 * i]);
		int lo = hi < 0 ? -1 : hex_value(s[2 * i + 1]);
		if (lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return s[2 * nbytes] == '\0';
}
