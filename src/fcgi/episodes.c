/* episodes.c - create, read, PATCH, PUT and DELETE of episodes.
 *
 * Each change is one SQL statement: the row change and its event row in the
 * outbox are data-modifying CTEs of the same statement, so they commit
 * together or not at all, in one round trip. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "episodes.h"
#include "presence.h"

#define EPISODE_COLUMNS_INSERT \
	"series, season_number, episode_number, title, description, status, " \
	"air_date, duration_seconds, categories, metadata"

static struct eccr_stmt ep_get = {
	.sql = "SELECT eccr_episode_json(e), e.version FROM episodes e "
	       "WHERE e.id = $1::uuid",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

static struct eccr_stmt ep_create = {
	.sql =
	"WITH ins AS ("
	"  INSERT INTO episodes (" EPISODE_COLUMNS_INSERT ", created_by, updated_by)"
	"  VALUES ($1, $2::int, $3::int, $4, $5, $6, $7::date, $8::int,"
	"          ARRAY(SELECT jsonb_array_elements_text($9::jsonb)), $10::jsonb,"
	"          $11, $11)"
	"  RETURNING *),"
	" ev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type,"
	"                      resource_id, episode_id, data)"
	"  SELECT 'episode_created', $11, NULLIF($12, ''), 'episode', ins.id::text,"
	"         ins.id, jsonb_build_object('title', ins.title,"
	"         'categories', ins.categories, 'status', ins.status)"
	"  FROM ins RETURNING id),"
	" out AS (SELECT eccr_episode_json(ROW(ins.*)::episodes) AS body, ins.id,"
	"         ins.version, ev.id AS event_id FROM ins, ev),"
	ECCR_IDEM_STORE("$11", "$13", "$14", "201", "'episodes/' || out.id",
	    "'\"' || out.version || '\"'", "out.body", "out")
	"SELECT out.body, out.id, out.version, out.event_id, " ECCR_IDEM_STORED_SQL " FROM out",
	.nparams = 14,
};

/* PATCH and PUT: $3 is a bit mask of the fields to set.  Nothing is
 * written, and no event emitted, when no field actually changes or the
 * If-Match versions ($2) do not name the current one. */
#define SET(bit, param, cast, col) \
	"CASE WHEN ($3::int & " #bit ") <> 0 THEN " param cast " ELSE cur." col " END AS " col ","
#define DIFF(col) "CASE WHEN nv." col " IS DISTINCT FROM cur." col " THEN '" col "' END"
static struct eccr_stmt ep_update = {
	.sql =
	"WITH cur AS (SELECT * FROM episodes WHERE id = $1::uuid FOR UPDATE),"
	" nv AS (SELECT "
	SET(1, "$4", "::text", "series")
	SET(2, "$5", "::int", "season_number")
	SET(4, "$6", "::int", "episode_number")
	SET(8, "$7", "::text", "title")
	SET(16, "$8", "::text", "description")
	SET(32, "$9", "::text", "status")
	SET(64, "$10", "::date", "air_date")
	SET(128, "$11", "::int", "duration_seconds")
	"   CASE WHEN ($3::int & 256) <> 0"
	"        THEN ARRAY(SELECT jsonb_array_elements_text($12::jsonb))"
	"        ELSE cur.categories END AS categories,"
	"   CASE WHEN ($3::int & 512) <> 0 THEN $13::jsonb ELSE cur.metadata END AS metadata"
	"   FROM cur),"
	" d AS (SELECT nv.*, array_remove(ARRAY[" DIFF("series") "," DIFF("season_number") ","
	DIFF("episode_number") "," DIFF("title") "," DIFF("description") ","
	DIFF("status") "," DIFF("air_date") "," DIFF("duration_seconds") ","
	DIFF("categories") "," DIFF("metadata") "], NULL) AS changed FROM nv, cur),"
	" ok AS (SELECT ($2::int[] IS NULL OR cur.version = ANY($2::int[])) AS matched FROM cur),"
	" upd AS ("
	"  UPDATE episodes e SET series = d.series, season_number = d.season_number,"
	"   episode_number = d.episode_number, title = d.title,"
	"   description = d.description, status = d.status, air_date = d.air_date,"
	"   duration_seconds = d.duration_seconds, categories = d.categories,"
	"   metadata = d.metadata, version = e.version + 1, updated_by = $14,"
	"   updated_at = now()"
	"  FROM d, ok WHERE e.id = $1::uuid AND ok.matched AND cardinality(d.changed) > 0"
	"  RETURNING e.*),"
	" ev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type,"
	"                      resource_id, episode_id, data)"
	"  SELECT 'episode_updated', $14, NULLIF($15, ''), 'episode', upd.id::text,"
	"         upd.id, jsonb_build_object('title', upd.title,"
	"         'changed_fields', to_jsonb(d.changed), 'version', upd.version)"
	"  FROM upd, d RETURNING id)"
	"SELECT ok.matched,"
	"       coalesce((SELECT eccr_episode_json(ROW(upd.*)::episodes) FROM upd),"
	"                eccr_episode_json(ROW(cur.*)::episodes)),"
	"       coalesce((SELECT version FROM upd), cur.version),"
	"       (SELECT id FROM ev) "
	"FROM cur, ok",
	.nparams = 15,
};
#undef SET
#undef DIFF

