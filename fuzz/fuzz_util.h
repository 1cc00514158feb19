/*
 * Shared helpers of the libFuzzer targets: a check that aborts with a
 * message (so that libFuzzer keeps the input as a crash), and the input as a
 * C string in a heap block of exactly the right size, so that ASan sees any
 * read past its NUL.
 */
#ifndef CD_FUZZ_UTIL_H
#define CD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "\nfuzz check failed at %s:%d: %s\n  ", __FILE__,          \
			        __LINE__, #cond);                                                  \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input up to its first NUL (or all of it), NUL-terminated, in a block of
 * exactly strlen + 1 bytes. Never NULL. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* True when s (at most size bytes) holds a NUL. */
static inline int fuzz_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#endif
