/* Unit tests: plugins/notify-email/message.c (the pure parts of the
 * e-mail sink: header encoding, Message-ID, dates, subject templates). */
#include <criterion/criterion.h>
#include <string.h>

#include "message.h"

static char *render(const char *tmpl, const struct ne_vars *v, size_t max)
{
	static struct ne_buf b;

	ne_buf_free(&b);
	ne_render(&b, tmpl, v, max);
	return b.p ? b.p : "";
}

Test(sanitize, turns_every_control_into_a_space)
{
	char s[] = "Evil\r\nBcc: victim@example.org\tx\x7f";

	ne_sanitize(s);
	cr_assert_str_eq(s, "Evil  Bcc: victim@example.org x ");
	cr_assert_null(strchr(s, '\r'));
}

/* A name over the limit loses whole characters only: 67 CJK characters
 * are 201 bytes, one more than a 200-byte field holds. */
Test(names, a_long_name_is_cut_between_characters)
{
	char src[256] = "", dst[201], small[4];

	for (int i = 0; i < 67; i++)
		strcat(src, "\xe4\xb8\xad");             /* U+4E2D */
	ne_copy_utf8(dst, sizeof dst, src);
	cr_assert_eq(strlen(dst), 198);
	cr_assert_eq(memcmp(dst, src, 198), 0);
	ne_copy_utf8(dst, sizeof dst, "Zo\xc3\xab");     /* fits: unchanged */
	cr_assert_str_eq(dst, "Zo\xc3\xab");
	ne_copy_utf8(small, sizeof small, "ab\xc3\xab");  /* 4 bytes into 3 */
	cr_assert_str_eq(small, "ab");
	ne_copy_utf8(small, sizeof small, "\xf0\x9f\x8e\x99x");  /* one 4-byte character */
	cr_assert_str_eq(small, "");
}

Test(address, plain_addresses_only)
{
	cr_assert(ne_address_valid("bob@example.org"));
	cr_assert(ne_address_valid("a.b+tag@sub.example.org"));
	cr_assert_not(ne_address_valid(""));
	cr_assert_not(ne_address_valid("bob"));
	cr_assert_not(ne_address_valid("@example.org"));
	cr_assert_not(ne_address_valid("bob@"));
	cr_assert_not(ne_address_valid("bob@a@b"));
	cr_assert_not(ne_address_valid("bob@example.org\r\nRCPT TO:<x@y>"));
	cr_assert_not(ne_address_valid("bob smith@example.org"));
	cr_assert_not(ne_address_valid("<bob@example.org>"));
	cr_assert_not(ne_address_valid("b\xc3\xb6@example.org"));
}

Test(header, ascii_subject_is_kept_as_is)
{
	struct ne_buf b = { 0 };

	ne_header_text(&b, "[ECCR] New episode: Pilot");
	cr_assert_str_eq(b.p, "[ECCR] New episode: Pilot");
	ne_buf_free(&b);
}

Test(header, non_ascii_subject_is_an_encoded_word)
{
	struct ne_buf b = { 0 };

	ne_header_text(&b, "Episode: Café");
	/* base64("Episode: Café") */
	cr_assert_str_eq(b.p, "=?UTF-8?B?RXBpc29kZTogQ2Fmw6k=?=");
	ne_buf_free(&b);
}

Test(header, long_text_folds_into_words_of_75_and_never_splits_a_character)
{
	struct ne_buf b = { 0 };
	char s[400] = "";

	for (int i = 0; i < 60; i++)
		strcat(s, "é");          /* 2 bytes each: 120 bytes */
	ne_encode_words(&b, s);
	/* 45 bytes per word would cut a character: 44 + 44 + 32 */
	char *p = b.p, *word;
	int words = 0;

	while ((word = strsep(&p, "\r")) != NULL) {
		if (*word == '\n')
			word += 2;             /* "\n " of the fold */
		cr_assert_leq(strlen(word), 75, "word too long: %s", word);
		cr_assert_eq(strncmp(word, "=?UTF-8?B?", 10), 0);
		words++;
	}
	cr_assert_eq(words, 3);
	ne_buf_free(&b);
}

Test(mailbox, ascii_name_is_quoted_and_escaped)
{
	struct ne_buf b = { 0 };

	ne_mailbox(&b, "Bob \"the\" O\\Neil", "bob@example.org");
	cr_assert_str_eq(b.p, "\"Bob \\\"the\\\" O\\\\Neil\" <bob@example.org>");
	ne_buf_free(&b);
}

