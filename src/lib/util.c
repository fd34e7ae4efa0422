/* util.c - small pure helpers: buffers, UTF-8, UUIDs, base64url, time. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* ------------------------------------------------------------ buffers */

void eccr_buf_reset(struct eccr_buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void eccr_buf_free(struct eccr_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

bool eccr_buf_reserve(struct eccr_buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->oom)
		return false;
	if (n > SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return false;
	}
	want = b->len + n + 1;
	if (want <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void eccr_buf_add(struct eccr_buf *b, const void *data, size_t n)
{
	if (!eccr_buf_reserve(b, n))
		return;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void eccr_buf_adds(struct eccr_buf *b, const char *s)
{
	eccr_buf_add(b, s, strlen(s));
}

void eccr_buf_addc(struct eccr_buf *b, char c)
{
	eccr_buf_add(b, &c, 1);
}

void eccr_buf_printf(struct eccr_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !eccr_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void eccr_buf_add_json_str(struct eccr_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	eccr_buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		eccr_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': eccr_buf_add(b, "\\\"", 2); break;
		case '\\': eccr_buf_add(b, "\\\\", 2); break;
		case '\n': eccr_buf_add(b, "\\n", 2); break;
		case '\r': eccr_buf_add(b, "\\r", 2); break;
		case '\t': eccr_buf_add(b, "\\t", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			eccr_buf_add(b, esc, 6);
		}
	}
	eccr_buf_add(b, s + run, n - run);
	eccr_buf_addc(b, '"');
}

/* ------------------------------------------------------------ UTF-8 */

/* Length of the sequence starting with lead byte c and the bounds of its
 * second byte (the table of RFC 3629 section 4, which rules out overlongs
 * and surrogates); 0 when c can't start a sequence. */
static int utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			*lo = 0xa0;
		else if (c == 0xed)
			*hi = 0x9f;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			*lo = 0x90;
		else if (c == 0xf4)
			*hi = 0x8f;
		return 4;
	}
	return 0;
}

long eccr_utf8_len(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	long count = 0;

	while (i < n) {
		unsigned char lo, hi;
		int len, k;

		if (p[i] < 0x80) {
			i++;
			count++;
			continue;
		}
		if ((len = utf8_lead(p[i], &lo, &hi)) == 0 || n - i < (size_t)len)
			return -1;
		if (p[i + 1] < lo || p[i + 1] > hi)
			return -1;
		for (k = 2; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
		i += (size_t)len;
		count++;
	}
	return count;
}

bool eccr_has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* ------------------------------------------------------------ UUIDs */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool eccr_uuid_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (hexval(s[i]) < 0) {
			return false;
		}
	}
	return s[36] == '\0';
}

bool eccr_uuid_normalize(const char *s, char out[37])
{
	size_t i;

	if (!eccr_uuid_valid(s))
		return false;
	for (i = 0; i < 36; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[36] = '\0';
	return true;
}

uint32_t eccr_random32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (uint32_t)rand();
	return r;
}

bool eccr_uuid_v4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t i, o = 0;
	ssize_t n;

	/* 16 bytes come whole once the pool is ready; EINTR only while it
	 * is still initialising at boot. */
	do
		n = getrandom(b, sizeof b, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof b)
		return false;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[36] = '\0';
	return true;
}

/* ------------------------------------------------------------ base64url */

void eccr_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*out++ = digits[in[i] >> 4];
		*out++ = digits[in[i] & 15];
	}
	*out = '\0';
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t eccr_b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void eccr_b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i;
	char *o = out;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
		*o++ = b64url[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)in[i] << 16;

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
	}
	*o = '\0';
}

static int b64url_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long eccr_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap)
{
	size_t i, o = 0, need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	unsigned acc = 0;
	int bits = 0, v;

	if (n % 4 == 1 || need > outcap)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64url_val(in[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	/* Canonical encodings only: leftover bits must be zero. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

/* ------------------------------------------------------------ time, numbers */

void eccr_rfc3339_ms(const struct timespec *ts, char out[25])
{
	struct tm tm;
	time_t t = ts->tv_sec;
	unsigned ms;

	/* A timestamp gmtime_r can't convert, or past year 9999, would not
	 * fit the fixed width; callers pass clock_gettime values, so this
	 * fallback only keeps the output well-formed. */
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		memcpy(out, "0000-01-01T00:00:00.000Z", 25);
		return;
	}
	ms = ts->tv_nsec >= 0 ? (unsigned)(ts->tv_nsec / 1000000) % 1000 : 0;
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

static bool digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool eccr_date_valid(const char *s, size_t n)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, max;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return false;
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

static bool all_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

bool eccr_rfc3339_valid(const char *s, size_t n)
{
	size_t i = 19;

	if (n < 20 || n > 64 || !eccr_date_valid(s, 10) ||
	    (s[10] != 'T' && s[10] != 't') || !all_digits(s + 11, 2) || s[13] != ':' ||
	    !all_digits(s + 14, 2) || s[16] != ':' || !all_digits(s + 17, 2) ||
	    two_digits(s + 11) > 23 || two_digits(s + 14) > 59 || two_digits(s + 17) > 59)
		return false;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return false;
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		return true;
	return i + 6 == n && (s[i] == '+' || s[i] == '-') && all_digits(s + i + 1, 2) &&
	    s[i + 3] == ':' && all_digits(s + i + 4, 2) && two_digits(s + i + 1) <= 23 &&
	    two_digits(s + i + 4) <= 59;
}

bool eccr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg = false;
	uint64_t v = 0, limit;
	const char *p = s;

	if (*p == '-' && min < 0) {
		neg = true;
		p++;
	}
	if (*p == '\0')
		return false;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (limit - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg) {
		int64_t r = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;

		if (r < min || r > max)
			return false;
		*out = r;
		return true;
	}
	if ((int64_t)v < min || (int64_t)v > max)
		return false;
	*out = (int64_t)v;
	return true;
}

/* ------------------------------------------------------------ files */

/* Read up to size bytes; returns 0 or an errno value.  *got may end short
 * of size if the file shrank meanwhile. */
int eccr_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	ssize_t k;

	while (n > 0) {
		k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, char *p, size_t size, size_t *got)
{
	ssize_t n;

	*got = 0;
	while (*got < size) {
		n = read(fd, p + *got, size - *got);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		*got += (size_t)n;
	}
	return 0;
}

int eccr_read_file(const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	size_t got;
	char *p;
	int fd, e;

	/* O_NONBLOCK: opening a FIFO without a writer would otherwise hang
	 * start-up; it has no effect on reading a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max) {
		close(fd);
		return EFBIG;
	}
	if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return ENOMEM;
	}
	e = read_all(fd, p, (size_t)st.st_size, &got);
	close(fd);
	if (e != 0) {
		free(p);
		return e;
	}
	p[got] = '\0';
	*out = p;
	*len = got;
	return 0;
}

void eccr_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
