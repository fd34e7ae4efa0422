/* me.c - the caller: GET /me, GET and PUT /me/preferences, and
 * POST/DELETE /episodes/{id}/watch (which episodes notify the caller). */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "event_types.h"
#include "notify.h"

#define MUTED_MAX 64

#define PREFS_JSON \
	"json_build_object('email_notifications', p.email_notifications," \
	" 'muted_types', to_json(p.muted_types))::text"

/* Defaults of API.md when the caller never stored any. */
static struct eccr_stmt st_prefs_get = {
	.sql = "SELECT coalesce((SELECT " PREFS_JSON " FROM user_preferences p"
	       " WHERE p.user_id = $1),"
	       " '{\"email_notifications\":true,\"muted_types\":[]}')",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

/* $2 email_notifications or NULL (keep), $3 muted_types as a JSON array
 * or NULL (keep). */
static struct eccr_stmt st_prefs_put = {
	.sql = "INSERT INTO user_preferences AS p (user_id, email_notifications, muted_types)"
	       " VALUES ($1, coalesce($2::boolean, true),"
	       "  CASE WHEN $3::jsonb IS NULL THEN '{}'::text[] ELSE ARRAY(SELECT DISTINCT t"
	       "   FROM jsonb_array_elements_text($3::jsonb) t ORDER BY t) END)"
	       " ON CONFLICT (user_id) DO UPDATE SET"
	       "  email_notifications = coalesce($2::boolean, p.email_notifications),"
	       "  muted_types = CASE WHEN $3::jsonb IS NULL THEN p.muted_types"
	       "                ELSE EXCLUDED.muted_types END,"
	       "  updated_at = now()"
	       " RETURNING " PREFS_JSON,
	.nparams = 3,
};

/* FOR KEY SHARE: the episode cannot go while the row is added. */
static struct eccr_stmt st_watch = {
	.sql = "WITH ep AS (SELECT id FROM episodes WHERE id = $1::uuid FOR KEY SHARE),"
	       " ins AS (INSERT INTO episode_watchers (episode_id, user_id)"
	       "         SELECT id, $2 FROM ep ON CONFLICT DO NOTHING)"
	       " SELECT count(*) FROM ep",
	.nparams = 2,
};

static struct eccr_stmt st_unwatch = {
	.sql = "WITH ep AS (SELECT id FROM episodes WHERE id = $1::uuid),"
	       " del AS (DELETE FROM episode_watchers w USING ep"
	       "         WHERE w.episode_id = ep.id AND w.user_id = $2)"
	       " SELECT count(*) FROM ep",
	.nparams = 2,
};

int eccr_me_register(void)
{
	struct eccr_stmt *all[] = { &st_prefs_get, &st_prefs_put, &st_watch, &st_unwatch };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

static void add_nullable(struct eccr_buf *b, const char *s)
{
	if (s[0] == '\0')
		eccr_buf_adds(b, "null");
	else
		eccr_buf_add_json_str(b, s, strlen(s));
}

/* From the credentials: no database needed. */
void eccr_me_get(struct eccr_ctx *c)
{
	const struct eccr_principal *w = &c->req.who;
	struct eccr_buf *b = &c->scratch;

	if (!eccr_no_unknown_query(c))
		return;
	eccr_buf_reset(b);
	eccr_buf_adds(b, "{\"id\":");
	eccr_buf_add_json_str(b, w->sub, strlen(w->sub));
	eccr_buf_adds(b, ",\"name\":");
	add_nullable(b, w->name);
	eccr_buf_adds(b, ",\"email\":");
	add_nullable(b, w->email);
	eccr_buf_printf(b, ",\"role\":\"%s\"}", eccr_role_name(w->role));
	if (b->oom) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	eccr_resp_json(&c->req, 200, b->p, b->len);
}

void eccr_me_preferences_get(struct eccr_ctx *c)
{
	const char *params[1] = { c->req.who.sub };
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_no_unknown_query(c))
		return;
	if ((e = eccr_db_exec(c->db, &st_prefs_get, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

/* muted_types: an array of at most MUTED_MAX event types that can notify,
 * whether notifications.types lists them today or not (API.md's own
 * example mutes episode_updated, which the default list leaves out). */
static void check_muted(struct eccr_ctx *c, struct eccr_valid *v, json_object *arr)
{
	size_t n, i;

	if (!json_object_is_type(arr, json_type_array)) {
		eccr_valid_add(v, "muted_types", "must be an array of event types");
		return;
	}
	if ((n = json_object_array_length(arr)) > MUTED_MAX) {
		eccr_valid_add(v, "muted_types", "at most %d types", MUTED_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i);
		const char *s;
		size_t len;

		if (!json_object_is_type(t, json_type_string)) {
			eccr_valid_add(v, "muted_types", "item %zu is not a string", i);
			return;
		}
		s = json_object_get_string(t);
		len = (size_t)json_object_get_string_len(t);
		if (!eccr_event_type_notifiable(s, len)) {
			/* Never echoes the input. */
			eccr_valid_add(v, "muted_types", "item %zu is not an event type that can "
			    "notify", i);
			return;
		}
	}
}

void eccr_me_preferences_put(struct eccr_ctx *c)
{
	static const char *const allowed[] = { "email_notifications", "muted_types", NULL };
	struct eccr_valid v = { 0 };
	json_object *email = NULL, *muted = NULL;
	const char *params[3];
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_no_unknown_query(c) || !eccr_read_json_object(c))
		return;
	eccr_json_only_fields(&v, c->body, allowed);
	if (json_object_object_get_ex(c->body, "email_notifications", &email) &&
	    !json_object_is_type(email, json_type_boolean))
		eccr_valid_add(&v, "email_notifications", "must be true or false");
	if (json_object_object_get_ex(c->body, "muted_types", &muted))
		check_muted(c, &v, muted);
	if (v.n > 0) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	params[0] = c->req.who.sub;
	params[1] = email == NULL ? NULL : json_object_get_boolean(email) ? "true" : "false";
	params[2] = muted == NULL ? NULL : json_object_to_json_string_ext(muted, JSON_C_TO_STRING_PLAIN);
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &st_prefs_put, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

static void watch(struct eccr_ctx *c, struct eccr_stmt *st)
{
	char id[37];
	const char *params[2] = { id, c->req.who.sub };
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR) || !eccr_empty_body(c))
		return;
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
	else
		eccr_resp_empty(&c->req, 204);
	PQclear(res);
}

void eccr_episodes_watch(struct eccr_ctx *c)
{
	watch(c, &st_watch);
}

void eccr_episodes_unwatch(struct eccr_ctx *c)
{
	watch(c, &st_unwatch);
}
