/* Integration tests: the episodes API (API.md "Episodes", "Authentication
 * and roles", "General", "Health", "Events") through lighttpd + eccr-fcgi
 * against a real PostgreSQL (see tests/integration/run.sh).
 *
 * Each test makes its own data under a tag from uniq(), fresh in every test,
 * so tests depend neither on one another nor on their order; the database
 * is shared by the whole run.  Checks that a bad request "changes nothing"
 * compare db_changes() before and after.  The zz_outage suite stops
 * PostgreSQL and so must stay last (Criterion runs suites in name order). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

static void ep_path(char out[64], const char *id)
{
	snprintf(out, 64, "/episodes/%s", id);
}

static long events_for(const char *id, const char *type)
{
	return db_count("SELECT count(*) FROM events WHERE resource_type = 'episode'"
	    " AND resource_id = $1 AND type = $2", id, type, NULL);
}

static long db_version(const char *id)
{
	return db_count("SELECT version FROM episodes WHERE id = $1::uuid", id, NULL);
}

static bool has_field(json_object *o, const char *field, json_object **v)
{
	return o != NULL && json_object_object_get_ex(o, field, v);
}

static long json_int(json_object *o, const char *field)
{
	json_object *v;

	cr_assert(has_field(o, field, &v), "no %s", field);
	cr_assert(json_object_is_type(v, json_type_int), "%s is not an integer", field);
	return (long)json_object_get_int64(v);
}

static void assert_null_field(json_object *o, const char *field)
{
	json_object *v = NULL;

	cr_assert(has_field(o, field, &v), "no %s in %s", field, json_object_to_json_string(o));
	cr_assert_null(v, "%s is %s, want null", field, json_object_to_json_string(v));
}

/* The JSON text of a member, compact ("" when absent). */
static const char *json_text(json_object *o, const char *field)
{
	json_object *v;

	if (!has_field(o, field, &v))
		return "";
	return v == NULL ? "null" : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
	char got[512];

	cr_assert_not_null(resp_header(r, name, got, sizeof got), "no %s header", name);
	cr_assert_str_eq(got, want, "%s: %s, want %s", name, got, want);
}

static void assert_www_bearer(const struct resp *r)
{
	char www[256];

	assert_problem(r, 401, "unauthorized");
	cr_assert_not_null(resp_header(r, "WWW-Authenticate", www, sizeof www),
	    "401 without WWW-Authenticate");
	cr_assert_eq(strncmp(www, "Bearer", 6), 0, "WWW-Authenticate: %s", www);
}

static void assert_error_field(const struct resp *r, const char *field)
{
	json_object *errs, *e, *f;
	size_t i;

	cr_assert(has_field(r->json, "errors", &errs) && json_object_is_type(errs, json_type_array),
	    "no errors[] in %s", r->body);
	for (i = 0; i < json_object_array_length(errs); i++) {
		e = json_object_array_get_idx(errs, i);
		if (has_field(e, "field", &f) && strcmp(json_object_get_string(f), field) == 0) {
			json_object *m;

			cr_assert(has_field(e, "message", &m) && strlen(json_object_get_string(m)) > 0,
			    "error for %s without a message: %s", field, r->body);
			return;
		}
	}
	cr_assert_fail("no error for field %s in %s", field, r->body);
}

static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

/* ------------------------------------------------------------ create */

Test(create, returns_201_location_etag_and_defaults)
{
	char body[256], loc[128], ct[128], want[128], title[64], id[37];
	struct resp *r;
	json_object *v;

	snprintf(title, sizeof title, "Pilot %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	r = http_json("POST", "/episodes", tok_editor(), body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_not_null(resp_header(r, "Content-Type", ct, sizeof ct));
	cr_assert_eq(strncmp(ct, "application/json", 16), 0, "%s", ct);
	assert_header(r, "ETag", "\"1\"");
	snprintf(id, sizeof id, "%s", resp_str(r, "id"));
	cr_assert(eccr_uuid_valid(id), "%s", r->body);
	for (const char *p = id; *p; p++)
		cr_assert(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'),
		    "id not lower-case: %s", id);
	cr_assert_not_null(resp_header(r, "Location", loc, sizeof loc));
	snprintf(want, sizeof want, "/api/v1/episodes/%s", id);
	cr_assert(strcmp(loc, want) == 0 ||
	    (strlen(loc) > strlen(want) && strcmp(loc + strlen(loc) - strlen(want), want) == 0),
	    "Location %s, want %s", loc, want);
	cr_assert_str_eq(resp_str(r, "title"), title);
	cr_assert_str_eq(resp_str(r, "status"), "draft");
	cr_assert_str_eq(resp_str(r, "description"), "");
	cr_assert_str_eq(resp_str(r, "created_by"), "eddie");
	cr_assert_str_eq(resp_str(r, "updated_by"), "eddie");
	cr_assert_eq(json_int(r->json, "version"), 1);
	assert_null_field(r->json, "series");
	assert_null_field(r->json, "season_number");
	assert_null_field(r->json, "episode_number");
	assert_null_field(r->json, "air_date");
	assert_null_field(r->json, "duration_seconds");
	cr_assert_str_eq(json_text(r->json, "categories"), "[]");
	cr_assert(has_field(r->json, "metadata", &v) && json_object_is_type(v, json_type_object));
	cr_assert_str_eq(json_text(r->json, "metadata"), "{}");
	/* RFC 3339 UTC with milliseconds. */
	cr_assert_eq(strlen(resp_str(r, "created_at")), 24, "%s", resp_str(r, "created_at"));
	cr_assert_eq(resp_str(r, "created_at")[10], 'T');
	cr_assert_eq(resp_str(r, "created_at")[19], '.');
	cr_assert_eq(resp_str(r, "created_at")[23], 'Z');
	cr_assert_str_eq(resp_str(r, "created_at"), resp_str(r, "updated_at"));
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid AND title = $2"
	    " AND created_by = 'eddie' AND version = 1", id, title, NULL), 1);
}

Test(create, stores_every_field)
{
	char body[512], id[37], path[64], series[64];
	struct resp *r;

	snprintf(series, sizeof series, "S-%s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"Full\",\"series\":\"%s\",\"season_number\":2,"
	    "\"episode_number\":5,\"description\":\"line1\\nline2\\ttab\",\"status\":\"scheduled\","
	    "\"air_date\":\"2026-12-01\",\"duration_seconds\":1800,\"categories\":[\"news\",\"sport\"],"
	    "\"metadata\":{\"k\":[1,{\"x\":null}],\"b\":true}}", series);
	episode_create(tok_editor(), body, id);
	ep_path(path, id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "series"), series);
	cr_assert_eq(json_int(r->json, "season_number"), 2);
	cr_assert_eq(json_int(r->json, "episode_number"), 5);
	cr_assert_eq(json_int(r->json, "duration_seconds"), 1800);
	cr_assert_str_eq(resp_str(r, "description"), "line1\nline2\ttab");
	cr_assert_str_eq(resp_str(r, "air_date"), "2026-12-01");
	cr_assert_str_eq(resp_str(r, "status"), "scheduled");
	cr_assert_str_eq(json_text(r->json, "categories"), "[\"news\",\"sport\"]");
	{
		/* jsonb may reorder keys: compare members. */
		json_object *m, *k, *b;

		cr_assert(has_field(r->json, "metadata", &m));
		cr_assert_eq(json_object_object_length(m), 2, "%s", json_object_to_json_string(m));
		cr_assert(has_field(m, "k", &k) && has_field(m, "b", &b));
		cr_assert_str_eq(json_object_to_json_string_ext(k, JSON_C_TO_STRING_PLAIN), "[1,{\"x\":null}]");
		cr_assert(json_object_is_type(b, json_type_boolean) && json_object_get_boolean(b));
	}
	resp_free(r);
}

