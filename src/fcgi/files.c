/* files.c - the files API: direct uploads, metadata, signed download URLs
 * and deletion, and what the other files_*.c share.  Uploads through
 * eccr-fcgi are files_upload.c; the bytes themselves are served by
 * files_content.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "files.h"
#include "log.h"
#include "storage.h"
#include "upload_rules.h"

#define LIST_MAX 200

static struct eccr_stmt st_episode = {
	.sql = "SELECT 1 FROM episodes WHERE id = $1::uuid",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

/* The file_uploaded event of a ready file (a direct upload is announced
 * when it completes). */
#define FILE_EVENT(type, src) \
	" ev AS (INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id," \
	"        episode_id, data)" \
	"  SELECT '" type "', $8, NULLIF($9, ''), 'file', " src ".id::text, " src ".episode_id," \
	"   jsonb_build_object('file_id', " src ".id, 'name', " src ".name, 'size_bytes'," \
	"   " src ".size_bytes, 'content_type', " src ".content_type, 'sha256', " src ".sha256)" \
	"  FROM " src " WHERE " src ".status = 'ready' RETURNING id)"

/* $1 id $2 episode $3 name $4 type $5 size $6 sha256 $7 key $8 actor $9 name
 * $10 status $11 the rest of a direct upload's answer (after its "file"),
 * $12 $13 Idempotency-Key and fingerprint.  The answer is built here so
 * that what is sent and what is kept for a replay are the same bytes. */
static struct eccr_stmt st_insert = {
	.sql =
	"WITH ins AS (INSERT INTO files (id, episode_id, name, content_type, size_bytes, sha256,"
	"             status, storage_key, created_by)"
	"  SELECT $1::uuid, $2::uuid, $3, $4, $5::bigint, $6, $10, $7, $8"
	"  WHERE EXISTS (SELECT 1 FROM episodes WHERE id = $2::uuid) RETURNING *),"
	FILE_EVENT("file_uploaded", "ins") ","
	" out AS (SELECT CASE WHEN $11::text IS NULL THEN eccr_file_json(ins)"
	"         ELSE '{\"file\":' || eccr_file_json(ins) || $11::text END AS body, ins.id"
	"         FROM ins),"
	ECCR_IDEM_STORE("$8", "$12", "$13", "201", "'files/' || out.id", "NULL", "out.body", "out")
	"SELECT out.body, (SELECT id FROM ev), " ECCR_IDEM_STORED_SQL " FROM out",
	.nparams = 13,
};

static struct eccr_stmt st_get = {
	.sql = "SELECT eccr_file_json(f), f.status, f.storage_key, f.size_bytes, f.name,"
	       " f.created_by, f.content_type, f.episode_id FROM files f WHERE f.id = $1::uuid",
	.nparams = 1, .flags = ECCR_STMT_READ,
};

/* Keyset over (created_at, id); the cursor carries created_at in epoch
 * microseconds, rebuilt exactly with interval arithmetic. */
static struct eccr_stmt st_list = {
	.sql = "SELECT eccr_file_json(f),"
	       " (extract(epoch FROM f.created_at) * 1000000)::bigint::text || '.' || f.id::text"
	       " FROM files f WHERE f.episode_id = $1::uuid AND ($2::bigint IS NULL OR"
	       "  (f.created_at, f.id) > ('epoch'::timestamptz + $2::bigint * interval '1 microsecond',"
	       "   $3::uuid))"
	       " ORDER BY f.created_at, f.id LIMIT $4::int",
	.nparams = 4, .flags = ECCR_STMT_READ,
};

static struct eccr_stmt st_delete = {
	.sql =
	"WITH cur AS (SELECT * FROM files WHERE id = $1::uuid FOR UPDATE),"
	" del AS (DELETE FROM files f USING cur WHERE f.id = cur.id"
	"         AND ($2::bool OR cur.created_by = $3) RETURNING f.*),"
	" ev AS (INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id,"
	"        episode_id, data)"
	"  SELECT 'file_deleted', $3, NULLIF($4, ''), 'file', del.id::text, del.episode_id,"
	"   jsonb_build_object('file_id', del.id, 'name', del.name) FROM del RETURNING id)"
	"SELECT (SELECT count(*) FROM del), (SELECT id FROM ev) FROM cur",
	.nparams = 4,
};