static struct eccr_stmt ep_delete = {
	.sql =
	"WITH cur AS (SELECT id, version, title FROM episodes"
	"             WHERE id = $1::uuid FOR UPDATE),"
	" del AS (DELETE FROM episodes e USING cur WHERE e.id = cur.id"
	"         AND ($2::int[] IS NULL OR cur.version = ANY($2::int[]))"
	"         RETURNING e.id, e.title),"
	/* Its queued jobs are cancelled, its running ones asked to stop. */
	" jc AS (UPDATE jobs j SET"
	"         status = CASE WHEN j.status = 'queued' THEN 'cancelled' ELSE j.status END,"
	"         finished_at = CASE WHEN j.status = 'queued' THEN now() ELSE j.finished_at END,"
	"         cancel_requested = CASE WHEN j.status = 'running' THEN true"
	"                            ELSE j.cancel_requested END,"
	"         updated_at = now()"
	"         FROM del WHERE j.episode_id = del.id AND (j.status = 'queued' OR"
	"         (j.status = 'running' AND NOT j.cancel_requested))"
	"         RETURNING j.id, j.episode_id),"
	" ev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type,"
	"                      resource_id, episode_id, data)"
	"  SELECT 'episode_deleted', $3, NULLIF($4, ''), 'episode', del.id::text,"
	"         del.id, jsonb_build_object('title', del.title) FROM del RETURNING id),"
	/* Each job cancelled (or asked to stop) says so, as POST .../cancel would. */
	" jev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type,"
	"                      resource_id, episode_id, data)"
	"  SELECT 'job_cancelled', $3, NULLIF($4, ''), 'job', jc.id::text,"
	"         jc.episode_id, jsonb_build_object('job_id', jc.id) FROM jc RETURNING id)"
	/* Row 0: deleted?, the episode's event; then one row per job event. */
	"SELECT 0 AS k, (SELECT count(*) FROM del), (SELECT id FROM ev), NULL::bigint FROM cur"
	" UNION ALL SELECT 1, NULL, NULL, id FROM jev ORDER BY 1, 4",
	.nparams = 4,
};

int eccr_episodes_register(void)
{
	struct eccr_stmt *all[] = { &ep_get, &ep_create, &ep_update, &ep_delete };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

static void conflict_or_error(struct eccr_ctx *c, enum eccr_db_err e)
{
	if (e == ECCR_DB_UNIQUE)
		eccr_problem(&c->req, 409, "conflict", "an episode with this series, "
		    "season_number and episode_number already exists");
	else
		eccr_db_problem(c, e);
}

/* Answer with an episode body and its ETag. */
static void send_episode(struct eccr_ctx *c, int status, const char *json,
    const char *version)
{
	eccr_resp_header(&c->req, "ETag", "\"%s\"", version);
	eccr_resp_json(&c->req, status, json, strlen(json));
}

void eccr_episodes_create(struct eccr_ctx *c)
{
	struct episode_input in;
	struct eccr_valid v = { 0 };
	const char *params[14];
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_no_unknown_query(c) || !eccr_require_role(c, ECCR_ROLE_EDITOR) ||
	    !eccr_read_json_object(c))
		return;
	if (!episode_input_parse(&v, c->body, EPISODE_CREATE, &in)) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	if (!eccr_idem_begin(c))
		return;
	memcpy(params, in.val, sizeof in.val);
	params[10] = c->req.who.sub;
	params[11] = c->req.who.name;
	params[12] = eccr_idem_key_param(c);
	params[13] = eccr_idem_hash_param(c);
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &ep_create, params, &res)) != ECCR_DB_OK) {
		conflict_or_error(c, e);
		return;
	}
	eccr_idem_stored(c, res, 0, 4);
	eccr_resp_header(&c->req, "Location", "%s/episodes/%s",
	    c->app->cfg.server.base_path, PQgetvalue(res, 0, 1));
	send_episode(c, 201, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2));
	eccr_event_committed(c, res, 0, 3);
	PQclear(res);
}

