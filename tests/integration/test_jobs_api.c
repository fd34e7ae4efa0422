/* Integration tests: the jobs API (API.md "Jobs") through lighttpd +
 * eccr-fcgi.  The harness loads job-noop (job type "noop") and runs an
 * eccr-worker, so every job that must stay where a test put it is created
 * with run_at far in the future, and states the worker would produce
 * (running, failed, succeeded) are set with SQL: nothing here depends on
 * the worker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"

#define FAR "\"run_at\":\"2099-01-01T00:00:00Z\""
#define NO_JOB "00000000-0000-4000-8000-000000000000"

/* ------------------------------------------------------------ helpers */

static void create_episode(char id[37])
{
	char body[128];

	snprintf(body, sizeof body, "{\"title\":\"jobs %s\"}", uniq());
	episode_create(tok_editor(), body, id);
}

/* POST /jobs with json; asserts 201 and returns the response. */
static struct resp *create_job_resp(const char *json)
{
	struct resp *r = http_json("POST", "/jobs", tok_editor(), json);

	cr_assert_eq(r->status, 201, "create failed %ld: %s (%s)", r->status, r->body, json);
	cr_assert(eccr_uuid_valid(resp_str(r, "id")), "%s", r->body);
	return r;
}

static void create_job(const char *json, char id[37])
{
	struct resp *r = create_job_resp(json);

	snprintf(id, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

/* A queued job that stays queued (no episode). */
static void far_job(char id[37])
{
	create_job("{\"type\":\"noop\"," FAR "}", id);
}

static long events_for(const char *id, const char *type)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE resource_type = 'job'"
	    " AND resource_id = $1 AND type = '%s'", type);
	return db_long(sql, id);
}

/* Run an UPDATE of one job with SQL (the state the worker would set). */
static void job_sql(const char *id, const char *set)
{
	char sql[512];

	snprintf(sql, sizeof sql, "WITH u AS (UPDATE jobs SET %s WHERE id = $1::uuid RETURNING 1)"
	    " SELECT count(*) FROM u", set);
	cr_assert_eq(db_long(sql, id), 1, "%s", sql);
}

static long job_is(const char *id, const char *cond)
{
	char sql[512];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = $1::uuid AND %s", cond);
	return db_long(sql, id);
}

static long jobs_changes(void)
{
	/* The worker may be running jobs of earlier tests: its events
	 * (actor "system") are not ours. */
	return db_long("SELECT (SELECT count(*) FROM jobs) * 1000000 + (SELECT count(*) FROM events"
	    " WHERE actor_id <> 'system')", NULL);
}

static long json_int(json_object *o, const char *field)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, field, &v), "no %s", field);
	return (long)json_object_get_int64(v);
}

static bool json_is_null(json_object *o, const char *field)
{
	json_object *v;

	return json_object_object_get_ex(o, field, &v) && v == NULL;
}

static bool json_flag(json_object *o, const char *field)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, field, &v), "no %s", field);
	cr_assert(json_object_is_type(v, json_type_boolean), "%s is not boolean", field);
	return json_object_get_boolean(v);
}

/* A 400 validation_failed naming field, whose message contains want (or any). */
static void assert_invalid(const struct resp *r, const char *field, const char *want)
{
	json_object *errs;
	size_t n;

	assert_problem(r, 400, "validation_failed");
	cr_assert(json_object_object_get_ex(r->json, "errors", &errs), "%s", r->body);
	n = json_object_array_length(errs);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(errs, i), *f, *m;

		if (json_object_object_get_ex(e, "field", &f) &&
		    strcmp(json_object_get_string(f), field) == 0) {
			cr_assert(json_object_object_get_ex(e, "message", &m));
			if (want != NULL)
				cr_assert_not_null(strstr(json_object_get_string(m), want),
				    "message for %s lacks '%s': %s", field, want, r->body);
			return;
		}
	}
	cr_assert_fail("no error for field %s: %s", field, r->body);
}

static void post_invalid(const char *json, const char *field, const char *want)
{
	long before = jobs_changes();
	struct resp *r = http_json("POST", "/jobs", tok_editor(), json);

	assert_invalid(r, field, want);
	resp_free(r);
	cr_assert_eq(jobs_changes(), before, "%s changed something", json);
}

