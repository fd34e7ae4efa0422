/* Unit tests: plugins/presence-memcache/viewers.c (the stored viewers list). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "viewers.h"

#define T0 1764067200000LL        /* 2025-11-25T10:40:00.000Z */
#define TTL 60000

static void decode_ok(const char *text, struct viewers *vs)
{
	viewers_init(vs);
	cr_assert_eq(viewers_decode(text, strlen(text), 1000, vs), 0, "%s", text);
}

static void decode_bad(const char *text)
{
	struct viewers vs;

	viewers_init(&vs);
	cr_assert_eq(viewers_decode(text, strlen(text), 1000, &vs), -1, "accepted %s", text);
	cr_assert_eq(vs.n, 0);
	cr_assert_null(vs.v);
}

Test(viewers, encode_decode_round_trip)
{
	struct viewers vs, back;
	char *text;
	size_t len;

	viewers_init(&vs);
	cr_assert_eq(viewers_touch(&vs, "alice", "Alice \"A\" Ünal", T0, 10), 1);
	cr_assert_eq(viewers_touch(&vs, "bob/1", "", T0 + 5, 10), 1);
	text = viewers_encode(&vs, &len);
	cr_assert_not_null(text);
	cr_assert_eq(strlen(text), len);
	cr_assert_str_eq(text, "[[\"alice\",\"Alice \\\"A\\\" Ünal\",1764067200000,1764067200000],"
	    "[\"bob/1\",\"\",1764067200005,1764067200005]]");
	decode_ok(text, &back);
	cr_assert_eq(back.n, 2);
	cr_assert_str_eq(back.v[0].user_id, "alice");
	cr_assert_str_eq(back.v[0].name, "Alice \"A\" Ünal");
	cr_assert_eq(back.v[1].since_ms, T0 + 5);
	cr_assert_eq(back.v[1].last_ms, T0 + 5);
	free(text);
	viewers_free(&vs);
	viewers_free(&back);
}

Test(viewers, empty_list_encodes_as_brackets)
{
	struct viewers vs;
	size_t len;
	char *text;

	viewers_init(&vs);
	text = viewers_encode(&vs, &len);
	cr_assert_str_eq(text, "[]");
	free(text);
	decode_ok("[]", &vs);
	cr_assert_eq(vs.n, 0);
}

Test(viewers, damaged_values_are_refused_whole)
{
	decode_bad("");
	decode_bad("{}");
	decode_bad("[[\"a\",\"A\",1764067200000]]");                       /* 3 members */
	decode_bad("[[\"a\",\"A\",1764067200000,1764067200000,1]]");       /* 5 members */
	decode_bad("[[\"\",\"A\",1764067200000,1764067200000]]");          /* empty id */
	decode_bad("[[1,\"A\",1764067200000,1764067200000]]");
	decode_bad("[[\"a\",null,1764067200000,1764067200000]]");
	decode_bad("[[\"a\",\"A\",\"1764067200000\",1764067200000]]");
	decode_bad("[[\"a\",\"A\",1764067200001,1764067200000]]");         /* since > last */
	decode_bad("[[\"a\",\"A\",5,5]]");                                  /* not a time of ours */
	decode_bad("[[\"a\",\"A\",1764067200000,1764067200000],"
	    "[\"a\",\"B\",1764067200000,1764067200000]]");                 /* a user twice */
	decode_bad("[[\"a\\u0000b\",\"A\",1764067200000,1764067200000]]"); /* NUL inside */
	decode_bad("[[\"a\",\"A\",1764067200000,1764067200000]] x");       /* trailing data */
	decode_bad("[[[\"a\"]]]");                                          /* too deep */
}

Test(viewers, decode_takes_at_most_max)
{
	struct viewers vs;
	const char *text = "[[\"a\",\"\",1764067200000,1764067200000],"
	    "[\"b\",\"\",1764067200000,1764067200000],[\"c\",\"\",1764067200000,1764067200000]]";

	viewers_init(&vs);
	cr_assert_eq(viewers_decode(text, strlen(text), 2, &vs), 0);
	cr_assert_eq(vs.n, 2);
	viewers_free(&vs);
}

Test(viewers, touch_joins_once_and_refreshes)
{
	struct viewers vs;

	viewers_init(&vs);
	cr_assert_eq(viewers_touch(&vs, "alice", "Alice", T0, 10), 1);
	cr_assert_eq(viewers_touch(&vs, "alice", "Alice B.", T0 + 1000, 10), 0);
	cr_assert_eq(vs.n, 1);
	cr_assert_eq(vs.v[0].since_ms, T0);
	cr_assert_eq(vs.v[0].last_ms, T0 + 1000);
	cr_assert_str_eq(vs.v[0].name, "Alice B.");
	/* A clock that went back never moves last_seen backwards. */
	cr_assert_eq(viewers_touch(&vs, "alice", "Alice B.", T0 + 500, 10), 0);
	cr_assert_eq(vs.v[0].last_ms, T0 + 1000);
	viewers_free(&vs);
}

