/* message.h - the pure parts of notify-email: building one RFC 5322
 * message from plain values.  No I/O, no globals: unit-tested on its own
 * (tests/unit/test_notify_email.c).
 *
 * Every text that reaches a header goes through ne_sanitize first, so a
 * CR or LF in a user's name or an episode's title can never start a header
 * of its own. */
#ifndef NOTIFY_EMAIL_MESSAGE_H
#define NOTIFY_EMAIL_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>

/* A growing string; on allocation failure oom is set and further appends
 * do nothing. */
struct ne_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void ne_buf_add(struct ne_buf *b, const char *s, size_t n);
void ne_buf_adds(struct ne_buf *b, const char *s);
void ne_buf_free(struct ne_buf *b);

/* Replace C0 controls (CR and LF included) and DEL by spaces, in place. */
void ne_sanitize(char *s);

/* Cut s in place to at most max bytes, at a UTF-8 character boundary. */
void ne_truncate_utf8(char *s, size_t max);

/* Copy as much of src into dst (dstsize bytes, NUL included) as fits
 * whole UTF-8 characters: never half a character, as snprintf would cut. */
void ne_copy_utf8(char *dst, size_t dstsize, const char *src);

/* A plain address local@domain: printable ASCII, no spaces or <>()[],;:\",
 * exactly one '@', at most 254 bytes.  Anything else is refused rather
 * than passed to SMTP. */
bool ne_address_valid(const char *addr);

/* Append s as RFC 2047 encoded-words (UTF-8, base64), each at most 75
 * characters, separated by folding whitespace (CRLF SP). */
void ne_encode_words(struct ne_buf *b, const char *s);

/* Append an unstructured header value (Subject): as is when it is ASCII,
 * else encoded.  s must be sanitized. */
void ne_header_text(struct ne_buf *b, const char *s);

/* Append a mailbox: addr alone, "Name" <addr> (quoted-string) when the
 * name is ASCII, or =?UTF-8?B?...?= <addr> when it is not.  name must be
 * sanitized; NULL or "" means no display name. */
void ne_mailbox(struct ne_buf *b, const char *name, const char *addr);

/* "<eccr.EVENT.HASH@DOMAIN>": the same for every attempt to deliver one
 * event to one recipient, different for two recipients.  domain is the
 * part after '@' of the sender.  Returns false if it does not fit. */
bool ne_message_id(char *out, size_t outlen, const char *event_id,
    const char *recipient, const char *domain);

/* RFC 5322 date ("Wed, 25 Nov 2026 10:33:37 +0000") of an RFC 3339 UTC
 * timestamp ("2026-11-25T10:33:37.123Z").  false when malformed. */
bool ne_date(const char *rfc3339, char *out, size_t outlen);

/* Template variables: {title} {name} {episode} {actor} {type}. */
struct ne_vars {
	const char *title, *name, *episode, *actor, *type;
};

/* NULL when every {placeholder} of tmpl is known, else the first unknown
 * one's position (for an error message at start-up). */
const char *ne_template_check(const char *tmpl);

/* Render tmpl; unknown or NULL values render empty.  The result is
 * sanitized and cut to max bytes (at a character boundary). */
void ne_render(struct ne_buf *b, const char *tmpl, const struct ne_vars *v, size_t max);

/* Append text wrapped at about width columns (lines never longer than
 * 998 bytes), with CRLF line ends; controls become spaces. */
void ne_wrap(struct ne_buf *b, const char *text, size_t width);

#endif
