/* idempotency.h - retry-safe POSTs: the Idempotency-Key header (API.md
 * "Retry-safe writes", after the IETF httpapi draft and Stripe).
 *
 * A handler that accepts a key validates its input as usual, then asks
 * eccr_idem_begin (JSON bodies) or eccr_idem_lookup + eccr_idem_replay
 * (streamed uploads, whose fingerprint is known only once the body is
 * read) whether to run.  The look-up is one statement
 * (eccr_idempotency_claim, migration 0006) and is made only when the
 * request carries a key, so a POST without one costs nothing more:
 *
 *   stored answer, same request      replay it, Idempotent-Replayed: true
 *   stored answer, another request   422 unprocessable
 *   a request with the key in flight 409 conflict, Retry-After: 1
 *   none of these                    this thread holds the key: run
 *
 * The change statement stores its own answer: it adds the ECCR_IDEM_STORE
 * CTE, whose row commits with the change or not at all, and passes
 * eccr_idem_key_param / eccr_idem_hash_param as its last parameters
 * (NULL when the request has no key: the CTE then writes nothing).  A
 * request that ends without storing (a 4xx after the look-up, a failure)
 * leaves no row, and app.c gives the key back (eccr_idem_end). */
#ifndef ECCR_FCGI_IDEMPOTENCY_H
#define ECCR_FCGI_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define ECCR_IDEM_KEY_MAX 255

struct eccr_ctx;

/* Per request, in struct eccr_ctx; reset by eccr_idem_reset. */
struct eccr_idem {
	bool present;                      /* the request has a (valid) key */
	bool held;                         /* our connection holds the key's lock */
	unsigned generation;               /* of the connection that took it */
	char key[ECCR_IDEM_KEY_MAX + 1];
	char hash[65];                     /* the request's fingerprint, hex */
	PGresult *stored;                  /* the stored answer, after a look-up */
};

/* The CTE a change statement adds to keep its answer: user, key and hash
 * are its parameters ("$11"), status a literal, location (below
 * server.base_path, or NULL), etag (the whole header value, or NULL) and
 * body SQL expressions over the rows of from.  It is a no-op without a key.
 * A conflicting row can only be an expired one (the look-up found none
 * alive and nobody else can take the key meanwhile), so it is replaced. */
#define ECCR_IDEM_STORE(user, key, hash, status, location, etag, body, from) \
	" idem AS (INSERT INTO idempotency_keys AS k (user_id, idem_key, request_hash," \
	"   status, location, etag, body)" \
	"  SELECT " user ", " key "::text, " hash "::text, " status ", " location ", " \
	etag ", " body " FROM " from " WHERE " key "::text IS NOT NULL" \
	"  ON CONFLICT (user_id, idem_key) DO UPDATE SET request_hash = EXCLUDED.request_hash," \
	"   status = EXCLUDED.status, location = EXCLUDED.location, etag = EXCLUDED.etag," \
	"   body = EXCLUDED.body, created_at = now()" \
	"  RETURNING eccr_idempotency_release(k.user_id, k.idem_key) AS released)"
/* A column for the statement's result: true when it stored the answer
 * (and so gave the key back), NULL otherwise.  Hand it to eccr_idem_stored. */
#define ECCR_IDEM_STORED_SQL "(SELECT bool_and(released) FROM idem)"

int eccr_idem_register(void);
void eccr_idem_reset(struct eccr_ctx *c);

/* Read and check the Idempotency-Key header: 1..255 printable ASCII
 * characters.  true without one; false with a 400 queued. */
bool eccr_idem_parse(struct eccr_ctx *c);

/* The fingerprint of the request: SHA-256 of its method, its target
 * (REQUEST_URI) and detail, a description of its body. */
void eccr_idem_fingerprint(struct eccr_ctx *c, const void *detail, size_t len);

enum eccr_idem_found {
	ECCR_IDEM_RUN,        /* no key, or the key is ours now: run the request */
	ECCR_IDEM_STORED,     /* an answer is kept: eccr_idem_replay */
	ECCR_IDEM_ANSWERED    /* 409 (in flight) or 503 queued: stop */
};
/* The look-up (one statement; none without a key). */
enum eccr_idem_found eccr_idem_lookup(struct eccr_ctx *c);
/* After ECCR_IDEM_STORED, once the fingerprint is set: the stored answer
 * with Idempotent-Replayed: true, or 422 when it was another request. */
void eccr_idem_replay(struct eccr_ctx *c);

/* For handlers whose body was read whole (r->body): parse the key,
 * fingerprint the body, look up, and replay or refuse.  true when the
 * handler should go on and make its change. */
bool eccr_idem_begin(struct eccr_ctx *c);

/* The change statement's key and hash parameters: NULL unless the key is
 * ours (the CTE then stores nothing). */
const char *eccr_idem_key_param(const struct eccr_ctx *c);
const char *eccr_idem_hash_param(const struct eccr_ctx *c);
/* After the change statement: col of row is ECCR_IDEM_STORED_SQL's value. */
void eccr_idem_stored(struct eccr_ctx *c, const PGresult *res, int row, int col);

/* End of every request (app.c): give back a key still held. */
void eccr_idem_end(struct eccr_ctx *c);

#endif
