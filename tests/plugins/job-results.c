/* job-results - a test job type ("results") whose handler succeeds at once
 * with the result its payload names, including results the host must not
 * trust: the worker records the successes of several runners in one
 * statement, and one bad result must not cost the others theirs.
 *
 * Payload "kind" (found by a plain substring, as job-noop reads its own):
 *   "overflow"   {"n":1e999999}: JSON to json-c, out of range to PostgreSQL
 *   "not-json"   a result that is not JSON at all
 *   anything else, or none: {"ok":true}
 */
#include <stdlib.h>
#include <string.h>

#include <eccr/plugin.h>

static int results_init(const struct eccr_host *host, void **state)
{
	*state = (void *)host;
	return 0;
}

static int results_run(void *state, const struct eccr_job *job, const struct eccr_job_ctx *ctx,
    char **result_json, char **error)
{
	const char *r = "{\"ok\":true}";

	(void)state;
	(void)ctx;
	(void)error;
	if (strstr(job->payload_json, "\"overflow\"") != NULL)
		r = "{\"n\":1e999999}";
	else if (strstr(job->payload_json, "\"not-json\"") != NULL)
		r = "not json";
	*result_json = strdup(r);
	return ECCR_EMIT_OK;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "job-results",
	.version = "1.0.0",
	.description = "succeeds at once with the result the payload names (tests)",
	.kind = ECCR_PLUGIN_JOB,
	.job_type = "results",
	.init = results_init,
	.run = results_run,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
