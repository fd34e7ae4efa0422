/* episodes_list.c - GET /episodes: filters, full-text search, sorts and
 * keyset pagination.
 *
 * Every combination of (filters present, sort, cursor present) gets its own
 * statement, assembled at start-up from fixed fragments (never from input)
 * and prepared lazily per connection.  One generic statement with
 * "$1 IS NULL OR ..." guards would make PostgreSQL's generic plan ignore
 * the indexes; 320 specific ones each get the plan they deserve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "episodes.h"

enum { F_STATUS, F_CATEGORY, F_SERIES, F_CREATED_BY, F_Q, F_COUNT };
enum { S_UPDATED_DESC, S_UPDATED, S_TITLE, S_AIR, S_AIR_DESC, S_COUNT };

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define LIST_Q_MAX 500
#define CURSOR_MAX 2048

static const char *const sort_names[S_COUNT] = {
	"-updated_at", "updated_at", "title", "air_date", "-air_date"
};
/* The first byte of a cursor says which sort made it. */
static const char sort_codes[S_COUNT] = { 'U', 'u', 't', 'a', 'A' };

/* In these fragments $A, $B and $C stand for the next parameter numbers. */
static const char *const filter_sql[F_COUNT] = {
	" AND e.status = $A",
	" AND e.categories @> ARRAY[$A::text]",
	" AND e.series = $A",
	" AND e.created_by = $A",
	" AND e.search @@ websearch_to_tsquery('english', $A)",
};

static const char *const order_sql[S_COUNT] = {
	" ORDER BY e.updated_at DESC, e.id DESC",
	" ORDER BY e.updated_at, e.id",
	" ORDER BY e.title, e.id",
	" ORDER BY (e.air_date IS NULL), e.air_date, e.id",
	" ORDER BY (e.air_date IS NULL), e.air_date DESC, e.id DESC",
};

/* Keyset conditions: the rows strictly after the cursor's row. */
static const char *const cursor_sql[S_COUNT] = {
	" AND (e.updated_at, e.id) < (timestamptz 'epoch' + $A::bigint"
	" * interval '1 microsecond', $B::uuid)",
	" AND (e.updated_at, e.id) > (timestamptz 'epoch' + $A::bigint"
	" * interval '1 microsecond', $B::uuid)",
	" AND (e.title, e.id) > ($A::text, $B::uuid)",
	" AND ((e.air_date IS NULL), coalesce(e.air_date, date 'epoch'), e.id)"
	" > ($A::bool, $B::date, $C::uuid)",
	" AND ((e.air_date IS NULL) > $A::bool OR ((e.air_date IS NULL) = $A::bool"
	" AND (coalesce(e.air_date, date 'epoch'), e.id) < ($B::date, $C::uuid)))",
};

static const int cursor_nparams[S_COUNT] = { 2, 2, 2, 3, 3 };

#define NSTMTS ((1 << F_COUNT) * S_COUNT * 2)
static struct eccr_stmt list_stmts[NSTMTS];

static size_t stmt_index(unsigned filters, int sort, bool cursor)
{
	return ((size_t)filters * S_COUNT + (size_t)sort) * 2 + (cursor ? 1 : 0);
}

/* Copy a fragment, numbering $A, $B, $C from first. */
static void add_fragment(struct eccr_buf *b, const char *frag, int first)
{
	for (const char *p = frag; *p; p++) {
		if (p[0] == '$' && p[1] >= 'A' && p[1] <= 'C') {
			eccr_buf_printf(b, "$%d", first + (p[1] - 'A'));
			p++;
		} else {
			eccr_buf_addc(b, *p);
		}
	}
}

static char *build_sql(unsigned filters, int sort, bool cursor, int *nparams)
{
	struct eccr_buf b = { 0 };
	int n = 0;

	eccr_buf_adds(&b, "SELECT eccr_episode_json(e), e.id,"
	    " (extract(epoch FROM e.updated_at) * 1000000)::bigint,"
	    " e.title, e.air_date FROM episodes e WHERE true");
	for (int f = 0; f < F_COUNT; f++)
		if (filters & (1u << f))
			add_fragment(&b, filter_sql[f], ++n);
	if (cursor) {
		add_fragment(&b, cursor_sql[sort], n + 1);
		n += cursor_nparams[sort];
	}
	eccr_buf_adds(&b, order_sql[sort]);
	eccr_buf_printf(&b, " LIMIT $%d::int", ++n);
	*nparams = n;
	if (b.oom) {
		eccr_buf_free(&b);
		return NULL;
	}
	return b.p;
}

