/* auth.c - bearer JWTs (libjwt) and remote_user roles.
 *
 * libjwt 1.x picks the verification algorithm from the token's own header
 * and offers no key-provider callback, so before handing it the token we
 * read the header ourselves, refuse "none" and any algorithm not listed in
 * auth.jwt_algorithms, and choose the key by algorithm family.  That closes
 * the classic confusion attack where an HS256 token is "verified" with the
 * RSA public key used as the HMAC secret. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <jwt.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "util.h"

#define TOKEN_MAX 8192
#define HEADER_B64_MAX 1024
#define ROLES_FILE_MAX (4 * 1024 * 1024)

struct alg_info {
	const char *name;
	jwt_alg_t alg;
	bool hmac;
};

static const struct alg_info algs[] = {
	{ "HS256", JWT_ALG_HS256, true }, { "HS384", JWT_ALG_HS384, true },
	{ "HS512", JWT_ALG_HS512, true }, { "RS256", JWT_ALG_RS256, false },
	{ "RS384", JWT_ALG_RS384, false }, { "RS512", JWT_ALG_RS512, false },
	{ "ES256", JWT_ALG_ES256, false }, { "ES384", JWT_ALG_ES384, false },
	{ "ES512", JWT_ALG_ES512, false },
	/* No PS*: libjwt 1.10 (Debian 12) cannot verify RSASSA-PSS. */
};
#define NALGS (sizeof algs / sizeof algs[0])

struct remote_user {
	char *name;
	enum eccr_role role;
};

struct eccr_auth {
	enum eccr_auth_mode mode;
	unsigned allowed;            /* bit i: algs[i] accepted */
	unsigned char *secret;
	size_t secret_len;
	unsigned char *pubkey;
	size_t pubkey_len;
	long leeway;
	char *issuer;
	char *audience;
	struct remote_user *users;
	size_t nusers;
};

static const char *const role_names[] = { "viewer", "editor", "admin" };

const char *eccr_role_name(enum eccr_role role)
{
	return (unsigned)role < 3 ? role_names[role] : "viewer";
}

int eccr_role_from_name(const char *name)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(name, role_names[i]) == 0)
			return i;
	return -1;
}

const char *eccr_auth_strerror(enum eccr_auth_err err)
{
	switch (err) {
	case ECCR_AUTH_OK: return "ok";
	case ECCR_AUTH_MISSING: return "missing bearer token";
	case ECCR_AUTH_MALFORMED: return "malformed bearer token";
	case ECCR_AUTH_BAD_ALG: return "token algorithm not accepted";
	case ECCR_AUTH_BAD_SIGNATURE: return "token signature is invalid";
	case ECCR_AUTH_EXPIRED: return "token has expired";
	case ECCR_AUTH_NOT_YET_VALID: return "token is not valid yet";
	case ECCR_AUTH_BAD_CLAIMS: return "token claims are invalid";
	case ECCR_AUTH_UNKNOWN_USER: return "unknown user";
	case ECCR_AUTH_INTERNAL: break;
	}
	return "authentication failed";
}

enum eccr_auth_mode eccr_auth_mode(const struct eccr_auth *auth)
{
	return auth->mode;
}

/* ------------------------------------------------------------ set-up */

static unsigned parse_alg_list(const char *list)
{
	unsigned mask = 0;
	const char *p = list;

	while (*p != '\0') {
		size_t n, i;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		for (i = 0; i < NALGS; i++)
			if (strlen(algs[i].name) == n && strncmp(algs[i].name, p, n) == 0)
				mask |= 1u << i;
		p += n;
	}
	return mask;
}

/* The first HS* name in the list, in the list's order (the operator's
 * preference), as an index into algs[]; -1 if there is none. */
static int first_hmac_alg(const char *list)
{
	const char *p = list;
	size_t n, i;

	for (; *p != '\0'; p += n) {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		for (i = 0; i < NALGS; i++)
			if (algs[i].hmac && strlen(algs[i].name) == n &&
			    strncmp(algs[i].name, p, n) == 0)
				return (int)i;
	}
	return -1;
}

