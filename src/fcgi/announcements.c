/* announcements.c - POST /notifications: an admin's announcement.
 *
 * {"title":"...","message":"...","recipients":["alice","bob"] | "all",
 *  "expires_at":"..."} (message and expires_at optional).  One statement
 * writes the `announcement` event, one notification per recipient (less
 * those who muted the type) and one notification_created event each,
 * caused by the announcement: so the dispatcher that delivers the
 * announcement delivers those with it, to the recipients' WebSocket rooms
 * (broadcast-ws) and mailboxes (notify-email, which never mails the actor)
 * exactly as for any other notification (migration 0005).
 *
 * Recipients are users ECCR has seen (the users table); an unknown one is
 * 400 and nothing is written.  An announcement is delivered whatever
 * notifications.types lists: it is an explicit act of an admin, not a
 * side effect of a change, so only a recipient's mute holds it back. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"

#define TITLE_MAX 200
#define MESSAGE_MAX 5000
#define RECIPIENTS_MAX 1000

/* $1 actor, $2 actor name, $3 title, $4 message, $5 recipients (a JSON
 * array of distinct ids) or NULL for every known user, $6 expires_at or
 * NULL.  Row: the announcement's event id (NULL when nothing was written),
 * the notifications written, the unknown recipients (a JSON array of the
 * first ten: enough to fix a list, short enough to read), whether
 * expires_at is not in the future. */
static struct eccr_stmt st_announce = {
	.sql =
	"WITH want AS ("
	"  SELECT r.id FROM jsonb_array_elements_text($5::jsonb) r(id) WHERE $5::jsonb IS NOT NULL"
	"  UNION ALL SELECT u.id FROM users u WHERE $5::jsonb IS NULL),"
	" unknown AS (SELECT w.id FROM want w"
	"  WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.id)),"
	" past AS (SELECT $6::timestamptz IS NOT NULL AND $6::timestamptz <= now() AS v),"
	" ev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id, data)"
	"  SELECT 'announcement', $1, NULLIF($2, ''), 'announcement', gen_random_uuid()::text,"
	"         jsonb_build_object('title', $3::text, 'message', $4::text,"
	"           'recipients', coalesce($5::jsonb, '\"all\"'::jsonb),"
	"           'expires_at', eccr_ts($6::timestamptz))"
	"  WHERE NOT EXISTS (SELECT 1 FROM unknown) AND NOT (SELECT v FROM past)"
	"  RETURNING *),"
	" n AS ("
	"  INSERT INTO notifications (user_id, event_id, type, title, message, resource_type,"
	"                             resource_id, episode_id, actor_id, expires_at)"
	"  SELECT w.id, ev.id, 'announcement', $3, $4, 'announcement', ev.resource_id, NULL,"
	"         ev.actor_id, $6::timestamptz"
	"  FROM ev, want w"
	"  WHERE NOT EXISTS (SELECT 1 FROM user_preferences p"
	"                    WHERE p.user_id = w.id AND 'announcement' = ANY (p.muted_types))"
	"  ORDER BY w.id"
	"  RETURNING *),"
	/* As the trigger of 0005 writes them: for the recipient's room only. */
	" nev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id,"
	"                      episode_id, data, caused_by, created_at)"
	"  SELECT 'notification_created', ev.actor_id, ev.actor_name, 'notification', n.id::text,"
	"         NULL, jsonb_build_object('user_id', n.user_id, 'event_id', ev.id::text,"
	"           'event_type', 'announcement', 'resource_name', $3::text,"
	"           'episode_title', NULL, 'notification', eccr_notification_json(n)::jsonb),"
	"         ev.id, ev.created_at"
	"  FROM n, ev ORDER BY n.user_id)"
	"SELECT (SELECT id FROM ev), (SELECT count(*) FROM n),"
	"  (SELECT json_agg(id ORDER BY id) FROM (SELECT id FROM unknown ORDER BY id"
	"   LIMIT 10) x)::text,"
	"  (SELECT v FROM past)",
	.nparams = 6,
};

