/* sigv4.c - AWS Signature Version 4 for S3: presigned URLs and
 * Authorization headers.  See sigv4.h; no heap, no globals. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SERVICE "s3"
#define TERMINATOR "aws4_request"

#define REGION_MAX 64
#define ACCESS_KEY_MAX 128
#define SECRET_MAX 256
#define HEADER_NAME_MAX 64
#define HEADER_VALUE_MAX 2048
#define PARAM_MAX 2048           /* bytes of one query name or value */
#define URI_MAX (3 * ECCR_SIGV4_KEY_MAX + 3 * 255 + 8)
#define QUERY_MAX 8192
#define CANON_MAX 16384
#define STS_MAX 256

/* ------------------------------------------------------------ bounded writer */

struct sb {
	char *p;
	size_t cap;
	size_t len;
	bool bad;       /* invalid input or no room: the result is -1 */
};

static void sb_init(struct sb *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	b->bad = p == NULL || cap == 0;
	if (!b->bad)
		p[0] = '\0';
}

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (n >= b->cap - b->len) {
		b->bad = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_addc(struct sb *b, char c)
{
	sb_add(b, &c, 1);
}

static void sb_addu(struct sb *b, unsigned long v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	sb_add(b, tmp + i, sizeof tmp - i);
}

static int sb_done(const struct sb *b)
{
	if (b->bad || b->len > INT_MAX)
		return -1;
	return (int)b->len;
}

/* ------------------------------------------------------------ characters */

static bool is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The encoding of one byte: itself, or %XY. */
static size_t enc_char(unsigned char c, bool keep_slash, char out[3])
{
	static const char hex[] = "0123456789ABCDEF";

	if (is_unreserved(c) || (keep_slash && c == '/')) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '%';
	out[1] = hex[c >> 4];
	out[2] = hex[c & 15];
	return 3;
}

static void sb_enc(struct sb *b, const char *s, size_t n, bool keep_slash)
{
	char e[3];

	for (size_t i = 0; i < n && !b->bad; i++)
		sb_add(b, e, enc_char((unsigned char)s[i], keep_slash, e));
}

/* Compare the URI encodings of a and b without writing them out: sorting
 * raw strings would differ ('.' sorts before '/', but "%2F" before "."). */
struct enc_iter {
	const unsigned char *s;
	char buf[3];
	size_t len, pos;
};

static int enc_next(struct enc_iter *it)
{
	if (it->pos < it->len)
		return (unsigned char)it->buf[it->pos++];
	if (*it->s == '\0')
		return -1;
	it->len = enc_char(*it->s++, false, it->buf);
	it->pos = 1;
	return (unsigned char)it->buf[0];
}

static int enc_cmp(const char *a, const char *b)
{
	struct enc_iter x = { (const unsigned char *)a, { 0 }, 0, 0 };
	struct enc_iter y = { (const unsigned char *)b, { 0 }, 0, 0 };

	for (;;) {
		int ca = enc_next(&x), cb = enc_next(&y);

		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			return 0;
	}
}

static int lower_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)lower(*a), cb = (unsigned char)lower(*b);

		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == '\0')
			return 0;
	}
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		unsigned long cp, min;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3;
			cp = c & 0x0F;
			min = 0x800;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* ------------------------------------------------------------ validation */

static bool method_ok(const char *m, bool allow_post)
{
	if (m == NULL)
		return false;
	return strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "HEAD") == 0 || strcmp(m, "DELETE") == 0 ||
	    (allow_post && strcmp(m, "POST") == 0);
}

static bool key_ok(const char *key)
{
	size_t n;

	if (key == NULL)
		return false;
	n = strlen(key);
	return n >= 1 && n <= ECCR_SIGV4_KEY_MAX && utf8_valid((const unsigned char *)key, n);
}

/* A scope element (region, service): no '/', nothing needing care. */
static bool scope_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

static bool access_key_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > ACCESS_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F || s[i] == '/')
			return false;
	return true;
}

static bool bucket_ok(const char *s, bool path_style)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 3 || n > (path_style ? 255 : 63))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (path_style) {
			if (!is_alnum(c) && c != '.' && c != '-' && c != '_')
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-')) {
			return false;
		}
	}
	if (!path_style) {
		if (!is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[n - 1]))
			return false;
		if (strstr(s, "..") != NULL)
			return false;
	}
	return true;
}

