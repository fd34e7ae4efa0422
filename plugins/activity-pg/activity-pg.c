/* activity-pg - the audit trail: every event with an activity action of
 * API.md becomes one row of activity_logs, keyed by the event id so a
 * redelivery changes nothing; and the reads behind GET /activity (with its
 * full-text search, q), GET /episodes/{id}/activity and GET /activity/stats.
 *
 * A row keeps what it names for the search: subject (the episode's title,
 * the file's name, the job's type, the announcement's title) and the
 * actor's name; PostgreSQL derives the indexed tsvector from them
 * (migration 0007).
 *
 * [plugin.activity-pg]
 * conninfo =          ; default: the core's database.conninfo
 * events = *
 *
 * emit() and emit_batch() (a batch's rows in one statement) are never
 * called concurrently and keep one connection; query()
 * runs on request threads and takes connections from a small pool. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include <eccr/plugin.h>

#define POOL_MAX 16
#define LIMIT_MAX 200
#define LIMIT_DEFAULT 50

struct activity {
	const struct eccr_host *host;
	char *conninfo;
	PGconn *emit_conn;
	pthread_mutex_t lock;
	PGconn *pool[POOL_MAX];
	int npool;
	int down_logged;
};

static const struct eccr_plugin_option options[] = {
	{ "conninfo", ECCR_OPT_STRING, NULL, 0, 0,
	  "libpq connection string of the audit database (default: database.conninfo)" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

/* API.md's event table: the activity action of each event type. */
static const struct {
	const char *type, *action;
} actions[] = {
	{ "episode_created", "CREATE" }, { "episode_updated", "UPDATE" },
	{ "episode_deleted", "DELETE" }, { "episode_viewed", "VIEW" },
	{ "job_created", "CREATE" }, { "job_retried", "RETRY" },
	{ "job_cancelled", "CANCEL" }, { "job_processor_started", "START" },
	{ "job_started", "START" }, { "job_completed", "COMPLETE" },
	{ "job_retry", "RETRY" }, { "job_failed", "FAILED" },
	{ "file_uploaded", "CREATE" }, { "file_deleted", "DELETE" },
	{ "file_download", "DOWNLOAD" }, { "announcement", "CREATE" },
};

static const char *action_of(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof actions / sizeof actions[0]; i++)
		if (strcmp(actions[i].type, type) == 0)
			return actions[i].action;
	return NULL;
}

/* A search of stop words only, or of punctuation, makes PostgreSQL say so
 * with a NOTICE; it matches nothing, which is the answer, not news for
 * the log. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_db(struct activity *a)
{
	/* Keepalives and a TCP user timeout (before dbname, so the conninfo
	 * may override them): a half-open connection fails in about a minute
	 * instead of blocking emit() for the kernel's quarter of an hour. */
	const char *keys[] = {
	    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "dbname", "application_name", "connect_timeout", "client_encoding", NULL };
	const char *vals[] = {
	    "1", "30", "10", "3", "60000", a->conninfo, "eccr-activity-pg", "5", "UTF8", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (PQstatus(c) != CONNECTION_OK) {
		if (!a->down_logged)
			a->host->log(a->host, ECCR_PLUGIN_LOG_WARNING, "cannot connect: %s",
			    PQerrorMessage(c));
		a->down_logged = 1;
		PQfinish(c);
		return NULL;
	}
	a->down_logged = 0;
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

/* A usable connection: reconnect when the server went away. */
static PGconn *ensure(struct activity *a, PGconn **slot)
{
	if (*slot != NULL && PQstatus(*slot) == CONNECTION_OK)
		return *slot;
	PQfinish(*slot);
	*slot = connect_db(a);
	return *slot;
}

static int activity_init(const struct eccr_host *host, void **state)
{
	const char *ci = host->config(host, "conninfo");
	struct activity *a = calloc(1, sizeof *a);
	PGresult *res;
	PGconn *c;
	int ok;

	if (a == NULL)
		return -1;
	a->host = host;
	if (ci == NULL)
		ci = host->core_config(host, "database.conninfo");
	a->conninfo = strdup(ci ? ci : "");
	pthread_mutex_init(&a->lock, NULL);
	*state = a;
	/* The table comes from the migrations; say so now rather than on
	 * every event.  An unreachable database is not fatal: it is retried. */
	if ((c = ensure(a, &a->emit_conn)) == NULL)
		return 0;
	res = PQexec(c, "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
	    " to_regclass('activity_logs') AND attname = 'search' AND NOT attisdropped)");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ok) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "table activity_logs is missing or older than "
		    "migration 0007: run eccrctl migrate up");
		PQfinish(a->emit_conn);
		free(a->conninfo);
		free(a);
		return -1;
	}
	return 0;
}

