/* notify.c - see notify.h. */
#include <string.h>

#include "notify.h"

/* One statement, so two processes starting together cannot interleave a
 * delete and an insert; types are config-validated ([a-z0-9_]). */
static struct eccr_stmt st_sync = {
	.sql = "WITH want AS (SELECT DISTINCT t AS type"
	       "   FROM regexp_split_to_table($1, '[[:space:],]+') t WHERE t <> ''),"
	       " del AS (DELETE FROM notification_types n"
	       "   WHERE n.type NOT IN (SELECT type FROM want))"
	       " INSERT INTO notification_types (type) SELECT type FROM want"
	       " ON CONFLICT (type) DO NOTHING",
	.nparams = 1,
};

int eccr_notify_register(void)
{
	if (st_sync.index != 0)
		return 0;
	return eccr_db_register(&st_sync);
}

enum eccr_db_err eccr_notify_sync_types(struct eccr_db *db, const char *types)
{
	const char *p[1] = { types };
	PGresult *res;
	enum eccr_db_err e;

	if ((e = eccr_db_exec(db, &st_sync, p, &res)) == ECCR_DB_OK)
		PQclear(res);
	return e;
}
