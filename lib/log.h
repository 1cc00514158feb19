/*
 * Structured logs on stderr, one line per event, JSON or text; under
 * journald (stderr is the stream JOURNAL_STREAM names, checked by
 * log_setup()) each line starts with its priority. Safe to call from any
 * thread. Personal data never goes in unmasked: callers mask IINs
 * with iin_mask() and connection strings with conninfo_mask().
 */
#ifndef CD_LOG_H
#define CD_LOG_H

#include "config.h"

void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);

/* The sd-daemon(3) prefix of a level's lines under journald: "<3>" for
 * errors, "<4>" warnings, "<6>" info, "<7>" debug. */
const char *log_priority_prefix(enum log_level level);

/* A message plus key/value pairs: log_kv(LOG_INFO, "listening", "addr",
 * "127.0.0.1:8080", NULL). Values are strings. */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* A value as the text format writes it: control characters, spaces, '=',
 * DEL and '\\' become \xHH, so that a value can neither end its line nor
 * pose as another key=value field. Writes at most size - 1 bytes and a NUL;
 * returns the bytes written (an escape that does not fit is left out). */
size_t log_text_escape(const char *s, char *out, size_t size);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
