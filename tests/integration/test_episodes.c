/* Integration tests: the episodes API through lighttpd + eccr-fcgi against
 * a real PostgreSQL (see tests/integration/run.sh).  Each test makes its own
 * data under a unique tag, so tests are independent of one another. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

/* Create an episode from a JSON body; returns its id (static buffer per call site). */
static void create(const char *json, char id[37])
{
	struct resp *r = http_json("POST", "/episodes", tok_editor(), json);

	cr_assert_eq(r->status, 201, "create failed %ld: %s (%s)", r->status, r->body, json);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	cr_assert(eccr_uuid_valid(id), "%s", r->body);
	resp_free(r);
}

static long events_for(const char *id, const char *type)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE resource_id = $1 AND type = '%s'", type);
	return db_long(sql, id);
}

static long json_int(json_object *o, const char *field)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, field, &v), "no %s", field);
	return (long)json_object_get_int64(v);
}

/* ------------------------------------------------------------ create / get */

Test(create, returns_201_location_etag_and_defaults)
{
	char body[256], loc[128], etag[32], want[128];
	struct resp *r;
	json_object *v;

	snprintf(body, sizeof body, "{\"title\":\"Pilot %s\"}", uniq());
	r = http_json("POST", "/episodes", tok_editor(), body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_not_null(resp_header(r, "ETag", etag, sizeof etag));
	cr_assert_str_eq(etag, "\"1\"");
	cr_assert_not_null(resp_header(r, "Location", loc, sizeof loc));
	snprintf(want, sizeof want, "/api/v1/episodes/%s", resp_str(r, "id"));
	cr_assert_str_eq(loc, want);
	cr_assert_str_eq(resp_str(r, "status"), "draft");
	cr_assert_str_eq(resp_str(r, "description"), "");
	cr_assert_str_eq(resp_str(r, "created_by"), "eddie");
	cr_assert_str_eq(resp_str(r, "updated_by"), "eddie");
	cr_assert_eq(json_int(r->json, "version"), 1);
	cr_assert(json_object_object_get_ex(r->json, "series", &v) && v == NULL);
	cr_assert(json_object_object_get_ex(r->json, "categories", &v));
	cr_assert_eq(json_object_array_length(v), 0);
	cr_assert(json_object_object_get_ex(r->json, "metadata", &v));
	cr_assert(json_object_is_type(v, json_type_object));
	cr_assert_eq(strlen(resp_str(r, "created_at")), 24);
	cr_assert_eq(resp_str(r, "created_at")[23], 'Z');
	resp_free(r);
}

Test(create, stores_every_field)
{
	char body[512], id[37], path[64];
	struct resp *r;
	json_object *v;

	snprintf(body, sizeof body, "{\"title\":\"Full\",\"series\":\"S-%s\",\"season_number\":2,"
	    "\"episode_number\":5,\"description\":\"line1\\nline2\",\"status\":\"scheduled\","
	    "\"air_date\":\"2026-12-01\",\"duration_seconds\":1800,\"categories\":[\"news\",\"sport\"],"
	    "\"metadata\":{\"k\":[1,{\"x\":null}]}}", uniq());
	create(body, id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200);
	cr_assert_eq(json_int(r->json, "season_number"), 2);
	cr_assert_eq(json_int(r->json, "episode_number"), 5);
	cr_assert_eq(json_int(r->json, "duration_seconds"), 1800);
	cr_assert_str_eq(resp_str(r, "description"), "line1\nline2");
	cr_assert_str_eq(resp_str(r, "air_date"), "2026-12-01");
	cr_assert_str_eq(resp_str(r, "status"), "scheduled");
	cr_assert(json_object_object_get_ex(r->json, "categories", &v));
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 1)), "sport");
	cr_assert(json_object_object_get_ex(r->json, "metadata", &v));
	cr_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "{\"k\":[1,{\"x\":null}]}");
	resp_free(r);
}

Test(create, needs_editor_and_credentials)
{
	char www[128];
	long before = db_changes();
	struct resp *r = http_json("POST", "/episodes", tok_viewer(), "{\"title\":\"x\"}");

	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("POST", "/episodes", NULL, "{\"title\":\"x\"}");
	assert_problem(r, 401, "unauthorized");
	cr_assert_not_null(resp_header(r, "WWW-Authenticate", www, sizeof www));
	cr_assert_eq(strncmp(www, "Bearer", 6), 0, "%s", www);
	resp_free(r);
	cr_assert_eq(db_changes(), before);
}