Test(mailbox, non_ascii_name_is_encoded_and_address_stays_plain)
{
	struct ne_buf b = { 0 };

	ne_mailbox(&b, "Zoë", "zoe@example.org");
	cr_assert_str_eq(b.p, "=?UTF-8?B?Wm/Dqw==?= <zoe@example.org>");
	ne_buf_free(&b);
}

Test(mailbox, no_name_is_the_bare_address)
{
	struct ne_buf b = { 0 };

	ne_mailbox(&b, "", "a@b.c");
	cr_assert_str_eq(b.p, "<a@b.c>");
	ne_buf_free(&b);
}

Test(message_id, same_for_a_retry_different_per_recipient_and_event)
{
	char a[256], b[256], c[256], d[256];

	cr_assert(ne_message_id(a, sizeof a, "1042", "bob", "example.org"));
	cr_assert(ne_message_id(b, sizeof b, "1042", "bob", "example.org"));
	cr_assert(ne_message_id(c, sizeof c, "1042", "carol", "example.org"));
	cr_assert(ne_message_id(d, sizeof d, "1043", "bob", "example.org"));
	cr_assert_str_eq(a, b);
	cr_assert_str_neq(a, c);
	cr_assert_str_neq(a, d);
	cr_assert_eq(strncmp(a, "<eccr.1042.", 11), 0);
	cr_assert_eq(strlen(a), strlen("<eccr.1042.") + 32 + strlen("@example.org>"));
	/* the user id never appears as such: it may hold anything */
	cr_assert(ne_message_id(c, sizeof c, "7", "x>\r\nBcc: y", "example.org"));
	cr_assert_null(strpbrk(c, "\r\n "));
	cr_assert_not(ne_message_id(c, sizeof c, "12a", "bob", "example.org"));
	cr_assert_not(ne_message_id(c, 20, "1042", "bob", "example.org"));
}

Test(date, rfc3339_becomes_rfc5322)
{
	char out[64];

	cr_assert(ne_date("2026-11-25T10:33:37.123Z", out, sizeof out));
	cr_assert_str_eq(out, "Wed, 25 Nov 2026 10:33:37 +0000");
	cr_assert(ne_date("2024-02-29T00:00:00Z", out, sizeof out));
	cr_assert_str_eq(out, "Thu, 29 Feb 2024 00:00:00 +0000");
	cr_assert_not(ne_date("2026-11-25 10:33:37", out, sizeof out));
	cr_assert_not(ne_date("2026-11-25T10:33:37+02:00", out, sizeof out));
	cr_assert_not(ne_date("yesterday", out, sizeof out));
}

Test(template, placeholders_are_replaced)
{
	struct ne_vars v = { "Episode created: Pilot", "Pilot", "Pilot", "Alice", "episode_created" };

	cr_assert_str_eq(render("[ECCR] {type} of {name} by {actor}", &v, 250),
	    "[ECCR] episode_created of Pilot by Alice");
	cr_assert_str_eq(render("{title}", &v, 250), "Episode created: Pilot");
	cr_assert_str_eq(render("no placeholders", &v, 250), "no placeholders");
}

Test(template, missing_values_are_empty_and_unknown_names_are_refused)
{
	struct ne_vars v = { "t", NULL, NULL, "a", "x" };

	cr_assert_str_eq(render("[{episode}] {name}!", &v, 250), "[] !");
	cr_assert_null(ne_template_check("{title} {name} {episode} {actor} {type}"));
	cr_assert_not_null(ne_template_check("{title} {bogus}"));
	cr_assert_str_eq(ne_template_check("a {nam"), "{nam");
}

Test(template, values_cannot_inject_headers_and_length_is_bounded)
{
	struct ne_vars v = { "x\r\nBcc: evil@example.org", NULL, NULL, NULL, NULL };
	char *s = render("{title}", &v, 250);

	cr_assert_null(strpbrk(s, "\r\n"));
	v.title = "ééééé";              /* 10 bytes */
	cr_assert_str_eq(render("{title}", &v, 5), "éé");
}

Test(wrap, long_text_is_wrapped_at_spaces_with_crlf)
{
	struct ne_buf b = { 0 };

	ne_wrap(&b, "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj", 20);
	cr_assert_str_eq(b.p, "aaaa bbbb cccc dddd\r\neeee ffff gggg hhhh\r\niiii jjjj\r\n");
	ne_buf_free(&b);
	ne_wrap(&b, "line\rwith\ncontrols", 76);
	cr_assert_str_eq(b.p, "line with controls\r\n");
	ne_buf_free(&b);
}