static bool payload_hash_ok(const char *h)
{
	if (h == NULL)
		return false;
	if (strcmp(h, ECCR_SIGV4_UNSIGNED_PAYLOAD) == 0)
		return true;
	if (strlen(h) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return true;
}

static bool header_name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > HEADER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)   /* RFC 9110 token */
		if (!is_alnum((unsigned char)s[i]) && strchr("!#$%&'*+-.^_`|~", s[i]) == NULL)
			return false;
	return true;
}

static bool header_value_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n > HEADER_VALUE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ the target */

struct parsed {
	const char *scheme;             /* "https" or "http" */
	char host[ECCR_SIGV4_HOST_MAX]; /* as signed, port included when not default */
	size_t hostlen;
};

static bool prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++)
		if (lower(*s) != *prefix)
			return false;
	return true;
}

static int parse_target(const struct eccr_s3_target *t, struct parsed *p)
{
	const char *e, *a, *end, *h, *hend, *port = NULL;
	unsigned long portnum = 0, defport;
	bool ip = true;
	struct sb b;

	if (t == NULL || t->endpoint == NULL || !scope_ok(t->region) ||
	    !bucket_ok(t->bucket, t->path_style) || !access_key_ok(t->access_key_id) ||
	    t->secret_key == NULL || t->secret_key[0] == '\0' ||
	    strlen(t->secret_key) > SECRET_MAX)
		return -1;
	e = t->endpoint;
	if (prefix_nocase(e, "https://")) {
		p->scheme = "https";
		defport = 443;
		a = e + 8;
	} else if (prefix_nocase(e, "http://")) {
		p->scheme = "http";
		defport = 80;
		a = e + 7;
	} else {
		return -1;
	}
	end = a + strcspn(a, "/?#");
	if (!(*end == '\0' || (end[0] == '/' && end[1] == '\0')))
		return -1;              /* no base path, query or fragment */
	h = a;
	if (*h == '[') {                /* IPv6 literal */
		hend = memchr(h, ']', (size_t)(end - h));
		if (hend == NULL || hend == h + 1)
			return -1;
		for (const char *c = h + 1; c < hend; c++)
			if (!((*c >= '0' && *c <= '9') || (lower(*c) >= 'a' && lower(*c) <= 'f') ||
			    *c == ':' || *c == '.'))
				return -1;
		hend++;
	} else {
		hend = h;
		while (hend < end && *hend != ':') {
			unsigned char c = (unsigned char)*hend;

			if (!is_alnum(c) && c != '-' && c != '.')
				return -1;
			if (!(c >= '0' && c <= '9') && c != '.')
				ip = false;
			hend++;
		}
		if (hend == h || hend - h > 253 || *h == '.' || hend[-1] == '.')
			return -1;
	}
	if (hend < end) {
		if (*hend != ':' || hend + 1 == end || end - (hend + 1) > 5)
			return -1;
		port = hend + 1;
		for (const char *c = port; c < end; c++) {
			if (*c < '0' || *c > '9')
				return -1;
			portnum = portnum * 10 + (unsigned long)(*c - '0');
		}
		if (portnum == 0 || portnum > 65535)
			return -1;
	}
	if (!t->path_style && ip)
		return -1;              /* bucket.127.0.0.1 is no host */

	sb_init(&b, p->host, sizeof p->host);
	if (!t->path_style) {
		sb_adds(&b, t->bucket);
		sb_addc(&b, '.');
	}
	for (const char *c = h; c < hend; c++)
		sb_addc(&b, lower(*c));
	if (port != NULL && portnum != defport) {
		sb_addc(&b, ':');
		sb_addu(&b, portnum);
	}
	if (sb_done(&b) < 0)
		return -1;
	p->hostlen = b.len;
	return 0;
}

int eccr_sigv4_host(const struct eccr_s3_target *t, char *out, size_t outlen)
{
	struct parsed p;
	struct sb b;

	sb_init(&b, out, outlen);
	if (parse_target(t, &p) < 0)
		return -1;
	sb_add(&b, p.host, p.hostlen);
	return sb_done(&b);
}

int eccr_sigv4_canonical_uri(const struct eccr_s3_target *t, const char *key,
    char *out, size_t outlen)
{
	struct parsed p;
	struct sb b;
	bool has_key = key != NULL && key[0] != '\0';

	sb_init(&b, out, outlen);
	if (parse_target(t, &p) < 0 || (has_key && !key_ok(key)))
		return -1;
	sb_addc(&b, '/');
	if (t->path_style) {
		sb_enc(&b, t->bucket, strlen(t->bucket), false);
		if (has_key)
			sb_addc(&b, '/');
	}
	if (has_key)
		sb_enc(&b, key, strlen(key), true);
	return sb_done(&b);
}

