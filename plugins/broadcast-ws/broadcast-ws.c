/* broadcast-ws - hands every event to the WebSocket hubs (eccr-wsd) with
 * PostgreSQL's pg_notify, so each hub on each host hears it on its LISTEN
 * connection.  No broker of our own: PostgreSQL already fans out.
 *
 * [plugin.broadcast-ws]
 * conninfo =               ; default: the core's database.conninfo
 * channel =                ; default: the core's wsd.channel
 * max_payload_bytes = 7900 ; larger envelopes are announced by id
 * events = *
 *
 * NOTIFY payloads must stay under 8000 bytes; an envelope over
 * max_payload_bytes is sent as "id:<event id>" and the hub reads it back
 * from `events`.  A transient event (not in `events`) that large cannot be
 * sent and is dropped with a warning: transient events may be lost.
 * emit() is never called concurrently (plugin.h), so one connection is
 * enough; it is re-opened when it breaks, and an event that could not be
 * notified is RETRY, which the outbox redelivers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <eccr/plugin.h>

#define NOTIFY_LIMIT 7999   /* PostgreSQL's payload limit is < 8000 bytes */

struct broadcast {
	const struct eccr_host *host;
	char *conninfo, *channel;
	size_t max_payload;
	PGconn *conn;
	int down_logged;
};

static const struct eccr_plugin_option options[] = {
	{ "conninfo", ECCR_OPT_STRING, NULL, 0, 0,
	  "libpq connection string (default: database.conninfo)" },
	{ "channel", ECCR_OPT_STRING, NULL, 0, 0,
	  "NOTIFY channel the hubs LISTEN on (default: wsd.channel)" },
	{ "max_payload_bytes", ECCR_OPT_INT, "7900", 256, NOTIFY_LIMIT,
	  "envelopes larger than this are announced by id" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static void broadcast_fini(void *state)
{
	struct broadcast *b = state;

	if (!b)
		return;
	PQfinish(b->conn);
	free(b->conninfo);
	free(b->channel);
	free(b);
}

static char *dup_or_core(const struct eccr_host *host, const char *key, const char *core_key)
{
	const char *v = host->config(host, key);

	if (!v || !*v)
		v = host->core_config(host, core_key);
	return strdup(v ? v : "");
}

static int broadcast_init(const struct eccr_host *host, void **state)
{
	struct broadcast *b = calloc(1, sizeof *b);
	const char *max = host->config(host, "max_payload_bytes");

	if (!b)
		return -1;
	b->host = host;
	b->conninfo = dup_or_core(host, "conninfo", "database.conninfo");
	b->channel = dup_or_core(host, "channel", "wsd.channel");
	b->max_payload = (size_t)strtoul(max ? max : "7900", NULL, 10);
	if (!b->conninfo || !b->channel || !*b->channel || strlen(b->channel) > 63) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "channel must be 1..63 bytes");
		broadcast_fini(b);
		return -1;
	}
	*state = b;
	return 0;
}

static PGconn *connection(struct broadcast *b)
{
	/* Keepalives and a TCP user timeout (before dbname, so the conninfo
	 * may override them): a half-open connection fails in about a minute
	 * instead of blocking emit() for the kernel's quarter of an hour. */
	const char *keys[] = {
	    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "tcp_user_timeout", "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = {
	    "1", "30", "10", "3", "60000", b->conninfo, "eccr-broadcast-ws", "5", NULL };

	if (b->conn && PQstatus(b->conn) == CONNECTION_OK)
		return b->conn;
	PQfinish(b->conn);
	b->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(b->conn) != CONNECTION_OK) {
		if (!b->down_logged)
			b->host->log(b->host, ECCR_PLUGIN_LOG_WARNING, "cannot connect: %s",
			    PQerrorMessage(b->conn));
		b->down_logged = 1;
		PQfinish(b->conn);
		b->conn = NULL;
		return NULL;
	}
	b->down_logged = 0;
	return b->conn;
}

static int notify(struct broadcast *b, const char *payload)
{
	const char *params[2] = { b->channel, payload };
	PGconn *c = connection(b);
	PGresult *r;
	int ok;

	if (!c)
		return ECCR_EMIT_RETRY;
	r = PQexecParams(c, "SELECT pg_notify($1, $2)", 2, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		b->host->log(b->host, ECCR_PLUGIN_LOG_WARNING, "pg_notify failed: %s",
		    PQerrorMessage(c));
	PQclear(r);
	if (!ok && PQstatus(c) != CONNECTION_OK) {
		PQfinish(b->conn);
		b->conn = NULL;
	}
	return ok ? ECCR_EMIT_OK : ECCR_EMIT_RETRY;
}

static int broadcast_emit(void *state, const struct eccr_event *ev)
{
	struct broadcast *b = state;
	char ref[32];

	if (ev->json_len <= b->max_payload)
		return notify(b, ev->json);
	if (ev->transient || ev->id <= 0) {
		b->host->log(b->host, ECCR_PLUGIN_LOG_WARNING,
		    "transient %s event of %zu bytes is too large to broadcast; dropped",
		    ev->type, ev->json_len);
		return ECCR_EMIT_FAIL;
	}
	snprintf(ref, sizeof ref, "id:%" PRId64, ev->id);
	return notify(b, ref);
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "broadcast-ws",
	.version = "1.0.0",
	.description = "events to the WebSocket hubs (eccr-wsd) through PostgreSQL NOTIFY",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = broadcast_init,
	.fini = broadcast_fini,
	.emit = broadcast_emit,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
