/* storage.c - the local backend (the s3 backend arrives with SigV4). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

struct eccr_storage {
	enum eccr_storage_backend backend;
	char root[4096];
};

struct eccr_storage_writer {
	struct eccr_storage *st;
	int fd;
	char tmp[4200];
	char final[4200];
};

static int mkdirs(const char *path, mode_t mode)
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

struct eccr_storage *eccr_storage_new(const struct eccr_config *cfg, char *err, size_t errlen)
{
	struct eccr_storage *st;
	char tmp[4200];
	int e;

	if (cfg->storage.backend != ECCR_STORAGE_LOCAL) {
		snprintf(err, errlen, "storage.backend = s3 is not available in this build yet");
		return NULL;
	}
	if (cfg->storage.local_root[0] != '/') {
		snprintf(err, errlen, "storage.local_root must be an absolute path");
		return NULL;
	}
	if ((st = calloc(1, sizeof *st)) == NULL)
		return NULL;
	st->backend = cfg->storage.backend;
	snprintf(st->root, sizeof st->root, "%s", cfg->storage.local_root);
	snprintf(tmp, sizeof tmp, "%s/tmp", st->root);
	if ((e = mkdirs(tmp, 0750)) != 0) {
		snprintf(err, errlen, "storage.local_root: cannot create %s: %s", tmp, strerror(e));
		free(st);
		return NULL;
	}
	return st;
}

void eccr_storage_free(struct eccr_storage *st)
{
	free(st);
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
 * touching the file system: "files/<uuid>/<uuid>" and nothing else. */
static bool key_valid(const char *key)
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

int eccr_storage_local_path(const struct eccr_storage *st, const char *key, char *out, size_t outlen)
{
	int n;

	if (!key_valid(key))
		return EINVAL;
	n = snprintf(out, outlen, "%s/%s", st->root, key);
	return n < 0 || (size_t)n >= outlen ? ENAMETOOLONG : 0;
}

int eccr_storage_writer_open(struct eccr_storage *st, const char *key, struct eccr_storage_writer **out)
{
	struct eccr_storage_writer *w;
	unsigned char rnd[8];
	char dir[4200];
	int e;

	*out = NULL;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return ENOMEM;
	w->st = st;
	w->fd = -1;
	if ((e = eccr_storage_local_path(st, key, w->final, sizeof w->final)) != 0) {
		free(w);
		return e;
	}
	snprintf(dir, sizeof dir, "%s", w->final);
	if ((e = mkdirs(dirname(dir), 0750)) != 0) {
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
	*out = w;
	return 0;
}

int eccr_storage_write(struct eccr_storage_writer *w, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t k = write(w->fd, p, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

void eccr_storage_abort(struct eccr_storage_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	free(w);
}

/* fsync the data, rename into place, fsync the directory: after commit
 * returns 0 the object survives a crash. */
int eccr_storage_commit(struct eccr_storage_writer *w)
{
	char dir[4200];
	int e = 0, dfd;

	if (fsync(w->fd) != 0 || close(w->fd) != 0) {
		e = errno;
		w->fd = -1;
		eccr_storage_abort(w);
		return e;
	}
	w->fd = -1;
	if (rename(w->tmp, w->final) != 0) {
		e = errno;
		eccr_storage_abort(w);
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

int eccr_storage_stat(struct eccr_storage *st, const char *key, int64_t *size)
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

int eccr_storage_delete(struct eccr_storage *st, const char *key)
{
	char path[4200];
	int e;

	if ((e = eccr_storage_local_path(st, key, path, sizeof path)) != 0)
		return e;
	if (unlink(path) != 0 && errno != ENOENT)
		return errno;
	return 0;
}
