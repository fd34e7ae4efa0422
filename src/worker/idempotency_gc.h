/* idempotency_gc.h - removal of expired Idempotency-Key answers. */
#ifndef ECCR_WORKER_IDEMPOTENCY_GC_H
#define ECCR_WORKER_IDEMPOTENCY_GC_H

#include <stdint.h>

#include "db.h"

int idempotency_gc_register(void);
/* How often a round is worth running for this TTL, in ms. */
int64_t idempotency_gc_interval_ms(int ttl_s);
/* Remove answers older than ttl_s, a bounded number of batches; the number
 * removed, or -1 when the database failed. */
long idempotency_gc_round(struct eccr_db *db, int ttl_s);

#endif
