/* Unit tests: src/lib/util.c */
#include <criterion/criterion.h>
#include <string.h>

#include "util.h"

Test(buf, grows_and_stays_terminated)
{
	struct eccr_buf b = { 0 };
	int i;

	for (i = 0; i < 1000; i++)
		eccr_buf_adds(&b, "abc");
	cr_assert_eq(b.len, 3000);
	cr_assert_eq(b.p[3000], '\0');
	cr_assert_not(b.oom);
	eccr_buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.p, "");
	eccr_buf_printf(&b, "%d-%s", 42, "x");
	cr_assert_str_eq(b.p, "42-x");
	eccr_buf_free(&b);
}

Test(buf, json_string_escapes)
{
	struct eccr_buf b = { 0 };
	const char in[] = "a\"b\\c\n\x01\x1f\xc3\xa9";

	eccr_buf_add_json_str(&b, in, sizeof in - 1);
	cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\u0001\\u001f\xc3\xa9\"");
	eccr_buf_free(&b);
}

Test(utf8, accepts_valid_and_counts_code_points)
{
	cr_assert_eq(eccr_utf8_len("", 0), 0);
	cr_assert_eq(eccr_utf8_len("abc", 3), 3);
	cr_assert_eq(eccr_utf8_len("\xc3\xa9t\xc3\xa9", 5), 3);
	cr_assert_eq(eccr_utf8_len("\xf0\x9f\x8e\x99", 4), 1);    /* U+1F399 */
	cr_assert_eq(eccr_utf8_len("\xef\xbf\xbf", 3), 1);        /* U+FFFF */
	cr_assert_eq(eccr_utf8_len("\xf4\x8f\xbf\xbf", 4), 1);    /* U+10FFFF */
}

Test(utf8, rejects_invalid)
{
	static const char *const bad[] = {
		"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", /* overlongs */
		"\xed\xa0\x80", "\xed\xbf\xbf",                              /* surrogates */
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80",                      /* > U+10FFFF */
		"\x80", "\xbf", "\xc3", "\xe2\x82", "\xfe", "\xff",
		"a\xc3(", NULL
	};
	int i;

	for (i = 0; bad[i] != NULL; i++)
		cr_assert_eq(eccr_utf8_len(bad[i], strlen(bad[i])), -1, "case %d", i);
}

Test(utf8, control_characters)
{
	cr_assert(eccr_has_control("a\tb", 3));
	cr_assert(eccr_has_control("a\x7f", 2));
	cr_assert_not(eccr_has_control("plain \xc3\xa9", 8));
}

Test(uuid, validate_and_normalize)
{
	char out[37];

	cr_assert(eccr_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
	cr_assert(eccr_uuid_normalize("123E4567-E89B-12D3-A456-426614174ABC", out));
	cr_assert_str_eq(out, "123e4567-e89b-12d3-a456-426614174abc");
	cr_assert_not(eccr_uuid_valid("123e4567e89b12d3a456426614174000"));
	cr_assert_not(eccr_uuid_valid("123e4567-e89b-12d3-a456-42661417400"));
	cr_assert_not(eccr_uuid_valid("123e4567-e89b-12d3-a456-4266141740000"));
	cr_assert_not(eccr_uuid_valid("g23e4567-e89b-12d3-a456-426614174000"));
	cr_assert_not(eccr_uuid_valid("' OR 1=1 --"));
}

Test(b64url, round_trip_and_rejects)
{
	const unsigned char in[] = { 0xfb, 0xff, 0x00, 'a', 'b' };
	unsigned char out[16];
	char enc[16];
	size_t n;
	long got;

	for (n = 0; n <= sizeof in; n++) {
		eccr_b64url_encode(in, n, enc);
		cr_assert_eq(strlen(enc), eccr_b64url_len(n));
		got = eccr_b64url_decode(enc, strlen(enc), out, sizeof out);
		cr_assert_eq(got, (long)n);
		cr_assert_eq(memcmp(in, out, n), 0);
	}
	eccr_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc);
	cr_assert_str_eq(enc, "-_8");
	cr_assert_eq(eccr_b64url_decode("ab=c", 4, out, sizeof out), -1);
	cr_assert_eq(eccr_b64url_decode("ab+c", 4, out, sizeof out), -1);
	cr_assert_eq(eccr_b64url_decode("abcde", 5, out, sizeof out), -1);
	cr_assert_eq(eccr_b64url_decode("QR", 2, out, sizeof out), -1); /* non-zero tail bits */
	cr_assert_eq(eccr_b64url_decode("AAAAAAAA", 8, out, 5), -1);    /* too small */
}

Test(time, rfc3339_ms)
{
	struct timespec ts = { .tv_sec = 1795786620, .tv_nsec = 123999999 };
	char out[25];

	eccr_rfc3339_ms(&ts, out);
	cr_assert_str_eq(out, "2026-11-27T13:37:00.123Z");
}

Test(date, calendar)
{
	cr_assert(eccr_date_valid("2024-02-29", 10));
	cr_assert(eccr_date_valid("2000-02-29", 10));
	cr_assert_not(eccr_date_valid("1900-02-29", 10));
	cr_assert_not(eccr_date_valid("2026-02-29", 10));
	cr_assert_not(eccr_date_valid("2026-04-31", 10));
	cr_assert_not(eccr_date_valid("2026-13-01", 10));
	cr_assert_not(eccr_date_valid("0000-01-01", 10));
	cr_assert_not(eccr_date_valid("2026-1-01", 9));
	cr_assert_not(eccr_date_valid("2026-01-01T", 11));
	cr_assert_not(eccr_date_valid("2026/01/01", 10));
}

Test(parse_i64, strict)
{
	int64_t v = 0;

	cr_assert(eccr_parse_i64("0", 0, 10, &v) && v == 0);
	cr_assert(eccr_parse_i64("9223372036854775807", 0, INT64_MAX, &v) && v == INT64_MAX);
	cr_assert(eccr_parse_i64("-5", -10, 10, &v) && v == -5);
	cr_assert_not(eccr_parse_i64("9223372036854775808", 0, INT64_MAX, &v));
	cr_assert_not(eccr_parse_i64("-5", 0, 10, &v));
	cr_assert_not(eccr_parse_i64("11", 0, 10, &v));
	cr_assert_not(eccr_parse_i64("", 0, 10, &v));
	cr_assert_not(eccr_parse_i64(" 1", 0, 10, &v));
	cr_assert_not(eccr_parse_i64("1x", 0, 10, &v));
	cr_assert_not(eccr_parse_i64("+1", 0, 10, &v));
}
