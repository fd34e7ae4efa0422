/* files_upload.c - POST /episodes/{id}/files: the raw body (with its
 * Content-Type and ?name=) or multipart/form-data (one part named "file"),
 * streamed to storage in IO_CHUNK pieces with the sha256 computed on the
 * way, never the whole file in memory; over storage.max_upload_bytes is
 * 413 and leaves nothing behind.  The declared type must be allowed and
 * the first bytes are judged before anything is stored (upload_rules.c):
 * a refusal is 415 and stores nothing.
 *
 * With an Idempotency-Key whose answer is kept, the body is read and
 * hashed but stored nowhere (a "dry" upload), then answered from the kept
 * answer if it is the same file (name, type and sha256), 422 if not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "files.h"
#include "log.h"
#include "multipart.h"
#include "storage.h"
#include "upload_rules.h"

#define IO_CHUNK 65536
#define FORM_FIELDS_MAX 65536   /* bytes of non-file parts we will skip */

struct upload {
	struct eccr_ctx *c;
	struct eccr_storage_writer *w;
	bool dry;                /* hash only: a replay's body is not stored again */
	EVP_MD_CTX *sha;
	int64_t size, max;
	char key[ECCR_STORAGE_KEY_MAX];
	char id[37], episode[37];
	char name[FILE_NAME_MAX + 1];
	char content_type[128];
	/* multipart */
	bool in_file, got_file;
	int64_t skipped;
	int status;              /* the problem to answer when the parse stopped */
	const char *why;
	struct upload_sniff sniff;   /* the first bytes, held until judged */
};

static int upload_open(struct upload *u)
{
	int e = eccr_storage_writer_open(u->c->app->storage, u->key, u->content_type, &u->w);

	if (e != 0) {
		eccr_err("storage: cannot create an object: %s", strerror(e));
		u->status = 503;
		u->why = "storage is unavailable";
		return -1;
	}
	return 0;
}

/* Until the first bytes are judged nothing is stored: they are held, and
 * the object is opened once they pass (at_end: the content ends here).
 * Moves *data and *n past what was held; 0, or -1 with the problem set. */
static int upload_hold(struct upload *u, const char **data, size_t *n, bool at_end)
{
	size_t used;

	switch (upload_sniff_feed(&u->sniff, *data, *n, &used, at_end)) {
	case UPLOAD_HOLD:
		*n = 0;
		return 0;
	case UPLOAD_REFUSED:
		u->status = 415;
		u->why = u->sniff.why;
		return -1;
	case UPLOAD_UNCHECKED:
		u->status = 503;
		u->why = u->sniff.why;
		return -1;
	case UPLOAD_STORE:
		break;
	}
	if (upload_open(u) != 0)
		return -1;
	if (eccr_storage_write(u->w, u->sniff.head, u->sniff.n) != 0) {
		u->status = 503;
		u->why = "storage could not take the file";
		return -1;
	}
	*data += used;
	*n -= used;
	return 0;
}

/* The content ended: if fewer than ECCR_SNIFF_BYTES came, judge those. */
static int upload_end(struct upload *u)
{
	const char *none = "";
	size_t zero = 0;

	return u->dry || u->w != NULL ? 0 : upload_hold(u, &none, &zero, true);
}

static int upload_data(struct upload *u, const char *data, size_t n)
{
	u->size += (int64_t)n;
	if (u->size > u->max) {
		u->status = 413;
		u->why = "the file is larger than storage.max_upload_bytes";
		return -1;
	}
	if (EVP_DigestUpdate(u->sha, data, n) != 1) {
		u->status = 503;
		u->why = "storage could not take the file";
		return -1;
	}
	if (u->dry)
		return 0;   /* a replay's bytes were judged and stored the first time */
	if (u->w == NULL && upload_hold(u, &data, &n, false) != 0)
		return -1;
	if (n > 0 && eccr_storage_write(u->w, data, n) != 0) {
		u->status = 503;
		u->why = "storage could not take the file";
		return -1;
	}
	return 0;
}

