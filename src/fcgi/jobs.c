/* jobs.c - the job queue's API: job types, enqueue, read, retry, cancel
 * (API.md "Jobs").  The list is in jobs_list.c.
 *
 * As with episodes, each change is one SQL statement whose data-modifying
 * CTEs also insert the event row, so the change and its event commit
 * together.  Retry and cancel read the current row FOR UPDATE in a CTE and
 * change it only when its state allows, so two concurrent requests can
 * never both win, and one statement tells 404 (no row) from 409 (wrong
 * state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

#define JOB_PAYLOAD_MAX_BYTES 65536
#define JOB_PRIORITY_MIN (-100)
#define JOB_PRIORITY_MAX 100
#define JOB_ATTEMPTS_MIN 1
#define JOB_ATTEMPTS_MAX 25
#define JOB_TYPE_MAX 100

static struct eccr_stmt job_get = {
	.sql = "SELECT eccr_job_json(j) FROM jobs j WHERE j.id = $1::uuid",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

/* No row comes back when $1 names an episode that does not exist.  The
 * episode is locked FOR KEY SHARE, so a concurrent delete (which locks it
 * FOR UPDATE) either waits for this job to commit or makes it fail. */
static struct eccr_stmt job_create = {
	.sql =
	"WITH ins AS ("
	"  INSERT INTO jobs (episode_id, type, payload, priority, max_attempts,"
	"                    run_at, created_by)"
	"  SELECT $1::uuid, $2, $3::jsonb, $4::int, $5::int,"
	"         coalesce($6::timestamptz, now()), $7"
	"  WHERE $1::uuid IS NULL OR EXISTS (SELECT 1 FROM episodes e"
	"        WHERE e.id = $1::uuid FOR KEY SHARE)"
	"  RETURNING *),"
	" ev AS ("
	"  INSERT INTO events (type, actor_id, actor_name, resource_type,"
	"                      resource_id, episode_id, data)"
	"  SELECT 'job_created', $7, NULLIF($8, ''), 'job', ins.id::text,"
	"         ins.episode_id, jsonb_build_object('job_id', ins.id, 'type', ins.type)"
	"  FROM ins RETURNING id),"
	" out AS (SELECT eccr_job_json(ROW(ins.*)::jobs) AS body, ins.id, ev.id AS event_id"
	"         FROM ins, ev),"
	ECCR_IDEM_STORE("$7", "$9", "$10", "201", "'jobs/' || out.id", "NULL", "out.body", "out")
	"SELECT out.body, out.id, out.event_id, " ECCR_IDEM_STORED_SQL " FROM out",
	.nparams = 10,
};

/* Result of retry and cancel: the state found, the job after the
 * statement, the event id (NULL when nothing changed) and whether the
 * answer was kept for an Idempotency-Key (only when something changed). */
#define JOB_TRANSITION_RESULT \
	" out AS (SELECT eccr_job_json(ROW(upd.*)::jobs) AS body FROM upd)," \
	ECCR_IDEM_STORE("$2", "$4", "$5", "200", "NULL", "NULL", "out.body", "out") \
	"SELECT cur.status," \
	"       coalesce((SELECT body FROM out), eccr_job_json(ROW(cur.*)::jobs))," \
	"       (SELECT id FROM ev), " ECCR_IDEM_STORED_SQL " " \
	"FROM cur"

#define JOB_EVENT(type) \
	" ev AS (" \
	"  INSERT INTO events (type, actor_id, actor_name, resource_type," \
	"                      resource_id, episode_id, data)" \
	"  SELECT '" type "', $2, NULLIF($3, ''), 'job', upd.id::text," \
	"         upd.episode_id, jsonb_build_object('job_id', upd.id)" \
	"  FROM upd RETURNING id),"

