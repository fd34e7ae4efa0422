/* viewers.c - decode, prune, change and encode the viewers list of one
 * resource.  See viewers.h for the stored format. */
#include "viewers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

/* Nesting of the stored value: a list of lists of scalars. */
#define DECODE_DEPTH 3
/* Times outside 2000..2200 are not ours: the value is damaged. */
#define MS_MIN 946684800000LL
#define MS_MAX 7258118400000LL

void viewers_init(struct viewers *vs)
{
	vs->v = NULL;
	vs->n = vs->cap = 0;
}

static void viewer_free(struct viewer *v)
{
	free(v->user_id);
	free(v->name);
}

void viewers_free(struct viewers *vs)
{
	for (size_t i = 0; i < vs->n; i++)
		viewer_free(&vs->v[i]);
	free(vs->v);
	viewers_init(vs);
}

/* Make room for extra more entries. */
static int reserve(struct viewers *vs, size_t extra)
{
	struct viewer *nv;
	size_t cap = vs->cap ? vs->cap : 8;

	if (vs->cap - vs->n >= extra)
		return 0;
	while (cap - vs->n < extra)
		cap *= 2;
	if ((nv = realloc(vs->v, cap * sizeof *nv)) == NULL)
		return -1;
	vs->v = nv;
	vs->cap = cap;
	return 0;
}

/* Append a copy of the strings; -1 when out of memory. */
static int append(struct viewers *vs, const char *id, const char *name,
    int64_t since_ms, int64_t last_ms)
{
	struct viewer *v;

	if (reserve(vs, 1) != 0)
		return -1;
	v = &vs->v[vs->n];
	v->user_id = strdup(id);
	v->name = strdup(name);
	if (v->user_id == NULL || v->name == NULL) {
		viewer_free(v);
		return -1;
	}
	v->since_ms = since_ms;
	v->last_ms = last_ms;
	vs->n++;
	return 0;
}

/* A string member of a stored entry, without embedded NULs and within max. */
static const char *entry_str(json_object *o, size_t min, size_t max)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(o, json_type_string))
		return NULL;
	s = json_object_get_string(o);
	len = (size_t)json_object_get_string_len(o);
	if (len < min || len > max || strlen(s) != len)
		return NULL;
	return s;
}

static bool entry_ms(json_object *o, int64_t *out)
{
	if (!json_object_is_type(o, json_type_int))
		return false;
	*out = json_object_get_int64(o);
	return *out >= MS_MIN && *out <= MS_MAX;
}

/* One [user_id, name, since, last_seen] entry into vs; -1 if malformed. */
static int decode_entry(json_object *e, struct viewers *vs)
{
	const char *id, *name;
	int64_t since, last;

	if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 4)
		return -1;
	id = entry_str(json_object_array_get_idx(e, 0), 1, VIEWER_ID_MAX);
	name = entry_str(json_object_array_get_idx(e, 1), 0, VIEWER_NAME_MAX);
	if (id == NULL || name == NULL ||
	    !entry_ms(json_object_array_get_idx(e, 2), &since) ||
	    !entry_ms(json_object_array_get_idx(e, 3), &last) || since > last)
		return -1;
	for (size_t i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].user_id, id) == 0)
			return -1;              /* a user twice: damaged */
	return append(vs, id, name, since, last);
}

int viewers_decode(const char *text, size_t len, size_t max, struct viewers *vs)
{
	json_tokener *tok = json_tokener_new_ex(DECODE_DEPTH);
	json_object *root = NULL;
	size_t n;
	int rc = -1;

	if (tok == NULL)
		return -1;
	if (len <= INT32_MAX) {
		root = json_tokener_parse_ex(tok, text, (int)len);
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len) {
			json_object_put(root);
			root = NULL;
		}
	}
	json_tokener_free(tok);
	if (root != NULL && json_object_is_type(root, json_type_array)) {
		n = json_object_array_length(root);
		rc = 0;
		for (size_t i = 0; i < n && i < max && rc == 0; i++)
			rc = decode_entry(json_object_array_get_idx(root, i), vs);
	}
	json_object_put(root);
	if (rc != 0)
		viewers_free(vs);
	return rc;
}

