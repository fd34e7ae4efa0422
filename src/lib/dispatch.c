/* dispatch.c - see dispatch.h.  A fixed ring of ids under one mutex: the
 * request side only ever does a few instructions under the lock.
 *
 * Several delivery threads ("lanes", each with its own connection) take
 * batches from the one ring.  Each batch gets a ticket when it is taken,
 * and a lane calls the sinks only in its ticket's turn: the database work
 * of the lanes (lock, mark, commit) overlaps, the sinks still get the
 * batches one after the other in the order they were offered.  Why more
 * than one: on a machine whose cores the requests keep busy, one thread's
 * chain of round trips got too little of them to keep up (measured in
 * docs/performance.md). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dispatch.h"
#include "event_json.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "util.h"

#define BATCH 256
#define TRANSIENT_QUEUE 1024

/* A transient event: the envelope built once, the fields pointing into
 * one allocation. */
struct transient {
	struct eccr_event ev;
	char *strings;
	struct eccr_buf json;
};

struct lane {
	struct eccr_dispatch *d;
	struct eccr_db *db;
	pthread_t thread;
	uint64_t ticket;        /* of the batch this lane holds */
	bool ticket_done;       /* its turn taken and given back */
};

struct eccr_dispatch {
	const struct eccr_config *cfg;
	const struct eccr_plugins *ps;
	struct lane lanes[ECCR_DISPATCH_MAX_THREADS];
	size_t nlanes;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t turn_changed;
	uint64_t next_ticket;   /* the next batch's; under lock */
	uint64_t turn;          /* the ticket whose sinks may be called */
	int64_t ring[ECCR_DISPATCH_QUEUE];
	size_t head, count;
	struct transient *tring[TRANSIENT_QUEUE];
	size_t thead, tcount;
	bool stopping;
	bool full_logged;
};

bool eccr_dispatch_offer(struct eccr_dispatch *d, int64_t event_id)
{
	bool ok = false, log_full = false;

	eccr_metrics_event(ECCR_METRICS_DURABLE);
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

/* Take up to BATCH ids (with a ticket for them) and transients; false
 * when stopping with nothing left. */
static bool take(struct lane *l, int64_t *ids, size_t *n, struct transient **ts, size_t *nt)
{
	struct eccr_dispatch *d = l->d;

	pthread_mutex_lock(&d->lock);
	while (d->count == 0 && d->tcount == 0 && !d->stopping)
		pthread_cond_wait(&d->wake, &d->lock);
	*n = 0;
	while (d->count > 0 && *n < BATCH) {
		ids[(*n)++] = d->ring[d->head];
		d->head = (d->head + 1) % ECCR_DISPATCH_QUEUE;
		d->count--;
	}
	if (*n > 0) {
		l->ticket = d->next_ticket++;
		l->ticket_done = false;
	}
	*nt = 0;
	while (d->tcount > 0 && *nt < BATCH) {
		ts[(*nt)++] = d->tring[d->thead];
		d->thead = (d->thead + 1) % TRANSIENT_QUEUE;
		d->tcount--;
	}
	pthread_mutex_unlock(&d->lock);
	return *n > 0 || *nt > 0;
}

static void transient_free(struct transient *t)
{
	if (t == NULL)
		return;
	free(t->strings);
	eccr_buf_free(&t->json);
	free(t);
}

/* Copy the strings into one block and build the envelope of API.md. */
static struct transient *transient_new(const char *type, const char *actor_id,
    const char *actor_name, const char *resource_type, const char *resource_id,
    const char *episode_id, const char *data_json)
{
	const char *src[7] = { type, actor_id, actor_name ? actor_name : "", resource_type,
		resource_id, episode_id ? episode_id : "", data_json };
	struct transient *t = calloc(1, sizeof *t);
	const char *f[7];
	struct timespec now;
	char at[25], *p;
	size_t total = 0, i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < 7; i++)
		total += strlen(src[i]) + 1;
	clock_gettime(CLOCK_REALTIME, &now);
	eccr_rfc3339_ms(&now, at);
	if ((t->strings = malloc(total + sizeof at)) == NULL) {
		free(t);
		return NULL;
	}
	for (p = t->strings, i = 0; i < 7; i++) {
		f[i] = p;
		p = stpcpy(p, src[i]) + 1;
	}
	memcpy(p, at, sizeof at);
	t->ev.struct_size = sizeof t->ev;
	t->ev.id_text = "";
	t->ev.type = f[0];
	t->ev.actor_id = f[1];
	t->ev.actor_name = f[2];
	t->ev.resource_type = f[3];
	t->ev.resource_id = f[4];
	t->ev.episode_id = episode_id ? f[5] : NULL;
	t->ev.data_json = f[6];
	t->ev.occurred_at = p;
	t->ev.transient = 1;
	t->ev.attempt = 1;
	eccr_event_json(&t->json, &t->ev);
	if (t->json.oom) {
		transient_free(t);
		return NULL;
	}
	t->ev.json = t->json.p;
	t->ev.json_len = t->json.len;
	return t;
}

