/* presence-memcache - who is looking at what, in memcached.
 *
 * [plugin.presence-memcache]
 * servers = 127.0.0.1:11211      ; one or several host:port, comma-separated
 * ttl_s = 60                     ; a viewer without heartbeat for this long is gone
 * key_prefix = eccr:presence:
 * connect_timeout_ms = 200
 * io_timeout_ms = 300
 * retry_s = 1                    ; a failed server is tried again after this
 * max_viewers = 1000             ; per resource
 * pool_size = 32                 ; memcached handles shared by request threads
 * sweep_s = 5                    ; presence.sweep walks the index at most this often
 * events = episode_deleted       ; recommended: the only event it acts on
 *
 * The viewers of one resource live in one key, KEY_PREFIX TYPE ":" ID
 * ("eccr:presence:episode:<uuid>"), as viewers.h describes.  eccr-fcgi asks
 * through query():
 *
 *   presence.heartbeat {resource_type, resource_id, user_id, name}
 *       -> {"joined":bool,"full":bool,"viewers":[...],"left":[],"expired":[...]}
 *   presence.leave     {resource_type, resource_id, user_id}
 *       -> {"viewers":[...],"left":[{user_id,name}] or [],"expired":[...]}
 *   presence.list      {resource_type, resource_id}
 *       -> {"viewers":[...],"left":[],"expired":[...]}
 *   presence.sweep     {}
 *       -> {"expired":[{resource_type,resource_id,user_id,name}...]}
 *
 * viewers are {"user_id","name","since","last_seen"} (RFC 3339); left and
 * expired {"user_id","name"}: the caller announces presence_joined and
 * presence_left from them.  Each expiry is reported by exactly one answer,
 * whichever query (of whichever process) finds it.
 *
 * So that an expiry is announced although nobody reads the resource any
 * more, the resources with viewers are indexed in SHARD_COUNT keys
 * KEY_PREFIX "index:" N (shard.h; a heartbeat that joins adds its resource)
 * and eccr-worker asks presence.sweep every second: at most once per
 * sweep_s per process it reads every indexed resource, as presence.list
 * would, answers the expiries it dropped and unindexes the resources left
 * empty (sweep.c); asked sooner it answers {"expired":[]} without touching
 * memcached.  A viewer's presence_left thus comes within about sweep_s of
 * its ttl running out.  The resource type "index" is reserved.
 *
 * Keys are spread over the servers (ketama).  While one is down, every key
 * that lives on it (viewers, index shards, deletes alike) goes to another
 * server of the pool, the same in every process (route.h, store.c), and
 * presence goes on; "health" still answers unavailable until every server
 * is back, so /health shows the pool degraded.  Back, a server gets its
 * keys again and what was written elsewhere meanwhile is not read: viewers
 * reappear at their next heartbeat, announced by one more presence_joined.
 * With every server down the queries answer ECCR_QUERY_UNAVAILABLE at once
 * (the breakers of store.c).
 *
 * It is a sink only to forget the viewers of a deleted episode at once
 * (episode_deleted); every other event is taken without work. */
#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <eccr/plugin.h>

#include "store.h"
#include "sweep.h"
#include "viewers.h"

#define PREFIX_MAX 100
#define TYPE_MAX 32
#define RID_MAX 64
#define ARGS_MAX 8192
/* A caller asking every sweep_s is not turned away by the jitter of its
 * own timer. */
#define SWEEP_SLACK_MS 50

struct presence {
	const struct eccr_host *host;
	struct store *store;
	char prefix[PREFIX_MAX + 1];
	struct sweep_index index;
	int64_t sweep_ms;
	atomic_llong last_sweep_ms;     /* monotonic; 0: never */
};

static const struct eccr_plugin_option options[] = {
	{ "servers", ECCR_OPT_STRING, "127.0.0.1:11211", 0, 0,
	  "memcached servers, host:port, comma-separated; keys are spread over them" },
	{ "ttl_s", ECCR_OPT_INT, "60", 1, 86400,
	  "seconds after the last heartbeat a viewer is dropped" },
	{ "key_prefix", ECCR_OPT_STRING, "eccr:presence:", 0, 0,
	  "prefix of every key (printable ASCII without spaces, at most 100)" },
	{ "connect_timeout_ms", ECCR_OPT_INT, "200", 1, 10000, "connect timeout" },
	{ "io_timeout_ms", ECCR_OPT_INT, "300", 1, 10000, "timeout of each read or write" },
	{ "retry_s", ECCR_OPT_INT, "1", 1, 600,
	  "seconds a server that failed is skipped before it is tried again" },
	{ "max_viewers", ECCR_OPT_INT, "1000", 1, 10000, "viewers kept per resource" },
	{ "pool_size", ECCR_OPT_INT, "32", 1, 1024,
	  "memcached handles shared by the request threads of one process" },
	{ "sweep_s", ECCR_OPT_INT, "5", 1, 3600,
	  "presence.sweep looks for expired viewers at most this often (per process)" },
	{ NULL, 0, NULL, 0, 0, NULL }
};

