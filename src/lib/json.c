/* json.c - strict JSON input on json-c and the shared field validators.
 *
 * json-c 0.16 is lenient even with JSON_TOKENER_STRICT: it accepts
 * single-quoted strings, NaN and Infinity, "1.", raw control characters in
 * strings, overlong UTF-8 and surrogates, replaces unpaired \uD800 escapes
 * with U+FFFD and cuts object keys at \u0000.  So a linear lexical pass
 * (lex_check) checks the text against RFC 8259's tokens first, and json-c
 * only builds the tree and checks the structure and nesting depth. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* json-c's depth also counts a scalar inside the innermost container:
 * with depth 32 it takes 32 nested empty arrays but not 32 around a
 * number.  lex_check counts containers itself, exactly; json-c gets one
 * level more for the scalar, as a backstop. */
#define TOKENER_DEPTH (ECCR_JSON_MAX_DEPTH + 1)

struct lex_err {
	enum eccr_json_err err;
	size_t at;
	const char *what;
};

static bool lex_fail(struct lex_err *e, enum eccr_json_err err, size_t at,
    const char *what)
{
	e->err = err;
	e->at = at;
	e->what = what;
	return false;
}

/* Offset of the first byte that doesn't belong to strict UTF-8, or len.
 * Each sequence is checked on its own by eccr_utf8_len, so this is linear
 * and shares its definition of valid. */
static size_t utf8_bad_at(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		if (n > len - i || eccr_utf8_len(s + i, n) != 1)
			return i;
		i += n;
	}
	return len;
}

