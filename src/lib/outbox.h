/* outbox.h - delivering outbox events to the sink plugins, and keeping the
 * books: shared by eccr-fcgi's dispatcher (right after COMMIT) and by
 * eccr-worker (events left behind, and due retries).
 *
 * Each pass is one transaction that locks the rows it delivers with
 * FOR UPDATE SKIP LOCKED, so two processes never deliver the same event to
 * the same sink at the same time; a process that dies mid-pass releases its
 * locks and its events are delivered again (at least once). */
#ifndef ECCR_OUTBOX_H
#define ECCR_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "plugins.h"

struct eccr_outbox_stats {
	size_t events;      /* events handled in this pass */
	size_t ok, retry, failed, dead;
};

/* Register the statements; before threads start. */
int eccr_outbox_register(void);

/* Where several threads deliver side by side, their turn to call the
 * sinks: a pass that reaches the sinks calls wait() before the first sink
 * call and done() after the last, so that the database work of one pass
 * overlaps the sink calls of another while every sink still gets the
 * passes one after the other, in the order the turns were handed out.  A
 * pass that ends before the sinks (an error, nothing left to deliver)
 * calls neither: the caller then takes and gives back the turn itself. */
struct eccr_outbox_turn {
	void (*wait)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

/* Deliver these just-committed events (those still undelivered).  turn
 * may be NULL (a single deliverer). */
enum eccr_db_err eccr_outbox_deliver_ids(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, const int64_t *ids, size_t n,
    const struct eccr_outbox_turn *turn, struct eccr_outbox_stats *st);

/* Deliver up to limit events older than outbox.grace_ms nobody delivered. */
enum eccr_db_err eccr_outbox_sweep(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, int limit, struct eccr_outbox_stats *st);

/* Retry up to limit deliveries whose next attempt is due. */
enum eccr_db_err eccr_outbox_retry_due(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, int limit, struct eccr_outbox_stats *st);

/* Offer a transient event to every sink that wants it, once; outcomes
 * are not recorded.  Same thread rules as the other passes. */
void eccr_outbox_emit_transient(const struct eccr_plugins *ps, const struct eccr_event *ev);

/* min(base * 2^(attempt-1), max), then "equal jitter": half fixed, half
 * random, so retries of many events spread out.  attempt >= 1. */
int64_t eccr_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t random);

#endif