static struct eccr_stmt st_download = {
	.sql =
	"INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id, episode_id, data)"
	" SELECT 'file_download', $2, NULLIF($3, ''), 'file', f.id::text, f.episode_id,"
	"  jsonb_build_object('file_id', f.id, 'name', f.name, 'expires_at', $4::text)"
	" FROM files f WHERE f.id = $1::uuid AND f.status = 'ready' RETURNING id",
	.nparams = 4,
};

/* $1 id $2 sha256 $3 size $4 actor $5 actor name */
static struct eccr_stmt st_complete = {
	.sql =
	"WITH cur AS (SELECT * FROM files WHERE id = $1::uuid FOR UPDATE),"
	" u AS (UPDATE files f SET status = 'ready', sha256 = $2, updated_at = now() FROM cur"
	"       WHERE f.id = cur.id AND cur.status = 'pending' AND cur.size_bytes = $3::bigint"
	"       RETURNING f.*),"
	" ev AS (INSERT INTO events (type, actor_id, actor_name, resource_type, resource_id,"
	"        episode_id, data)"
	"  SELECT 'file_uploaded', $4, NULLIF($5, ''), 'file', u.id::text, u.episode_id,"
	"   jsonb_build_object('file_id', u.id, 'name', u.name, 'size_bytes', u.size_bytes,"
	"   'content_type', u.content_type, 'sha256', u.sha256) FROM u RETURNING id)"
	"SELECT (SELECT eccr_file_json(u) FROM u), (SELECT id FROM ev) FROM cur",
	.nparams = 5,
};

