/* app.c - one request: parse, route, authenticate, run the handler, send. */
#include "app.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "files.h"
#include "presence.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"

/* Does path start with prefix's segments? */
static bool has_prefix(const struct eccr_path *path, const struct eccr_path *prefix)
{
	if (path->nseg < prefix->nseg)
		return false;
	for (size_t i = 0; i < prefix->nseg; i++)
		if (path->seglen[i] != prefix->seglen[i] ||
		    memcmp(path->seg[i], prefix->seg[i], path->seglen[i]) != 0)
			return false;
	return true;
}

bool eccr_authenticate(struct eccr_ctx *c)
{
	struct eccr_req *r = &c->req;
	enum eccr_auth_err e;

	if (eccr_auth_mode(c->app->auth) == ECCR_AUTH_REMOTE_USER)
		e = eccr_auth_remote_user(c->app->auth,
		    eccr_req_param(r, "REMOTE_USER"), &r->who);
	else
		e = eccr_auth_bearer_memo(c->app->auth, &c->auth_memo,
		    eccr_req_param(r, "HTTP_AUTHORIZATION"), time(NULL), &r->who);
	if (e == ECCR_AUTH_OK) {
		r->authenticated = true;
		return true;
	}
	if (e == ECCR_AUTH_INTERNAL) {
		eccr_problem(r, 500, "internal", "authentication failed internally");
		return false;
	}
	if (e == ECCR_AUTH_MISSING)
		eccr_resp_header(r, "WWW-Authenticate", "Bearer realm=\"eccr\"");
	else
		eccr_resp_header(r, "WWW-Authenticate",
		    "Bearer realm=\"eccr\", error=\"invalid_token\"");
	eccr_problem(r, 401, "unauthorized", "%s", eccr_auth_strerror(e));
	return false;
}

/* Route the request; false when a 404/405 problem was queued. */
static bool route(struct eccr_ctx *c, bool *api)
{
	struct eccr_req *r = &c->req;
	struct eccr_app *a = c->app;
	enum eccr_route_result res = ECCR_ROUTE_NOT_FOUND;
	char allow[64];

	*api = false;
	if (has_prefix(&r->path, &a->api_prefix)) {
		*api = true;
		res = eccr_route(eccr_api_routes, eccr_api_nroutes, &r->path,
		    a->api_prefix.nseg, r->method, &r->match);
	}
	if (res == ECCR_ROUTE_NOT_FOUND && has_prefix(&r->path, &a->mount_prefix)) {
		res = eccr_route(eccr_root_routes, eccr_root_nroutes, &r->path,
		    a->mount_prefix.nseg, r->method, &r->match);
		if (res != ECCR_ROUTE_NOT_FOUND)
			*api = false;
	}
	if (res == ECCR_ROUTE_FOUND) {
		r->route_name = r->match.route->name;
		return true;
	}
	if (res == ECCR_ROUTE_METHOD_NOT_ALLOWED) {
		eccr_method_list(r->match.allow, allow, sizeof allow);
		eccr_resp_header(r, "Allow", "%s", allow);
		eccr_problem(r, 405, "method_not_allowed",
		    "method %s is not allowed here; allowed: %s",
		    eccr_method_name(r->method), allow);
		return false;
	}
	eccr_problem(r, 404, "not_found", "no resource at this path");
	return false;
}

/* The metrics slot of the request's route: the API routes, then the root
 * routes, then one for requests no route took (main.c labels them). */
