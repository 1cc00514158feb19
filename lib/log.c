/*
 * The logger. Each line is built in a local buffer and written with one
 * write(2), so that lines from several threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int cur_level = LOG_INFO;
static _Atomic int cur_format = LOG_FORMAT_JSON;

void log_setup(enum log_level level, enum log_format format)
{
	atomic_store(&cur_level, (int)level);
	atomic_store(&cur_format, (int)format);
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&cur_level);
}

struct line {
	char buf[4096];
	size_t len;
};

static void line_put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof(l->buf) - 2)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_str(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

/* JSON string body: escapes quotes, backslashes and control characters. */
static void put_json_escaped(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			line_put(l, e, 2);
		} else if (c < 0x20) {
			char e[8];
			int n = snprintf(e, sizeof(e), "\\u%04x", c);
			line_put(l, e, (size_t)n);
		} else {
			line_put(l, (const char *)&c, 1);
		}
	}
}

size_t log_text_escape(const char *s, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = c > ' ' && c != 0x7f && c != '=' && c != '\\';
		size_t need = plain ? 1 : 4;
		if (o + need >= size)
			break;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	if (size > 0)
		out[o] = '\0';
	return o;
}

/* A text line's value: escaped so that it stays one field (log.h). */
static void put_text_escaped(struct line *l, const char *s)
{
	char e[sizeof(l->buf)];
	size_t n = log_text_escape(s, e, sizeof(e));
	line_put(l, e, n);
}

/* A text line's message: written as it is, but for control characters,
 * which could end the line or drive a terminal. */
static void put_text_msg(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f) {
			char e[8];
			int n = snprintf(e, sizeof(e), "\\x%02x", c);
			line_put(l, e, (size_t)n);
		} else {
			line_put(l, (const char *)&c, 1);
		}
	}
}

static void put_time(struct line *l)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char t[64];
	size_t n = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(t + n, sizeof(t) - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
	line_put(l, t, n);
}

static void emit(enum log_level level, const char *msg, va_list *kv)
{
	struct line l = {.len = 0};
	bool json = atomic_load(&cur_format) == LOG_FORMAT_JSON;
	if (json) {
		put_str(&l, "{\"ts\":\"");
		put_time(&l);
		put_str(&l, "\",\"level\":\"");
		put_str(&l, name_of(&log_level_names, (int)level));
		put_str(&l, "\",\"msg\":\"");
		put_json_escaped(&l, msg);
		put_str(&l, "\"");
	} else {
		put_time(&l);
		put_str(&l, " ");
		put_str(&l, name_of(&log_level_names, (int)level));
		put_str(&l, " ");
		put_text_msg(&l, msg);
	}
	if (kv != NULL) {
		for (;;) {
			const char *k = va_arg(*kv, const char *);
			if (k == NULL)
				break;
			const char *v = va_arg(*kv, const char *);
			if (v == NULL)
				v = "";
			if (json) {
				put_str(&l, ",\"");
				put_json_escaped(&l, k);
				put_str(&l, "\":\"");
				put_json_escaped(&l, v);
				put_str(&l, "\"");
			} else {
				put_str(&l, " ");
				put_str(&l, k);
				put_str(&l, "=");
				put_text_escaped(&l, v);
			}
		}
	}
	if (json)
		put_str(&l, "}");
	l.buf[l.len++] = '\n';
	ssize_t w = write(STDERR_FILENO, l.buf, l.len);
	(void)w;
}

void log_kv(enum log_level level, const char *msg, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, msg);
	emit(level, msg, &ap);
	va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, msg, NULL);
}
