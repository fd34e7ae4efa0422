/* files.h - shared pieces of the files API (files.c, files_upload.c,
 * files_content.c). */
#ifndef ECCR_FCGI_FILES_H
#define ECCR_FCGI_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"

#define FILE_NAME_MAX 255
#define URL_EXPIRES_MAX 604800
#define URL_EXPIRES_DEFAULT 900

/* 1..255 bytes of UTF-8, no '/', '\\' or control characters, not "." or "..". */
bool file_name_valid(const char *s, size_t n);
/* A media type we are willing to store and send back: printable ASCII. */
bool file_content_type_valid(const char *s);

/* HMAC-SHA256 over "METHOD\nfile_id\nexpires" with storage.url_secret,
 * base64url; out needs 44 bytes.  false when no secret is configured. */
bool file_url_signature(const struct eccr_config *cfg, const char *method,
    const char *file_id, int64_t expires, char out[44]);
/* The signed content URL for a file. */
void file_signed_url(struct eccr_ctx *c, const char *method, const char *file_id,
    int64_t expires, struct eccr_buf *out);

/* 503 "unavailable" with Retry-After: what failed, and why (an errno
 * value from storage.h, or 0). */
void file_storage_unavailable(struct eccr_ctx *c, int e, const char *what);

/* 404 (queued) unless episode id exists; false also on a database error. */
bool file_episode_exists(struct eccr_ctx *c, const char *id);
/* Record the caller and insert a file row with its file_uploaded event
 * when ready: p = id, episode, name, content type, size, sha256 (or NULL),
 * storage key, actor, actor name, status.  The result's column 0 is the
 * answer: the file's JSON, or with tail (the rest of a JSON object, after
 * a first member "file") {"file":...<tail>; column 1 the event id.  Under
 * an Idempotency-Key the answer is kept in the same statement.  No row
 * when the episode is gone. */
enum eccr_db_err file_insert(struct eccr_ctx *c, const char *const p[10], const char *tail,
    PGresult **res);

/* The file's row (columns: json, status, storage_key, size_bytes, name,
 * created_by, content_type, episode_id), or NULL with 404/503 queued. */
PGresult *file_load(struct eccr_ctx *c, const char *id);
enum { FILE_COL_JSON, FILE_COL_STATUS, FILE_COL_KEY, FILE_COL_SIZE, FILE_COL_NAME,
	FILE_COL_CREATED_BY, FILE_COL_TYPE, FILE_COL_EPISODE };

/* Handlers (files.c, files_upload.c, files_content.c). */
void eccr_files_upload(struct eccr_ctx *c);
void eccr_files_list(struct eccr_ctx *c);
void eccr_files_get(struct eccr_ctx *c);
void eccr_files_delete(struct eccr_ctx *c);
void eccr_files_url(struct eccr_ctx *c);
void eccr_files_direct(struct eccr_ctx *c);
void eccr_files_complete(struct eccr_ctx *c);
void eccr_files_content_get(struct eccr_ctx *c);
void eccr_files_content_put(struct eccr_ctx *c);
int eccr_files_register(void);

#endif
