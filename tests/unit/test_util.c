/* Unit tests: src/lib/util.c */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ buffers */

Test(buf, starts_at_256_and_doubles)
{
	struct eccr_buf b = { 0 };
	char chunk[255];

	memset(chunk, 'x', sizeof chunk);
	eccr_buf_addc(&b, 'a');
	cr_assert_eq(b.cap, 256);
	eccr_buf_add(&b, chunk, 254);       /* 255 bytes + NUL: still fits */
	cr_assert_eq(b.cap, 256);
	eccr_buf_addc(&b, 'b');             /* 256 + NUL: doubles */
	cr_assert_eq(b.cap, 512);
	eccr_buf_add(&b, chunk, 255);
	eccr_buf_add(&b, chunk, 255);       /* 766 + NUL */
	cr_assert_eq(b.cap, 1024);
	cr_assert_eq(b.len, 766);
	cr_assert_eq(b.p[766], '\0');
	cr_assert_eq(b.p[0], 'a');
	cr_assert_eq(b.p[255], 'b');
	cr_assert_not(b.oom);
	eccr_buf_free(&b);
	cr_assert_null(b.p);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 0);
}

Test(buf, large_single_append_rounds_up)
{
	struct eccr_buf b = { 0 };
	char *big = malloc(5000);

	cr_assert_not_null(big);
	memset(big, 'y', 5000);
	eccr_buf_add(&b, big, 5000);
	cr_assert_eq(b.cap, 8192);
	cr_assert_eq(b.len, 5000);
	cr_assert_eq(b.p[5000], '\0');
	free(big);
	eccr_buf_free(&b);
}

Test(buf, reset_keeps_capacity)
{
	struct eccr_buf b = { 0 };
	char *p;

	eccr_buf_reset(&b);                 /* on a never-used buffer */
	cr_assert_null(b.p);
	eccr_buf_printf(&b, "%0600d", 7);
	cr_assert_eq(b.len, 600);
	p = b.p;
	eccr_buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.cap, 1024);
	cr_assert_eq(b.p, p);
	cr_assert_str_eq(b.p, "");
	eccr_buf_adds(&b, "again");
	cr_assert_str_eq(b.p, "again");
	cr_assert_eq(b.p, p);
	eccr_buf_free(&b);
}

Test(buf, empty_append_still_terminated)
{
	struct eccr_buf b = { 0 };

	eccr_buf_add(&b, NULL, 0);
	cr_assert_not_null(b.p);
	cr_assert_str_eq(b.p, "");
	eccr_buf_adds(&b, "");
	cr_assert_eq(b.len, 0);
	eccr_buf_free(&b);
}

Test(buf, printf_appends)
{
	struct eccr_buf b = { 0 };
	char want[1100];
	int i;

	eccr_buf_adds(&b, "x=");
	eccr_buf_printf(&b, "%d-%s", 42, "y");
	cr_assert_str_eq(b.p, "x=42-y");
	eccr_buf_printf(&b, "%s", "");
	cr_assert_eq(b.len, 6);
	/* Longer than the current capacity: the second vsnprintf must run
	 * on the grown buffer. */
	eccr_buf_reset(&b);
	for (i = 0; i < 1099; i++)
		want[i] = (char)('a' + i % 26);
	want[1099] = '\0';
	eccr_buf_printf(&b, "%s", want);
	cr_assert_str_eq(b.p, want);
	cr_assert_eq(b.len, 1099);
	eccr_buf_free(&b);
}

Test(buf, oom_is_sticky_until_reset)
{
	struct eccr_buf b = { 0 };

	eccr_buf_adds(&b, "keep");
	cr_assert_not(eccr_buf_reserve(&b, SIZE_MAX));
	cr_assert(b.oom);
	eccr_buf_adds(&b, "more");
	eccr_buf_printf(&b, "%d", 1);
	cr_assert_str_eq(b.p, "keep");
	cr_assert_eq(b.len, 4);
	cr_assert_not(eccr_buf_reserve(&b, 1));
	eccr_buf_reset(&b);
	cr_assert_not(b.oom);
	cr_assert(eccr_buf_reserve(&b, 1));
	eccr_buf_adds(&b, "ok");
	cr_assert_str_eq(b.p, "ok");
	cr_assert_not(eccr_buf_reserve(&b, SIZE_MAX - 1));
	cr_assert(b.oom);
	eccr_buf_free(&b);
}

