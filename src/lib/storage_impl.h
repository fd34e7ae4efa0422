/* storage_impl.h - what the storage backends (storage_local.c,
 * storage_s3.c) implement behind storage.h.  Private to src/lib. */
#ifndef ECCR_STORAGE_IMPL_H
#define ECCR_STORAGE_IMPL_H

#include <sys/types.h>

#include "storage.h"

struct eccr_storage_ops {
	int (*writer_open)(struct eccr_storage *st, const char *key, const char *content_type,
	    struct eccr_storage_writer **out);
	int (*write)(struct eccr_storage_writer *w, const void *data, size_t n);
	int (*commit)(struct eccr_storage_writer *w);
	void (*abort)(struct eccr_storage_writer *w);
	int (*stat)(struct eccr_storage *st, const char *key, int64_t *size);
	int (*sha256)(struct eccr_storage *st, const char *key, char hex[65]);
	int (*read_head)(struct eccr_storage *st, const char *key, void *buf, size_t max,
	    size_t *got);
	int (*delete_)(struct eccr_storage *st, const char *key);
	/* response_type and response_disposition: NULL, or (GET only) what
	 * the store is to answer with as Content-Type and Content-Disposition. */
	int (*presign)(struct eccr_storage *st, const char *method, const char *key,
	    long expires_s, const char *response_type, const char *response_disposition,
	    char *out, size_t outlen);
	void (*free_)(struct eccr_storage *st);
};

/* Each backend's state starts with this, and each writer with
 * struct eccr_storage_writer. */
struct eccr_storage {
	const struct eccr_storage_ops *ops;
	enum eccr_storage_backend backend;
	char root[4096];          /* storage.local_root (s3: its tmp/ spools uploads) */
};

struct eccr_storage_writer {
	struct eccr_storage *st;
};

struct eccr_storage *eccr_storage_local_new(const struct eccr_config *cfg, char *err,
    size_t errlen);
struct eccr_storage *eccr_storage_s3_new(const struct eccr_config *cfg, char *err,
    size_t errlen);

/* Shared by both backends. */
int eccr_storage_mkdirs(const char *path, mode_t mode);
bool eccr_storage_key_valid(const char *key);
/* Lower-case hex of a finished SHA-256 context; 0 or EIO. */
int eccr_storage_sha256_final(void *evp_md_ctx, char hex[65]);

#endif