int eccr_episodes_list_register(void)
{
	for (unsigned f = 0; f < (1u << F_COUNT); f++)
		for (int s = 0; s < S_COUNT; s++)
			for (int cur = 0; cur < 2; cur++) {
				struct eccr_stmt *st = &list_stmts[stmt_index(f, s, cur)];

				if (st->sql != NULL)
					continue;
				/* Lives as long as the process: never freed. */
				st->sql = build_sql(f, s, cur, &st->nparams);
				st->flags = ECCR_STMT_READ;
				if (st->sql == NULL || eccr_db_register(st) != 0)
					return -1;
			}
	return 0;
}

/* What the query string asked for, validated. */
struct list_query {
	unsigned filters;
	const char *filter[F_COUNT];
	int sort;
	int64_t limit;
	bool has_cursor;
	char cur_value[CURSOR_MAX];   /* decoded cursor: value part */
	char cur_id[37];
	bool cur_null;                /* air_date sorts: the row had no date */
};

static bool text_param(struct eccr_ctx *c, const char *name, size_t maxchars,
    const char **out)
{
	size_t len = 0;
	const char *s = eccr_query_get(&c->req, name, &len);
	long chars;

	*out = NULL;
	if (s == NULL)
		return true;
	chars = eccr_utf8_len(s, len);
	if (chars < 1 || (size_t)chars > maxchars || eccr_has_control(s, len)) {
		eccr_problem(&c->req, 400, "bad_request",
		    "%s must be 1..%zu characters of text", name, maxchars);
		return false;
	}
	*out = s;
	return true;
}

static bool parse_filters(struct eccr_ctx *c, struct list_query *q)
{
	const char *s;
	size_t len;

	if (!text_param(c, "status", 32, &q->filter[F_STATUS]) ||
	    !text_param(c, "category", EPISODE_CATEGORY_MAX, &q->filter[F_CATEGORY]) ||
	    !text_param(c, "series", EPISODE_SERIES_MAX, &q->filter[F_SERIES]) ||
	    !text_param(c, "created_by", ECCR_SUB_MAX, &q->filter[F_CREATED_BY]))
		return false;
	if (q->filter[F_STATUS] && !episode_status_valid(q->filter[F_STATUS])) {
		eccr_problem(&c->req, 400, "bad_request", "status must be one of draft, "
		    "in_review, scheduled, published, archived");
		return false;
	}
	/* An empty search box means no search. */
	s = eccr_query_get(&c->req, "q", &len);
	if (s != NULL && len > 0 &&
	    !text_param(c, "q", LIST_Q_MAX, &q->filter[F_Q]))
		return false;
	for (int f = 0; f < F_COUNT; f++)
		if (q->filter[f] != NULL)
			q->filters |= 1u << f;
	return true;
}

static bool parse_sort_limit(struct eccr_ctx *c, struct list_query *q)
{
	const char *s = eccr_query_get(&c->req, "sort", NULL);

	q->sort = S_UPDATED_DESC;
	if (s != NULL) {
		for (q->sort = 0; q->sort < S_COUNT; q->sort++)
			if (strcmp(s, sort_names[q->sort]) == 0)
				break;
		if (q->sort == S_COUNT) {
			eccr_problem(&c->req, 400, "bad_request", "sort must be one of "
			    "-updated_at, updated_at, title, air_date, -air_date");
			return false;
		}
	}
	q->limit = LIST_LIMIT_DEFAULT;
	s = eccr_query_get(&c->req, "limit", NULL);
	if (s != NULL && !eccr_parse_i64(s, 1, LIST_LIMIT_MAX, &q->limit)) {
		eccr_problem(&c->req, 400, "bad_request",
		    "limit must be an integer from 1 to %d", LIST_LIMIT_MAX);
		return false;
	}
	return true;
}

/* A cursor is base64url("<code>|<value>|<uuid>"), value by sort:
 * microseconds since the epoch, a title, or a date ("-" for none). */