static int add_user(struct eccr_auth *a, const char *name, size_t n, enum eccr_role role)
{
	struct remote_user *u = realloc(a->users, (a->nusers + 1) * sizeof *u);

	if (u == NULL)
		return -1;
	a->users = u;
	if ((u[a->nusers].name = strndup(name, n)) == NULL)
		return -1;
	u[a->nusers].role = role;
	a->nusers++;
	return 0;
}

static bool have_user(const struct eccr_auth *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i].name, name) == 0)
			return true;
	return false;
}

/* One line of the roles file, comment already cut: 1 added, 0 blank, -1 bad,
 * -2 out of memory. */
static int roles_line(struct eccr_auth *a, const char *line)
{
	char user[ECCR_SUB_MAX * 4 + 1], role[32], extra[2];
	long chars;
	int n, r;

	n = sscanf(line, "%512s %31s %1s", user, role, extra);
	if (n <= 0)
		return 0;
	if (n != 2 || (r = eccr_role_from_name(role)) < 0)
		return -1;
	chars = eccr_utf8_len(user, strlen(user));
	/* A duplicate is refused: which of two roles was meant is anyone's guess. */
	if (chars < 1 || chars > ECCR_SUB_MAX || eccr_has_control(user, strlen(user)) ||
	    have_user(a, user))
		return -1;
	return add_user(a, user, strlen(user), (enum eccr_role)r) == 0 ? 1 : -2;
}

/* Lines "username role"; '#' starts a comment.  Errors name FILE:LINE. */
static int load_roles(struct eccr_auth *a, const char *path, char *err, size_t errlen)
{
	char *text, *line, *next;
	size_t len;
	int e, r = 0, lineno = 0;

	if ((e = eccr_read_file(path, ROLES_FILE_MAX, &text, &len)) != 0)
		return snprintf(err, errlen, "%s: cannot read auth.roles_file: %s", path,
		    strerror(e)), -1;
	if (memchr(text, '\0', len) != NULL) {
		free(text);
		return snprintf(err, errlen, "%s: auth.roles_file is not a text file", path), -1;
	}
	/* Walk lines by hand: strtok would skip blank lines and miscount. */
	for (line = text; line != NULL && r >= 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "#\r")] = '\0';
		r = roles_line(a, line);
	}
	free(text);
	if (r == -1)
		snprintf(err, errlen, "%s:%d: expected \"USERNAME viewer|editor|admin\""
		    " (each user once)", path, lineno);
	else if (r == -2)
		snprintf(err, errlen, "out of memory");
	return r < 0 ? -1 : 0;
}