/* ------------------------------------------------------------ pieces */

void eccr_sigv4_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int eccr_sigv4_sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	out[0] = '\0';
	if ((data == NULL && n > 0) ||
	    EVP_Digest(n > 0 ? data : "", n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -1;
	eccr_sigv4_hex(md, 32, out);
	return 0;
}

int eccr_sigv4_uri_encode(const char *s, size_t n, bool keep_slash,
    char *out, size_t outlen)
{
	struct sb b;

	sb_init(&b, out, outlen);
	if (s == NULL && n > 0)
		return -1;
	sb_enc(&b, s, n, keep_slash);
	return sb_done(&b);
}

static void put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

int eccr_sigv4_amz_date(time_t now, char amz_date[17], char date[9])
{
	struct tm tm;

	amz_date[0] = '\0';
	date[0] = '\0';
	if (now < 0 || gmtime_r(&now, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return -1;
	put_digits(amz_date, tm.tm_year + 1900, 4);
	put_digits(amz_date + 4, tm.tm_mon + 1, 2);
	put_digits(amz_date + 6, tm.tm_mday, 2);
	amz_date[8] = 'T';
	put_digits(amz_date + 9, tm.tm_hour, 2);
	put_digits(amz_date + 11, tm.tm_min, 2);
	put_digits(amz_date + 13, tm.tm_sec, 2);
	amz_date[15] = 'Z';
	amz_date[16] = '\0';
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	return 0;
}

int eccr_sigv4_canonical_query(const struct eccr_sigv4_param *params, size_t n,
    char *out, size_t outlen)
{
	size_t idx[ECCR_SIGV4_MAX_PARAMS];
	struct sb b;

	sb_init(&b, out, outlen);
	if (n > ECCR_SIGV4_MAX_PARAMS || (params == NULL && n > 0))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = params[i].value;

		if (params[i].name == NULL || params[i].name[0] == '\0' ||
		    strlen(params[i].name) > PARAM_MAX || (v != NULL && strlen(v) > PARAM_MAX))
			return -1;
		idx[i] = i;
	}
	for (size_t i = 1; i < n; i++) {       /* insertion sort: n is small */
		size_t cur = idx[i], j = i;

		while (j > 0) {
			const struct eccr_sigv4_param *x = &params[idx[j - 1]], *y = &params[cur];
			int c = enc_cmp(x->name, y->name);

			if (c == 0)
				c = enc_cmp(x->value ? x->value : "", y->value ? y->value : "");
			if (c <= 0)
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = cur;
	}
	for (size_t i = 0; i < n; i++) {
		const struct eccr_sigv4_param *q = &params[idx[i]];

		if (i > 0)
			sb_addc(&b, '&');
		sb_enc(&b, q->name, strlen(q->name), false);
		sb_addc(&b, '=');
		if (q->value != NULL)
			sb_enc(&b, q->value, strlen(q->value), false);
	}
	return sb_done(&b);
}

/* Validate headers and sort their indexes by lower-case name. */
static int sort_headers(const struct eccr_sigv4_header *h, size_t n, size_t idx[])
{
	if (n == 0 || n > ECCR_SIGV4_MAX_HEADERS || h == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!header_name_ok(h[i].name) || !header_value_ok(h[i].value))
			return -1;
		idx[i] = i;
	}
	for (size_t i = 1; i < n; i++) {
		size_t cur = idx[i], j = i;

		while (j > 0) {
			int c = lower_cmp(h[idx[j - 1]].name, h[cur].name);

			if (c == 0)
				return -1;      /* the same header twice */
			if (c < 0)
				break;
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = cur;
	}
	return 0;
}

static void sb_lower(struct sb *b, const char *s)
{
	for (; *s != '\0'; s++)
		sb_addc(b, lower(*s));
}

static void sb_signed_headers(struct sb *b, const struct eccr_sigv4_header *h,
    size_t n, const size_t idx[])
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			sb_addc(b, ';');
		sb_lower(b, h[idx[i]].name);
	}
}

int eccr_sigv4_signed_headers(const struct eccr_sigv4_header *headers, size_t n,
    char *out, size_t outlen)
{
	size_t idx[ECCR_SIGV4_MAX_HEADERS];
	struct sb b;

	sb_init(&b, out, outlen);
	if (sort_headers(headers, n, idx) < 0)
		return -1;
	sb_signed_headers(&b, headers, n, idx);
	return sb_done(&b);
}

/* Trimmed, with runs of spaces and tabs made one space. */
static void sb_header_value(struct sb *b, const char *v)
{
	bool space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v != '\0'; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			sb_addc(b, ' ');
		space = false;
		sb_addc(b, *v);
	}
}

