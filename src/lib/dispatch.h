/* dispatch.h - the per-process dispatcher of eccr-fcgi: request threads
 * hand it the ids of events they just committed, without ever blocking;
 * its threads (outbox.dispatch_threads) deliver them to the sinks in
 * batches, each sink getting the batches one at a time in offer order.
 * When the queue is full or the process dies, nothing is lost: eccr-worker
 * delivers what is left after outbox.grace_ms. */
#ifndef ECCR_DISPATCH_H
#define ECCR_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "plugins.h"

#define ECCR_DISPATCH_QUEUE 8192
#define ECCR_DISPATCH_MAX_THREADS 8

struct eccr_dispatch;

/* Start threads (1..ECCR_DISPATCH_MAX_THREADS) delivery threads, each
 * with its own database connection.  NULL on failure. */
struct eccr_dispatch *eccr_dispatch_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps, int threads);

/* Queue an event id; never blocks.  false when the queue is full (the
 * worker will deliver it). */
bool eccr_dispatch_offer(struct eccr_dispatch *d, int64_t event_id);

/* Queue a transient event (API.md: views, presence, job progress): not in
 * the outbox, offered to the sinks at most once.  The strings are copied;
 * episode_id may be NULL, data_json must be a JSON object.  false when the
 * queue is full (the event is dropped, as transient events may be). */
bool eccr_dispatch_offer_transient(struct eccr_dispatch *d, const char *type,
    const char *actor_id, const char *actor_name, const char *resource_type,
    const char *resource_id, const char *episode_id, const char *data_json);

/* Deliver what is queued, stop the thread, free everything. */
void eccr_dispatch_stop(struct eccr_dispatch *d);

#endif