/* ------------------------------------------------------------ job types */

Test(job_types, lists_the_loaded_job_plugins)
{
	struct resp *r = http_json("GET", "/job-types", tok_viewer(), NULL);
	json_object *items, *it, *v;
	bool noop = false;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_gt(json_object_array_length(items), 0);
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		cr_assert(json_object_object_get_ex(it, "type", &v));
		if (i > 0) {
			json_object *p;

			json_object_object_get_ex(json_object_array_get_idx(items, i - 1), "type", &p);
			cr_assert_lt(strcmp(json_object_get_string(p), json_object_get_string(v)), 0,
			    "not sorted: %s", r->body);
		}
		if (strcmp(json_object_get_string(v), "noop") == 0)
			noop = true;
		cr_assert(json_object_object_get_ex(it, "description", &v));
		cr_assert(json_object_is_type(v, json_type_string));
	}
	cr_assert(noop, "%s", r->body);
	resp_free(r);
}

Test(job_types, errors)
{
	struct resp *r = http_json("GET", "/job-types", NULL, NULL);

	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_json("GET", "/job-types?x=1", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("POST", "/job-types", tok_admin(), "{}");
	assert_problem(r, 405, "method_not_allowed");
	resp_free(r);
}

/* ------------------------------------------------------------ create */

Test(create, returns_201_location_defaults_and_one_event)
{
	char loc[160], want[160], id[37];
	struct resp *r = create_job_resp("{\"type\":\"noop\"," FAR "}");
	json_object *v;

	snprintf(id, sizeof id, "%s", resp_str(r, "id"));
	cr_assert_not_null(resp_header(r, "Location", loc, sizeof loc));
	snprintf(want, sizeof want, "/api/v1/jobs/%s", id);
	cr_assert_str_eq(loc, want);
	cr_assert_str_eq(resp_str(r, "type"), "noop");
	cr_assert_str_eq(resp_str(r, "status"), "queued");
	cr_assert_str_eq(resp_str(r, "created_by"), "eddie");
	cr_assert_str_eq(resp_str(r, "run_at"), "2099-01-01T00:00:00.000Z");
	cr_assert_eq(json_int(r->json, "priority"), 0);
	cr_assert_eq(json_int(r->json, "attempts"), 0);
	cr_assert_eq(json_int(r->json, "max_attempts"), 3);
	cr_assert_eq(json_int(r->json, "progress"), 0);
	cr_assert(json_is_null(r->json, "episode_id"));
	cr_assert(json_is_null(r->json, "result"));
	cr_assert(json_is_null(r->json, "last_error"));
	cr_assert(json_is_null(r->json, "started_at"));
	cr_assert(json_is_null(r->json, "finished_at"));
	cr_assert(!json_flag(r->json, "cancel_requested"));
	cr_assert(json_object_object_get_ex(r->json, "payload", &v));
	cr_assert(json_object_is_type(v, json_type_object));
	cr_assert_eq(json_object_object_length(v), 0);
	cr_assert_eq(strlen(resp_str(r, "created_at")), 24);
	cr_assert_eq(strlen(resp_str(r, "updated_at")), 24);
	resp_free(r);
	cr_assert_eq(events_for(id, "job_created"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_created' AND actor_id = 'eddie' AND episode_id IS NULL"
	    " AND data->>'job_id' = resource_id AND data->>'type' = 'noop'", id), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1", id), 1);
}

Test(create, stores_every_field)
{
	char ep[37], id[37], body[512], path[64];
	struct resp *r;
	json_object *v;

	create_episode(ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\","
	    "\"payload\":{\"sleep_ms\":1,\"nested\":{\"a\":[1,2]}},\"priority\":-100,"
	    "\"max_attempts\":25,\"run_at\":\"2099-06-01T12:00:00.5+02:00\"}", ep);
	create_job(body, id);
	snprintf(path, sizeof path, "/jobs/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "episode_id"), ep);
	cr_assert_eq(json_int(r->json, "priority"), -100);
	cr_assert_eq(json_int(r->json, "max_attempts"), 25);
	cr_assert_str_eq(resp_str(r, "run_at"), "2099-06-01T10:00:00.500Z");
	cr_assert(json_object_object_get_ex(r->json, "payload", &v));
	{
		json_object *want = json_tokener_parse("{\"sleep_ms\":1,\"nested\":{\"a\":[1,2]}}");

		cr_assert(json_object_equal(v, want), "%s", r->body);
		json_object_put(want);
	}
	resp_free(r);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON j.id::text = e.resource_id"
	    " WHERE e.resource_id = $1 AND e.type = 'job_created' AND e.episode_id = j.episode_id",
	    id), 1);
	/* The other bounds, and an upper-case episode id. */
	for (char *p = ep; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\",\"priority\":100,"
	    "\"max_attempts\":1,\"payload\":{}," FAR "}", ep);
	r = create_job_resp(body);
	cr_assert_eq(json_int(r->json, "priority"), 100);
	cr_assert_eq(json_int(r->json, "max_attempts"), 1);
	for (char *p = ep; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	cr_assert_str_eq(resp_str(r, "episode_id"), ep);
	resp_free(r);
}

Test(create, admin_may_create)
{
	struct resp *r = http_json("POST", "/jobs", tok_admin(), "{\"type\":\"noop\"," FAR "}");

	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "created_by"), "ada");
	resp_free(r);
}

