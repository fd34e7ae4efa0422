/* sink-flaky - a test sink that answers RETRY for its first fail_times
 * deliveries of each event (or FAIL, or always), then OK, appending what
 * it accepted to a file: the integration tests count those lines.
 *
 * [plugin.sink-flaky]
 * path = /tmp/x/flaky.jsonl
 * fail_times = 2          ; RETRY this many times per event, then OK
 * mode = retry            ; retry | fail | always-retry
 * fail_while = PATH       ; mode fail: fail only while PATH exists
 * fail_match = TEXT       ; FAIL every event whose JSON contains TEXT
 *
 * It takes events in batches too (emit_batch, SDK minor 2), answering for
 * each as emit() would: the host's batch path gets per-event answers.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <eccr/plugin.h>

struct flaky {
	int fd;
	int fail_times;
	char mode[16];
	char fail_while[4096];
	char fail_match[256];
};

static const struct eccr_plugin_option options[] = {
	{ "path", ECCR_OPT_STRING, NULL, 0, 0, "file accepted events are appended to" },
	{ "fail_times", ECCR_OPT_INT, "2", 0, 1000, "RETRY this many attempts per event" },
	{ "mode", ECCR_OPT_STRING, "retry", 0, 0, "retry, fail or always-retry" },
	{ "fail_while", ECCR_OPT_STRING, NULL, 0, 0, "mode fail: fail only while this file exists" },
	{ "fail_match", ECCR_OPT_STRING, NULL, 0, 0, "FAIL events whose JSON contains this" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static int flaky_init(const struct eccr_host *host, void **state)
{
	const char *path = host->config(host, "path"), *mode = host->config(host, "mode");
	struct flaky *f = calloc(1, sizeof *f);

	if (f == NULL || path == NULL) {
		free(f);
		host->log(host, ECCR_PLUGIN_LOG_ERR, "path is required");
		return -1;
	}
	f->fail_times = atoi(host->config(host, "fail_times"));
	snprintf(f->mode, sizeof f->mode, "%s", mode);
	if (host->config(host, "fail_while") != NULL)
		snprintf(f->fail_while, sizeof f->fail_while, "%s", host->config(host, "fail_while"));
	if (host->config(host, "fail_match") != NULL)
		snprintf(f->fail_match, sizeof f->fail_match, "%s", host->config(host, "fail_match"));
	if ((f->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int flaky_emit(void *state, const struct eccr_event *ev)
{
	struct flaky *f = state;
	struct iovec iov[2] = { { (void *)ev->json, ev->json_len }, { (void *)"\n", 1 } };

	if (f->fail_match[0] != '\0' && strstr(ev->json, f->fail_match) != NULL)
		return ECCR_EMIT_FAIL;
	if (strcmp(f->mode, "fail") == 0 &&
	    (f->fail_while[0] == '\0' || access(f->fail_while, F_OK) == 0))
		return ECCR_EMIT_FAIL;
	if (strcmp(f->mode, "always-retry") == 0 || ev->attempt <= f->fail_times)
		return ECCR_EMIT_RETRY;
	return writev(f->fd, iov, 2) == (ssize_t)(ev->json_len + 1) ? ECCR_EMIT_OK : ECCR_EMIT_RETRY;
}

static void flaky_emit_batch(void *state, const struct eccr_event *const *evs, size_t n,
    int *results)
{
	for (size_t i = 0; i < n; i++)
		results[i] = flaky_emit(state, evs[i]);
}

static void flaky_fini(void *state)
{
	struct flaky *f = state;

	close(f->fd);
	free(f);
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "sink-flaky",
	.version = "0.0.1",
	.description = "test sink: fails on purpose",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = flaky_init,
	.fini = flaky_fini,
	.emit = flaky_emit,
	.emit_batch = flaky_emit_batch,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
