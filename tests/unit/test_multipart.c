/* Unit tests: src/lib/multipart.c (streaming multipart/form-data). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "multipart.h"
#include "util.h"

struct collected {
	int begins, ends;
	char names[4][256];
	char filenames[4][256];
	char types[4][128];
	struct eccr_buf data[4];
	int stop_after_begin;
};

static int collect(void *user, enum eccr_mp_event ev, const struct eccr_mp_part *part,
    const char *data, size_t n)
{
	struct collected *c = user;

	switch (ev) {
	case ECCR_MP_PART_BEGIN:
		if (c->begins >= 4)
			return 1;
		snprintf(c->names[c->begins], 256, "%s", part->name);
		snprintf(c->filenames[c->begins], 256, "%s", part->filename);
		snprintf(c->types[c->begins], 128, "%s", part->content_type);
		c->begins++;
		return c->stop_after_begin;
	case ECCR_MP_DATA:
		eccr_buf_add(&c->data[c->begins - 1], data, n);
		return 0;
	case ECCR_MP_PART_END:
		c->ends++;
		return 0;
	}
	return 1;
}

static int count_parts(void *user, enum eccr_mp_event ev, const struct eccr_mp_part *part,
    const char *data, size_t n)
{
	if (ev == ECCR_MP_PART_BEGIN)
		(*(int *)user)++;
	return 0;
}

static void reset(struct collected *c)
{
	for (int i = 0; i < 4; i++)
		eccr_buf_free(&c->data[i]);
	memset(c, 0, sizeof *c);
}

static const char body[] =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "hello\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a b.mp3\"\r\n"
    "Content-Type: audio/mpeg\r\n"
    "\r\n"
    "\r\n--XyQ data with \r\n--Xy almost-delimiters \r\r\n\r\n--X and binary \0\1\2 end\r\n"
    "--XyZ--\r\n"
    "epilogue to ignore";
static const char file_data[] =
    "\r\n--XyQ data with \r\n--Xy almost-delimiters \r\r\n\r\n--X and binary \0\1\2 end";

static void check_parsed(struct collected *c)
{
	cr_assert_eq(c->begins, 2);
	cr_assert_eq(c->ends, 2);
	cr_assert_str_eq(c->names[0], "title");
	cr_assert_str_eq(c->filenames[0], "");
	cr_assert_eq(c->data[0].len, 5);
	cr_assert_eq(memcmp(c->data[0].p, "hello", 5), 0);
	cr_assert_str_eq(c->names[1], "file");
	cr_assert_str_eq(c->filenames[1], "a b.mp3");
	cr_assert_str_eq(c->types[1], "audio/mpeg");
	cr_assert_eq(c->data[1].len, sizeof file_data - 1, "got %zu bytes", c->data[1].len);
	cr_assert_eq(memcmp(c->data[1].p, file_data, sizeof file_data - 1), 0);
}

Test(multipart, whole_body)
{
	struct eccr_multipart mp;
	struct collected c = { 0 };

	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=XyZ", collect, &c), 0);
	cr_assert_eq(eccr_multipart_feed(&mp, body, sizeof body - 1), 0, "%s", mp.error);
	cr_assert_eq(eccr_multipart_finish(&mp), 0);
	check_parsed(&c);
	reset(&c);
}

Test(multipart, every_split_point_and_byte_by_byte)
{
	struct eccr_multipart mp;
	struct collected c = { 0 };
	size_t split, i;

	for (split = 0; split <= sizeof body - 1; split++) {
		cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=\"XyZ\"", collect, &c), 0);
		cr_assert_eq(eccr_multipart_feed(&mp, body, split), 0);
		cr_assert_eq(eccr_multipart_feed(&mp, body + split, sizeof body - 1 - split), 0);
		cr_assert_eq(eccr_multipart_finish(&mp), 0, "split %zu", split);
		check_parsed(&c);
		reset(&c);
	}
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data;boundary=XyZ", collect, &c), 0);
	for (i = 0; i < sizeof body - 1; i++)
		cr_assert_eq(eccr_multipart_feed(&mp, body + i, 1), 0);
	cr_assert_eq(eccr_multipart_finish(&mp), 0);
	check_parsed(&c);
	reset(&c);
}

Test(multipart, large_part_is_streamed)
{
	struct eccr_multipart mp;
	struct collected c = { 0 };
	static char big[300000];
	char head[] = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n";

	memset(big, 'q', sizeof big);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=b", collect, &c), 0);
	cr_assert_eq(eccr_multipart_feed(&mp, head, sizeof head - 1), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(eccr_multipart_feed(&mp, big, sizeof big), 0);
	cr_assert_eq(eccr_multipart_feed(&mp, "\r\n--b--", 7), 0);
	cr_assert_eq(eccr_multipart_finish(&mp), 0);
	cr_assert_eq(c.data[0].len, 10 * sizeof big);
	reset(&c);
}

Test(multipart, malformed_bodies)
{
	static const char *const bad[] = {
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end",
		"no delimiter at all",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--XyZ!!",
		"--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--XyZ--",
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n",
	};
	struct eccr_multipart mp;
	struct collected c = { 0 };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=XyZ", collect, &c), 0);
		int fed = eccr_multipart_feed(&mp, bad[i], strlen(bad[i]));
		cr_assert(fed != 0 || eccr_multipart_finish(&mp) != 0, "case %zu accepted", i);
		cr_assert_not_null(mp.error, "case %zu", i);
		reset(&c);
	}
}

Test(multipart, limits)
{
	struct eccr_multipart mp;
	struct collected c = { 0 };
	struct eccr_buf b = { 0 };
	int i;

	eccr_buf_adds(&b, "--B\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Long: ");
	for (i = 0; i < 9000; i++)
		eccr_buf_addc(&b, 'h');
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=B", collect, &c), 0);
	cr_assert_eq(eccr_multipart_feed(&mp, b.p, b.len), -1);
	cr_assert_str_eq(mp.error, "a part's headers are too long");
	reset(&c);

	eccr_buf_reset(&b);
	for (i = 0; i < ECCR_MP_PARTS_MAX + 1; i++)
		eccr_buf_adds(&b, "--B\r\n\r\nx\r\n");
	int counted = 0;
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=B", count_parts, &counted), 0);
	cr_assert_eq(eccr_multipart_feed(&mp, b.p, b.len), -1);
	cr_assert_str_eq(mp.error, "too many parts");
	cr_assert_eq(counted, ECCR_MP_PARTS_MAX);
	eccr_buf_free(&b);

	/* The callback can stop the parse. */
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=XyZ", collect, &c), 0);
	c.stop_after_begin = 1;
	cr_assert_eq(eccr_multipart_feed(&mp, body, sizeof body - 1), -1);
	reset(&c);
}

Test(multipart, boundary_parameter)
{
	struct eccr_multipart mp;
	struct collected c = { 0 };
	char long_b[200];

	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; charset=x; boundary=abc", collect, &c), 0);
	cr_assert_eq(eccr_multipart_init(&mp, "Multipart/Form-Data; boundary=\"a b:c\"", collect, &c), 0);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=\"open", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/form-data; boundary=a<b", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, "multipart/mixed; boundary=abc", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, "application/json", collect, &c), -1);
	cr_assert_eq(eccr_multipart_init(&mp, NULL, collect, &c), -1);
	memset(long_b, 'a', 71);
	long_b[71] = '\0';
	char ct[256];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", long_b);
	cr_assert_eq(eccr_multipart_init(&mp, ct, collect, &c), -1);
	long_b[70] = '\0';
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", long_b);
	cr_assert_eq(eccr_multipart_init(&mp, ct, collect, &c), 0);
}
