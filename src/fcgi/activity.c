/* activity.c - GET /activity, /activity/stats and /episodes/{id}/activity.
 *
 * The trail lives wherever the activity sink keeps it; these handlers
 * validate the request, apply the role rules of API.md (viewers and
 * editors see their own actions only) and ask the loaded plugins through
 * their query callback.  With no activity sink loaded they answer 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "util.h"

#define TEXT_MAX 200
#define Q_MAX 500      /* API.md: q is at most 500 characters */

static const char *const action_names[] = {
	"CREATE", "UPDATE", "DELETE", "VIEW", "DOWNLOAD", "RETRY", "CANCEL",
	"COMPLETE", "FAILED", "START", NULL
};

/* The resources of the audited events of API.md's event table. */
static const char *const resource_types[] = {
	"episode", "file", "job", "worker", "announcement", NULL
};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

/* Copy query parameter name into args when present; false (400 queued)
 * when it is not 1..TEXT_MAX characters of text. */
static bool text_arg(struct eccr_ctx *c, json_object *args, const char *name)
{
	size_t len;
	const char *v = eccr_query_get(&c->req, name, &len);
	long chars;

	if (v == NULL)
		return true;
	chars = eccr_utf8_len(v, len);
	if (chars < 1 || chars > TEXT_MAX || eccr_has_control(v, len)) {
		eccr_problem(&c->req, 400, "bad_request", "%s must be 1..%d characters of text",
		    name, TEXT_MAX);
		return false;
	}
	json_object_object_add(args, name, json_object_new_string_len(v, (int)len));
	return true;
}

/* q: full text over what the entries name; an empty q is no search, as
 * in GET /episodes. */
static bool search_arg(struct eccr_ctx *c, json_object *args)
{
	size_t len;
	const char *v = eccr_query_get(&c->req, "q", &len);
	long chars;

	if (v == NULL || len == 0)
		return true;
	chars = eccr_utf8_len(v, len);
	if (chars < 1 || chars > Q_MAX || eccr_has_control(v, len)) {
		eccr_problem(&c->req, 400, "bad_request", "q must be at most %d characters of text",
		    Q_MAX);
		return false;
	}
	json_object_object_add(args, "q", json_object_new_string_len(v, (int)len));
	return true;
}

/* since/until: RFC 3339 date-times; the store checks the calendar. */
static bool time_arg(struct eccr_ctx *c, json_object *args, const char *name)
{
	size_t len;
	const char *v = eccr_query_get(&c->req, name, &len);

	if (v == NULL)
		return true;
	if (len < 20 || len > 35 || !eccr_date_valid(v, 10) || (v[10] != 'T' && v[10] != 't') ||
	    strspn(v + 11, "0123456789:.+-Zz") != len - 11) {
		eccr_problem(&c->req, 400, "bad_request",
		    "%s must be an RFC 3339 date-time such as 2026-11-24T13:37:00Z", name);
		return false;
	}
	json_object_object_add(args, name, json_object_new_string_len(v, (int)len));
	return true;
}

/* Viewers and editors see their own actions only. */
static bool own_actions_only(struct eccr_ctx *c, json_object *args)
{
	size_t len;
	const char *asked = eccr_query_get(&c->req, "user_id", &len);

	if (c->req.who.role == ECCR_ROLE_ADMIN)
		return text_arg(c, args, "user_id");
	if (asked != NULL && (len != strlen(c->req.who.sub) || memcmp(asked, c->req.who.sub, len) != 0)) {
		eccr_problem(&c->req, 403, "forbidden", "only admins may read other users' activity");
		return false;
	}
	json_object_object_add(args, "user_id", json_object_new_string(c->req.who.sub));
	return true;
}

static bool paging_args(struct eccr_ctx *c, json_object *args)
{
	const char *s = eccr_query_get(&c->req, "limit", NULL);
	int64_t limit = 50;

	if (s != NULL && !eccr_parse_i64(s, 1, 200, &limit)) {
		eccr_problem(&c->req, 400, "bad_request", "limit must be an integer from 1 to 200");
		return false;
	}
	json_object_object_add(args, "limit", json_object_new_int64(limit));
	return text_arg(c, args, "cursor");
}

