/* idempotency.c - see idempotency.h. */
#include "idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "app.h"
#include "log.h"

/* Columns of the look-up. */
enum { COL_STATE, COL_HASH, COL_STATUS, COL_LOCATION, COL_ETAG, COL_BODY };

static struct eccr_stmt st_claim = {
	.sql = "SELECT state, request_hash, status, location, etag, body"
	       " FROM eccr_idempotency_claim($1, $2, $3::int)",
	.nparams = 3,
};

static struct eccr_stmt st_unlock = {
	.sql = "SELECT pg_advisory_unlock(eccr_idempotency_lock_id($1, $2))",
	.nparams = 2,
};

int eccr_idem_register(void)
{
	if (eccr_db_register(&st_claim) != 0 || eccr_db_register(&st_unlock) != 0)
		return -1;
	return 0;
}

void eccr_idem_reset(struct eccr_ctx *c)
{
	struct eccr_idem *k = &c->idem;

	if (k->stored != NULL)
		PQclear(k->stored);
	k->stored = NULL;
	k->present = k->held = false;
	k->key[0] = k->hash[0] = '\0';
}

bool eccr_idem_parse(struct eccr_ctx *c)
{
	const char *v = eccr_req_param(&c->req, "HTTP_IDEMPOTENCY_KEY");
	size_t n;

	if (v == NULL)
		return true;
	n = strlen(v);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			n = 0;  /* refused below, whatever its length */
	if (n < 1 || n > ECCR_IDEM_KEY_MAX) {
		eccr_problem(&c->req, 400, "bad_request", "Idempotency-Key must be 1 to %d "
		    "printable ASCII characters (0x21-0x7E)", ECCR_IDEM_KEY_MAX);
		return false;
	}
	memcpy(c->idem.key, v, n + 1);
	c->idem.present = true;
	return true;
}

void eccr_idem_fingerprint(struct eccr_ctx *c, const void *detail, size_t len)
{
	const char *target = eccr_req_param(&c->req, "REQUEST_URI");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char out[32];
	unsigned n = 0;

	if (target == NULL)
		target = "";
	c->idem.hash[0] = '\0';
	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(md, c->req.method_str, strlen(c->req.method_str)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, target, strlen(target)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, detail, len) == 1 &&
	    EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32)
		eccr_hex_encode(out, 32, c->idem.hash);
	EVP_MD_CTX_free(md);
}

enum eccr_idem_found eccr_idem_lookup(struct eccr_ctx *c)
{
	struct eccr_idem *k = &c->idem;
	char ttl[16];
	const char *p[3] = { c->req.who.sub, k->key, ttl };
	const char *state;
	PGresult *res;
	enum eccr_db_err e;

	if (!k->present)
		return ECCR_IDEM_RUN;
	snprintf(ttl, sizeof ttl, "%d", c->app->cfg.server.idempotency_ttl_s);
	if ((e = eccr_db_exec(c->db, &st_claim, p, &res)) != ECCR_DB_OK) {
		eccr_db_problem(c, e);
		return ECCR_IDEM_ANSWERED;
	}
	state = PQgetvalue(res, 0, COL_STATE);
	if (strcmp(state, "claimed") == 0) {
		k->held = true;
		k->generation = eccr_db_generation(c->db);
		PQclear(res);
		return ECCR_IDEM_RUN;
	}
	if (strcmp(state, "stored") == 0) {
		k->stored = res;
		return ECCR_IDEM_STORED;
	}
	PQclear(res);
	eccr_resp_header(&c->req, "Retry-After", "1");
	eccr_problem(&c->req, 409, "conflict", "a request with this Idempotency-Key "
	    "is still in progress");
	return ECCR_IDEM_ANSWERED;
}

void eccr_idem_replay(struct eccr_ctx *c)
{
	const PGresult *s = c->idem.stored;
	long status;

	if (s == NULL || c->idem.hash[0] == '\0') {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return;
	}
	if (strcmp(PQgetvalue(s, 0, COL_HASH), c->idem.hash) != 0) {
		eccr_problem(&c->req, 422, "unprocessable", "this Idempotency-Key was "
		    "used for another request (method, path or body differ)");
		return;
	}
	status = strtol(PQgetvalue(s, 0, COL_STATUS), NULL, 10);
	if (!PQgetisnull(s, 0, COL_LOCATION))
		eccr_resp_header(&c->req, "Location", "%s/%s", c->app->cfg.server.base_path,
		    PQgetvalue(s, 0, COL_LOCATION));
	if (!PQgetisnull(s, 0, COL_ETAG))
		eccr_resp_header(&c->req, "ETag", "%s", PQgetvalue(s, 0, COL_ETAG));
	eccr_resp_header(&c->req, "Idempotent-Replayed", "true");
	eccr_resp_json(&c->req, (int)status, PQgetvalue(s, 0, COL_BODY),
	    (size_t)PQgetlength(s, 0, COL_BODY));
}

bool eccr_idem_begin(struct eccr_ctx *c)
{
	unsigned char md[32];
	unsigned n = 0;
	char body[65];

	if (!eccr_idem_parse(c))
		return false;
	if (!c->idem.present)
		return true;
	if (EVP_Digest(c->req.body.len ? c->req.body.p : "", c->req.body.len, md, &n,
	    EVP_sha256(), NULL) != 1 || n != 32) {
		eccr_problem(&c->req, 500, "internal", "internal error");
		return false;
	}
	eccr_hex_encode(md, 32, body);
	eccr_idem_fingerprint(c, body, 64);
	switch (eccr_idem_lookup(c)) {
	case ECCR_IDEM_RUN:
		return true;
	case ECCR_IDEM_STORED:
		eccr_idem_replay(c);
		return false;
	default:
		return false;
	}
}

const char *eccr_idem_key_param(const struct eccr_ctx *c)
{
	return c->idem.held ? c->idem.key : NULL;
}

const char *eccr_idem_hash_param(const struct eccr_ctx *c)
{
	return c->idem.held ? c->idem.hash : NULL;
}

void eccr_idem_stored(struct eccr_ctx *c, const PGresult *res, int row, int col)
{
	if (c->idem.held && !PQgetisnull(res, row, col))
		c->idem.held = false;  /* eccr_idempotency_release gave it back */
}

void eccr_idem_end(struct eccr_ctx *c)
{
	struct eccr_idem *k = &c->idem;
	const char *p[2] = { c->req.who.sub, k->key };
	PGresult *res;

	/* A connection that was opened again since the look-up holds nothing:
	 * the lock went with the old one. */
	if (k->held && eccr_db_generation(c->db) == k->generation &&
	    eccr_db_exec(c->db, &st_unlock, p, &res) == ECCR_DB_OK)
		PQclear(res);
	eccr_idem_reset(c);
}
