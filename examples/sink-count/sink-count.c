/* sink-count - an example ECCR sink plugin, built out of tree with nothing
 * but `pkg-config --cflags eccr-plugin` (see Makefile and docs/plugins.md).
 *
 * It appends one line per event to a file:
 *
 *     PREFIX<id> <type>
 *
 * and, when it is unloaded, logs how many events it wrote.  Delivery is at
 * least once, so a line may occasionally appear twice: the event id is in
 * every line for a reader to drop the duplicates.
 *
 * [plugin.sink-count]
 * path = /var/log/eccr/events.txt   ; required, absolute
 * prefix =                          ; put before every line (default none)
 * events = *                        ; (the host's filter)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eccr/plugin.h>

/* One instance: [plugin.NAME] may load this file more than once. */
struct count {
	const struct eccr_host *host;  /* borrowed: valid until fini returns */
	char *prefix;
	int fd;
	unsigned long long written;
};

static const struct eccr_plugin_option options[] = {
	{ "path", ECCR_OPT_STRING, NULL, 0, 0, "file the lines are appended to" },
	{ "prefix", ECCR_OPT_STRING, "", 0, 0, "text put before every line" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static int count_init(const struct eccr_host *host, void **state)
{
	const char *path = host->config(host, "path");
	const char *prefix = host->config(host, "prefix");
	struct count *c;

	if (path == NULL || path[0] != '/') {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "path must be set to an absolute file name");
		return -1;
	}
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->prefix = strdup(prefix != NULL ? prefix : "")) == NULL) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "out of memory");
		free(c);
		return -1;
	}
	c->host = host;
	/* O_APPEND: every line lands whole at the end of the file, even when
	 * eccr-fcgi and eccr-worker both have an instance writing to it. */
	c->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (c->fd < 0) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "cannot open %s: %s", path, strerror(errno));
		free(c->prefix);
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int count_emit(void *state, const struct eccr_event *ev)
{
	struct count *c = state;
	char line[512];
	int len;
	ssize_t n;

	/* The event is borrowed: use it now, keep no pointer into it. */
	len = snprintf(line, sizeof line, "%s%s %s\n", c->prefix,
	    ev->id_text[0] != '\0' ? ev->id_text : "-", ev->type);
	if (len < 0 || (size_t)len >= sizeof line) {
		/* The same event will never fit: retrying cannot help. */
		c->host->log(c->host, ECCR_PLUGIN_LOG_ERR, "event %s: line too long", ev->id_text);
		return ECCR_EMIT_FAIL;
	}
	n = write(c->fd, line, (size_t)len);
	if (n != len) {
		/* A full disk or an I/O error may clear up: the host retries. */
		c->host->log(c->host, ECCR_PLUGIN_LOG_WARNING, "event %s: write failed: %s",
		    ev->id_text, n < 0 ? strerror(errno) : "short write");
		return ECCR_EMIT_RETRY;
	}
	c->written++;
	return ECCR_EMIT_OK;
}

static void count_fini(void *state)
{
	struct count *c = state;

	c->host->log(c->host, ECCR_PLUGIN_LOG_INFO, "%llu events written", c->written);
	close(c->fd);
	free(c->prefix);
	free(c);
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "sink-count",
	.version = "1.0.0",
	.description = "appends \"<id> <type>\" for each event to a file",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = count_init,
	.fini = count_fini,
	.emit = count_emit,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