int eccr_announcements_register(void)
{
	return eccr_db_register(&st_announce);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* recipients: "all" (*json stays NULL) or an array of 1..RECIPIENTS_MAX
 * distinct user ids, whose JSON text goes to *json. */
static void parse_recipients(struct eccr_valid *v, json_object *o, const char **json)
{
	const char *ids[RECIPIENTS_MAX];
	size_t n, i;

	*json = NULL;
	if (o != NULL && json_object_is_type(o, json_type_string) &&
	    strcmp(json_object_get_string(o), "all") == 0)
		return;
	if (o == NULL || !json_object_is_type(o, json_type_array)) {
		eccr_valid_add(v, "recipients", "must be \"all\" or an array of user ids");
		return;
	}
	n = json_object_array_length(o);
	if (n < 1 || n > RECIPIENTS_MAX) {
		eccr_valid_add(v, "recipients", "must name 1 to %d users", RECIPIENTS_MAX);
		return;
	}
	for (i = 0; i < n; i++) {
		struct eccr_valid one = { 0 };

		if (!eccr_json_get_string(&one, "recipients", json_object_array_get_idx(o, i), 1,
		    ECCR_SUB_MAX, false, &ids[i], NULL)) {
			eccr_valid_add(v, "recipients", "item %zu: %s", i, one.e[0].message);
			return;
		}
	}
	/* Sorted copies of the pointers: duplicates are neighbours. */
	qsort(ids, n, sizeof ids[0], cmp_str);
	for (i = 1; i < n; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0) {
			eccr_valid_add(v, "recipients", "names %s more than once", ids[i]);
			return;
		}
	*json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

struct announcement {
	const char *title, *message, *recipients, *expires_at;
};

static bool parse_body(json_object *body, struct eccr_valid *v, struct announcement *a)
{
	static const char *const allowed[] = {
		"title", "message", "recipients", "expires_at", NULL
	};
	json_object *o;

	memset(a, 0, sizeof *a);
	a->message = "";
	eccr_json_only_fields(v, body, allowed);
	if (!json_object_object_get_ex(body, "title", &o))
		eccr_valid_add(v, "title", "is required");
	else
		eccr_json_get_string(v, "title", o, 1, TITLE_MAX, false, &a->title, NULL);
	/* Several paragraphs: line breaks and tabs are allowed. */
	if (json_object_object_get_ex(body, "message", &o))
		eccr_json_get_string(v, "message", o, 0, MESSAGE_MAX, true, &a->message, NULL);
	if (!json_object_object_get_ex(body, "recipients", &o))
		eccr_valid_add(v, "recipients", "is required");
	else
		parse_recipients(v, o, &a->recipients);
	if (json_object_object_get_ex(body, "expires_at", &o) && o != NULL) {
		if (!json_object_is_type(o, json_type_string) ||
		    !eccr_rfc3339_valid(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o)))
			eccr_valid_add(v, "expires_at", "must be an RFC 3339 date-time "
			    "such as 2026-11-24T13:37:00Z");
		else
			a->expires_at = json_object_get_string(o);
	}
	return v->n == 0;
}

/* 400 naming the unknown recipients of the statement's JSON array. */
static void unknown_recipients(struct eccr_ctx *c, const char *json)
{
	struct eccr_valid v = { 0 };
	json_object *arr = json_tokener_parse(json);
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++)
		eccr_valid_add(&v, "recipients", "unknown user %s (ECCR knows users once they "
		    "have acted)", json_object_get_string(json_object_array_get_idx(arr, i)));
	if (v.n == 0)
		eccr_valid_add(&v, "recipients", "names unknown users");
	json_object_put(arr);
	eccr_problem_valid(&c->req, &v);
}

void eccr_notifications_announce(struct eccr_ctx *c)
{
	struct announcement a;
	struct eccr_valid v = { 0 };
	const char *params[6];
	char body[64];
	PGresult *res;
	enum eccr_db_err e;
	int len;

	if (!eccr_no_unknown_query(c) || !eccr_require_role(c, ECCR_ROLE_ADMIN) ||
	    !eccr_read_json_object(c))
		return;
	if (!parse_body(c->body, &v, &a)) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	params[0] = c->req.who.sub;
	params[1] = c->req.who.name;
	params[2] = a.title;
	params[3] = a.message;
	params[4] = a.recipients;
	params[5] = a.expires_at;
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &st_announce, params, &res)) != ECCR_DB_OK) {
		if (e == ECCR_DB_INVALID && a.expires_at != NULL) {
			/* the only value PostgreSQL could still refuse */
			eccr_valid_add(&v, "expires_at", "is not a date-time PostgreSQL accepts");
			eccr_problem_valid(&c->req, &v);
		} else {
			eccr_db_problem(c, e);
		}
		return;
	}
	if (!PQgetisnull(res, 0, 2)) {
		unknown_recipients(c, PQgetvalue(res, 0, 2));
	} else if (PQgetvalue(res, 0, 3)[0] == 't') {
		eccr_valid_add(&v, "expires_at", "must be in the future");
		eccr_problem_valid(&c->req, &v);
	} else {
		len = snprintf(body, sizeof body, "{\"created\":%s}", PQgetvalue(res, 0, 1));
		eccr_resp_json(&c->req, 201, body, (size_t)len);
		eccr_event_committed(c, res, 0, 0);
	}
	PQclear(res);
}
