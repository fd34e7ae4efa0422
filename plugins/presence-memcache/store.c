/* store.c - viewers in memcached, updated with gets + cas.
 *
 * Concurrency: each update reads the value with its CAS token, changes it
 * in memory and writes it back with cas (or add when the key is missing);
 * a writer that lost the race (EXISTS, NOT_STORED, NOT_FOUND) reads again
 * and retries, a bounded number of times, so concurrent heartbeats of
 * different users never overwrite each other.
 *
 * Failures: handles are non-blocking with short connect and poll timeouts.
 * A server that failed (refused, timed out, hung) is skipped by every
 * thread of the process for retry_s (a circuit breaker per server, shared
 * by all pooled handles, which each keep their own connection state);
 * then one request probes it while the others still fail fast.  So while
 * memcached is down or hung a request spends microseconds here, at most
 * one request per retry_s waits for a timeout, and presence comes back by
 * itself when memcached does.
 *
 * Failover: while the breaker of a key's home server is open, or when the
 * key's operation has just failed there, the key goes to the first of its
 * routes (route.h) whose server's breaker is closed, so presence keeps
 * working on the other servers of the pool.  Only the home server is ever
 * probed for a key: a request waits for at most one timeout of a server
 * known to be down, as without failover.  Once the home server answers a
 * probe the key goes back to it, and what was written on the fallback
 * meanwhile is no longer read: a restarted server holds nothing, so its
 * viewers reappear at their next heartbeat, announced once more by a
 * presence_joined; a server that was only unreachable holds its values of
 * before the outage, whose viewers expire (again).  The fallback's copy
 * expires by itself (an index shard's copy is swept empty in a later
 * outage).  Processes agree on a route when they agree on which servers
 * are down: each learns it from its own first failed request. */
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmemcached/memcached.h>
#include <libmemcached/util.h>

#include "route.h"

/* CAS rounds before giving up (answered as unavailable). */
#define CAS_ATTEMPTS 64
/* How long a request waits for a free handle when all are in use. */
#define POOL_WAIT_MS 500
/* A value larger than this is not ours: dropped as damaged. */
#define VALUE_MAX (1024 * 1024)
/* Servers a breaker is kept for; more share the last one's. */
#define SERVERS_MAX 64
#define SERVER_NAME_MAX 256

struct breaker {
	char name[SERVER_NAME_MAX];
	unsigned port;
	atomic_llong down_until;    /* monotonic ms; 0: up */
};

struct store {
	const struct eccr_host *host;
	memcached_pool_st *pool;
	int64_t ttl_ms;
	int64_t sweep_ms;
	size_t max_viewers;
	int64_t retry_ms;
	int64_t refresh_ms;
	struct breaker servers[SERVERS_MAX];
	size_t nservers;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int behave(memcached_st *mc, memcached_behavior_t flag, uint64_t value)
{
	return memcached_behavior_set(mc, flag, value) == MEMCACHED_SUCCESS ? 0 : -1;
}

/* The handle every pooled clone copies. */
static memcached_st *master_new(const struct eccr_host *host, const struct store_config *cfg)
{
	memcached_server_list_st list = memcached_servers_parse(cfg->servers);
	memcached_st *mc;

	if (list == NULL || memcached_server_list_count(list) == 0) {
		host->log(host, ECCR_PLUGIN_LOG_ERR,
		    "servers: \"%s\" names no host:port", cfg->servers);
		memcached_server_list_free(list);
		return NULL;
	}
	mc = memcached_create(NULL);
	if (mc == NULL || memcached_server_push(mc, list) != MEMCACHED_SUCCESS ||
	    behave(mc, MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1) != 0 ||
	    behave(mc, MEMCACHED_BEHAVIOR_NO_BLOCK, 1) != 0 ||
	    behave(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) != 0 ||
	    /* Consistent hashing: adding a server moves few keys. */
	    behave(mc, MEMCACHED_BEHAVIOR_KETAMA, 1) != 0 ||
	    behave(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, (uint64_t)cfg->connect_timeout_ms) != 0 ||
	    behave(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, (uint64_t)cfg->io_timeout_ms) != 0 ||
	    behave(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, (uint64_t)cfg->retry_s) != 0) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "cannot set up libmemcached for %s",
		    cfg->servers);
		memcached_free(mc);
		mc = NULL;
	}
	memcached_server_list_free(list);
	return mc;
}