int eccr_files_register(void)
{
	struct eccr_stmt *all[] = { &st_episode, &st_insert, &st_get, &st_list, &st_delete,
		&st_download, &st_complete };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ shared */

bool file_name_valid(const char *s, size_t n)
{
	if (n < 1 || n > FILE_NAME_MAX || eccr_utf8_len(s, n) < 0 || eccr_has_control(s, n))
		return false;
	if (memchr(s, '/', n) || memchr(s, '\\', n) || memchr(s, '\0', n))
		return false;
	return !((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'));
}

bool file_content_type_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 3 || n > 127 || strchr(s, '/') == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

bool file_url_signature(const struct eccr_config *cfg, const char *method,
    const char *file_id, int64_t expires, char out[44])
{
	unsigned char mac[32];
	unsigned int maclen = 0;
	char msg[128];
	int n;

	if (cfg->storage.url_secret == NULL)
		return false;
	n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", method, file_id, (long long)expires);
	if (HMAC(EVP_sha256(), cfg->storage.url_secret, (int)cfg->storage.url_secret_len,
	    (const unsigned char *)msg, (size_t)n, mac, &maclen) == NULL || maclen != 32)
		return false;
	eccr_b64url_encode(mac, 32, out);
	return true;
}

void file_signed_url(struct eccr_ctx *c, const char *method, const char *file_id,
    int64_t expires, struct eccr_buf *out)
{
	char sig[44];

	file_url_signature(&c->app->cfg, method, file_id, expires, sig);
	eccr_buf_printf(out, "%s%s/files/%s/content?expires=%lld&signature=%s",
	    c->app->cfg.server.public_url, c->app->cfg.server.base_path, file_id,
	    (long long)expires, sig);
}

void file_storage_unavailable(struct eccr_ctx *c, int e, const char *what)
{
	eccr_resp_header(&c->req, "Retry-After", "5");
	if (e == 0)
		eccr_problem(&c->req, 503, "unavailable", "%s", what);
	else
		eccr_problem(&c->req, 503, "unavailable", "%s: %s", what,
		    e == EAGAIN ? "the store is unreachable or failing" : strerror(e));
}

enum eccr_db_err file_insert(struct eccr_ctx *c, const char *const p[10], const char *tail,
    PGresult **res)
{
	const char *all[13];
	enum eccr_db_err e = eccr_record_user(c);

	if (e != ECCR_DB_OK)
		return e;
	memcpy(all, p, 10 * sizeof p[0]);
	all[10] = tail;
	all[11] = eccr_idem_key_param(c);
	all[12] = eccr_idem_hash_param(c);
	if ((e = eccr_db_exec(c->db, &st_insert, all, res)) == ECCR_DB_OK && PQntuples(*res) > 0)
		eccr_idem_stored(c, *res, 0, 2);
	return e;
}

bool file_episode_exists(struct eccr_ctx *c, const char *id)
{
	const char *p[1] = { id };
	PGresult *res;
	enum eccr_db_err e = eccr_db_exec(c->db, &st_episode, p, &res);
	bool found;

	if (e != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return false;
	}
	found = PQntuples(res) > 0;
	PQclear(res);
	if (!found)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", id);
	return found;
}

/* ------------------------------------------------------------ metadata */

PGresult *file_load(struct eccr_ctx *c, const char *id)
{
	const char *p[1] = { id };
	PGresult *res;
	enum eccr_db_err e = eccr_db_exec(c->db, &st_get, p, &res);

	if (e != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return NULL;
	}
	if (PQntuples(res) == 0) {
		eccr_problem(&c->req, 404, "not_found", "file %s not found", id);
		PQclear(res);
		return NULL;
	}
	return res;
}

void eccr_files_get(struct eccr_ctx *c)
{
	char id[37];
	PGresult *res;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) || (res = file_load(c, id)) == NULL)
		return;
	eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
}

/* Cursor: base64url("<epoch micros>.<uuid>"). */
static bool parse_cursor(struct eccr_ctx *c, char *micros, char *uuid)
{
	const char *s = eccr_query_get(&c->req, "cursor", NULL);
	unsigned char raw[80];
	long n;
	char *dot;

	if (s == NULL)
		return true;
	n = eccr_b64url_decode(s, strlen(s), raw, sizeof raw - 1);
	if (n > 0) {
		raw[n] = '\0';
		dot = strchr((char *)raw, '.');
		if (dot != NULL && dot - (char *)raw <= 20 && dot > (char *)raw &&
		    strspn((char *)raw, "0123456789") == (size_t)(dot - (char *)raw) &&
		    eccr_uuid_normalize(dot + 1, uuid)) {
			snprintf(micros, 24, "%.*s", (int)(dot - (char *)raw), (char *)raw);
			return true;
		}
	}
	eccr_problem(&c->req, 400, "bad_request", "the cursor is malformed");
	return false;
}

/* Column 1 holds the raw cursor, "<epoch micros>.<uuid>". */
static int cursor_of(const PGresult *res, int row, const void *arg, char *raw, size_t rawlen)
{
	(void)arg;
	return snprintf(raw, rawlen, "%s", PQgetvalue(res, row, 1));
}

void eccr_files_list(struct eccr_ctx *c)
{
	char ep[37], micros[24] = "", uuid[37] = "", limit[16];
	const char *ls = NULL, *p[4];
	int64_t n = 50;
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, ep))
		return;
	ls = eccr_query_get(&c->req, "limit", NULL);
	if (ls != NULL && !eccr_parse_i64(ls, 1, LIST_MAX, &n)) {
		eccr_problem(&c->req, 400, "bad_request", "limit must be an integer from 1 to %d", LIST_MAX);
		return;
	}
	if (!parse_cursor(c, micros, uuid) || !eccr_no_unknown_query(c) || !file_episode_exists(c, ep))
		return;
	snprintf(limit, sizeof limit, "%d", (int)n + 1);
	p[0] = ep;
	p[1] = micros[0] ? micros : NULL;
	p[2] = micros[0] ? uuid : NULL;
	p[3] = limit;
	if ((e = eccr_db_exec(c->db, &st_list, p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	eccr_send_page(c, res, n, cursor_of, NULL);
	PQclear(res);
}

void eccr_files_delete(struct eccr_ctx *c)
{
	char id[37];
	const char *p[4];
	PGresult *res;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR))
		return;
	p[0] = id;
	p[1] = c->req.who.role == ECCR_ROLE_ADMIN ? "true" : "false";
	p[2] = c->req.who.sub;
	p[3] = c->req.who.name;
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &st_delete, p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	/* The object is queued for removal by a trigger; eccr-worker deletes it. */
	if (PQntuples(res) == 0)
		eccr_problem(&c->req, 404, "not_found", "file %s not found", id);
	else if (strcmp(PQgetvalue(res, 0, 0), "1") != 0)
		eccr_problem(&c->req, 403, "forbidden", "editors may delete their own uploads only");
	else {
		eccr_resp_empty(&c->req, 204);
		eccr_event_committed(c, res, 0, 1);
	}
	PQclear(res);
}

