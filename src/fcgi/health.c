/* health.c - GET /health: is this process able to serve?  The database
 * is pinged; a plugin is "ok" once loaded and initialised (a sink that
 * cannot reach its own service answers RETRY and the outbox keeps the
 * events, so it never makes this process unhealthy). */
#include <string.h>

#include "app.h"

static struct eccr_stmt health_ping = {
	.sql = "SELECT 1", .nparams = 0, .flags = ECCR_STMT_READ,
};

int eccr_health_register(void)
{
	return eccr_db_register(&health_ping);
}

void eccr_health(struct eccr_ctx *c)
{
	const struct eccr_plugins *ps = &c->app->plugins;
	PGresult *res = NULL;
	enum eccr_db_err e;
	struct eccr_buf *b = &c->scratch;

	if (!eccr_no_unknown_query(c))
		return;
	e = eccr_db_exec(c->db, &health_ping, NULL, &res);
	PQclear(res);
	eccr_buf_reset(b);
	eccr_buf_adds(b, e == ECCR_DB_OK ? "{\"status\":\"ok\",\"database\":\"ok\",\"plugins\":{"
	    : "{\"status\":\"degraded\",\"database\":\"unavailable\",\"plugins\":{");
	for (size_t i = 0; i < ps->n; i++) {
		eccr_buf_adds(b, i ? "," : "");
		eccr_buf_add_json_str(b, ps->v[i]->name, strlen(ps->v[i]->name));
		eccr_buf_adds(b, ":\"ok\"");
	}
	eccr_buf_adds(b, "}}");
	if (e != ECCR_DB_OK)
		eccr_resp_header(&c->req, "Retry-After", "5");
	eccr_resp_json(&c->req, e == ECCR_DB_OK ? 200 : 503, b->p, b->len);
}