static int int_option(const struct eccr_host *host, const char *key)
{
	const char *v = host->config(host, key);

	return v ? atoi(v) : 0;     /* the host validated the range */
}

/* Printable ASCII without spaces: what a memcached text-protocol key may hold. */
static bool key_text(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static int presence_init(const struct eccr_host *host, void **state)
{
	const char *prefix = host->config(host, "key_prefix");
	struct store_config sc = {
		.servers = host->config(host, "servers"),
		.connect_timeout_ms = int_option(host, "connect_timeout_ms"),
		.io_timeout_ms = int_option(host, "io_timeout_ms"),
		.retry_s = int_option(host, "retry_s"),
		.pool_size = int_option(host, "pool_size"),
		.ttl_ms = (int64_t)int_option(host, "ttl_s") * 1000,
		.sweep_ms = (int64_t)int_option(host, "sweep_s") * 1000,
		.max_viewers = (size_t)int_option(host, "max_viewers"),
	};
	struct presence *p;

	if (prefix == NULL)
		prefix = "";
	if (strlen(prefix) > PREFIX_MAX || !key_text(prefix, strlen(prefix))) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "key_prefix must be at most %d printable "
		    "characters without spaces", PREFIX_MAX);
		return -1;
	}
	if ((p = calloc(1, sizeof *p)) == NULL)
		return -1;
	p->host = host;
	snprintf(p->prefix, sizeof p->prefix, "%s", prefix);
	if ((p->store = store_new(host, &sc)) == NULL) {
		free(p);
		return -1;
	}
	p->index.host = host;
	p->index.store = p->store;
	p->index.prefix = p->prefix;
	atomic_init(&p->index.full_logged, false);
	p->sweep_ms = sc.sweep_ms;
	atomic_init(&p->last_sweep_ms, 0);
	host->log(host, ECCR_PLUGIN_LOG_INFO, "viewers in memcached at %s, ttl %d s, sweep %d s",
	    sc.servers, (int)(sc.ttl_ms / 1000), (int)(sc.sweep_ms / 1000));
	*state = p;
	return 0;
}

static void presence_fini(void *state)
{
	struct presence *p = state;

	store_free(p->store);
	free(p);
}

/* The key of a resource; false when type or id could not be part of one
 * ("index" is the index's: shard.h). */
static bool make_key(const struct presence *p, const char *type, const char *id,
    char key[STORE_KEY_MAX + 1])
{
	size_t tl = strlen(type), il = strlen(id);

	for (size_t i = 0; i < tl; i++)
		if (!islower((unsigned char)type[i]) && type[i] != '_')
			return false;
	if (tl == 0 || tl > TYPE_MAX || il == 0 || il > RID_MAX || !key_text(id, il) ||
	    strcmp(type, "index") == 0)
		return false;
	return store_resource_key(p->prefix, type, id, key);
}

static int presence_emit(void *state, const struct eccr_event *ev)
{
	struct presence *p = state;
	char key[STORE_KEY_MAX + 1];

	/* Best effort: the viewers expire by themselves anyway, so a failure
	 * is not worth a redelivery. */
	if (strcmp(ev->type, "episode_deleted") == 0 && ev->resource_id != NULL &&
	    make_key(p, "episode", ev->resource_id, key))
		store_forget(p->store, key);
	return ECCR_EMIT_OK;
}

/* A string member of args, or NULL when absent, not a string, empty (unless
 * allowed), too long or holding a NUL. */
static const char *arg_str(json_object *args, const char *name, size_t max, bool empty_ok)
{
	json_object *o;
	const char *s;
	size_t len;

	if (!json_object_object_get_ex(args, name, &o) || !json_object_is_type(o, json_type_string))
		return NULL;
	s = json_object_get_string(o);
	len = (size_t)json_object_get_string_len(o);
	if ((len == 0 && !empty_ok) || len > max || strlen(s) != len)
		return NULL;
	return s;
}

