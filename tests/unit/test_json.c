/* Unit tests: src/lib/json.c (strict parsing and field validation). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Parse a copy of exactly n bytes in a heap block of that size, so ASan
 * catches json.c reading past the end of a text that isn't NUL-terminated. */
static enum eccr_json_err parse_n(const char *s, size_t n, char *detail, size_t dlen)
{
	char *copy = malloc(n ? n : 1);
	json_object *o = (json_object *)&o;     /* must be overwritten */
	enum eccr_json_err e;

	cr_assert_not_null(copy);
	memcpy(copy, s, n);
	e = eccr_json_parse(copy, n, &o, detail, dlen);
	if (e != ECCR_JSON_OK)
		cr_assert_null(o, "error %d but an object came back", e);
	else
		cr_assert_neq((void *)o, (void *)&o);
	json_object_put(o);
	free(copy);
	return e;
}

static enum eccr_json_err parse(const char *s, size_t n)
{
	char detail[128];

	return parse_n(s, n, detail, sizeof detail);
}

struct pcase {
	const char *s;
	size_t n;
	enum eccr_json_err want;
};
#define C(lit, want) { lit, sizeof(lit) - 1, want }

static void run_cases(const struct pcase *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cr_expect_eq(parse(c[i].s, c[i].n), c[i].want, "case %zu: %.*s", i,
		    (int)c[i].n, c[i].s);
}

Test(parse, accepts_json)
{
	static const struct pcase cases[] = {
		C("{}", ECCR_JSON_OK), C("[]", ECCR_JSON_OK),
		C("  {}\n ", ECCR_JSON_OK), C("\t{ }\r\n", ECCR_JSON_OK),
		C("{\"a\":[1,2,{\"b\":null}],\"c\":\"\xc3\xa9\"}", ECCR_JSON_OK),
		C("{\"a\" : 1 , \"b\" : [ true , false , null ] }", ECCR_JSON_OK),
		C("\"\\u00e9\"", ECCR_JSON_OK), C("\"\\ud83c\\udf99\"", ECCR_JSON_OK),
		C("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", ECCR_JSON_OK),
		C("\"\xf0\x9f\x8e\x99\"", ECCR_JSON_OK),
		/* bare values, which json-c can't finish without a terminator */
		C("5", ECCR_JSON_OK), C("-0", ECCR_JSON_OK), C("0", ECCR_JSON_OK),
		C("1.5e+3", ECCR_JSON_OK), C("2E-2", ECCR_JSON_OK), C("0.0", ECCR_JSON_OK),
		C("true", ECCR_JSON_OK), C("false ", ECCR_JSON_OK), C("\"s\"", ECCR_JSON_OK),
		C("[-1,0.5,1e5,12345678901234567890]", ECCR_JSON_OK),
	};

	run_cases(cases, LEN(cases));
}

Test(parse, top_level_null_is_ok_with_null_object)
{
	char d[64];
	json_object *o = (json_object *)&o;

	cr_assert_eq(eccr_json_parse("null", 4, &o, d, sizeof d), ECCR_JSON_OK);
	cr_assert_null(o);
	cr_assert(json_object_is_type(o, json_type_null));
}

