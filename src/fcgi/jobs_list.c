/* jobs_list.c - GET /jobs: filters status, type and episode_id, newest
 * first, keyset pagination on (created_at, id).
 *
 * As in episodes_list.c, each combination of filters and cursor gets its
 * own statement, assembled at start-up from fixed fragments, so each plan
 * can use the index that fits (jobs_recent, jobs_episode). */
#include <stdio.h>
#include <string.h>

#include "app.h"

enum { F_STATUS, F_TYPE, F_EPISODE, F_COUNT };

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define CURSOR_MAX 128
#define CURSOR_CODE 'J'

/* Each filter is " AND <column> = $<n><cast>". */
static const char *const filter_col[F_COUNT] = { "j.status", "j.type", "j.episode_id" };
static const char *const filter_cast[F_COUNT] = { "", "", "::uuid" };

static const char *const job_statuses[] = {
	"queued", "running", "succeeded", "failed", "cancelled", NULL
};

#define NSTMTS ((1 << F_COUNT) * 2)
static struct eccr_stmt list_stmts[NSTMTS];

static char *build_sql(unsigned filters, bool cursor, int *nparams)
{
	struct eccr_buf b = { 0 };
	int n = 0;

	eccr_buf_adds(&b, "SELECT eccr_job_json(j), j.id,"
	    " (extract(epoch FROM j.created_at) * 1000000)::bigint"
	    " FROM jobs j WHERE true");
	for (int f = 0; f < F_COUNT; f++)
		if (filters & (1u << f))
			eccr_buf_printf(&b, " AND %s = $%d%s", filter_col[f], ++n,
			    filter_cast[f]);
	if (cursor) {
		eccr_buf_printf(&b, " AND (j.created_at, j.id) < (timestamptz 'epoch'"
		    " + $%d::bigint * interval '1 microsecond', $%d::uuid)", n + 1, n + 2);
		n += 2;
	}
	eccr_buf_printf(&b, " ORDER BY j.created_at DESC, j.id DESC LIMIT $%d::int", ++n);
	*nparams = n;
	if (b.oom) {
		eccr_buf_free(&b);
		return NULL;
	}
	return b.p;
}

int eccr_jobs_list_register(void)
{
	for (unsigned f = 0; f < (1u << F_COUNT); f++)
		for (int cur = 0; cur < 2; cur++) {
			struct eccr_stmt *st = &list_stmts[f * 2 + (unsigned)cur];

			if (st->sql != NULL)
				continue;
			/* Lives as long as the process: never freed. */
			st->sql = build_sql(f, cur, &st->nparams);
			st->flags = ECCR_STMT_READ;
			if (st->sql == NULL || eccr_db_register(st) != 0)
				return -1;
		}
	return 0;
}

struct list_query {
	unsigned filters;
	const char *filter[F_COUNT];
	char episode[37];
	int64_t limit;
	bool has_cursor;
	char cur_micros[24];
	char cur_id[37];
};

static bool parse_filters(struct eccr_ctx *c, struct list_query *q)
{
	size_t len;
	const char *s;
	long chars;

	if ((s = eccr_query_get(&c->req, "status", NULL)) != NULL) {
		size_t i;

		for (i = 0; job_statuses[i] != NULL; i++)
			if (strcmp(s, job_statuses[i]) == 0)
				break;
		if (job_statuses[i] == NULL) {
			eccr_problem(&c->req, 400, "bad_request", "status must be one of "
			    "queued, running, succeeded, failed, cancelled");
			return false;
		}
		q->filter[F_STATUS] = job_statuses[i];
	}
	if ((s = eccr_query_get(&c->req, "type", &len)) != NULL) {
		chars = eccr_utf8_len(s, len);
		if (chars < 1 || chars > 100 || eccr_has_control(s, len)) {
			eccr_problem(&c->req, 400, "bad_request",
			    "type must be 1..100 characters of text");
			return false;
		}
		q->filter[F_TYPE] = s;
	}
	if ((s = eccr_query_get(&c->req, "episode_id", &len)) != NULL) {
		if (len != 36 || !eccr_uuid_normalize(s, q->episode)) {
			eccr_problem(&c->req, 400, "bad_request", "episode_id must be a UUID");
			return false;
		}
		q->filter[F_EPISODE] = q->episode;
	}
	for (int f = 0; f < F_COUNT; f++)
		if (q->filter[f] != NULL)
			q->filters |= 1u << f;
	return true;
}

