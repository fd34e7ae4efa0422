/* storage.h - where file bytes live.  One small interface, two backends:
 * "local" (files under storage.local_root, written to a temporary name,
 * fsynced and renamed into place) and "s3".  Keys are built from ids only
 * (eccr_storage_key), never from anything a client chose. */
#ifndef ECCR_STORAGE_H
#define ECCR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define ECCR_STORAGE_KEY_MAX 96

struct eccr_storage;
struct eccr_storage_writer;

/* Check the backend's settings (local: the root exists or can be made).
 * NULL with err set on failure. */
struct eccr_storage *eccr_storage_new(const struct eccr_config *cfg, char *err, size_t errlen);
void eccr_storage_free(struct eccr_storage *st);

/* "files/<episode uuid>/<file uuid>"; both must be valid lower-case UUIDs. */
bool eccr_storage_key(const char *episode_id, const char *file_id,
    char out[ECCR_STORAGE_KEY_MAX]);

/* Streamed writes: nothing is visible under key until commit.  Each call
 * returns 0 or an errno value; commit and abort free the writer. */
int eccr_storage_writer_open(struct eccr_storage *st, const char *key,
    struct eccr_storage_writer **out);
int eccr_storage_write(struct eccr_storage_writer *w, const void *data, size_t n);
int eccr_storage_commit(struct eccr_storage_writer *w);
void eccr_storage_abort(struct eccr_storage_writer *w);

/* 0 and the size, or ENOENT, or another errno value. */
int eccr_storage_stat(struct eccr_storage *st, const char *key, int64_t *size);
/* 0 also when the object was already gone. */
int eccr_storage_delete(struct eccr_storage *st, const char *key);
/* Local backend: the object's path (for reading or X-Sendfile). */
int eccr_storage_local_path(const struct eccr_storage *st, const char *key,
    char *out, size_t outlen);
bool eccr_storage_is_local(const struct eccr_storage *st);

#endif