Test(create, needs_editor_and_credentials)
{
	long before = jobs_changes();
	struct resp *r = http_json("POST", "/jobs", tok_viewer(), "{\"type\":\"noop\"}");

	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("POST", "/jobs", NULL, "{\"type\":\"noop\"}");
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_json("POST", "/jobs", "not.a.token", "{\"type\":\"noop\"}");
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	cr_assert_eq(jobs_changes(), before);
}

Test(create, type_is_required_and_known)
{
	post_invalid("{}", "type", "required");
	post_invalid("{\"type\":5}", "type", NULL);
	post_invalid("{\"type\":null}", "type", NULL);
	post_invalid("{\"type\":\"\"}", "type", NULL);
	post_invalid("{\"type\":\"nope\"}", "type", "must be one of: ");
	post_invalid("{\"type\":\"nope\"}", "type", "noop");
	post_invalid("{\"type\":\"NOOP\"}", "type", "noop");
}

Test(create, priority_and_max_attempts_ranges)
{
	post_invalid("{\"type\":\"noop\",\"priority\":101}", "priority", "-100 to 100");
	post_invalid("{\"type\":\"noop\",\"priority\":-101}", "priority", NULL);
	post_invalid("{\"type\":\"noop\",\"priority\":1.5}", "priority", NULL);
	post_invalid("{\"type\":\"noop\",\"priority\":\"1\"}", "priority", NULL);
	post_invalid("{\"type\":\"noop\",\"priority\":null}", "priority", NULL);
	post_invalid("{\"type\":\"noop\",\"priority\":99999999999999999999}", "priority", NULL);
	post_invalid("{\"type\":\"noop\",\"max_attempts\":0}", "max_attempts", "1 to 25");
	post_invalid("{\"type\":\"noop\",\"max_attempts\":26}", "max_attempts", NULL);
	post_invalid("{\"type\":\"noop\",\"max_attempts\":true}", "max_attempts", NULL);
}

Test(create, payload_must_be_a_small_object)
{
	size_t n = 70000;
	char *big = malloc(n + 64);
	int k;

	post_invalid("{\"type\":\"noop\",\"payload\":[]}", "payload", "object");
	post_invalid("{\"type\":\"noop\",\"payload\":\"x\"}", "payload", NULL);
	post_invalid("{\"type\":\"noop\",\"payload\":null}", "payload", NULL);
	post_invalid("{\"type\":\"noop\",\"payload\":3}", "payload", NULL);
	cr_assert_not_null(big);
	k = snprintf(big, n + 64, "{\"type\":\"noop\",\"payload\":{\"s\":\"");
	memset(big + k, 'a', n);
	strcpy(big + k + n, "\"}}");
	post_invalid(big, "payload", "bytes");
	free(big);
}