/* ------------------------------------------------------------ URLs */

static bool expires_in(struct eccr_ctx *c, int64_t *out)
{
	const char *s = eccr_query_get(&c->req, "expires_in", NULL);

	*out = URL_EXPIRES_DEFAULT;
	if (s != NULL && !eccr_parse_i64(s, 1, URL_EXPIRES_MAX, out)) {
		eccr_problem(&c->req, 400, "bad_request", "expires_in must be an integer from 1 to %d",
		    URL_EXPIRES_MAX);
		return false;
	}
	if (eccr_storage_is_local(c->app->storage) && c->app->cfg.storage.url_secret == NULL) {
		eccr_problem(&c->req, 503, "unavailable", "signed URLs are not configured "
		    "(storage.url_secret_file)");
		return false;
	}
	return true;
}

/* Where to send the bytes: our signed content URL (local), or a SigV4
 * presigned URL of the store (s3).  false with 500 queued. */
static bool object_url(struct eccr_ctx *c, const char *method, const char *id, const char *key,
    int64_t ttl, int64_t expires, struct eccr_buf *out)
{
	char url[8192];

	if (eccr_storage_is_local(c->app->storage)) {
		file_signed_url(c, method, id, expires, out);
		return true;
	}
	if (eccr_storage_presign(c->app->storage, method, key, (long)ttl, url, sizeof url) != 0) {
		eccr_problem(&c->req, 500, "internal", "cannot presign a URL for file %s", id);
		return false;
	}
	eccr_buf_adds(out, url);
	return true;
}

/* s3: the object must be there before a URL to it is issued; this is
 * also where an unreachable store shows (presigning alone cannot tell).
 * type and disposition get what the store is to answer a download with
 * (API.md: the declared type, inline or attachment with the name).
 * false with the problem queued. */
static bool object_reachable(struct eccr_ctx *c, const char *id, char key[ECCR_STORAGE_KEY_MAX],
    char type[128], char disposition[ECCR_DISPOSITION_MAX])
{
	PGresult *row;
	int64_t size;
	int e;

	if (eccr_storage_is_local(c->app->storage))
		return true;     /* our own content URL; it checks what it serves */
	if ((row = file_load(c, id)) == NULL)
		return false;
	snprintf(key, ECCR_STORAGE_KEY_MAX, "%s", PQgetvalue(row, 0, FILE_COL_KEY));
	snprintf(type, 128, "%s", PQgetvalue(row, 0, FILE_COL_TYPE));
	if (eccr_content_disposition(type, PQgetvalue(row, 0, FILE_COL_NAME), disposition,
	    ECCR_DISPOSITION_MAX) < 0)
		disposition[0] = '\0';
	if (strcmp(PQgetvalue(row, 0, FILE_COL_STATUS), "ready") != 0) {
		eccr_problem(&c->req, 409, "conflict", "file %s is not complete yet", id);
		PQclear(row);
		return false;
	}
	PQclear(row);
	if ((e = eccr_storage_stat(c->app->storage, key, &size)) == 0)
		return true;
	if (e == ENOENT)
		eccr_problem(&c->req, 404, "not_found", "the stored object of file %s is missing", id);
	else
		file_storage_unavailable(c, e, "storage cannot be reached");
	return false;
}