Test(create, series_season_episode_is_unique)
{
	char body[256], id[37];
	long before;
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"U-%s\",\"season_number\":1,\"episode_number\":1}", uniq());
	create(body, id);
	before = db_changes();
	r = http_json("POST", "/episodes", tok_editor(), body);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	cr_assert_eq(db_changes(), before);
	/* Only all three together are unique: without an episode number it's fine. */
	snprintf(body, sizeof body, "{\"title\":\"b\",\"series\":\"U-%s\",\"season_number\":1}", uniq());
	create(body, id);
	create(body, id);
}

Test(get, returns_etag_and_viewers)
{
	char id[37], path[64], etag[32];
	struct resp *r;
	json_object *v;

	create("{\"title\":\"get me\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "id"), id);
	cr_assert_str_eq(resp_str(r, "title"), "get me");
	cr_assert_not_null(resp_header(r, "ETag", etag, sizeof etag));
	cr_assert_str_eq(etag, "\"1\"");
	cr_assert(json_object_object_get_ex(r->json, "viewers", &v));
	cr_assert(json_object_is_type(v, json_type_array));
	resp_free(r);
}

Test(get, unknown_and_malformed_ids)
{
	struct resp *r = http_json("GET", "/episodes/00000000-0000-4000-8000-000000000000", tok_viewer(), NULL);

	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("GET", "/episodes/not-a-uuid", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("GET", "/episodes/%27%3B%20DROP%20TABLE%20episodes%3B--", tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_geq(db_long("SELECT count(*) FROM episodes", NULL), 0);
}

/* ------------------------------------------------------------ update */

Test(update, patch_changes_fields_and_emits_one_event)
{
	char id[37], path[64], etag[32];
	struct resp *r;

	create("{\"title\":\"before\",\"status\":\"draft\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("PATCH", path, tok_editor(), "{\"title\":\"after\",\"status\":\"in_review\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "title"), "after");
	cr_assert_str_eq(resp_str(r, "status"), "in_review");
	cr_assert_eq(json_int(r->json, "version"), 2);
	cr_assert_not_null(resp_header(r, "ETag", etag, sizeof etag));
	cr_assert_str_eq(etag, "\"2\"");
	resp_free(r);
	cr_assert_eq(events_for(id, "episode_created"), 1);
	cr_assert_eq(events_for(id, "episode_updated"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1 AND type = 'episode_updated'"
	    " AND actor_id = 'eddie' AND resource_type = 'episode' AND episode_id::text = resource_id"
	    " AND data->>'title' = 'after' AND (data->>'version')::int = 2"
	    " AND data->'changed_fields' @> '[\"title\",\"status\"]'"
	    " AND jsonb_array_length(data->'changed_fields') = 2", id), 1);
}

Test(update, noop_patch_emits_nothing)
{
	char id[37], path[64];
	struct resp *r;

	create("{\"title\":\"same\",\"categories\":[\"a\"]}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("PATCH", path, tok_editor(), "{\"title\":\"same\",\"categories\":[\"a\"]}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 1);
	resp_free(r);
	r = http_json("PATCH", path, tok_editor(), "{}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	cr_assert_eq(events_for(id, "episode_updated"), 0);
}

Test(update, put_replaces_and_resets_omitted_fields)
{
	char id[37], path[64];
	struct resp *r;
	json_object *v;

	create("{\"title\":\"t\",\"description\":\"d\",\"air_date\":\"2026-01-02\",\"categories\":[\"x\"]}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("PUT", path, tok_editor(), "{\"title\":\"t2\"}");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "title"), "t2");
	cr_assert_str_eq(resp_str(r, "description"), "");
	cr_assert(json_object_object_get_ex(r->json, "air_date", &v) && v == NULL);
	cr_assert(json_object_object_get_ex(r->json, "categories", &v));
	cr_assert_eq(json_object_array_length(v), 0);
	cr_assert_eq(json_int(r->json, "version"), 2);
	resp_free(r);
	r = http_json("PUT", path, tok_editor(), "{\"description\":\"no title\"}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
}

Test(update, if_match)
{
	char id[37], path[64];
	long before;
	struct resp *r;

	create("{\"title\":\"v1\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http(("PATCH"), path, tok_editor(), NULL, "{\"title\":\"v2\"}", 14, "If-Match: \"1\"");
	cr_assert_eq(r->status, 200, "%s", r->body);
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
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: garbage");
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_eq(db_changes(), before);
	r = http("PATCH", path, tok_editor(), NULL, "{\"title\":\"v3\"}", 14, "If-Match: \"5\", \"2\"");
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(json_int(r->json, "version"), 3);
	resp_free(r);
	r = http("DELETE", path, tok_admin(), NULL, NULL, 0, "If-Match: \"3\"");
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
}

Test(update, patch_into_a_duplicate_is_409)
{
	char body[256], a[37], b[37], path[64];
	long before;
	struct resp *r;

	snprintf(body, sizeof body, "{\"title\":\"a\",\"series\":\"D-%s\",\"season_number\":1,\"episode_number\":1}", uniq());
	create(body, a);
	snprintf(body, sizeof body, "{\"title\":\"b\",\"series\":\"D-%s\",\"season_number\":1,\"episode_number\":2}", uniq());
	create(body, b);
	snprintf(path, sizeof path, "/episodes/%s", b);
	before = db_changes();
	r = http_json("PATCH", path, tok_editor(), "{\"episode_number\":1}");
	assert_problem(r, 409, "conflict");
	resp_free(r);
	cr_assert_eq(db_changes(), before);
}

Test(update, unknown_episode_is_404)
{
	struct resp *r = http_json("PATCH", "/episodes/00000000-0000-4000-8000-000000000001",
	    tok_editor(), "{\"title\":\"x\"}");

	assert_problem(r, 404, "not_found");
	resp_free(r);
}

/* ------------------------------------------------------------ delete */

Test(delete, admin_only_then_gone)
{
	char id[37], path[64];
	struct resp *r;

	create("{\"title\":\"doomed\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("DELETE", path, tok_editor(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	cr_assert_eq(r->len, 0);
	resp_free(r);
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
	cr_assert_eq(events_for(id, "episode_deleted"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1 AND type = "
	    "'episode_deleted' AND data->>'title' = 'doomed' AND actor_id = 'ada'", id), 1);
}

/* ------------------------------------------------------------ events */

Test(events, create_writes_one_event_with_the_envelope_fields)
{
	char id[37];

	create("{\"title\":\"evt\",\"categories\":[\"c1\"],\"status\":\"published\"}", id);
	cr_assert_eq(events_for(id, "episode_created"), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1 AND actor_id = 'eddie'"
	    " AND resource_type = 'episode' AND episode_id::text = $1 AND data->>'title' = 'evt'"
	    " AND data->'categories' = '[\"c1\"]' AND data->>'status' = 'published'", id), 1);
	/* The envelope a sink will receive, built by the database. */
	cr_assert_eq(db_long("SELECT count(*) FROM events e WHERE resource_id = $1 AND"
	    " (eccr_event_envelope(e)::jsonb) ?& array['id','type','occurred_at','actor','resource','episode_id','data']"
	    " AND (eccr_event_envelope(e)::jsonb)->'actor'->>'id' = 'eddie'"
	    " AND jsonb_typeof((eccr_event_envelope(e)::jsonb)->'id') = 'string'", id), 1);
}

/* ------------------------------------------------------------ list */

static void make_series(const char *series, int n)
{
	static const char *const titles[] = { "delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot" };
	static const char *const dates[] = { "\"2026-03-01\"", "null", "\"2026-01-01\"", "\"2026-02-01\"",
		"null", "\"2026-01-15\"", "\"2026-03-01\"" };
	char body[512], id[37];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(body, sizeof body, "{\"title\":\"%s\",\"series\":\"%s\",\"air_date\":%s,"
		    "\"status\":\"%s\",\"categories\":[\"%s\"]}", titles[i % 7], series, dates[i % 7],
		    i % 2 ? "published" : "draft", i % 3 ? "news" : "music");
		create(body, id);
	}
}

/* Walk every page of a listing; checks no id repeats; returns the items in order. */
static json_object *walk(const char *query, int limit, int *pages)
{
	json_object *all = json_object_new_array();
	char path[1024], cursor[512] = "";

	*pages = 0;
	for (;;) {
		struct resp *r;
		json_object *items, *next;
		size_t i;

		snprintf(path, sizeof path, "/episodes?%s&limit=%d%s%s", query, limit,
		    cursor[0] ? "&cursor=" : "", cursor);
		r = http_json("GET", path, tok_viewer(), NULL);
		cr_assert_eq(r->status, 200, "%s: %s", path, r->body);
		cr_assert(json_object_object_get_ex(r->json, "items", &items));
		cr_assert_leq(json_object_array_length(items), (size_t)limit);
		for (i = 0; i < json_object_array_length(items); i++)
			json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
		(*pages)++;
		cr_assert(json_object_object_get_ex(r->json, "next_cursor", &next));
		if (next == NULL) {
			resp_free(r);
			break;
		}
		snprintf(cursor, sizeof cursor, "%s", json_object_get_string(next));
		resp_free(r);
		cr_assert_lt(*pages, 50, "pagination does not end");
	}
	return all;
}

static const char *item_str(json_object *all, size_t i, const char *field)
{
	json_object *v;

	if (!json_object_object_get_ex(json_object_array_get_idx(all, i), field, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static void assert_distinct(json_object *all, size_t want)
{
	size_t i, j, n = json_object_array_length(all);

	cr_assert_eq(n, want, "got %zu items, want %zu", n, want);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			cr_assert_str_neq(item_str(all, i, "id"), item_str(all, j, "id"), "repeated row");
}

/* Ordered by field (strings compare as the sort does), nulls last; ties by id. */
static void assert_sorted(json_object *all, const char *field, bool desc)
{
	size_t i, n = json_object_array_length(all);

	for (i = 1; i < n; i++) {
		const char *a = item_str(all, i - 1, field), *b = item_str(all, i, field);
		int c;

		if (a == NULL) {
			cr_assert_null(b, "%s: null before a value", field);
			continue;
		}
		if (b == NULL)
			continue;
		c = strcmp(a, b);
		cr_assert(desc ? c >= 0 : c <= 0, "%s out of order: %s then %s", field, a, b);
	}
}

Test(list, every_sort_paginates_without_loss_or_repeat)
{
	static const struct { const char *sort, *field; bool desc; } sorts[] = {
		{ "-updated_at", "updated_at", true }, { "updated_at", "updated_at", false },
		{ "title", "title", false }, { "air_date", "air_date", false },
		{ "-air_date", "air_date", true },
	};
	char series[64], query[256];
	size_t s;
	int pages;

	snprintf(series, sizeof series, "P-%s", uniq());
	make_series(series, 7);
	for (s = 0; s < sizeof sorts / sizeof sorts[0]; s++) {
		json_object *all;

		snprintf(query, sizeof query, "series=%s&sort=%s", series, sorts[s].sort);
		all = walk(query, 2, &pages);
		assert_distinct(all, 7);
		cr_assert_eq(pages, 4, "%s: %d pages", sorts[s].sort, pages);
		assert_sorted(all, sorts[s].field, sorts[s].desc);
		json_object_put(all);
	}
	/* The default is -updated_at. */
	snprintf(query, sizeof query, "series=%s", series);
	json_object *all = walk(query, 3, &pages);
	assert_distinct(all, 7);
	assert_sorted(all, "updated_at", true);
	json_object_put(all);
}

Test(list, filters)
{
	char series[64], query[256];
	json_object *all;
	int pages;

	snprintf(series, sizeof series, "F-%s", uniq());
	make_series(series, 7);
	snprintf(query, sizeof query, "series=%s&status=published", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 3);
	json_object_put(all);
	snprintf(query, sizeof query, "series=%s&category=music", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 3);
	json_object_put(all);
	snprintf(query, sizeof query, "series=%s&category=music&status=draft", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 2);
	json_object_put(all);
	snprintf(query, sizeof query, "series=%s&created_by=eddie", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 7);
	json_object_put(all);
	snprintf(query, sizeof query, "series=%s&created_by=nobody", series);
	all = walk(query, 50, &pages);
	assert_distinct(all, 0);
	json_object_put(all);
}

Test(list, full_text_search)
{
	char body[256], word[64], query[128], id[37];
	json_object *all;
	int pages;

	snprintf(word, sizeof word, "zyx%s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"Harbour report\",\"description\":\"The %s ferries were late\"}", word);
	create(body, id);
	create("{\"title\":\"Unrelated\"}", id);
	snprintf(query, sizeof query, "q=%s", word);
	all = walk(query, 50, &pages);
	assert_distinct(all, 1);
	cr_assert_str_eq(item_str(all, 0, "title"), "Harbour report");
	json_object_put(all);
}

Test(list, rejects_bad_parameters)
{
	static const char *const bad[] = {
		"limit=0", "limit=201", "limit=abc", "limit=-1", "limit=", "cursor=not-a-cursor",
		"cursor=AAAA", "cursor=Zm9vfGJhcnxiYXo", "cursor=%2F%2F", "status=live", "sort=colour", "colour=red", "series=", "status=", "created_by=",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char path[128];
		struct resp *r;

		snprintf(path, sizeof path, "/episodes?%s", bad[i]);
		r = http_json("GET", path, tok_viewer(), NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	/* q is at most 500 characters. */
	struct eccr_buf b = { 0 };
	eccr_buf_adds(&b, "/episodes?q=");
	for (i = 0; i < 501; i++)
		eccr_buf_addc(&b, 'w');
	struct resp *r = http_json("GET", b.p, tok_viewer(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	eccr_buf_free(&b);
}

Test(list, empty_search_means_no_search)
{
	struct resp *r = http_json("GET", "/episodes?q=&limit=1", tok_viewer(), NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}

Test(list, default_and_maximum_limits)
{
	struct resp *r = http_json("GET", "/episodes?limit=200", tok_viewer(), NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}

/* ------------------------------------------------------------ bad input */

struct bad_body {
	const char *body;
	long status;
	const char *code;
	const char *field;     /* expected in errors[] for validation_failed */
};

static void assert_error_field(const struct resp *r, const char *field)
{
	json_object *errs, *e, *f;
	size_t i;

	cr_assert(json_object_object_get_ex(r->json, "errors", &errs), "%s", r->body);
	for (i = 0; i < json_object_array_length(errs); i++) {
		e = json_object_array_get_idx(errs, i);
		if (json_object_object_get_ex(e, "field", &f) && strcmp(json_object_get_string(f), field) == 0)
			return;
	}
	cr_assert_fail("no error for field %s in %s", field, r->body);
}

Test(bad_input, bodies_get_precise_errors_and_change_nothing)
{
	static const struct bad_body cases[] = {
		{ "{\"title\":", 400, "bad_request", NULL },
		{ "{\"title\":\"x\"} trailing", 400, "bad_request", NULL },
		{ "[\"title\"]", 400, "bad_request", NULL },
		{ "{'title':'x'}", 400, "bad_request", NULL },
		{ "{\"title\":\"\xc0\xaf\"}", 400, "bad_request", NULL },
		{ "{\"title\":\"a\xed\xa0\x80\"}", 400, "bad_request", NULL },
		{ "{\"title\":5}", 400, "validation_failed", "title" },
		{ "{\"title\":\"\"}", 400, "validation_failed", "title" },
		{ "{}", 400, "validation_failed", "title" },
		{ "{\"title\":null}", 400, "validation_failed", "title" },
		{ "{\"title\":\"x\",\"colour\":\"red\"}", 400, "validation_failed", "colour" },
		{ "{\"title\":\"x\",\"season_number\":\"3\"}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":-1}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"season_number\":1.5}", 400, "validation_failed", "season_number" },
		{ "{\"title\":\"x\",\"episode_number\":99999999999}", 400, "validation_failed", "episode_number" },
		{ "{\"title\":\"x\",\"status\":\"live\"}", 400, "validation_failed", "status" },
		{ "{\"title\":\"x\",\"air_date\":\"2026-02-30\"}", 400, "validation_failed", "air_date" },
		{ "{\"title\":\"x\",\"categories\":\"news\"}", 400, "validation_failed", "categories" },
		{ "{\"title\":\"x\",\"categories\":[\"\"]}", 400, "validation_failed", "categories[0]" },
		{ "{\"title\":\"x\",\"categories\":[1]}", 400, "validation_failed", "categories[0]" },
		{ "{\"title\":\"x\",\"metadata\":[1]}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"x\",\"metadata\":\"{}\"}", 400, "validation_failed", "metadata" },
		{ "{\"title\":\"a\\u0000b\"}", 400, "bad_request", NULL },
		{ "{\"title\":\"tab\\there\"}", 400, "validation_failed", "title" },
	};
	long before = db_changes();
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct resp *r = http_json("POST", "/episodes", tok_editor(), cases[i].body);

		assert_problem(r, cases[i].status, cases[i].code);
		if (cases[i].field != NULL)
			assert_error_field(r, cases[i].field);
		resp_free(r);
	}
	cr_assert_eq(db_changes(), before);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

Test(bad_input, sizes_and_limits)
{
	struct eccr_buf b = { 0 };
	long before = db_changes();
	char *big = repeat('a', 501);
	struct resp *r;
	int i;

	eccr_buf_printf(&b, "{\"title\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "validation_failed");
	assert_error_field(r, "title");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	big = repeat('d', 20001);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"description\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_error_field(r, "description");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "{\"title\":\"x\",\"categories\":[");
	for (i = 0; i < 51; i++)
		eccr_buf_printf(&b, "%s\"c%d\"", i ? "," : "", i);
	eccr_buf_adds(&b, "]}");
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_error_field(r, "categories");
	resp_free(r);

	eccr_buf_reset(&b);
	big = repeat('c', 101);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"categories\":[\"%s\"]}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_error_field(r, "categories[0]");
	resp_free(r);
	free(big);

	eccr_buf_reset(&b);
	big = repeat('m', 70000);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"metadata\":{\"k\":\"%s\"}}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_error_field(r, "metadata");
	resp_free(r);
	free(big);

	/* Over server.max_body_bytes (262144 in the test configuration). */
	eccr_buf_reset(&b);
	big = repeat('z', 300000);
	eccr_buf_printf(&b, "{\"title\":\"x\",\"description\":\"%s\"}", big);
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 413, "payload_too_large");
	resp_free(r);
	free(big);

	r = http("POST", "/episodes", tok_editor(), "text/plain", "{\"title\":\"x\"}", 13, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	resp_free(r);
	eccr_buf_free(&b);
	cr_assert_eq(db_changes(), before);
}

Test(bad_input, nesting_depth)
{
	struct eccr_buf b = { 0 };
	long before = db_changes();
	struct resp *r;
	char id[37];
	int i;

	/* 33 levels in all: the body object, metadata and 31 arrays. */
	eccr_buf_adds(&b, "{\"title\":\"deep\",\"metadata\":{\"k\":");
	for (i = 0; i < 31; i++)
		eccr_buf_addc(&b, '[');
	for (i = 0; i < 31; i++)
		eccr_buf_addc(&b, ']');
	eccr_buf_adds(&b, "}}");
	r = http_json("POST", "/episodes", tok_editor(), b.p);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	cr_assert_eq(db_changes(), before);

	/* 32 levels are fine. */
	eccr_buf_reset(&b);
	eccr_buf_adds(&b, "{\"title\":\"deep\",\"metadata\":{\"k\":");
	for (i = 0; i < 30; i++)
		eccr_buf_addc(&b, '[');
	for (i = 0; i < 30; i++)
		eccr_buf_addc(&b, ']');
	eccr_buf_adds(&b, "}}");
	create(b.p, id);
	eccr_buf_free(&b);
}

Test(bad_input, sql_metacharacters_are_stored_verbatim)
{
	static const char *const evil = "Robert'); DROP TABLE episodes;-- \\\\ % _ \\\" \xf0\x9f\x8e\x99 $1 ::text";
	char body[512], id[37], path[64], expect[256];
	struct resp *r;
	json_object *v;

	snprintf(body, sizeof body, "{\"title\":\"%s\",\"series\":\"%s\",\"categories\":[\"%s\"],"
	    "\"metadata\":{\"%s\":\"%s\"}}", evil, evil, evil, evil, evil);
	create(body, id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200);
	snprintf(expect, sizeof expect, "Robert'); DROP TABLE episodes;-- \\ %% _ \" \xf0\x9f\x8e\x99 $1 ::text");
	cr_assert_str_eq(resp_str(r, "title"), expect);
	cr_assert_str_eq(resp_str(r, "series"), expect);
	cr_assert(json_object_object_get_ex(r->json, "categories", &v));
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), expect);
	cr_assert(json_object_object_get_ex(r->json, "metadata", &v));
	cr_assert(json_object_object_get_ex(v, expect, &v));
	cr_assert_str_eq(json_object_get_string(v), expect);
	resp_free(r);
	cr_assert_gt(db_long("SELECT count(*) FROM episodes", NULL), 0);
}

/* ------------------------------------------------------------ auth */

Test(auth, bad_tokens_get_401)
{
	char *expired = token_at("old", "admin", 3600, time(NULL) - 7200);
	char *forged = strdup(tok_admin());
	char none[512], www[160];
	const char *tokens[5];
	size_t n = strlen(forged), i;
	unsigned char hdr[64];
	char p64[256], h64[128];
	const char *claims = "{\"sub\":\"mallory\",\"role\":\"admin\",\"exp\":4102444800}";

	forged[n - 3] = forged[n - 3] == 'A' ? 'B' : 'A';
	memcpy(hdr, "{\"alg\":\"none\",\"typ\":\"JWT\"}", 27);
	eccr_b64url_encode(hdr, 27, h64);
	eccr_b64url_encode((const unsigned char *)claims, strlen(claims), p64);
	snprintf(none, sizeof none, "%s.%s.", h64, p64);
	tokens[0] = expired;
	tokens[1] = forged;
	tokens[2] = none;
	tokens[3] = "garbage";
	tokens[4] = "a.b.c";
	for (i = 0; i < 5; i++) {
		struct resp *r = http_json("GET", "/episodes", tokens[i], NULL);

		assert_problem(r, 401, "unauthorized");
		cr_assert_not_null(resp_header(r, "WWW-Authenticate", www, sizeof www));
		cr_assert_not_null(strstr(www, "Bearer"), "%s", www);
		resp_free(r);
	}
	free(expired);
	free(forged);
}

Test(auth, records_the_user)
{
	char *tok = token_for("newcomer-" "x", "editor");
	struct resp *r = http_json("POST", "/episodes", tok, "{\"title\":\"by a newcomer\"}");

	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	cr_assert_eq(db_long("SELECT count(*) FROM users WHERE id = $1", "newcomer-x"), 1);
	free(tok);
}

/* ------------------------------------------------------------ routing, health */

Test(routing, unknown_paths_and_methods)
{
	char allow[128];
	struct resp *r = http_json("GET", "/nothing-here", tok_viewer(), NULL);

	assert_problem(r, 404, "not_found");
	resp_free(r);
	r = http_json("DELETE", "/episodes", tok_admin(), NULL);
	assert_problem(r, 405, "method_not_allowed");
	cr_assert_not_null(resp_header(r, "Allow", allow, sizeof allow));
	cr_assert_str_eq(allow, "GET, HEAD, POST");
	resp_free(r);
	r = http_json("POST", "/episodes/00000000-0000-4000-8000-000000000000", tok_admin(), "{}");
	assert_problem(r, 405, "method_not_allowed");
	resp_free(r);
	r = http_json("GET", "/episodes/a%2Fb", tok_viewer(), NULL);
	cr_assert(r->status == 400 || r->status == 404, "%ld", r->status);
	resp_free(r);
}

Test(health, ok_without_auth)
{
	struct resp *r = http_json("GET", "@/health", NULL, NULL);

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "ok");
	cr_assert_str_eq(resp_str(r, "database"), "ok");
	json_object *plugins, *v;
	cr_assert(json_object_object_get_ex(r->json, "plugins", &plugins));
	cr_assert(json_object_object_get_ex(plugins, "activity-pg", &v), "%s", r->body);
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

	if (stop == NULL || start == NULL)
		cr_skip_test("ECCR_TEST_PG_STOP/START are not set");
	(void)tok_viewer();
	cr_assert_eq(system(stop), 0);
	r = http_json("GET", "/episodes", tok_viewer(), NULL);
	assert_problem(r, 503, "unavailable");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);
	r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"during outage\"}");
	assert_problem(r, 503, "unavailable");
	resp_free(r);
	r = http_json("GET", "@/health", NULL, NULL);
	cr_assert_eq(r->status, 503, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "degraded");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);

	cr_assert_eq(system(start), 0);
	for (i = 0; i < 100; i++) {
		r = http_json("GET", "/episodes?limit=1", tok_viewer(), NULL);
		if (r->status == 200) {
			resp_free(r);
			break;
		}
		resp_free(r);
		usleep(200000);
	}
	cr_assert_lt(i, 100, "the service did not recover after PostgreSQL came back");
	r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"after outage\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	r = http_json("GET", "@/health", NULL, NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}
