/* Unit tests: src/lib/json.c (strict parsing and field validation). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static enum eccr_json_err parse(const char *s, size_t n)
{
	char detail[128];
	json_object *o = NULL;
	enum eccr_json_err e = eccr_json_parse(s, n, &o, detail, sizeof detail);

	if (e == ECCR_JSON_OK)
		cr_assert_not_null(o);
	else
		cr_assert_null(o);
	json_object_put(o);
	return e;
}

#define P(s) parse(s, sizeof(s) - 1)

static char *nested(int depth)
{
	static char buf[512];
	int i;

	for (i = 0; i < depth; i++)
		buf[i] = '[';
	for (i = 0; i < depth; i++)
		buf[depth + i] = ']';
	buf[2 * depth] = '\0';
	return buf;
}

Test(parse, accepts_json)
{
	cr_assert_eq(P("{\"a\":[1,2,{\"b\":null}],\"c\":\"\xc3\xa9\"}"), ECCR_JSON_OK);
	cr_assert_eq(P("  {}\n "), ECCR_JSON_OK);
	cr_assert_eq(P("\"\\u00e9\""), ECCR_JSON_OK);
}

Test(parse, rejects_syntax)
{
	cr_assert_eq(P("{"), ECCR_JSON_SYNTAX);
	cr_assert_eq(P("{\"a\":1,}"), ECCR_JSON_SYNTAX);
	cr_assert_eq(P("{'a':1}"), ECCR_JSON_SYNTAX);
	cr_assert_eq(P("{} {}"), ECCR_JSON_SYNTAX);
	cr_assert_eq(P("{}x"), ECCR_JSON_SYNTAX);
	cr_assert_eq(P(""), ECCR_JSON_SYNTAX);
	cr_assert_eq(P("{\"a\":NaN}"), ECCR_JSON_SYNTAX);
	cr_assert_eq(parse("{}\0", 3), ECCR_JSON_SYNTAX);
}

Test(parse, depth_limit_is_32)
{
	char *s = nested(ECCR_JSON_MAX_DEPTH);

	cr_assert_eq(parse(s, strlen(s)), ECCR_JSON_OK);
	s = nested(ECCR_JSON_MAX_DEPTH + 1);
	cr_assert_eq(parse(s, strlen(s)), ECCR_JSON_TOO_DEEP);
	s = nested(200);
	cr_assert_eq(parse(s, strlen(s)), ECCR_JSON_TOO_DEEP);
}

Test(parse, rejects_bad_utf8_and_nul)
{
	cr_assert_eq(P("{\"a\":\"\xc0\xaf\"}"), ECCR_JSON_BAD_UTF8);
	cr_assert_eq(P("{\"a\":\"\xed\xa0\x80\"}"), ECCR_JSON_BAD_UTF8);
	cr_assert_eq(P("{\"a\":\"\xff\"}"), ECCR_JSON_BAD_UTF8);
	cr_assert_eq(P("{\"a\":\"x\\u0000y\"}"), ECCR_JSON_NUL);
	cr_assert_eq(P("{\"a\":[{\"b\":\"\\u0000\"}]}"), ECCR_JSON_NUL);
}

static json_object *obj(const char *s)
{
	char d[64];
	json_object *o = NULL;

	cr_assert_eq(eccr_json_parse(s, strlen(s), &o, d, sizeof d), ECCR_JSON_OK, "%s", s);
	return o;
}

Test(valid, get_string_bounds_and_types)
{
	struct eccr_valid v = { 0 };
	json_object *o = obj("{\"ok\":\"h\xc3\xa9llo\",\"n\":5,\"long\":\"abcdef\",\"ctl\":\"a\\u0007b\",\"nl\":\"a\\nb\"}");
	const char *s;
	size_t n;

	cr_assert(eccr_json_get_string(&v, "ok", json_object_object_get(o, "ok"), 1, 5, false, &s, &n));
	cr_assert_eq(n, 6);
	cr_assert_not(eccr_json_get_string(&v, "n", json_object_object_get(o, "n"), 1, 5, false, &s, &n));
	cr_assert_not(eccr_json_get_string(&v, "long", json_object_object_get(o, "long"), 1, 5, false, &s, &n));
	cr_assert_not(eccr_json_get_string(&v, "ctl", json_object_object_get(o, "ctl"), 0, 50, true, &s, &n));
	cr_assert_not(eccr_json_get_string(&v, "nl", json_object_object_get(o, "nl"), 0, 50, false, &s, &n));
	cr_assert(eccr_json_get_string(&v, "nl", json_object_object_get(o, "nl"), 0, 50, true, &s, &n));
	cr_assert_eq(v.n, 4);
	cr_assert_str_eq(v.e[0].field, "n");
	cr_assert_str_eq(v.e[0].message, "must be a string");
	cr_assert_str_eq(v.e[1].field, "long");
	cr_assert_str_eq(v.e[1].message, "must be 1 to 5 characters");
	json_object_put(o);
}

Test(valid, get_uint)
{
	struct eccr_valid v = { 0 };
	json_object *o = obj("{\"a\":7,\"b\":-1,\"c\":1.5,\"d\":\"3\",\"e\":true,\"f\":18446744073709551615,\"g\":101}");
	int64_t n = 0;

	cr_assert(eccr_json_get_uint(&v, "a", json_object_object_get(o, "a"), 100, &n));
	cr_assert_eq(n, 7);
	cr_assert_not(eccr_json_get_uint(&v, "b", json_object_object_get(o, "b"), 100, &n));
	cr_assert_not(eccr_json_get_uint(&v, "c", json_object_object_get(o, "c"), 100, &n));
	cr_assert_not(eccr_json_get_uint(&v, "d", json_object_object_get(o, "d"), 100, &n));
	cr_assert_not(eccr_json_get_uint(&v, "e", json_object_object_get(o, "e"), 100, &n));
	cr_assert_not(eccr_json_get_uint(&v, "f", json_object_object_get(o, "f"), INT32_MAX, &n));
	cr_assert_not(eccr_json_get_uint(&v, "g", json_object_object_get(o, "g"), 100, &n));
	cr_assert_eq(v.n, 6);
	json_object_put(o);
}

Test(valid, only_fields_and_bounded_errors)
{
	static const char *const allowed[] = { "title", "status", NULL };
	struct eccr_valid v = { 0 };
	json_object *o = obj("{\"title\":\"x\",\"colour\":1,\"status\":\"draft\",\"size\":2}");
	int i;

	cr_assert_not(eccr_json_only_fields(&v, o, allowed));
	cr_assert_eq(v.n, 2);
	cr_assert_str_eq(v.e[0].field, "colour");
	cr_assert_str_eq(v.e[0].message, "unknown field");
	cr_assert_str_eq(v.e[1].field, "size");
	for (i = 0; i < 100; i++)
		eccr_valid_add(&v, "f", "m %d", i);
	cr_assert_eq(v.n, ECCR_VALID_MAX);
	json_object_put(o);
}