Test(create, accepts_values_at_the_limits)
{
	struct eccr_buf b = { 0 };
	char *title = repeat("\xc3\xa9", 500);   /* 500 characters, 1000 bytes */
	char *desc = repeat("d", 20000);
	char *cat = repeat("c", 99);
	char *meta = repeat("m", 60000);
	char id[37], path[64];
	struct resp *r;
	json_object *v;

	eccr_buf_printf(&b, "{\"title\":\"%s\",\"description\":\"%s\",\"season_number\":0,"
	    "\"episode_number\":2147483647,\"duration_seconds\":0,\"categories\":[", title, desc);
	for (int i = 0; i < 50; i++)
		eccr_buf_printf(&b, "%s\"%s%d\"", i ? "," : "", cat, i % 10);
	eccr_buf_printf(&b, "],\"metadata\":{\"k\":\"%s\"}}", meta);
	episode_create(tok_editor(), b.p, id);
	ep_path(path, id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "title"), title);
	cr_assert_eq(strlen(resp_str(r, "description")), 20000);
	cr_assert_eq(json_int(r->json, "season_number"), 0);
	cr_assert_eq(json_int(r->json, "episode_number"), 2147483647);
	cr_assert(has_field(r->json, "categories", &v));
	cr_assert_eq(json_object_array_length(v), 50);
	cr_assert(has_field(r->json, "metadata", &v) && has_field(v, "k", &v));
	cr_assert_eq(strlen(json_object_get_string(v)), 60000);
	resp_free(r);
	eccr_buf_free(&b);
	free(title);
	free(desc);
	free(cat);
	free(meta);
}

Test(create, needs_editor_and_credentials)
{
	char *before = db_changes();
	struct resp *r = http_json("POST", "/episodes", tok_viewer(), "{\"title\":\"x\"}");

	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("POST", "/episodes", NULL, "{\"title\":\"x\"}");
	assert_www_bearer(r);
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(create, admin_may_create)
{
	char id[37];

	episode_create(tok_admin(), "{\"title\":\"by the admin\"}", id);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid AND created_by = 'ada'",
	    id, NULL), 1);
}

Test(create, series_season_episode_is_unique)
{
	char body[256], id[37], *before;
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"U-%s\",\"season_number\":1,"
	    "\"episode_number\":1}", uniq());
	episode_create(tok_editor(), body, id);
	before = db_changes();
	r = http_json("POST", "/episodes", tok_editor(), body);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	r = http_json("POST", "/episodes", tok_admin(), body);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	/* Another episode number, or another season, is another episode. */
	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"U-%s\",\"season_number\":1,"
	    "\"episode_number\":2}", uniq());
	episode_create(tok_editor(), body, id);
	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"U-%s\",\"season_number\":2,"
	    "\"episode_number\":1}", uniq());
	episode_create(tok_editor(), body, id);
	/* Only all three together are unique: without an episode number it's fine. */
	snprintf(body, sizeof body, "{\"title\":\"b\",\"series\":\"U-%s\",\"season_number\":1}", uniq());
	episode_create(tok_editor(), body, id);
	episode_create(tok_editor(), body, id);
}

/* ------------------------------------------------------------ get */

Test(get, returns_etag_and_viewers)
{
	char id[37], path[64], title[64], body[128];
	struct resp *r;
	json_object *v;

	snprintf(title, sizeof title, "get me %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	episode_create(tok_editor(), body, id);
	ep_path(path, id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "title"), title);
	cr_assert_eq(json_int(r->json, "version"), 1);
	assert_header(r, "ETag", "\"1\"");
	cr_assert(has_field(r->json, "viewers", &v), "%s", r->body);
	cr_assert(json_object_is_type(v, json_type_array), "%s", r->body);
	/* Without a presence plugin nobody is reported; with one, the caller. */
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *u;

		cr_assert(has_field(json_object_array_get_idx(v, i), "user_id", &u), "%s", r->body);
		cr_assert_str_eq(json_object_get_string(u), "vera");
	}
	resp_free(r);
}

Test(get, unknown_and_malformed_ids)
{
	static const char *const malformed[] = {
		"/episodes/not-a-uuid",
		"/episodes/00000000-0000-4000-8000-00000000000",     /* 35 characters */
		"/episodes/00000000-0000-4000-8000-0000000000000",   /* 37 characters */
		"/episodes/g0000000-0000-4000-8000-000000000000",
		"/episodes/000000000000-4000-8000-0000000000000000",
		"/episodes/%27%3B%20DROP%20TABLE%20episodes%3B--",
		"/episodes/1",
	};
	char *before = db_changes();
	struct resp *r = http_json("GET", "/episodes/00000000-0000-4000-8000-000000000000", tok_viewer(), NULL);

	assert_problem(r, 404, "not_found");
	resp_free(r);
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		r = http_json("GET", malformed[i], tok_viewer(), NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	assert_unchanged(before);
	free(before);
}

Test(get, needs_credentials)
{
	char id[37], path[64];
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"private\"}", id);
	ep_path(path, id);
	r = http_json("GET", path, NULL, NULL);
	assert_www_bearer(r);
	cr_assert_null(strstr(r->body, "private"), "%s", r->body);
	resp_free(r);
}

/* ------------------------------------------------------------ update */

Test(update, patch_changes_fields_bumps_version_and_etag)
{
	char id[37], path[64];
	char *other = token_for("otto", "editor");
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"before\",\"status\":\"draft\",\"description\":\"keep\"}", id);
	ep_path(path, id);
	r = http_json("PATCH", path, other, "{\"title\":\"after\",\"status\":\"in_review\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "title"), "after");
	cr_assert_str_eq(resp_str(r, "status"), "in_review");
	cr_assert_str_eq(resp_str(r, "description"), "keep");
	cr_assert_str_eq(resp_str(r, "created_by"), "eddie");
	cr_assert_str_eq(resp_str(r, "updated_by"), "otto");
	cr_assert_eq(json_int(r->json, "version"), 2);
	cr_assert_geq(strcmp(resp_str(r, "updated_at"), resp_str(r, "created_at")), 0);
	assert_header(r, "ETag", "\"2\"");
	resp_free(r);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_str_eq(resp_str(r, "title"), "after");
	assert_header(r, "ETag", "\"2\"");
	resp_free(r);
	cr_assert_eq(db_version(id), 2);
	cr_assert_eq(events_for(id, "episode_created"), 1);
	cr_assert_eq(events_for(id, "episode_updated"), 1);
	free(other);
}

Test(update, patch_touches_only_the_given_fields)
{
	char id[37], path[64], body[256];
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"t\",\"series\":\"PT-%s\",\"season_number\":3,"
	    "\"air_date\":\"2026-05-05\",\"categories\":[\"a\",\"b\"],\"metadata\":{\"x\":1}}", uniq());
	episode_create(tok_editor(), body, id);
	ep_path(path, id);
	r = http_json("PATCH", path, tok_editor(), "{\"series\":null,\"categories\":[\"c\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_null_field(r->json, "series");
	cr_assert_str_eq(json_text(r->json, "categories"), "[\"c\"]");
	cr_assert_str_eq(resp_str(r, "title"), "t");
	cr_assert_eq(json_int(r->json, "season_number"), 3);
	cr_assert_str_eq(resp_str(r, "air_date"), "2026-05-05");
	cr_assert_str_eq(json_text(r->json, "metadata"), "{\"x\":1}");
	cr_assert_eq(json_int(r->json, "version"), 2);
	resp_free(r);
	/* The event names exactly the fields that changed. */
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'episode_updated' AND data->'changed_fields' @> '[\"series\",\"categories\"]'"
	    " AND jsonb_array_length(data->'changed_fields') = 2", id, NULL), 1);
	/* A field that must not be null. */
	r = http_json("PATCH", path, tok_editor(), "{\"title\":null}");
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	resp_free(r);
	cr_assert_eq(db_version(id), 2);
}

