/* metrics.c - GET /metrics: the counters of every ECCR process on this
 * host (src/lib/metrics.c adds up their files) and the outbox gauges,
 * read from PostgreSQL at scrape time with index-only lookups: the
 * partial indexes events_undelivered_idx, event_deliveries_due and
 * event_deliveries_dead cover exactly the rows counted. */
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
	       "   (SELECT min(created_at) FROM event_deliveries WHERE status = 'retry')))::float8",
	.nparams = 0, .flags = ECCR_STMT_READ,
};

static struct eccr_stmt dead_by_sink = {
	.sql = "SELECT sink, count(*) FROM event_deliveries WHERE status = 'dead'"
	       " GROUP BY sink ORDER BY sink LIMIT 32",
	.nparams = 0, .flags = ECCR_STMT_READ,
};

int eccr_metrics_register(void)
{
	return eccr_db_register(&outbox_gauges) == 0 && eccr_db_register(&dead_by_sink) == 0
	    ? 0 : -1;
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
	PQclear(res);
	if (eccr_db_exec(c->db, &dead_by_sink, NULL, &res) != ECCR_DB_OK)
		return false;
	for (i = 0; i < PQntuples(res) && i < ECCR_METRICS_SINKS; i++) {
		snprintf(g->dead[i].sink, sizeof g->dead[i].sink, "%s", PQgetvalue(res, i, 0));
		g->dead[i].count = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	g->ndead = (size_t)i;
	PQclear(res);
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
