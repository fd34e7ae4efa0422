/* job-noop - the "noop" job type: waits, optionally fails, and reports
 * progress; for tests, benchmarks and checking a deployment end to end.
 *
 * Payload (all optional):
 *   sleep_ms          how long to "work" (0..3600000, default 0), checking
 *                     for cancellation every 10 ms and reporting progress
 *   fail_attempts     answer RETRY on the first N attempts
 *   fail_permanently  true: answer FAIL
 *
 * The payload is read with a few lines of scanning rather than a JSON
 * library because plugins link nothing but libc: the host hands it over
 * as text, already validated as a JSON object by eccr-fcgi. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <eccr/plugin.h>

static const char *find_key(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\"", key);
	if ((p = strstr(json, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':')
		p++;
	return p;
}

static long long int_key(const char *json, const char *key, long long dflt, long long max)
{
	const char *p = find_key(json, key);
	char *end;
	long long v;

	if (p == NULL)
		return dflt;
	v = strtoll(p, &end, 10);
	if (end == p || v < 0)
		return dflt;
	return v > max ? max : v;
}

static int noop_init(const struct eccr_host *host, void **state)
{
	*state = (void *)host;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int noop_run(void *state, const struct eccr_job *job, const struct eccr_job_ctx *ctx,
    char **result_json, char **error)
{
	const char *perm = find_key(job->payload_json, "fail_permanently");
	long long total = int_key(job->payload_json, "sleep_ms", 0, 3600000);
	long long fail = int_key(job->payload_json, "fail_attempts", 0, 25);
	long long done = 0;
	int last = -1;
	char buf[96];

	while (done < total) {
		long step = total - done < 10 ? (long)(total - done) : 10;
		int pct = (int)(done * 100 / total);

		if (ctx->cancelled(ctx)) {
			*error = strdup("cancelled");
			return ECCR_EMIT_FAIL;
		}
		if (pct / 10 != last / 10) {
			ctx->progress(ctx, pct);
			last = pct;
		}
		sleep_ms(step);
		done += step;
	}
	if (perm != NULL && strncmp(perm, "true", 4) == 0) {
		*error = strdup("failed permanently, as the payload asked");
		return ECCR_EMIT_FAIL;
	}
	if (job->attempt <= fail) {
		snprintf(buf, sizeof buf, "failing attempt %d of the first %lld, as the payload asked",
		    job->attempt, fail);
		*error = strdup(buf);
		return ECCR_EMIT_RETRY;
	}
	snprintf(buf, sizeof buf, "{\"slept_ms\":%lld,\"attempt\":%d}", total, job->attempt);
	*result_json = strdup(buf);
	return ECCR_EMIT_OK;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "job-noop",
	.version = "1.0.0",
	.description = "does nothing, as slowly or as unreliably as the payload asks",
	.kind = ECCR_PLUGIN_JOB,
	.job_type = "noop",
	.init = noop_init,
	.run = noop_run,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