Test(update, noop_patch_changes_nothing_and_emits_nothing)
{
	char id[37], path[64], *before;
	char *updated_at;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"same\",\"categories\":[\"a\"],\"metadata\":{\"n\":1}}", id);
	ep_path(path, id);
	updated_at = db_scalar("SELECT updated_at::text FROM episodes WHERE id = $1::uuid", id, NULL);
	before = db_changes();
	r = http_json("PATCH", path, tok_editor(),
	    "{\"title\":\"same\",\"categories\":[\"a\"],\"metadata\":{\"n\":1},\"status\":\"draft\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 1);
	cr_assert_str_eq(resp_str(r, "title"), "same");
	assert_header(r, "ETag", "\"1\"");
	resp_free(r);
	r = http_json("PATCH", path, tok_editor(), "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 1);
	assert_header(r, "ETag", "\"1\"");
	resp_free(r);
	assert_unchanged(before);
	cr_assert_eq(events_for(id, "episode_updated"), 0);
	cr_assert_eq(db_version(id), 1);
	{
		char *now = db_scalar("SELECT updated_at::text FROM episodes WHERE id = $1::uuid", id, NULL);

		cr_assert_str_eq(now, updated_at, "a no-op PATCH touched updated_at");
		free(now);
	}
	free(updated_at);
	free(before);
}

Test(update, put_replaces_and_resets_omitted_fields)
{
	char id[37], path[64], body[384], *before;
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"t\",\"series\":\"PUT-%s\",\"season_number\":1,"
	    "\"episode_number\":1,\"description\":\"d\",\"status\":\"published\",\"air_date\":\"2026-01-02\","
	    "\"duration_seconds\":60,\"categories\":[\"x\"],\"metadata\":{\"a\":1}}", uniq());
	episode_create(tok_editor(), body, id);
	ep_path(path, id);
	r = http_json("PUT", path, tok_editor(), "{\"title\":\"t2\",\"season_number\":4}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "title"), "t2");
	cr_assert_eq(json_int(r->json, "season_number"), 4);
	cr_assert_str_eq(resp_str(r, "description"), "");
	cr_assert_str_eq(resp_str(r, "status"), "draft");
	assert_null_field(r->json, "series");
	assert_null_field(r->json, "episode_number");
	assert_null_field(r->json, "air_date");
	assert_null_field(r->json, "duration_seconds");
	cr_assert_str_eq(json_text(r->json, "categories"), "[]");
	cr_assert_str_eq(json_text(r->json, "metadata"), "{}");
	cr_assert_eq(json_int(r->json, "version"), 2);
	assert_header(r, "ETag", "\"2\"");
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'episode_updated' AND (data->>'version')::int = 2 AND data->>'title' = 't2'"
	    " AND jsonb_array_length(data->'changed_fields') = 10", id, NULL), 1);
	/* PUT needs the title, like a create. */
	before = db_changes();
	r = http_json("PUT", path, tok_editor(), "{\"description\":\"no title\"}");
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	resp_free(r);
	r = http_json("PUT", path, tok_editor(), "{\"title\":\"t3\",\"colour\":\"red\"}");
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "colour");
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(update, if_match)
{
	char id[37], path[64], *before;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"v1\"}", id);
	ep_path(path, id);
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v2\"}", 14, "If-Match: \"1\"");
	cr_assert_eq(r->status, 200, "%s", r->body);
	assert_header(r, "ETag", "\"2\"");
	resp_free(r);
	before = db_changes();
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: \"1\"");
	assert_problem(r, 412, "precondition_failed");
	resp_free(r);
	r = http("PUT", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: \"7\"");
	assert_problem(r, 412, "precondition_failed");
	resp_free(r);
	r = http("DELETE", path, tok_admin(), NULL, NULL, 0, "If-Match: \"1\"");
	assert_problem(r, 412, "precondition_failed");
	resp_free(r);
	/* If-Match compares strongly: a weak tag never matches. */
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: W/\"2\"");
	assert_problem(r, 412, "precondition_failed");
	resp_free(r);
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: garbage");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(db_version(id), 2);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid AND title = 'v2'", id, NULL), 1);

	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: \"5\", \"2\"");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 3);
	resp_free(r);
	r = http("PUT", path, tok_editor(), NULL, "{\"title\":\"v4\"}", 14, "If-Match: \"3\"");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 4);
	resp_free(r);
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v5\"}", 14, "If-Match: *");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 5);
	resp_free(r);
	r = http("DELETE", path, tok_admin(), NULL, NULL, 0, "If-Match: \"5\"");
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid", id, NULL), 0);
}

Test(update, patch_into_a_duplicate_is_409)
{
	char body[256], a[37], b[37], path[64], *before;
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"D-%s\",\"season_number\":1,\"episode_number\":1}", uniq());
	episode_create(tok_editor(), body, a);
	snprintf(body, sizeof body, "{\"title\":\"b\",\"series\":\"D-%s\",\"season_number\":1,\"episode_number\":2}", uniq());
	episode_create(tok_editor(), body, b);
	ep_path(path, b);
	before = db_changes();
	r = http_json("PATCH", path, tok_editor(), "{\"episode_number\":1}");
	assert_problem(r, 409, "conflict");
	resp_free(r);
	snprintf(body, sizeof body, "{\"title\":\"b\",\"series\":\"D-%s\",\"season_number\":1,\"episode_number\":1}", uniq());
	r = http_json("PUT", path, tok_editor(), body);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(db_count("SELECT episode_number FROM episodes WHERE id = $1::uuid", b, NULL), 2);
}

Test(update, unknown_episode_is_404)
{
	static const char *const path = "/episodes/00000000-0000-4000-8000-000000000001";
	char *before = db_changes();
	struct resp *r = http_json("PATCH", path, tok_editor(), "{\"title\":\"x\"}");

	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("PUT", path, tok_editor(), "{\"title\":\"x\"}");
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("PATCH", "/episodes/not-a-uuid", tok_editor(), "{\"title\":\"x\"}");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(update, viewer_cannot_change)
{
	char id[37], path[64], *before;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"mine\"}", id);
	ep_path(path, id);
	before = db_changes();
	r = http_json("PATCH", path, tok_viewer(), "{\"title\":\"theirs\"}");
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("PUT", path, tok_viewer(), "{\"title\":\"theirs\"}");
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("PATCH", path, NULL, "{\"title\":\"theirs\"}");
	assert_www_bearer(r);
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(update, bad_bodies_change_nothing)
{
	static const struct { const char *body; long status; const char *code, *field; } cases[] = {
		{ "{\"title\":", 400, "bad_request", NULL },
		{ "[]", 400, "bad_request", NULL },
		{ "{\"title\":\"\"}", 400, "validation_failed", "title" },
		{ "{\"title\":5}", 400, "validation_failed", "title" },
		{ "{\"season_number\":\"3\"}", 400, "validation_failed", "season_number" },
		{ "{\"season_number\":-1}", 400, "validation_failed", "season_number" },
		{ "{\"status\":\"live\"}", 400, "validation_failed", "status" },
		{ "{\"metadata\":[]}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"ok\",\"id\":\"00000000-0000-4000-8000-000000000000\"}", 400, "validation_failed", "id" },
		{ "{\"title\":\"ok\",\"version\":7}", 400, "validation_failed", "version" },
		{ "{\"title\":\"\xff\"}", 400, "bad_request", NULL },
	};
	char id[37], path[64], *before;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"stable\"}", id);
	ep_path(path, id);
	before = db_changes();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = http_json("PATCH", path, tok_editor(), cases[i].body);
		assert_problem(r, cases[i].status, cases[i].code);
		if (cases[i].field)
			assert_error_field(r, cases[i].field);
		resp_free(r);
	}
	r = http("PATCH", path, tok_editor(), "text/plain", "{\"title\":\"x\"}", 13, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid AND title = 'stable'"
	    " AND version = 1", id, NULL), 1);
}

/* ------------------------------------------------------------ delete */

