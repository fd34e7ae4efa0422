/* auth.h - who is calling, and what they may do.
 *
 * Bearer JWTs are verified with libjwt against the configured algorithms and
 * keys (HS* with auth.jwt_secret_file, RS* and ES* with auth.jwt_public_key_file;
 * "none" is always refused; the key is chosen by the algorithm family so an
 * HS256 token can never be checked against a public key).  In remote_user
 * mode the web server has authenticated the user and roles come from
 * auth.roles_file.
 */
#ifndef ECCR_AUTH_H
#define ECCR_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

enum eccr_role { ECCR_ROLE_VIEWER = 0, ECCR_ROLE_EDITOR = 1, ECCR_ROLE_ADMIN = 2 };

#define ECCR_SUB_MAX 128
#define ECCR_NAME_MAX 256
#define ECCR_EMAIL_MAX 320

/* The authenticated caller.  Fixed buffers: no allocation per request. */
struct eccr_principal {
	char sub[ECCR_SUB_MAX * 4 + 1];   /* 1..128 characters of UTF-8 */
	char name[ECCR_NAME_MAX * 4 + 1]; /* "" when the token has none */
	char email[ECCR_EMAIL_MAX + 1];   /* "" when the token has none */
	enum eccr_role role;
	long exp;                         /* 0 in remote_user mode */
};

enum eccr_auth_err {
	ECCR_AUTH_OK = 0,
	ECCR_AUTH_MISSING,       /* no credentials */
	ECCR_AUTH_MALFORMED,     /* not a JWT, bad base64/JSON */
	ECCR_AUTH_BAD_ALG,       /* alg none, or not in auth.jwt_algorithms */
	ECCR_AUTH_BAD_SIGNATURE,
	ECCR_AUTH_EXPIRED,       /* exp (with leeway) in the past */
	ECCR_AUTH_NOT_YET_VALID, /* nbf or iat in the future (with leeway) */
	ECCR_AUTH_BAD_CLAIMS,    /* exp missing, sub missing/too long, bad role, iss/aud mismatch */
	ECCR_AUTH_UNKNOWN_USER,  /* remote_user not in the roles file */
	ECCR_AUTH_INTERNAL
};

struct eccr_auth;  /* the verifier: immutable after creation, shared by threads */

/* Build the verifier from cfg->auth.  On error returns NULL and writes why. */
struct eccr_auth *eccr_auth_new(const struct eccr_config *cfg, char *err, size_t errlen);
void eccr_auth_free(struct eccr_auth *auth);

/* Verify "Bearer <token>" (the whole Authorization header value, may be
 * NULL) at time now.  Thread-safe. */
enum eccr_auth_err eccr_auth_bearer(const struct eccr_auth *auth,
    const char *authorization, time_t now, struct eccr_principal *out);

/* A small memo of tokens verified by one thread.  A client sends the same
 * token with every request, and verifying it (base64, two JSON documents,
 * an HMAC or a signature) costs more than the rest of a cached read.  An
 * entry is keyed by the exact header value and answers only inside the
 * window the full check established (from the time it passed to exp plus
 * the leeway), so the memo never accepts a token the verifier would refuse
 * at that moment.  Zero-initialise it; one per thread, never shared. */
#define ECCR_AUTH_MEMO_SLOTS 8
#define ECCR_AUTH_MEMO_TOKEN_MAX 1024
struct eccr_auth_memo {
	struct {
		uint64_t hash;
		size_t len;                  /* 0: empty slot */
		char header[ECCR_AUTH_MEMO_TOKEN_MAX];
		struct eccr_principal who;
		time_t valid_from, valid_until;
	} slot[ECCR_AUTH_MEMO_SLOTS];
	unsigned next;
	const struct eccr_auth *auth;    /* the verifier the entries came from */
};

/* eccr_auth_bearer through memo. */
enum eccr_auth_err eccr_auth_bearer_memo(const struct eccr_auth *auth,
    struct eccr_auth_memo *memo, const char *authorization, time_t now,
    struct eccr_principal *out);

/* remote_user mode: REMOTE_USER value (may be NULL). Thread-safe. */
enum eccr_auth_err eccr_auth_remote_user(const struct eccr_auth *auth,
    const char *remote_user, struct eccr_principal *out);

enum eccr_auth_mode eccr_auth_mode(const struct eccr_auth *auth);

/* A short, safe description for the problem+json detail. */
const char *eccr_auth_strerror(enum eccr_auth_err err);

const char *eccr_role_name(enum eccr_role role);
/* -1 if unknown */
int eccr_role_from_name(const char *name);

/* Mint a token (eccrctl token, tests): HS* algorithms with the configured
 * secret.  Returns a malloc'd string or NULL with err set. */
char *eccr_auth_mint(const struct eccr_config *cfg, const char *sub,
    const char *role, const char *name, const char *email, long ttl_s,
    time_t now, char *err, size_t errlen);

#endif
