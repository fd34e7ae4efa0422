/* sweep.h - the index of resources with viewers (shard.h) kept in memcached,
 * and the sweep that walks it, so that an expiry is announced although
 * nobody reads the resource any more. */
#ifndef ECCR_PRESENCE_SWEEP_H
#define ECCR_PRESENCE_SWEEP_H

#include <stdatomic.h>

#include "store.h"

struct sweep_index {
	const struct eccr_host *host;
	struct store *store;
	const char *prefix;         /* the key_prefix */
	atomic_bool full_logged;    /* a full shard is logged once per process */
};

/* After a viewer joined type:id (and only after its entry was written):
 * index the resource in its shard, unless it is there already.  Best
 * effort: a resource left out (memcached down, shard full) has its
 * expiries announced by the next request that reads it. */
void sweep_index_join(struct sweep_index *x, const char *type, const char *id);

/* One sweep: read every indexed resource, dropping (with CAS, so exactly
 * one answer across all processes reports each) the viewers whose ttl ran
 * out, and unindex the resources left empty.  *out is
 * {"expired":[{"resource_type","resource_id","user_id","name"},...]}.
 * ECCR_QUERY_OK, or ECCR_QUERY_UNAVAILABLE when memcached could not be
 * read and nothing expired was found (expiries already taken are always
 * answered, even when some shards were unreachable). */
int sweep_run(struct sweep_index *x, char **out);

#endif