/* One row's columns from an event; see INSERT_HEAD. */
#define ROW_PARAMS 9
/* Rows per statement: well under PostgreSQL's 65535 parameters. */
#define BATCH_ROWS 1000
#define INSERT_HEAD \
	"INSERT INTO activity_logs (event_id, user_id, action, resource_type, resource_id," \
	" episode_id, metadata, created_at, actor_name, subject)" \
	" SELECT v.e::bigint, v.u, v.a, v.rt, v.ri, v.ep::uuid, v.m::jsonb, v.at::timestamptz," \
	"  NULLIF(v.an, ''), CASE v.rt WHEN 'episode' THEN v.m::jsonb->>'title'" \
	"   WHEN 'file' THEN v.m::jsonb->>'name' WHEN 'job' THEN v.m::jsonb->>'type'" \
	"   WHEN 'announcement' THEN v.m::jsonb->>'title' END" \
	" FROM (VALUES "
#define INSERT_TAIL ") v(e, u, a, rt, ri, ep, m, at, an) ON CONFLICT (event_id) DO NOTHING"

static void row_params(const struct eccr_event *ev, const char *action, const char **p)
{
	p[0] = ev->id > 0 ? ev->id_text : NULL;
	p[1] = ev->actor_id;
	p[2] = action;
	p[3] = ev->resource_type;
	p[4] = ev->resource_id;
	p[5] = ev->episode_id;
	p[6] = ev->data_json;
	p[7] = ev->occurred_at;
	p[8] = ev->actor_name;
}

/* Rows for n events in one statement: INSERT_HEAD, a VALUES list of
 * placeholders only (the values are bound), INSERT_TAIL.  PGRES result. */
static PGresult *insert_rows(PGconn *c, const char *const *p, int n)
{
	/* Each placeholder takes at most ",($" or "," "$", 10 digits and ")". */
	size_t cap = sizeof INSERT_HEAD + sizeof INSERT_TAIL + (size_t)n * ROW_PARAMS * 16;
	char *sql = malloc(cap);
	size_t len;
	PGresult *res;
	int i, k;

	if (sql == NULL)
		return NULL;
	len = (size_t)snprintf(sql, cap, "%s", INSERT_HEAD);
	for (i = 0; i < n; i++)
		for (k = 0; k < ROW_PARAMS; k++)
			len += (size_t)snprintf(sql + len, cap - len, "%s$%d%s",
			    k == 0 ? (i ? ",(" : "(") : ",", i * ROW_PARAMS + k + 1,
			    k == ROW_PARAMS - 1 ? ")" : "");
	snprintf(sql + len, cap - len, "%s", INSERT_TAIL);
	res = PQexecParams(c, sql, n * ROW_PARAMS, NULL, p, NULL, NULL, 0);
	free(sql);
	return res;
}

/* Class 22/23 (bad data, a constraint) will never succeed; anything else
 * may (the server went away, a deadlock). */
static int classify(PGresult *res)
{
	const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return code && (strncmp(code, "22", 2) == 0 || strncmp(code, "23", 2) == 0)
	    ? ECCR_EMIT_FAIL : ECCR_EMIT_RETRY;
}

