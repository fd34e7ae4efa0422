/* health.c - GET /health: is this process able to serve?  The database
 * is pinged, and every plugin asked its "health" query (plugin.h): a
 * plugin whose own service is down (memcached for presence, the activity
 * store) is "unavailable" and makes the answer 503 "degraded", as API.md
 * says.  Plugins without that query are "ok" once loaded: a sink that
 * cannot reach its service answers RETRY and the outbox keeps the events. */
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
	bool up[ECCR_PLUGIN_MAX], ok;
	PGresult *res = NULL;
	enum eccr_db_err e;
	struct eccr_buf *b = &c->scratch;
	size_t i;

	if (!eccr_no_unknown_query(c))
		return;
	e = eccr_db_exec(c->db, &health_ping, NULL, &res);
	PQclear(res);
	ok = e == ECCR_DB_OK;
	for (i = 0; i < ps->n; i++)
		ok = (up[i] = eccr_plugin_healthy(ps->v[i])) && ok;
	eccr_buf_reset(b);
	eccr_buf_adds(b, ok ? "{\"status\":\"ok\"" : "{\"status\":\"degraded\"");
	eccr_buf_adds(b, e == ECCR_DB_OK ? ",\"database\":\"ok\",\"plugins\":{"
	    : ",\"database\":\"unavailable\",\"plugins\":{");
	for (i = 0; i < ps->n; i++) {
		eccr_buf_adds(b, i ? "," : "");
		eccr_buf_add_json_str(b, ps->v[i]->name, strlen(ps->v[i]->name));
		eccr_buf_adds(b, up[i] ? ":\"ok\"" : ":\"unavailable\"");
	}
	eccr_buf_adds(b, "}}");
	if (!ok)
		eccr_resp_header(&c->req, "Retry-After", "5");
	eccr_resp_json(&c->req, ok ? 200 : 503, b->p, b->len);
}
