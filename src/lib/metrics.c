/* metrics.c - this process's counter file and the scrape over all of them
 * (see metrics.h for the design).
 *
 * Files in metrics.dir:
 *   KIND-PID-RANDOM.m  one per process, held with a shared flock(2) for the
 *                      process's whole life (the kernel drops it at death);
 *   archive.m          the counters of dead processes, folded in;
 *   .KIND-...          a file being created (never read, never folded).
 * A new file is created under a dot name, locked, then renamed: a file
 * with a visible name is always locked while its process lives, so
 * "flock(LOCK_EX|LOCK_NB) succeeds" means "its process is dead".
 * Folding and scraping take the archive's lock (exclusive and shared), so
 * a scrape never counts a dead file twice or not at all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eccr/plugin.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define ARCHIVE "archive.m"
#define ADD(p, n) __atomic_fetch_add((p), (n), __ATOMIC_RELAXED)

/* Until eccr_metrics_open() (and when it fails) counters go here, so
 * counting is never conditional and a process without a file still shows
 * its own counters. */
static struct eccr_metrics_region private_region = {
	.magic = ECCR_METRICS_MAGIC, .size = sizeof(struct eccr_metrics_region),
};
static struct eccr_metrics_region *mine = &private_region;
static bool mine_is_file;
/* Taken only to label a new sink or job type slot. */
static pthread_mutex_t label_lock = PTHREAD_MUTEX_INITIALIZER;

/* Map a counter file; NULL when it is not one of ours (size, magic). */
static struct eccr_metrics_region *map_file(int fd, int prot)
{
	struct eccr_metrics_region *r;
	struct stat st;

	if (fstat(fd, &st) != 0 || st.st_size != (off_t)sizeof *r)
		return NULL;
	r = mmap(NULL, sizeof *r, prot, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return NULL;
	if (r->magic != ECCR_METRICS_MAGIC || r->size != sizeof *r) {
		munmap(r, sizeof *r);
		return NULL;
	}
	return r;
}

/* Create a zeroed counter file at path (exclusive) and map it. */
static struct eccr_metrics_region *create_file(int dirfd, const char *name, int *fdout)
{
	struct eccr_metrics_region *r;
	/* Group-writable: with lighttpd spawning eccr-fcgi as its own user and
	 * eccr-worker running as eccr, both fold and read each other's files
	 * (metrics.dir is then a setgid directory of their shared group). */
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, sizeof *r) != 0 ||
	    (r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		unlinkat(dirfd, name, 0);
		close(fd);
		return NULL;
	}
	eccr_metrics_region_init(r);
	*fdout = fd;
	return r;
}

static bool is_process_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 2 && strcmp(name + n - 2, ".m") == 0 &&
	    strcmp(name, ARCHIVE) != 0;
}

/* Whether fd is a file of another layout (an older or newer ECCR), as
 * opposed to one that could not be mapped just now. */
static bool other_layout(int fd)
{
	uint64_t head[2];   /* magic, size: the start of every layout */
	struct stat st;

	if (fstat(fd, &st) != 0)
		return false;
	if (st.st_size != (off_t)sizeof(struct eccr_metrics_region))
		return true;
	if (pread(fd, head, sizeof head, 0) != (ssize_t)sizeof head)
		return false;
	return head[0] != ECCR_METRICS_MAGIC || head[1] != sizeof(struct eccr_metrics_region);
}

/* Start the archive afresh in this layout, in place (the same inode: a
 * process waiting for its lock then finds the new layout).  Its counters
 * are lost: Prometheus sees a counter reset, once, after an upgrade.
 * Under the archive's exclusive lock. */
static struct eccr_metrics_region *reset_archive(int fd)
{
	struct eccr_metrics_region *r;

	if (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof *r) != 0)
		return NULL;
	r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED)
		return NULL;
	eccr_metrics_region_init(r);
	eccr_notice("metrics: %s had another layout (another ECCR version): started afresh",
	    ARCHIVE);
	return r;
}

/* Open and lock the archive: LOCK_EX to fold into it (created if
 * missing), LOCK_SH to read it (read-only: a scraping process may run as
 * another user of the group).  Returns the fd, or -1. */