Test(buf, json_string_escapes)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{ "", 0, "\"\"" },
		{ "plain", 5, "\"plain\"" },
		{ "a\"b", 3, "\"a\\\"b\"" },
		{ "a\\b", 3, "\"a\\\\b\"" },
		{ "\n\r\t", 3, "\"\\n\\r\\t\"" },
		{ "\b\f", 2, "\"\\u0008\\u000c\"" },
		{ "\x01\x1f", 2, "\"\\u0001\\u001f\"" },
		{ "a\0b", 3, "\"a\\u0000b\"" },
		{ "\x7f/", 2, "\"\x7f/\"" },
		{ "\xc3\xa9\xf0\x9f\x8e\x99", 6, "\"\xc3\xa9\xf0\x9f\x8e\x99\"" },
		{ "</script>", 9, "\"</script>\"" },
	};
	struct eccr_buf b = { 0 };
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		eccr_buf_reset(&b);
		eccr_buf_add_json_str(&b, cases[i].in, cases[i].n);
		cr_assert_str_eq(b.p, cases[i].out, "case %zu", i);
		cr_assert_eq(b.len, strlen(cases[i].out), "case %zu", i);
	}
	/* Appends, doesn't replace. */
	eccr_buf_reset(&b);
	eccr_buf_addc(&b, '[');
	eccr_buf_add_json_str(&b, "x", 1);
	eccr_buf_addc(&b, ']');
	cr_assert_str_eq(b.p, "[\"x\"]");
	eccr_buf_free(&b);
}

/* ------------------------------------------------------------ UTF-8 */

struct utf8_case {
	const char *s;
	size_t n;
	long want;
};
#define U(lit, want) { lit, sizeof(lit) - 1, want }

Test(utf8, table)
{
	static const struct utf8_case cases[] = {
		U("", 0), U("abc", 3), U("\xc3\xa9t\xc3\xa9", 3),
		U("a\0b", 3),                       /* NUL is valid UTF-8 */
		U("\xc2\x80", 1), U("\xdf\xbf", 1),  /* smallest, largest 2-byte */
		U("\xe0\xa0\x80", 1),               /* U+0800 */
		U("\xed\x9f\xbf", 1),               /* U+D7FF, below surrogates */
		U("\xee\x80\x80", 1),               /* U+E000, above them */
		U("\xef\xbf\xbf", 1),               /* U+FFFF */
		U("\xf0\x90\x80\x80", 1),           /* U+10000 */
		U("\xf0\x9f\x8e\x99", 1),           /* U+1F399 */
		U("\xf4\x8f\xbf\xbf", 1),           /* U+10FFFF */
		/* overlongs */
		U("\xc0\xaf", -1), U("\xc1\xbf", -1), U("\xc0\x80", -1),
		U("\xe0\x80\xaf", -1), U("\xe0\x9f\xbf", -1),
		U("\xf0\x80\x80\xaf", -1), U("\xf0\x8f\xbf\xbf", -1),
		/* surrogates */
		U("\xed\xa0\x80", -1), U("\xed\xbf\xbf", -1),
		U("\xed\xa0\xbd\xed\xb8\x80", -1),  /* CESU-8 pair */
		/* past U+10FFFF, and bytes that never appear */
		U("\xf4\x90\x80\x80", -1), U("\xf5\x80\x80\x80", -1),
		U("\xf8\x88\x80\x80\x80", -1), U("\xfe", -1), U("\xff", -1),
		/* lone continuations */
		U("\x80", -1), U("\xbf", -1), U("a\x80", -1),
		/* truncated */
		U("\xc3", -1), U("\xe2\x82", -1), U("\xf0\x9f\x8e", -1), U("ab\xf0", -1),
		/* bad continuation */
		U("a\xc3(", -1), U("\xe2\x28\xa1", -1), U("\xe2\x82\x28", -1),
		U("\xf0\x9f\x8e\x29", -1), U("\xf0\x9f\x28\x99", -1),
	};
	size_t i;

	for (i = 0; i < LEN(cases); i++)
		cr_assert_eq(eccr_utf8_len(cases[i].s, cases[i].n), cases[i].want,
		    "case %zu", i);
}