/* The download URL: our signed content URL (local), or a presigned GET
 * of the store that answers with the file's type and disposition (s3).
 * false with 500 queued. */
static bool download_url(struct eccr_ctx *c, const char *id, const char *key, const char *type,
    const char *disposition, int64_t ttl, int64_t expires, struct eccr_buf *out)
{
	char url[8192];

	if (eccr_storage_is_local(c->app->storage)) {
		file_signed_url(c, "GET", id, expires, out);
		return true;
	}
	if (eccr_storage_presign_get(c->app->storage, key, (long)ttl, type,
	    disposition[0] ? disposition : NULL, url, sizeof url) != 0) {
		eccr_problem(&c->req, 500, "internal", "cannot presign a URL for file %s", id);
		return false;
	}
	eccr_buf_adds(out, url);
	return true;
}

/* Does file id exist and is it complete?  Answers 404 or 409 if not. */
static bool file_ready(struct eccr_ctx *c, const char *id)
{
	PGresult *row = file_load(c, id);
	bool ready;

	if (row == NULL)
		return false;
	ready = strcmp(PQgetvalue(row, 0, FILE_COL_STATUS), "ready") == 0;
	if (!ready)
		eccr_problem(&c->req, 409, "conflict", "file %s is not complete yet", id);
	PQclear(row);
	return ready;
}

static void expiry_text(int64_t expires, char out[25])
{
	struct timespec ts = { (time_t)expires, 0 };

	eccr_rfc3339_ms(&ts, out);
}

