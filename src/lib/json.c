/* json.c - strict JSON input on json-c and the shared field validators. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* json-c's depth is the number of nesting levels it accepts (checked in
 * tests/unit/test_json.c: 32 nested arrays pass, 33 fail). */
#define TOKENER_DEPTH ECCR_JSON_MAX_DEPTH

/* json-c 0.16 in strict mode still accepts single-quoted strings, and its
 * UTF-8 check lets overlong forms and surrogates through.  One linear pass
 * closes both: the text must be strict UTF-8, and outside double-quoted
 * strings only the characters of JSON's grammar may appear (that also
 * refuses NaN, Infinity and comments before json-c sees them). */
static enum eccr_json_err prescan(const char *text, size_t len, size_t *at)
{
	bool in_string = false;
	size_t i;

	if (eccr_utf8_len(text, len) < 0) {
		*at = 0;
		return ECCR_JSON_BAD_UTF8;
	}
	for (i = 0; i < len; i++) {
		char c = text[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
			continue;
		}
		if (strchr(" \t\n\r{}[],:0123456789+-.eEtrufalsn", c) == NULL || c == '\0') {
			*at = i;
			return ECCR_JSON_SYNTAX;
		}
	}
	return ECCR_JSON_OK;
}

/* Strings holding U+0000 would be cut short by every C consumer and by
 * PostgreSQL's text type, so they are refused outright. */
static bool has_nul(json_object *o, int depth)
{
	if (depth > ECCR_JSON_MAX_DEPTH + 1)
		return false;
	switch (json_object_get_type(o)) {
	case json_type_string:
		return strlen(json_object_get_string(o)) != (size_t)json_object_get_string_len(o);
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

enum eccr_json_err eccr_json_parse(const char *text, size_t len,
    json_object **out, char *detail, size_t detaillen)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *o;
	size_t end;

	*out = NULL;
	if (len > INT32_MAX || memchr(text, '\0', len) != NULL) {
		snprintf(detail, detaillen, "the body is not valid JSON");
		return ECCR_JSON_SYNTAX;
	}
	switch (prescan(text, len, &end)) {
	case ECCR_JSON_BAD_UTF8:
		snprintf(detail, detaillen, "the body is not valid UTF-8");
		return ECCR_JSON_BAD_UTF8;
	case ECCR_JSON_SYNTAX:
		snprintf(detail, detaillen, "invalid JSON: unexpected character at byte %zu", end);
		return ECCR_JSON_SYNTAX;
	default:
		break;
	}
	if ((tok = json_tokener_new_ex(TOKENER_DEPTH)) == NULL)
		return ECCR_JSON_NOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8 |
	    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o == NULL || jerr != json_tokener_success) {
		json_object_put(o);
		if (jerr == json_tokener_error_depth) {
			snprintf(detail, detaillen, "JSON nesting is deeper than %d levels",
			    ECCR_JSON_MAX_DEPTH);
			return ECCR_JSON_TOO_DEEP;
		}
		if (jerr == json_tokener_error_parse_utf8_string) {
			snprintf(detail, detaillen, "the body is not valid UTF-8 (near byte %zu)", end);
			return ECCR_JSON_BAD_UTF8;
		}
		if (jerr == json_tokener_continue)
			snprintf(detail, detaillen, "the JSON text ends too early");
		else
			snprintf(detail, detaillen, "invalid JSON at byte %zu: %s", end,
			    json_tokener_error_desc(jerr));
		return ECCR_JSON_SYNTAX;
	}
	if (!only_space(text + end, len - end)) {
		json_object_put(o);
		snprintf(detail, detaillen, "unexpected data after the JSON value at byte %zu", end);
		return ECCR_JSON_SYNTAX;
	}
	if (has_nul(o, 1)) {
		json_object_put(o);
		snprintf(detail, detaillen, "strings must not contain U+0000");
		return ECCR_JSON_NUL;
	}
	*out = o;
	return ECCR_JSON_OK;
}

void eccr_valid_add(struct eccr_valid *v, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (v->n >= ECCR_VALID_MAX)
		return;
	snprintf(v->e[v->n].field, sizeof v->e[0].field, "%s", field);
	va_start(ap, fmt);
	vsnprintf(v->e[v->n].message, sizeof v->e[0].message, fmt, ap);
	va_end(ap);
	v->n++;
}

/* Control characters other than tab and line breaks never belong in text
 * a person wrote; single-line fields refuse those too. */
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
	chars = eccr_utf8_len(s, n);
	if (chars < 0) {
		eccr_valid_add(v, field, "must be valid UTF-8");
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
	*outlen = n;
	return true;
}

bool eccr_json_get_uint(struct eccr_valid *v, const char *field,
    json_object *o, int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(o, json_type_int)) {
		eccr_valid_add(v, field, "must be an integer from 0 to %lld", (long long)max);
		return false;
	}
	n = json_object_get_int64(o);
	/* json-c saturates values beyond int64 at INT64_MAX/MIN and marks
	 * uint64 values it can't hold; either way they exceed max. */
	if (n < 0 || n > max || json_object_get_uint64(o) > (uint64_t)max) {
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