Test(parse, rejects_syntax)
{
	static const struct pcase cases[] = {
		C("", ECCR_JSON_SYNTAX), C("   ", ECCR_JSON_SYNTAX),
		C("{", ECCR_JSON_SYNTAX), C("[1,2", ECCR_JSON_SYNTAX), C("\"abc", ECCR_JSON_SYNTAX),
		C("{\"a\":1,}", ECCR_JSON_SYNTAX), C("[1,]", ECCR_JSON_SYNTAX),
		C("{\"a\"}", ECCR_JSON_SYNTAX), C("{a:1}", ECCR_JSON_SYNTAX),
		C("{'a':1}", ECCR_JSON_SYNTAX), C("['a']", ECCR_JSON_SYNTAX),
		/* trailing garbage */
		C("{} {}", ECCR_JSON_SYNTAX), C("{}x", ECCR_JSON_SYNTAX), C("{}}", ECCR_JSON_SYNTAX),
		C("[1]]", ECCR_JSON_SYNTAX), C("1 2", ECCR_JSON_SYNTAX), C("{},", ECCR_JSON_SYNTAX),
		C("true false", ECCR_JSON_SYNTAX), C("\"a\"\"b\"", ECCR_JSON_SYNTAX),
		/* NUL bytes anywhere */
		C("{}\0", ECCR_JSON_SYNTAX), C("\0{}", ECCR_JSON_SYNTAX),
		C("{\"a\":\"x\0y\"}", ECCR_JSON_SYNTAX),
		/* not JSON's numbers */
		C("01", ECCR_JSON_SYNTAX), C("[01]", ECCR_JSON_SYNTAX),
		C("[00]", ECCR_JSON_SYNTAX), C("[-01]", ECCR_JSON_SYNTAX), C("-01", ECCR_JSON_SYNTAX), C("1.", ECCR_JSON_SYNTAX),
		C("[1.]", ECCR_JSON_SYNTAX), C(".5", ECCR_JSON_SYNTAX), C("+1", ECCR_JSON_SYNTAX),
		C("1e", ECCR_JSON_SYNTAX), C("[1e+]", ECCR_JSON_SYNTAX), C("-", ECCR_JSON_SYNTAX),
		C("[-]", ECCR_JSON_SYNTAX), C("0x10", ECCR_JSON_SYNTAX), C("1.5.2", ECCR_JSON_SYNTAX),
		C("--1", ECCR_JSON_SYNTAX), C("[- 1]", ECCR_JSON_SYNTAX),
		/* not JSON's words */
		C("NaN", ECCR_JSON_SYNTAX), C("[NaN]", ECCR_JSON_SYNTAX),
		C("[Infinity]", ECCR_JSON_SYNTAX), C("[-Infinity]", ECCR_JSON_SYNTAX),
		C("nan", ECCR_JSON_SYNTAX), C("[nul]", ECCR_JSON_SYNTAX), C("[truex]", ECCR_JSON_SYNTAX),
		C("True", ECCR_JSON_SYNTAX), C("undefined", ECCR_JSON_SYNTAX),
		/* comments, odd whitespace */
		C("/*c*/{}", ECCR_JSON_SYNTAX), C("{}//c", ECCR_JSON_SYNTAX), C("\f{}", ECCR_JSON_SYNTAX),
		C("\v{}", ECCR_JSON_SYNTAX), C("\xc2\xa0{}", ECCR_JSON_SYNTAX),
		C("\xef\xbb\xbf{}", ECCR_JSON_SYNTAX),   /* BOM */
		/* strings */
		C("\"a\tb\"", ECCR_JSON_SYNTAX), C("\"a\nb\"", ECCR_JSON_SYNTAX),
		C("\"a\x01\"", ECCR_JSON_SYNTAX), C("\"\\x41\"", ECCR_JSON_SYNTAX),
		C("\"\\'\"", ECCR_JSON_SYNTAX), C("\"\\u12\"", ECCR_JSON_SYNTAX),
		C("\"\\u12g4\"", ECCR_JSON_SYNTAX), C("\"\\", ECCR_JSON_SYNTAX),
		C("\"\\u00", ECCR_JSON_SYNTAX),
	};

	run_cases(cases, LEN(cases));
}

static char *nested(const char *open, const char *close, int depth)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *buf = malloc((lo + lc) * (size_t)depth + 2);
	size_t k = 0;
	int i;

	cr_assert_not_null(buf);
	for (i = 0; i < depth; i++, k += lo)
		memcpy(buf + k, open, lo);
	buf[k++] = '1';
	for (i = 0; i < depth; i++, k += lc)
		memcpy(buf + k, close, lc);
	buf[k] = '\0';
	return buf;
}

static enum eccr_json_err parse_nested(const char *open, const char *close, int depth)
{
	char *s = nested(open, close, depth);
	enum eccr_json_err e = parse(s, strlen(s));

	free(s);
	return e;
}