Test(utf8, respects_n)
{
	/* The bytes past n are never looked at. */
	cr_assert_eq(eccr_utf8_len("ab\xff", 2), 2);
	cr_assert_eq(eccr_utf8_len("\xc3\xa9", 1), -1);
}

Test(utf8, control_characters)
{
	char s[3] = { 'a', 0, 'b' };
	int c;

	for (c = 0; c < 256; c++) {
		s[1] = (char)c;
		cr_assert_eq(eccr_has_control(s, 3), c < 0x20 || c == 0x7f, "byte %d", c);
	}
	cr_assert_not(eccr_has_control("", 0));
	cr_assert_not(eccr_has_control("a\n", 1));   /* beyond n */
	cr_assert_not(eccr_has_control("plain \xc3\xa9", 8));
}

/* ------------------------------------------------------------ UUIDs */

Test(uuid, validate)
{
	static const char *const good[] = {
		"123e4567-e89b-12d3-a456-426614174000",
		"00000000-0000-0000-0000-000000000000",
		"FFFFFFFF-ffff-AbCd-0000-000000000000",
	};
	static const char *const bad[] = {
		"", "123e4567e89b12d3a456426614174000",
		"123e4567-e89b-12d3-a456-42661417400",
		"123e4567-e89b-12d3-a456-4266141740000",
		"123e4567-e89b-12d3-a456-426614174000 ",
		" 123e4567-e89b-12d3-a456-426614174000",
		"g23e4567-e89b-12d3-a456-426614174000",
		"123e4567-e89b-12d3-a4560426614174000",
		"123e4567+e89b-12d3-a456-426614174000",
		"123e456-7e89b-12d3-a456-426614174000",
		"{123e4567-e89b-12d3-a456-426614174000}",
		"123e4567-e89b-12d3-a456-42661417400\xc3\xa9",
		"' OR 1=1 --",
	};
	char out[37];
	size_t i;

	for (i = 0; i < LEN(good); i++)
		cr_assert(eccr_uuid_valid(good[i]), "%s", good[i]);
	for (i = 0; i < LEN(bad); i++) {
		cr_assert_not(eccr_uuid_valid(bad[i]), "%s", bad[i]);
		cr_assert_not(eccr_uuid_normalize(bad[i], out), "%s", bad[i]);
	}
}

Test(uuid, normalize_lowercases)
{
	char out[37];

	cr_assert(eccr_uuid_normalize("123E4567-E89B-12D3-A456-426614174ABC", out));
	cr_assert_str_eq(out, "123e4567-e89b-12d3-a456-426614174abc");
	cr_assert(eccr_uuid_normalize("abcdefab-cdef-abcd-efab-cdefabcdefab", out));
	cr_assert_str_eq(out, "abcdefab-cdef-abcd-efab-cdefabcdefab");
}

Test(uuid, v4_format)
{
	char a[37], b[37];

	cr_assert(eccr_uuid_v4(a));
	cr_assert(eccr_uuid_v4(b));
	cr_assert(eccr_uuid_valid(a));
	cr_assert_eq(strlen(a), 36);
	cr_assert_eq(a[14], '4');
	cr_assert_neq(strchr("89ab", a[19]), NULL);
	cr_assert_str_neq(a, b);
	cr_assert(eccr_uuid_normalize(a, b));
	cr_assert_str_eq(a, b);                     /* already lower case */
}

/* ------------------------------------------------------------ base64url */

Test(b64url, rfc4648_vectors)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	unsigned char out[8];
	char e[16];
	size_t i;

	for (i = 0; i < LEN(plain); i++) {
		size_t n = strlen(plain[i]);

		cr_assert_eq(eccr_b64url_len(n), strlen(enc[i]));
		eccr_b64url_encode((const unsigned char *)plain[i], n, e);
		cr_assert_str_eq(e, enc[i]);
		cr_assert_eq(eccr_b64url_decode(enc[i], strlen(enc[i]), out, sizeof out), (long)n);
		cr_assert_eq(memcmp(out, plain[i], n), 0);
	}
}

