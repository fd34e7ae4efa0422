/* episodes.h - the episode resource: input validation shared by create,
 * PATCH and PUT, and the list statement table. */
#ifndef ECCR_FCGI_EPISODES_H
#define ECCR_FCGI_EPISODES_H

#include <stdbool.h>

#include "json.h"

/* The mutable fields, in the order of the SQL parameters. */
enum episode_field {
	EF_SERIES, EF_SEASON_NUMBER, EF_EPISODE_NUMBER, EF_TITLE,
	EF_DESCRIPTION, EF_STATUS, EF_AIR_DATE, EF_DURATION_SECONDS,
	EF_CATEGORIES, EF_METADATA, EF_COUNT
};

#define EPISODE_TITLE_MAX 500
#define EPISODE_DESCRIPTION_MAX 20000
#define EPISODE_SERIES_MAX 500
#define EPISODE_CATEGORIES_MAX 50
#define EPISODE_CATEGORY_MAX 100
#define EPISODE_METADATA_MAX_BYTES 65536
#define EPISODE_NUMBER_MAX 2147483647

/* A validated request body as text parameters for PostgreSQL.  val[i] is
 * NULL for SQL NULL; pointers borrow from the parsed JSON body. */
struct episode_input {
	unsigned present;               /* bit (1 << field) per field given */
	const char *val[EF_COUNT];
	char num[EF_COUNT][24];         /* storage for numbers as text */
};

enum episode_mode {
	EPISODE_CREATE,   /* title required; absent fields take defaults */
	EPISODE_PATCH,    /* only the fields given */
	EPISODE_REPLACE   /* PUT: title required; absent fields reset */
};

extern const char *const episode_field_names[EF_COUNT];

/* Validate body; errors go to v.  Returns true when v gained no errors. */
bool episode_input_parse(struct eccr_valid *v, json_object *body,
    enum episode_mode mode, struct episode_input *in);

bool episode_status_valid(const char *s);

#endif