Test(parse, depth_limit_is_32)
{
	cr_assert_eq(ECCR_JSON_MAX_DEPTH, 32);
	cr_assert_eq(parse_nested("[", "]", 1), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("[", "]", 31), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("[", "]", 32), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("[", "]", 33), ECCR_JSON_TOO_DEEP);
	cr_assert_eq(parse_nested("[", "]", 34), ECCR_JSON_TOO_DEEP);
	cr_assert_eq(parse_nested("[", "]", 100000), ECCR_JSON_TOO_DEEP);
	/* empty innermost containers count the same */
	cr_assert_eq(parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 64),
	    ECCR_JSON_OK);
	cr_assert_eq(parse("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 66),
	    ECCR_JSON_TOO_DEEP);
	/* brackets inside strings don't nest */
	cr_assert_eq(parse("\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"", 42), ECCR_JSON_OK);
	/* siblings don't add up */
	cr_assert_eq(parse_nested("[[],", "]", 31), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("{\"a\":", "}", 32), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("{\"a\":", "}", 33), ECCR_JSON_TOO_DEEP);
	cr_assert_eq(parse_nested("[{\"a\":", "}]", 16), ECCR_JSON_OK);
	cr_assert_eq(parse_nested("[{\"a\":", "}]", 17), ECCR_JSON_TOO_DEEP);
}

Test(parse, rejects_bad_utf8)
{
	static const struct pcase cases[] = {
		C("{\"a\":\"\xc0\xaf\"}", ECCR_JSON_BAD_UTF8),           /* overlong '/' */
		C("{\"a\":\"\xe0\x80\xaf\"}", ECCR_JSON_BAD_UTF8),
		C("{\"a\":\"\xed\xa0\x80\"}", ECCR_JSON_BAD_UTF8),       /* surrogate */
		C("{\"a\":\"\xf4\x90\x80\x80\"}", ECCR_JSON_BAD_UTF8),   /* > U+10FFFF */
		C("{\"a\":\"\xff\"}", ECCR_JSON_BAD_UTF8),
		C("{\"a\":\"\xc3\"}", ECCR_JSON_BAD_UTF8),               /* truncated */
		C("{\"\xc0\xaf\":1}", ECCR_JSON_BAD_UTF8),               /* in a key */
		C("\xfe{}", ECCR_JSON_BAD_UTF8),                         /* outside strings */
		C("{}\x80", ECCR_JSON_BAD_UTF8),
		/* escapes that would be surrogates on their own */
		C("\"\\ud800\"", ECCR_JSON_BAD_UTF8), C("\"\\udc00\"", ECCR_JSON_BAD_UTF8),
		C("\"\\uDFFF\"", ECCR_JSON_BAD_UTF8), C("\"\\ud800x\"", ECCR_JSON_BAD_UTF8),
		C("\"\\ud800\\u0041\"", ECCR_JSON_BAD_UTF8), C("\"\\ud800\\ud800\"", ECCR_JSON_BAD_UTF8),
		C("\"\\udc00\\ud800\"", ECCR_JSON_BAD_UTF8),
	};

	run_cases(cases, LEN(cases));
}

Test(parse, rejects_nul_in_strings)
{
	static const struct pcase cases[] = {
		C("{\"a\":\"x\\u0000y\"}", ECCR_JSON_NUL),
		C("\"\\u0000\"", ECCR_JSON_NUL),
		C("{\"a\":[{\"b\":\"\\u0000\"}]}", ECCR_JSON_NUL),
		C("{\"a\\u0000b\":1}", ECCR_JSON_NUL),                /* json-c would cut the key */
		C("[\"ok\",\"\\u0000\"]", ECCR_JSON_NUL),
	};

	run_cases(cases, LEN(cases));
	/* \u0001 is fine: only U+0000 is refused at parse time */
	cr_assert_eq(parse("\"\\u0001\"", 8), ECCR_JSON_OK);
}

Test(parse, detail_names_the_byte)
{
	static const struct {
		const char *s;
		const char *want;
	} cases[] = {
		{ "{\"a\":1}x", "byte 7" },
		{ "{\"a\": NaN}", "byte 6" },
		{ "{\"a\":\"\xc0\xaf\"}", "byte 6" },
		{ "[1,\"a\x01\"]", "byte 5" },
		{ "{\"a\":\"\\u0000\"}", "byte 6" },
	};
	char d[128];
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		d[0] = '\0';
		cr_assert_neq(parse_n(cases[i].s, strlen(cases[i].s), d, sizeof d), ECCR_JSON_OK);
		cr_assert_not_null(strstr(d, cases[i].want), "case %zu: \"%s\"", i, d);
	}
	/* a small detail buffer is truncated, not overrun */
	cr_assert_neq(parse_n("{}x", 3, d, 8), ECCR_JSON_OK);
	cr_assert_eq(strlen(d), 7);
	cr_assert_neq(parse_n("{}x", 3, NULL, 0), ECCR_JSON_OK);
	/* and on success it is empty */
	strcpy(d, "junk");
	cr_assert_eq(parse_n("{}", 2, d, sizeof d), ECCR_JSON_OK);
	cr_assert_str_eq(d, "");
}

Test(parse, keeps_values)
{
	char d[64];
	json_object *o = NULL, *a;

	const char *t = "{\"s\":\"\\u00e9\\ud83c\\udf99\",\"n\":-12,\"a\":[1]}  ";

	cr_assert_eq(eccr_json_parse(t, strlen(t), &o, d, sizeof d), ECCR_JSON_OK, "%s", d);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(o, "s")),
	    "\xc3\xa9\xf0\x9f\x8e\x99");
	cr_assert_eq(json_object_get_int64(json_object_object_get(o, "n")), -12);
	a = json_object_object_get(o, "a");
	cr_assert(json_object_is_type(a, json_type_array));
	cr_assert_eq(json_object_array_length(a), 1);
	json_object_put(o);
}