static int on_part(void *user, enum eccr_mp_event ev, const struct eccr_mp_part *part,
    const char *data, size_t n)
{
	struct upload *u = user;

	switch (ev) {
	case ECCR_MP_PART_BEGIN:
		if (strcmp(part->name, "file") != 0)
			return 0;
		if (u->got_file) {
			u->status = 400;
			u->why = "the form has more than one part named \"file\"";
			return -1;
		}
		u->got_file = u->in_file = true;
		if (!file_name_valid(part->filename, strlen(part->filename))) {
			u->status = 400;
			u->why = "the file part needs a filename: 1 to 255 bytes of UTF-8 without "
			    "'/', '\\\\' or control characters, not \".\" or \"..\"";
			return -1;
		}
		snprintf(u->name, sizeof u->name, "%s", part->filename);
		snprintf(u->content_type, sizeof u->content_type, "%s",
		    part->content_type[0] ? part->content_type : "application/octet-stream");
		if (!file_content_type_valid(u->content_type)) {
			u->status = 400;
			u->why = "the file part's Content-Type is not a valid media type";
			return -1;
		}
		if ((u->why = upload_type_refusal(&u->c->app->cfg, u->content_type,
		    u->sniff.why)) != NULL) {
			u->status = 415;
			return -1;
		}
		return 0;            /* the object is opened by upload_hold */
	case ECCR_MP_DATA:
		if (u->in_file)
			return upload_data(u, data, n);
		if ((u->skipped += (int64_t)n) > FORM_FIELDS_MAX) {
			u->status = 413;
			u->why = "the form's other fields are too large";
			return -1;
		}
		return 0;
	case ECCR_MP_PART_END:
		if (u->in_file && upload_end(u) != 0)
			return -1;
		u->in_file = false;
		return 0;
	}
	return -1;
}

/* Stream the body through the multipart parser into storage. */
static bool read_multipart(struct upload *u, const char *ct)
{
	struct eccr_multipart *mp = malloc(sizeof *mp);
	char *buf = malloc(IO_CHUNK);
	bool ok = false;
	int n;

	if (mp == NULL || buf == NULL) {
		u->status = 503;
		u->why = "out of memory";
	} else if (eccr_multipart_init(mp, ct, on_part, u) != 0) {
		u->status = 400;
		u->why = "multipart/form-data needs a boundary parameter of 1 to 70 characters";
	} else {
		while ((n = eccr_req_read_chunk(&u->c->req, buf, IO_CHUNK)) > 0)
			if (eccr_multipart_feed(mp, buf, (size_t)n) != 0)
				break;
		if (u->status == 0 && (n > 0 || eccr_multipart_finish(mp) != 0)) {
			u->status = 400;
			u->why = mp->error;
		} else if (u->status == 0 && !u->got_file) {
			u->status = 400;
			u->why = "the form has no part named \"file\"";
		}
		ok = u->status == 0;
	}
	free(mp);
	free(buf);
	return ok;
}

static bool read_raw(struct upload *u)
{
	char *buf = malloc(IO_CHUNK);
	int n;

	if (buf == NULL) {
		u->status = 503;
		u->why = "out of memory";
		return false;
	}
	while ((n = eccr_req_read_chunk(&u->c->req, buf, IO_CHUNK)) > 0)
		if (upload_data(u, buf, (size_t)n) != 0)
			break;
	free(buf);
	if (u->status == 0 && !eccr_req_stream_complete(&u->c->req)) {
		/* Never keep a cut-short upload as a complete file. */
		u->status = 400;
		u->why = "the body ended before its Content-Length";
	}
	if (u->status == 0)
		upload_end(u);
	return u->status == 0;
}

/* The name and type of a raw upload: ?name= and Content-Type. */
static bool raw_meta(struct upload *u)
{
	struct eccr_ctx *c = u->c;
	const char *ct = eccr_req_param(&c->req, "CONTENT_TYPE");
	size_t len;
	const char *name = eccr_query_get(&c->req, "name", &len);

	if (name == NULL || !file_name_valid(name, len)) {
		eccr_problem(&c->req, 400, "bad_request", "?name= must be 1 to 255 bytes of UTF-8 "
		    "without '/', '\\' or control characters, not \".\" or \"..\"");
		return false;
	}
	snprintf(u->name, sizeof u->name, "%.*s", (int)len, name);
	snprintf(u->content_type, sizeof u->content_type, "%s",
	    ct && *ct ? ct : "application/octet-stream");
	if (!file_content_type_valid(u->content_type)) {
		eccr_problem(&c->req, 415, "unsupported_media_type",
		    "Content-Type must be a media type such as audio/mpeg");
		return false;
	}
	return upload_type_allowed(c, u->content_type);
}

/* An object stored for a row that could not be written.  Nothing else
 * knows of it, so a failure to remove it is logged with its key for the
 * operator (the database and the store are both failing at that point). */
static void drop_unrecorded(struct upload *u)
{
	int err = eccr_storage_delete(u->c->app->storage, u->key);

	if (err != 0)
		eccr_err("file %s: its stored object %s has no row and could not be removed (%s);"
		    " remove it from the store by hand", u->id, u->key, strerror(err));
}

/* The file's sha256 (hex) once its bytes are all in, and the request's
 * Idempotency-Key fingerprint: what was sent (name, type, content), not
 * how (a multipart boundary differs from one try to the next). */
