/* health.c - GET /health: is this process able to serve? */
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
	PGresult *res = NULL;
	enum eccr_db_err e = eccr_db_exec(c->db, &health_ping, NULL, &res);
	static const char ok[] =
	    "{\"status\":\"ok\",\"database\":\"ok\",\"plugins\":{}}";
	static const char down[] =
	    "{\"status\":\"degraded\",\"database\":\"unavailable\",\"plugins\":{}}";

	PQclear(res);
	if (!eccr_no_unknown_query(c))
		return;
	if (e == ECCR_DB_OK) {
		eccr_resp_json(&c->req, 200, ok, sizeof ok - 1);
	} else {
		eccr_resp_header(&c->req, "Retry-After", "5");
		eccr_resp_json(&c->req, 503, down, sizeof down - 1);
	}
}
