/* util.h - small pure helpers: growable buffers, UTF-8, UUIDs, base64url,
 * time formatting, files.  No I/O except eccr_read_file, no globals. */
#ifndef ECCR_UTIL_H
#define ECCR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A growable byte buffer, always NUL-terminated.  Meant to be kept per
 * thread and reset between requests, so steady state allocates nothing. */
struct eccr_buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;       /* an append failed: the content is truncated */
};

void eccr_buf_reset(struct eccr_buf *b);
void eccr_buf_free(struct eccr_buf *b);
/* Ensure room for n more bytes; false (and oom set) when it can't. */
bool eccr_buf_reserve(struct eccr_buf *b, size_t n);
void eccr_buf_add(struct eccr_buf *b, const void *data, size_t n);
void eccr_buf_adds(struct eccr_buf *b, const char *s);
void eccr_buf_addc(struct eccr_buf *b, char c);
void eccr_buf_printf(struct eccr_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included (s is valid UTF-8). */
void eccr_buf_add_json_str(struct eccr_buf *b, const char *s, size_t n);

/* Number of code points in valid UTF-8, or -1 when s is not valid UTF-8
 * (overlongs, surrogates and code points past U+10FFFF are invalid). */
long eccr_utf8_len(const char *s, size_t n);
/* True when s has a C0 control character or DEL. */
bool eccr_has_control(const char *s, size_t n);

/* 8-4-4-4-12 hex UUID, either case.  eccr_uuid_normalize copies it
 * lower-cased into out[37]; returns false when s is not a UUID. */
bool eccr_uuid_valid(const char *s);
bool eccr_uuid_normalize(const char *s, char out[37]);
/* 32 random bits from getrandom(2) (rand() if that fails): for jitter,
 * never for secrets. */
uint32_t eccr_random32(void);
/* A random (version 4) UUID from getrandom(2); false if that failed. */
bool eccr_uuid_v4(char out[37]);

/* Lower-case hexadecimal of n bytes; out needs 2n+1 bytes. */
void eccr_hex_encode(const unsigned char *in, size_t n, char *out);

/* RFC 4648 base64url without padding.  encode: out needs
 * eccr_b64url_len(n)+1 bytes.  decode returns the length or -1 (bad
 * character, '=' padding, impossible length, non-zero unused bits of the
 * last character, or out too small). */
size_t eccr_b64url_len(size_t n);
void eccr_b64url_encode(const unsigned char *in, size_t n, char *out);
long eccr_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

/* "2026-11-24T13:37:00.123Z" from a real-time timespec; out needs 25 bytes. */
void eccr_rfc3339_ms(const struct timespec *ts, char out[25]);
/* Valid calendar date "YYYY-MM-DD" (years 0001..9999). */
bool eccr_date_valid(const char *s, size_t n);
/* RFC 3339 date-time YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), every
 * field range-checked, at most 9 fraction digits: what PostgreSQL's
 * timestamptz then parses without surprises. */
bool eccr_rfc3339_valid(const char *s, size_t n);
/* Parse a full decimal int64 (no sign unless allow_negative, no spaces). */
bool eccr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Read a whole file of at most max bytes into a malloc'd NUL-terminated
 * buffer.  Returns 0, or an errno value (EFBIG when over max, EISDIR or
 * EINVAL when not a regular file). */
int eccr_read_file(const char *path, size_t max, char **out, size_t *len);

/* write(2) all n bytes, again after EINTR and short writes: 0 or errno. */
int eccr_write_all(int fd, const void *data, size_t n);

/* Format an error message into err (truncated safely); nothing when err is
 * NULL or errlen 0, i.e. the caller wants no text. */
void eccr_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