static int activity_emit(void *state, const struct eccr_event *ev)
{
	struct activity *a = state;
	const char *action = action_of(ev->type);
	const char *p[ROW_PARAMS];
	PGresult *res;
	PGconn *c;
	int rc;

	if (action == NULL)
		return ECCR_EMIT_OK;            /* not an audited event */
	if ((c = ensure(a, &a->emit_conn)) == NULL)
		return ECCR_EMIT_RETRY;
	row_params(ev, action, p);
	res = insert_rows(c, p, 1);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		rc = ECCR_EMIT_OK;
	} else {
		rc = classify(res);
		a->host->log(a->host, ECCR_PLUGIN_LOG_WARNING, "event %s: %s", ev->id_text,
		    PQerrorMessage(c));
	}
	PQclear(res);
	return rc;
}

/* Every audited event of the batch in one statement, one round trip and
 * one commit; when that fails on one bad event, one at a time, so only it
 * fails.  An unreachable database is a RETRY for all, tried once. */
static void activity_emit_batch(void *state, const struct eccr_event *const *evs, size_t n,
    int *results)
{
	struct activity *a = state;
	const char **p;
	PGresult *res = NULL;
	PGconn *c = NULL;
	size_t i;
	int rows = 0, rc;

	if (n > BATCH_ROWS) {
		for (i = 0; i < n; i += BATCH_ROWS)
			activity_emit_batch(state, evs + i, n - i < BATCH_ROWS ? n - i : BATCH_ROWS,
			    results + i);
		return;
	}
	p = malloc(n * ROW_PARAMS * sizeof *p);
	for (i = 0; i < n; i++) {
		const char *action = action_of(evs[i]->type);

		results[i] = ECCR_EMIT_OK;      /* not audited: nothing to write */
		if (action != NULL && p != NULL)
			row_params(evs[i], action, p + (size_t)rows++ * ROW_PARAMS);
	}
	if (rows > 0 && p != NULL && (c = ensure(a, &a->emit_conn)) != NULL)
		res = insert_rows(c, p, rows);
	free(p);
	if (rows == 0 || PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return;
	}
	PQclear(res);
	rc = c == NULL || PQstatus(c) != CONNECTION_OK ? ECCR_EMIT_RETRY : -1;
	for (i = 0; i < n; i++)
		if (action_of(evs[i]->type) != NULL)
			results[i] = rc == -1 ? activity_emit(state, evs[i]) : rc;
}

/* ------------------------------------------------------------ queries */

static PGconn *pool_get(struct activity *a)
{
	PGconn *c = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->npool > 0)
		c = a->pool[--a->npool];
	pthread_mutex_unlock(&a->lock);
	return ensure(a, &c);
}