struct store *store_new(const struct eccr_host *host, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof *s);
	memcached_st *master;

	if (s == NULL || (master = master_new(host, cfg)) == NULL) {
		free(s);
		return NULL;
	}
	s->pool = memcached_pool_create(master, 1, (uint32_t)cfg->pool_size);
	if (s->pool == NULL) {
		host->log(host, ECCR_PLUGIN_LOG_ERR, "cannot create a pool of %d handles",
		    cfg->pool_size);
		memcached_free(master);
		free(s);
		return NULL;
	}
	s->host = host;
	s->ttl_ms = cfg->ttl_ms;
	s->sweep_ms = cfg->sweep_ms;
	s->max_viewers = cfg->max_viewers;
	s->retry_ms = (int64_t)cfg->retry_s * 1000;
	s->refresh_ms = cfg->ttl_ms / 10;
	for (uint32_t i = 0; i < memcached_server_count(master) && i < SERVERS_MAX; i++) {
		const memcached_instance_st *in = memcached_server_instance_by_position(master, i);

		snprintf(s->servers[i].name, SERVER_NAME_MAX, "%s", memcached_server_name(in));
		s->servers[i].port = memcached_server_port(in);
		s->nservers = i + 1;
	}
	return s;
}

void store_free(struct store *s)
{
	if (s == NULL)
		return;
	memcached_free(memcached_pool_destroy(s->pool));
	free(s);
}

void store_outcome_free(struct store_outcome *out)
{
	viewers_free(&out->now);
	viewers_free(&out->expired);
	viewers_free(&out->left);
}

/* The breaker of the server that holds key. */
static struct breaker *breaker_of(struct store *s, memcached_st *mc, const char *key)
{
	memcached_return_t rc;
	const memcached_instance_st *in = memcached_server_by_key(mc, key, strlen(key), &rc);
	size_t i;

	if (in == NULL || s->nservers == 0)
		return NULL;
	for (i = 0; i + 1 < s->nservers; i++)
		if (s->servers[i].port == memcached_server_port(in) &&
		    strcmp(s->servers[i].name, memcached_server_name(in)) == 0)
			break;
	return &s->servers[i];
}

/* May this request talk to the server?  While it is down, no; once
 * retry_s has passed, exactly one request (the one that moves the deadline
 * on) probes it. */
static bool breaker_admit(const struct store *s, struct breaker *b)
{
	long long until = b ? atomic_load(&b->down_until) : 0;
	int64_t now;

	if (until == 0)
		return true;
	if ((now = mono_ms()) < until)
		return false;
	return atomic_compare_exchange_strong(&b->down_until, &until, now + s->retry_ms);
}

/* After an operation: trip on a failure of the server or the network
 * (not on a lost race or a refused value), close on success.  The first
 * failure of an outage and the recovery are logged, not every request. */
static void breaker_after(struct store *s, struct breaker *b, memcached_st *mc,
    memcached_return_t rc)
{
	if (b == NULL)
		return;
	if (!memcached_fatal(rc)) {
		if (atomic_exchange(&b->down_until, 0) != 0)
			s->host->log(s->host, ECCR_PLUGIN_LOG_NOTICE, "memcached %s:%u answers again",
			    b->name, b->port);
		return;
	}
	if (atomic_exchange(&b->down_until, mono_ms() + s->retry_ms) == 0)
		s->host->log(s->host, ECCR_PLUGIN_LOG_WARNING,
		    "memcached %s:%u unavailable (%s); its keys go to the other servers, and it is "
		    "tried again every %lld ms", b->name, b->port, memcached_last_error_message(mc),
		    (long long)s->retry_ms);
}

static memcached_st *handle(struct store *s)
{
	struct timespec wait = { POOL_WAIT_MS / 1000, (POOL_WAIT_MS % 1000) * 1000000L };
	memcached_return_t rc;
	memcached_st *mc = memcached_pool_fetch(s->pool, &wait, &rc);

	if (mc == NULL)
		s->host->log(s->host, ECCR_PLUGIN_LOG_WARNING, "no free memcached handle: %s",
		    memcached_strerror(NULL, rc));
	return mc;
}

/* gets on the server of group: the value (malloc'd, NULL when the key is
 * missing) and its CAS. */