void eccr_episodes_get(struct eccr_ctx *c)
{
	char id[37];
	const char *params[1] = { id };
	PGresult *res;
	enum eccr_db_err e;
	const char *json;
	size_t len;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c))
		return;
	if ((e = eccr_db_exec(c->db, &ep_get, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0) {
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
		PQclear(res);
		return;
	}
	/* The stored object plus who is looking at it, the reader included:
	 * reading marks the reader present (presence.c). */
	json = PQgetvalue(res, 0, 0);
	len = strlen(json);
	eccr_buf_reset(&c->scratch);
	eccr_buf_add(&c->scratch, json, len - 1);
	eccr_buf_adds(&c->scratch, ",\"viewers\":");
	eccr_presence_episode_viewers(c, id, &c->scratch);
	eccr_buf_adds(&c->scratch, "}");
	send_episode(c, 200, c->scratch.p, PQgetvalue(res, 0, 1));
	PQclear(res);
	if (c->app->dispatch != NULL)
		eccr_dispatch_offer_transient(c->app->dispatch, "episode_viewed", c->req.who.sub,
		    c->req.who.name, "episode", id, id, "{}");
}

static void update(struct eccr_ctx *c, enum episode_mode mode)
{
	struct episode_input in;
	struct eccr_valid v = { 0 };
	char id[37], versions[200], mask[16];
	const char *params[15];
	PGresult *res;
	enum eccr_db_err e;
	int im;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR) ||
	    (im = eccr_if_match(c, versions, sizeof versions)) < 0 ||
	    !eccr_read_json_object(c))
		return;
	if (!episode_input_parse(&v, c->body, mode, &in)) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	snprintf(mask, sizeof mask, "%u", in.present);
	params[0] = id;
	params[1] = im == 1 ? versions : NULL;
	params[2] = mask;
	memcpy(params + 3, in.val, sizeof in.val);
	params[13] = c->req.who.sub;
	params[14] = c->req.who.name;
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &ep_update, params, &res)) != ECCR_DB_OK) {
		conflict_or_error(c, e);
		return;
	}
	if (PQntuples(res) == 0)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		eccr_problem(&c->req, 412, "precondition_failed",
		    "episode %s is at version %s, not the one in If-Match", id,
		    PQgetvalue(res, 0, 2));
	else {
		send_episode(c, 200, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
		eccr_event_committed(c, res, 0, 3);  /* NULL for a no-op */
	}
	PQclear(res);
}

void eccr_episodes_patch(struct eccr_ctx *c)
{
	update(c, EPISODE_PATCH);
}

void eccr_episodes_put(struct eccr_ctx *c)
{
	update(c, EPISODE_REPLACE);
}

void eccr_episodes_delete(struct eccr_ctx *c)
{
	char id[37], versions[200];
	const char *params[4];
	PGresult *res;
	enum eccr_db_err e;
	int im;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_ADMIN) ||
	    (im = eccr_if_match(c, versions, sizeof versions)) < 0)
		return;
	params[0] = id;
	params[1] = im == 1 ? versions : NULL;
	params[2] = c->req.who.sub;
	params[3] = c->req.who.name;
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &ep_delete, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
	else if (strcmp(PQgetvalue(res, 0, 1), "1") != 0)
		eccr_problem(&c->req, 412, "precondition_failed",
		    "episode %s has changed since the version in If-Match", id);
	else {
		eccr_resp_empty(&c->req, 204);
		eccr_event_committed(c, res, 0, 2);
		for (int i = 1; i < PQntuples(res); i++)
			eccr_event_committed(c, res, i, 3);
	}
	PQclear(res);
}