int eccr_sigv4_canonical_request(const char *method, const char *canonical_uri,
    const char *canonical_query, const struct eccr_sigv4_header *headers,
    size_t nheaders, const char *payload_hash, char *out, size_t outlen)
{
	size_t idx[ECCR_SIGV4_MAX_HEADERS];
	size_t mlen;
	struct sb b;

	sb_init(&b, out, outlen);
	if (method == NULL || (mlen = strlen(method)) == 0 || mlen > 16)
		return -1;
	for (size_t i = 0; i < mlen; i++)
		if (method[i] < 'A' || method[i] > 'Z')
			return -1;
	if (canonical_uri == NULL || canonical_uri[0] != '/' ||
	    strpbrk(canonical_uri, "\r\n") != NULL || canonical_query == NULL ||
	    strpbrk(canonical_query, "\r\n") != NULL || !payload_hash_ok(payload_hash) ||
	    sort_headers(headers, nheaders, idx) < 0)
		return -1;
	sb_adds(&b, method);
	sb_addc(&b, '\n');
	sb_adds(&b, canonical_uri);
	sb_addc(&b, '\n');
	sb_adds(&b, canonical_query);
	sb_addc(&b, '\n');
	for (size_t i = 0; i < nheaders; i++) {
		sb_lower(&b, headers[idx[i]].name);
		sb_addc(&b, ':');
		sb_header_value(&b, headers[idx[i]].value);
		sb_addc(&b, '\n');
	}
	sb_addc(&b, '\n');
	sb_signed_headers(&b, headers, nheaders, idx);
	sb_addc(&b, '\n');
	sb_adds(&b, payload_hash);
	return sb_done(&b);
}

static bool amz_date_ok(const char *d)
{
	if (d == NULL || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && (d[i] < '0' || d[i] > '9'))
			return false;
	return true;
}

static bool date_ok(const char *d)
{
	if (d == NULL || strlen(d) != 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return true;
}

int eccr_sigv4_string_to_sign(const char *amz_date, const char *region,
    const char *service, const char *canonical_request, size_t crlen,
    char *out, size_t outlen)
{
	char hash[65];
	struct sb b;

	sb_init(&b, out, outlen);
	if (!amz_date_ok(amz_date) || !scope_ok(region) || !scope_ok(service) ||
	    canonical_request == NULL ||
	    eccr_sigv4_sha256_hex(canonical_request, crlen, hash) < 0)
		return -1;
	sb_adds(&b, ALGORITHM "\n");
	sb_adds(&b, amz_date);
	sb_addc(&b, '\n');
	sb_add(&b, amz_date, 8);
	sb_addc(&b, '/');
	sb_adds(&b, region);
	sb_addc(&b, '/');
	sb_adds(&b, service);
	sb_adds(&b, "/" TERMINATOR "\n");
	sb_adds(&b, hash);
	return sb_done(&b);
}

static int hmac(const unsigned char *key, size_t keylen, const char *data,
    size_t n, unsigned char out[32])
{
	unsigned int len = 0;

	if (keylen > INT_MAX || HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)data, n, out, &len) == NULL || len != 32)
		return -1;
	return 0;
}

int eccr_sigv4_signing_key(const char *secret_key, const char *date,
    const char *region, const char *service, unsigned char out[32])
{
	unsigned char k[4 + SECRET_MAX];
	unsigned char a[32], c[32];
	size_t slen;
	int rc = -1;

	if (secret_key == NULL || (slen = strlen(secret_key)) == 0 || slen > SECRET_MAX ||
	    !date_ok(date) || !scope_ok(region) || !scope_ok(service))
		return -1;
	memcpy(k, "AWS4", 4);
	memcpy(k + 4, secret_key, slen);
	if (hmac(k, 4 + slen, date, 8, a) == 0 &&
	    hmac(a, 32, region, strlen(region), c) == 0 &&
	    hmac(c, 32, service, strlen(service), a) == 0 &&
	    hmac(a, 32, TERMINATOR, strlen(TERMINATOR), out) == 0)
		rc = 0;
	OPENSSL_cleanse(k, sizeof k);
	OPENSSL_cleanse(a, sizeof a);
	OPENSSL_cleanse(c, sizeof c);
	return rc;
}