static memcached_return_t gets(memcached_st *mc, const char *group, const char *key,
    char **val, size_t *len, uint64_t *cas)
{
	const char *keys[1] = { key };
	size_t lens[1] = { strlen(key) };
	memcached_result_st *r;
	memcached_return_t rc = memcached_mget_by_key(mc, group, strlen(group), keys, lens, 1);
	bool oom = false;

	*val = NULL;
	*len = 0;
	if (rc != MEMCACHED_SUCCESS)
		return rc;
	/* Read to the end so the handle is ready for the next command.  A
	 * value too large to be ours reads as empty: damaged, overwritten. */
	while ((r = memcached_fetch_result(mc, NULL, &rc)) != NULL) {
		size_t n = memcached_result_length(r) <= VALUE_MAX ? memcached_result_length(r) : 0;

		if (*val == NULL && !oom && (*val = malloc(n + 1)) != NULL) {
			memcpy(*val, memcached_result_value(r), n);
			(*val)[n] = '\0';
			*len = n;
			*cas = memcached_result_cas(r);
		}
		oom = *val == NULL;
		memcached_result_free(r);
	}
	if (oom)
		rc = MEMCACHED_MEMORY_ALLOCATION_FAILURE;
	else if (rc == MEMCACHED_END || rc == MEMCACHED_NOTFOUND || rc == MEMCACHED_SUCCESS)
		return MEMCACHED_SUCCESS;
	free(*val);
	*val = NULL;
	return rc;
}

/* The key outlives its newest entry by one more ttl and one sweep_s, so
 * that a heartbeat, read or sweep in that time still finds the expired
 * entries and reports them (presence_left); memcached counts whole
 * seconds, hence one more.  An emptied list lives a moment only. */
static time_t expiry_s(const struct store *s, const struct viewers *vs, int64_t now)
{
	int64_t left = viewers_newest(vs) + s->ttl_ms - now;

	if (vs->n == 0 || left <= 0)
		return 1;
	return (time_t)((left + s->ttl_ms + s->sweep_ms) / 1000 + 2);
}

/* Apply op to vs (decoded, pruned) at now; true when it needs writing. */
static bool apply(struct store *s, enum store_op op, const char *user_id, const char *name,
    int64_t now, struct store_outcome *out, int *err)
{
	const struct viewer *v;
	int rc;

	*err = 0;
	switch (op) {
	case STORE_TOUCH:
		/* Episode reads are heartbeats too, and frequent: a viewer seen
		 * within the last tenth of the ttl needs no write, so a busy
		 * episode's reads cost one memcached round trip, not two. */
		v = viewers_find(&out->now, user_id);
		if (v != NULL && now - v->last_ms < s->refresh_ms && strcmp(v->name, name) == 0)
			return out->expired.n > 0;
		rc = viewers_touch(&out->now, user_id, name, now, s->max_viewers);
		if (rc == -2)
			out->full = true;
		else if (rc < 0)
			*err = -1;
		out->joined = rc == 1;
		return rc >= 0 || out->expired.n > 0;
	case STORE_LEAVE:
		if ((rc = viewers_remove(&out->now, user_id, &out->left)) < 0)
			*err = -1;
		return rc == 1 || out->expired.n > 0;
	default:
		return out->expired.n > 0;
	}
}

/* Where a round works: key, on the server of group (route.h). */
struct at {
	const char *key;
	const char *group;
};

/* A round of cas_loop: 1 done, 0 lost a race (retry), -1 error (*rc says
 * which, for the breaker). */
typedef int round_fn(struct store *s, memcached_st *mc, const struct at *at, void *arg,
    memcached_return_t *rc);

/* Write a changed value back: cas when it was read with a token, add when
 * the key was missing.  1: stored; 0: lost a race; -1: error. */
static int write_back(memcached_st *mc, const struct at *at, bool existed, const char *val,
    size_t len, time_t expiry, uint64_t cas, memcached_return_t *rc)
{
	size_t gl = strlen(at->group), kl = strlen(at->key);

	if (existed)
		*rc = memcached_cas_by_key(mc, at->group, gl, at->key, kl, val, len, expiry, 0, cas);
	else
		*rc = memcached_add_by_key(mc, at->group, gl, at->key, kl, val, len, expiry, 0);
	if (*rc == MEMCACHED_SUCCESS || *rc == MEMCACHED_STORED)
		return 1;
	if (*rc == MEMCACHED_DATA_EXISTS || *rc == MEMCACHED_NOTSTORED || *rc == MEMCACHED_NOTFOUND)
		return 0;
	return -1;
}

struct update {
	enum store_op op;
	const char *user_id, *name;
	struct store_outcome *out;
};