static char *message(const char *text)
{
	return strdup(text);
}

/* {"user_id","name"} of each entry. */
static json_object *who_list(const struct viewers *vs)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; arr != NULL && i < vs->n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "user_id", json_object_new_string(vs->v[i].user_id));
		json_object_object_add(o, "name", json_object_new_string(vs->v[i].name));
		json_object_array_add(arr, o);
	}
	return arr;
}

static char *answer(enum store_op op, const struct store_outcome *out)
{
	json_object *root = json_object_new_object();
	char *text;

	if (op == STORE_TOUCH) {
		json_object_object_add(root, "joined", json_object_new_boolean(out->joined));
		json_object_object_add(root, "full", json_object_new_boolean(out->full));
	}
	json_object_object_add(root, "viewers", viewers_api(&out->now));
	json_object_object_add(root, "left", who_list(&out->left));
	json_object_object_add(root, "expired", who_list(&out->expired));
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return text;
}

static int op_of(const char *what, enum store_op *op)
{
	if (strcmp(what, "presence.heartbeat") == 0)
		*op = STORE_TOUCH;
	else if (strcmp(what, "presence.leave") == 0)
		*op = STORE_LEAVE;
	else if (strcmp(what, "presence.list") == 0)
		*op = STORE_LIST;
	else
		return -1;
	return 0;
}

static int run(struct presence *p, enum store_op op, json_object *args, char **out)
{
	const char *type = arg_str(args, "resource_type", TYPE_MAX, false);
	const char *id = arg_str(args, "resource_id", RID_MAX, false);
	const char *user = arg_str(args, "user_id", VIEWER_ID_MAX, false);
	const char *name = arg_str(args, "name", VIEWER_NAME_MAX, true);
	char key[STORE_KEY_MAX + 1];
	struct store_outcome res;
	int rc;

	if (type == NULL || id == NULL || !make_key(p, type, id, key)) {
		*out = message("resource_type must be 1..32 of a-z and _, resource_id "
		    "1..64 printable characters without spaces");
		return ECCR_QUERY_BAD_ARGS;
	}
	if (op != STORE_LIST && user == NULL) {
		*out = message("user_id must be a string of 1..512 bytes");
		return ECCR_QUERY_BAD_ARGS;
	}
	if ((rc = store_update(p->store, key, op, user, name ? name : "", &res)) != ECCR_QUERY_OK)
		return rc;
	/* After the viewer is written: the order the sweep relies on (sweep.c). */
	if (res.joined)
		sweep_index_join(&p->index, type, id);
	*out = answer(op, &res);
	store_outcome_free(&res);
	return *out != NULL ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
}

/* presence.sweep: at most once per sweep_s in this process (one caller
 * wins the turn; the others answer nothing expired). */
static int sweep(struct presence *p, char **out)
{
	int64_t now = p->host->monotonic_ms(p->host);
	long long last = atomic_load(&p->last_sweep_ms);

	if ((last != 0 && now - last < p->sweep_ms - SWEEP_SLACK_MS) ||
	    !atomic_compare_exchange_strong(&p->last_sweep_ms, &last, now)) {
		*out = message("{\"expired\":[]}");
		return *out != NULL ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
	}
	return sweep_run(&p->index, out);
}

static int presence_query(void *state, const char *what, const char *args_json, char **out)
{
	enum store_op op;
	json_object *args;
	int rc;

	bool sweeping = strcmp(what, "presence.sweep") == 0;

	if (strcmp(what, "health") == 0)
		return store_health(((struct presence *)state)->store);
	if (!sweeping && op_of(what, &op) != 0)
		return ECCR_QUERY_NOT_MINE;
	args = strlen(args_json) <= ARGS_MAX ? json_tokener_parse(args_json) : NULL;
	if (args == NULL || !json_object_is_type(args, json_type_object)) {
		json_object_put(args);
		*out = message("arguments must be a JSON object");
		return ECCR_QUERY_BAD_ARGS;
	}
	rc = sweeping ? sweep(state, out) : run(state, op, args, out);
	json_object_put(args);
	return rc;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR,
	.abi_minor = ECCR_PLUGIN_ABI_MINOR,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "presence-memcache",
	.version = "1.0.0",
	.description = "who views which resource, in memcached, and the presence API's store",
	.kind = ECCR_PLUGIN_SINK,
	.options = options,
	.init = presence_init,
	.fini = presence_fini,
	.emit = presence_emit,
	.query = presence_query,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
