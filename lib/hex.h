/*
 * Hexadecimal text of bytes, for hashes and tokens: written in lower case,
 * read in either case.
 */
#ifndef CD_HEX_H
#define CD_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* The value of one hex digit (either case), -1 for any other byte. */
int hex_value(char c);

/* Writes the 2 * n lower-case hex digits of p[0..n) and a NUL to out, which
 * holds at least 2 * n + 1 bytes. */
void hex_encode(const void *p, size_t n, char *out);

/* Reads exactly 2 * nbytes hex digits (either case) from s into out; false
 * when s holds anything else, fewer digits or more. out may be partly
 * written then. */
bool hex_decode(const char *s, size_t nbytes, unsigned char *out);

#endif