bool eccr_dispatch_offer_transient(struct eccr_dispatch *d, const char *type,
    const char *actor_id, const char *actor_name, const char *resource_type,
    const char *resource_id, const char *episode_id, const char *data_json)
{
	struct transient *t;
	bool ok = false;

	eccr_metrics_event(ECCR_METRICS_TRANSIENT);
	if (d == NULL)
		return false;
	if ((t = transient_new(type, actor_id, actor_name, resource_type, resource_id,
	    episode_id, data_json)) == NULL)
		return false;
	pthread_mutex_lock(&d->lock);
	if (d->tcount < TRANSIENT_QUEUE) {
		d->tring[(d->thead + d->tcount) % TRANSIENT_QUEUE] = t;
		d->tcount++;
		ok = true;
		pthread_cond_signal(&d->wake);
	}
	pthread_mutex_unlock(&d->lock);
	if (!ok)
		transient_free(t);
	return ok;
}

static void turn_wait(void *arg)
{
	struct lane *l = arg;

	pthread_mutex_lock(&l->d->lock);
	while (l->d->turn != l->ticket)
		pthread_cond_wait(&l->d->turn_changed, &l->d->lock);
	pthread_mutex_unlock(&l->d->lock);
}

static void turn_done(void *arg)
{
	struct lane *l = arg;

	pthread_mutex_lock(&l->d->lock);
	l->d->turn++;
	l->ticket_done = true;
	pthread_cond_broadcast(&l->d->turn_changed);
	pthread_mutex_unlock(&l->d->lock);
}

/* A pass that ended before the sinks gives its turn back here, or the
 * batches after it would wait for ever. */
static void turn_release(struct lane *l)
{
	if (l->ticket_done)
		return;
	turn_wait(l);
	turn_done(l);
}

static void *run(void *arg)
{
	struct lane *l = arg;
	const struct eccr_outbox_turn turn = { turn_wait, turn_done, l };
	int64_t ids[BATCH];
	struct transient *ts[BATCH];
	struct eccr_outbox_stats st;
	bool failing = false;
	size_t n, nt, i;

	while (take(l, ids, &n, ts, &nt)) {
		enum eccr_db_err e = ECCR_DB_OK;

		if (n > 0) {
			e = eccr_outbox_deliver_ids(l->db, l->d->ps, l->d->cfg, ids, n, &turn, &st);
			turn_release(l);
		}

		/* On a database error the events stay undelivered in the
		 * outbox and eccr-worker takes them; say so once per outage. */
		if (e != ECCR_DB_OK && !failing)
			eccr_warn("dispatcher: cannot record deliveries; %zu events left to eccr-worker", n);
		failing = e != ECCR_DB_OK;
		for (i = 0; i < nt; i++) {
			eccr_outbox_emit_transient(l->d->ps, &ts[i]->ev);
			transient_free(ts[i]);
		}
	}
	return NULL;
}

/* Stop the lanes started so far (all of them, or after a failed start). */
static void lanes_stop(struct eccr_dispatch *d, size_t started)
{
	size_t i;

	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->wake);
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < started; i++)
		pthread_join(d->lanes[i].thread, NULL);
	for (i = 0; i < d->nlanes; i++)
		eccr_db_free(d->lanes[i].db);
}

struct eccr_dispatch *eccr_dispatch_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps, int threads)
{
	struct eccr_dispatch *d = calloc(1, sizeof *d);
	size_t i, started;

	if (d == NULL)
		return NULL;
	d->cfg = cfg;
	d->ps = ps;
	d->nlanes = threads < 1 ? 1 : threads > ECCR_DISPATCH_MAX_THREADS ?
	    ECCR_DISPATCH_MAX_THREADS : (size_t)threads;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	pthread_cond_init(&d->turn_changed, NULL);
	for (i = 0; i < d->nlanes; i++) {
		d->lanes[i].d = d;
		if ((d->lanes[i].db = eccr_db_new(cfg->database.conninfo, "eccr-dispatch")) == NULL) {
			started = 0;
			goto fail;
		}
	}
	for (started = 0; started < d->nlanes; started++)
		if (pthread_create(&d->lanes[started].thread, NULL, run, &d->lanes[started]) != 0)
			goto fail;
	return d;
fail:
	lanes_stop(d, started);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->turn_changed);
	free(d);
	return NULL;
}

void eccr_dispatch_stop(struct eccr_dispatch *d)
{
	if (d == NULL)
		return;
	lanes_stop(d, d->nlanes);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->wake);
	pthread_cond_destroy(&d->turn_changed);
	free(d);
}
