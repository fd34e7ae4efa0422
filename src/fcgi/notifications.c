/* notifications.c - the caller's in-app inbox: GET /notifications
 * (?unread=true, newest first, keyset pagination on the row's seq),
 * GET /notifications/unread-count, POST /notifications/{id}/read,
 * POST /notifications/read-all and DELETE /notifications/{id}.
 *
 * The rows are written by the database in the transaction of the change
 * (migration 0005), or by an admin's announcement (announcements.c); here
 * they are only read, marked and deleted.  Every statement is scoped to the
 * caller's user id, so another user's notification is indistinguishable
 * from none: 404.  So is an announcement past its expires_at: gone from
 * the list and the count, and not to be marked or deleted any more. */
#include <stdio.h>
#include <string.h>

#include "app.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define CURSOR_MAX 32
#define CURSOR_CODE 'N'

/* The caller's live notifications (alias n). */
#define MINE_LIVE " n.user_id = $1 AND (n.expires_at IS NULL OR n.expires_at > now())"

/* $1 user, $2 unread only, $3 cursor seq (NULL: first page), $4 limit. */
static struct eccr_stmt st_list = {
	.sql = "SELECT eccr_notification_json(n), n.seq FROM notifications n"
	       " WHERE" MINE_LIVE " AND (NOT $2::boolean OR n.read_at IS NULL)"
	       "   AND ($3::bigint IS NULL OR n.seq < $3::bigint)"
	       " ORDER BY n.seq DESC LIMIT $4::int",
	.nparams = 4, .flags = ECCR_STMT_READ,
};

static struct eccr_stmt st_unread = {
	.sql = "SELECT count(*) FROM notifications n WHERE" MINE_LIVE " AND n.read_at IS NULL",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

/* Reading twice keeps the first read_at. */
static struct eccr_stmt st_read = {
	.sql = "UPDATE notifications n SET read_at = coalesce(n.read_at, now())"
	       " WHERE n.id = $2::uuid AND" MINE_LIVE
	       " RETURNING eccr_notification_json(n)",
	.nparams = 2,
};

static struct eccr_stmt st_read_all = {
	.sql = "WITH u AS (UPDATE notifications n SET read_at = now()"
	       "           WHERE" MINE_LIVE " AND n.read_at IS NULL RETURNING 1)"
	       " SELECT count(*) FROM u",
	.nparams = 1,
};

static struct eccr_stmt st_delete = {
	.sql = "DELETE FROM notifications n WHERE n.id = $2::uuid AND" MINE_LIVE,
	.nparams = 2,
};

int eccr_notifications_register(void)
{
	struct eccr_stmt *all[] = { &st_list, &st_unread, &st_read, &st_read_all, &st_delete };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	/* POST /notifications (announcements.c) belongs to the same resource. */
	return eccr_announcements_register();
}

/* A cursor is base64url("N|<seq>"). */
static bool parse_cursor(struct eccr_ctx *c, char seq[24])
{
	size_t len;
	const char *s = eccr_query_get(&c->req, "cursor", &len);
	unsigned char raw[CURSOR_MAX];
	int64_t v;
	long n;

	seq[0] = '\0';
	if (s == NULL)
		return true;
	n = len <= eccr_b64url_len(sizeof raw - 1)
	    ? eccr_b64url_decode(s, len, raw, sizeof raw - 1) : -1;
	if (n < 3 || n > 22 || raw[0] != CURSOR_CODE || raw[1] != '|' ||
	    memchr(raw, '\0', (size_t)n) != NULL)
		goto bad;
	memcpy(seq, raw + 2, (size_t)n - 2);
	seq[n - 2] = '\0';
	if (eccr_parse_i64(seq, 1, INT64_MAX, &v))
		return true;
bad:
	eccr_problem(&c->req, 400, "bad_request", "cursor is malformed");
	return false;
}

static bool parse_list_query(struct eccr_ctx *c, const char **unread, int64_t *limit,
    char seq[24])
{
	const char *s;

	*unread = "false";
	if ((s = eccr_query_get(&c->req, "unread", NULL)) != NULL) {
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
			eccr_problem(&c->req, 400, "bad_request", "unread must be true or false");
			return false;
		}
		*unread = s;
	}
	*limit = LIST_LIMIT_DEFAULT;
	if ((s = eccr_query_get(&c->req, "limit", NULL)) != NULL &&
	    !eccr_parse_i64(s, 1, LIST_LIMIT_MAX, limit)) {
		eccr_problem(&c->req, 400, "bad_request",
		    "limit must be an integer from 1 to %d", LIST_LIMIT_MAX);
		return false;
	}
	return parse_cursor(c, seq) && eccr_no_unknown_query(c);
}

/* The raw cursor that continues after row i: "<code>|<seq>". */
static int cursor_of(const PGresult *res, int i, const void *arg, char *raw, size_t rawlen)
{
	(void)arg;
	return snprintf(raw, rawlen, "%c|%s", CURSOR_CODE, PQgetvalue(res, i, 1));
}

void eccr_notifications_list(struct eccr_ctx *c)
{
	const char *unread, *params[4];
	char seq[24], limit[24];
	int64_t lim;
	PGresult *res;
	enum eccr_db_err e;

	if (!parse_list_query(c, &unread, &lim, seq))
		return;
	/* one row more than asked, to know whether a next page exists */
	snprintf(limit, sizeof limit, "%lld", (long long)lim + 1);
	params[0] = c->req.who.sub;
	params[1] = unread;
	params[2] = seq[0] != '\0' ? seq : NULL;
	params[3] = limit;
	if ((e = eccr_db_exec(c->db, &st_list, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_send_page(c, res, (long)lim, cursor_of, NULL);
	PQclear(res);
}

/* {"<key>":<the one value st returns for the caller>} */
static void send_count(struct eccr_ctx *c, struct eccr_stmt *st, const char *key)
{
	const char *params[1] = { c->req.who.sub };
	char body[64];
	PGresult *res;
	enum eccr_db_err e;
	int n;

	if (!eccr_no_unknown_query(c) || !eccr_empty_body(c))
		return;
	if ((e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	n = snprintf(body, sizeof body, "{\"%s\":%s}", key, PQgetvalue(res, 0, 0));
	eccr_resp_json(&c->req, 200, body, (size_t)n);
	PQclear(res);
}

void eccr_notifications_unread_count(struct eccr_ctx *c)
{
	send_count(c, &st_unread, "count");
}

/* Run st on (the notification in the path, the caller).  NULL, with the
 * problem queued, on a bad id, a database error, or when st touched no row
 * (none, or another user's: both 404). */
static PGresult *own_notification(struct eccr_ctx *c, struct eccr_stmt *st)
{
	char id[37];
	const char *params[2] = { c->req.who.sub, id };   /* $1 as in MINE_LIVE */
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) || !eccr_empty_body(c))
		return NULL;
	if ((e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return NULL;
	}
	if (PQntuples(res) == 0 && strcmp(PQcmdTuples(res), "0") == 0) {
		eccr_problem(&c->req, 404, "not_found", "notification %s not found", id);
		PQclear(res);
		return NULL;
	}
	return res;
}

void eccr_notifications_read(struct eccr_ctx *c)
{
	PGresult *res = own_notification(c, &st_read);

	if (res == NULL)
		return;
	eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

void eccr_notifications_read_all(struct eccr_ctx *c)
{
	send_count(c, &st_read_all, "updated");
}

void eccr_notifications_delete(struct eccr_ctx *c)
{
	PGresult *res = own_notification(c, &st_delete);

	if (res == NULL)
		return;
	eccr_resp_empty(&c->req, 204);
	PQclear(res);
}