void eccr_files_url(struct eccr_ctx *c)
{
	char id[37], at[25], key[ECCR_STORAGE_KEY_MAX] = "", type[128] = "";
	char disposition[ECCR_DISPOSITION_MAX] = "";
	const char *p[4];
	int64_t ttl, expires;
	PGresult *res;
	enum eccr_db_err e;
	struct eccr_buf *b = &c->scratch;

	if (!eccr_capture_uuid(c, 0, id) || !expires_in(c, &ttl) || !eccr_no_unknown_query(c) ||
	    !object_reachable(c, id, key, type, disposition))
		return;
	expires = (int64_t)time(NULL) + ttl;
	expiry_text(expires, at);
	/* Signed before the event is written: no file_download for a URL
	 * that was never issued. */
	eccr_buf_reset(b);
	eccr_buf_adds(b, "{\"url\":\"");
	if (!download_url(c, id, key, type, disposition, ttl, expires, b))
		return;
	eccr_buf_printf(b, "\",\"expires_at\":\"%s\"}", at);
	if (c->req.method == ECCR_HEAD) {
		/* HEAD is safe: it answers as GET would, but the body that
		 * would carry the URL is not sent, so no URL is issued and no
		 * file_download is recorded. */
		if (file_ready(c, id))
			eccr_resp_json(&c->req, 200, b->p, b->len);
		return;
	}
	p[0] = id;
	p[1] = c->req.who.sub;
	p[2] = c->req.who.name;
	p[3] = at;
	/* One file_download event per URL issued (API.md). */
	if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
	    (e = eccr_db_exec(c->db, &st_download, p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		if ((res = file_load(c, id)) != NULL) {
			eccr_problem(&c->req, 409, "conflict", "file %s is not complete yet", id);
			PQclear(res);
		}
		return;
	}
	eccr_resp_json(&c->req, 200, b->p, b->len);
	eccr_event_committed(c, res, 0, 0);
	PQclear(res);
}

/* ------------------------------------------------------------ direct uploads */

void eccr_files_direct(struct eccr_ctx *c)
{
	static const char *const allowed[] = { "name", "content_type", "size_bytes", NULL };
	struct eccr_valid v = { 0 };
	char ep[37], id[37], key[ECCR_STORAGE_KEY_MAX], size[24], at[25];
	const char *name = NULL, *type = NULL, *p[10];
	size_t nlen = 0, tlen = 0;
	int64_t bytes = 0, expires, ttl;
	json_object *o;
	PGresult *res;
	enum eccr_db_err e;
	struct eccr_buf *b = &c->scratch;

	if (!eccr_capture_uuid(c, 0, ep) || !expires_in(c, &ttl) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR) || !eccr_read_json_object(c))
		return;
	eccr_json_only_fields(&v, c->body, allowed);
	if (!json_object_object_get_ex(c->body, "name", &o))
		eccr_valid_add(&v, "name", "is required");
	else if (eccr_json_get_string(&v, "name", o, 1, FILE_NAME_MAX, false, &name, &nlen) &&
	    !file_name_valid(name, nlen))
		eccr_valid_add(&v, "name", "must be 1 to 255 bytes without '/' or '\\', "
		    "not \".\" or \"..\"");
	if (!json_object_object_get_ex(c->body, "content_type", &o))
		eccr_valid_add(&v, "content_type", "is required");
	else if (eccr_json_get_string(&v, "content_type", o, 3, 127, false, &type, &tlen) &&
	    !file_content_type_valid(type))
		eccr_valid_add(&v, "content_type", "must be a media type such as audio/mpeg");
	if (!json_object_object_get_ex(c->body, "size_bytes", &o))
		eccr_valid_add(&v, "size_bytes", "is required");
	else
		eccr_json_get_uint(&v, "size_bytes", o, INT64_MAX, &bytes);
	if (v.n > 0) {
		eccr_problem_valid(&c->req, &v);
		return;
	}
	if (!upload_type_allowed(c, type))
		return;
	/* Well-formed but over the limit: the same answer as an upload
	 * through eccr-fcgi would get. */
	if (bytes > c->app->cfg.storage.max_upload_bytes) {
		eccr_problem(&c->req, 413, "payload_too_large",
		    "the file is larger than storage.max_upload_bytes (%lld)",
		    (long long)c->app->cfg.storage.max_upload_bytes);
		return;
	}
	if (!eccr_idem_begin(c))
		return;
	if (!eccr_uuid_v4(id) || !eccr_storage_key(ep, id, key)) {
		eccr_problem(&c->req, 500, "internal", "cannot start the upload");
		return;
	}
	/* The URL first: a store that cannot sign leaves no pending row.  It
	 * goes into the answer after the file's JSON, which the database adds. */
	expires = (int64_t)time(NULL) + ttl;
	expiry_text(expires, at);
	eccr_buf_reset(b);
	eccr_buf_adds(b, ",\"upload_url\":\"");
	if (!object_url(c, "PUT", id, key, ttl, expires, b))
		return;
	eccr_buf_printf(b, "\",\"expires_at\":\"%s\"}", at);
	if (b->oom) {
		eccr_problem(&c->req, 503, "unavailable", "out of memory");
		return;
	}
	snprintf(size, sizeof size, "%lld", (long long)bytes);
	p[0] = id; p[1] = ep; p[2] = name; p[3] = type; p[4] = size; p[5] = NULL; p[6] = key;
	p[7] = c->req.who.sub; p[8] = c->req.who.name; p[9] = "pending";
	if ((e = file_insert(c, p, b->p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0)
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", ep);
	else {
		eccr_resp_header(&c->req, "Location", "%s/files/%s", c->app->cfg.server.base_path, id);
		eccr_resp_json(&c->req, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	}
	PQclear(res);
}

/* The optional body of /complete: {"sha256": "<64 lower-case hex>"}, the
 * hash the client computed; an empty body is fine.  false with the
 * problem queued. */
static bool declared_sha256(struct eccr_ctx *c, char want[65])
{
	static const char *const allowed[] = { "sha256", NULL };
	const char *cl = eccr_req_param(&c->req, "CONTENT_LENGTH");
	struct eccr_valid v = { 0 };
	const char *h = NULL;
	size_t n = 0;
	json_object *o;

	want[0] = '\0';
	if (cl == NULL || *cl == '\0' || strcmp(cl, "0") == 0)
		return true;
	if (!eccr_read_json_object(c))
		return false;
	eccr_json_only_fields(&v, c->body, allowed);
	if (json_object_object_get_ex(c->body, "sha256", &o) &&
	    eccr_json_get_string(&v, "sha256", o, 64, 64, false, &h, &n) &&
	    strspn(h, "0123456789abcdef") != 64)
		eccr_valid_add(&v, "sha256", "must be 64 lower-case hexadecimal digits");
	if (v.n > 0) {
		eccr_problem_valid(&c->req, &v);
		return false;
	}
	if (h != NULL)
		snprintf(want, 65, "%s", h);
	return true;
}

/* The stored object has the declared size (a HEAD on s3), first bytes
 * that are allowed (upload_rules.c: else it is removed, 415) and, read
 * back, the declared hash if one was given; hex gets its SHA-256.  false
 * with the problem queued: 409 when the object is wrong or missing, 503
 * when storage cannot tell. */
static bool object_verified(struct eccr_ctx *c, PGresult *row, const char *id, const char *want,
    char hex[65])
{
	const char *key = PQgetvalue(row, 0, FILE_COL_KEY);
	int64_t have = -1, declared = strtoll(PQgetvalue(row, 0, FILE_COL_SIZE), NULL, 10);
	int e = eccr_storage_stat(c->app->storage, key, &have);

	if (e == ENOENT) {
		eccr_problem(&c->req, 409, "conflict", "nothing was uploaded for file %s", id);
	} else if (e != 0) {
		file_storage_unavailable(c, e, "storage could not check the object");
	} else if (have != declared) {
		eccr_problem(&c->req, 409, "conflict", "the uploaded object of file %s has %lld bytes, "
		    "not the declared %lld", id, (long long)have, (long long)declared);
	} else if (!upload_object_allowed(c, key, id, have)) {
		/* refused (and removed) or unreadable: the answer is queued */
	} else if ((e = eccr_storage_sha256(c->app->storage, key, hex)) != 0) {
		if (e == ENOENT)
			eccr_problem(&c->req, 409, "conflict", "nothing was uploaded for file %s", id);
		else
			file_storage_unavailable(c, e, "storage could not read the object");
	} else if (want[0] != '\0' && strcmp(want, hex) != 0) {
		eccr_problem(&c->req, 409, "conflict", "the uploaded object of file %s has sha256 %s, "
		    "not the declared %s", id, hex, want);
	} else {
		return true;
	}
	return false;
}

void eccr_files_complete(struct eccr_ctx *c)
{
	char id[37], hex[65], want[65], size[24];
	const char *p[9];
	PGresult *res, *row;
	enum eccr_db_err e;

	if (!eccr_capture_uuid(c, 0, id) || !eccr_no_unknown_query(c) ||
	    !eccr_require_role(c, ECCR_ROLE_EDITOR) || !declared_sha256(c, want) ||
	    (row = file_load(c, id)) == NULL)
		return;
	if (strcmp(PQgetvalue(row, 0, FILE_COL_STATUS), "pending") != 0) {
		eccr_problem(&c->req, 409, "conflict", "file %s is already complete", id);
	} else if (object_verified(c, row, id, want, hex)) {
		snprintf(size, sizeof size, "%s", PQgetvalue(row, 0, FILE_COL_SIZE));
		p[0] = id; p[1] = hex; p[2] = size; p[3] = c->req.who.sub; p[4] = c->req.who.name;
		if ((e = eccr_record_user(c)) != ECCR_DB_OK ||
		    (e = eccr_db_exec(c->db, &st_complete, p, &res)) != ECCR_DB_OK) {
			eccr_db_problem(c, e);
		} else {
			if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
				eccr_problem(&c->req, 409, "conflict", "file %s changed meanwhile", id);
			else {
				eccr_resp_json(&c->req, 200, PQgetvalue(res, 0, 0),
				    (size_t)PQgetlength(res, 0, 0));
				eccr_event_committed(c, res, 0, 1);
			}
			PQclear(res);
		}
	}
	PQclear(row);
}
