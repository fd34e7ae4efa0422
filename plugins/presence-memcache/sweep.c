/* sweep.c - see sweep.h.
 *
 * The race with a join: a joiner writes its viewer first, then adds the
 * resource to its shard unless present.  The sweep, finding a resource
 * empty, removes it from the shard, then reads the resource again and puts
 * it back if a viewer appeared.  Either the joiner's check came after the
 * removal (it adds the entry itself) or before it (then its viewer was
 * written before the removal, and the second read sees it). */
#include "sweep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static bool shard_key(const struct sweep_index *x, unsigned n, char key[STORE_KEY_MAX + 1])
{
	return snprintf(key, STORE_KEY_MAX + 1, "%sindex:%u", x->prefix, n) <= STORE_KEY_MAX;
}

void sweep_index_join(struct sweep_index *x, const char *type, const char *id)
{
	char entry[SHARD_ENTRY_MAX + 2], key[STORE_KEY_MAX + 1];
	int result = 0;

	if (snprintf(entry, sizeof entry, "%s:%s", type, id) > SHARD_ENTRY_MAX ||
	    !shard_key(x, shard_of(entry), key))
		return;
	if (store_index_change(x->store, key, entry, true, &result) != ECCR_QUERY_OK)
		return;     /* the store logged the outage */
	if (result == -2 && !atomic_exchange(&x->full_logged, true))
		x->host->log(x->host, ECCR_PLUGIN_LOG_WARNING,
		    "%s is full (%d resources): the expiries of resources left out are "
		    "announced by the next request that reads them", key, SHARD_ENTRIES_MAX);
}

/* Append each of vs to arr as {"resource_type","resource_id","user_id","name"}. */
static void report(json_object *arr, const char *type, const char *id, const struct viewers *vs)
{
	for (size_t i = 0; i < vs->n; i++) {
		json_object *o = json_object_new_object();

		if (o == NULL || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			return;
		}
		json_object_object_add(o, "resource_type", json_object_new_string(type));
		json_object_object_add(o, "resource_id", json_object_new_string(id));
		json_object_object_add(o, "user_id", json_object_new_string(vs->v[i].user_id));
		json_object_object_add(o, "name", json_object_new_string(vs->v[i].name));
	}
}

/* Read the resource (dropping and reporting its expiries); *empty when it
 * has no viewers left.  ECCR_QUERY_OK or ECCR_QUERY_UNAVAILABLE. */
static int visit(struct sweep_index *x, const char *type, const char *id, json_object *arr,
    bool *empty)
{
	char key[STORE_KEY_MAX + 1];
	struct store_outcome res;
	int rc;

	*empty = false;
	if (!store_resource_key(x->prefix, type, id, key))
		return ECCR_QUERY_OK;
	if ((rc = store_update(x->store, key, STORE_LIST, NULL, "", &res)) != ECCR_QUERY_OK)
		return rc;
	report(arr, type, id, &res.expired);
	*empty = res.now.n == 0;
	store_outcome_free(&res);
	return ECCR_QUERY_OK;
}

/* One indexed resource: visit it, and unindex it when empty (then look
 * again, and index it again if a viewer joined meanwhile). */
static int sweep_entry(struct sweep_index *x, const char *shard_key, const char *entry,
    json_object *arr)
{
	char type[SHARD_ENTRY_MAX + 1];
	const char *id;
	bool empty;
	int rc, result;

	snprintf(type, sizeof type, "%s", entry);
	type[strcspn(type, ":")] = '\0';
	id = entry + strlen(type) + 1;      /* shard_decode checked the form */
	if ((rc = visit(x, type, id, arr, &empty)) != ECCR_QUERY_OK || !empty)
		return rc;
	if ((rc = store_index_change(x->store, shard_key, entry, false, &result)) != ECCR_QUERY_OK ||
	    result != 1)
		return rc;
	if ((rc = visit(x, type, id, arr, &empty)) != ECCR_QUERY_OK || empty)
		return rc;
	return store_index_change(x->store, shard_key, entry, true, &result);
}

static char *answer(json_object *arr)
{
	json_object *root = json_object_new_object();
	char *text = NULL;

	if (root == NULL) {
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(root, "expired", arr);
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return text;
}

int sweep_run(struct sweep_index *x, char **out)
{
	json_object *arr = json_object_new_array();
	char key[STORE_KEY_MAX + 1];
	bool failed = false;

	if (arr == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	for (unsigned n = 0; n < SHARD_COUNT; n++) {
		struct shard sh;

		if (!shard_key(x, n, key))
			continue;
		/* A shard on a server that is down is skipped: the others are
		 * still worth sweeping. */
		if (store_index_read(x->store, key, &sh) != ECCR_QUERY_OK) {
			failed = true;
			continue;
		}
		for (size_t i = 0; i < sh.n; i++)
			failed |= sweep_entry(x, key, sh.v[i], arr) != ECCR_QUERY_OK;
		shard_free(&sh);
	}
	if (failed && json_object_array_length(arr) == 0) {
		json_object_put(arr);
		return ECCR_QUERY_UNAVAILABLE;
	}
	*out = answer(arr);
	return *out != NULL ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
}