/* One read-modify-write round of a resource's viewers. */
static int update_round(struct store *s, memcached_st *mc, const struct at *at, void *arg,
    memcached_return_t *rc)
{
	struct update *u = arg;
	struct store_outcome *out = u->out;
	char *val, *enc;
	size_t len, enclen;
	uint64_t cas = 0;
	int64_t now = now_ms();
	int err, r;
	bool write;

	store_outcome_free(out);
	out->joined = out->full = false;
	if ((*rc = gets(mc, at->group, at->key, &val, &len, &cas)) != MEMCACHED_SUCCESS)
		return -1;
	if (val != NULL && viewers_decode(val, len, s->max_viewers, &out->now) != 0)
		s->host->log(s->host, ECCR_PLUGIN_LOG_WARNING, "%s held no viewers list; starting afresh",
		    at->key);
	if (viewers_prune(&out->now, now, s->ttl_ms, &out->expired) < 0)
		return free(val), -1;
	write = apply(s, u->op, u->user_id, u->name, now, out, &err);
	if (err != 0 || !write)
		return free(val), err == 0 ? 1 : -1;
	if ((enc = viewers_encode(&out->now, &enclen)) == NULL)
		return free(val), -1;
	r = write_back(mc, at, val != NULL, enc, enclen, expiry_s(s, &out->now, now), cas, rc);
	free(enc);
	free(val);
	return r;
}

/* A pooled connection the server closed (it restarted since the handle
 * was last used) fails its next command at once; libmemcached reconnects
 * on the one after.  That is worth one immediate retry, not a tripped
 * breaker.  Timeouts are not retried: they are what a hung server costs. */
static bool stale_connection(memcached_return_t rc)
{
	return rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_UNKNOWN_READ_FAILURE ||
	    rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE;
}

/* After a lost race, a short random pause spreads the contenders. */
static void backoff(int attempt)
{
	if (attempt >= 2)
		usleep((useconds_t)(random() % (100 * (attempt < 20 ? attempt : 20))));
}

/* Run round until it is done on one server, against lost races (bounded)
 * and one stale pooled connection: 1 done, 0 still contended, -1 error
 * (*rc says which). */
static int rounds(struct store *s, memcached_st *mc, const struct at *at, round_fn *round,
    void *arg, memcached_return_t *rc)
{
	int r = -1;

	for (int attempt = 0, retried = 0; attempt < CAS_ATTEMPTS; attempt++) {
		r = round(s, mc, at, arg, rc);
		if (r < 0 && stale_connection(*rc) && !retried++)
			continue;
		if (r != 0)
			break;
		backoff(attempt);
	}
	if (r == 0)
		s->host->log(s->host, ECCR_PLUGIN_LOG_WARNING,
		    "%s: still contended after %d CAS rounds", at->key, CAS_ATTEMPTS);
	return r;
}

struct route_ctx {
	struct store *s;
	memcached_st *mc;
	struct breaker *b;      /* the breaker of the route picked */
};

/* route_usable_fn: the home server when its breaker admits the request
 * (which may make this request its probe); another route only when its
 * server is known to be up, so that no request probes a second server. */
static bool usable(void *arg, unsigned n, const char *group)
{
	struct route_ctx *c = arg;

	c->b = breaker_of(c->s, c->mc, group);
	if (n == 0)
		return breaker_admit(c->s, c->b);
	return c->b == NULL || atomic_load(&c->b->down_until) == 0;
}

/* Run round on key's home server or, while that is down, on the first
 * live server of its routes; a route whose server fails now hands over to
 * the next.  ECCR_QUERY_OK or ECCR_QUERY_UNAVAILABLE. */