static struct eccr_stmt job_retry = {
	.sql =
	"WITH cur AS (SELECT * FROM jobs WHERE id = $1::uuid FOR UPDATE),"
	" upd AS ("
	"  UPDATE jobs j SET status = 'queued', attempts = 0, run_at = now(),"
	"   cancel_requested = false, last_error = NULL, finished_at = NULL,"
	"   progress = 0, locked_by = NULL, locked_until = NULL, updated_at = now()"
	"  FROM cur WHERE j.id = cur.id AND cur.status IN ('failed', 'cancelled')"
	"  RETURNING j.*),"
	JOB_EVENT("job_retried")
	JOB_TRANSITION_RESULT,
	.nparams = 5,
};

/* queued: cancelled at once.  running: ask the handler to stop, once (a
 * repeated cancel changes nothing and emits nothing). */
static struct eccr_stmt job_cancel = {
	.sql =
	"WITH cur AS (SELECT * FROM jobs WHERE id = $1::uuid FOR UPDATE),"
	" upd AS ("
	"  UPDATE jobs j SET"
	"   status = CASE WHEN cur.status = 'queued' THEN 'cancelled' ELSE j.status END,"
	"   finished_at = CASE WHEN cur.status = 'queued' THEN now() ELSE j.finished_at END,"
	"   cancel_requested = CASE WHEN cur.status = 'running' THEN true"
	"                      ELSE j.cancel_requested END,"
	"   updated_at = now()"
	"  FROM cur WHERE j.id = cur.id AND (cur.status = 'queued' OR"
	"   (cur.status = 'running' AND NOT cur.cancel_requested))"
	"  RETURNING j.*),"
	JOB_EVENT("job_cancelled")
	JOB_TRANSITION_RESULT,
	.nparams = 5,
};

int eccr_jobs_register(void)
{
	struct eccr_stmt *all[] = { &job_get, &job_create, &job_retry, &job_cancel };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ job types */

static int cmp_plugin_type(const void *a, const void *b)
{
	const struct eccr_plugin_instance *const *x = a, *const *y = b;

	return strcmp((*x)->desc.job_type, (*y)->desc.job_type);
}

/* The loaded job plugins sorted by type, one per type; returns the count. */
static size_t job_plugins(const struct eccr_plugins *ps,
    const struct eccr_plugin_instance *out[ECCR_PLUGIN_MAX])
{
	size_t n = 0, u = 0;

	for (size_t i = 0; i < ps->n && n < ECCR_PLUGIN_MAX; i++)
		if (ps->v[i]->desc.kind == ECCR_PLUGIN_JOB && ps->v[i]->desc.job_type != NULL)
			out[n++] = ps->v[i];
	qsort(out, n, sizeof out[0], cmp_plugin_type);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(out[u - 1]->desc.job_type, out[i]->desc.job_type) != 0)
			out[u++] = out[i];
	return u;
}

static bool job_type_known(const struct eccr_plugins *ps, const char *type)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i]->desc.kind == ECCR_PLUGIN_JOB && ps->v[i]->desc.job_type != NULL &&
		    strcmp(ps->v[i]->desc.job_type, type) == 0)
			return true;
	return false;
}

void eccr_job_types(struct eccr_ctx *c)
{
	const struct eccr_plugin_instance *v[ECCR_PLUGIN_MAX];
	struct eccr_buf *b = &c->scratch;
	size_t n;

	if (!eccr_no_unknown_query(c))
		return;
	n = job_plugins(&c->app->plugins, v);
	eccr_buf_reset(b);
	eccr_buf_adds(b, "{\"items\":[");
	for (size_t i = 0; i < n; i++) {
		const char *t = v[i]->desc.job_type;
		const char *d = v[i]->desc.description ? v[i]->desc.description : "";

		eccr_buf_adds(b, i ? ",{\"type\":" : "{\"type\":");
		eccr_buf_add_json_str(b, t, strlen(t));
		eccr_buf_adds(b, ",\"description\":");
		eccr_buf_add_json_str(b, d, strlen(d));
		eccr_buf_addc(b, '}');
	}
	eccr_buf_adds(b, "]}");
	if (b->oom) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	eccr_resp_json(&c->req, 200, b->p, b->len);
}

/* ------------------------------------------------------------ create */

