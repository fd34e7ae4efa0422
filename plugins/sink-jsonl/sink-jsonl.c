/* sink-jsonl - appends every event it receives to a file, one JSON object
 * per line.  The reference sink for plugin authors: it uses nothing but
 * eccr/plugin.h and libc, and shows the whole life cycle (options, init,
 * emit with an honest OK/RETRY/FAIL, fini).
 *
 * [plugin.sink-jsonl]
 * path = /var/log/eccr/events.jsonl   ; required
 * fsync = false                       ; fsync after each line
 * events = *                          ; (the host's filter)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>

#include <eccr/plugin.h>

struct jsonl {
	const struct eccr_host *host;
	int fd;
	int fsync_each;
};

static const struct eccr_plugin_option options[] = {
	{ "path", ECCR_OPT_STRING, NULL, 0, 0, "file the events are appended to" },
	{ "fsync", ECCR_OPT_BOOL, "false", 0, 0, "fsync(2) after every line" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static int is_true(const char *v)
{
	return v != NULL && (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

static int jsonl_init(const struct eccr_host *host, void **state)
{
	const char *path = host->config(host, "path");
	struct jsonl *j;

	if (path == NULL || path[0] != '/') {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "path must be set to an absolute file name");
		return -1;
	}
	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	j->host = host;
	j->fsync_each = is_true(host->config(host, "fsync"));
	/* O_APPEND: each line lands whole at the end even when eccr-fcgi and
	 * eccr-worker append to the same file. */
	j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (j->fd < 0) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "cannot open %s: %s", path, strerror(errno));
		free(j);
		return -1;
	}
	*state = j;
	return 0;
}

static int jsonl_emit(void *state, const struct eccr_event *ev)
{
	struct jsonl *j = state;
	struct iovec iov[2] = {
		{ (void *)ev->json, ev->json_len },
		{ (void *)"\n", 1 },
	};
	ssize_t n = writev(j->fd, iov, 2);

	if (n == (ssize_t)(ev->json_len + 1) && (!j->fsync_each || fsync(j->fd) == 0))
		return ECCR_EMIT_OK;
	/* A full disk or an I/O error may clear up: let the host retry. */
	j->host->log(j->host, ECCR_PLUGIN_LOG_WARNING, "event %s: write failed: %s",
	    ev->id_text, n < 0 ? strerror(errno) : "short write");
	return ECCR_EMIT_RETRY;
}

static void jsonl_fini(void *state)
{
	struct jsonl *j = state;

	close(j->fd);
	free(j);
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "sink-jsonl",
	.version = "1.0.0",
	.description = "appends each event as one JSON line to a file",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = jsonl_init,
	.fini = jsonl_fini,
	.emit = jsonl_emit,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
