/* http.c - see http.h. */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void eccr_req_init(struct eccr_req *r)
{
	memset(r, 0, sizeof *r);
}

void eccr_req_free(struct eccr_req *r)
{
	eccr_buf_free(&r->pathbuf);
	eccr_buf_free(&r->querybuf);
	eccr_buf_free(&r->body);
	eccr_buf_free(&r->headers);
	eccr_buf_free(&r->out);
	memset(r, 0, sizeof *r);
}

const char *eccr_req_param(const struct eccr_req *r, const char *name)
{
	return FCGX_GetParam(name, r->fcgx->envp);
}

/* The path of REQUEST_URI: the query string and any fragment cut off. */
static size_t uri_path_len(const char *uri)
{
	return strcspn(uri, "?#");
}

static int parse_query(struct eccr_req *r, const char *qs)
{
	char *p, *end;

	eccr_buf_reset(&r->querybuf);
	eccr_buf_adds(&r->querybuf, qs);
	if (r->querybuf.oom)
		return -1;
	p = r->querybuf.p;
	end = p + r->querybuf.len;
	while (p < end) {
		char *amp = memchr(p, '&', (size_t)(end - p));
		char *stop = amp ? amp : end;
		char *eq;
		long klen, vlen;

		*stop = '\0';
		if (stop == p) {          /* "a=1&&b=2": skip the empty pair */
			p = stop + 1;
			continue;
		}
		if (r->nquery == ECCR_MAX_QUERY)
			return -1;
		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq != NULL)
			*eq = '\0';
		klen = eccr_query_decode(p, strlen(p));
		vlen = eq ? eccr_query_decode(eq + 1, strlen(eq + 1)) : 0;
		if (klen <= 0 || vlen < 0)
			return -1;
		r->query[r->nquery].key = p;
		r->query[r->nquery].value = eq ? eq + 1 : "";
		r->query[r->nquery].valuelen = (size_t)vlen;
		r->query[r->nquery].used = false;
		r->nquery++;
		p = stop + 1;
	}
	return 0;
}

static void req_reset(struct eccr_req *r, FCGX_Request *fcgx)
{
	r->fcgx = fcgx;
	r->nquery = 0;
	r->body_read = false;
	r->streamed = 0;
	r->authenticated = false;
	memset(&r->who, 0, sizeof r->who);
	memset(&r->match, 0, sizeof r->match);
	memset(&r->path, 0, sizeof r->path);
	r->route_name = "unmatched";
	r->status = 0;
	r->problem = false;
	r->sent = false;
	eccr_buf_reset(&r->body);
	eccr_buf_reset(&r->headers);
	eccr_buf_reset(&r->out);
}

int eccr_req_begin(struct eccr_req *r, FCGX_Request *fcgx)
{
	const char *uri, *q;

	req_reset(r, fcgx);
	r->method_str = eccr_req_param(r, "REQUEST_METHOD");
	r->method = eccr_method_parse(r->method_str ? r->method_str : "");
	uri = eccr_req_param(r, "REQUEST_URI");
	if (uri == NULL || uri[0] != '/') {
		eccr_problem(r, 400, "bad_request", "the request has no valid REQUEST_URI");
		return 400;
	}
	eccr_buf_reset(&r->pathbuf);
	eccr_buf_add(&r->pathbuf, uri, uri_path_len(uri));
	if (r->pathbuf.oom || eccr_path_split(r->pathbuf.p, &r->path) != 0) {
		eccr_problem(r, 400, "bad_request", "the request path is malformed");
		return 400;
	}
	q = strchr(uri, '?');
	if (q != NULL && parse_query(r, q + 1) != 0) {
		eccr_problem(r, 400, "bad_request",
		    "the query string is malformed or has more than %d parameters",
		    ECCR_MAX_QUERY);
		return 400;
	}
	return 0;
}

const char *eccr_query_get(struct eccr_req *r, const char *key, size_t *len)
{
	const char *found = NULL;

	for (size_t i = 0; i < r->nquery; i++) {
		if (strcmp(r->query[i].key, key) != 0)
			continue;
		r->query[i].used = true;
		if (found == NULL) {
			found = r->query[i].value;
			if (len)
				*len = r->query[i].valuelen;
		}
	}
	return found;
}