Test(viewers, touch_refuses_a_newcomer_beyond_max_but_refreshes_members)
{
	struct viewers vs;

	viewers_init(&vs);
	cr_assert_eq(viewers_touch(&vs, "a", "", T0, 2), 1);
	cr_assert_eq(viewers_touch(&vs, "b", "", T0, 2), 1);
	cr_assert_eq(viewers_touch(&vs, "c", "", T0, 2), -2);
	cr_assert_eq(viewers_touch(&vs, "b", "", T0 + 1, 2), 0);
	cr_assert_eq(vs.n, 2);
	viewers_free(&vs);
}

Test(viewers, prune_moves_exactly_the_expired)
{
	struct viewers vs, gone;

	viewers_init(&vs);
	viewers_init(&gone);
	viewers_touch(&vs, "old", "Old", T0, 10);
	viewers_touch(&vs, "edge", "Edge", T0 + 1000, 10);
	viewers_touch(&vs, "new", "New", T0 + 30000, 10);
	/* At T0 + 1000 + TTL, "edge" is exactly ttl old: still there. */
	cr_assert_eq(viewers_prune(&vs, T0 + 1000 + TTL, TTL, &gone), 1);
	cr_assert_eq(gone.n, 1);
	cr_assert_str_eq(gone.v[0].user_id, "old");
	cr_assert_str_eq(gone.v[0].name, "Old");
	cr_assert_eq(vs.n, 2);
	cr_assert_str_eq(vs.v[0].user_id, "edge");
	cr_assert_str_eq(vs.v[1].user_id, "new");
	cr_assert_eq(viewers_prune(&vs, T0 + 1001 + TTL, TTL, &gone), 1);
	cr_assert_eq(gone.n, 2);
	cr_assert_eq(viewers_prune(&vs, T0 + 1001 + TTL, TTL, &gone), 0);
	cr_assert_eq(vs.n, 1);
	viewers_free(&vs);
	viewers_free(&gone);
}

Test(viewers, remove_takes_the_user_out)
{
	struct viewers vs, gone;

	viewers_init(&vs);
	viewers_init(&gone);
	viewers_touch(&vs, "a", "A", T0, 10);
	viewers_touch(&vs, "b", "B", T0, 10);
	viewers_touch(&vs, "c", "C", T0, 10);
	cr_assert_str_eq(viewers_find(&vs, "b")->name, "B");
	cr_assert_null(viewers_find(&vs, "d"));
	cr_assert_eq(viewers_remove(&vs, "b", &gone), 1);
	cr_assert_null(viewers_find(&vs, "b"));
	cr_assert_eq(viewers_remove(&vs, "b", &gone), 0);
	cr_assert_eq(vs.n, 2);
	cr_assert_str_eq(vs.v[0].user_id, "a");
	cr_assert_str_eq(vs.v[1].user_id, "c");
	cr_assert_eq(gone.n, 1);
	cr_assert_str_eq(gone.v[0].name, "B");
	cr_assert_eq(viewers_newest(&vs), T0);
	viewers_free(&vs);
	viewers_free(&gone);
}

Test(viewers, api_form_has_rfc3339_times)
{
	struct viewers vs;
	json_object *arr, *e, *v;
	char t[25];

	viewers_rfc3339(T0 + 7, t);
	cr_assert_str_eq(t, "2025-11-25T10:40:00.007Z");
	viewers_init(&vs);
	viewers_touch(&vs, "alice", "Alice", T0, 10);
	viewers_touch(&vs, "alice", "Alice", T0 + 1234, 10);
	arr = viewers_api(&vs);
	cr_assert_eq(json_object_array_length(arr), 1);
	e = json_object_array_get_idx(arr, 0);
	cr_assert(json_object_object_get_ex(e, "user_id", &v));
	cr_assert_str_eq(json_object_get_string(v), "alice");
	cr_assert(json_object_object_get_ex(e, "name", &v));
	cr_assert_str_eq(json_object_get_string(v), "Alice");
	cr_assert(json_object_object_get_ex(e, "since", &v));
	cr_assert_str_eq(json_object_get_string(v), "2025-11-25T10:40:00.000Z");
	cr_assert(json_object_object_get_ex(e, "last_seen", &v));
	cr_assert_str_eq(json_object_get_string(v), "2025-11-25T10:40:01.234Z");
	json_object_put(arr);
	viewers_free(&vs);
}