static int archive_open(int dirfd, int lock, struct eccr_metrics_region **out)
{
	bool write = lock == LOCK_EX;
	int fd = openat(dirfd, ARCHIVE, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);

	*out = NULL;
	if (fd < 0 && errno == ENOENT && lock == LOCK_EX)
		*out = create_file(dirfd, ARCHIVE, &fd);
	if (fd < 0)
		return -1;
	if (flock(fd, lock) != 0) {
		close(fd);
		return -1;
	}
	if (*out == NULL)
		*out = map_file(fd, write ? PROT_READ | PROT_WRITE : PROT_READ);
	if (*out == NULL && write && other_layout(fd))
		*out = reset_archive(fd);
	return fd;
}

/* Fold the files of dead processes into the archive, then remove them. */
static void fold_dead(int dirfd)
{
	struct eccr_metrics_region *archive, *dead;
	struct dirent *de;
	DIR *d;
	int afd, fd, scan = dup(dirfd);

	if (scan < 0)
		return;
	if ((d = fdopendir(scan)) == NULL) {
		close(scan);
		return;
	}
	if ((afd = archive_open(dirfd, LOCK_EX, &archive)) < 0 || archive == NULL) {
		if (afd >= 0)
			close(afd);
		closedir(d);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_process_file(de->d_name))
			continue;
		if ((fd = openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			/* Its process is gone. */
			if ((dead = map_file(fd, PROT_READ)) != NULL) {
				if (eccr_metrics_region_add(archive, dead) > 0)
					eccr_warn("metrics: %s: more routes or sinks than %s holds; "
					    "some counters of dead processes were dropped", de->d_name,
					    ARCHIVE);
				munmap(dead, sizeof *dead);
			}
			unlinkat(dirfd, de->d_name, 0);
		}
		close(fd);
	}
	msync(archive, sizeof *archive, MS_ASYNC);
	munmap(archive, sizeof *archive);
	close(afd);     /* drops the lock */
	closedir(d);
}

int eccr_metrics_open(const char *dir, const char *kind, char *err, size_t errlen)
{
	struct eccr_metrics_region *r;
	char tmp[144], name[128];
	int dirfd, fd;

	if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
		eccr_seterr(err, errlen, "metrics.dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		eccr_seterr(err, errlen, "metrics.dir %s: %s", dir, strerror(errno));
		return -1;
	}
	fold_dead(dirfd);
	snprintf(name, sizeof name, "%s-%ld-%08x.m", kind, (long)getpid(), eccr_random32());
	snprintf(tmp, sizeof tmp, ".%s", name);
	if ((r = create_file(dirfd, tmp, &fd)) == NULL) {
		eccr_seterr(err, errlen, "metrics.dir %s: cannot create %s: %s", dir, tmp,
		    strerror(errno));
		close(dirfd);
		return -1;
	}
	if (flock(fd, LOCK_SH) != 0 || renameat(dirfd, tmp, dirfd, name) != 0) {
		eccr_seterr(err, errlen, "metrics.dir %s: cannot publish %s: %s", dir, name,
		    strerror(errno));
		unlinkat(dirfd, tmp, 0);
		munmap(r, sizeof *r);
		close(fd);
		close(dirfd);
		return -1;
	}
	/* Counted before the file existed (start-up) still counts. */
	eccr_metrics_region_add(r, &private_region);
	mine = r;
	mine_is_file = true;
	/* fd stays open (and locked) until the process ends. */
	close(dirfd);
	return 0;
}

void eccr_metrics_route_label(size_t i, const char *method, const char *pattern)
{
	struct eccr_metrics_route *r;

	if (i >= ECCR_METRICS_ROUTES)
		return;
	r = &mine->route[i];
	snprintf(r->method, sizeof r->method, "%s", method);
	snprintf(r->pattern, sizeof r->pattern, "%s", pattern);
	__atomic_store_n(&r->used, 1, __ATOMIC_RELEASE);
}

void eccr_metrics_request(size_t i, int status, uint64_t elapsed_us)
{
	struct eccr_metrics_route *r;

	if (i >= ECCR_METRICS_ROUTES)
		return;
	r = &mine->route[i];
	ADD(&r->status[eccr_metrics_status_slot(status)], 1);
	ADD(&r->bucket[eccr_metrics_bucket(elapsed_us)], 1);
	ADD(&r->sum_us, elapsed_us);
}

void eccr_metrics_event(enum eccr_metrics_event kind)
{
	if ((unsigned)kind < ECCR_METRICS_NEVENTS)
		ADD(&mine->events[kind], 1);
}

