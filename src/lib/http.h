/* http.h - one FastCGI request: its parsed input and its response.
 *
 * A struct eccr_req lives for the life of a worker thread and is reset per
 * request, so its buffers are reused: steady state allocates nothing here.
 * Responses are assembled (status, headers, body) and written once with
 * eccr_resp_send(), so a handler can never emit half a response. */
#ifndef ECCR_HTTP_H
#define ECCR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "auth.h"
#include "json.h"
#include "router.h"
#include "util.h"

#define ECCR_MAX_QUERY 32

struct eccr_query_param {
	const char *key;
	const char *value;
	size_t valuelen;
	bool used;            /* set by eccr_query_get; unknown params are 400 */
};

struct eccr_req {
	FCGX_Request *fcgx;
	enum eccr_method method;
	const char *method_str;
	struct eccr_buf pathbuf;     /* decoded copy of the path */
	struct eccr_path path;
	struct eccr_buf querybuf;
	struct eccr_query_param query[ECCR_MAX_QUERY];
	size_t nquery;
	struct eccr_buf body;
	bool body_read;
	int64_t streamed;            /* body bytes eccr_req_read_chunk returned */
	struct eccr_principal who;
	bool authenticated;
	struct eccr_route_match match;
	const char *route_name;

	/* response */
	int status;
	bool problem;                /* the body is a problem document */
	struct eccr_buf headers;
	struct eccr_buf out;         /* the body */
	bool sent;
};

void eccr_req_init(struct eccr_req *r);
void eccr_req_free(struct eccr_req *r);

/* Reset for a new FastCGI request and parse method, path and query.
 * Returns 0, or an HTTP status (400) with the problem already queued. */
int eccr_req_begin(struct eccr_req *r, FCGX_Request *fcgx);

const char *eccr_req_param(const struct eccr_req *r, const char *name);

/* Query parameter value (NULL when absent); marks it used. */
const char *eccr_query_get(struct eccr_req *r, const char *key, size_t *len);
/* First query parameter nobody asked for, or NULL. */
const char *eccr_query_unused(const struct eccr_req *r);

enum eccr_body_err { ECCR_BODY_OK, ECCR_BODY_TOO_LARGE, ECCR_BODY_IO };
/* Read the request body into r->body, at most max bytes. */
enum eccr_body_err eccr_req_read_body(struct eccr_req *r, int64_t max);

/* Streamed request bodies (uploads): up to n bytes into buf; returns the
 * count, 0 at the end of the body. */
int eccr_req_read_chunk(struct eccr_req *r, char *buf, int n);
/* After the last chunk: false when the body ended before its declared
 * CONTENT_LENGTH (the client went away mid-upload).  A body without a
 * declared length is taken as complete. */
bool eccr_req_stream_complete(const struct eccr_req *r);

/* Content-Type is application/json (or +json), parameters ignored. */
bool eccr_req_is_json(const struct eccr_req *r);

/* Response building.  Setting the status again replaces it; headers and
 * body accumulate until eccr_resp_send().  A problem replaces any body. */
void eccr_resp_status(struct eccr_req *r, int status);
void eccr_resp_header(struct eccr_req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Status + JSON body (copied). */
void eccr_resp_json(struct eccr_req *r, int status, const char *json, size_t len);
void eccr_resp_empty(struct eccr_req *r, int status);
/* problem+json: code is API.md's code; detail is printf-formatted. */
void eccr_problem(struct eccr_req *r, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 400 validation_failed with the collected errors. */
void eccr_problem_valid(struct eccr_req *r, const struct eccr_valid *v);
/* Streamed responses (file content): write the status, the headers added
 * so far, Content-Type and (when length >= 0) Content-Length now; the body
 * follows with eccr_resp_stream_write, which returns -1 once the client is
 * gone.  eccr_resp_send then does nothing. */
void eccr_resp_stream_begin(struct eccr_req *r, int status, const char *content_type,
    int64_t length);
int eccr_resp_stream_write(struct eccr_req *r, const char *data, size_t n);

/* Write everything to the FastCGI stream (once). */
void eccr_resp_send(struct eccr_req *r);

const char *eccr_status_text(int status);

#endif