Test(delete, admin_only_then_gone)
{
	char id[37], path[64], *before;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"doomed\"}", id);
	ep_path(path, id);
	before = db_changes();
	r = http_json("DELETE", path, tok_editor(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("DELETE", path, tok_viewer(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("DELETE", path, NULL, NULL);
	assert_www_bearer(r);
	resp_free(r);
	assert_unchanged(before);
	free(before);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	cr_assert_eq(r->len, 0, "204 with a body: %s", r->body);
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid", id, NULL), 0);
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("PATCH", path, tok_editor(), "{\"title\":\"zombie\"}");
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	cr_assert_eq(events_for(id, "episode_deleted"), 1);
}

/* ------------------------------------------------------------ events */

Test(events, create_writes_one_event_with_the_envelope_fields)
{
	char id[37], title[64], body[256];

	snprintf(title, sizeof title, "evt %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"categories\":[\"c1\",\"c2\"],\"status\":\"published\"}", title);
	episode_create(tok_editor(), body, id);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1 OR episode_id::text = $1",
	    id, NULL), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'episode_created' AND actor_id = 'eddie' AND resource_type = 'episode'"
	    " AND episode_id = $1::uuid AND data->>'title' = $2"
	    " AND data->'categories' = '[\"c1\",\"c2\"]' AND data->>'status' = 'published'",
	    id, title, NULL), 1);
	/* The envelope a sink will receive, built by the database. */
	cr_assert_eq(db_count("SELECT count(*) FROM events e WHERE resource_id = $1 AND"
	    " (eccr_event_envelope(e)::jsonb) ?& array['id','type','occurred_at','actor','resource','episode_id','data']"
	    " AND (eccr_event_envelope(e)::jsonb)->'actor'->>'id' = 'eddie'"
	    " AND (eccr_event_envelope(e)::jsonb)->'resource' = jsonb_build_object('type', 'episode', 'id', $1::text)"
	    " AND (eccr_event_envelope(e)::jsonb)->>'episode_id' = $1"
	    " AND jsonb_typeof((eccr_event_envelope(e)::jsonb)->'id') = 'string'", id, NULL), 1);
}

Test(events, one_event_per_change_in_order)
{
	char id[37], path[64], *types;
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"lifecycle\",\"status\":\"draft\"}", id);
	ep_path(path, id);
	r = http_json("PATCH", path, tok_editor(), "{\"status\":\"in_review\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	r = http_json("PATCH", path, tok_editor(), "{\"status\":\"in_review\"}");   /* no-op */
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	r = http_json("PUT", path, tok_admin(), "{\"title\":\"lifecycle 2\",\"status\":\"in_review\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);

	types = db_scalar("SELECT string_agg(type || ':' || actor_id, ',' ORDER BY id) FROM events"
	    " WHERE resource_type = 'episode' AND resource_id = $1", id, NULL);
	cr_assert_str_eq(types, "episode_created:eddie,episode_updated:eddie,episode_updated:ada,"
	    "episode_deleted:ada");
	free(types);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1 AND type = 'episode_updated'"
	    " AND data->>'title' = 'lifecycle' AND (data->>'version')::int = 2"
	    " AND data->'changed_fields' = '[\"status\"]'", id, NULL), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1 AND type = 'episode_updated'"
	    " AND data->>'title' = 'lifecycle 2' AND (data->>'version')::int = 3"
	    " AND data->'changed_fields' = '[\"title\"]'", id, NULL), 1);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1 AND type = 'episode_deleted'"
	    " AND data->>'title' = 'lifecycle 2' AND episode_id = $1::uuid", id, NULL), 1);
}

Test(events, rejected_requests_write_no_event)
{
	char id[37], path[64];
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"quiet\"}", id);
	ep_path(path, id);
	r = http_json("PATCH", path, tok_viewer(), "{\"title\":\"loud\"}");
	cr_assert_eq(r->status, 403);
	resp_free(r);
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"loud\"}", 16, "If-Match: \"9\"");
	cr_assert_eq(r->status, 412);
	resp_free(r);
	r = http_json("DELETE", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 403);
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM events WHERE resource_id = $1", id, NULL), 1);
}

/* ------------------------------------------------------------ list */

#define SERIES_N 7

/* Seven episodes of one series, created in index order:
 *   i  title    air_date    status     category
 *   0  delta    2026-03-01  draft      music
 *   1  alpha    -           published  news
 *   2  echo     2026-01-01  draft      news
 *   3  charlie  2026-02-01  published  music
 *   4  bravo    -           draft      news
 *   5  golf     2026-01-15  published  news
 *   6  foxtrot  2026-03-01  draft      music */
static void make_series(const char *series, char ids[SERIES_N][37])
{
	static const char *const titles[] = { "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot" };
	static const char *const dates[] = { "\"2026-03-01\"", "null", "\"2026-01-01\"", "\"2026-02-01\"",
		"null", "\"2026-01-15\"", "\"2026-03-01\"" };
	char body[512];

	for (int i = 0; i < SERIES_N; i++) {
		snprintf(body, sizeof body, "{\"title\":\"%s\",\"series\":\"%s\",\"air_date\":%s,"
		    "\"status\":\"%s\",\"categories\":[\"%s\",\"x-%d\"]}", titles[i], series, dates[i],
		    i % 2 ? "published" : "draft", i % 3 ? "news" : "music", i);
		episode_create(tok_editor(), body, ids[i]);
	}
}

/* Walk every page of a listing: full pages until the last, which has
 * next_cursor null.  Returns the items in order. */
static json_object *walk(const char *query, int limit, int *pages)
{
	json_object *all = json_object_new_array();
	char path[1024], cursor[512] = "";

	*pages = 0;
	for (;;) {
		struct resp *r;
		json_object *items, *next;
		size_t n;

		snprintf(path, sizeof path, "/episodes?%s&limit=%d%s%s", query, limit,
		    cursor[0] ? "&cursor=" : "", cursor);
		r = http_json("GET", path, tok_viewer(), NULL);
		cr_assert_eq(r->status, 200, "%s: %s", path, r->body);
		cr_assert(has_field(r->json, "items", &items) && json_object_is_type(items, json_type_array),
		    "%s", r->body);
		n = json_object_array_length(items);
		cr_assert_leq(n, (size_t)limit);
		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
		(*pages)++;
		cr_assert(has_field(r->json, "next_cursor", &next), "no next_cursor: %s", r->body);
		if (next == NULL) {
			resp_free(r);
			break;
		}
		cr_assert_eq(n, (size_t)limit, "a short page with a next_cursor: %s", r->body);
		cr_assert(json_object_is_type(next, json_type_string));
		cr_assert_lt(strlen(json_object_get_string(next)), sizeof cursor);
		snprintf(cursor, sizeof cursor, "%s", json_object_get_string(next));
		resp_free(r);
		cr_assert_lt(*pages, 60, "pagination does not end");
	}
	return all;
}

