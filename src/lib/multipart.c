/* multipart.c - see multipart.h. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

enum {
	S_PREAMBLE,      /* before the first delimiter: discard */
	S_AFTER_DELIM,   /* "--" (the end) or transport padding and CRLF */
	S_HEADERS,       /* a part's header block */
	S_BODY,          /* a part's data */
	S_EPILOGUE,      /* after the closing delimiter: discard */
	S_ERROR
};

static int fail(struct eccr_multipart *mp, const char *why)
{
	mp->state = S_ERROR;
	mp->error = why;
	return -1;
}

static bool boundary_char(char c)
{
	/* RFC 2046 bchars. */
	return isalnum((unsigned char)c) || strchr("'()+_,-./:=? ", c) != NULL;
}

/* The boundary parameter of a Content-Type value, quoted or not. */
static int parse_boundary(const char *ct, char *out, size_t outlen)
{
	const char *p;
	size_t n = 0;

	if (strncasecmp(ct, "multipart/form-data", 19) != 0 || (ct[19] != ';' && ct[19] != ' '))
		return -1;
	for (p = ct + 19; (p = strcasestr(p, "boundary=")) != NULL; p += 9)
		if (p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t')
			break;
	if (p == NULL)
		return -1;
	p += 9;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			if (n < outlen - 1)
				out[n++] = *p;
		if (*p != '"')
			return -1;
	} else {
		for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t'; p++)
			if (n < outlen - 1)
				out[n++] = *p;
	}
	out[n] = '\0';
	if (n == 0 || n > ECCR_MP_BOUNDARY_MAX || out[n - 1] == ' ')
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!boundary_char(out[i]))
			return -1;
	return 0;
}

int eccr_multipart_init(struct eccr_multipart *mp, const char *content_type,
    eccr_mp_callback cb, void *user)
{
	char boundary[ECCR_MP_BOUNDARY_MAX + 2];
	size_t i;
	int k;

	memset(mp, 0, sizeof *mp);
	if (content_type == NULL || parse_boundary(content_type, boundary, sizeof boundary) != 0)
		return -1;
	mp->cb = cb;
	mp->user = user;
	mp->dlen = (size_t)snprintf(mp->delim, sizeof mp->delim, "\r\n--%s", boundary);
	/* KMP failure function of the delimiter. */
	mp->fail[0] = 0;
	for (i = 1, k = 0; i < mp->dlen; i++) {
		while (k > 0 && mp->delim[i] != mp->delim[k])
			k = mp->fail[k - 1];
		if (mp->delim[i] == mp->delim[k])
			k++;
		mp->fail[i] = k;
	}
	/* The first delimiter may open the body without a CRLF before it:
	 * pretend the CRLF was there. */
	mp->match = 2;
	mp->state = S_PREAMBLE;
	return 0;
}

static int flush(struct eccr_multipart *mp)
{
	if (mp->nout == 0 || mp->state != S_BODY)
		return (mp->nout = 0), 0;
	if (mp->cb(mp->user, ECCR_MP_DATA, &mp->part, mp->out, mp->nout) != 0)
		return fail(mp, "the upload was refused");
	mp->nout = 0;
	return 0;
}

static int emit_byte(struct eccr_multipart *mp, char c)
{
	if (mp->state != S_BODY)
		return 0;
	mp->out[mp->nout++] = c;
	return mp->nout == sizeof mp->out ? flush(mp) : 0;
}

/* Copy one quoted-or-token parameter value of a header. */
static void header_param(const char *h, const char *name, char *out, size_t outlen, bool *found)
{
	size_t nl = strlen(name), n = 0;
	const char *p = h;

	*found = false;
	out[0] = '\0';
	while ((p = strcasestr(p, name)) != NULL) {
		if ((p == h || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t') && p[nl] == '=')
			break;
		p += nl;
	}
	if (p == NULL)
		return;
	p += nl + 1;
	*found = true;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n < outlen - 1)
				out[n++] = *p;
		}
	} else {
		for (; *p != '\0' && *p != ';' && *p != '\r' && *p != '\n'; p++)
			if (n < outlen - 1)
				out[n++] = *p;
	}
	out[n] = '\0';
}

