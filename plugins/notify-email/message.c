/* message.c - see message.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "message.h"

/* Encoded-word "=?UTF-8?B?" + base64 + "?=" <= 75 characters: 60 base64
 * characters, so 45 bytes of text per word. */
#define WORD_BYTES 45

void ne_buf_add(struct ne_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ne_buf_adds(struct ne_buf *b, const char *s)
{
	ne_buf_add(b, s, strlen(s));
}

void ne_buf_free(struct ne_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

void ne_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* Bytes of s's prefix of at most max bytes that end on a character. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	if (n == len)
		return n;
	/* back up over continuation bytes to the start of the cut character */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

void ne_truncate_utf8(char *s, size_t max)
{
	s[utf8_cut(s, strlen(s), max)] = '\0';
}

void ne_copy_utf8(char *dst, size_t dstsize, const char *src)
{
	size_t n;

	if (dstsize == 0)
		return;
	n = utf8_cut(src, strlen(src), dstsize - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

bool ne_address_valid(const char *addr)
{
	const char *at = strchr(addr, '@');
	size_t n = strlen(addr);

	if (n == 0 || n > 254 || at == NULL || at == addr || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = addr; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[],;:\\\"", *p) != NULL)
			return false;
	return true;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static void base64(struct ne_buf *b, const unsigned char *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[0] = tab[v >> 18 & 63];
		out[1] = tab[v >> 12 & 63];
		out[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[3] = i + 2 < n ? tab[v & 63] : '=';
		ne_buf_add(b, out, 4);
	}
}

void ne_encode_words(struct ne_buf *b, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		size_t n = utf8_cut(s + off, len - off, WORD_BYTES);

		if (n == 0)  /* not UTF-8: never loop forever */
			n = len - off < WORD_BYTES ? len - off : WORD_BYTES;
		if (off > 0)
			ne_buf_adds(b, "\r\n ");
		ne_buf_adds(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)s + off, n);
		ne_buf_adds(b, "?=");
		off += n;
	}
}

void ne_header_text(struct ne_buf *b, const char *s)
{
	if (is_ascii(s))
		ne_buf_adds(b, s);
	else
		ne_encode_words(b, s);
}

void ne_mailbox(struct ne_buf *b, const char *name, const char *addr)
{
	if (name != NULL && name[0] != '\0') {
		if (is_ascii(name)) {
			ne_buf_adds(b, "\"");
			for (const char *p = name; *p; p++) {
				if (*p == '"' || *p == '\\')
					ne_buf_adds(b, "\\");
				ne_buf_add(b, p, 1);
			}
			ne_buf_adds(b, "\"");
		} else {
			ne_encode_words(b, name);
		}
		ne_buf_adds(b, " ");
	}
	ne_buf_adds(b, "<");
	ne_buf_adds(b, addr);
	ne_buf_adds(b, ">");
}

bool ne_message_id(char *out, size_t outlen, const char *event_id,
    const char *recipient, const char *domain)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[33];
	int n;

	for (const char *p = event_id; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	SHA256((const unsigned char *)recipient, strlen(recipient), md);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	n = snprintf(out, outlen, "<eccr.%s.%s@%s>", event_id, hex, domain);
	return event_id[0] != '\0' && n > 0 && (size_t)n < outlen;
}

bool ne_date(const char *rfc3339, char *out, size_t outlen)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm = { 0 };
	const char *end = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
	time_t t;

	if (end == NULL)
		return false;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0 || (t = timegm(&tm)) == (time_t)-1 ||
	    gmtime_r(&t, &tm) == NULL)
		return false;
	return snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec) < (int)outlen;
}

static const char *var_value(const struct ne_vars *v, const char *name, size_t n)
{
	static const char *const names[] = { "title", "name", "episode", "actor", "type" };

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) {
			const char *vals[] = { v->title, v->name, v->episode, v->actor, v->type };

			return vals[i] != NULL ? vals[i] : "";
		}
	return NULL;
}

const char *ne_template_check(const char *tmpl)
{
	static const struct ne_vars all = { "", "", "", "", "" };

	for (const char *p = strchr(tmpl, '{'); p != NULL; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');

		if (close == NULL || var_value(&all, p + 1, (size_t)(close - p - 1)) == NULL)
			return p;
	}
	return NULL;
}

void ne_render(struct ne_buf *b, const char *tmpl, const struct ne_vars *v, size_t max)
{
	size_t start = b->len;

	while (*tmpl) {
		const char *open = strchr(tmpl, '{'), *close, *val;

		if (open == NULL) {
			ne_buf_adds(b, tmpl);
			break;
		}
		ne_buf_add(b, tmpl, (size_t)(open - tmpl));
		close = strchr(open, '}');
		if (close == NULL) {
			ne_buf_adds(b, open);
			break;
		}
		val = var_value(v, open + 1, (size_t)(close - open - 1));
		ne_buf_adds(b, val != NULL ? val : "");
		tmpl = close + 1;
	}
	if (b->oom)
		return;
	ne_sanitize(b->p + start);
	ne_truncate_utf8(b->p + start, max);
	b->len = start + strlen(b->p + start);
}

void ne_wrap(struct ne_buf *b, const char *text, size_t width)
{
	size_t len = strlen(text), off = 0;

	if (width < 20 || width > 900)
		width = 76;
	while (off < len) {
		const char *line = text + off;
		size_t rest = len - off, n = rest, skip = 0;

		if (rest > width) {
			/* last space within the width, else the first after it */
			n = width;
			while (n > 0 && line[n] != ' ')
				n--;
			if (n == 0) {
				n = utf8_cut(line, rest, width);
				if (n == 0)
					n = width;
			} else {
				skip = 1;
			}
		}
		for (size_t i = 0; i < n; i++) {
			char c = (unsigned char)line[i] < 0x20 || line[i] == 0x7f ? ' ' : line[i];

			ne_buf_add(b, &c, 1);
		}
		ne_buf_adds(b, "\r\n");
		off += n + skip;
	}
}