static unsigned char *dup_bytes(const char *s, size_t n)
{
	unsigned char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

struct eccr_auth *eccr_auth_new(const struct eccr_config *cfg, char *err, size_t errlen)
{
	struct eccr_auth *a = calloc(1, sizeof *a);

	if (a == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	a->mode = cfg->auth.mode;
	a->allowed = parse_alg_list(cfg->auth.jwt_algorithms ? cfg->auth.jwt_algorithms : "");
	a->leeway = cfg->auth.leeway_s;
	if (cfg->auth.jwt_secret != NULL) {
		a->secret = dup_bytes(cfg->auth.jwt_secret, cfg->auth.jwt_secret_len);
		a->secret_len = cfg->auth.jwt_secret_len;
	}
	if (cfg->auth.jwt_public_key != NULL) {
		a->pubkey = dup_bytes(cfg->auth.jwt_public_key, cfg->auth.jwt_public_key_len);
		a->pubkey_len = cfg->auth.jwt_public_key_len;
	}
	if (cfg->auth.issuer != NULL)
		a->issuer = strdup(cfg->auth.issuer);
	if (cfg->auth.audience != NULL)
		a->audience = strdup(cfg->auth.audience);
	if ((cfg->auth.jwt_secret && !a->secret) || (cfg->auth.jwt_public_key && !a->pubkey) ||
	    (cfg->auth.issuer && !a->issuer) || (cfg->auth.audience && !a->audience)) {
		eccr_auth_free(a);
		return snprintf(err, errlen, "out of memory"), NULL;
	}
	if (a->mode == ECCR_AUTH_JWT && a->allowed == 0) {
		eccr_auth_free(a);
		return snprintf(err, errlen, "auth.jwt_algorithms lists no supported algorithm"), NULL;
	}
	if (a->mode == ECCR_AUTH_REMOTE_USER) {
		if (cfg->auth.roles_file == NULL) {
			eccr_auth_free(a);
			return snprintf(err, errlen, "auth.mode = remote_user needs auth.roles_file"), NULL;
		}
		if (load_roles(a, cfg->auth.roles_file, err, errlen) != 0) {
			eccr_auth_free(a);
			return NULL;
		}
	}
	return a;
}

void eccr_auth_free(struct eccr_auth *a)
{
	size_t i;

	if (a == NULL)
		return;
	if (a->secret != NULL)
		explicit_bzero(a->secret, a->secret_len);
	free(a->secret);
	free(a->pubkey);
	free(a->issuer);
	free(a->audience);
	for (i = 0; i < a->nusers; i++)
		free(a->users[i].name);
	free(a->users);
	free(a);
}

/* ------------------------------------------------------------ verification */

/* Decode one base64url part and parse it as a JSON object, strictly (valid
 * UTF-8, nothing after the object).  buf receives the decoded bytes. */
static json_object *part_json(const char *b64, size_t n, unsigned char *buf, size_t cap,
    int depth)
{
	struct json_tokener *tok;
	json_object *o;
	long len;

	if (n == 0 || (len = eccr_b64url_decode(b64, n, buf, cap)) <= 0)
		return NULL;
	if ((tok = json_tokener_new_ex(depth)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (o != NULL && (json_tokener_get_parse_end(tok) != (size_t)len ||
	    !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The header's "alg" as an index into algs[]: -1 for none/unknown, -2 when
 * the header is not a JSON object with a string "alg". */
static int header_alg(const char *token, size_t hlen)
{
	unsigned char hdr[HEADER_B64_MAX];
	json_object *o, *alg;
	int found = -1;
	size_t i;

	if (hlen > HEADER_B64_MAX || (o = part_json(token, hlen, hdr, sizeof hdr, 4)) == NULL)
		return -2;
	if (!json_object_object_get_ex(o, "alg", &alg) || !json_object_is_type(alg, json_type_string)) {
		json_object_put(o);
		return -2;
	}
	for (i = 0; i < NALGS; i++)
		if (strcmp(json_object_get_string(alg), algs[i].name) == 0)
			found = (int)i;
	json_object_put(o);
	return found;
}

/* libjwt reports a payload it cannot parse as a failed decode, which we
 * would call a bad signature; look first, so garbage is called malformed. */
static bool payload_ok(const char *b64, size_t n)
{
	unsigned char buf[TOKEN_MAX];
	json_object *o = part_json(b64, n, buf, sizeof buf, 16);

	json_object_put(o);
	return o != NULL;
}

static bool token_chars_ok(const char *t, size_t n, size_t *dot1, size_t *dot2)
{
	size_t i, dots = 0;

	for (i = 0; i < n; i++) {
		char c = t[i];

		if (c == '.') {
			if (dots == 0)
				*dot1 = i;
			else
				*dot2 = i;
			if (++dots > 2)
				return false;
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			return false;
		}
	}
	return dots == 2;
}

/* A numeric claim (integer or float) as seconds; false if absent or not a number. */
static bool claim_time(json_object *claims, const char *name, bool *present, long *out)
{
	json_object *v;

	*present = json_object_object_get_ex(claims, name, &v);
	if (!*present)
		return true;
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	*out = (long)json_object_get_int64(v);
	return true;
}

/* Optional string claim; NULL when absent; false if present but not a
 * string of valid, control-free UTF-8 within max code points. */
static bool claim_str(json_object *claims, const char *name, size_t max_chars,
    size_t max_bytes, const char **out)
{
	json_object *v;
	const char *s;
	long n;

	*out = NULL;
	if (!json_object_object_get_ex(claims, name, &v))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	n = eccr_utf8_len(s, (size_t)json_object_get_string_len(v));
	if (n < 0 || (size_t)n > max_chars || (size_t)json_object_get_string_len(v) > max_bytes ||
	    strlen(s) != (size_t)json_object_get_string_len(v) ||
	    eccr_has_control(s, strlen(s)))
		return false;
	*out = s;
	return true;
}

static bool audience_ok(json_object *claims, const char *want)
{
	json_object *aud;
	size_t i;

	if (!json_object_object_get_ex(claims, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), want) == 0;
	if (!json_object_is_type(aud, json_type_array))
		return false;
	for (i = 0; i < json_object_array_length(aud); i++) {
		json_object *v = json_object_array_get_idx(aud, i);

		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), want) == 0)
			return true;
	}
	return false;
}

static enum eccr_auth_err check_times(const struct eccr_auth *a, json_object *claims,
    time_t now, long *exp)
{
	bool present;
	long t = 0;

	if (!claim_time(claims, "exp", &present, exp) || !present)
		return ECCR_AUTH_BAD_CLAIMS;
	/* now - leeway, not exp + leeway: exp comes from the token and may be huge. */
	if (*exp < (long)now - a->leeway)
		return ECCR_AUTH_EXPIRED;
	if (!claim_time(claims, "nbf", &present, &t))
		return ECCR_AUTH_BAD_CLAIMS;
	if (present && t > (long)now + a->leeway)
		return ECCR_AUTH_NOT_YET_VALID;
	if (!claim_time(claims, "iat", &present, &t))
		return ECCR_AUTH_BAD_CLAIMS;
	if (present && t > (long)now + a->leeway)
		return ECCR_AUTH_NOT_YET_VALID;
	return ECCR_AUTH_OK;
}

static enum eccr_auth_err check_claims(const struct eccr_auth *a, json_object *claims,
    time_t now, struct eccr_principal *out)
{
	const char *sub, *name, *email, *role, *iss;
	enum eccr_auth_err e;
	int r = ECCR_ROLE_VIEWER;

	if (!json_object_is_type(claims, json_type_object))
		return ECCR_AUTH_MALFORMED;
	if ((e = check_times(a, claims, now, &out->exp)) != ECCR_AUTH_OK)
		return e;
	if (!claim_str(claims, "sub", ECCR_SUB_MAX, sizeof out->sub - 1, &sub) || sub == NULL ||
	    sub[0] == '\0' ||
	    !claim_str(claims, "name", ECCR_NAME_MAX, sizeof out->name - 1, &name) ||
	    !claim_str(claims, "email", ECCR_EMAIL_MAX, ECCR_EMAIL_MAX, &email) ||
	    !claim_str(claims, "role", 16, 16, &role))
		return ECCR_AUTH_BAD_CLAIMS;
	if (role != NULL && (r = eccr_role_from_name(role)) < 0)
		return ECCR_AUTH_BAD_CLAIMS;
	if (a->issuer != NULL &&
	    (!claim_str(claims, "iss", 1024, 4096, &iss) || iss == NULL || strcmp(iss, a->issuer) != 0))
		return ECCR_AUTH_BAD_CLAIMS;
	if (a->audience != NULL && !audience_ok(claims, a->audience))
		return ECCR_AUTH_BAD_CLAIMS;
	snprintf(out->sub, sizeof out->sub, "%s", sub);
	snprintf(out->name, sizeof out->name, "%s", name ? name : "");
	snprintf(out->email, sizeof out->email, "%s", email ? email : "");
	out->role = (enum eccr_role)r;
	return ECCR_AUTH_OK;
}

static enum eccr_auth_err verify(const struct eccr_auth *a, const char *token, size_t n,
    time_t now, struct eccr_principal *out)
{
	size_t dot1 = 0, dot2 = 0;
	const unsigned char *key;
	json_object *claims;
	enum eccr_auth_err e;
	jwt_t *jwt = NULL;
	char *grants;
	int i;
	size_t keylen;

	if (n > TOKEN_MAX || !token_chars_ok(token, n, &dot1, &dot2))
		return ECCR_AUTH_MALFORMED;
	if ((i = header_alg(token, dot1)) == -2)
		return ECCR_AUTH_MALFORMED;
	if (i < 0 || !(a->allowed & (1u << i)))
		return ECCR_AUTH_BAD_ALG;
	if (!payload_ok(token + dot1 + 1, dot2 - dot1 - 1))
		return ECCR_AUTH_MALFORMED;
	key = algs[i].hmac ? a->secret : a->pubkey;
	keylen = algs[i].hmac ? a->secret_len : a->pubkey_len;
	if (key == NULL)
		return ECCR_AUTH_BAD_ALG;
	if (dot2 + 1 == n)
		return ECCR_AUTH_BAD_SIGNATURE;
	if (jwt_decode(&jwt, token, key, (int)keylen) != 0)
		return ECCR_AUTH_BAD_SIGNATURE;
	if (jwt_get_alg(jwt) != algs[i].alg) {
		jwt_free(jwt);
		return ECCR_AUTH_BAD_ALG;
	}
	grants = jwt_get_grants_json(jwt, NULL);
	jwt_free(jwt);
	if (grants == NULL)
		return ECCR_AUTH_MALFORMED;
	claims = json_tokener_parse(grants);
	free(grants);
	if (claims == NULL)
		return ECCR_AUTH_MALFORMED;
	e = check_claims(a, claims, now, out);
	json_object_put(claims);
	return e;
}

/* jwt_decode wants a NUL-terminated string of exactly the token's bytes. */
static enum eccr_auth_err verify_copy(const struct eccr_auth *a, const char *p, size_t n,
    time_t now, struct eccr_principal *out)
{
	char token[TOKEN_MAX + 1];

	if (n > TOKEN_MAX)
		return ECCR_AUTH_MALFORMED;
	memcpy(token, p, n);
	token[n] = '\0';
	return verify(a, token, n, now, out);
}

/* "Bearer" (any case), one space or tab, the token.  Trailing blanks are
 * tolerated because some servers keep them; anything else is malformed. */
enum eccr_auth_err eccr_auth_bearer(const struct eccr_auth *auth,
    const char *authorization, time_t now, struct eccr_principal *out)
{
	const char *p = authorization;
	size_t n;

	memset(out, 0, sizeof *out);
	if (p == NULL || p[strspn(p, " \t")] == '\0')
		return ECCR_AUTH_MISSING;
	if (strncasecmp(p, "Bearer", 6) != 0)
		return ECCR_AUTH_MALFORMED;
	p += 6;
	if (p[strspn(p, " \t")] == '\0')
		return ECCR_AUTH_MISSING;   /* "Bearer" with no token */
	if ((*p != ' ' && *p != '\t') || p[1] == ' ' || p[1] == '\t')
		return ECCR_AUTH_MALFORMED;
	p++;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return verify_copy(auth, p, n, now, out);
}

static uint64_t fnv1a64(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

enum eccr_auth_err eccr_auth_bearer_memo(const struct eccr_auth *auth,
    struct eccr_auth_memo *memo, const char *authorization, time_t now,
    struct eccr_principal *out)
{
	size_t n = authorization ? strlen(authorization) : 0, i;
	uint64_t h;
	enum eccr_auth_err e;

	if (n == 0 || n > ECCR_AUTH_MEMO_TOKEN_MAX)
		return eccr_auth_bearer(auth, authorization, now, out);
	if (memo->auth != auth) {
		memset(memo, 0, sizeof *memo);
		memo->auth = auth;
	}
	h = fnv1a64(authorization, n);
	for (i = 0; i < ECCR_AUTH_MEMO_SLOTS; i++) {
		/* Compared in constant time: the header of another caller must
		 * not be guessable byte by byte from response times. */
		if (memo->slot[i].len == n && memo->slot[i].hash == h &&
		    CRYPTO_memcmp(memo->slot[i].header, authorization, n) == 0) {
			if (now < memo->slot[i].valid_from || now > memo->slot[i].valid_until)
				break;   /* outside the proven window: verify again */
			*out = memo->slot[i].who;
			return ECCR_AUTH_OK;
		}
	}
	e = eccr_auth_bearer(auth, authorization, now, out);
	if (e != ECCR_AUTH_OK || out->exp <= 0) {
		if (i < ECCR_AUTH_MEMO_SLOTS)
			memo->slot[i].len = 0;
		return e;
	}
	i = i < ECCR_AUTH_MEMO_SLOTS ? i : memo->next++ % ECCR_AUTH_MEMO_SLOTS;
	memo->slot[i].hash = h;
	memo->slot[i].len = n;
	memcpy(memo->slot[i].header, authorization, n);
	memo->slot[i].who = *out;
	memo->slot[i].valid_from = now;
	/* exp may be as large as a long holds: never overflow adding the leeway. */
	memo->slot[i].valid_until = out->exp > LONG_MAX - auth->leeway ? (time_t)LONG_MAX :
	    (time_t)(out->exp + auth->leeway);
	return e;
}

enum eccr_auth_err eccr_auth_remote_user(const struct eccr_auth *auth,
    const char *remote_user, struct eccr_principal *out)
{
	size_t i;

	memset(out, 0, sizeof *out);
	if (remote_user == NULL || remote_user[0] == '\0')
		return ECCR_AUTH_MISSING;
	for (i = 0; i < auth->nusers; i++) {
		if (strcmp(auth->users[i].name, remote_user) == 0) {
			snprintf(out->sub, sizeof out->sub, "%s", remote_user);
			out->role = auth->users[i].role;
			return ECCR_AUTH_OK;
		}
	}
	return ECCR_AUTH_UNKNOWN_USER;
}

/* ------------------------------------------------------------ minting */

char *eccr_auth_mint(const struct eccr_config *cfg, const char *sub,
    const char *role, const char *name, const char *email, long ttl_s,
    time_t now, char *err, size_t errlen)
{
	int i = first_hmac_alg(cfg->auth.jwt_algorithms ? cfg->auth.jwt_algorithms : "");
	jwt_t *jwt = NULL;
	char *enc, *out = NULL;

	if (i < 0)
		return snprintf(err, errlen, "auth.jwt_algorithms lists no HS* algorithm to sign with"), NULL;
	if (cfg->auth.jwt_secret == NULL)
		return snprintf(err, errlen, "auth.jwt_secret_file is not set"), NULL;
	if (jwt_new(&jwt) != 0)
		return snprintf(err, errlen, "out of memory"), NULL;
	if (jwt_add_grant(jwt, "sub", sub) != 0 ||
	    (role && jwt_add_grant(jwt, "role", role) != 0) ||
	    (name && jwt_add_grant(jwt, "name", name) != 0) ||
	    (email && jwt_add_grant(jwt, "email", email) != 0) ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)now + ttl_s) != 0 ||
	    jwt_set_alg(jwt, algs[i].alg, (const unsigned char *)cfg->auth.jwt_secret,
		(int)cfg->auth.jwt_secret_len) != 0) {
		jwt_free(jwt);
		return snprintf(err, errlen, "cannot build the token"), NULL;
	}
	if ((enc = jwt_encode_str(jwt)) != NULL) {
		out = strdup(enc);
		free(enc);
	}
	jwt_free(jwt);
	if (out == NULL)
		snprintf(err, errlen, "cannot encode the token");
	return out;
}
