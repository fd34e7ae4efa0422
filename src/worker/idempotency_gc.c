/* idempotency_gc.c - eccr-worker removes the answers kept for
 * Idempotency-Keys once server.idempotency_ttl_s has passed.  Requests
 * never do: they only ignore an expired answer (and the change statement
 * of the next request with that key replaces it), so a POST never pays
 * for cleaning up after others.
 *
 * Batches of BATCH rows, oldest first, each its own short transaction
 * (SKIP LOCKED lets several workers share the work without waiting on
 * each other), at most ROUND_BATCHES per round so that a backlog after a
 * long outage never holds up the outbox rounds it shares a thread with. */
#include <stdio.h>
#include <stdlib.h>

#include "idempotency_gc.h"
#include "log.h"

#define BATCH 1000
#define ROUND_BATCHES 20

static struct eccr_stmt st_expire = {
	.sql = "DELETE FROM idempotency_keys k USING ("
	       "  SELECT user_id, idem_key FROM idempotency_keys"
	       "  WHERE created_at <= now() - $1::int * interval '1 second'"
	       "  ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED) old"
	       " WHERE k.user_id = old.user_id AND k.idem_key = old.idem_key",
	.nparams = 2,
};

int idempotency_gc_register(void)
{
	return eccr_db_register(&st_expire);
}

int64_t idempotency_gc_interval_ms(int ttl_s)
{
	/* Half the TTL, between 1 s and a minute: an expired answer lingers
	 * at most that long past its time (and is ignored meanwhile). */
	int64_t ms = (int64_t)ttl_s * 500;

	return ms < 1000 ? 1000 : ms > 60000 ? 60000 : ms;
}

long idempotency_gc_round(struct eccr_db *db, int ttl_s)
{
	char ttl[16], batch[16];
	const char *p[2] = { ttl, batch };
	long removed = 0, n = BATCH;
	PGresult *res;

	snprintf(ttl, sizeof ttl, "%d", ttl_s);
	snprintf(batch, sizeof batch, "%d", BATCH);
	for (int i = 0; i < ROUND_BATCHES && n == BATCH; i++) {
		if (eccr_db_exec(db, &st_expire, p, &res) != ECCR_DB_OK)
			return -1;
		n = strtol(PQcmdTuples(res), NULL, 10);
		removed += n;
		PQclear(res);
	}
	if (removed > 0)
		eccr_debug("removed %ld expired idempotency keys", removed);
	return removed;
}