static const char *item_str(json_object *all, size_t i, const char *field)
{
	json_object *v;

	if (!has_field(json_object_array_get_idx(all, i), field, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static void assert_distinct(json_object *all, size_t want)
{
	size_t n = json_object_array_length(all);

	cr_assert_eq(n, want, "got %zu items, want %zu: %s", n, want, json_object_to_json_string(all));
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(item_str(all, i, "id"), item_str(all, j, "id"), "repeated row");
}

/* The items are exactly ids[order[0]], ids[order[1]]... */
static void assert_order(json_object *all, char ids[SERIES_N][37], const int *order, size_t n,
    const char *what)
{
	assert_distinct(all, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(item_str(all, i, "id"), ids[order[i]],
		    "%s: item %zu is %s (%s), want %s", what, i, item_str(all, i, "id"),
		    item_str(all, i, "title"), ids[order[i]]);
}

/* Of two rows with equal sort keys, the one with the lower id (ties by id). */
static int lo(char ids[SERIES_N][37], int a, int b)
{
	return strcmp(ids[a], ids[b]) < 0 ? a : b;
}

static int hi(char ids[SERIES_N][37], int a, int b)
{
	return lo(ids, a, b) == a ? b : a;
}

Test(list, every_sort_paginates_without_loss_or_repeat)
{
	char series[64], query[256], ids[SERIES_N][37];
	int pages;

	snprintf(series, sizeof series, "P-%s", uniq());
	make_series(series, ids);
	{
		const int updated_desc[] = { 6, 5, 4, 3, 2, 1, 0 };
		const int updated[] = { 0, 1, 2, 3, 4, 5, 6 };
		const int title[] = { 1, 4, 3, 0, 2, 6, 5 };
		/* Dates ascending or descending, undated rows last either way. */
		const int air[] = { 2, 5, 3, lo(ids, 0, 6), hi(ids, 0, 6), lo(ids, 1, 4), hi(ids, 1, 4) };
		const int air_desc[] = { hi(ids, 0, 6), lo(ids, 0, 6), 3, 5, 2, hi(ids, 1, 4), lo(ids, 1, 4) };
		const struct { const char *sort; const int *order; } sorts[] = {
			{ "-updated_at", updated_desc }, { "updated_at", updated }, { "title", title },
			{ "air_date", air }, { "-air_date", air_desc },
		};

		for (size_t s = 0; s < sizeof sorts / sizeof sorts[0]; s++) {
			static const int limits[] = { 2, 3, 7, 200 };

			for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
				json_object *all;
				char what[64];

				snprintf(query, sizeof query, "series=%s&sort=%s", series, sorts[s].sort);
				snprintf(what, sizeof what, "sort=%s limit=%d", sorts[s].sort, limits[l]);
				all = walk(query, limits[l], &pages);
				assert_order(all, ids, sorts[s].order, SERIES_N, what);
				cr_assert_eq(pages, (SERIES_N + limits[l] - 1) / limits[l], "%s: %d pages", what, pages);
				json_object_put(all);
			}
		}
		/* The default order is -updated_at. */
		snprintf(query, sizeof query, "series=%s", series);
		json_object *all = walk(query, 2, &pages);
		assert_order(all, ids, updated_desc, SERIES_N, "default sort");
		cr_assert_eq(pages, 4);
		json_object_put(all);
	}
}

Test(list, a_cursor_belongs_to_its_sort)
{
	char series[64], path[512], ids[SERIES_N][37], *before;
	struct resp *r;
	json_object *next;

	snprintf(series, sizeof series, "C-%s", uniq());
	make_series(series, ids);
	snprintf(path, sizeof path, "/episodes?series=%s&sort=title&limit=2", series);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(has_field(r->json, "next_cursor", &next) && next != NULL, "%s", r->body);
	snprintf(path, sizeof path, "/episodes?series=%s&sort=air_date&limit=2&cursor=%s", series,
	    json_object_get_string(next));
	resp_free(r);
	before = db_changes();
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

static void assert_all(json_object *all, const char *field, const char *want)
{
	for (size_t i = 0; i < json_object_array_length(all); i++)
		cr_assert_str_eq(item_str(all, i, field), want, "item %zu", i);
}

static void assert_all_in_category(json_object *all, const char *cat)
{
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *c;
		bool found = false;

		cr_assert(has_field(json_object_array_get_idx(all, i), "categories", &c));
		for (size_t j = 0; j < json_object_array_length(c); j++)
			found |= strcmp(json_object_get_string(json_object_array_get_idx(c, j)), cat) == 0;
		cr_assert(found, "item %zu is not in %s", i, cat);
	}
}

Test(list, filters)
{
	char series[64], query[256], ids[SERIES_N][37], *tok;
	json_object *all;
	int pages;

	snprintf(series, sizeof series, "F-%s", uniq());
	make_series(series, ids);
	snprintf(query, sizeof query, "series=%s", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, SERIES_N);
	assert_all(all, "series", series);
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&status=published", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 3);
	assert_all(all, "status", "published");
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&category=music", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 3);
	assert_all_in_category(all, "music");
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&category=x-4", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "id"), ids[4]);
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&category=music&status=draft", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 2);
	assert_all(all, "status", "draft");
	assert_all_in_category(all, "music");
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&status=archived", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 0);
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&created_by=eddie", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, SERIES_N);
	json_object_put(all);

	snprintf(query, sizeof query, "series=%s&created_by=nobody", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 0);
	json_object_put(all);

	/* created_by alone, with a creator unique to this test. */
	char sub[64], body[256], id[37];
	snprintf(sub, sizeof sub, "creator-%s", uniq());
	tok = token_for(sub, "editor");
	snprintf(body, sizeof body, "{\"title\":\"by %s\"}", sub);
	episode_create(tok, body, id);
	snprintf(query, sizeof query, "created_by=%s", sub);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "id"), id);
	assert_all(all, "created_by", sub);
	json_object_put(all);
	free(tok);

	/* A series with another prefix is another series: no prefix match. */
	snprintf(query, sizeof query, "series=F-%.6s", uniq());
	all = walk(query, 50, &pages);
	assert_distinct(all, 0);
	json_object_put(all);
}

Test(list, full_text_search)
{
	char body[256], word[64], query[128], id[37], want[37], tword[64];
	json_object *all;
	int pages;

	snprintf(word, sizeof word, "zyx%s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"Harbour report\",\"description\":\"The %s ferries were late\"}", word);
	episode_create(tok_editor(), body, want);
	snprintf(body, sizeof body, "{\"title\":\"Unrelated\",\"description\":\"zyx other %s\"}", uniq());
	episode_create(tok_editor(), body, id);
	snprintf(query, sizeof query, "q=%s", word);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "id"), want);
	cr_assert_str_eq(item_str(all, 0, "title"), "Harbour report");
	json_object_put(all);
	/* Several words: all must match. */
	snprintf(query, sizeof query, "q=%s+harbour", word);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	json_object_put(all);
	snprintf(query, sizeof query, "q=%s+lighthouse", word);
	all = walk(query, 50, &pages);
	assert_distinct(all, 0);
	json_object_put(all);
	/* Title and series are searched too. */
	snprintf(tword, sizeof tword, "qvt%s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"About %s\"}", tword);
	episode_create(tok_editor(), body, want);
	snprintf(body, sizeof body, "{\"title\":\"Plain\",\"series\":\"Saga q%s\"}", tword);
	episode_create(tok_editor(), body, id);
	snprintf(query, sizeof query, "q=%s", tword);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "id"), want);
	json_object_put(all);
	snprintf(query, sizeof query, "q=q%s", tword);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "id"), id);
	json_object_put(all);
}