static int hex4(const char *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* A \u escape at s[*i] (the backslash); *i is left on its last digit.
 * Surrogates must come in high-low pairs: json-c would silently turn a
 * lone one into U+FFFD. */
static bool lex_unicode(const char *s, size_t len, size_t *i, struct lex_err *e)
{
	size_t at = *i;
	int v, lo;

	if (len - at < 6 || (v = hex4(s + at + 2)) < 0)
		return lex_fail(e, ECCR_JSON_SYNTAX, at, "invalid \\u escape");
	*i = at + 5;
	if (v == 0)
		return lex_fail(e, ECCR_JSON_NUL, at, "string holds U+0000");
	if (v >= 0xdc00 && v <= 0xdfff)
		return lex_fail(e, ECCR_JSON_BAD_UTF8, at, "unpaired surrogate escape");
	if (v < 0xd800 || v > 0xdbff)
		return true;
	if (len - *i < 7 || s[*i + 1] != '\\' || s[*i + 2] != 'u' ||
	    (lo = hex4(s + *i + 3)) < 0xdc00 || lo > 0xdfff)
		return lex_fail(e, ECCR_JSON_BAD_UTF8, at, "unpaired surrogate escape");
	*i += 6;
	return true;
}

/* A string starting at the quote s[*i]; *i is left on the closing quote. */
static bool lex_string(const char *s, size_t len, size_t *i, struct lex_err *e)
{
	size_t k;

	for (k = *i + 1; k < len; k++) {
		unsigned char c = (unsigned char)s[k];

		if (c == '"') {
			*i = k;
			return true;
		}
		if (c < 0x20)
			return lex_fail(e, ECCR_JSON_SYNTAX, k, "control character in a string");
		if (c != '\\')
			continue;
		if (k + 1 >= len)
			break;
		if (s[k + 1] == 'u') {
			if (!lex_unicode(s, len, &k, e))
				return false;
		} else if (strchr("\"\\/bfnrt", s[k + 1]) == NULL || s[k + 1] == '\0') {
			return lex_fail(e, ECCR_JSON_SYNTAX, k, "invalid escape");
		} else {
			k++;
		}
	}
	return lex_fail(e, ECCR_JSON_SYNTAX, *i, "unterminated string");
}

static size_t skip_digits(const char *s, size_t len, size_t k)
{
	while (k < len && s[k] >= '0' && s[k] <= '9')
		k++;
	return k;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[*i]; *i is left on
 * the last character. */
static bool lex_number(const char *s, size_t len, size_t *i, struct lex_err *e)
{
	size_t k = *i, d;

	if (s[k] == '-')
		k++;
	if (k < len && s[k] == '0')
		k++;
	else if ((d = skip_digits(s, len, k)) > k)
		k = d;
	else
		return lex_fail(e, ECCR_JSON_SYNTAX, *i, "invalid number");
	if (k < len && s[k] == '.') {
		if ((d = skip_digits(s, len, k + 1)) == k + 1)
			return lex_fail(e, ECCR_JSON_SYNTAX, *i, "invalid number");
		k = d;
	}
	if (k < len && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < len && (s[k] == '+' || s[k] == '-'))
			k++;
		if ((d = skip_digits(s, len, k)) == k)
			return lex_fail(e, ECCR_JSON_SYNTAX, *i, "invalid number");
		k = d;
	}
	/* "01" or "1.5.2": a number runs straight into another. */
	if (k < len && strchr("0123456789.eE+-", s[k]) != NULL && s[k] != '\0')
		return lex_fail(e, ECCR_JSON_SYNTAX, *i, "invalid number");
	*i = k - 1;
	return true;
}

/* true, false or null at s[*i]; anything else made of letters (NaN,
 * Infinity, nul) is not JSON. */
static bool lex_word(const char *s, size_t len, size_t *i, struct lex_err *e)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t k = *i, n, w;

	while (k < len && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z')))
		k++;
	n = k - *i;
	for (w = 0; w < sizeof words / sizeof words[0]; w++) {
		if (strlen(words[w]) == n && memcmp(words[w], s + *i, n) == 0) {
			*i = k - 1;
			return true;
		}
	}
	return lex_fail(e, ECCR_JSON_SYNTAX, *i, "unexpected character");
}

/* Every token of text must be a JSON token, and containers may nest
 * ECCR_JSON_MAX_DEPTH deep; the grammar is json-c's job. */
static bool lex_check(const char *s, size_t len, struct lex_err *e)
{
	size_t i, depth = 0;
	bool ok = true;

	if ((i = utf8_bad_at(s, len)) < len)
		return lex_fail(e, ECCR_JSON_BAD_UTF8, i, "invalid UTF-8");
	for (i = 0; ok && i < len; i++) {
		char c = s[i];

		if (c == '[' || c == '{') {
			if (++depth > ECCR_JSON_MAX_DEPTH)
				ok = lex_fail(e, ECCR_JSON_TOO_DEEP, i, "nesting too deep");
		} else if (c == ']' || c == '}') {
			depth -= depth > 0;  /* unbalanced: json-c says so */
		} else if (c == '"') {
			ok = lex_string(s, len, &i, e);
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			ok = lex_number(s, len, &i, e);
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			ok = lex_word(s, len, &i, e);
		} else if (c == '\0' || strchr(" \t\n\r,:", c) == NULL) {
			ok = lex_fail(e, ECCR_JSON_SYNTAX, i, "unexpected character");
		}
	}
	return ok;
}

/* Strings holding U+0000 would be cut short by every C consumer and by
 * PostgreSQL's text type.  lex_check already refuses \u0000; this walk
 * keeps that promise should json-c ever produce one some other way. */
static bool has_nul(json_object *o, int depth)
{
	if (depth > ECCR_JSON_MAX_DEPTH + 1)
		return false;
	switch (json_object_get_type(o)) {
	case json_type_string:
		return strlen(json_object_get_string(o)) !=
		    (size_t)json_object_get_string_len(o);
	case json_type_array: {
		size_t i, n = json_object_array_length(o);

		for (i = 0; i < n; i++)
			if (has_nul(json_object_array_get_idx(o, i), depth + 1))
				return true;
		return false;
	}
	case json_type_object: {
		json_object_object_foreach(o, key, val) {
			(void)key;
			if (has_nul(val, depth + 1))
				return true;
		}
		return false;
	}
	default:
		return false;
	}
}

static bool only_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

static enum eccr_json_err tokener_err(enum json_tokener_error jerr, size_t at,
    size_t len, char *detail, size_t detaillen)
{
	switch (jerr) {
	case json_tokener_error_depth:
		snprintf(detail, detaillen, "nesting deeper than %d levels at byte %zu",
		    ECCR_JSON_MAX_DEPTH, at);
		return ECCR_JSON_TOO_DEEP;
	case json_tokener_error_parse_utf8_string:
		snprintf(detail, detaillen, "invalid UTF-8 at byte %zu", at);
		return ECCR_JSON_BAD_UTF8;
	case json_tokener_continue:
	case json_tokener_error_parse_eof:
		snprintf(detail, detaillen, "unexpected end of the text at byte %zu", len);
		return ECCR_JSON_SYNTAX;
	default:
		snprintf(detail, detaillen, "%s at byte %zu", json_tokener_error_desc(jerr), at);
		return ECCR_JSON_SYNTAX;
	}
}

/* Run json-c over text already known to be made of JSON tokens. */
static enum eccr_json_err tokenize(const char *text, size_t len,
    json_object **out, char *detail, size_t detaillen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	enum eccr_json_err err = ECCR_JSON_OK;
	json_object *o;
	size_t end;

	if ((tok = json_tokener_new_ex(TOKENER_DEPTH)) == NULL) {
		snprintf(detail, detaillen, "out of memory");
		return ECCR_JSON_NOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/* A bare number or word at the very end can't know it has ended;
	 * the NUL tells json-c there is no more input. */
	if (jerr == json_tokener_continue && end == len) {
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success)
		err = tokener_err(jerr, end, len, detail, detaillen);
	else if (end < len && !only_space(text + end, len - end)) {
		snprintf(detail, detaillen, "unexpected data after the value at byte %zu", end);
		err = ECCR_JSON_SYNTAX;
	}
	if (err != ECCR_JSON_OK) {
		json_object_put(o);
		return err;
	}
	*out = o;
	return ECCR_JSON_OK;
}

enum eccr_json_err eccr_json_parse(const char *text, size_t len,
    json_object **out, char *detail, size_t detaillen)
{
	struct lex_err e;
	enum eccr_json_err err;

	*out = NULL;
	if (detaillen > 0)
		detail[0] = '\0';
	if (len > INT32_MAX - 1) {  /* json-c takes an int length */
		snprintf(detail, detaillen, "the text is too large");
		return ECCR_JSON_SYNTAX;
	}
	if (!lex_check(text, len, &e)) {
		snprintf(detail, detaillen, "%s at byte %zu", e.what, e.at);
		return e.err;
	}
	if ((err = tokenize(text, len, out, detail, detaillen)) != ECCR_JSON_OK)
		return err;
	if (has_nul(*out, 1)) {
		json_object_put(*out);
		*out = NULL;
		snprintf(detail, detaillen, "a string holds U+0000");
		return ECCR_JSON_NUL;
	}
	return ECCR_JSON_OK;
}

/* snprintf may cut a multi-byte character in half, and the result goes
 * into a JSON response: drop a trailing incomplete sequence. */
static void trim_utf8_tail(char *s)
{
	size_t n = strlen(s), k, need;

	for (k = n; k > 0 && n - k < 4; k--) {
		unsigned char c = (unsigned char)s[k - 1];

		if ((c & 0xc0) == 0x80)
			continue;
		need = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (n - (k - 1) < need)
			s[k - 1] = '\0';
		return;
	}
}

void eccr_valid_add(struct eccr_valid *v, const char *field, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (v->n >= ECCR_VALID_MAX)
		return;
	n = snprintf(v->e[v->n].field, sizeof v->e[0].field, "%s", field ? field : "");
	if (n < 0 || (size_t)n >= sizeof v->e[0].field)
		trim_utf8_tail(v->e[v->n].field);
	va_start(ap, fmt);
	n = vsnprintf(v->e[v->n].message, sizeof v->e[0].message, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof v->e[0].message)
		trim_utf8_tail(v->e[v->n].message);
	v->n++;
}

/* Control characters never belong in text a person wrote; multi-line
 * fields (allow_control) still take tab and line breaks. */
static bool bad_control(const char *s, size_t n, bool allow_breaks)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		if (allow_breaks && (c == '\t' || c == '\n' || c == '\r'))
			continue;
		return true;
	}
	return false;
}