size_t eccr_route_slot(const struct eccr_req *r)
{
	const struct eccr_route *rt = r->match.route;

	if (strcmp(r->route_name, "unmatched") == 0 || rt == NULL)
		return eccr_api_nroutes + eccr_root_nroutes;
	if (rt >= eccr_api_routes && rt < eccr_api_routes + eccr_api_nroutes)
		return (size_t)(rt - eccr_api_routes);
	return eccr_api_nroutes + (size_t)(rt - eccr_root_routes);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void eccr_app_handle(struct eccr_ctx *c)
{
	struct eccr_req *r = &c->req;
	uint64_t start = now_us();
	bool api;

	c->body = NULL;
	/* "public." routes carry their own proof (a signed URL). */
	if (eccr_req_begin(r, &c->fcgx) == 0 && route(c, &api) &&
	    (!api || strncmp(r->route_name, "public.", 7) == 0 || eccr_authenticate(c))) {
		eccr_handler_fn fn = (eccr_handler_fn)r->match.route->handler;

		fn(c);
	}
	if (c->body != NULL)
		json_object_put(c->body);
	c->body = NULL;
	/* Before the answer goes: a client that retries at once must not
	 * find its key still taken. */
	eccr_idem_end(c);
	eccr_resp_send(r);
	eccr_metrics_request(eccr_route_slot(r), r->status, now_us() - start);
}

bool eccr_require_role(struct eccr_ctx *c, enum eccr_role role)
{
	if (c->req.who.role >= role)
		return true;
	eccr_problem(&c->req, 403, "forbidden", "this action needs the %s role",
	    eccr_role_name(role));
	return false;
}

bool eccr_read_json_object(struct eccr_ctx *c)
{
	struct eccr_req *r = &c->req;
	int64_t max = c->app->cfg.server.max_body_bytes;
	char detail[160];

	if (!eccr_req_is_json(r)) {
		eccr_problem(r, 415, "unsupported_media_type",
		    "the body must be application/json");
		return false;
	}
	switch (eccr_req_read_body(r, max)) {
	case ECCR_BODY_OK:
		break;
	case ECCR_BODY_TOO_LARGE:
		eccr_problem(r, 413, "payload_too_large",
		    "the body is larger than %lld bytes", (long long)max);
		return false;
	default:
		eccr_problem(r, 400, "bad_request", "the body could not be read");
		return false;
	}
	if (eccr_json_parse(r->body.p, r->body.len, &c->body, detail,
	    sizeof detail) != ECCR_JSON_OK) {
		eccr_problem(r, 400, "bad_request", "%s", detail);
		return false;
	}
	if (!json_object_is_type(c->body, json_type_object)) {
		eccr_problem(r, 400, "bad_request", "the body must be a JSON object");
		return false;
	}
	return true;
}

bool eccr_empty_body(struct eccr_ctx *c)
{
	static const char *const none[] = { NULL };
	const char *cl = eccr_req_param(&c->req, "CONTENT_LENGTH");
	struct eccr_valid v = { 0 };

	/* Only a POST's body is input; GET and DELETE bodies are not read. */
	if (c->req.method != ECCR_POST || cl == NULL || cl[0] == '\0' || strcmp(cl, "0") == 0)
		return true;
	if (!eccr_read_json_object(c))
		return false;
	if (!eccr_json_only_fields(&v, c->body, none)) {
		eccr_problem_valid(&c->req, &v);
		return false;
	}
	return true;
}

void eccr_db_problem(struct eccr_ctx *c, enum eccr_db_err e)
{
	struct eccr_req *r = &c->req;

	switch (e) {
	case ECCR_DB_UNAVAILABLE:
	case ECCR_DB_SERIALIZATION:
		eccr_resp_header(r, "Retry-After", "%d", e == ECCR_DB_UNAVAILABLE ? 5 : 1);
		eccr_problem(r, 503, "unavailable",
		    e == ECCR_DB_UNAVAILABLE ? "the database is unavailable"
					     : "the database is busy");
		break;
	case ECCR_DB_UNIQUE:
		eccr_problem(r, 409, "conflict", "a conflicting resource exists");
		break;
	case ECCR_DB_INVALID:
		eccr_problem(r, 400, "bad_request", "a value is out of range");
		break;
	default:
		eccr_problem(r, 500, "internal", "internal error");
		break;
	}
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (h ^ 0xff) * 0x100000001b3ULL;  /* field separator */
}

static struct eccr_stmt user_upsert = {
	.sql = "INSERT INTO users (id, name, email, role) "
	       "VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), $4) "
	       "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, "
	       "email = EXCLUDED.email, role = EXCLUDED.role, updated_at = now() "
	       "WHERE (users.name, users.email, users.role) IS DISTINCT FROM "
	       "(EXCLUDED.name, EXCLUDED.email, EXCLUDED.role)",
	.nparams = 4,
};

enum eccr_db_err eccr_record_user(struct eccr_ctx *c)
{
	const struct eccr_principal *w = &c->req.who;
	const char *role = eccr_role_name(w->role);
	const char *params[4] = { w->sub, w->name, w->email, role };
	uint64_t h = 0xcbf29ce484222325ULL;
	PGresult *res;
	enum eccr_db_err e;

	h = fnv1a(fnv1a(fnv1a(fnv1a(h, w->sub), w->name), w->email), role);
	for (size_t i = 0; i < ECCR_USER_CACHE; i++)
		if (c->user_seen[i] == h)
			return ECCR_DB_OK;
	e = eccr_db_exec(c->db, &user_upsert, params, &res);
	if (e != ECCR_DB_OK)
		return e;
	PQclear(res);
	c->user_seen[c->user_next++ % ECCR_USER_CACHE] = h;
	return ECCR_DB_OK;
}

bool eccr_capture_uuid(struct eccr_ctx *c, size_t i, char out[37])
{
	const struct eccr_route_match *m = &c->req.match;
	char tmp[37];

	if (i < m->ncap && m->caplen[i] == 36) {
		memcpy(tmp, m->cap[i], 36);
		tmp[36] = '\0';
		if (eccr_uuid_normalize(tmp, out))
			return true;
	}
	eccr_problem(&c->req, 400, "bad_request", "the id in the path is not a UUID");
	return false;
}

bool eccr_no_unknown_query(struct eccr_ctx *c)
{
	const char *k = eccr_query_unused(&c->req);
	char name[65];

	if (k == NULL)
		return true;
	snprintf(name, sizeof name, "%s", k);
	eccr_problem(&c->req, 400, "bad_request", "unknown query parameter '%s'", name);
	return false;
}

/* One entity-tag of a list: returns the rest after it, or NULL if malformed.
 * *version is set for a strong tag holding a version number, else -1. */
static const char *etag_next(const char *p, int64_t *version)
{
	bool weak = false;
	const char *end;
	char digits[16];
	size_t n;

	if (p[0] == 'W' && p[1] == '/') {
		weak = true;
		p += 2;
	}
	if (*p != '"')
		return NULL;
	end = strchr(p + 1, '"');
	if (end == NULL)
		return NULL;
	n = (size_t)(end - p - 1);
	*version = -1;
	if (!weak && n > 0 && n < sizeof digits) {
		memcpy(digits, p + 1, n);
		digits[n] = '\0';
		if (!eccr_parse_i64(digits, 1, INT32_MAX, version))
			*version = -1;
	}
	return end + 1;
}

int eccr_if_match(struct eccr_ctx *c, char *out, size_t outlen)
{
	const char *p = eccr_req_param(&c->req, "HTTP_IF_MATCH");
	size_t used = 0;
	int tags = 0;

	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(p, "*") == 0)
		return 0;
	used = (size_t)snprintf(out, outlen, "{");
	while (*p != '\0') {
		int64_t v;

		if ((p = etag_next(p, &v)) == NULL || ++tags > 16)
			goto bad;
		if (v > 0 && used + 16 < outlen)
			used += (size_t)snprintf(out + used, outlen - used, "%s%lld",
			    used > 1 ? "," : "", (long long)v);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			goto bad;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (tags == 0)
		goto bad;
	snprintf(out + used, outlen - used, "}");
	return 1;
bad:
	eccr_problem(&c->req, 400, "bad_request", "the If-Match header is malformed");
	return -1;
}

int eccr_app_register_statements(void)
{
	if (eccr_db_register(&user_upsert) != 0 || eccr_idem_register() != 0)
		return -1;
	if (eccr_health_register() != 0 || eccr_episodes_register() != 0 ||
	    eccr_episodes_list_register() != 0)
		return -1;
	if (eccr_metrics_register() != 0)
		return -1;
	if (eccr_jobs_register() != 0 || eccr_jobs_list_register() != 0)
		return -1;
	if (eccr_files_register() != 0)
		return -1;
	if (eccr_notify_register() != 0 || eccr_notifications_register() != 0 ||
	    eccr_me_register() != 0 || eccr_activity_register() != 0 ||
	    eccr_presence_register() != 0)
		return -1;
	return 0;
}

void eccr_event_committed(struct eccr_ctx *c, PGresult *res, int row, int col)
{
	int64_t id;

	if (c->app->dispatch == NULL || PQgetisnull(res, row, col) ||
	    !eccr_parse_i64(PQgetvalue(res, row, col), 1, INT64_MAX, &id))
		return;
	/* The response is already written; a full queue leaves the event to
	 * eccr-worker, never delaying this request. */
	eccr_dispatch_offer(c->app->dispatch, id);
}

/* The raw cursor is at most this long; every list's fits (episodes': a
 * sort code, a title of 500 characters, a uuid). */
#define PAGE_CURSOR_MAX 2304

void eccr_send_page(struct eccr_ctx *c, const PGresult *res, long limit,
    eccr_cursor_fn cursor_of, const void *arg)
{
	static __thread char raw[PAGE_CURSOR_MAX], enc[PAGE_CURSOR_MAX * 4 / 3 + 4];
	struct eccr_buf *b = &c->scratch;
	int rows = PQntuples(res), shown = rows > limit ? (int)limit : rows, n;

	eccr_buf_reset(b);
	eccr_buf_adds(b, "{\"items\":[");
	for (int i = 0; i < shown; i++) {
		if (i)
			eccr_buf_addc(b, ',');
		eccr_buf_add(b, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	}
	eccr_buf_adds(b, "],\"next_cursor\":");
	if (rows > limit) {
		n = cursor_of(res, shown - 1, arg, raw, sizeof raw);
		if (n < 0 || (size_t)n >= sizeof raw) {
			eccr_problem(&c->req, 500, "internal", "internal error");
			return;
		}
		eccr_b64url_encode((const unsigned char *)raw, (size_t)n, enc);
		eccr_buf_addc(b, '"');
		eccr_buf_adds(b, enc);
		eccr_buf_addc(b, '"');
	} else {
		eccr_buf_adds(b, "null");
	}
	eccr_buf_addc(b, '}');
	if (b->oom) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	eccr_resp_json(&c->req, 200, b->p, b->len);
}