/* A validated POST /jobs body as text parameters ($1..$6). */
struct job_input {
	const char *episode_id;      /* NULL: none */
	const char *type;
	const char *payload;
	const char *run_at;          /* NULL: now */
	char episode_buf[37];
	char priority[16];
	char max_attempts[16];
};

static bool get_int(struct eccr_valid *v, const char *field, json_object *o,
    int64_t min, int64_t max, char *out, size_t outlen)
{
	int64_t n;

	if (o == NULL || !json_object_is_type(o, json_type_int) ||
	    (n = json_object_get_int64(o)) < min || n > max) {
		eccr_valid_add(v, field, "must be an integer from %lld to %lld",
		    (long long)min, (long long)max);
		return false;
	}
	snprintf(out, outlen, "%lld", (long long)n);
	return true;
}

static void type_choices(const struct eccr_plugins *ps, char *out, size_t outlen)
{
	const struct eccr_plugin_instance *v[ECCR_PLUGIN_MAX];
	size_t n = job_plugins(ps, v), used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
		    i ? ", " : "", v[i]->desc.job_type);
}

static void parse_type(struct eccr_ctx *c, struct eccr_valid *v, json_object *o,
    struct job_input *in)
{
	char choices[128];
	size_t len;

	if (o == NULL) {
		eccr_valid_add(v, "type", "is required");
		return;
	}
	if (!eccr_json_get_string(v, "type", o, 1, JOB_TYPE_MAX, false, &in->type, &len))
		return;
	if (job_type_known(&c->app->plugins, in->type))
		return;
	type_choices(&c->app->plugins, choices, sizeof choices);
	if (choices[0] == '\0')
		eccr_valid_add(v, "type", "no job types are available: no job plugin is loaded");
	else
		eccr_valid_add(v, "type", "must be one of: %s", choices);
	in->type = NULL;
}

static bool job_input_parse(struct eccr_ctx *c, struct eccr_valid *v,
    struct job_input *in)
{
	static const char *const allowed[] = {
		"type", "episode_id", "payload", "priority", "max_attempts", "run_at", NULL
	};
	json_object *body = c->body, *o;
	size_t len;

	memset(in, 0, sizeof *in);
	snprintf(in->priority, sizeof in->priority, "0");
	snprintf(in->max_attempts, sizeof in->max_attempts, "3");
	in->payload = "{}";
	eccr_json_only_fields(v, body, allowed);

	parse_type(c, v, json_object_object_get_ex(body, "type", &o) ? o : NULL, in);
	if (json_object_object_get_ex(body, "episode_id", &o) && o != NULL) {
		if (!json_object_is_type(o, json_type_string) ||
		    !eccr_uuid_normalize(json_object_get_string(o), in->episode_buf) ||
		    json_object_get_string_len(o) != 36)
			eccr_valid_add(v, "episode_id", "must be a UUID");
		else
			in->episode_id = in->episode_buf;
	}
	if (json_object_object_get_ex(body, "payload", &o)) {
		const char *s = NULL;

		if (o == NULL || !json_object_is_type(o, json_type_object))
			eccr_valid_add(v, "payload", "must be a JSON object");
		else if ((s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN,
		    &len)) == NULL || len > JOB_PAYLOAD_MAX_BYTES)
			eccr_valid_add(v, "payload", "must be at most %d bytes as JSON",
			    JOB_PAYLOAD_MAX_BYTES);
		else
			in->payload = s;
	}
	if (json_object_object_get_ex(body, "priority", &o))
		get_int(v, "priority", o, JOB_PRIORITY_MIN, JOB_PRIORITY_MAX,
		    in->priority, sizeof in->priority);
	if (json_object_object_get_ex(body, "max_attempts", &o))
		get_int(v, "max_attempts", o, JOB_ATTEMPTS_MIN, JOB_ATTEMPTS_MAX,
		    in->max_attempts, sizeof in->max_attempts);
	if (json_object_object_get_ex(body, "run_at", &o)) {
		if (o == NULL || !json_object_is_type(o, json_type_string) ||
		    !eccr_rfc3339_valid(json_object_get_string(o),
		    (size_t)json_object_get_string_len(o)))
			eccr_valid_add(v, "run_at", "must be an RFC 3339 date-time "
			    "such as 2026-11-24T13:37:00Z");
		else
			in->run_at = json_object_get_string(o);
	}
	return v->n == 0;
}