Test(create, unknown_fields_are_named)
{
	post_invalid("{\"type\":\"noop\",\"foo\":1}", "foo", "unknown");
	post_invalid("{\"type\":\"noop\",\"status\":\"running\"}", "status", "unknown");
	post_invalid("{\"type\":\"noop\",\"attempts\":0}", "attempts", "unknown");
}

Test(create, run_at_must_be_rfc3339)
{
	static const char *const bad[] = {
		"\"tomorrow\"", "\"2099-01-01\"", "\"2099-01-01 00:00:00Z\"",
		"\"2099-01-01T00:00:00\"", "\"2099-13-01T00:00:00Z\"", "\"2099-02-30T00:00:00Z\"",
		"\"2099-01-01T24:00:00Z\"", "\"2099-01-01T00:60:00Z\"", "\"2099-01-01T00:00:00.Z\"",
		"\"2099-01-01T00:00:00+0200\"", "\"2099-01-01T00:00:00+25:00\"",
		"\"2099-01-01T00:00:00Z \"", "\"now\"", "\"infinity\"", "5", "null",
		"\"0000-01-01T00:00:00Z\"", "\"2099-1-01T00:00:00Z\"",
	};
	char body[256];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(body, sizeof body, "{\"type\":\"noop\",\"run_at\":%s}", bad[i]);
		post_invalid(body, "run_at", NULL);
	}
}

Test(create, episode_must_exist)
{
	char body[256];

	post_invalid("{\"type\":\"noop\",\"episode_id\":\"x\"}", "episode_id", "UUID");
	post_invalid("{\"type\":\"noop\",\"episode_id\":5}", "episode_id", "UUID");
	post_invalid("{\"type\":\"noop\",\"episode_id\":\"" NO_JOB "x\"}", "episode_id", NULL);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"}", NO_JOB);
	post_invalid(body, "episode_id", "does not exist");
}

Test(create, collects_several_errors)
{
	struct resp *r = http_json("POST", "/jobs", tok_editor(),
	    "{\"type\":\"nope\",\"priority\":500,\"bogus\":true}");

	assert_invalid(r, "type", "noop");
	assert_invalid(r, "priority", NULL);
	assert_invalid(r, "bogus", NULL);
	resp_free(r);
}