static bool upload_digest(struct upload *u, char hex[65])
{
	char detail[FILE_NAME_MAX + 128 + 64 + 16];
	unsigned char md[32];
	unsigned mdlen = 0;
	int n;

	if (EVP_DigestFinal_ex(u->sha, md, &mdlen) != 1 || mdlen != 32)
		return false;
	eccr_hex_encode(md, 32, hex);
	n = snprintf(detail, sizeof detail, "upload\n%s\n%s\n%s", u->name, u->content_type, hex);
	eccr_idem_fingerprint(u->c, detail, (size_t)n);
	return true;
}

static void store_row(struct upload *u, const char *hex)
{
	struct eccr_ctx *c = u->c;
	char size[24];
	const char *p[10];
	PGresult *res;
	enum eccr_db_err e;

	snprintf(size, sizeof size, "%lld", (long long)u->size);
	p[0] = u->id; p[1] = u->episode; p[2] = u->name; p[3] = u->content_type;
	p[4] = size; p[5] = hex; p[6] = u->key; p[7] = c->req.who.sub; p[8] = c->req.who.name;
	p[9] = "ready";
	if ((e = file_insert(c, p, NULL, &res)) != ECCR_DB_OK) {
		drop_unrecorded(u);
		eccr_db_problem(c, e);
		return;
	}
	if (PQntuples(res) == 0) {      /* the episode went away meanwhile */
		drop_unrecorded(u);
		eccr_problem(&c->req, 404, "not_found", "episode %s not found", u->episode);
	} else {
		eccr_resp_header(&c->req, "Location", "%s/files/%s", c->app->cfg.server.base_path, u->id);
		eccr_resp_json(&c->req, 201, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
		eccr_event_committed(c, res, 0, 1);
	}
	PQclear(res);
}

/* Checks that need no body: false with the problem queued. */
static bool upload_acceptable(struct upload *u, bool multipart)
{
	struct eccr_ctx *c = u->c;
	const char *cl = eccr_req_param(&c->req, "CONTENT_LENGTH");
	int64_t declared = -1;

	if (!eccr_capture_uuid(c, 0, u->episode) || !eccr_require_role(c, ECCR_ROLE_EDITOR) ||
	    (!multipart && !raw_meta(u)) || !eccr_no_unknown_query(c) || !eccr_idem_parse(c) ||
	    !file_episode_exists(c, u->episode))
		return false;
	u->max = c->app->cfg.storage.max_upload_bytes;
	if (cl != NULL && *cl && eccr_parse_i64(cl, 0, INT64_MAX, &declared) && declared > u->max +
	    (multipart ? FORM_FIELDS_MAX : 0)) {
		eccr_problem(&c->req, 413, "payload_too_large",
		    "the file is larger than storage.max_upload_bytes (%lld)", (long long)u->max);
		return false;
	}
	return true;
}

void eccr_files_upload(struct eccr_ctx *c)
{
	struct upload u = { .c = c };   /* u.sniff holds ECCR_SNIFF_BYTES */
	const char *ct = eccr_req_param(&c->req, "CONTENT_TYPE");
	bool multipart = ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0;
	char hex[65];
	bool ok;
	int err = 0;

	if (!upload_acceptable(&u, multipart))
		return;
	switch (eccr_idem_lookup(c)) {
	case ECCR_IDEM_ANSWERED:
		return;
	case ECCR_IDEM_STORED:
		u.dry = true;
		break;
	default:
		break;
	}
	if (!eccr_uuid_v4(u.id) || !eccr_storage_key(u.episode, u.id, u.key) ||
	    (u.sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(u.sha, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(u.sha);
		eccr_problem(&c->req, 500, "internal", "cannot start the upload");
		return;
	}
	upload_sniff_init(&u.sniff);
	ok = multipart ? read_multipart(&u, ct) : read_raw(&u);
	if (ok && !upload_digest(&u, hex)) {
		ok = false;
		u.status = 503;
		u.why = "out of memory";
	}
	/* commit frees the writer whatever it returns */
	if (ok && u.dry) {
		eccr_idem_replay(c);
	} else if (ok && (err = eccr_storage_commit(u.w)) == 0) {
		u.w = NULL;
		store_row(&u, hex);
	} else if (ok) {
		file_storage_unavailable(c, err, "storage could not keep the file");
	} else {
		eccr_storage_abort(u.w);
		if (u.status == 503)
			file_storage_unavailable(c, 0, u.why);
		else
			eccr_problem(&c->req, u.status, u.status == 413 ? "payload_too_large" :
			    u.status == 415 ? "unsupported_media_type" : "bad_request",
			    "%s", u.why ? u.why : "the upload is malformed");
	}
	EVP_MD_CTX_free(u.sha);
}

