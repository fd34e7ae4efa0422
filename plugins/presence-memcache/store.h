/* store.h - the memcached side of presence-memcache: a pool of libmemcached
 * handles shared by the request threads, and one read-modify-write of a
 * resource's viewers, made safe against concurrent writers by CAS.  Every
 * keyed operation goes to the key's home server, or while that server is
 * down to a live one of the pool (route.h, store.c). */
#ifndef ECCR_PRESENCE_STORE_H
#define ECCR_PRESENCE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <eccr/plugin.h>

#include "shard.h"
#include "viewers.h"

/* memcached's own key limit. */
#define STORE_KEY_MAX 250

struct store_config {
	const char *servers;        /* "host:port, host:port" */
	int connect_timeout_ms;
	int io_timeout_ms;
	int retry_s;                /* a failed server is left alone this long */
	int pool_size;
	int64_t ttl_ms;
	int64_t sweep_ms;           /* keys linger this much longer for the sweep */
	size_t max_viewers;
};

struct store;

/* The key of a resource's viewers, PREFIX TYPE ":" ID; false when it would
 * pass memcached's limit.  The caller has checked type and id. */
bool store_resource_key(const char *prefix, const char *type, const char *id,
    char key[STORE_KEY_MAX + 1]);

/* NULL (after logging why) when the configuration is unusable.  No server
 * is contacted here: memcached may come up later. */
struct store *store_new(const struct eccr_host *host, const struct store_config *cfg);
void store_free(struct store *s);

enum store_op {
	STORE_LIST,     /* read; expired entries are removed */
	STORE_TOUCH,    /* heartbeat of user_id/name */
	STORE_LEAVE     /* user_id leaves */
};

struct store_outcome {
	struct viewers now;     /* the viewers after the update */
	struct viewers expired; /* dropped by this update: ttl ran out */
	struct viewers left;    /* STORE_LEAVE: the leaver, when present */
	bool joined;            /* STORE_TOUCH: the user was not present */
	bool full;              /* STORE_TOUCH: max_viewers reached, not added */
};

/* Apply op to the value at key.  Every expired entry is dropped, and
 * reported in out->expired exactly once across all writers (only the writer
 * whose CAS succeeds reports it).  Returns ECCR_QUERY_OK or
 * ECCR_QUERY_UNAVAILABLE (no server of the pool reachable for the key, or
 * too contended).
 * The caller frees out with store_outcome_free. */
int store_update(struct store *s, const char *key, enum store_op op,
    const char *user_id, const char *name, struct store_outcome *out);
void store_outcome_free(struct store_outcome *out);

/* The index shard at key (shard.h) into out (the caller frees it with
 * shard_free); a missing or damaged value reads as empty.  ECCR_QUERY_OK
 * or ECCR_QUERY_UNAVAILABLE. */
int store_index_read(struct store *s, const char *key, struct shard *out);

/* Add (add) or remove entry in the index shard at key, with CAS like the
 * viewers.  *result: 1 changed, 0 nothing to do (present already, or not
 * there), -2 the shard is full (not added).  ECCR_QUERY_OK or
 * ECCR_QUERY_UNAVAILABLE. */
int store_index_change(struct store *s, const char *key, const char *entry, bool add,
    int *result);

/* Can every server be reached?  A server whose breaker is open is not
 * asked again; the others answer "version" (bounded by the timeouts).
 * ECCR_QUERY_OK or ECCR_QUERY_UNAVAILABLE: one server down is reported
 * although its keys fail over, so that /health shows the pool degraded. */
int store_health(struct store *s);

/* Remove the key (a deleted resource's viewers); best effort. */
void store_forget(struct store *s, const char *key);

#endif