const char *eccr_query_unused(const struct eccr_req *r)
{
	for (size_t i = 0; i < r->nquery; i++)
		if (!r->query[i].used)
			return r->query[i].key;
	return NULL;
}

enum eccr_body_err eccr_req_read_body(struct eccr_req *r, int64_t max)
{
	const char *cl = eccr_req_param(r, "CONTENT_LENGTH");
	int64_t declared = -1;

	r->body_read = true;
	eccr_buf_reset(&r->body);
	if (cl != NULL && cl[0] != '\0' && !eccr_parse_i64(cl, 0, INT64_MAX, &declared))
		return ECCR_BODY_IO;
	if (declared > max)
		return ECCR_BODY_TOO_LARGE;
	/* Read in chunks until EOF; never trust the declared length for the
	 * allocation beyond the limit. */
	for (;;) {
		int n;

		if (!eccr_buf_reserve(&r->body, 16384))
			return ECCR_BODY_IO;
		n = FCGX_GetStr(r->body.p + r->body.len, 16384, r->fcgx->in);
		if (n <= 0)
			break;
		r->body.len += (size_t)n;
		r->body.p[r->body.len] = '\0';
		if ((int64_t)r->body.len > max)
			return ECCR_BODY_TOO_LARGE;
	}
	return ECCR_BODY_OK;
}

bool eccr_req_is_json(const struct eccr_req *r)
{
	const char *ct = eccr_req_param(r, "CONTENT_TYPE");
	size_t n;

	if (ct == NULL)
		return false;
	n = strcspn(ct, "; \t");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	/* application/merge-patch+json and friends */
	return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
	    strncasecmp(ct + n - 5, "+json", 5) == 0;
}

void eccr_resp_status(struct eccr_req *r, int status)
{
	r->status = status;
}

void eccr_resp_header(struct eccr_req *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	char value[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Header values come from our own code, but never let a CR/LF from
	 * anywhere split the header block. */
	for (char *p = value; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	eccr_buf_adds(&r->headers, name);
	eccr_buf_add(&r->headers, ": ", 2);
	eccr_buf_adds(&r->headers, value);
	eccr_buf_add(&r->headers, "\r\n", 2);
}

void eccr_resp_json(struct eccr_req *r, int status, const char *json, size_t len)
{
	r->status = status;
	r->problem = false;
	eccr_buf_reset(&r->out);
	eccr_buf_add(&r->out, json, len);
}

void eccr_resp_empty(struct eccr_req *r, int status)
{
	r->status = status;
	r->problem = false;
	eccr_buf_reset(&r->out);
}

const char *eccr_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static bool has_header(const struct eccr_req *r, const char *name)
{
	size_t n = strlen(name);
	const char *p = r->headers.p, *end;

	if (p == NULL)
		return false;
	end = p + r->headers.len;
	while (p != NULL && p < end) {
		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = memchr(p, '\n', (size_t)(end - p));
		if (p != NULL)
			p++;
	}
	return false;
}

static void problem_head(struct eccr_req *r, int status, const char *code)
{
	/* API.md: every 503 says when to come back; handlers that know
	 * better set their own Retry-After first. */
	if (status == 503 && !has_header(r, "Retry-After"))
		eccr_resp_header(r, "Retry-After", "5");
	r->status = status;
	r->problem = true;
	eccr_buf_reset(&r->out);
	eccr_buf_printf(&r->out,
	    "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"code\":\"%s\"",
	    eccr_status_text(status), status, code);
}

void eccr_problem(struct eccr_req *r, int status, const char *code,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		detail[0] = '\0';
	problem_head(r, status, code);
	eccr_buf_adds(&r->out, ",\"detail\":");
	/* detail may quote a field name from the request: if truncation cut
	 * a UTF-8 sequence, drop the broken tail rather than emit bad UTF-8. */
	n = (int)strlen(detail);
	while (n > 0 && eccr_utf8_len(detail, (size_t)n) < 0)
		n--;
	eccr_buf_add_json_str(&r->out, detail, (size_t)n);
	eccr_buf_addc(&r->out, '}');
}

void eccr_problem_valid(struct eccr_req *r, const struct eccr_valid *v)
{
	problem_head(r, 400, "validation_failed");
	eccr_buf_adds(&r->out, ",\"detail\":");
	if (v->n > 0) {
		char d[256];
		int n = snprintf(d, sizeof d, "%s: %s", v->e[0].field, v->e[0].message);

		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof d)
			n = sizeof d - 1;
		while (n > 0 && eccr_utf8_len(d, (size_t)n) < 0)
			n--;
		eccr_buf_add_json_str(&r->out, d, (size_t)n);
	} else {
		eccr_buf_adds(&r->out, "\"the request is not valid\"");
	}
	eccr_buf_adds(&r->out, ",\"errors\":[");
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			eccr_buf_addc(&r->out, ',');
		eccr_buf_adds(&r->out, "{\"field\":");
		eccr_buf_add_json_str(&r->out, v->e[i].field, strlen(v->e[i].field));
		eccr_buf_adds(&r->out, ",\"message\":");
		eccr_buf_add_json_str(&r->out, v->e[i].message, strlen(v->e[i].message));
		eccr_buf_addc(&r->out, '}');
	}
	eccr_buf_adds(&r->out, "]}");
}