Test(list, rejects_bad_parameters)
{
	static const char *const bad[] = {
		"limit=0", "limit=201", "limit=abc", "limit=-1", "limit=", "limit=1.5", "limit=%201",
		"limit=99999999999999999999", "cursor=not-a-cursor", "cursor=AAAA", "cursor=Zm9vfGJhcnxiYXo",
		"cursor=%2F%2F", "cursor=", "status=live", "status=DRAFT", "sort=colour", "sort=-title",
		"colour=red", "series=", "status=", "created_by=", "category=",
	};
	char *before = db_changes();
	struct eccr_buf b = { 0 };
	struct resp *r;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];

		snprintf(path, sizeof path, "/episodes?%s", bad[i]);
		r = http_json("GET", path, tok_viewer(), NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	/* q is at most 500 characters (501 'w' is too many, 500 'é' is fine). */
	eccr_buf_adds(&b, "/episodes?q=");
	for (int i = 0; i < 501; i++)
		eccr_buf_addc(&b, 'w');
	r = http_json("GET", b.p, tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "/episodes?limit=1&q=");
	for (int i = 0; i < 500; i++)
		eccr_buf_adds(&b, "%C3%A9");
	r = http_json("GET", b.p, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	eccr_buf_free(&b);
	assert_unchanged(before);
	free(before);
}

Test(list, empty_search_means_no_search)
{
	struct resp *r = http_json("GET", "/episodes?q=&limit=1", tok_viewer(), NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}

Test(list, default_and_maximum_limits)
{
	char series[64], body[256], id[37], path[256];
	struct resp *r;
	json_object *items, *next;

	snprintf(series, sizeof series, "L-%s", uniq());
	for (int i = 0; i < 51; i++) {
		snprintf(body, sizeof body, "{\"title\":\"n%02d\",\"series\":\"%s\"}", i, series);
		episode_create(tok_editor(), body, id);
	}
	/* Default 50. */
	snprintf(path, sizeof path, "/episodes?series=%s", series);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(has_field(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 50);
	cr_assert(has_field(r->json, "next_cursor", &next) && next != NULL);
	resp_free(r);
	/* 200 is allowed and returns all 51. */
	snprintf(path, sizeof path, "/episodes?series=%s&limit=200", series);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(has_field(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 51);
	cr_assert(has_field(r->json, "next_cursor", &next) && next == NULL);
	resp_free(r);
	r = http_json("GET", "/episodes?limit=1", tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(has_field(r->json, "items", &items));
	cr_assert_eq(json_object_array_length(items), 1);
	resp_free(r);
}

Test(list, needs_credentials)
{
	struct resp *r = http_json("GET", "/episodes", NULL, NULL);

	assert_www_bearer(r);
	resp_free(r);
}

/* ------------------------------------------------------------ bad input */

struct bad_body {
	const char *body;
	long status;
	const char *code;
	const char *field;     /* expected in errors[] for validation_failed */
};

Test(bad_input, bodies_get_precise_errors_and_change_nothing)
{
	static const struct bad_body cases[] = {
		{ "{\"title\":", 400, "bad_request", NULL },
		{ "", 400, "bad_request", NULL },
		{ "{\"title\":\"x\"} trailing", 400, "bad_request", NULL },
		{ "{\"title\":\"x\"}{}", 400, "bad_request", NULL },
		{ "[\"title\"]", 400, "bad_request", NULL },
		{ "\"title\"", 400, "bad_request", NULL },
		{ "null", 400, "bad_request", NULL },
		{ "{'title':'x'}", 400, "bad_request", NULL },
		{ "{\"title\":\"x\",}", 400, "bad_request", NULL },
		{ "{\"title\":\"\xc0\xaf\"}", 400, "bad_request", NULL },           /* overlong */
		{ "{\"title\":\"a\xed\xa0\x80\"}", 400, "bad_request", NULL },      /* surrogate */
		{ "{\"title\":\"a\xff\"}", 400, "bad_request", NULL },
		{ "{\"title\":\"a\xe2\x82\"}", 400, "bad_request", NULL },          /* truncated */
		{ "{\"title\":\"x\",\"series\":\"\xf8\x88\x80\x80\x80\"}", 400, "bad_request", NULL },
		{ "{\"title\":\"x\",\"categories\":[\"\xfe\"]}", 400, "bad_request", NULL },
		{ "{\"title\":\"x\",\"metadata\":{\"\xc3\":1}}", 400, "bad_request", NULL },
		{ "{\"title\":\"x\",\"description\":\"\x80\"}", 400, "bad_request", NULL },
		{ "{\"title\":5}", 400, "validation_failed", "title" },
		{ "{\"title\":true}", 400, "validation_failed", "title" },
		{ "{\"title\":[\"x\"]}", 400, "validation_failed", "title" },
		{ "{\"title\":\"\"}", 400, "validation_failed", "title" },
		{ "{}", 400, "validation_failed", "title" },
		{ "{\"title\":null}", 400, "validation_failed", "title" },
		{ "{\"title\":\"x\",\"colour\":\"red\"}", 400, "validation_failed", "colour" },
		{ "{\"title\":\"x\",\"Title\":\"y\"}", 400, "validation_failed", "Title" },
		{ "{\"title\":\"x\",\"id\":\"00000000-0000-4000-8000-000000000000\"}", 400, "validation_failed", "id" },
		{ "{\"title\":\"x\",\"created_by\":\"mallory\"}", 400, "validation_failed", "created_by" },
		{ "{\"title\":\"x\",\"season_number\":\"3\"}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":-1}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":1.5}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":1e2}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":true}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"duration_seconds\":-5}", 400, "validation_failed", "duration_seconds" },
		{ "{\"title\":\"x\",\"episode_number\":99999999999}", 400, "validation_failed", "episode_number" },
		{ "{\"title\":\"x\",\"status\":\"live\"}", 400, "validation_failed", "status" },
		{ "{\"title\":\"x\",\"status\":null}", 400, "validation_failed", "status" },
		{ "{\"title\":\"x\",\"air_date\":\"2026-02-30\"}", 400, "validation_failed", "air_date" },
		{ "{\"title\":\"x\",\"air_date\":\"01/02/2026\"}", 400, "validation_failed", "air_date" },
		{ "{\"title\":\"x\",\"air_date\":20260101}", 400, "validation_failed", "air_date" },
		{ "{\"title\":\"x\",\"categories\":\"news\"}", 400, "validation_failed", "categories" },
		{ "{\"title\":\"x\",\"categories\":{}}", 400, "validation_failed", "categories" },
		{ "{\"title\":\"x\",\"categories\":[\"\"]}", 400, "validation_failed", "categories[0]" },
		{ "{\"title\":\"x\",\"categories\":[\"ok\",1]}", 400, "validation_failed", "categories[1]" },
		{ "{\"title\":\"x\",\"categories\":[null]}", 400, "validation_failed", "categories[0]" },
		{ "{\"title\":\"x\",\"metadata\":[1]}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"x\",\"metadata\":\"{}\"}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"x\",\"metadata\":null}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"a\\u0000b\"}", 400, "bad_request", NULL },
		{ "{\"title\":\"tab\\there\"}", 400, "validation_failed", "title" },
	};
	char *before = db_changes();

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp *r = http_json("POST", "/episodes", tok_editor(), cases[i].body);

		assert_problem(r, cases[i].status, cases[i].code);
		if (cases[i].field != NULL)
			assert_error_field(r, cases[i].field);
		resp_free(r);
	}
	assert_unchanged(before);
	free(before);
}

Test(bad_input, every_error_is_named)
{
	struct resp *r = http_json("POST", "/episodes", tok_editor(),
	    "{\"title\":\"\",\"season_number\":-1,\"status\":\"live\",\"colour\":1}");
	json_object *errs;

	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	assert_error_field(r, "season_number");
	assert_error_field(r, "status");
	assert_error_field(r, "colour");
	cr_assert(has_field(r->json, "errors", &errs));
	cr_assert_eq(json_object_array_length(errs), 4, "%s", r->body);
	resp_free(r);
}

Test(bad_input, sizes_and_limits)
{
	struct eccr_buf b = { 0 };
	char *before = db_changes();
	char *big;
	struct resp *r;

	big = repeat("a", 501);
	eccr_buf_printf(&b, "{\"title\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	big = repeat("\xc3\xa9", 501);   /* characters count, not bytes: 501 is too many */
	eccr_buf_printf(&b, "{\"title\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	big = repeat("d", 20001);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"description\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "description");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "{\"title\":\"x\",\"categories\":[");
	for (int i = 0; i < 51; i++)
		eccr_buf_printf(&b, "%s\"c%d\"", i ? "," : "", i);
	eccr_buf_adds(&b, "]}");
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "categories");
	resp_free(r);

	eccr_buf_reset(&b);
	big = repeat("c", 101);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"categories\":[\"ok\",\"%s\"]}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "categories[1]");
	resp_free(r);
	free(big);

	/* Over 64 KiB of metadata, however it is serialised. */
	eccr_buf_reset(&b);
	big = repeat("m", 65536);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"metadata\":{\"k\":\"%s\"}}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "metadata");
	resp_free(r);
	free(big);

	eccr_buf_free(&b);
	assert_unchanged(before);
	free(before);
}

/* A body of exactly n bytes: {"title":"x","description":"ddd..."} */
static char *body_of(size_t n)
{
	static const char head[] = "{\"title\":\"x\",\"description\":\"", tail[] = "\"}";
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	cr_assert_gt(n, sizeof head + sizeof tail);
	memcpy(s, head, sizeof head - 1);
	memset(s + sizeof head - 1, 'd', n - (sizeof head - 1) - (sizeof tail - 1));
	memcpy(s + n - (sizeof tail - 1), tail, sizeof tail);
	return s;
}

Test(bad_input, body_over_max_body_bytes_is_413)
{
	size_t max = (size_t)test_config()->server.max_body_bytes;
	char *before = db_changes();
	char *body;
	struct resp *r;

	cr_assert_gt(max, 20100, "test needs max_body_bytes over a full description");
	/* Exactly the maximum is read (and refused for its content). */
	body = body_of(max);
	r = http("POST", "/episodes", tok_editor(), NULL, body, max, NULL);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "description");
	resp_free(r);
	free(body);
	/* One byte more is too large. */
	body = body_of(max + 1);
	r = http("POST", "/episodes", tok_editor(), NULL, body, max + 1, NULL);
	assert_problem(r, 413, "payload_too_large");
	resp_free(r);
	free(body);
	body = body_of(max * 2);
	r = http("PATCH", "/episodes/00000000-0000-4000-8000-000000000000", tok_editor(), NULL,
	    body, max * 2, NULL);
	cr_assert(r->status == 413 || r->status == 404, "%ld: %s", r->status, r->body);
	resp_free(r);
	free(body);
	assert_unchanged(before);
	free(before);
}