static int cas_loop(struct store *s, const char *key, round_fn *round, void *arg)
{
	char group[ROUTE_KEY_MAX + 1];
	struct at at = { key, group };
	struct route_ctx c = { s, handle(s), NULL };
	unsigned limit = s->nservers > 1 ? ROUTE_MAX : 1;
	memcached_return_t rc = MEMCACHED_SUCCESS;
	int n = -1, r = -1;

	if (c.mc == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	while ((n = route_pick(key, (unsigned)(n + 1), limit, usable, &c, group)) >= 0) {
		r = rounds(s, c.mc, &at, round, arg, &rc);
		breaker_after(s, c.b, c.mc, rc);
		if (r >= 0 || !memcached_fatal(rc))
			break;
	}
	memcached_pool_release(s->pool, c.mc);
	return r == 1 ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
}

bool store_resource_key(const char *prefix, const char *type, const char *id,
    char key[STORE_KEY_MAX + 1])
{
	return snprintf(key, STORE_KEY_MAX + 1, "%s%s:%s", prefix, type, id) <= STORE_KEY_MAX;
}

int store_health(struct store *s)
{
	int64_t now = mono_ms();
	memcached_return_t rc;
	memcached_st *mc;

	for (size_t i = 0; i < s->nservers; i++) {
		long long until = atomic_load(&s->servers[i].down_until);

		if (until != 0 && now < until)
			return ECCR_QUERY_UNAVAILABLE;
	}
	if ((mc = handle(s)) == NULL)
		return ECCR_QUERY_UNAVAILABLE;
	rc = memcached_version(mc);
	memcached_pool_release(s->pool, mc);
	return memcached_success(rc) ? ECCR_QUERY_OK : ECCR_QUERY_UNAVAILABLE;
}

int store_update(struct store *s, const char *key, enum store_op op,
    const char *user_id, const char *name, struct store_outcome *out)
{
	struct update u = { op, user_id, name, out };
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = cas_loop(s, key, update_round, &u)) != ECCR_QUERY_OK)
		store_outcome_free(out);
	return rc;
}

/* ------------------------------------------------------------ the index */

struct index_change {
	const char *entry;      /* NULL: read only */
	bool add;
	struct shard *sh;
	int result;             /* shard_add's or shard_remove's */
};

/* The shard at key into sh (which is emptied first); a damaged value
 * reads as empty. */
static memcached_return_t read_shard(struct store *s, memcached_st *mc, const struct at *at,
    struct shard *sh, bool *existed, uint64_t *cas)
{
	memcached_return_t rc;
	size_t len;
	char *val;

	shard_free(sh);
	if ((rc = gets(mc, at->group, at->key, &val, &len, cas)) != MEMCACHED_SUCCESS)
		return rc;
	*existed = val != NULL;
	if (val != NULL && shard_decode(val, len, sh) != 0)
		s->host->log(s->host, ECCR_PLUGIN_LOG_WARNING,
		    "%s held no index shard; starting afresh", at->key);
	free(val);
	return MEMCACHED_SUCCESS;
}

/* One read-modify-write round of an index shard.  The shard never expires:
 * the sweep removes what it no longer needs. */
static int index_round(struct store *s, memcached_st *mc, const struct at *at, void *arg,
    memcached_return_t *rc)
{
	struct index_change *c = arg;
	bool existed = false;
	uint64_t cas = 0;
	size_t len;
	char *enc;
	int r;

	if ((*rc = read_shard(s, mc, at, c->sh, &existed, &cas)) != MEMCACHED_SUCCESS)
		return -1;
	if (c->entry == NULL)
		return 1;
	c->result = c->add ? shard_add(c->sh, c->entry) : shard_remove(c->sh, c->entry);
	if (c->result == -1)
		return -1;
	if (c->result != 1)
		return 1;
	if ((enc = shard_encode(c->sh, &len)) == NULL)
		return -1;
	r = write_back(mc, at, existed, enc, len, 0, cas, rc);
	free(enc);
	return r;
}

int store_index_read(struct store *s, const char *key, struct shard *out)
{
	struct index_change c = { NULL, false, out, 0 };
	int rc;

	shard_init(out);
	if ((rc = cas_loop(s, key, index_round, &c)) != ECCR_QUERY_OK)
		shard_free(out);
	return rc;
}

int store_index_change(struct store *s, const char *key, const char *entry, bool add,
    int *result)
{
	struct shard sh;
	struct index_change c = { entry, add, &sh, 0 };
	int rc;

	shard_init(&sh);
	rc = cas_loop(s, key, index_round, &c);
	shard_free(&sh);
	*result = c.result;
	return rc;
}

/* A delete, as a round of cas_loop so that it fails over like the rest;
 * a missing key is no error. */
static int forget_round(struct store *s, memcached_st *mc, const struct at *at, void *arg,
    memcached_return_t *rc)
{
	(void)s;
	(void)arg;
	*rc = memcached_delete_by_key(mc, at->group, strlen(at->group), at->key, strlen(at->key), 0);
	return memcached_fatal(*rc) ? -1 : 1;
}

/* Only the copy on the server the key goes to now: a copy left on another
 * (written before a failover, or during one) expires by itself. */
void store_forget(struct store *s, const char *key)
{
	(void)cas_loop(s, key, forget_round, NULL);
}
