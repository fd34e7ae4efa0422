/* presence.c - GET /presence/{type}/{id}, POST .../heartbeat, DELETE, and
 * the viewers of GET /episodes/{id}.
 *
 * The viewers live in the presence plugin's store (presence-memcache),
 * reached through query(): presence.heartbeat, presence.leave and
 * presence.list, each answering the viewers and who joined, left or
 * expired; this side turns those into presence_joined and presence_left
 * transient events.  Presence is advisory: an episode read never fails
 * because of it, while the presence endpoints answer 503 when the store
 * is down or no plugin answers. */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "presence.h"
#include "util.h"

#define RETRY_AFTER_S "5"
#define NO_EPISODE "00000000-0000-0000-0000-000000000000"

/* Presence may be kept on these resources. */
static const char *const resource_types[] = { "episode", "file", "job", NULL };

/* Does the resource exist, and which episode is it of (for the events)?
 * No row: it does not exist; the nil UUID: a job of no episode. */
static struct eccr_stmt resource_get = {
	.sql = "SELECT ep FROM ("
	       " SELECT id AS ep FROM episodes WHERE $1 = 'episode' AND id = $2::uuid"
	       " UNION ALL SELECT episode_id FROM files WHERE $1 = 'file' AND id = $2::uuid"
	       " UNION ALL SELECT coalesce(episode_id, '" NO_EPISODE "'::uuid) FROM jobs"
	       "  WHERE $1 = 'job' AND id = $2::uuid) r",
	.nparams = 2, .flags = ECCR_STMT_READ,
};

int eccr_presence_register(void)
{
	return eccr_db_register(&resource_get);
}

/* What the presence API works on. */
struct target {
	const char *type;       /* one of resource_types */
	char id[37];
	char episode_id[37];    /* "" when the resource belongs to no episode */
};

/* Ask the plugins; *answer is the parsed answer when ECCR_QUERY_OK, and
 * *text the plugin's message when ECCR_QUERY_BAD_ARGS (both to free). */
static int ask(struct eccr_ctx *c, const char *what, const struct target *t,
    bool with_user, json_object **answer, char **text)
{
	json_object *args = json_object_new_object();
	char detail[128];
	int rc;

	*answer = NULL;
	*text = NULL;
	json_object_object_add(args, "resource_type", json_object_new_string(t->type));
	json_object_object_add(args, "resource_id", json_object_new_string(t->id));
	if (with_user) {
		json_object_object_add(args, "user_id", json_object_new_string(c->req.who.sub));
		json_object_object_add(args, "name", json_object_new_string(c->req.who.name));
	}
	rc = eccr_plugins_query(&c->app->plugins, what,
	    json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), text);
	json_object_put(args);
	if (rc != ECCR_QUERY_OK || *text == NULL)
		return rc == ECCR_QUERY_OK ? ECCR_QUERY_UNAVAILABLE : rc;
	if (eccr_json_parse(*text, strlen(*text), answer, detail, sizeof detail) != ECCR_JSON_OK ||
	    !json_object_is_type(*answer, json_type_object)) {
		json_object_put(*answer);
		*answer = NULL;
		return ECCR_QUERY_UNAVAILABLE;
	}
	return ECCR_QUERY_OK;
}

/* The 4xx/503 of a query that did not answer. */
static void query_problem(struct eccr_ctx *c, int rc, const char *text)
{
	if (rc == ECCR_QUERY_BAD_ARGS) {
		eccr_problem(&c->req, 400, "bad_request", "%s", text ? text : "bad presence arguments");
		return;
	}
	eccr_resp_header(&c->req, "Retry-After", RETRY_AFTER_S);
	if (rc == ECCR_QUERY_NOT_MINE)
		eccr_problem(&c->req, 503, "unavailable",
		    "no presence plugin is loaded (add presence-memcache to plugins.load)");
	else
		eccr_problem(&c->req, 503, "unavailable", "the presence store is unavailable");
}

static void announce(struct eccr_ctx *c, const struct target *t, const char *type,
    const char *actor_id, const char *actor_name, const char *user_id,
    const char *name, const char *reason)
{
	json_object *data;

	if (c->app->dispatch == NULL)
		return;
	data = json_object_new_object();
	json_object_object_add(data, "user_id", json_object_new_string(user_id));
	json_object_object_add(data, "name", json_object_new_string(name));
	if (reason != NULL)
		json_object_object_add(data, "reason", json_object_new_string(reason));
	/* A full queue drops it: transient events may be lost. */
	eccr_dispatch_offer_transient(c->app->dispatch, type, actor_id, actor_name, t->type,
	    t->id, t->episode_id[0] ? t->episode_id : NULL,
	    json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
	json_object_put(data);
}

/* presence_left for each {"user_id","name"} of member `list`. */
static void announce_left(struct eccr_ctx *c, const struct target *t, json_object *answer,
    const char *list, bool expired)
{
	json_object *arr, *e, *id, *name;

	if (!json_object_object_get_ex(answer, list, &arr) || !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_object_get_ex(e, "user_id", &id) ||
		    !json_object_object_get_ex(e, "name", &name))
			continue;
		if (expired)
			announce(c, t, "presence_left", "system", NULL, json_object_get_string(id),
			    json_object_get_string(name), "expired");
		else
			announce(c, t, "presence_left", c->req.who.sub, c->req.who.name,
			    json_object_get_string(id), json_object_get_string(name), "leave");
	}
}

