/* Unit tests: src/lib/event_json.c, the envelope sinks get. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "event_json.h"

static struct eccr_event event(void)
{
	struct eccr_event ev = {
		.struct_size = sizeof ev, .id = 1042, .id_text = "1042",
		.type = "episode_updated", .occurred_at = "2026-12-06T10:00:00.123Z",
		.actor_id = "alice", .actor_name = "Alice Example",
		.resource_type = "episode", .resource_id = "5f0c6f1e-8a44-4c5e-9d1a-3b2f4c5d6e7f",
		.episode_id = "5f0c6f1e-8a44-4c5e-9d1a-3b2f4c5d6e7f",
		.data_json = "{\"changed_fields\": [\"title\"]}", .attempt = 1,
	};

	return ev;
}

static const char *get(json_object *o, const char *a, const char *b)
{
	json_object *v = NULL;

	cr_assert(json_object_object_get_ex(o, a, &v), "no %s", a);
	if (b != NULL)
		cr_assert(json_object_object_get_ex(v, b, &v), "no %s.%s", a, b);
	return json_object_get_string(v);
}

/* ev's envelope, parsed (asserted to be JSON). */
static json_object *parsed(const struct eccr_event *ev)
{
	struct eccr_buf b = { 0 };
	json_object *o;

	eccr_event_json(&b, ev);
	cr_assert_not(b.oom);
	cr_assert_not_null(o = json_tokener_parse(b.p), "not JSON: %s", b.p);
	eccr_buf_free(&b);
	return o;
}

Test(event_json, an_outbox_event_as_api_md_shows_it)
{
	struct eccr_event ev = event();
	struct eccr_buf b = { 0 };

	eccr_event_json(&b, &ev);
	cr_assert_not(b.oom);
	cr_assert_str_eq(b.p, "{\"id\":\"1042\",\"type\":\"episode_updated\","
	    "\"occurred_at\":\"2026-12-06T10:00:00.123Z\","
	    "\"actor\":{\"id\":\"alice\",\"name\":\"Alice Example\"},"
	    "\"resource\":{\"type\":\"episode\",\"id\":\"5f0c6f1e-8a44-4c5e-9d1a-3b2f4c5d6e7f\"},"
	    "\"episode_id\":\"5f0c6f1e-8a44-4c5e-9d1a-3b2f4c5d6e7f\","
	    "\"data\":{\"changed_fields\": [\"title\"]}}");
	eccr_buf_free(&b);
}

Test(event_json, transient_without_episode_or_actor_name)
{
	struct eccr_event ev = event();
	json_object *o, *v;

	ev.id = 0;
	ev.id_text = "";
	ev.transient = 1;
	ev.actor_name = "";
	ev.episode_id = NULL;
	ev.data_json = "{}";
	o = parsed(&ev);
	cr_assert(json_object_object_get_ex(o, "id", &v));
	cr_assert_null(v, "a transient event's id is null");
	cr_assert(json_object_object_get_ex(o, "episode_id", &v));
	cr_assert_null(v);
	cr_assert(json_object_object_get_ex(o, "actor", &v));
	cr_assert_not(json_object_object_get_ex(v, "name", NULL), "an unknown name is left out");
	json_object_put(o);
}

/* Names come from users and titles: quotes, backslashes, control
 * characters and non-ASCII text must arrive as they were. */
Test(event_json, strings_are_escaped)
{
	struct eccr_event ev = event();
	json_object *o;

	ev.actor_name = "Zoë \"Z\" O\\Brien\n\t\x01";
	ev.resource_id = "take_3 \xe2\x80\x94 final.wav";
	o = parsed(&ev);
	cr_assert_str_eq(get(o, "actor", "name"), "Zoë \"Z\" O\\Brien\n\t\x01");
	cr_assert_str_eq(get(o, "resource", "id"), "take_3 \xe2\x80\x94 final.wav");
	cr_assert_str_eq(get(o, "id", NULL), "1042");
	json_object_put(o);
}

Test(event_json, appends_to_what_the_buffer_holds)
{
	struct eccr_event ev = event();
	struct eccr_buf b = { 0 };

	eccr_buf_adds(&b, "[");
	eccr_event_json(&b, &ev);
	cr_assert_eq(strncmp(b.p, "[{\"id\":\"1042\"", 13), 0);
	eccr_buf_free(&b);
}
