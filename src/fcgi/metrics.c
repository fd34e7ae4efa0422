/* metrics.c - GET /metrics: the counters of every ECCR process on this
 * host (src/lib/metrics.c adds up their files) and the outbox and job
 * gauges, read from PostgreSQL at scrape time through partial indexes
 * that cover exactly the rows counted: events_undelivered_idx,
 * event_deliveries_due and event_deliveries_dead for the outbox;
 * jobs_ready (status = 'queued') and jobs_leases (status = 'running') for
 * the jobs.  Finished jobs (succeeded, failed, cancelled) are never
 * counted: they are the history, millions of rows on a busy site, and
 * counting them would read the whole table on every scrape.  So the job
 * gauges cost what the live queue holds, as the claims already do. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "metrics.h"

static struct eccr_stmt outbox_gauges = {
	.sql = "SELECT (SELECT count(*) FROM events WHERE delivered_at IS NULL),"
	       " (SELECT count(*) FROM event_deliveries WHERE status = 'retry'),"
	       " extract(epoch FROM now() - least("
	       "   (SELECT created_at FROM events WHERE delivered_at IS NULL ORDER BY id LIMIT 1),"
	       "   (SELECT min(created_at) FROM event_deliveries WHERE status = 'retry')))::float8,"
	       " extract(epoch FROM now() - (SELECT min(run_at) FROM jobs"
	       "   WHERE status = 'queued' AND run_at <= now()))::float8",
	.nparams = 0, .flags = ECCR_STMT_READ,
};

/* One aggregate per partial index: a status IN (...) matches neither
 * index's predicate and reads the whole table.  Measured on 2 million
 * finished jobs, 5,000 queued and 50 running: 9 ms (index scans of
 * jobs_ready and jobs_leases) against 350 ms (a parallel seq scan); the
 * oldest-due query above is an index-only scan of jobs_ready, 3 ms.
 * The types are those of the loaded job plugins, and any left over from
 * plugins since unloaded: LIMIT keeps a bound on the series all the same. */
static struct eccr_stmt jobs_by_status = {
	.sql = "SELECT 'queued'::text, type, count(*) FROM jobs WHERE status = 'queued' GROUP BY type"
	       " UNION ALL"
	       " SELECT 'running'::text, type, count(*) FROM jobs WHERE status = 'running' GROUP BY type"
	       " ORDER BY 2, 1 LIMIT 64",
	.nparams = 0, .flags = ECCR_STMT_READ,
};
_Static_assert(ECCR_METRICS_JOB_ROWS == 64, "jobs_by_status's LIMIT is ECCR_METRICS_JOB_ROWS");

static struct eccr_stmt dead_by_sink = {
	.sql = "SELECT sink, count(*) FROM event_deliveries WHERE status = 'dead'"
	       " GROUP BY sink ORDER BY sink LIMIT 32",
	.nparams = 0, .flags = ECCR_STMT_READ,
};

int eccr_metrics_register(void)
{
	return eccr_db_register(&outbox_gauges) == 0 && eccr_db_register(&dead_by_sink) == 0 &&
	    eccr_db_register(&jobs_by_status) == 0 ? 0 : -1;
}

static int cmp_job_row(const void *a, const void *b)
{
	const struct eccr_metrics_job_row *x = a, *y = b;
	int d = strcmp(x->type, y->type);

	return d != 0 ? d : strcmp(x->status, y->status);
}

/* A zero for each loaded job type and live status without jobs, so that
 * the series of a quiet type reads 0 instead of vanishing. */
static void add_idle_job_types(const struct eccr_plugins *ps, struct eccr_metrics_gauges *g)
{
	static const char *const live[] = { "queued", "running" };
	size_t i, k, n, before = g->njobs;

	for (i = 0; i < ps->n; i++) {
		const char *type = ps->v[i]->desc.job_type;

		if (ps->v[i]->desc.kind != ECCR_PLUGIN_JOB || type == NULL)
			continue;
		for (k = 0; k < 2; k++) {
			for (n = 0; n < g->njobs; n++)
				if (strcmp(g->jobs[n].status, live[k]) == 0 &&
				    strncmp(g->jobs[n].type, type, sizeof g->jobs[n].type - 1) == 0)
					break;
			if (n < g->njobs || g->njobs == ECCR_METRICS_JOB_ROWS)
				continue;
			snprintf(g->jobs[n].status, sizeof g->jobs[n].status, "%s", live[k]);
			snprintf(g->jobs[n].type, sizeof g->jobs[n].type, "%s", type);
			g->jobs[n].count = 0;
			g->njobs++;
		}
	}
	if (g->njobs > before)
		qsort(g->jobs, g->njobs, sizeof g->jobs[0], cmp_job_row);
}