Test(bad_input, content_type)
{
	static const char *const refused[] = {
		"text/plain", "application/x-www-form-urlencoded", "application/xml",
		"multipart/form-data; boundary=x", "application/jsonp",
	};
	char *before = db_changes();
	char id[37];
	struct resp *r;

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		r = http("POST", "/episodes", tok_editor(), refused[i], "{\"title\":\"x\"}", 13, NULL);
		assert_problem(r, 415, "unsupported_media_type");
		resp_free(r);
	}
	assert_unchanged(before);
	free(before);
	r = http("POST", "/episodes", tok_editor(), "application/json; charset=utf-8",
	    "{\"title\":\"with charset\"}", 24, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, sizeof id, "%s", resp_str(r, "id"));
	resp_free(r);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid", id, NULL), 1);
}

Test(bad_input, nesting_depth)
{
	struct eccr_buf b = { 0 };
	char *before = db_changes();
	struct resp *r;
	char id[37], path[64];

	/* 33 levels in all: the body object, metadata and 31 arrays. */
	eccr_buf_adds(&b, "{\"title\":\"deep\",\"metadata\":{\"k\":");
	for (int i = 0; i < 31; i++)
		eccr_buf_addc(&b, '[');
	for (int i = 0; i < 31; i++)
		eccr_buf_addc(&b, ']');
	eccr_buf_adds(&b, "}}");
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	/* Far deeper. */
	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "{\"title\":\"deep\",\"metadata\":{\"k\":");
	for (int i = 0; i < 5000; i++)
		eccr_buf_addc(&b, '[');
	for (int i = 0; i < 5000; i++)
		eccr_buf_addc(&b, ']');
	eccr_buf_adds(&b, "}}");
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	assert_unchanged(before);
	free(before);

	/* 32 levels are fine, with a value in the innermost one. */
	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "{\"title\":\"deep\",\"metadata\":{\"k\":");
	for (int i = 0; i < 30; i++)
		eccr_buf_addc(&b, '[');
	eccr_buf_adds(&b, "7");
	for (int i = 0; i < 30; i++)
		eccr_buf_addc(&b, ']');
	eccr_buf_adds(&b, "}}");
	episode_create(tok_editor(), b.p, id);
	ep_path(path, id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(strstr(r->body, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[7]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"), "%s", r->body);
	resp_free(r);
	eccr_buf_free(&b);
}

Test(bad_input, sql_metacharacters_are_stored_verbatim)
{
	/* As JSON source, then as the text it stands for. */
	static const char *const evil_json =
	    "Robert'); DROP TABLE episodes;-- \\\\ % _ \\\" '' \xf0\x9f\x8e\x99 $1 ::text \\\\x00 %s";
	static const char *const evil =
	    "Robert'); DROP TABLE episodes;-- \\ % _ \" '' \xf0\x9f\x8e\x99 $1 ::text \\x00 %s";
	char body[1024], id[37], path[64], series[256], series_json[256], query[512], *stored;
	struct resp *r;
	json_object *v, *all;
	int pages;

	snprintf(series, sizeof series, "%s %s", evil, uniq());
	snprintf(series_json, sizeof series_json, "%s %s", evil_json, uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"series\":\"%s\",\"categories\":[\"%s\"],"
	    "\"description\":\"%s\",\"metadata\":{\"%s\":\"%s\"}}",
	    evil_json, series_json, evil_json, evil_json, evil_json, evil_json);
	episode_create(tok_editor(), body, id);
	ep_path(path, id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "title"), evil);
	cr_assert_str_eq(resp_str(r, "series"), series);
	cr_assert_str_eq(resp_str(r, "description"), evil);
	cr_assert(has_field(r->json, "categories", &v));
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), evil);
	cr_assert(has_field(r->json, "metadata", &v));
	cr_assert(has_field(v, evil, &v), "%s", r->body);
	cr_assert_str_eq(json_object_get_string(v), evil);
	resp_free(r);
	/* Byte for byte in the database too. */
	stored = db_scalar("SELECT title FROM episodes WHERE id = $1::uuid", id, NULL);
	cr_assert_str_eq(stored, evil);
	free(stored);
	cr_assert_eq(db_count("SELECT count(*) FROM episodes WHERE id = $1::uuid AND series = $2"
	    " AND categories = ARRAY[$3] AND metadata->>$3 = $3", id, series, evil, NULL), 1);

	/* And as filter values: exact matches, no wildcards, no injection. */
	{
		CURL *c = curl_easy_init();
		char *esc_series = curl_easy_escape(c, series, 0), *esc_cat = curl_easy_escape(c, evil, 0);

		snprintf(query, sizeof query, "series=%s", esc_series);
		all = walk(query, 50, &pages);
		assert_distinct(all, 1);
		cr_assert_str_eq(item_str(all, 0, "id"), id);
		json_object_put(all);
		snprintf(query, sizeof query, "series=%s&category=%s&q=%s", esc_series, esc_cat, esc_cat);
		all = walk(query, 50, &pages);
		cr_assert_leq(json_object_array_length(all), 1);
		json_object_put(all);
		snprintf(query, sizeof query, "category=%%25");
		all = walk(query, 50, &pages);
		assert_all_in_category(all, "%");
		json_object_put(all);
		curl_free(esc_series);
		curl_free(esc_cat);
		curl_easy_cleanup(c);
	}
	cr_assert_geq(db_count("SELECT count(*) FROM episodes", NULL), 1);
}

/* ------------------------------------------------------------ auth */

Test(auth, bad_tokens_get_401_and_change_nothing)
{
	const struct eccr_config *cfg = test_config();
	char *expired = token_at("old", "admin", 3600, time(NULL) - 3600 - cfg->auth.leeway_s - 120);
	char *wrong_key = token_wrong_key("mallory", "admin");
	char *tampered = strdup(tok_viewer());
	char *none = token_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"mallory\",\"role\":\"admin\",\"exp\":4102444800}", "");
	char *none_upper = token_raw("{\"alg\":\"None\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"mallory\",\"role\":\"admin\",\"exp\":4102444800}", "");
	char *none_sig, *tampered_claims;
	const char *valid = tok_admin(), *sig = strrchr(valid, '.') + 1;
	const char *tokens[10];
	char *before = db_changes();
	size_t n = 0;

	/* A valid signature over other claims. */
	none_sig = token_raw("{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"mallory\",\"role\":\"admin\",\"exp\":4102444800}", sig);
	tampered_claims = token_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
	    "{\"sub\":\"vera\",\"role\":\"admin\",\"exp\":4102444800}", strrchr(tampered, '.') + 1);
	/* A flipped character in the signature. */
	tampered[strlen(tampered) - 3] = tampered[strlen(tampered) - 3] == 'A' ? 'B' : 'A';
	tokens[n++] = expired;
	tokens[n++] = wrong_key;
	tokens[n++] = tampered;
	tokens[n++] = tampered_claims;
	tokens[n++] = none;
	tokens[n++] = none_upper;
	tokens[n++] = none_sig;
	tokens[n++] = "garbage";
	tokens[n++] = "a.b.c";
	tokens[n++] = "";
	for (size_t i = 0; i < n; i++) {
		struct resp *r = http_json("GET", "/episodes", tokens[i], NULL);

		cr_assert_eq(r->status, 401, "token %zu (%s): %ld %s", i, tokens[i], r->status, r->body);
		assert_www_bearer(r);
		resp_free(r);
		r = http_json("POST", "/episodes", tokens[i], "{\"title\":\"forged\"}");
		cr_assert_eq(r->status, 401, "token %zu (%s): %ld %s", i, tokens[i], r->status, r->body);
		assert_www_bearer(r);
		resp_free(r);
	}
	/* Not a bearer token at all. */
	{
		struct resp *r = http("GET", "/episodes", NULL, NULL, NULL, 0, "Authorization: Basic dmVyYTp2ZXJh");

		assert_www_bearer(r);
		resp_free(r);
	}
	assert_unchanged(before);
	free(before);
	free(expired);
	free(wrong_key);
	free(tampered);
	free(tampered_claims);
	free(none);
	free(none_upper);
	free(none_sig);
}

