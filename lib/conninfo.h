/*
 * A database connection string as libpq reads it (PQconninfoParse), for
 * showing it without its password and for finding the password to scrub
 * from messages. One parser for both forms, the URL and key=value, so that
 * what is masked is exactly what libpq would send as the password.
 */
#ifndef CD_CONNINFO_H
#define CD_CONNINFO_H

#include <stdbool.h>
#include <stddef.h>

/* in in libpq's key=value form, each option given in in once, the password
 * "***": "postgresql://u:pw@h/db" gives "user=u password=*** host=h
 * dbname=db". A string that libpq cannot parse gives a fixed text that
 * quotes nothing of it. Always terminates out (out_size > 0). */
void conninfo_mask(const char *in, char *out, size_t out_size);

/* The password of in, or "" when it has none; false (why set, quoting
 * nothing of in) when in is not a connection string libpq understands. */
bool conninfo_password(const char *in, char *pw, size_t pw_size, char *why, size_t why_size);

#endif