void eccr_resp_send(struct eccr_req *r)
{
	FCGX_Stream *o = r->fcgx->out;

	if (r->sent)
		return;
	r->sent = true;
	if (r->out.oom || r->headers.oom) {
		r->status = 500;
		eccr_buf_reset(&r->headers);
		eccr_buf_reset(&r->out);
	}
	if (r->status == 0)
		r->status = 500;
	/* Formatted here, not with FCGX_FPrintF: libfcgi's own printf knows
	 * no %zu. */
	char head[192];
	int n = snprintf(head, sizeof head, "Status: %d %s\r\n", r->status,
	    eccr_status_text(r->status));
	FCGX_PutStr(head, n, o);
	if (r->headers.len)
		FCGX_PutStr(r->headers.p, (int)r->headers.len, o);
	if (r->status != 204 && r->status != 304) {
		n = snprintf(head, sizeof head, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		    r->problem ? "application/problem+json" : "application/json; charset=utf-8",
		    r->out.len);
		FCGX_PutStr(head, n, o);
	}
	FCGX_PutStr("Cache-Control: no-store\r\n\r\n", 27, o);
	if (r->out.len && r->method != ECCR_HEAD && r->status != 204)
		FCGX_PutStr(r->out.p, (int)r->out.len, o);
}

int eccr_req_read_chunk(struct eccr_req *r, char *buf, int n)
{
	int got = FCGX_GetStr(buf, n, r->fcgx->in);

	if (got < 0)
		got = 0;
	r->streamed += got;
	return got;
}

bool eccr_req_stream_complete(const struct eccr_req *r)
{
	const char *cl = eccr_req_param(r, "CONTENT_LENGTH");
	int64_t declared;

	if (cl == NULL || *cl == '\0' || !eccr_parse_i64(cl, 0, INT64_MAX, &declared))
		return true;
	return r->streamed >= declared;
}

void eccr_resp_stream_begin(struct eccr_req *r, int status, const char *content_type,
    int64_t length)
{
	FCGX_Stream *o = r->fcgx->out;
	char head[512];
	int n;

	r->sent = true;
	r->status = status;
	n = snprintf(head, sizeof head, "Status: %d %s\r\n", status, eccr_status_text(status));
	FCGX_PutStr(head, n, o);
	if (r->headers.len)
		FCGX_PutStr(r->headers.p, (int)r->headers.len, o);
	if (content_type != NULL) {
		n = snprintf(head, sizeof head, "Content-Type: %s\r\n", content_type);
		FCGX_PutStr(head, n, o);
	}
	if (length >= 0) {
		n = snprintf(head, sizeof head, "Content-Length: %lld\r\n", (long long)length);
		FCGX_PutStr(head, n, o);
	}
	FCGX_PutStr("\r\n", 2, o);
}

int eccr_resp_stream_write(struct eccr_req *r, const char *data, size_t n)
{
	while (n > 0) {
		int chunk = n > (1 << 20) ? (1 << 20) : (int)n;

		if (FCGX_PutStr(data, chunk, r->fcgx->out) != chunk)
			return -1;
		data += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}