/* ------------------------------------------------------------ validation */

static json_object *obj(const char *s)
{
	char d[128];
	json_object *o = NULL;

	cr_assert_eq(eccr_json_parse(s, strlen(s), &o, d, sizeof d), ECCR_JSON_OK, "%s: %s", s, d);
	return o;
}

Test(valid, add_is_bounded)
{
	struct eccr_valid v = { 0 };
	char longfield[200];
	int i;

	memset(longfield, 'f', sizeof longfield - 1);
	longfield[sizeof longfield - 1] = '\0';
	eccr_valid_add(&v, longfield, "%s", longfield);
	cr_assert_eq(v.n, 1);
	cr_assert_eq(strlen(v.e[0].field), sizeof v.e[0].field - 1);
	cr_assert_eq(strlen(v.e[0].message), sizeof v.e[0].message - 1);
	eccr_valid_add(&v, "n", "value %d of %s", 3, "x");
	cr_assert_str_eq(v.e[1].field, "n");
	cr_assert_str_eq(v.e[1].message, "value 3 of x");
	for (i = 0; i < 100; i++)
		eccr_valid_add(&v, "f", "m %d", i);
	cr_assert_eq(v.n, ECCR_VALID_MAX);
	cr_assert_str_eq(v.e[ECCR_VALID_MAX - 1].message, "m 29");
}

Test(valid, truncation_keeps_utf8_whole)
{
	struct eccr_valid v = { 0 };
	char field[100];
	size_t i, n;

	/* 'a' then 2-byte characters: the 63-byte limit falls mid-character */
	field[0] = 'a';
	for (i = 1; i + 2 < sizeof field; i += 2)
		memcpy(field + i, "\xc3\xa9", 2);
	field[i] = '\0';
	eccr_valid_add(&v, field, "x");
	n = strlen(v.e[0].field);
	cr_assert_eq(n, 63);
	cr_assert_eq(memcmp(v.e[0].field, field, n), 0);
	/* 4-byte characters: 63 = 15*4 + 3, so 3 bytes of the 16th go */
	for (i = 0; i + 4 < sizeof field; i += 4)
		memcpy(field + i, "\xf0\x9f\x8e\x99", 4);
	field[i] = '\0';
	eccr_valid_add(&v, field, "x");
	cr_assert_eq(strlen(v.e[1].field), 60);
}