/* Every change an answer reports, as events.  Departures first: a viewer
 * whose entry had expired and who comes back in this very call is both in
 * "expired" and "joined", and a client applying the events in order must
 * end with that viewer present. */
static void announce_changes(struct eccr_ctx *c, const struct target *t, json_object *answer)
{
	json_object *joined;

	announce_left(c, t, answer, "expired", true);
	announce_left(c, t, answer, "left", false);
	if (json_object_object_get_ex(answer, "joined", &joined) && json_object_get_boolean(joined))
		announce(c, t, "presence_joined", c->req.who.sub, c->req.who.name,
		    c->req.who.sub, c->req.who.name, NULL);
}

static bool answer_flag(json_object *answer, const char *name)
{
	json_object *o;

	return json_object_object_get_ex(answer, name, &o) && json_object_get_boolean(o);
}

/* The viewers array of an answer as JSON text ("[]" when missing). */
static const char *viewers_text(json_object *answer)
{
	json_object *v;

	if (answer == NULL || !json_object_object_get_ex(answer, "viewers", &v) ||
	    !json_object_is_type(v, json_type_array))
		return "[]";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

void eccr_presence_episode_viewers(struct eccr_ctx *c, const char *id, struct eccr_buf *out)
{
	struct target t = { .type = "episode" };
	json_object *answer;
	char *text;

	memcpy(t.id, id, sizeof t.id);
	memcpy(t.episode_id, id, sizeof t.episode_id);
	if (ask(c, "presence.heartbeat", &t, true, &answer, &text) == ECCR_QUERY_OK)
		announce_changes(c, &t, answer);
	eccr_buf_adds(out, viewers_text(answer));
	json_object_put(answer);
	free(text);
}

/* Validate the path's {type}/{id} and find the resource; false when a
 * problem was queued. */
static bool target_of(struct eccr_ctx *c, struct target *t)
{
	const struct eccr_route_match *m = &c->req.match;
	const char *params[2];
	PGresult *res;
	enum eccr_db_err e;

	t->type = NULL;
	for (size_t i = 0; resource_types[i] != NULL; i++)
		if (m->caplen[0] == strlen(resource_types[i]) &&
		    memcmp(m->cap[0], resource_types[i], m->caplen[0]) == 0)
			t->type = resource_types[i];
	if (t->type == NULL) {
		eccr_problem(&c->req, 400, "bad_request",
		    "resource_type must be one of episode, file, job");
		return false;
	}
	if (!eccr_capture_uuid(c, 1, t->id) || !eccr_no_unknown_query(c))
		return false;
	params[0] = t->type;
	params[1] = t->id;
	if ((e = eccr_db_exec(c->db, &resource_get, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return false;
	}
	if (PQntuples(res) == 0) {
		eccr_problem(&c->req, 404, "not_found", "%s %s not found", t->type, t->id);
		PQclear(res);
		return false;
	}
	t->episode_id[0] = '\0';
	if (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), NO_EPISODE) != 0)
		eccr_uuid_normalize(PQgetvalue(res, 0, 0), t->episode_id);
	PQclear(res);
	return true;
}

/* One presence call; with_user: on behalf of the caller. */
static void presence_call(struct eccr_ctx *c, const char *what, bool with_user)
{
	struct target t;
	json_object *answer;
	char *text;
	int rc;

	if (!target_of(c, &t) || !eccr_empty_body(c))
		return;
	if ((rc = ask(c, what, &t, with_user, &answer, &text)) != ECCR_QUERY_OK) {
		query_problem(c, rc, text);
	} else if (answer_flag(answer, "full")) {
		eccr_resp_header(&c->req, "Retry-After", RETRY_AFTER_S);
		eccr_problem(&c->req, 503, "unavailable", "%s %s has the most viewers the "
		    "presence store keeps", t.type, t.id);
	} else if (with_user) {
		eccr_resp_empty(&c->req, 204);
	} else {
		eccr_buf_reset(&c->scratch);
		eccr_buf_adds(&c->scratch, "{\"viewers\":");
		eccr_buf_adds(&c->scratch, viewers_text(answer));
		eccr_buf_adds(&c->scratch, "}");
		eccr_resp_json(&c->req, 200, c->scratch.p, c->scratch.len);
	}
	if (answer != NULL)
		announce_changes(c, &t, answer);
	json_object_put(answer);
	free(text);
}

void eccr_presence_get(struct eccr_ctx *c)
{
	presence_call(c, "presence.list", false);
}

void eccr_presence_heartbeat(struct eccr_ctx *c)
{
	presence_call(c, "presence.heartbeat", true);
}

void eccr_presence_leave(struct eccr_ctx *c)
{
	presence_call(c, "presence.leave", true);
}
