/* storage_gc.c - eccr-worker removes the stored objects of deleted files
 * (queued in storage_deletions by a trigger when their row goes), and
 * retries with backoff while storage refuses. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "storage_gc.h"

static struct eccr_stmt st_due = {
	.sql = "SELECT storage_key, attempts FROM storage_deletions WHERE next_attempt_at <= now()"
	       " ORDER BY next_attempt_at LIMIT 100 FOR UPDATE SKIP LOCKED",
	.nparams = 0,
};

static struct eccr_stmt st_done = {
	.sql = "DELETE FROM storage_deletions WHERE storage_key = $1",
	.nparams = 1,
};

static struct eccr_stmt st_later = {
	.sql = "UPDATE storage_deletions SET attempts = attempts + 1, last_error = $2,"
	       " next_attempt_at = now() + least(interval '1 second' * power(2, least(attempts, 12)),"
	       " interval '1 hour') WHERE storage_key = $1",
	.nparams = 2,
};

int storage_gc_register(void)
{
	if (eccr_db_register(&st_due) != 0 || eccr_db_register(&st_done) != 0 ||
	    eccr_db_register(&st_later) != 0)
		return -1;
	return 0;
}

long storage_gc_round(struct eccr_db *db, struct eccr_storage *st)
{
	PGresult *due, *res;
	const char *p[2];
	enum eccr_db_err e;
	long done = 0;
	int i, err;

	if (st == NULL || eccr_db_begin(db) != ECCR_DB_OK)
		return -1;
	if (eccr_db_exec(db, &st_due, NULL, &due) != ECCR_DB_OK) {
		eccr_db_rollback(db);
		return -1;
	}
	for (i = 0; i < PQntuples(due); i++) {
		p[0] = PQgetvalue(due, i, 0);
		err = eccr_storage_delete(st, p[0]);
		p[1] = err ? strerror(err) : NULL;
		if (err)
			eccr_warn("storage: cannot delete %s: %s (will retry)", p[0], strerror(err));
		e = eccr_db_exec(db, err ? &st_later : &st_done, p, &res);
		if (e != ECCR_DB_OK)
			break;
		PQclear(res);
		done += !err;
	}
	PQclear(due);
	if (eccr_db_commit(db) != ECCR_DB_OK)
		return -1;
	return done;
}
