/* json.h - strict JSON input on json-c, and the validation vocabulary the
 * handlers share.  Request bodies are hostile: the parser bounds nesting,
 * rejects invalid UTF-8, trailing garbage and strings with NUL bytes. */
#ifndef ECCR_JSON_H
#define ECCR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define ECCR_JSON_MAX_DEPTH 32

enum eccr_json_err {
	ECCR_JSON_OK = 0,
	ECCR_JSON_SYNTAX,     /* not JSON, or trailing bytes */
	ECCR_JSON_TOO_DEEP,   /* nesting deeper than ECCR_JSON_MAX_DEPTH */
	ECCR_JSON_BAD_UTF8,   /* invalid UTF-8 anywhere in the text */
	ECCR_JSON_NUL,        /* a string holds U+0000 */
	ECCR_JSON_NOMEM
};

/* Parse exactly one JSON value from text[0..len).  *out is owned by the
 * caller (json_object_put).  On error, detail gets a short message with the
 * byte offset where it applies.  A top-level `null` is OK with *out NULL,
 * which is how json-c represents null (json_object_get_type says so). */
enum eccr_json_err eccr_json_parse(const char *text, size_t len,
    json_object **out, char *detail, size_t detaillen);

/* Collected validation errors: [{"field":..,"message":..}], as API.md's
 * validation_failed problem wants.  Bounded: after ECCR_VALID_MAX errors
 * further ones are dropped. */
#define ECCR_VALID_MAX 32
struct eccr_valid {
	size_t n;
	struct {
		char field[64];
		char message[160];
	} e[ECCR_VALID_MAX];
};

void eccr_valid_add(struct eccr_valid *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Field checks; each adds an error naming field and returns false.  A JSON
 * null is handled by the caller (it means "unset" for nullable fields). */
bool eccr_json_get_string(struct eccr_valid *v, const char *field,
    json_object *o, size_t min_chars, size_t max_chars, bool allow_control,
    const char **out, size_t *outlen);
bool eccr_json_get_uint(struct eccr_valid *v, const char *field,
    json_object *o, int64_t max, int64_t *out);

/* Reject members of obj not in the NULL-terminated allowed list; adds
 * "unknown field" errors.  Returns false if any. */
bool eccr_json_only_fields(struct eccr_valid *v, json_object *obj,
    const char *const *allowed);

#endif