static void pool_put(struct activity *a, PGconn *c)
{
	if (c == NULL)
		return;
	if (PQstatus(c) == CONNECTION_OK) {
		pthread_mutex_lock(&a->lock);
		if (a->npool < POOL_MAX) {
			a->pool[a->npool++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&a->lock);
	}
	PQfinish(c);
}

static const char *arg(json_object *args, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(args, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Cursor: "<created_at epoch microseconds>.<id>", both decimal. */
static int parse_cursor(const char *s, char *micros, char *id)
{
	const char *dot;
	size_t n;

	if (s == NULL)
		return 0;
	dot = strchr(s, '.');
	if (dot == NULL || dot == s || dot - s > 20 || strlen(dot + 1) == 0 || strlen(dot + 1) > 20 ||
	    strspn(s, "0123456789") != (size_t)(dot - s) ||
	    strspn(dot + 1, "0123456789") != strlen(dot + 1))
		return -1;
	n = (size_t)(dot - s);
	memcpy(micros, s, n);
	micros[n] = '\0';
	strcpy(id, dot + 1);
	return 1;
}

/* An entry as the API shows it, and its cursor. */
#define ENTRY_COLUMNS \
	"json_build_object('id', a.id::text, 'event_id', a.event_id::text," \
	" 'user_id', a.user_id, 'action', a.action, 'resource_type', a.resource_type," \
	" 'resource_id', a.resource_id, 'episode_id', a.episode_id, 'metadata', a.metadata," \
	" 'created_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))::text," \
	" (extract(epoch FROM a.created_at) * 1000000)::bigint::text || '.' || a.id::text"

/* The filters of GET /activity, $1..$9; $10 is the limit. */
#define FILTERS \
	" ($1::text IS NULL OR a.user_id = $1)" \
	"   AND ($2::text IS NULL OR a.action = $2)" \
	"   AND ($3::text IS NULL OR a.resource_type = $3)" \
	"   AND ($4::text IS NULL OR a.resource_id = $4)" \
	"   AND ($5::uuid IS NULL OR a.episode_id = $5::uuid)" \
	"   AND ($6::timestamptz IS NULL OR a.created_at >= $6::timestamptz)" \
	"   AND ($7::timestamptz IS NULL OR a.created_at < $7::timestamptz)" \
	"   AND ($8::bigint IS NULL OR (a.created_at, a.id) <" \
	"        ('epoch'::timestamptz + $8::bigint * interval '1 microsecond', $9::bigint))"

#define NEWEST_FIRST " ORDER BY a.created_at DESC, a.id DESC"

#define LIST_SQL \
	"SELECT " ENTRY_COLUMNS " FROM activity_logs a WHERE" FILTERS NEWEST_FIRST " LIMIT $10::int"

/* The search ($11), in two steps, because the GIN index finds the matches
 * but not the newest ones, and PostgreSQL's guess between the two plans
 * goes badly wrong for a word that is common but not lately (a colleague
 * who left): walking back from the newest row then reads the whole table.
 * 1. near: walk the newest SEARCH_WALK_ROWS rows that pass the other
 *    filters, stopping at a page of matches: a common word ends here.
 * 2. far, only when near found less than a page: every match through the
 *    GIN index, sorted; its cost follows the word's matches, never the
 *    table's size.  Figures: docs/performance.md. */
#define SEARCH_WALK_ROWS "5000"
#define TSQUERY "websearch_to_tsquery('simple', $11)"
#define SEARCH_SQL \
	"WITH near AS MATERIALIZED (" \
	"  SELECT w.id, w.created_at FROM (" \
	"   SELECT a.id, a.created_at, a.search FROM activity_logs a WHERE" FILTERS NEWEST_FIRST \
	"   LIMIT " SEARCH_WALK_ROWS ") w" \
	"  WHERE w.search @@ " TSQUERY " ORDER BY w.created_at DESC, w.id DESC LIMIT $10::int)," \
	" far AS MATERIALIZED (" \
	"  SELECT a.id, a.created_at FROM activity_logs a" \
	"  WHERE (SELECT count(*) FROM near) < $10::int AND" FILTERS \
	"    AND a.search @@ " TSQUERY ")," \
	" hits AS (" \
	"  SELECT id FROM near WHERE (SELECT count(*) FROM near) >= $10::int" \
	"  UNION ALL (SELECT id FROM far ORDER BY created_at DESC, id DESC LIMIT $10::int))" \
	"SELECT " ENTRY_COLUMNS " FROM hits h JOIN activity_logs a ON a.id = h.id" NEWEST_FIRST

static char *dup_msg(const char *m)
{
	return strdup(m);
}

static int bad_args_from(PGresult *res, char **out)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (code != NULL && strncmp(code, "22", 2) == 0) {
		*out = dup_msg("since, until and episode_id must be an RFC 3339 timestamp and a UUID");
		return ECCR_QUERY_BAD_ARGS;
	}
	return ECCR_QUERY_UNAVAILABLE;
}

static int list(struct activity *a, json_object *args, char **out)
{
	char micros[24] = "", id[24] = "", limit[8];
	const char *p[11];
	json_object *lim;
	int64_t n = LIMIT_DEFAULT;
	int rc, i, rows;
	PGresult *res;
	PGconn *c;
	size_t len, cap;
	char *buf;

	if (json_object_object_get_ex(args, "limit", &lim))
		n = json_object_get_int64(lim);
	if (n < 1 || n > LIMIT_MAX)
		return *out = dup_msg("limit must be an integer from 1 to 200"), ECCR_QUERY_BAD_ARGS;
	if ((rc = parse_cursor(arg(args, "cursor"), micros, id)) < 0)
		return *out = dup_msg("the cursor is malformed"), ECCR_QUERY_BAD_ARGS;
	snprintf(limit, sizeof limit, "%d", (int)n + 1);
	p[0] = arg(args, "user_id");
	p[1] = arg(args, "action");
	p[2] = arg(args, "resource_type");
	p[3] = arg(args, "resource_id");
	p[4] = arg(args, "episode_id");
	p[5] = arg(args, "since");
	p[6] = arg(args, "until");
	p[7] = rc ? micros : NULL;
	p[8] = rc ? id : NULL;
	p[9] = limit;
	p[10] = arg(args, "q");
	if ((c = pool_get(a)) == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	res = p[10] != NULL ? PQexecParams(c, SEARCH_SQL, 11, NULL, p, NULL, NULL, 0)
	    : PQexecParams(c, LIST_SQL, 10, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = bad_args_from(res, out);
		PQclear(res);
		pool_put(a, c);
		return rc;
	}
	rows = PQntuples(res);
	cap = 64;
	for (i = 0; i < rows && i < n; i++)
		cap += (size_t)PQgetlength(res, i, 0) + 1;
	if ((buf = malloc(cap + 64)) == NULL) {
		PQclear(res);
		pool_put(a, c);
		return ECCR_QUERY_UNAVAILABLE;
	}
	len = (size_t)sprintf(buf, "{\"items\":[");
	for (i = 0; i < rows && i < n; i++)
		len += (size_t)sprintf(buf + len, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
	if (rows > n)
		sprintf(buf + len, "],\"next_cursor\":\"%s\"}", PQgetvalue(res, (int)n - 1, 1));
	else
		sprintf(buf + len, "],\"next_cursor\":null}");
	PQclear(res);
	pool_put(a, c);
	*out = buf;
	return ECCR_QUERY_OK;
}

#define STATS_DAYS_MAX 366

/* Counts over [since, until) (defaults: until now, since 30 days before
 * until), by action, by resource type and by UTC day: every day the
 * interval touches, days without activity included.  Row 0: "ok",
 * "reversed" or "too_long", and the document when ok; nothing is counted
 * unless the interval is valid. */
#define STATS_SQL \
	"WITH r AS (SELECT coalesce($2::timestamptz, u - interval '30 days') AS since, u AS until" \
	"           FROM (SELECT coalesce($3::timestamptz, now()) AS u) x)," \
	" d AS (SELECT g::date AS day FROM r, generate_series(" \
	"        date_trunc('day', r.since AT TIME ZONE 'UTC')," \
	"        date_trunc('day', (r.until AT TIME ZONE 'UTC') - interval '1 microsecond')," \
	"        interval '1 day') g WHERE r.since < r.until)," \
	" chk AS (SELECT CASE WHEN r.since > r.until THEN 'reversed'" \
	"                     WHEN (SELECT count(*) FROM d) > " STATS_DAYS_MAX_S " THEN 'too_long'" \
	"                     ELSE 'ok' END AS v FROM r)," \
	/* One pass over the rows: counts per day, action and resource type. */ \
	" g AS MATERIALIZED (SELECT (a.created_at AT TIME ZONE 'UTC')::date AS day, a.action," \
	"        a.resource_type, count(*) AS n FROM activity_logs a, r" \
	"   WHERE (SELECT v FROM chk) = 'ok' AND ($1::text IS NULL OR a.user_id = $1)" \
	"     AND a.created_at >= r.since AND a.created_at < r.until GROUP BY 1, 2, 3)," \
	" per_day AS (SELECT day, action, sum(n) AS n FROM g GROUP BY day, action)," \
	" days AS (SELECT d.day, coalesce(sum(p.n), 0) AS total," \
	"          coalesce(json_object_agg(p.action, p.n) FILTER (WHERE p.action IS NOT NULL)," \
	"                   '{}'::json) AS by_action" \
	"          FROM d LEFT JOIN per_day p ON p.day = d.day GROUP BY d.day)" \
	"SELECT (SELECT v FROM chk), CASE WHEN (SELECT v FROM chk) = 'ok' THEN json_build_object(" \
	"  'total', (SELECT coalesce(sum(n), 0) FROM g)," \
	"  'by_action', coalesce((SELECT json_object_agg(action, n) FROM" \
	"     (SELECT action, sum(n) AS n FROM g GROUP BY action) x), '{}'::json)," \
	"  'by_resource_type', coalesce((SELECT json_object_agg(resource_type, n) FROM" \
	"     (SELECT resource_type, sum(n) AS n FROM g GROUP BY resource_type) y), '{}'::json)," \
	"  'by_day', coalesce((SELECT json_agg(json_build_object('day', to_char(day, 'YYYY-MM-DD')," \
	"     'total', total, 'by_action', by_action) ORDER BY day) FROM days), '[]'::json))::text END"
#define STR_(x) #x
#define STR(x) STR_(x)
#define STATS_DAYS_MAX_S STR(STATS_DAYS_MAX)

static int stats(struct activity *a, json_object *args, char **out)
{
	const char *p[3] = { arg(args, "user_id"), arg(args, "since"), arg(args, "until") };
	PGresult *res;
	PGconn *c;
	int rc;

	if ((c = pool_get(a)) == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	res = PQexecParams(c, STATS_SQL, 3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = bad_args_from(res, out);
	} else if (strcmp(PQgetvalue(res, 0, 0), "reversed") == 0) {
		*out = dup_msg("since must not be after until");
		rc = ECCR_QUERY_BAD_ARGS;
	} else if (strcmp(PQgetvalue(res, 0, 0), "too_long") == 0) {
		*out = dup_msg("by_day would hold more than " STATS_DAYS_MAX_S " days: narrow since and until");
		rc = ECCR_QUERY_BAD_ARGS;
	} else {
		*out = strdup(PQgetvalue(res, 0, 1));
		rc = *out ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
	}
	PQclear(res);
	pool_put(a, c);
	return rc;
}

/* "health": can the activity store be reached (it may be another
 * database than the service's)?  One round trip on a pooled connection. */
static int health(struct activity *a)
{
	PGconn *c = pool_get(a);
	PGresult *res;
	bool ok;

	if (c == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	res = PQexec(c, "SELECT 1");
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	pool_put(a, c);
	return ok ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
}

static int activity_query(void *state, const char *what, const char *args_json, char **out)
{
	struct activity *a = state;
	json_object *args;
	int rc;

	if (strcmp(what, "health") == 0)
		return health(a);
	if (strcmp(what, "activity.list") != 0 && strcmp(what, "activity.stats") != 0)
		return ECCR_QUERY_NOT_MINE;
	if ((args = json_tokener_parse(args_json)) == NULL ||
	    !json_object_is_type(args, json_type_object)) {
		json_object_put(args);
		*out = dup_msg("arguments must be a JSON object");
		return ECCR_QUERY_BAD_ARGS;
	}
	rc = strcmp(what, "activity.list") == 0 ? list(a, args, out) : stats(a, args, out);
	json_object_put(args);
	return rc;
}

static void activity_fini(void *state)
{
	struct activity *a = state;
	int i;

	PQfinish(a->emit_conn);
	for (i = 0; i < a->npool; i++)
		PQfinish(a->pool[i]);
	pthread_mutex_destroy(&a->lock);
	free(a->conninfo);
	free(a);
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "activity-pg",
	.version = "1.0.0",
	.description = "audit trail in PostgreSQL (activity_logs) and the activity API",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = activity_init,
	.fini = activity_fini,
	.emit = activity_emit,
	.query = activity_query,
	.emit_batch = activity_emit_batch,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
