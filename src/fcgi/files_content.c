/* files_content.c - GET and PUT /files/{id}/content: the bytes of the local
 * backend, behind a signed, expiring URL instead of a bearer token (so a
 * browser or a player can follow it).  GET answers Range with 206 and can
 * hand the sending to the web server (X-Sendfile, X-LIGHTTPD-send-file,
 * X-Accel-Redirect); PUT is the local equivalent of a presigned S3 PUT.
 * Content goes out with headers that keep it from running script in our
 * origin (content_headers), which the shipped web server configurations
 * pass on when they send the bytes themselves. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "content_rules.h"
#include "files.h"
#include "log.h"
#include "storage.h"

#define IO_CHUNK 65536

/* expires and signature from the query; false with 403 queued. */
static bool signature_ok(struct eccr_ctx *c, const char *method, const char *id)
{
	const char *exp = eccr_query_get(&c->req, "expires", NULL);
	const char *sig = eccr_query_get(&c->req, "signature", NULL);
	char want[44];
	int64_t expires;

	if (exp == NULL || sig == NULL || !eccr_parse_i64(exp, 0, INT64_MAX, &expires) ||
	    !file_url_signature(&c->app->cfg, method, id, expires, want) ||
	    strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0) {
		eccr_problem(&c->req, 403, "forbidden", "the URL's signature is not valid");
		return false;
	}
	if (expires < (int64_t)time(NULL)) {
		eccr_problem(&c->req, 403, "forbidden", "the URL has expired");
		return false;
	}
	return true;
}

/* One "bytes=a-b", "bytes=a-" or "bytes=-n" range.  Returns 1 with
 * [*from, *to] set, 0 to send the whole file (no or unsupported Range),
 * -1 when it cannot be satisfied. */
static int parse_range(const char *h, int64_t size, int64_t *from, int64_t *to)
{
	char a[24] = "", b[24] = "";
	const char *dash;
	int64_t x, y;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if ((dash = strchr(h, '-')) == NULL || dash - h > 20 || strlen(dash + 1) > 20)
		return 0;
	snprintf(a, sizeof a, "%.*s", (int)(dash - h), h);
	snprintf(b, sizeof b, "%s", dash + 1);
	if (a[0] == '\0') {                      /* the last n bytes */
		if (!eccr_parse_i64(b, 1, INT64_MAX, &y))
			return 0;
		if (size == 0)
			return -1;
		*from = y >= size ? 0 : size - y;
		*to = size - 1;
		return 1;
	}
	if (!eccr_parse_i64(a, 0, INT64_MAX, &x))
		return 0;
	if (b[0] == '\0')
		y = size - 1;
	else if (!eccr_parse_i64(b, 0, INT64_MAX, &y) || y < x)
		return 0;
	if (x >= size)
		return -1;
	*from = x;
	*to = y >= size ? size - 1 : y;
	return 1;
}

/* API.md: nothing uploaded may run script in the dashboard's origin.
 * nosniff: browsers keep to the declared type; the sandbox CSP: a
 * document opened anyway runs no script and gets a unique origin;
 * Content-Disposition: inline only for audio, video and raster images
 * (content_rules.c), with the name (RFC 6266 / 8187). */
static void content_headers(struct eccr_ctx *c, const char *type, const char *name)
{
	char disposition[ECCR_DISPOSITION_MAX];

	eccr_resp_header(&c->req, "X-Content-Type-Options", "nosniff");
	eccr_resp_header(&c->req, "Content-Security-Policy", "sandbox");
	if (eccr_content_disposition(type, name, disposition, sizeof disposition) >= 0)
		eccr_resp_header(&c->req, "Content-Disposition", "%s", disposition);
	else
		eccr_resp_header(&c->req, "Content-Disposition", "attachment");
}

/* Hand the sending to the web server when configured. */
static bool offload(struct eccr_ctx *c, const char *key, const char *path)
{
	switch (c->app->cfg.storage.sendfile) {
	case ECCR_SENDFILE_X_SENDFILE:
		eccr_resp_header(&c->req, "X-Sendfile", "%s", path);
		return true;
	case ECCR_SENDFILE_X_LIGHTTPD:
		eccr_resp_header(&c->req, "X-LIGHTTPD-send-file", "%s", path);
		return true;
	case ECCR_SENDFILE_X_ACCEL:
		/* nginx maps this internal location to storage.local_root. */
		eccr_resp_header(&c->req, "X-Accel-Redirect", "/_eccr_files/%s", key);
		return true;
	default:
		return false;
	}
}