Test(b64url, url_alphabet_and_round_trip)
{
	unsigned char in[256], out[256];
	char e[400];
	size_t n;

	eccr_b64url_encode((const unsigned char *)"\xfb\xff", 2, e);
	cr_assert_str_eq(e, "-_8");
	eccr_b64url_encode((const unsigned char *)"\xfb\xef\xbe", 3, e);
	cr_assert_str_eq(e, "----");
	for (n = 0; n < 256; n++)
		in[n] = (unsigned char)(255 - n);
	for (n = 0; n <= 256; n++) {
		eccr_b64url_encode(in, n, e);
		cr_assert_eq(strlen(e), eccr_b64url_len(n));
		cr_assert_eq(eccr_b64url_decode(e, strlen(e), out, n), (long)n, "n=%zu", n);
		cr_assert_eq(memcmp(in, out, n), 0);
	}
}

Test(b64url, rejects)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{ "Zg==", 4 }, { "Zm8=", 4 }, { "Zg=", 3 }, { "=", 1 },
		{ "Z", 1 }, { "Zm9vY", 5 }, { "A", 1 }, { "AAAAA", 5 },                 /* length % 4 == 1 */
		{ "ab+c", 4 }, { "ab/c", 4 }, { "ab c", 4 }, { "ab\nc", 4 },
		{ "ab.c", 4 }, { "ab\0c", 4 }, { "ab\xc3\xa9", 4 }, { "Zm9v\n", 5 },
		{ "Zh", 2 }, { "Zm9", 3 },                   /* non-zero spare bits */
	};
	unsigned char out[16];
	size_t i;

	for (i = 0; i < LEN(bad); i++)
		cr_assert_eq(eccr_b64url_decode(bad[i].s, bad[i].n, out, sizeof out), -1,
		    "case %zu", i);
}

Test(b64url, output_capacity)
{
	unsigned char out[6];

	cr_assert_eq(eccr_b64url_decode("Zm9vYmFy", 8, out, 6), 6);
	cr_assert_eq(eccr_b64url_decode("Zm9vYmFy", 8, out, 5), -1);
	cr_assert_eq(eccr_b64url_decode("Zm9vYmE", 7, out, 5), 5);
	cr_assert_eq(eccr_b64url_decode("Zm9vYmE", 7, out, 4), -1);
	cr_assert_eq(eccr_b64url_decode("", 0, out, 0), 0);
}

/* ------------------------------------------------------------ time */

Test(time, rfc3339_ms)
{
	static const struct {
		time_t sec;
		long nsec;
		const char *want;
	} cases[] = {
		{ 0, 0, "1970-01-01T00:00:00.000Z" },
		{ 1795527420, 123999999, "2026-11-24T13:37:00.123Z" },
		{ 1709251199, 999999999, "2024-02-29T23:59:59.999Z" },
		{ 1709251199, 1000000, "2024-02-29T23:59:59.001Z" },
		{ 253402300799, 500000000, "9999-12-31T23:59:59.500Z" },
	};
	char out[25];
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		struct timespec ts = { .tv_sec = cases[i].sec, .tv_nsec = cases[i].nsec };

		memset(out, 'x', sizeof out);
		eccr_rfc3339_ms(&ts, out);
		cr_assert_str_eq(out, cases[i].want);
	}
}

Test(time, rfc3339_out_of_range_stays_well_formed)
{
	struct timespec ts = { .tv_sec = 253402300800, .tv_nsec = 0 };   /* year 10000 */
	char out[25];

	eccr_rfc3339_ms(&ts, out);
	cr_assert_eq(strlen(out), 24);
	cr_assert_eq(out[23], 'Z');
}