Test(create, body_errors)
{
	long before = jobs_changes();
	struct resp *r = http_json("POST", "/jobs", tok_editor(), "{\"type\":");

	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("POST", "/jobs", tok_editor(), "[\"noop\"]");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http("POST", "/jobs", tok_editor(), "text/plain", "{\"type\":\"noop\"}", 15, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	resp_free(r);
	r = http_json("POST", "/jobs?x=1", tok_editor(), "{\"type\":\"noop\"}");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_eq(jobs_changes(), before);
}

/* ------------------------------------------------------------ get, 405 */

Test(get, found_missing_malformed)
{
	char id[37], path[64];
	struct resp *r;

	far_job(id);
	snprintf(path, sizeof path, "/jobs/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "status"), "queued");
	resp_free(r);
	r = http_json("GET", path, NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	snprintf(path, sizeof path, "/jobs/%s?x=1", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("GET", "/jobs/" NO_JOB, tok_viewer(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("GET", "/jobs/not-a-uuid", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("GET", "/jobs/%27%3B%20DROP%20TABLE%20jobs%3B--", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
}

Test(methods, not_allowed_with_allow_header)
{
	static const struct { const char *method, *path, *allow; } cases[] = {
		{ "DELETE", "/jobs/" NO_JOB, "GET" },
		{ "PATCH", "/jobs/" NO_JOB, "GET" },
		{ "PUT", "/jobs", "GET" },
		{ "DELETE", "/jobs", "POST" },
		{ "GET", "/jobs/" NO_JOB "/retry", "POST" },
		{ "GET", "/jobs/" NO_JOB "/cancel", "POST" },
	};
	char allow[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp *r = http_json(cases[i].method, cases[i].path, tok_admin(), NULL);

		assert_problem(r, 405, "method_not_allowed");
		cr_assert_not_null(resp_header(r, "Allow", allow, sizeof allow));
		cr_assert_not_null(strstr(allow, cases[i].allow), "%s %s: Allow %s",
		    cases[i].method, cases[i].path, allow);
		resp_free(r);
	}
	{
		struct resp *r = http_json("GET", "/jobs/" NO_JOB "/nothing", tok_admin(), NULL);

		assert_problem(r, 404, "not_found");
		resp_free(r);
	}
}

/* ------------------------------------------------------------ retry */

static struct resp *act(const char *id, const char *what, const char *token, const char *body)
{
	char path[96];

	snprintf(path, sizeof path, "/jobs/%s/%s", id, what);
	/* No body: Content-Length 0 (lighttpd answers 411 without one). */
	if (body == NULL)
		return http("POST", path, token, NULL, "", 0, NULL);
	return http_json("POST", path, token, body);
}

Test(retry, failed_job_goes_back_to_queued_once)
{
	char id[37];
	struct resp *r;

	far_job(id);
	job_sql(id, "status = 'failed', attempts = 3, last_error = 'boom', progress = 40,"
	    " started_at = now(), finished_at = now(), cancel_requested = true");
	r = act(id, "retry", tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "status"), "queued");
	cr_assert_eq(json_int(r->json, "attempts"), 0);
	cr_assert_eq(json_int(r->json, "progress"), 0);
	cr_assert(json_is_null(r->json, "last_error"));
	cr_assert(json_is_null(r->json, "finished_at"));
	cr_assert(!json_flag(r->json, "cancel_requested"));
	cr_assert_neq(strncmp(resp_str(r, "run_at"), "2099", 4), 0, "%s", r->body);
	resp_free(r);
	/* The row said so too, when it was written (the worker may run it now). */
	cr_assert_eq(job_is(id, "run_at < now() + interval '1 minute'"), 1);
	cr_assert_eq(events_for(id, "job_retried"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_retried' AND actor_id = 'eddie' AND data->>'job_id' = $1", id), 1);
	/* Queued, running or succeeded by now: never retried again. */
	r = act(id, "retry", tok_editor(), NULL);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	cr_assert_eq(events_for(id, "job_retried"), 1);
}

Test(retry, cancelled_job_with_empty_body)
{
	char id[37];
	struct resp *r;

	far_job(id);
	r = act(id, "cancel", tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	r = act(id, "retry", tok_admin(), "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "queued");
	resp_free(r);
	cr_assert_eq(events_for(id, "job_retried"), 1);
	cr_assert_eq(events_for(id, "job_cancelled"), 1);
}

Test(retry, other_states_conflict)
{
	static const char *const states[] = { "queued", "running", "succeeded" };
	char id[37], set[160];
	struct resp *r;

	far_job(id);
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		snprintf(set, sizeof set, "status = '%s', locked_by = 'api-test',"
		    " locked_until = now() + interval '1 hour'", states[i]);
		job_sql(id, set);
		r = act(id, "retry", tok_editor(), NULL);
		assert_problem(r, 409, "conflict");
		cr_assert_not_null(strstr(resp_str(r, "detail"), states[i]), "%s", r->body);
		resp_free(r);
	}
	cr_assert_eq(events_for(id, "job_retried"), 0);
	cr_assert_eq(job_is(id, "status = 'succeeded'"), 1);
}

Test(retry, errors)
{
	char id[37];
	long before;
	struct resp *r;

	far_job(id);
	job_sql(id, "status = 'failed'");
	before = jobs_changes();
	r = act(id, "retry", tok_viewer(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = act(id, "retry", NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = act(id, "retry", tok_editor(), "{\"force\":true}");
	assert_invalid(r, "force", "unknown");
	resp_free(r);
	r = act(id, "retry", tok_editor(), "[]");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = act(NO_JOB, "retry", tok_editor(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = act("nope", "retry", tok_editor(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_eq(jobs_changes(), before);
	cr_assert_eq(job_is(id, "status = 'failed'"), 1);
}

/* ------------------------------------------------------------ cancel */

Test(cancel, queued_is_cancelled_at_once)
{
	char id[37];
	struct resp *r;

	far_job(id);
	r = act(id, "cancel", tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "cancelled");
	cr_assert_eq(strlen(resp_str(r, "finished_at")), 24, "%s", r->body);
	resp_free(r);
	cr_assert_eq(job_is(id, "status = 'cancelled' AND finished_at IS NOT NULL"), 1);
	cr_assert_eq(events_for(id, "job_cancelled"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_cancelled' AND actor_id = 'eddie' AND data->>'job_id' = $1", id), 1);
	r = act(id, "cancel", tok_editor(), NULL);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	cr_assert_eq(events_for(id, "job_cancelled"), 1);
}

Test(cancel, running_asks_the_handler_once)
{
	char id[37];
	struct resp *r;

	far_job(id);
	job_sql(id, "status = 'running', started_at = now(), attempts = 1, locked_by = 'api-test',"
	    " locked_until = now() + interval '1 hour'");
	r = act(id, "cancel", tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "running");
	cr_assert(json_flag(r->json, "cancel_requested"));
	cr_assert(json_is_null(r->json, "finished_at"));
	resp_free(r);
	cr_assert_eq(events_for(id, "job_cancelled"), 1);
	/* Again: same answer, no new event. */
	r = act(id, "cancel", tok_admin(), "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_flag(r->json, "cancel_requested"));
	resp_free(r);
	cr_assert_eq(events_for(id, "job_cancelled"), 1);
	cr_assert_eq(job_is(id, "status = 'running' AND cancel_requested"), 1);
}

Test(cancel, finished_states_conflict)
{
	static const char *const states[] = { "succeeded", "failed", "cancelled" };
	char id[37], set[96];
	struct resp *r;

	far_job(id);
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		snprintf(set, sizeof set, "status = '%s', finished_at = now()", states[i]);
		job_sql(id, set);
		r = act(id, "cancel", tok_editor(), NULL);
		assert_problem(r, 409, "conflict");
		resp_free(r);
	}
	cr_assert_eq(events_for(id, "job_cancelled"), 0);
}

Test(cancel, errors)
{
	char id[37];
	long before;
	struct resp *r;

	far_job(id);
	before = jobs_changes();
	r = act(id, "cancel", tok_viewer(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = act(id, "cancel", NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = act(id, "cancel", tok_editor(), "{\"reason\":\"x\"}");
	assert_invalid(r, "reason", "unknown");
	resp_free(r);
	r = act(NO_JOB, "cancel", tok_editor(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = act("12345678-1234-1234-1234-12345678901", "cancel", tok_editor(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_eq(jobs_changes(), before);
	cr_assert_eq(job_is(id, "status = 'queued'"), 1);
}

/* ------------------------------------------------------------ list */

/* Page through path (which has a '?') with limit; ids collected in order. */
static size_t page_all(const char *path, int limit, char ids[][37], size_t max, size_t *pages)
{
	char url[1024], cursor[512] = "";
	size_t n = 0;

	*pages = 0;
	for (;;) {
		struct resp *r;
		json_object *items, *next;
		size_t k;

		if (cursor[0])
			snprintf(url, sizeof url, "%s&limit=%d&cursor=%s", path, limit, cursor);
		else
			snprintf(url, sizeof url, "%s&limit=%d", path, limit);
		r = http_json("GET", url, tok_viewer(), NULL);
		cr_assert_eq(r->status, 200, "%s: %s", url, r->body);
		(*pages)++;
		cr_assert(json_object_object_get_ex(r->json, "items", &items));
		k = json_object_array_length(items);
		cr_assert_leq(k, (size_t)limit);
		for (size_t i = 0; i < k; i++) {
			json_object *id;

			cr_assert_lt(n, max);
			cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, i), "id", &id));
			snprintf(ids[n++], 37, "%s", json_object_get_string(id));
		}
		cr_assert(json_object_object_get_ex(r->json, "next_cursor", &next));
		if (next == NULL) {
			resp_free(r);
			return n;
		}
		cr_assert_eq(k, (size_t)limit, "a page before the last is short");
		snprintf(cursor, sizeof cursor, "%s", json_object_get_string(next));
		resp_free(r);
		cr_assert_lt(*pages, 100);
	}
}

static long list_count(const char *path)
{
	struct resp *r = http_json("GET", path, tok_viewer(), NULL);
	json_object *items;
	long n;

	cr_assert_eq(r->status, 200, "%s: %s", path, r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	n = (long)json_object_array_length(items);
	resp_free(r);
	return n;
}

Test(list, pages_newest_first_without_loss_or_repeat)
{
	char ep[37], body[256], made[7][37], got[16][37], path[160];
	size_t n, pages;

	create_episode(ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"," FAR "}", ep);
	for (int i = 0; i < 7; i++)
		create_job(body, made[i]);
	snprintf(path, sizeof path, "/jobs?episode_id=%s", ep);
	n = page_all(path, 3, got, 16, &pages);
	cr_assert_eq(n, 7);
	cr_assert_eq(pages, 3);
	for (int i = 0; i < 7; i++)
		cr_assert_str_eq(got[i], made[6 - i], "position %d", i);
	n = page_all(path, 7, got, 16, &pages);
	cr_assert_eq(n, 7);
	cr_assert_eq(pages, 1);
	n = page_all(path, 200, got, 16, &pages);
	cr_assert_eq(n, 7);
	/* The default limit is 50. */
	cr_assert_eq(list_count(path), 7);
}

Test(list, ties_on_created_at_break_by_id)
{
	char ep[37], got[16][37], path[160];
	size_t n, pages;

	create_episode(ep);
	/* One statement: every row has the same created_at. */
	cr_assert_eq(db_long("WITH x AS (INSERT INTO jobs (type, episode_id, run_at, created_by)"
	    " SELECT 'noop', $1::uuid, '2099-01-01', 'tests' FROM generate_series(1, 9)"
	    " RETURNING 1) SELECT count(*) FROM x", ep), 9);
	snprintf(path, sizeof path, "/jobs?episode_id=%s", ep);
	n = page_all(path, 2, got, 16, &pages);
	cr_assert_eq(n, 9);
	cr_assert_eq(pages, 5);
	for (size_t i = 1; i < n; i++)
		cr_assert_gt(strcmp(got[i - 1], got[i]), 0, "not in id order at %zu", i);
}

Test(list, filters)
{
	char ep[37], body[256], ids[5][37], path[256];
	struct resp *r;
	json_object *items;

	create_episode(ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"," FAR "}", ep);
	for (int i = 0; i < 5; i++)
		create_job(body, ids[i]);
	r = act(ids[0], "cancel", tok_editor(), NULL);
	cr_assert_eq(r->status, 200);
	resp_free(r);
	r = act(ids[1], "cancel", tok_editor(), NULL);
	cr_assert_eq(r->status, 200);
	resp_free(r);
	job_sql(ids[2], "status = 'failed'");

	snprintf(path, sizeof path, "/jobs?episode_id=%s&status=cancelled", ep);
	cr_assert_eq(list_count(path), 2);
	snprintf(path, sizeof path, "/jobs?status=queued&episode_id=%s", ep);
	cr_assert_eq(list_count(path), 2);
	snprintf(path, sizeof path, "/jobs?status=failed&episode_id=%s&type=noop", ep);
	cr_assert_eq(list_count(path), 1);
	snprintf(path, sizeof path, "/jobs?status=running&episode_id=%s", ep);
	cr_assert_eq(list_count(path), 0);
	snprintf(path, sizeof path, "/jobs?type=noop&episode_id=%s", ep);
	cr_assert_eq(list_count(path), 5);
	snprintf(path, sizeof path, "/jobs?type=checksum-%s&episode_id=%s", uniq(), ep);
	cr_assert_eq(list_count(path), 0);
	for (char *p = ep; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(path, sizeof path, "/jobs?episode_id=%s", ep);
	cr_assert_eq(list_count(path), 5);

	/* Without filters: everything, newest first, with a next page. */
	r = http_json("GET", "/jobs?limit=2", tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 2);
	cr_assert_str_neq(resp_str(r, "next_cursor"), "");
	resp_free(r);
	r = http_json("GET", "/jobs?status=failed&limit=200", tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items));
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *s;

		cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, i), "status", &s));
		cr_assert_str_eq(json_object_get_string(s), "failed");
	}
	resp_free(r);
}

Test(list, bad_parameters)
{
	static const char *const bad[] = {
		"/jobs?status=live", "/jobs?status=", "/jobs?status=QUEUED",
		"/jobs?episode_id=x", "/jobs?episode_id=", "/jobs?type=",
		"/jobs?limit=0", "/jobs?limit=201", "/jobs?limit=abc", "/jobs?limit=-1",
		"/jobs?cursor=garbage", "/jobs?cursor=", "/jobs?cursor=SnwxfDEyMw",
		"/jobs?foo=1", "/jobs?sort=created_at",
	};
	struct resp *r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = http_json("GET", bad[i], tok_viewer(), NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	r = http_json("GET", "/jobs", NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
}

Test(list, cursor_from_another_list_is_refused)
{
	struct resp *r = http_json("GET", "/episodes?limit=1", tok_viewer(), NULL);
	char path[512];

	cr_assert_eq(r->status, 200);
	if (strlen(resp_str(r, "next_cursor")) > 0) {
		snprintf(path, sizeof path, "/jobs?cursor=%s", resp_str(r, "next_cursor"));
		resp_free(r);
		r = http_json("GET", path, tok_viewer(), NULL);
		assert_problem(r, 400, "bad_request");
	}
	resp_free(r);
}

/* ------------------------------------------------------------ episode delete */

Test(episode_delete, cancels_queued_and_stops_running_jobs)
{
	char ep[37], body[256], queued[2][37], running[37], done[37], other[37], path[64];
	struct resp *r;

	create_episode(ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"," FAR "}", ep);
	create_job(body, queued[0]);
	create_job(body, queued[1]);
	create_job(body, running);
	create_job(body, done);
	far_job(other);
	job_sql(running, "status = 'running', started_at = now(), locked_by = 'api-test',"
	    " locked_until = now() + interval '1 hour'");
	job_sql(done, "status = 'succeeded', finished_at = now() - interval '1 day'");

	snprintf(path, sizeof path, "/episodes/%s", ep);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);

	for (int i = 0; i < 2; i++)
		cr_assert_eq(job_is(queued[i], "status = 'cancelled' AND finished_at IS NOT NULL"
		    " AND finished_at > now() - interval '1 minute'"), 1);
	cr_assert_eq(job_is(running, "status = 'running' AND cancel_requested"
	    " AND finished_at IS NULL"), 1);
	cr_assert_eq(job_is(done, "status = 'succeeded' AND NOT cancel_requested"
	    " AND finished_at < now() - interval '1 hour'"), 1);
	cr_assert_eq(job_is(other, "status = 'queued' AND NOT cancel_requested"), 1);
	/* Each job cancelled or asked to stop says so, as POST .../cancel would,
	 * in the episode's room; the finished one and the other episode's don't. */
	const char *touched[] = { queued[0], queued[1], running };
	for (int i = 0; i < 3; i++)
		cr_assert_eq(db_count("SELECT count(*) FROM events WHERE type = 'job_cancelled'"
		    " AND resource_type = 'job' AND resource_id = $1 AND episode_id = $2::uuid"
		    " AND actor_id = 'ada' AND data->>'job_id' = $1", touched[i], ep, NULL), 1,
		    "job %d", i);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE type = 'job_cancelled'"
	    " AND resource_id IN ($1, $2)", done, other, NULL), 0);
	/* The jobs outlive the episode's row and stay readable. */
	snprintf(path, sizeof path, "/jobs/%s", queued[0]);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "episode_id"), ep);
	resp_free(r);
	/* And the deleted episode takes no new job. */
	post_invalid(body, "episode_id", "does not exist");
}

Test(episode_delete, failed_precondition_touches_no_job)
{
	char ep[37], body[256], id[37], path[64];
	struct resp *r;

	create_episode(ep);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"," FAR "}", ep);
	create_job(body, id);
	snprintf(path, sizeof path, "/episodes/%s", ep);
	r = http("DELETE", path, tok_admin(), NULL, NULL, 0, "If-Match: \"7\"");
	assert_problem(r, 412, "precondition_failed");
	resp_free(r);
	cr_assert_eq(job_is(id, "status = 'queued' AND NOT cancel_requested"), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE type = 'job_cancelled'"
	    " AND resource_id = $1", id, NULL), 0);
}