char *viewers_encode(const struct viewers *vs, size_t *len)
{
	json_object *root = json_object_new_array_ext((int)vs->n);
	const char *s;
	char *out = NULL;

	if (root == NULL)
		return NULL;
	for (size_t i = 0; i < vs->n; i++) {
		json_object *e = json_object_new_array_ext(4);

		if (e == NULL || json_object_array_add(root, e) != 0) {
			json_object_put(e);
			goto done;
		}
		json_object_array_add(e, json_object_new_string(vs->v[i].user_id));
		json_object_array_add(e, json_object_new_string(vs->v[i].name));
		json_object_array_add(e, json_object_new_int64(vs->v[i].since_ms));
		json_object_array_add(e, json_object_new_int64(vs->v[i].last_ms));
	}
	s = json_object_to_json_string_length(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, len);
	if (s != NULL)
		out = strdup(s);
done:
	json_object_put(root);
	return out;
}

int viewers_prune(struct viewers *vs, int64_t now_ms, int64_t ttl_ms, struct viewers *gone)
{
	size_t keep = 0, expired = 0;

	for (size_t i = 0; i < vs->n; i++)
		if (now_ms - vs->v[i].last_ms > ttl_ms)
			expired++;
	if (expired == 0)
		return 0;
	/* Room first, so that a failure leaves vs as it was. */
	if (reserve(gone, expired) != 0)
		return -1;
	for (size_t i = 0; i < vs->n; i++) {
		if (now_ms - vs->v[i].last_ms > ttl_ms)
			gone->v[gone->n++] = vs->v[i];
		else
			vs->v[keep++] = vs->v[i];
	}
	vs->n = keep;
	return (int)expired;
}

int viewers_touch(struct viewers *vs, const char *user_id, const char *name,
    int64_t now_ms, size_t max)
{
	char *copy;

	for (size_t i = 0; i < vs->n; i++) {
		struct viewer *v = &vs->v[i];

		if (strcmp(v->user_id, user_id) != 0)
			continue;
		if (strcmp(v->name, name) != 0) {
			if ((copy = strdup(name)) == NULL)
				return -1;
			free(v->name);
			v->name = copy;
		}
		if (now_ms > v->last_ms)
			v->last_ms = now_ms;
		return 0;
	}
	if (vs->n >= max)
		return -2;
	return append(vs, user_id, name, now_ms, now_ms) == 0 ? 1 : -1;
}

const struct viewer *viewers_find(const struct viewers *vs, const char *user_id)
{
	for (size_t i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].user_id, user_id) == 0)
			return &vs->v[i];
	return NULL;
}

int viewers_remove(struct viewers *vs, const char *user_id, struct viewers *gone)
{
	for (size_t i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].user_id, user_id) != 0)
			continue;
		if (reserve(gone, 1) != 0)
			return -1;
		gone->v[gone->n++] = vs->v[i];
		memmove(&vs->v[i], &vs->v[i + 1], (vs->n - i - 1) * sizeof vs->v[0]);
		vs->n--;
		return 1;
	}
	return 0;
}

int64_t viewers_newest(const struct viewers *vs)
{
	int64_t newest = 0;

	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i].last_ms > newest)
			newest = vs->v[i].last_ms;
	return newest;
}

void viewers_rfc3339(int64_t ms, char out[25])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%S.", &tm);   /* 20 characters for years 1000..9999 */
	snprintf(out + 20, 5, "%03uZ", (unsigned)(ms % 1000) % 1000u);
}

struct json_object *viewers_api(const struct viewers *vs)
{
	json_object *arr = json_object_new_array_ext((int)vs->n);
	char t[25];

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < vs->n; i++) {
		json_object *o = json_object_new_object();

		if (o == NULL || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(o, "user_id", json_object_new_string(vs->v[i].user_id));
		json_object_object_add(o, "name", json_object_new_string(vs->v[i].name));
		viewers_rfc3339(vs->v[i].since_ms, t);
		json_object_object_add(o, "since", json_object_new_string(t));
		viewers_rfc3339(vs->v[i].last_ms, t);
		json_object_object_add(o, "last_seen", json_object_new_string(t));
	}
	return arr;
}
