/* storage.c - the storage interface: keys, and the calls handed to the
 * configured backend (storage_local.c, storage_s3.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "storage_impl.h"
#include "util.h"

struct eccr_storage *eccr_storage_new(const struct eccr_config *cfg, char *err, size_t errlen)
{
	if (cfg->storage.local_root[0] != '/') {
		snprintf(err, errlen, "storage.local_root must be an absolute path");
		return NULL;
	}
	if (cfg->storage.backend == ECCR_STORAGE_S3)
		return eccr_storage_s3_new(cfg, err, errlen);
	return eccr_storage_local_new(cfg, err, errlen);
}

void eccr_storage_free(struct eccr_storage *st)
{
	if (st != NULL)
		st->ops->free_(st);
}

bool eccr_storage_is_local(const struct eccr_storage *st)
{
	return st->backend == ECCR_STORAGE_LOCAL;
}

bool eccr_storage_key(const char *episode_id, const char *file_id, char out[ECCR_STORAGE_KEY_MAX])
{
	char e[37], f[37];

	if (!eccr_uuid_normalize(episode_id, e) || !eccr_uuid_normalize(file_id, f))
		return false;
	snprintf(out, ECCR_STORAGE_KEY_MAX, "files/%s/%s", e, f);
	return true;
}

/* Keys come from eccr_storage_key, but check the shape again before
 * touching a file system or a bucket: "files/<uuid>/<uuid>" only. */
bool eccr_storage_key_valid(const char *key)
{
	char e[37], f[37];

	if (strlen(key) != 6 + 36 + 1 + 36 || strncmp(key, "files/", 6) != 0 || key[42] != '/')
		return false;
	memcpy(e, key + 6, 36);
	e[36] = '\0';
	memcpy(f, key + 43, 36);
	f[36] = '\0';
	return eccr_uuid_valid(e) && eccr_uuid_valid(f);
}

int eccr_storage_mkdirs(const char *path, mode_t mode)
{
	char buf[4200], *p;

	snprintf(buf, sizeof buf, "%s", path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

int eccr_storage_sha256_final(void *evp_md_ctx, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_DigestFinal_ex(evp_md_ctx, md, &mdlen) != 1 || mdlen != 32)
		return EIO;
	eccr_hex_encode(md, 32, hex);
	return 0;
}

/* ------------------------------------------------------------ dispatch */

int eccr_storage_writer_open(struct eccr_storage *st, const char *key, const char *content_type,
    struct eccr_storage_writer **out)
{
	*out = NULL;
	if (!eccr_storage_key_valid(key))
		return EINVAL;
	return st->ops->writer_open(st, key, content_type, out);
}

int eccr_storage_write(struct eccr_storage_writer *w, const void *data, size_t n)
{
	return w->st->ops->write(w, data, n);
}

int eccr_storage_commit(struct eccr_storage_writer *w)
{
	return w->st->ops->commit(w);
}

void eccr_storage_abort(struct eccr_storage_writer *w)
{
	if (w != NULL)
		w->st->ops->abort(w);
}

int eccr_storage_stat(struct eccr_storage *st, const char *key, int64_t *size)
{
	return eccr_storage_key_valid(key) ? st->ops->stat(st, key, size) : EINVAL;
}

int eccr_storage_sha256(struct eccr_storage *st, const char *key, char hex[65])
{
	return eccr_storage_key_valid(key) ? st->ops->sha256(st, key, hex) : EINVAL;
}

int eccr_storage_read_head(struct eccr_storage *st, const char *key, void *buf, size_t max,
    size_t *got)
{
	*got = 0;
	if (!eccr_storage_key_valid(key) || max == 0)
		return EINVAL;
	return st->ops->read_head(st, key, buf, max, got);
}

int eccr_storage_delete(struct eccr_storage *st, const char *key)
{
	return eccr_storage_key_valid(key) ? st->ops->delete_(st, key) : EINVAL;
}

int eccr_storage_presign(struct eccr_storage *st, const char *method, const char *key,
    long expires_s, char *out, size_t outlen)
{
	if (!eccr_storage_key_valid(key))
		return EINVAL;
	return st->ops->presign != NULL ?
	    st->ops->presign(st, method, key, expires_s, NULL, NULL, out, outlen) : ENOTSUP;
}

int eccr_storage_presign_get(struct eccr_storage *st, const char *key, long expires_s,
    const char *content_type, const char *disposition, char *out, size_t outlen)
{
	if (!eccr_storage_key_valid(key))
		return EINVAL;
	return st->ops->presign != NULL ? st->ops->presign(st, "GET", key, expires_s, content_type,
	    disposition, out, outlen) : ENOTSUP;
}

int eccr_storage_local_path(const struct eccr_storage *st, const char *key, char *out, size_t outlen)
{
	int n;

	if (st->backend != ECCR_STORAGE_LOCAL)
		return ENOTSUP;
	if (!eccr_storage_key_valid(key))
		return EINVAL;
	n = snprintf(out, outlen, "%s/%s", st->root, key);
	return n < 0 || (size_t)n >= outlen ? ENAMETOOLONG : 0;
}
