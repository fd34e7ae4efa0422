/* storage.h - where file bytes live.  One small interface, two backends:
 * "local" (files under storage.local_root, written to a temporary name,
 * fsynced and renamed into place; storage_local.c) and "s3" (any
 * S3-compatible store, signed with SigV4 and reached with libcurl;
 * storage_s3.c).  Keys are built from ids only (eccr_storage_key), never
 * from anything a client chose.
 *
 * Errors are errno values.  Callers rely on three of them: ENOENT (no such
 * object), EFBIG (too large) and EAGAIN (the store is unreachable, timed
 * out or failing: answer 503 and let the client or the worker retry).
 * Anything else is a refusal that will not go away by itself (EACCES: the
 * store refused our credentials, EIO: it answered something unexpected).
 *
 * Threads: every call may be made from any thread at once on one
 * eccr_storage; new and free run before the threads start and after they
 * stop.  The s3 backend keeps one libcurl handle per thread (connections
 * are reused); calls block for at most the store's timeouts. */
#ifndef ECCR_STORAGE_H
#define ECCR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ECCR_STORAGE_KEY_MAX 96

struct eccr_storage;
struct eccr_storage_writer;

/* Check the backend's settings (local: the root exists or can be made;
 * s3: endpoint, region, bucket, key id and secret are well formed; the
 * store is not contacted).  NULL with err set on failure. */
struct eccr_storage *eccr_storage_new(const struct eccr_config *cfg, char *err, size_t errlen);
void eccr_storage_free(struct eccr_storage *st);

/* "files/<episode uuid>/<file uuid>"; both must be valid lower-case UUIDs. */
bool eccr_storage_key(const char *episode_id, const char *file_id,
    char out[ECCR_STORAGE_KEY_MAX]);

/* Streamed writes: nothing is visible under key until commit, and abort
 * (or a crash) leaves nothing behind.  The s3 backend spools to an
 * unnamed temporary file under storage.local_root/tmp while hashing, and
 * PUTs it on commit.  content_type may be NULL.  Each call returns 0 or
 * an errno value; commit and abort free the writer. */
int eccr_storage_writer_open(struct eccr_storage *st, const char *key,
    const char *content_type, struct eccr_storage_writer **out);
int eccr_storage_write(struct eccr_storage_writer *w, const void *data, size_t n);
int eccr_storage_commit(struct eccr_storage_writer *w);
void eccr_storage_abort(struct eccr_storage_writer *w);

/* 0 and the size, or ENOENT, or another errno value. */
int eccr_storage_stat(struct eccr_storage *st, const char *key, int64_t *size);
/* The object's SHA-256 (lower-case hex), read back from the store. */
int eccr_storage_sha256(struct eccr_storage *st, const char *key, char hex[65]);
/* The object's first bytes: up to max of them into buf, *got how many
 * (fewer only when the object is shorter).  local: pread; s3: a GET with
 * Range: bytes=0-(max-1), signed in headers.  0, ENOENT or another errno. */
int eccr_storage_read_head(struct eccr_storage *st, const char *key, void *buf, size_t max,
    size_t *got);
/* 0 also when the object was already gone. */
int eccr_storage_delete(struct eccr_storage *st, const char *key);
/* s3: a presigned URL (GET or PUT, expires_s 1..604800) for the object.
 * local: ENOTSUP (the API signs its own content URLs). */
int eccr_storage_presign(struct eccr_storage *st, const char *method, const char *key,
    long expires_s, char *out, size_t outlen);
/* s3: a presigned GET whose answer carries the given Content-Type and
 * Content-Disposition (the signed response-content-type and
 * response-content-disposition parameters; either may be NULL), whatever
 * was stored with the object.  local: ENOTSUP. */
int eccr_storage_presign_get(struct eccr_storage *st, const char *key, long expires_s,
    const char *content_type, const char *disposition, char *out, size_t outlen);
/* Local backend: the object's path (for reading or X-Sendfile);
 * ENOTSUP on s3. */
int eccr_storage_local_path(const struct eccr_storage *st, const char *key,
    char *out, size_t outlen);
bool eccr_storage_is_local(const struct eccr_storage *st);

#endif