static bool cursor_value_valid(struct list_query *q)
{
	const char *v = q->cur_value;
	size_t n = strlen(v);
	int64_t micros;

	switch (q->sort) {
	case S_UPDATED_DESC:
	case S_UPDATED:
		return eccr_parse_i64(v, INT64_MIN / 2, INT64_MAX / 2, &micros);
	case S_TITLE: {
		long chars = eccr_utf8_len(v, n);

		return chars >= 1 && chars <= EPISODE_TITLE_MAX;
	}
	default:
		q->cur_null = strcmp(v, "-") == 0;
		if (q->cur_null)
			strcpy(q->cur_value, "1970-01-01");
		return q->cur_null || eccr_date_valid(v, n);
	}
}

static bool parse_cursor(struct eccr_ctx *c, struct list_query *q)
{
	size_t len;
	const char *s = eccr_query_get(&c->req, "cursor", &len);
	unsigned char raw[CURSOR_MAX];
	long n;

	if (s == NULL)
		return true;
	q->has_cursor = true;
	n = len <= eccr_b64url_len(sizeof raw - 1)
	    ? eccr_b64url_decode(s, len, raw, sizeof raw - 1) : -1;
	if (n < 2 + 1 + 36 || raw[0] != (unsigned char)sort_codes[q->sort] ||
	    raw[1] != '|' || raw[n - 37] != '|')
		goto bad;
	raw[n] = '\0';
	memcpy(q->cur_id, raw + n - 36, 36);
	q->cur_id[36] = '\0';
	memcpy(q->cur_value, raw + 2, (size_t)(n - 39));
	q->cur_value[n - 39] = '\0';
	if (memchr(raw, '\0', (size_t)n) != NULL || !eccr_uuid_valid(q->cur_id) ||
	    !cursor_value_valid(q))
		goto bad;
	return true;
bad:
	eccr_problem(&c->req, 400, "bad_request",
	    "cursor is malformed or belongs to another sort order");
	return false;
}

/* The raw cursor that continues after row i: "<sort code>|<value>|<id>". */
static int cursor_of(const PGresult *res, int i, const void *arg, char *raw, size_t rawlen)
{
	const struct list_query *q = arg;
	const char *value;

	if (q->sort == S_TITLE)
		value = PQgetvalue(res, i, 3);
	else if (q->sort == S_AIR || q->sort == S_AIR_DESC)
		value = PQgetisnull(res, i, 4) ? "-" : PQgetvalue(res, i, 4);
	else
		value = PQgetvalue(res, i, 2);
	return snprintf(raw, rawlen, "%c|%s|%s", sort_codes[q->sort], value,
	    PQgetvalue(res, i, 1));
}

static int bind_params(const struct list_query *q, const char **params,
    char *micros_or_limit, size_t buflen)
{
	int n = 0;

	for (int f = 0; f < F_COUNT; f++)
		if (q->filters & (1u << f))
			params[n++] = q->filter[f];
	if (q->has_cursor) {
		if (q->sort == S_AIR || q->sort == S_AIR_DESC)
			params[n++] = q->cur_null ? "true" : "false";
		params[n++] = q->cur_value;
		params[n++] = q->cur_id;
	}
	/* one row more than asked, to know whether a next page exists */
	snprintf(micros_or_limit, buflen, "%lld", (long long)q->limit + 1);
	params[n++] = micros_or_limit;
	return n;
}

void eccr_episodes_list(struct eccr_ctx *c)
{
	struct list_query q;
	const char *params[F_COUNT + 4];
	char limit[24];
	struct eccr_stmt *st;
	PGresult *res;
	enum eccr_db_err e;

	memset(&q, 0, sizeof q);
	if (!parse_filters(c, &q) || !parse_sort_limit(c, &q) ||
	    !parse_cursor(c, &q) || !eccr_no_unknown_query(c))
		return;
	st = &list_stmts[stmt_index(q.filters, q.sort, q.has_cursor)];
	if (bind_params(&q, params, limit, sizeof limit) != st->nparams) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	if ((e = eccr_db_exec(c->db, st, params, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_send_page(c, res, q.limit, cursor_of, &q);
	PQclear(res);
}
