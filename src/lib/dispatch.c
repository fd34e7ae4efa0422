/* dispatch.c - see dispatch.h.  A fixed ring of ids under one mutex: the
 * request side only ever does a few instructions under the lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "log.h"
#include "outbox.h"

#define BATCH 256

struct eccr_dispatch {
	const struct eccr_config *cfg;
	const struct eccr_plugins *ps;
	struct eccr_db *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int64_t ring[ECCR_DISPATCH_QUEUE];
	size_t head, count;
	bool stopping;
	bool full_logged;
};

bool eccr_dispatch_offer(struct eccr_dispatch *d, int64_t event_id)
{
	bool ok = false, log_full = false;

	if (d == NULL)
		return false;
	pthread_mutex_lock(&d->lock);
	if (d->count < ECCR_DISPATCH_QUEUE) {
		d->ring[(d->head + d->count) % ECCR_DISPATCH_QUEUE] = event_id;
		d->count++;
		ok = true;
		d->full_logged = false;
		pthread_cond_signal(&d->wake);
	} else if (!d->full_logged) {
		d->full_logged = log_full = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (log_full)
		eccr_warn("dispatch queue full: events are left to eccr-worker");
	return ok;
}

/* Take up to BATCH ids; false when stopping with nothing left. */
static bool take(struct eccr_dispatch *d, int64_t *ids, size_t *n)
{
	pthread_mutex_lock(&d->lock);
	while (d->count == 0 && !d->stopping)
		pthread_cond_wait(&d->wake, &d->lock);
	*n = 0;
	while (d->count > 0 && *n < BATCH) {
		ids[(*n)++] = d->ring[d->head];
		d->head = (d->head + 1) % ECCR_DISPATCH_QUEUE;
		d->count--;
	}
	pthread_mutex_unlock(&d->lock);
	return *n > 0;
}

static void *run(void *arg)
{
	struct eccr_dispatch *d = arg;
	int64_t ids[BATCH];
	struct eccr_outbox_stats st;
	bool failing = false;
	size_t n;

	while (take(d, ids, &n)) {
		enum eccr_db_err e = eccr_outbox_deliver_ids(d->db, d->ps, d->cfg, ids, n, &st);

		/* On a database error the events stay undelivered in the
		 * outbox and eccr-worker takes them; say so once per outage. */
		if (e != ECCR_DB_OK && !failing)
			eccr_warn("dispatcher: cannot record deliveries; %zu events left to eccr-worker", n);
		failing = e != ECCR_DB_OK;
	}
	return NULL;
}

struct eccr_dispatch *eccr_dispatch_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps)
{
	struct eccr_dispatch *d = calloc(1, sizeof *d);

	if (d == NULL)
		return NULL;
	d->cfg = cfg;
	d->ps = ps;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	if ((d->db = eccr_db_new(cfg->database.conninfo, "eccr-dispatch")) == NULL ||
	    pthread_create(&d->thread, NULL, run, d) != 0) {
		eccr_db_free(d->db);
		free(d);
		return NULL;
	}
	return d;
}

void eccr_dispatch_stop(struct eccr_dispatch *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	eccr_db_free(d->db);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	free(d);
}