Test(valid, get_string)
{
	static const struct {
		const char *key;
		size_t min, max;
		bool allow_control, ok;
		const char *msg;
	} cases[] = {
		{ "ok", 1, 5, false, true, NULL },
		{ "ok", 5, 5, false, true, NULL },                /* 5 code points, 6 bytes */
		{ "ok", 1, 4, false, false, "must be 1 to 4 characters" },
		{ "ok", 6, 10, false, false, "must be 6 to 10 characters" },
		{ "empty", 1, 200, false, false, "must be 1 to 200 characters" },
		{ "empty", 0, 200, false, true, NULL },
		{ "long", 0, 5, false, false, "must be at most 5 characters" },
		{ "n", 1, 5, false, false, "must be a string" },
		{ "numstr", 1, 5, false, true, NULL },
		{ "b", 1, 5, false, false, "must be a string" },
		{ "nul", 1, 5, false, false, "must be a string" },
		{ "arr", 1, 5, false, false, "must be a string" },
		{ "obj", 1, 5, false, false, "must be a string" },
		{ "missing", 1, 5, false, false, "must be a string" },
		{ "bel", 0, 50, false, false, "must not contain control characters" },
		{ "bel", 0, 50, true, false, "must not contain control characters" },
		{ "del", 0, 50, true, false, "must not contain control characters" },
		{ "esc", 0, 50, true, false, "must not contain control characters" },
		{ "nl", 0, 50, false, false, "must not contain control characters" },
		{ "nl", 0, 50, true, true, NULL },
		{ "tab", 0, 50, false, false, "must not contain control characters" },
		{ "tab", 0, 50, true, true, NULL },
		{ "cr", 0, 50, true, true, NULL },
		{ "c1", 0, 50, false, true, NULL },               /* U+0085 is not C0 */
	};
	json_object *o = obj("{\"ok\":\"h\xc3\xa9llo\",\"empty\":\"\",\"long\":\"abcdef\","
	    "\"n\":5,\"numstr\":\"5\",\"b\":true,\"nul\":null,\"arr\":[\"a\"],\"obj\":{},"
	    "\"bel\":\"a\\u0007b\",\"del\":\"a\\u007fb\",\"esc\":\"\\u001b[0m\","
	    "\"nl\":\"a\\nb\",\"tab\":\"a\\tb\",\"cr\":\"a\\r\\nb\",\"c1\":\"\\u0085\"}");
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		struct eccr_valid v = { 0 };
		const char *s = NULL;
		size_t n = 0;
		bool ok = eccr_json_get_string(&v, cases[i].key,
		    json_object_object_get(o, cases[i].key), cases[i].min, cases[i].max,
		    cases[i].allow_control, &s, &n);

		cr_assert_eq(ok, cases[i].ok, "case %zu (%s)", i, cases[i].key);
		if (ok) {
			cr_assert_eq(v.n, 0);
			cr_assert_not_null(s);
			cr_assert_eq(n, strlen(s));
			continue;
		}
		cr_assert_eq(v.n, 1, "case %zu", i);
		cr_assert_str_eq(v.e[0].field, cases[i].key);
		cr_assert_str_eq(v.e[0].message, cases[i].msg, "case %zu", i);
	}
	json_object_put(o);
}

Test(valid, get_string_returns_the_value)
{
	struct eccr_valid v = { 0 };
	json_object *o = obj("\"h\xc3\xa9llo\"");
	const char *s = NULL;
	size_t n = 0;

	cr_assert(eccr_json_get_string(&v, "t", o, 1, 5, false, &s, &n));
	cr_assert_eq(n, 6);
	cr_assert_str_eq(s, "h\xc3\xa9llo");
	json_object_put(o);
}

Test(valid, get_string_refuses_built_objects_with_nul)
{
	struct eccr_valid v = { 0 };
	json_object *o = json_object_new_string_len("a\0b", 3);
	const char *s;
	size_t n;

	cr_assert_not(eccr_json_get_string(&v, "t", o, 0, 10, true, &s, &n));
	cr_assert_eq(v.n, 1);
	json_object_put(o);
}