static bool read_gauges(struct eccr_ctx *c, struct eccr_metrics_gauges *g)
{
	PGresult *res;
	int i;

	if (eccr_db_exec(c->db, &outbox_gauges, NULL, &res) != ECCR_DB_OK)
		return false;
	g->backlog_events = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	g->retry_deliveries = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	g->oldest_age_s = PQgetisnull(res, 0, 2) ? -1 : strtod(PQgetvalue(res, 0, 2), NULL);
	g->oldest_queued_s = PQgetisnull(res, 0, 3) ? -1 : strtod(PQgetvalue(res, 0, 3), NULL);
	PQclear(res);
	if (eccr_db_exec(c->db, &dead_by_sink, NULL, &res) != ECCR_DB_OK)
		return false;
	for (i = 0; i < PQntuples(res) && i < ECCR_METRICS_SINKS; i++) {
		snprintf(g->dead[i].sink, sizeof g->dead[i].sink, "%s", PQgetvalue(res, i, 0));
		g->dead[i].count = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	g->ndead = (size_t)i;
	PQclear(res);
	if (eccr_db_exec(c->db, &jobs_by_status, NULL, &res) != ECCR_DB_OK)
		return false;
	for (i = 0; i < PQntuples(res) && i < ECCR_METRICS_JOB_ROWS; i++) {
		snprintf(g->jobs[i].status, sizeof g->jobs[i].status, "%s", PQgetvalue(res, i, 0));
		snprintf(g->jobs[i].type, sizeof g->jobs[i].type, "%s", PQgetvalue(res, i, 1));
		g->jobs[i].count = strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	g->njobs = (size_t)i;
	PQclear(res);
	add_idle_job_types(&c->app->plugins, g);
	return true;
}

/* The caller may read /metrics: true, or false with 401/403 queued. */
static bool allowed(struct eccr_ctx *c)
{
	bool public_ = c->app->cfg.metrics.public_;
	int gate;

	if (!public_ && !eccr_authenticate(c))
		return false;           /* 401 (or 500) queued, with WWW-Authenticate */
	gate = eccr_metrics_gate(public_, c->req.authenticated,
	    c->req.who.role >= ECCR_ROLE_ADMIN);
	if (gate == 0)
		return true;
	eccr_problem(&c->req, gate, gate == 401 ? "unauthorized" : "forbidden",
	    "/metrics needs the admin role (or metrics.public = true)");
	return false;
}

void eccr_metrics(struct eccr_ctx *c)
{
	struct eccr_metrics_region *sum;
	struct eccr_metrics_gauges *g;
	char err[256];

	if (!allowed(c) || !eccr_no_unknown_query(c))
		return;
	/* About 40 KiB each: on the heap, not on a request thread's stack. */
	sum = malloc(sizeof *sum);
	g = calloc(1, sizeof *g);
	if (sum == NULL || g == NULL) {
		free(sum);
		free(g);
		eccr_problem(&c->req, 500, "internal", "out of memory");
		return;
	}
	if (eccr_metrics_collect(c->app->cfg.metrics.dir, sum, &g->processes, err,
	    sizeof err) != 0)
		eccr_warn("/metrics: %s", err);
	g->db_ok = read_gauges(c, g);
	eccr_buf_reset(&c->scratch);
	eccr_metrics_format(&c->scratch, sum, g);
	free(sum);
	free(g);
	if (c->scratch.oom) {
		eccr_problem(&c->req, 500, "internal", "out of memory");
		return;
	}
	eccr_resp_header(&c->req, "Cache-Control", "no-store");
	eccr_resp_stream_begin(&c->req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    (int64_t)c->scratch.len);
	if (c->req.method != ECCR_HEAD)
		(void)eccr_resp_stream_write(&c->req, c->scratch.p, c->scratch.len);
}