bool eccr_json_get_string(struct eccr_valid *v, const char *field,
    json_object *o, size_t min_chars, size_t max_chars, bool allow_control,
    const char **out, size_t *outlen)
{
	const char *s;
	size_t n;
	long chars;

	if (!json_object_is_type(o, json_type_string)) {
		eccr_valid_add(v, field, "must be a string");
		return false;
	}
	s = json_object_get_string(o);
	n = (size_t)json_object_get_string_len(o);
	/* eccr_json_parse guarantees this; objects built elsewhere don't. */
	if ((chars = eccr_utf8_len(s, n)) < 0 || memchr(s, '\0', n) != NULL) {
		eccr_valid_add(v, field, "must be valid UTF-8 text");
		return false;
	}
	if ((size_t)chars < min_chars || (size_t)chars > max_chars) {
		if (min_chars > 0)
			eccr_valid_add(v, field, "must be %zu to %zu characters", min_chars, max_chars);
		else
			eccr_valid_add(v, field, "must be at most %zu characters", max_chars);
		return false;
	}
	if (bad_control(s, n, allow_control)) {
		eccr_valid_add(v, field, "must not contain control characters");
		return false;
	}
	*out = s;
	if (outlen != NULL)
		*outlen = n;
	return true;
}

bool eccr_json_get_uint(struct eccr_valid *v, const char *field,
    json_object *o, int64_t max, int64_t *out)
{
	int64_t n;

	/* json-c saturates integers beyond int64 at INT64_MAX (and keeps
	 * those up to UINT64_MAX as uint64, read back as INT64_MAX by
	 * get_int64), so anything too large lands above max here. */
	if (!json_object_is_type(o, json_type_int) ||
	    (n = json_object_get_int64(o)) < 0 || n > max) {
		eccr_valid_add(v, field, "must be an integer from 0 to %lld", (long long)max);
		return false;
	}
	*out = n;
	return true;
}

bool eccr_json_only_fields(struct eccr_valid *v, json_object *obj,
    const char *const *allowed)
{
	bool ok = true;

	if (!json_object_is_type(obj, json_type_object))
		return true;
	json_object_object_foreach(obj, key, val) {
		const char *const *a;

		(void)val;
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a == NULL) {
			eccr_valid_add(v, key, "unknown field");
			ok = false;
		}
	}
	return ok;
}