Test(valid, get_uint)
{
	static const struct {
		const char *key;
		int64_t max;
		bool ok;
		int64_t want;
	} cases[] = {
		{ "a", 100, true, 7 },
		{ "zero", 100, true, 0 },
		{ "negzero", 100, true, 0 },
		{ "g", 101, true, 101 },
		{ "g", 100, false, 0 },
		{ "b", 100, false, 0 },
		{ "c", 100, false, 0 },                     /* 1.5 */
		{ "whole", 100, false, 0 },                 /* 1.0 is a double */
		{ "exp", 1000, false, 0 },                  /* 1e2 is a double */
		{ "d", 100, false, 0 },                     /* "3" */
		{ "e", 100, false, 0 },                     /* true */
		{ "nul", 100, false, 0 },
		{ "arr", 100, false, 0 },
		{ "missing", 100, false, 0 },
		{ "i64max", INT64_MAX, true, INT64_MAX },
		{ "i64max", INT64_MAX - 1, false, 0 },
		{ "u64max", INT64_MAX - 1, false, 0 },      /* json-c saturates */
		{ "u64max", INT32_MAX, false, 0 },
		{ "huge", INT32_MAX, false, 0 },
		{ "i64min", INT64_MAX, false, 0 },
		{ "hugeneg", INT64_MAX, false, 0 },
	};
	json_object *o = obj("{\"a\":7,\"zero\":0,\"negzero\":-0,\"g\":101,\"b\":-1,"
	    "\"c\":1.5,\"whole\":1.0,\"exp\":1e2,\"d\":\"3\",\"e\":true,\"nul\":null,"
	    "\"arr\":[1],\"i64max\":9223372036854775807,"
	    "\"u64max\":18446744073709551615,\"huge\":99999999999999999999999999,"
	    "\"i64min\":-9223372036854775808,\"hugeneg\":-99999999999999999999999}");
	size_t i;
	char want[64];

	for (i = 0; i < LEN(cases); i++) {
		struct eccr_valid v = { 0 };
		int64_t n = -42;
		bool ok = eccr_json_get_uint(&v, cases[i].key,
		    json_object_object_get(o, cases[i].key), cases[i].max, &n);

		cr_assert_eq(ok, cases[i].ok, "case %zu (%s)", i, cases[i].key);
		if (ok) {
			cr_assert_eq(n, cases[i].want, "case %zu", i);
			cr_assert_eq(v.n, 0);
			continue;
		}
		cr_assert_eq(n, -42, "case %zu: output written on failure", i);
		cr_assert_eq(v.n, 1);
		cr_assert_str_eq(v.e[0].field, cases[i].key);
		snprintf(want, sizeof want, "must be an integer from 0 to %lld",
		    (long long)cases[i].max);
		cr_assert_str_eq(v.e[0].message, want);
	}
	json_object_put(o);
}

Test(valid, only_fields)
{
	static const char *const allowed[] = { "title", "status", NULL };
	static const char *const none[] = { NULL };
	struct eccr_valid v = { 0 };
	json_object *o = obj("{\"title\":\"x\",\"colour\":1,\"status\":\"draft\",\"size\":2}");
	json_object *ok = obj("{\"title\":\"x\"}");
	json_object *empty = obj("{}");

	cr_assert_not(eccr_json_only_fields(&v, o, allowed));
	cr_assert_eq(v.n, 2);
	cr_assert_str_eq(v.e[0].field, "colour");
	cr_assert_str_eq(v.e[0].message, "unknown field");
	cr_assert_str_eq(v.e[1].field, "size");
	cr_assert_str_eq(v.e[1].message, "unknown field");
	v.n = 0;
	cr_assert(eccr_json_only_fields(&v, ok, allowed));
	cr_assert(eccr_json_only_fields(&v, empty, none));
	cr_assert_eq(v.n, 0);
	/* names are compared exactly */
	json_object_put(o);
	o = obj("{\"Title\":1,\"titl\":2,\"titles\":3,\"status \":4}");
	cr_assert_not(eccr_json_only_fields(&v, o, allowed));
	cr_assert_eq(v.n, 4);
	cr_assert_not(eccr_json_only_fields(&v, ok, none));
	cr_assert_eq(v.n, 5);
	cr_assert_str_eq(v.e[4].field, "title");
	json_object_put(o);
	json_object_put(ok);
	json_object_put(empty);
}

Test(valid, only_fields_long_name_truncated)
{
	static const char *const none[] = { NULL };
	struct eccr_valid v = { 0 };
	char text[300];
	json_object *o;

	snprintf(text, sizeof text, "{\"%0200d\":1}", 0);
	o = obj(text);
	cr_assert_not(eccr_json_only_fields(&v, o, none));
	cr_assert_eq(v.n, 1);
	cr_assert_eq(strlen(v.e[0].field), sizeof v.e[0].field - 1);
	cr_assert_str_eq(v.e[0].message, "unknown field");
	json_object_put(o);
}