static void ask(struct eccr_ctx *c, const char *what, json_object *args)
{
	char *out = NULL;
	int rc = eccr_plugins_query(&c->app->plugins, what,
	    json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), &out);

	switch (rc) {
	case ECCR_QUERY_OK:
		eccr_resp_json(&c->req, 200, out, strlen(out));
		break;
	case ECCR_QUERY_BAD_ARGS:
		eccr_problem(&c->req, 400, "bad_request", "%s", out ? out : "bad arguments");
		break;
	case ECCR_QUERY_NOT_MINE:
		eccr_problem(&c->req, 503, "unavailable",
		    "no activity sink is loaded (add activity-pg to plugins.load)");
		break;
	default:
		eccr_resp_header(&c->req, "Retry-After", "5");
		eccr_problem(&c->req, 503, "unavailable", "the activity store is unavailable");
		break;
	}
	free(out);
}

void eccr_activity_list(struct eccr_ctx *c)
{
	json_object *args = json_object_new_object();
	size_t len;
	const char *action = eccr_query_get(&c->req, "action", &len);
	const char *ep = eccr_query_get(&c->req, "episode_id", NULL);
	const char *rt = eccr_query_get(&c->req, "resource_type", NULL);
	char id[37];

	if (action != NULL && !in_list(action, action_names)) {
		eccr_problem(&c->req, 400, "bad_request", "action must be one of CREATE, UPDATE, "
		    "DELETE, VIEW, DOWNLOAD, RETRY, CANCEL, COMPLETE, FAILED, START");
	} else if (rt != NULL && !in_list(rt, resource_types)) {
		eccr_problem(&c->req, 400, "bad_request",
		    "resource_type must be one of episode, file, job, worker, announcement");
	} else if (ep != NULL && !eccr_uuid_normalize(ep, id)) {
		eccr_problem(&c->req, 400, "bad_request", "episode_id must be a UUID");
	} else if (own_actions_only(c, args) && text_arg(c, args, "action") &&
	    text_arg(c, args, "resource_type") && text_arg(c, args, "resource_id") &&
	    time_arg(c, args, "since") && time_arg(c, args, "until") && search_arg(c, args) &&
	    paging_args(c, args) && eccr_no_unknown_query(c)) {
		if (ep != NULL)
			json_object_object_add(args, "episode_id", json_object_new_string(id));
		ask(c, "activity.list", args);
	}
	json_object_put(args);
}

/* An episode that exists, or existed: a deleted episode's trail stays
 * readable (it is an audit trail), but an id no change ever named is 404.
 * The outbox is asked rather than the sink, which may live elsewhere. */
static struct eccr_stmt st_episode_known = {
	.sql =
	"SELECT EXISTS (SELECT 1 FROM episodes WHERE id = $1::uuid)"
	"    OR EXISTS (SELECT 1 FROM events WHERE episode_id = $1::uuid)",
	.nparams = 1,
};

int eccr_activity_register(void)
{
	return eccr_db_register(&st_episode_known);
}

static bool episode_known(struct eccr_ctx *c, const char *id)
{
	const char *p[1] = { id };
	PGresult *res;
	enum eccr_db_err e;
	bool known;

	if ((e = eccr_db_exec(c->db, &st_episode_known, p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return false;
	}
	known = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!known)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
	return known;
}

void eccr_activity_episode(struct eccr_ctx *c)
{
	json_object *args;
	char id[37];

	if (!eccr_capture_uuid(c, 0, id))
		return;
	args = json_object_new_object();
	json_object_object_add(args, "episode_id", json_object_new_string(id));
	if (search_arg(c, args) && paging_args(c, args) && eccr_no_unknown_query(c) &&
	    episode_known(c, id))
		ask(c, "activity.list", args);
	json_object_put(args);
}

void eccr_activity_stats(struct eccr_ctx *c)
{
	json_object *args = json_object_new_object();

	if (own_actions_only(c, args) && time_arg(c, args, "since") &&
	    time_arg(c, args, "until") && eccr_no_unknown_query(c))
		ask(c, "activity.stats", args);
	json_object_put(args);
}