Test(date, calendar)
{
	static const char *const good[] = {
		"2024-02-29", "2000-02-29", "2026-02-28", "0001-01-01", "9999-12-31",
		"2026-01-31", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
		"2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30",
		"2026-12-31", "1600-02-29",
	};
	static const char *const bad[] = {
		"1900-02-29", "2026-02-29", "2100-02-29", "2026-02-30", "2026-04-31",
		"2026-06-31", "2026-09-31", "2026-11-31", "2026-01-32", "2026-13-01",
		"2026-00-10", "2026-01-00", "0000-01-01", "2026-1-01", "2026-01-1",
		"2026/01/01", "2026-01-01T", "20260-1-01", "+026-01-01", "-026-01-01",
		"2026-+1-01", "2026-01- 1", "2026-0a-01", "", "2026-01-01 ",
	};
	size_t i;

	for (i = 0; i < LEN(good); i++)
		cr_assert(eccr_date_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (i = 0; i < LEN(bad); i++)
		cr_assert_not(eccr_date_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
	/* exactly n bytes are looked at */
	cr_assert(eccr_date_valid("2026-01-01junk", 10));
	cr_assert_not(eccr_date_valid("2026-01-01", 9));
}

Test(rfc3339, valid_and_not)
{
	static const char *const good[] = {
		"2026-11-24T13:37:00Z", "2026-11-24t13:37:00z", "2024-02-29T23:59:59.123456789Z",
		"2026-11-24T13:37:00+01:00", "2026-11-24T13:37:00.5-23:59", "0001-01-01T00:00:00Z",
	};
	static const char *const bad[] = {
		"", "2026-11-24", "2026-11-24 13:37:00Z", "2026-11-24T13:37Z", "2026-11-24T24:00:00Z",
		"2026-11-24T13:60:00Z", "2026-11-24T13:37:60Z", "2025-02-29T00:00:00Z",
		"2026-11-24T13:37:00", "2026-11-24T13:37:00.Z", "2026-11-24T13:37:00.1234567890Z",
		"2026-11-24T13:37:00+24:00", "2026-11-24T13:37:00+01:60", "2026-11-24T13:37:00+0100",
		"2026-11-24T13:37:00ZZ", "2026-11-24T1a:37:00Z", "tomorrow", "2026-11-24T13:37:00 Z",
	};
	size_t i;

	for (i = 0; i < LEN(good); i++)
		cr_assert(eccr_rfc3339_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (i = 0; i < LEN(bad); i++)
		cr_assert_not(eccr_rfc3339_valid(bad[i], strlen(bad[i])), "%s", bad[i]);
	/* exactly n bytes are looked at */
	cr_assert_not(eccr_rfc3339_valid("2026-11-24T13:37:00Zjunk", 24));
	cr_assert(eccr_rfc3339_valid("2026-11-24T13:37:00Zjunk", 20));
}

/* ------------------------------------------------------------ numbers */

Test(parse_i64, table)
{
	static const struct {
		const char *s;
		int64_t min, max;
		bool ok;
		int64_t want;
	} cases[] = {
		{ "0", 0, 10, true, 0 },
		{ "10", 0, 10, true, 10 },
		{ "007", 0, 10, true, 7 },
		{ "11", 0, 10, false, 0 },
		{ "0", 1, 10, false, 0 },
		{ "9223372036854775807", 0, INT64_MAX, true, INT64_MAX },
		{ "9223372036854775808", 0, INT64_MAX, false, 0 },
		{ "99999999999999999999", 0, INT64_MAX, false, 0 },
		{ "18446744073709551616", 0, INT64_MAX, false, 0 },  /* wraps to 0 if unchecked */
		{ "-9223372036854775808", INT64_MIN, 0, true, INT64_MIN },
		{ "-9223372036854775809", INT64_MIN, 0, false, 0 },
		{ "-5", -10, 10, true, -5 },
		{ "-0", -10, 10, true, 0 },
		{ "-11", -10, 10, false, 0 },
		{ "-5", 0, 10, false, 0 },            /* sign only when min < 0 */
		{ "-0", 0, 10, false, 0 },
		{ "-", -10, 10, false, 0 },
		{ "--1", -10, 10, false, 0 },
		{ "", 0, 10, false, 0 },
		{ " 1", 0, 10, false, 0 },
		{ "1 ", 0, 10, false, 0 },
		{ "1x", 0, 10, false, 0 },
		{ "+1", 0, 10, false, 0 },
		{ "0x1", 0, 100, false, 0 },
		{ "1e2", 0, 1000, false, 0 },
		{ "1.0", 0, 10, false, 0 },
		{ "\xd9\xa1", 0, 10, false, 0 },      /* ARABIC-INDIC DIGIT ONE */
	};
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		int64_t v = 12345;
		bool ok = eccr_parse_i64(cases[i].s, cases[i].min, cases[i].max, &v);

		cr_assert_eq(ok, cases[i].ok, "case %zu \"%s\"", i, cases[i].s);
		if (ok)
			cr_assert_eq(v, cases[i].want, "case %zu", i);
		else
			cr_assert_eq(v, 12345, "case %zu: output written on failure", i);
	}
}

/* ------------------------------------------------------------ files */

static char *temp_file(const void *data, size_t n)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof path, "/tmp/eccr-test-util-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

Test(read_file, reads_whole_file)
{
	char *path = temp_file("ab\0cd", 5), *p = NULL;
	size_t len = 0;

	cr_assert_eq(eccr_read_file(path, 5, &p, &len), 0);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(p, "ab\0cd", 6), 0);    /* NUL-terminated too */
	free(p);
	cr_assert_eq(eccr_read_file(path, 4, &p, &len), EFBIG);
	unlink(path);
	cr_assert_eq(eccr_read_file(path, 100, &p, &len), ENOENT);
}

Test(read_file, empty_file)
{
	char *path = temp_file("", 0), *p = NULL;
	size_t len = 99;

	cr_assert_eq(eccr_read_file(path, 0, &p, &len), 0);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(p, "");
	free(p);
	unlink(path);
}

Test(read_file, refuses_non_regular_files)
{
	char fifo[64], *p = NULL;
	size_t len;

	cr_assert_eq(eccr_read_file("/tmp", 1 << 20, &p, &len), EISDIR);
	cr_assert_neq(eccr_read_file("/dev/null", 1 << 20, &p, &len), 0);
	/* A FIFO with no writer must not hang the caller. */
	snprintf(fifo, sizeof fifo, "/tmp/eccr-test-fifo-%ld", (long)getpid());
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	cr_assert_eq(eccr_read_file(fifo, 1 << 20, &p, &len), EINVAL);
	unlink(fifo);
	cr_assert_null(p);
}

/* ------------------------------------------------------------ problem documents (http.c) */

#include "http.h"

static int count_in(const struct eccr_buf *b, const char *needle)
{
	int n = 0;
	char *copy = strndup(b->p ? b->p : "", b->len);

	for (const char *p = copy; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(copy);
	return n;
}

Test(problem, every_503_says_when_to_come_back)
{
	struct eccr_req r = { 0 };

	eccr_problem(&r, 503, "unavailable", "the store is down");
	cr_assert_eq(r.status, 503);
	cr_assert_eq(count_in(&r.headers, "Retry-After: 5\r\n"), 1);
	cr_assert_eq(count_in(&r.out, "\"code\":\"unavailable\""), 1);
	eccr_buf_free(&r.headers);
	eccr_buf_free(&r.out);

	/* A handler that knows better keeps its own value, and only it. */
	memset(&r, 0, sizeof r);
	eccr_resp_header(&r, "ETag", "\"3\"");
	eccr_resp_header(&r, "retry-after", "30");
	eccr_problem(&r, 503, "unavailable", "busy");
	cr_assert_eq(count_in(&r.headers, "Retry-After"), 0);
	cr_assert_eq(count_in(&r.headers, "retry-after: 30\r\n"), 1);
	eccr_buf_free(&r.headers);
	eccr_buf_free(&r.out);

	/* Other statuses get none. */
	memset(&r, 0, sizeof r);
	eccr_problem(&r, 500, "internal", "oops");
	cr_assert_eq(count_in(&r.headers, "Retry-After"), 0);
	eccr_buf_free(&r.headers);
	eccr_buf_free(&r.out);
}