Test(auth, expiry_honours_the_leeway)
{
	long leeway = test_config()->auth.leeway_s;
	char *recent, *old;
	struct resp *r;

	if (leeway < 10)
		cr_skip_test("auth.leeway_s is %ld: too small to test without sleeping", leeway);
	/* Expired a little while ago, within the leeway: still accepted. */
	recent = token_at("late", "viewer", 60, time(NULL) - 60 - leeway / 2);
	r = http_json("GET", "/episodes?limit=1", recent, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	/* Past the leeway: refused. */
	old = token_at("late", "viewer", 60, time(NULL) - 60 - leeway - 30);
	r = http_json("GET", "/episodes?limit=1", old, NULL);
	assert_www_bearer(r);
	resp_free(r);
	free(recent);
	free(old);
}

Test(auth, records_the_user)
{
	char sub[64];
	char *tok, *role;
	struct resp *r;

	snprintf(sub, sizeof sub, "newcomer-%s", uniq());
	cr_assert_eq(db_count("SELECT count(*) FROM users WHERE id = $1", sub, NULL), 0);
	tok = token_for(sub, "editor");
	r = http_json("POST", "/episodes", tok, "{\"title\":\"by a newcomer\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "created_by"), sub);
	resp_free(r);
	role = db_scalar("SELECT role FROM users WHERE id = $1", sub, NULL);
	cr_assert_not_null(role, "user %s not recorded", sub);
	cr_assert_str_eq(role, "editor");
	free(role);
	free(tok);
}

/* ------------------------------------------------------------ routing, health */

/* The comma-separated Allow list holds exactly these methods (any order). */
static void assert_allow(const struct resp *r, const char *const *want, size_t n)
{
	char allow[256], *save = NULL, *tok;
	size_t seen = 0;

	cr_assert_not_null(resp_header(r, "Allow", allow, sizeof allow), "405 without Allow");
	for (tok = strtok_r(allow, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		bool known = strcmp(tok, "HEAD") == 0;   /* implied by GET */

		for (size_t i = 0; i < n; i++)
			if (strcmp(tok, want[i]) == 0) {
				known = true;
				seen++;
			}
		cr_assert(known, "Allow names %s", tok);
	}
	cr_assert_eq(seen, n, "Allow misses a method");
}

Test(routing, unknown_paths_and_methods)
{
	static const char *const coll[] = { "GET", "POST" };
	static const char *const item[] = { "GET", "PATCH", "PUT", "DELETE" };
	char *before = db_changes();
	struct resp *r;

	r = http_json("GET", "/nothing-here", tok_viewer(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("GET", "/episodes/00000000-0000-4000-8000-000000000000/nothing", tok_viewer(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_root("GET", "/nothing-here", NULL);
	cr_assert_eq(r->status, 404, "%s", r->body);
	resp_free(r);
	r = http_json("DELETE", "/episodes", tok_admin(), NULL);
	assert_problem(r, 405, "method_not_allowed");
	assert_allow(r, coll, 2);
	resp_free(r);
	r = http_json("PUT", "/episodes", tok_admin(), "{\"title\":\"x\"}");
	assert_problem(r, 405, "method_not_allowed");
	assert_allow(r, coll, 2);
	resp_free(r);
	r = http_json("POST", "/episodes/00000000-0000-4000-8000-000000000000", tok_admin(), "{\"title\":\"x\"}");
	assert_problem(r, 405, "method_not_allowed");
	assert_allow(r, item, 4);
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(routing, malformed_ids_in_paths)
{
	char *before = db_changes();
	struct resp *r;

	/* A percent-encoded '/' never makes two segments of one. */
	r = http_json("GET", "/episodes/a%2Fb", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("DELETE", "/episodes/xyz", tok_admin(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("PUT", "/episodes/xyz", tok_editor(), "{\"title\":\"x\"}");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

Test(health, ok_without_auth)
{
	char ct[128];
	struct resp *r = http_root("GET", "/health", NULL);
	json_object *plugins, *v;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_not_null(resp_header(r, "Content-Type", ct, sizeof ct));
	cr_assert_eq(strncmp(ct, "application/json", 16), 0, "%s", ct);
	cr_assert_str_eq(resp_str(r, "status"), "ok", "%s", r->body);
	cr_assert_str_eq(resp_str(r, "database"), "ok", "%s", r->body);
	cr_assert(has_field(r->json, "plugins", &plugins) && json_object_is_type(plugins, json_type_object),
	    "%s", r->body);
	cr_assert(has_field(plugins, "activity-pg", &v), "%s", r->body);
	cr_assert_str_eq(json_object_get_string(v), "ok");
	resp_free(r);
}

/* ------------------------------------------------------------ outage (runs last) */

Test(zz_outage, database_down_gives_503_then_recovers, .timeout = 90)
{
	const char *stop = getenv("ECCR_TEST_PG_STOP"), *start = getenv("ECCR_TEST_PG_START");
	char retry[32];
	struct resp *r;
	int i;

	if (stop == NULL || *stop == '\0' || start == NULL || *start == '\0')
		cr_skip_test("ECCR_TEST_PG_STOP/START are not set");
	/* Mint the tokens while everything is up (minting needs no database). */
	(void)tok_viewer();
	(void)tok_editor();
	r = http_json("GET", "/episodes?limit=1", tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "not healthy before the outage: %s", r->body);
	resp_free(r);

	cr_assert_eq(system(stop), 0, "%s failed", stop);
	r = http_json("GET", "/episodes", tok_viewer(), NULL);
	assert_problem(r, 503, "unavailable");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry), "503 without Retry-After");
	cr_assert_gt(atoi(retry), 0, "Retry-After: %s", retry);
	resp_free(r);
	r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"during outage\"}");
	assert_problem(r, 503, "unavailable");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);
	r = http_json("GET", "/episodes/00000000-0000-4000-8000-000000000000", tok_viewer(), NULL);
	assert_problem(r, 503, "unavailable");
	resp_free(r);
	r = http_root("GET", "/health", NULL);
	cr_assert_eq(r->status, 503, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "degraded", "%s", r->body);
	cr_assert_str_neq(resp_str(r, "database"), "ok", "%s", r->body);
	/* activity-pg's store is this database too: it says so itself. */
	cr_assert_not_null(strstr(r->body, "\"activity-pg\":\"unavailable\""), "%s", r->body);
	resp_free(r);

	cr_assert_eq(system(start), 0, "%s failed", start);
	/* Recovery without restarting anything: poll for up to about 20 s. */
	for (i = 0; i < 100; i++) {
		r = http_json("GET", "/episodes?limit=1", tok_viewer(), NULL);
		if (r->status == 200) {
			resp_free(r);
			break;
		}
		cr_assert_eq(r->status, 503, "while recovering: %ld %s", r->status, r->body);
		resp_free(r);
		usleep(200000);
	}
	cr_assert_lt(i, 100, "the service did not recover after PostgreSQL came back");
	r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"after outage\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	r = http_root("GET", "/health", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "ok");
	cr_assert_not_null(strstr(r->body, "\"activity-pg\":\"ok\""), "%s", r->body);
	resp_free(r);
}