int eccr_sigv4_signature(const unsigned char signing_key[32],
    const char *string_to_sign, size_t n, char out[65])
{
	unsigned char mac[32];

	out[0] = '\0';
	if (signing_key == NULL || string_to_sign == NULL ||
	    hmac(signing_key, 32, string_to_sign, n, mac) < 0)
		return -1;
	eccr_sigv4_hex(mac, 32, out);
	return 0;
}

/* ------------------------------------------------------------ the two uses */

/* Canonical request -> string to sign -> signature, for service s3. */
static int sign(const struct eccr_s3_target *t, const char *amz_date,
    const char *date, const char *cr, size_t crlen, char sig[65])
{
	char sts[STS_MAX];
	unsigned char key[32];
	int n, rc;

	n = eccr_sigv4_string_to_sign(amz_date, t->region, SERVICE, cr, crlen, sts, sizeof sts);
	if (n < 0 || eccr_sigv4_signing_key(t->secret_key, date, t->region, SERVICE, key) < 0)
		return -1;
	rc = eccr_sigv4_signature(key, sts, (size_t)n, sig);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

static void sb_scope(struct sb *b, const struct eccr_s3_target *t, const char *date)
{
	sb_adds(b, date);
	sb_addc(b, '/');
	sb_adds(b, t->region);
	sb_adds(b, "/" SERVICE "/" TERMINATOR);
}

int eccr_sigv4_presign(const struct eccr_s3_target *t, const char *method,
    const char *key, long expires_s, time_t now, char *out, size_t outlen)
{
	return eccr_sigv4_presign_query(t, method, key, NULL, 0, expires_s, now, out, outlen);
}

int eccr_sigv4_presign_query(const struct eccr_s3_target *t, const char *method,
    const char *key, const struct eccr_sigv4_param *extra, size_t nextra,
    long expires_s, time_t now, char *out, size_t outlen)
{
	struct eccr_sigv4_param q[ECCR_SIGV4_MAX_PARAMS];
	struct parsed p;
	char uri[URI_MAX], query[QUERY_MAX], cred[256], cr[CANON_MAX];
	char amz_date[17], date[9], sig[65], expires[24];
	struct eccr_sigv4_header host;
	struct sb b;
	size_t nq = 0;
	int n;

	sb_init(&b, out, outlen);
	if (!method_ok(method, false) || !key_ok(key) || expires_s < 1 ||
	    expires_s > ECCR_SIGV4_EXPIRES_MAX || nextra > ECCR_SIGV4_MAX_PARAMS - 5 ||
	    (extra == NULL && nextra > 0) || parse_target(t, &p) < 0 ||
	    eccr_sigv4_canonical_uri(t, key, uri, sizeof uri) < 0 ||
	    eccr_sigv4_amz_date(now, amz_date, date) < 0)
		return -1;

	sb_init(&b, cred, sizeof cred);
	sb_adds(&b, t->access_key_id);
	sb_addc(&b, '/');
	sb_scope(&b, t, date);
	if (sb_done(&b) < 0)
		return -1;
	sb_init(&b, expires, sizeof expires);
	sb_addu(&b, (unsigned long)expires_s);
	if (sb_done(&b) < 0)
		return -1;
	q[nq++] = (struct eccr_sigv4_param){ "X-Amz-Algorithm", ALGORITHM };
	q[nq++] = (struct eccr_sigv4_param){ "X-Amz-Credential", cred };
	q[nq++] = (struct eccr_sigv4_param){ "X-Amz-Date", amz_date };
	q[nq++] = (struct eccr_sigv4_param){ "X-Amz-Expires", expires };
	q[nq++] = (struct eccr_sigv4_param){ "X-Amz-SignedHeaders", "host" };
	for (size_t i = 0; i < nextra; i++) {
		/* The signature's own parameters are ours to set. */
		if (extra[i].name == NULL || prefix_nocase(extra[i].name, "x-amz-"))
			return -1;
		q[nq++] = extra[i];
	}
	if (eccr_sigv4_canonical_query(q, nq, query, sizeof query) < 0)
		return -1;

	host.name = "host";
	host.value = p.host;
	n = eccr_sigv4_canonical_request(method, uri, query, &host, 1,
	    ECCR_SIGV4_UNSIGNED_PAYLOAD, cr, sizeof cr);
	if (n < 0 || sign(t, amz_date, date, cr, (size_t)n, sig) < 0)
		return -1;

	sb_init(&b, out, outlen);
	sb_adds(&b, p.scheme);
	sb_adds(&b, "://");
	sb_adds(&b, p.host);
	sb_adds(&b, uri);
	sb_addc(&b, '?');
	sb_adds(&b, query);
	sb_adds(&b, "&X-Amz-Signature=");
	sb_adds(&b, sig);
	return sb_done(&b);
}

static bool reserved_header(const char *name)
{
	return lower_cmp(name, "host") == 0 || lower_cmp(name, "x-amz-date") == 0 ||
	    lower_cmp(name, "x-amz-content-sha256") == 0 ||
	    lower_cmp(name, "authorization") == 0;
}

int eccr_sigv4_sign_headers(const struct eccr_s3_target *t, const char *method,
    const char *key, const struct eccr_sigv4_param *query, size_t nquery,
    const struct eccr_sigv4_header *headers, size_t nheaders,
    const char *payload_hash, time_t now, struct eccr_sigv4_auth *out,
    char *url, size_t urllen)
{
	struct eccr_sigv4_header all[ECCR_SIGV4_MAX_HEADERS];
	size_t idx[ECCR_SIGV4_MAX_HEADERS];
	struct parsed p;
	char uri[URI_MAX], q[QUERY_MAX], cr[CANON_MAX];
	char amz_date[17], date[9], sig[65];
	size_t nall = 0;
	struct sb b;
	int n;

	if (out == NULL)
		return -1;
	memset(out, 0, sizeof *out);
	if (url != NULL && urllen > 0)
		url[0] = '\0';
	if (!method_ok(method, true) || !payload_hash_ok(payload_hash) ||
	    nheaders > ECCR_SIGV4_MAX_HEADERS - 3 || (headers == NULL && nheaders > 0) ||
	    parse_target(t, &p) < 0 ||
	    eccr_sigv4_canonical_uri(t, key, uri, sizeof uri) < 0 ||
	    eccr_sigv4_canonical_query(query, nquery, q, sizeof q) < 0 ||
	    eccr_sigv4_amz_date(now, amz_date, date) < 0)
		return -1;
	for (size_t i = 0; i < nheaders; i++) {
		if (headers[i].name == NULL || reserved_header(headers[i].name))
			return -1;
		all[nall++] = headers[i];
	}
	all[nall++] = (struct eccr_sigv4_header){ "host", p.host };
	all[nall++] = (struct eccr_sigv4_header){ "x-amz-content-sha256", payload_hash };
	all[nall++] = (struct eccr_sigv4_header){ "x-amz-date", amz_date };

	n = eccr_sigv4_canonical_request(method, uri, q, all, nall, payload_hash,
	    cr, sizeof cr);
	if (n < 0 || sort_headers(all, nall, idx) < 0 ||
	    sign(t, amz_date, date, cr, (size_t)n, sig) < 0)
		return -1;

	sb_init(&b, out->authorization, sizeof out->authorization);
	sb_adds(&b, ALGORITHM " Credential=");
	sb_adds(&b, t->access_key_id);
	sb_addc(&b, '/');
	sb_scope(&b, t, date);
	sb_adds(&b, ",SignedHeaders=");
	sb_signed_headers(&b, all, nall, idx);
	sb_adds(&b, ",Signature=");
	sb_adds(&b, sig);
	if (sb_done(&b) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	memcpy(out->amz_date, amz_date, sizeof out->amz_date);
	memcpy(out->content_sha256, payload_hash, strlen(payload_hash) + 1);

	if (url != NULL) {
		sb_init(&b, url, urllen);
		sb_adds(&b, p.scheme);
		sb_adds(&b, "://");
		sb_adds(&b, p.host);
		sb_adds(&b, uri);
		if (q[0] != '\0') {
			sb_addc(&b, '?');
			sb_adds(&b, q);
		}
		if (sb_done(&b) < 0) {
			memset(out, 0, sizeof *out);
			return -1;
		}
	}
	return 0;
}
