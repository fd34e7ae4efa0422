/* storage_local.c - the local backend: objects are files under
 * storage.local_root, written to a temporary name under its tmp/, fsynced
 * and renamed into place. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "storage_impl.h"
#include "util.h"

#define IO_CHUNK 65536

struct local_writer {
	struct eccr_storage_writer base;
	int fd;
	char tmp[4200];
	char final[4200];
};

static int local_writer_open(struct eccr_storage *st, const char *key, const char *content_type,
    struct eccr_storage_writer **out)
{
	struct local_writer *w;
	unsigned char rnd[8];
	char dir[4200];
	int e;

	(void)content_type;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return ENOMEM;
	w->base.st = st;
	w->fd = -1;
	if ((e = eccr_storage_local_path(st, key, w->final, sizeof w->final)) != 0) {
		free(w);
		return e;
	}
	snprintf(dir, sizeof dir, "%s", w->final);
	if ((e = eccr_storage_mkdirs(dirname(dir), 0750)) != 0) {
		free(w);
		return e;
	}
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd) {
		free(w);
		return EIO;
	}
	snprintf(w->tmp, sizeof w->tmp, "%s/tmp/%s.%02x%02x%02x%02x%02x%02x%02x%02x.part", st->root,
	    key + 43, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if ((w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0) {
		e = errno;
		free(w);
		return e;
	}
	*out = &w->base;
	return 0;
}

static int local_write(struct eccr_storage_writer *base, const void *data, size_t n)
{
	struct local_writer *w = (struct local_writer *)base;

	return eccr_write_all(w->fd, data, n);
}

static void local_abort(struct eccr_storage_writer *base)
{
	struct local_writer *w = (struct local_writer *)base;

	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	free(w);
}

/* fsync the data, rename into place, fsync the directory: after commit
 * returns 0 the object survives a crash. */
static int local_commit(struct eccr_storage_writer *base)
{
	struct local_writer *w = (struct local_writer *)base;
	char dir[4200];
	int e = 0, dfd;

	if (fsync(w->fd) != 0 || close(w->fd) != 0) {
		e = errno;
		w->fd = -1;
		local_abort(base);
		return e;
	}
	w->fd = -1;
	if (rename(w->tmp, w->final) != 0) {
		e = errno;
		local_abort(base);
		return e;
	}
	snprintf(dir, sizeof dir, "%s", w->final);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) != 0)
			e = errno;
		close(dfd);
	}
	free(w);
	return e;
}

static int local_stat(struct eccr_storage *st, const char *key, int64_t *size)
{
	char path[4200];
	struct stat sb;
	int e;

	if ((e = eccr_storage_local_path(st, key, path, sizeof path)) != 0)
		return e;
	if (stat(path, &sb) != 0)
		return errno;
	*size = (int64_t)sb.st_size;
	return 0;
}

static int local_sha256(struct eccr_storage *st, const char *key, char hex[65])
{
	char path[4200], *buf = NULL;
	EVP_MD_CTX *sha = NULL;
	ssize_t n = 0;
	int fd, e;

	if ((e = eccr_storage_local_path(st, key, path, sizeof path)) != 0)
		return e;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	buf = malloc(IO_CHUNK);
	sha = EVP_MD_CTX_new();
	e = buf == NULL || sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1 ? ENOMEM : 0;
	while (e == 0 && (n = read(fd, buf, IO_CHUNK)) != 0) {
		if (n < 0 && errno != EINTR)
			e = errno;
		else if (n > 0 && EVP_DigestUpdate(sha, buf, (size_t)n) != 1)
			e = EIO;
	}
	if (e == 0)
		e = eccr_storage_sha256_final(sha, hex);
	close(fd);
	free(buf);
	EVP_MD_CTX_free(sha);
	return e;
}

static int local_read_head(struct eccr_storage *st, const char *key, void *buf, size_t max,
    size_t *got)
{
	char path[4200];
	ssize_t n;
	int fd, e;

	if ((e = eccr_storage_local_path(st, key, path, sizeof path)) != 0)
		return e;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	while (*got < max) {
		n = pread(fd, (char *)buf + *got, max - *got, (off_t)*got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	close(fd);
	return e;
}

static int local_delete(struct eccr_storage *st, const char *key)
{
	char path[4200];
	int e;

	if ((e = eccr_storage_local_path(st, key, path, sizeof path)) != 0)
		return e;
	if (unlink(path) != 0 && errno != ENOENT)
		return errno;
	return 0;
}

static void local_free(struct eccr_storage *st)
{
	free(st);
}

static const struct eccr_storage_ops local_ops = {
	.writer_open = local_writer_open,
	.write = local_write,
	.commit = local_commit,
	.abort = local_abort,
	.stat = local_stat,
	.sha256 = local_sha256,
	.read_head = local_read_head,
	.delete_ = local_delete,
	.presign = NULL,
	.free_ = local_free,
};

struct eccr_storage *eccr_storage_local_new(const struct eccr_config *cfg, char *err, size_t errlen)
{
	struct eccr_storage *st;
	char tmp[4200];
	int e;

	if ((st = calloc(1, sizeof *st)) == NULL) {
		snprintf(err, errlen, "storage: out of memory");
		return NULL;
	}
	st->ops = &local_ops;
	st->backend = ECCR_STORAGE_LOCAL;
	snprintf(st->root, sizeof st->root, "%s", cfg->storage.local_root);
	snprintf(tmp, sizeof tmp, "%s/tmp", st->root);
	if ((e = eccr_storage_mkdirs(tmp, 0750)) != 0) {
		snprintf(err, errlen, "storage.local_root: cannot create %s: %s", tmp, strerror(e));
		free(st);
		return NULL;
	}
	return st;
}