void eccr_jobs_create(struct eccr_ctx *c)
{
	struct job_input in;
	struct eccr_valid v = { 0 };
	const char *params[10];
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_no_unknown_query(c) || !eccr_require_role(c, ECCR_ROLE_EDITOR) ||
	    !eccr_read_json_object(c))
		return;
	if (!job_input_parse(c, &v, &in)) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	if (!eccr_idem_begin(c))
		return;
	params[0] = in.episode_id;
	params[1] = in.type;
	params[2] = in.payload;
	params[3] = in.priority;
	params[4] = in.max_attempts;
	params[5] = in.run_at;
	params[6] = c->req.who.sub;
	params[7] = c->req.who.name;
	params[8] = eccr_idem_key_param(c);
	params[9] = eccr_idem_hash_param(c);
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &job_create, params, &res)) != ECCR_DB_OK) {
		if (e == ECCR_DB_INVALID && in.run_at != NULL) {
			/* the only value PostgreSQL could still refuse */
			eccr_valid_add(&v, "run_at", "is not a date-time PostgreSQL accepts");
			eccr_problem_valid(&c->req, &v);
		} else {
			eccr_db_problem(c, e);
		}
		return;
	}
	if (PQntuples(res) == 0) {
		eccr_valid_add(&v, "episode_id", "episode %s does not exist", in.episode_id);
		eccr_problem_valid(&c->req, &v);
		PQclear(res);
		return;
	}
	eccr_idem_stored(c, res, 0, 3);
	eccr_resp_header(&c->req, "Location", "%s/jobs/%s",
	    c->app->cfg.server.base_path, PQgetvalue(res, 0, 1));
	eccr_resp_json(&c->req, 201, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
	eccr_event_committed(c, res, 0, 2);
	PQclear(res);
}

/* ------------------------------------------------------------ read */

void eccr_jobs_get(struct eccr_ctx *c)
{
	char id[37];
	const char *params[1] = { id };
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c))
		return;
	if ((e = eccr_db_exec(c->db, &job_get, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0)
		eccr_problem(&c->req, 404, "not_found", "job %s not found", id);
	else
		eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0),
		    strlen(PQgetvalue(res, 0, 0)));
	PQclear(res);
}

/* ------------------------------------------------------------ retry, cancel */

static void transition(struct eccr_ctx *c, struct eccr_stmt *st, bool retry)
{
	char id[37];
	const char *params[5];
	const char *status, *json;
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR) || !eccr_empty_body(c) ||
	    !eccr_idem_begin(c))
		return;
	params[0] = id;
	params[1] = c->req.who.sub;
	params[2] = c->req.who.name;
	params[3] = eccr_idem_key_param(c);
	params[4] = eccr_idem_hash_param(c);
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0) {
		eccr_problem(&c->req, 404, "not_found", "job %s not found", id);
		PQclear(res);
		return;
	}
	eccr_idem_stored(c, res, 0, 3);
	status = PQgetvalue(res, 0, 0);
	if (retry && strcmp(status, "failed") != 0 && strcmp(status, "cancelled") != 0)
		eccr_problem(&c->req, 409, "conflict", "job %s is %s; only a failed or "
		    "cancelled job can be retried", id, status);
	else if (!retry && strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
		eccr_problem(&c->req, 409, "conflict", "job %s is %s; only a queued or "
		    "running job can be cancelled", id, status);
	else {
		json = PQgetvalue(res, 0, 1);
		eccr_resp_json(&c->req, 200, json, strlen(json));
		eccr_event_committed(c, res, 0, 2);  /* NULL for a repeated cancel */
	}
	PQclear(res);
}

void eccr_jobs_retry(struct eccr_ctx *c)
{
	transition(c, &job_retry, true);
}

void eccr_jobs_cancel(struct eccr_ctx *c)
{
	transition(c, &job_cancel, false);
}
