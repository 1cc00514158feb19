/*
 * The logger. Each line is written with one system call, so that lines from
 * several threads never interleave. A JSON line is built by jansson, so it
 * is valid JSON whatever bytes a value holds and however long it is. Under
 * journald, every line starts with its syslog priority (sd-daemon(3)), so
 * that `journalctl -p err` finds the errors.
 */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static _Atomic int cur_level = LOG_INFO;
static _Atomic int cur_format = LOG_FORMAT_JSON;
static _Atomic bool cur_journal = false;

/* stderr is the journal when it is the stream that systemd names in
 * JOURNAL_STREAM ("device:inode"), not merely when the variable is set: a
 * child whose stderr was redirected inherits the variable too. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char end;
	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return false;
	struct stat st;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_level level, enum log_format format)
{
	atomic_store(&cur_level, (int)level);
	atomic_store(&cur_format, (int)format);
	atomic_store(&cur_journal, stderr_is_journal());
}

bool log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&cur_level);
}

const char *log_priority_prefix(enum log_level level)
{
	switch (level) {
	case LOG_ERROR:
		return "<3>";
	case LOG_WARN:
		return "<4>";
	case LOG_INFO:
		return "<6>";
	case LOG_DEBUG:
		break;
	}
	return "<7>";
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

/* Now in UTC with milliseconds, e.g. 2026-11-29T10:00:00.123Z. */
static void format_time(char *t, size_t size)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(t, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(t + n, size - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

/* Longest value a JSON line carries, in bytes; a longer one is cut at a
 * character's end. */
enum { LOG_VALUE_MAX = 16384 };

/* s as valid UTF-8 (every byte that is not part of a valid sequence becomes
 * U+FFFD), at most LOG_VALUE_MAX bytes: jansson refuses invalid UTF-8, and a
 * line must keep whatever part of a value is readable. */
static json_t *json_text(const char *s)
{
	size_t len = strlen(s);
	if (len <= LOG_VALUE_MAX) {
		json_t *j = json_stringn(s, len);
		if (j != NULL)
			return j;
	}
	char *out = malloc(len * 3 < LOG_VALUE_MAX ? len * 3 + 1 : LOG_VALUE_MAX + 1);
	if (out == NULL)
		return json_string("");
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80                 ? 1
		           : c >= 0xc2 && c <= 0xdf ? 2
		           : c >= 0xe0 && c <= 0xef ? 3
		           : c >= 0xf0 && c <= 0xf4 ? 4
		                                    : 0;
		bool ok = n > 0 && i + n <= len;
		for (size_t k = 1; ok && k < n; k++)
			ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
		/* no overlong forms, no surrogates, nothing above U+10FFFF */
		if (ok && n == 3)
			ok = !(c == 0xe0 && (unsigned char)s[i + 1] < 0xa0) &&
			     !(c == 0xed && (unsigned char)s[i + 1] >= 0xa0);
		if (ok && n == 4)
			ok = !(c == 0xf0 && (unsigned char)s[i + 1] < 0x90) &&
			     !(c == 0xf4 && (unsigned char)s[i + 1] >= 0x90);
		const char *piece = ok ? s + i : "\xef\xbf\xbd";
		size_t plen = ok ? n : 3;
		if (o + plen > LOG_VALUE_MAX)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
		i += ok ? n : 1;
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

/* The JSON line without its newline, or NULL when memory ran out. */
static char *json_line(enum log_level level, const char *msg, va_list *kv)
{
	char ts[64];
	format_time(ts, sizeof(ts));
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(name_of(&log_level_names, (int)level)));
	json_object_set_new(o, "msg", json_text(msg));
	while (kv != NULL) {
		const char *k = va_arg(*kv, const char *);
		if (k == NULL)
			break;
		const char *v = va_arg(*kv, const char *);
		json_t *key = json_text(k);
		if (key != NULL)
			json_object_set_new(o, json_string_value(key),
			                    json_text(v != NULL ? v : ""));
		json_decref(key);
	}
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return line;
}

static void write_line(enum log_level level, const char *body, size_t len)
{
	const char *prefix = atomic_load(&cur_journal) ? log_priority_prefix(level) : "";
	struct iovec iov[3] = {
	    {.iov_base = (void *)prefix, .iov_len = strlen(prefix)},
	    {.iov_base = (void *)body, .iov_len = len},
	    {.iov_base = "\n", .iov_len = 1},
	};
	ssize_t w = writev(STDERR_FILENO, iov, 3);
	(void)w;
}

static void emit(enum log_level level, const char *msg, va_list *kv)
{
	if (atomic_load(&cur_format) == LOG_FORMAT_JSON) {
		char *line = json_line(level, msg, kv);
		if (line == NULL) {
			static const char lost[] =
			    "{\"level\":\"error\",\"msg\":\"log line lost: out of memory\"}";
			write_line(LOG_ERROR, lost, sizeof(lost) - 1);
			return;
		}
		write_line(level, line, strlen(line));
		free(line);
		return;
	}
	struct line l = {.len = 0};
	char ts[64];
	format_time(ts, sizeof(ts));
	put_str(&l, ts);
	put_str(&l, " ");
	put_str(&l, name_of(&log_level_names, (int)level));
	put_str(&l, " ");
	put_text_msg(&l, msg);
	while (kv != NULL) {
		const char *k = va_arg(*kv, const char *);
		if (k == NULL)
			break;
		const char *v = va_arg(*kv, const char *);
		put_str(&l, " ");
		put_str(&l, k);
		put_str(&l, "=");
		put_text_escaped(&l, v != NULL ? v : "");
	}
	write_line(level, l.buf, l.len);
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
