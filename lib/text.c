/*
 * The shared text helpers (text.h).
 */
#include "text.h"

#include <string.h>

#include "policy.h"

bool int_parse(const char *s, int64_t *out)
{
	if (*s == '\0')
		return false;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!is_digit(*p))
			return false;
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = v;
	return true;
}

bool id_is_dot_segment(const char *s)
{
	return strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

/* 1-64 characters of A-Z a-z 0-9 . _ : - */
static bool id_chars_valid(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
		if (!ok || n >= ID_MAX)
			return false;
	}
	return n >= 1;
}

bool id_valid(const char *s)
{
	/* a path segment that HTTP clients remove: such a loan or lender could
	 * never be addressed */
	return !id_is_dot_segment(s) && id_chars_valid(s);
}

bool request_id_valid(const char *s)
{
	_Static_assert(REQUEST_ID_BUF == ID_MAX + 1, "a request id is at most ID_MAX characters");
	return s != NULL && id_chars_valid(s);
}

/* White space of Unicode (White_Space, less the controls that text_valid()
 * refuses anyway), and the zero-width space and BOM, which show as nothing
 * too. */
static bool blank_code_point(uint32_t c)
{
	return c == 0x20 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200b) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000 ||
	       c == 0xfeff;
}

bool text_blank(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : 4;
		uint32_t c = len == 1   ? p[0]
		             : len == 2 ? (uint32_t)(p[0] & 0x1f)
		             : len == 3 ? (uint32_t)(p[0] & 0x0f)
		                        : (uint32_t)(p[0] & 0x07);
		for (int i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false; /* not UTF-8: text_valid() says so */
			c = (c << 6) | (p[i] & 0x3f);
		}
		if (!blank_code_point(c))
			return false;
		p += len;
	}
	return true;
}

bool text_valid(const char *s, size_t max_chars, enum text_fault *fault)
{
	size_t chars = 0;
	bool control = false;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80         ? 1
		          : (*p >> 5) == 6  ? 2
		          : (*p >> 4) == 14 ? 3
		          : (*p >> 3) == 30 ? 4
		                            : 0;
		if (len == 0 || (len == 2 && *p < 0xc2)) {
			*fault = TEXT_NOT_UTF8;
			return false;
		}
		for (int i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				*fault = TEXT_NOT_UTF8;
				return false;
			}
		}
		/* C0 and DEL; C1 is U+0080-U+009F, C2 80-9F in UTF-8 */
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
			control = true;
		p += len;
		chars++;
	}
	if (chars == 0 || chars > max_chars) {
		*fault = TEXT_LENGTH;
		return false;
	}
	if (control) {
		*fault = TEXT_CONTROL;
		return false;
	}
	return true;
}