/* The slot of a sink, taken on first sight (rare: once per sink). */
static struct eccr_metrics_sink *sink_of(const char *name)
{
	struct eccr_metrics_sink *s = NULL;
	size_t i;

	for (i = 0; i < ECCR_METRICS_SINKS; i++) {
		s = &mine->sink[i];
		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			break;
		if (strcmp(s->name, name) == 0)
			return s;
	}
	if (i == ECCR_METRICS_SINKS)
		return NULL;
	pthread_mutex_lock(&label_lock);
	for (; i < ECCR_METRICS_SINKS; i++) {
		s = &mine->sink[i];
		if (!s->used) {
			snprintf(s->name, sizeof s->name, "%s", name);
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
			break;
		}
		if (strcmp(s->name, name) == 0)
			break;
	}
	pthread_mutex_unlock(&label_lock);
	return i < ECCR_METRICS_SINKS ? s : NULL;
}

void eccr_metrics_delivery(const char *sink, int emit_rc)
{
	struct eccr_metrics_sink *s = sink_of(sink);
	enum eccr_metrics_outcome o = emit_rc == ECCR_EMIT_OK ? ECCR_METRICS_OK
	    : emit_rc == ECCR_EMIT_RETRY ? ECCR_METRICS_RETRY : ECCR_METRICS_FAIL;

	if (s != NULL)
		ADD(&s->outcome[o], 1);
}

/* The slot of a job type, taken on first sight (once per type). */
static struct eccr_metrics_job *job_of(const char *type)
{
	struct eccr_metrics_job *s = NULL;
	size_t i;

	for (i = 0; i < ECCR_METRICS_JOB_TYPES; i++) {
		s = &mine->job[i];
		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			break;
		if (strcmp(s->type, type) == 0)
			return s;
	}
	if (i == ECCR_METRICS_JOB_TYPES)
		return NULL;
	pthread_mutex_lock(&label_lock);
	for (; i < ECCR_METRICS_JOB_TYPES; i++) {
		s = &mine->job[i];
		if (!s->used) {
			snprintf(s->type, sizeof s->type, "%s", type);
			__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
			break;
		}
		if (strcmp(s->type, type) == 0)
			break;
	}
	pthread_mutex_unlock(&label_lock);
	return i < ECCR_METRICS_JOB_TYPES ? s : NULL;
}

void eccr_metrics_job_run(const char *type, enum eccr_metrics_job_outcome outcome,
    uint64_t elapsed_us)
{
	struct eccr_metrics_job *s;

	if ((unsigned)outcome >= ECCR_METRICS_JOB_NOUTCOMES || (s = job_of(type)) == NULL)
		return;
	ADD(&s->bucket[outcome][eccr_metrics_job_bucket(elapsed_us)], 1);
	ADD(&s->sum_us[outcome], elapsed_us);
}

int eccr_metrics_collect(const char *dir, struct eccr_metrics_region *sum, int *live,
    char *err, size_t errlen)
{
	struct eccr_metrics_region *archive = NULL, *r;
	struct dirent *de;
	DIR *d;
	int dirfd, afd, fd;

	eccr_metrics_region_init(sum);
	*live = mine_is_file ? 0 : 1;
	if (!mine_is_file)
		eccr_metrics_region_add(sum, &private_region);
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = fdopendir(dirfd)) == NULL) {
		eccr_seterr(err, errlen, "metrics.dir %s: %s", dir, strerror(errno));
		if (dirfd >= 0)
			close(dirfd);
		return mine_is_file ? -1 : 0;
	}
	/* Shared: folding (exclusive) waits until this scrape is done. */
	afd = archive_open(dirfd, LOCK_SH, &archive);
	if (archive != NULL) {
		eccr_metrics_region_add(sum, archive);
		munmap(archive, sizeof *archive);
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_process_file(de->d_name))
			continue;
		if ((fd = openat(dirfd, de->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if ((r = map_file(fd, PROT_READ)) != NULL) {
			eccr_metrics_region_add(sum, r);
			munmap(r, sizeof *r);
			/* Dead but not folded yet: its lock is free. */
			if (flock(fd, LOCK_EX | LOCK_NB) != 0)
				(*live)++;
		}
		close(fd);
	}
	if (afd >= 0)
		close(afd);
	closedir(d);
	return 0;
}