static void stream_file(struct eccr_ctx *c, int fd, const char *type, int64_t from, int64_t len,
    int status)
{
	char *buf = malloc(IO_CHUNK);
	ssize_t n;

	eccr_resp_stream_begin(&c->req, status, type, len);
	if (c->req.method == ECCR_HEAD || buf == NULL) {
		free(buf);
		return;
	}
	while (len > 0 && (n = pread(fd, buf, len < IO_CHUNK ? (size_t)len : IO_CHUNK, from)) > 0) {
		if (eccr_resp_stream_write(&c->req, buf, (size_t)n) != 0)
			break;           /* the client went away */
		from += n;
		len -= n;
	}
	free(buf);
}

void eccr_files_content_get(struct eccr_ctx *c)
{
	char id[37], path[4200];
	int64_t size, from = 0, to = 0;
	PGresult *res;
	struct stat sb;
	int fd, r;

	if (!eccr_capture_uuid(c, 0, id) || !signature_ok(c, "GET", id) ||
	    !eccr_no_unknown_query(c) || (res = file_load(c, id)) == NULL)
		return;
	if (strcmp(PQgetvalue(res, 0, FILE_COL_STATUS), "ready") != 0 ||
	    eccr_storage_local_path(c->app->storage, PQgetvalue(res, 0, FILE_COL_KEY), path, sizeof path) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		eccr_problem(&c->req, 404, "not_found", "file %s has no content", id);
		PQclear(res);
		return;
	}
	fstat(fd, &sb);
	size = (int64_t)sb.st_size;
	content_headers(c, PQgetvalue(res, 0, FILE_COL_TYPE), PQgetvalue(res, 0, FILE_COL_NAME));
	eccr_resp_header(&c->req, "Accept-Ranges", "bytes");
	if (offload(c, PQgetvalue(res, 0, FILE_COL_KEY), path)) {
		/* The web server sends the bytes and answers Range itself. */
		eccr_resp_stream_begin(&c->req, 200, PQgetvalue(res, 0, FILE_COL_TYPE), -1);
	} else if ((r = parse_range(eccr_req_param(&c->req, "HTTP_RANGE"), size, &from, &to)) < 0) {
		eccr_resp_header(&c->req, "Content-Range", "bytes */%lld", (long long)size);
		eccr_problem(&c->req, 416, "bad_request", "the range is outside the file");
	} else if (r == 1) {
		eccr_resp_header(&c->req, "Content-Range", "bytes %lld-%lld/%lld", (long long)from,
		    (long long)to, (long long)size);
		stream_file(c, fd, PQgetvalue(res, 0, FILE_COL_TYPE), from, to - from + 1, 206);
	} else {
		stream_file(c, fd, PQgetvalue(res, 0, FILE_COL_TYPE), 0, size, 200);
	}
	close(fd);
	PQclear(res);
}

void eccr_files_content_put(struct eccr_ctx *c)
{
	struct eccr_storage_writer *w = NULL;
	char id[37], *buf;
	int64_t declared, got = 0;
	PGresult *res;
	int n, e = 0;

	if (!eccr_capture_uuid(c, 0, id) || !signature_ok(c, "PUT", id) ||
	    !eccr_no_unknown_query(c) || (res = file_load(c, id)) == NULL)
		return;
	declared = strtoll(PQgetvalue(res, 0, FILE_COL_SIZE), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, FILE_COL_STATUS), "pending") != 0) {
		eccr_problem(&c->req, 409, "conflict", "file %s is already complete", id);
	} else if ((buf = malloc(IO_CHUNK)) == NULL ||
	    (e = eccr_storage_writer_open(c->app->storage, PQgetvalue(res, 0, FILE_COL_KEY),
	    PQgetvalue(res, 0, FILE_COL_TYPE), &w)) != 0) {
		free(buf);
		file_storage_unavailable(c, e, "storage is unavailable");
	} else {
		while (e == 0 && (n = eccr_req_read_chunk(&c->req, buf, IO_CHUNK)) > 0) {
			got += n;
			e = got > declared ? EFBIG : eccr_storage_write(w, buf, (size_t)n);
		}
		free(buf);
		if (e == 0 && !eccr_req_stream_complete(&c->req)) {
			eccr_storage_abort(w);
			eccr_problem(&c->req, 400, "bad_request", "the body ended before its Content-Length");
		} else if (e == EFBIG) {
			eccr_storage_abort(w);
			eccr_problem(&c->req, 413, "payload_too_large",
			    "the body is larger than the declared size_bytes (%lld)", (long long)declared);
		} else if (e != 0) {
			eccr_storage_abort(w);
			file_storage_unavailable(c, e, "storage could not keep the file");
		} else if ((e = eccr_storage_commit(w)) != 0) {    /* frees w */
			file_storage_unavailable(c, e, "storage could not keep the file");
		} else {
			eccr_resp_empty(&c->req, 204);
		}
	}
	PQclear(res);
}