static int parse_headers(struct eccr_multipart *mp)
{
	char *line, *save = NULL;
	bool found;

	memset(&mp->part, 0, sizeof mp->part);
	mp->headers[mp->nheaders] = '\0';
	for (line = strtok_r(mp->headers, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save)) {
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			const char *v = line + 20;

			while (*v == ' ' || *v == '\t')
				v++;
			if (strncasecmp(v, "form-data", 9) != 0)
				return fail(mp, "a part is not form-data");
			header_param(v, "name", mp->part.name, sizeof mp->part.name, &found);
			header_param(v, "filename", mp->part.filename, sizeof mp->part.filename,
			    &mp->part.has_filename);
		} else if (strncasecmp(line, "Content-Type:", 13) == 0) {
			const char *v = line + 13;

			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(mp->part.content_type, sizeof mp->part.content_type, "%s", v);
		}
	}
	if (++mp->parts > ECCR_MP_PARTS_MAX)
		return fail(mp, "too many parts");
	if (mp->cb(mp->user, ECCR_MP_PART_BEGIN, &mp->part, NULL, 0) != 0)
		return fail(mp, "the upload was refused");
	mp->state = S_BODY;
	mp->match = 0;
	return 0;
}

/* One byte of a header block; the block ends at an empty line. */
static int header_byte(struct eccr_multipart *mp, char c)
{
	if (mp->nheaders == sizeof mp->headers - 1)
		return fail(mp, "a part's headers are too long");
	mp->headers[mp->nheaders++] = c;
	if (mp->nheaders == 2 && memcmp(mp->headers, "\r\n", 2) == 0) {
		mp->nheaders = 0;             /* a part without headers */
		return parse_headers(mp);
	}
	if (mp->nheaders >= 4 && memcmp(mp->headers + mp->nheaders - 4, "\r\n\r\n", 4) == 0) {
		mp->nheaders -= 2;
		return parse_headers(mp);
	}
	return 0;
}

/* After a delimiter: "--" ends the body; padding then CRLF starts a part. */
static int after_byte(struct eccr_multipart *mp, char c)
{
	if (mp->nafter == 0 && (c == ' ' || c == '\t'))
		return 0;
	mp->after[mp->nafter++] = c;
	if (mp->nafter < 2)
		return 0;
	mp->nafter = 0;
	if (memcmp(mp->after, "--", 2) == 0) {
		mp->state = S_EPILOGUE;
		return 0;
	}
	if (memcmp(mp->after, "\r\n", 2) == 0) {
		mp->state = S_HEADERS;
		mp->nheaders = 0;
		return 0;
	}
	return fail(mp, "malformed delimiter line");
}

/* Preamble and body bytes go through the delimiter matcher. */
static int match_byte(struct eccr_multipart *mp, char c)
{
	size_t k = mp->match, k2 = k, confirmed, i;

	while (k2 > 0 && mp->delim[k2] != c)
		k2 = (size_t)mp->fail[k2 - 1];
	if (mp->delim[k2] == c)
		k2++;
	/* Of the k held bytes plus c, all but the last k2 are data now. */
	confirmed = k + 1 - k2;
	for (i = 0; i < confirmed; i++)
		if (emit_byte(mp, i < k ? mp->delim[i] : c) != 0)
			return -1;
	mp->match = k2;
	if (k2 < mp->dlen)
		return 0;
	/* A whole delimiter: the current part (if any) ends here. */
	if (mp->state == S_BODY) {
		if (flush(mp) != 0)
			return -1;
		if (mp->cb(mp->user, ECCR_MP_PART_END, &mp->part, NULL, 0) != 0)
			return fail(mp, "the upload was refused");
	}
	mp->match = 0;
	mp->state = S_AFTER_DELIM;
	mp->nafter = 0;
	return 0;
}

int eccr_multipart_feed(struct eccr_multipart *mp, const char *data, size_t n)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i++) {
		switch (mp->state) {
		case S_PREAMBLE:
		case S_BODY:
			rc = match_byte(mp, data[i]);
			break;
		case S_AFTER_DELIM:
			rc = after_byte(mp, data[i]);
			break;
		case S_HEADERS:
			rc = header_byte(mp, data[i]);
			break;
		case S_EPILOGUE:
			i = n;
			break;
		default:
			return -1;
		}
	}
	if (rc == 0 && mp->state == S_BODY)
		rc = flush(mp);
	return rc;
}

int eccr_multipart_finish(struct eccr_multipart *mp)
{
	if (mp->state == S_EPILOGUE)
		return 0;
	if (mp->state != S_ERROR)
		fail(mp, mp->parts == 0 ? "no multipart delimiter found" :
		    "the body ends before the closing delimiter");
	return -1;
}