static bool parse_limit(struct eccr_ctx *c, struct list_query *q)
{
	const char *s = eccr_query_get(&c->req, "limit", NULL);

	q->limit = LIST_LIMIT_DEFAULT;
	if (s != NULL && !eccr_parse_i64(s, 1, LIST_LIMIT_MAX, &q->limit)) {
		eccr_problem(&c->req, 400, "bad_request",
		    "limit must be an integer from 1 to %d", LIST_LIMIT_MAX);
		return false;
	}
	return true;
}

/* A cursor is base64url("J|<microseconds since the epoch>|<uuid>"). */
static bool parse_cursor(struct eccr_ctx *c, struct list_query *q)
{
	size_t len;
	const char *s = eccr_query_get(&c->req, "cursor", &len);
	unsigned char raw[CURSOR_MAX];
	int64_t micros;
	long n;
	size_t vlen;

	if (s == NULL)
		return true;
	q->has_cursor = true;
	n = len <= eccr_b64url_len(sizeof raw - 1)
	    ? eccr_b64url_decode(s, len, raw, sizeof raw - 1) : -1;
	if (n < 2 + 1 + 1 + 36 || raw[0] != CURSOR_CODE || raw[1] != '|' ||
	    raw[n - 37] != '|' || memchr(raw, '\0', (size_t)n) != NULL)
		goto bad;
	raw[n] = '\0';
	vlen = (size_t)(n - 39);
	if (vlen >= sizeof q->cur_micros)
		goto bad;
	memcpy(q->cur_micros, raw + 2, vlen);
	q->cur_micros[vlen] = '\0';
	memcpy(q->cur_id, raw + n - 36, 36);
	q->cur_id[36] = '\0';
	if (!eccr_uuid_valid(q->cur_id) ||
	    !eccr_parse_i64(q->cur_micros, INT64_MIN / 2, INT64_MAX / 2, &micros))
		goto bad;
	return true;
bad:
	eccr_problem(&c->req, 400, "bad_request", "cursor is malformed");
	return false;
}

/* The raw cursor that continues after row i: "J|<micros>|<id>". */
static int cursor_of(const PGresult *res, int i, const void *arg, char *raw, size_t rawlen)
{
	(void)arg;
	return snprintf(raw, rawlen, "%c|%s|%s", CURSOR_CODE, PQgetvalue(res, i, 2),
	    PQgetvalue(res, i, 1));
}

void eccr_jobs_list(struct eccr_ctx *c)
{
	struct list_query q;
	const char *params[F_COUNT + 3];
	char limit[24];
	struct eccr_stmt *st;
	PGresult *res;
	enum eccr_db_err e;
	int n = 0;

	memset(&q, 0, sizeof q);
	if (!parse_filters(c, &q) || !parse_limit(c, &q) || !parse_cursor(c, &q) ||
	    !eccr_no_unknown_query(c))
		return;
	st = &list_stmts[q.filters * 2 + (q.has_cursor ? 1 : 0)];
	for (int f = 0; f < F_COUNT; f++)
		if (q.filters & (1u << f))
			params[n++] = q.filter[f];
	if (q.has_cursor) {
		params[n++] = q.cur_micros;
		params[n++] = q.cur_id;
	}
	/* one row more than asked, to know whether a next page exists */
	snprintf(limit, sizeof limit, "%lld", (long long)q.limit + 1);
	params[n++] = limit;
	if (n != st->nparams) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	if ((e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_send_page(c, res, q.limit, cursor_of, NULL);
	PQclear(res);
}
