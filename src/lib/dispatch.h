/* dispatch.h - the per-process dispatcher of eccr-fcgi: request threads
 * hand it the ids of events they just committed, without ever blocking; one
 * thread delivers them to the sinks in batches.  When the queue is full or
 * the process dies, nothing is lost: eccr-worker delivers what is left
 * after outbox.grace_ms. */
#ifndef ECCR_DISPATCH_H
#define ECCR_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "plugins.h"

#define ECCR_DISPATCH_QUEUE 8192

struct eccr_dispatch;

/* Start the thread (with its own database connection).  NULL on failure. */
struct eccr_dispatch *eccr_dispatch_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps);

/* Queue an event id; never blocks.  false when the queue is full (the
 * worker will deliver it). */
bool eccr_dispatch_offer(struct eccr_dispatch *d, int64_t event_id);

/* Deliver what is queued, stop the thread, free everything. */
void eccr_dispatch_stop(struct eccr_dispatch *d);

#endif
