/*
 * Connection strings through libpq's own parser (lib/conninfo.h).
 */
#include "conninfo.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* Appends s to out at *o, never past out_size - 1. */
static void put(char *out, size_t out_size, size_t *o, const char *s)
{
	for (; *s != '\0' && *o + 1 < out_size; s++)
		out[(*o)++] = *s;
	out[*o] = '\0';
}

/* A value as libpq's key=value form reads it back: quoted when empty or
 * when it holds a space, a quote or a backslash. */
static void put_value(char *out, size_t out_size, size_t *o, const char *v)
{
	if (v[0] != '\0' && strpbrk(v, " \t\n\r\f\v'\\") == NULL) {
		put(out, out_size, o, v);
		return;
	}
	put(out, out_size, o, "'");
	for (; *v != '\0'; v++) {
		char c[3] = {'\\', *v, '\0'};
		put(out, out_size, o, *v == '\'' || *v == '\\' ? c : c + 1);
	}
	put(out, out_size, o, "'");
}

void conninfo_mask(const char *in, char *out, size_t out_size)
{
	if (out_size == 0)
		return;
	out[0] = '\0';
	PQconninfoOption *opts = PQconninfoParse(in, NULL);
	if (opts == NULL) {
		snprintf(out, out_size, "(not a libpq connection string)");
		return;
	}
	size_t o = 0;
	for (PQconninfoOption *opt = opts; opt->keyword != NULL; opt++) {
		if (opt->val == NULL)
			continue;
		put(out, out_size, &o, o > 0 ? " " : "");
		put(out, out_size, &o, opt->keyword);
		put(out, out_size, &o, "=");
		if (strcmp(opt->keyword, "password") == 0)
			put(out, out_size, &o, "***");
		else
			put_value(out, out_size, &o, opt->val);
	}
	PQconninfoFree(opts);
}

/* libpq's complaint about a connection string it cannot parse may quote
 * the offending piece, which may be the password: quoted pieces become
 * "...". */
static void mask_quoted(const char *in, char *out, size_t size)
{
	bool inside = false;
	size_t w = 0;
	if (size == 0)
		return;
	for (const char *r = in; *r && w + 5 < size; r++) {
		if (*r == '"' && !inside && r[1] == '=' && r[2] == '"') {
			/* missing "=" after ...: harmless, and the point */
			memcpy(out + w, "\"=\"", 3);
			w += 3;
			r += 2;
		} else if (*r == '"') {
			if (!inside) {
				memcpy(out + w, "\"...", 4);
				w += 4;
			} else {
				out[w++] = '"';
			}
			inside = !inside;
		} else if (!inside) {
			out[w++] = *r;
		}
	}
	out[w] = '\0';
}

bool conninfo_password(const char *in, char *pw, size_t pw_size, char *why, size_t why_size)
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(in, &errmsg);
	if (pw_size > 0)
		pw[0] = '\0';
	if (opts == NULL) {
		mask_quoted(errmsg != NULL ? errmsg : "out of memory", why, why_size);
		PQfreemem(errmsg);
		return false;
	}
	for (PQconninfoOption *opt = opts; opt->keyword != NULL; opt++)
		if (strcmp(opt->keyword, "password") == 0 && opt->val != NULL)
			snprintf(pw, pw_size, "%s", opt->val);
	PQconninfoFree(opts);
	return true;
}
