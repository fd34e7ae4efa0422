/* episode_input.c - validation of episode bodies (API.md "Episodes"). */
#include "episodes.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

const char *const episode_field_names[EF_COUNT] = {
	"series", "season_number", "episode_number", "title", "description",
	"status", "air_date", "duration_seconds", "categories", "metadata",
};

static const char *const statuses[] = {
	"draft", "in_review", "scheduled", "published", "archived", NULL
};

bool episode_status_valid(const char *s)
{
	for (size_t i = 0; statuses[i]; i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

/* Values a field takes when a create or PUT leaves it out (NULL: SQL NULL). */
static const char *field_default(enum episode_field f)
{
	switch (f) {
	case EF_DESCRIPTION: return "";
	case EF_STATUS: return "draft";
	case EF_CATEGORIES: return "[]";
	case EF_METADATA: return "{}";
	default: return NULL;
	}
}

static bool field_nullable(enum episode_field f)
{
	return f == EF_SERIES || f == EF_SEASON_NUMBER || f == EF_EPISODE_NUMBER ||
	    f == EF_AIR_DATE || f == EF_DURATION_SECONDS;
}

static bool parse_number(struct eccr_valid *v, json_object *o,
    enum episode_field f, struct episode_input *in)
{
	int64_t n;

	if (!eccr_json_get_uint(v, episode_field_names[f], o, EPISODE_NUMBER_MAX, &n))
		return false;
	snprintf(in->num[f], sizeof in->num[f], "%lld", (long long)n);
	in->val[f] = in->num[f];
	return true;
}

static bool parse_categories(struct eccr_valid *v, json_object *o,
    struct episode_input *in)
{
	size_t n;

	if (!json_object_is_type(o, json_type_array)) {
		eccr_valid_add(v, "categories", "must be an array of strings");
		return false;
	}
	n = json_object_array_length(o);
	if (n > EPISODE_CATEGORIES_MAX) {
		eccr_valid_add(v, "categories", "must have at most %d entries",
		    EPISODE_CATEGORIES_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char field[32];
		const char *s;
		size_t len;

		snprintf(field, sizeof field, "categories[%zu]", i);
		if (!eccr_json_get_string(v, field, json_object_array_get_idx(o, i),
		    1, EPISODE_CATEGORY_MAX, false, &s, &len))
			return false;
	}
	in->val[EF_CATEGORIES] = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	return in->val[EF_CATEGORIES] != NULL;
}

static bool parse_metadata(struct eccr_valid *v, json_object *o,
    struct episode_input *in)
{
	size_t len;
	const char *s;

	if (!json_object_is_type(o, json_type_object)) {
		eccr_valid_add(v, "metadata", "must be a JSON object");
		return false;
	}
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (s == NULL || len > EPISODE_METADATA_MAX_BYTES) {
		eccr_valid_add(v, "metadata", "must be at most %d bytes as JSON",
		    EPISODE_METADATA_MAX_BYTES);
		return false;
	}
	in->val[EF_METADATA] = s;
	return true;
}

static bool parse_text(struct eccr_valid *v, json_object *o, enum episode_field f,
    size_t min, size_t max, bool allow_control, struct episode_input *in)
{
	size_t len;

	return eccr_json_get_string(v, episode_field_names[f], o, min, max,
	    allow_control, &in->val[f], &len);
}

static bool parse_field(struct eccr_valid *v, json_object *o, enum episode_field f,
    struct episode_input *in)
{
	switch (f) {
	case EF_SERIES:
		return parse_text(v, o, f, 1, EPISODE_SERIES_MAX, false, in);
	case EF_TITLE:
		return parse_text(v, o, f, 1, EPISODE_TITLE_MAX, false, in);
	case EF_DESCRIPTION:
		/* prose: newlines and tabs belong here */
		return parse_text(v, o, f, 0, EPISODE_DESCRIPTION_MAX, true, in);
	case EF_STATUS:
		if (!parse_text(v, o, f, 1, 32, false, in))
			return false;
		if (!episode_status_valid(in->val[f])) {
			eccr_valid_add(v, "status", "must be one of draft, in_review, "
			    "scheduled, published, archived");
			return false;
		}
		return true;
	case EF_AIR_DATE:
		if (!json_object_is_type(o, json_type_string) ||
		    !eccr_date_valid(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o))) {
			eccr_valid_add(v, "air_date", "must be a date YYYY-MM-DD");
			return false;
		}
		in->val[f] = json_object_get_string(o);
		return true;
	case EF_CATEGORIES:
		return parse_categories(v, o, in);
	case EF_METADATA:
		return parse_metadata(v, o, in);
	default:
		return parse_number(v, o, f, in);
	}
}

bool episode_input_parse(struct eccr_valid *v, json_object *body,
    enum episode_mode mode, struct episode_input *in)
{
	static const char *const allowed[EF_COUNT + 1] = {
		"series", "season_number", "episode_number", "title",
		"description", "status", "air_date", "duration_seconds",
		"categories", "metadata", NULL
	};
	size_t before = v->n;

	memset(in, 0, sizeof *in);
	eccr_json_only_fields(v, body, allowed);
	for (int f = 0; f < EF_COUNT; f++) {
		json_object *o;
		bool given = json_object_object_get_ex(body, episode_field_names[f], &o);

		if (!given) {
			if (f == EF_TITLE && mode != EPISODE_PATCH)
				eccr_valid_add(v, "title", "is required");
			if (mode != EPISODE_PATCH) {
				in->present |= 1u << f;
				in->val[f] = field_default((enum episode_field)f);
			}
			continue;
		}
		in->present |= 1u << f;
		if (o == NULL) {          /* JSON null */
			if (!field_nullable((enum episode_field)f))
				eccr_valid_add(v, episode_field_names[f], "must not be null");
			in->val[f] = NULL;
			continue;
		}
		parse_field(v, o, (enum episode_field)f, in);
	}
	return v->n == before;
}
