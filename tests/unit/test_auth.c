/* Unit tests: src/lib/auth.c (JWT verification, roles, minting). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "util.h"

#define SECRET "an-hmac-secret-of-at-least-32-bytes!!"
#define NOW 1800000000L

static struct eccr_config cfg;
static struct eccr_auth *auth;
static char err[256];
static char tmpdir[] = "/tmp/eccr-auth-test.XXXXXX";
static char *rsa_private, *rsa_public;

static char *slurp(const char *path)
{
	char *p = NULL;
	size_t n;

	cr_assert_eq(eccr_read_file(path, 1 << 20, &p, &n), 0, "%s", path);
	return p;
}

static void make_rsa_keys(void)
{
	char cmd[512], path[256];

	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(cmd, sizeof cmd,
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/priv.pem 2>/dev/null && "
	    "openssl pkey -in %s/priv.pem -pubout -out %s/pub.pem 2>/dev/null", tmpdir, tmpdir, tmpdir);
	cr_assert_eq(system(cmd), 0, "openssl failed");
	snprintf(path, sizeof path, "%s/priv.pem", tmpdir);
	rsa_private = slurp(path);
	unlink(path);
	snprintf(path, sizeof path, "%s/pub.pem", tmpdir);
	rsa_public = slurp(path);
	unlink(path);
	rmdir(tmpdir);
}

/* A verifier accepting `algs`, with the HMAC secret and, for RS*, a public key. */
static void setup_with(const char *algs, bool with_rsa)
{
	memset(&cfg, 0, sizeof cfg);
	cfg.auth.mode = ECCR_AUTH_JWT;
	cfg.auth.jwt_algorithms = strdup(algs);
	cfg.auth.jwt_secret = strdup(SECRET);
	cfg.auth.jwt_secret_len = strlen(SECRET);
	cfg.auth.leeway_s = 60;
	if (with_rsa) {
		make_rsa_keys();
		cfg.auth.jwt_public_key = strdup(rsa_public);
		cfg.auth.jwt_public_key_len = strlen(rsa_public);
	}
	auth = eccr_auth_new(&cfg, err, sizeof err);
	cr_assert_not_null(auth, "%s", err);
}

static void setup(void)
{
	setup_with("HS256", false);
}

static void teardown(void)
{
	eccr_auth_free(auth);
	free(cfg.auth.jwt_algorithms);
	free(cfg.auth.jwt_secret);
	free(cfg.auth.jwt_public_key);
	free(cfg.auth.issuer);
	free(cfg.auth.audience);
	free(cfg.auth.roles_file);
	free(rsa_private);
	free(rsa_public);
	rsa_private = rsa_public = NULL;
	auth = NULL;
}

/* Sign arbitrary claims (JSON) with libjwt. */
static char *sign(jwt_alg_t alg, const char *key, const char *claims)
{
	jwt_t *jwt = NULL;
	char *tok, *out;

	cr_assert_eq(jwt_new(&jwt), 0);
	cr_assert_eq(jwt_add_grants_json(jwt, claims), 0, "%s", claims);
	cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)), 0);
	tok = jwt_encode_str(jwt);
	jwt_free(jwt);
	cr_assert_not_null(tok);
	out = malloc(strlen(tok) + 8);
	sprintf(out, "Bearer %s", tok);
	free(tok);
	return out;
}

static enum eccr_auth_err check(const char *header, struct eccr_principal *p)
{
	return eccr_auth_bearer(auth, header, NOW, p);
}

static enum eccr_auth_err check_claims(const char *claims)
{
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET, claims);
	enum eccr_auth_err e = check(h, &p);

	free(h);
	return e;
}

/* An HS256 token built without libjwt, for claims jansson refuses to emit. */
static enum eccr_auth_err check_raw(const char *claims)
{
	const char *head = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char tok[2048], *t = tok + 7;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct eccr_principal p;

	strcpy(tok, "Bearer ");
	eccr_b64url_encode((const unsigned char *)head, strlen(head), t);
	strcat(t, ".");
	eccr_b64url_encode((const unsigned char *)claims, strlen(claims), t + strlen(t));
	cr_assert_not_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)t, strlen(t), mac, &maclen));
	strcat(t, ".");
	eccr_b64url_encode(mac, maclen, t + strlen(t));
	return check(tok, &p);
}

TestSuite(jwt, .init = setup, .fini = teardown);

Test(jwt, valid_token_gives_principal)
{
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET,
	    "{\"sub\":\"alice\",\"name\":\"Alice \xc3\x89\",\"email\":\"a@example.org\","
	    "\"role\":\"editor\",\"exp\":1800000100,\"iat\":1800000000}");

	cr_assert_eq(check(h, &p), ECCR_AUTH_OK);
	cr_assert_str_eq(p.sub, "alice");
	cr_assert_str_eq(p.name, "Alice \xc3\x89");
	cr_assert_str_eq(p.email, "a@example.org");
	cr_assert_eq(p.role, ECCR_ROLE_EDITOR);
	cr_assert_eq(p.exp, 1800000100);
	free(h);
}

Test(jwt, minted_token_round_trips)
{
	struct eccr_principal p;
	char hdr[2048];
	char *tok = eccr_auth_mint(&cfg, "bob", "admin", "Bob", NULL, 3600, NOW, err, sizeof err);

	cr_assert_not_null(tok, "%s", err);
	snprintf(hdr, sizeof hdr, "bearer %s", tok);  /* scheme is case-insensitive */
	cr_assert_eq(check(hdr, &p), ECCR_AUTH_OK);
	cr_assert_str_eq(p.sub, "bob");
	cr_assert_eq(p.role, ECCR_ROLE_ADMIN);
	cr_assert_str_eq(p.email, "");
	free(tok);
}

Test(jwt, role_defaults_to_viewer)
{
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"v\",\"exp\":1800000100}");

	cr_assert_eq(check(h, &p), ECCR_AUTH_OK);
	cr_assert_eq(p.role, ECCR_ROLE_VIEWER);
	free(h);
}

Test(jwt, time_claims)
{
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1799999000}"), ECCR_AUTH_EXPIRED);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1799999950}"), ECCR_AUTH_OK); /* leeway */
	cr_assert_eq(check_claims("{\"sub\":\"a\"}"), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":\"soon\"}"), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"nbf\":1800000500}"),
	    ECCR_AUTH_NOT_YET_VALID);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"nbf\":1800000030}"), ECCR_AUTH_OK);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iat\":1800000500}"),
	    ECCR_AUTH_NOT_YET_VALID);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iat\":1800000059}"), ECCR_AUTH_OK);
	/* Huge values must not overflow (UBSan would report it). */
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":9223372036854775807}"), ECCR_AUTH_OK);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1e300}"), ECCR_AUTH_OK);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":-9223372036854775807}"), ECCR_AUTH_EXPIRED);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"nbf\":true}"),
	    ECCR_AUTH_BAD_CLAIMS);
}

Test(jwt, name_and_email_limits)
{
	char claims[1024], text[400];

	memset(text, 'n', 256);
	text[256] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"a\",\"exp\":1800009999,\"name\":\"%s\"}", text);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_OK);
	strcpy(text + 256, "n");
	snprintf(claims, sizeof claims, "{\"sub\":\"a\",\"exp\":1800009999,\"name\":\"%s\"}", text);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_BAD_CLAIMS);
	memset(text, 'e', 320);
	text[320] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"a\",\"exp\":1800009999,\"email\":\"%s\"}", text);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_OK);
	strcpy(text + 320, "e");
	snprintf(claims, sizeof claims, "{\"sub\":\"a\",\"exp\":1800009999,\"email\":\"%s\"}", text);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"email\":[\"x\"]}"),
	    ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"role\":1}"),
	    ECCR_AUTH_BAD_CLAIMS);
}

Test(jwt, subject_and_role_claims)
{
	char claims[512], sub[200];

	cr_assert_eq(check_claims("{\"exp\":1800009999}"), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"\",\"exp\":1800009999}"), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":42,\"exp\":1800009999}"), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\\u0001\",\"exp\":1800009999}"), ECCR_AUTH_BAD_CLAIMS);
	memset(sub, 'x', 128);
	sub[128] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"exp\":1800009999}", sub);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_OK);
	sub[128] = 'x';
	sub[129] = '\0';
	snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"exp\":1800009999}", sub);
	cr_assert_eq(check_claims(claims), ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"role\":\"root\"}"),
	    ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"name\":7}"),
	    ECCR_AUTH_BAD_CLAIMS);
	/* 128 characters, 256 bytes: the limit counts characters. */
	snprintf(claims, sizeof claims, "{\"sub\":\"");
	for (int i = 0; i < 128; i++)
		strcat(claims, "\xc3\xa9");
	strcat(claims, "\",\"exp\":1800009999}");
	cr_assert_eq(check_claims(claims), ECCR_AUTH_OK);
	/* libjwt (jansson) will not sign invalid UTF-8, so build these by hand. */
	cr_assert_eq(check_raw("{\"sub\":\"\xff\",\"exp\":1800009999}"), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check_raw("{\"sub\":\"a\",\"exp\":1800009999} x"), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check_raw("[\"sub\"]"), ECCR_AUTH_MALFORMED);
	cr_assert_neq(check_raw("{\"sub\":\"a\",\"exp\":NaN}"), ECCR_AUTH_OK);
	cr_assert_eq(check_raw("{\"sub\":\"ok\",\"exp\":1800009999}"), ECCR_AUTH_OK);
}

Test(jwt, forged_and_foreign_signatures)
{
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"a\",\"exp\":1800009999}");
	char *other = sign(JWT_ALG_HS256, "another-secret-that-is-long-enough!!", "{\"sub\":\"a\",\"exp\":1800009999}");
	size_t n = strlen(h);

	h[n - 2] = h[n - 2] == 'A' ? 'B' : 'A';
	cr_assert_eq(check(h, &p), ECCR_AUTH_BAD_SIGNATURE);
	cr_assert_eq(check(other, &p), ECCR_AUTH_BAD_SIGNATURE);
	free(h);
	free(other);
}

Test(jwt, alg_none_and_unlisted_algorithms)
{
	struct eccr_principal p;
	char hdr[512], payload[128], htok[128];
	const char *claims = "{\"sub\":\"a\",\"exp\":1800009999,\"role\":\"admin\"}";
	char *h384, *h256;

	eccr_b64url_encode((const unsigned char *)claims, strlen(claims), payload);
	eccr_b64url_encode((const unsigned char *)"{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, htok);
	snprintf(hdr, sizeof hdr, "Bearer %s.%s.", htok, payload);
	cr_assert_eq(check(hdr, &p), ECCR_AUTH_BAD_ALG);
	eccr_b64url_encode((const unsigned char *)"{\"alg\":\"NONE\"}", 14, htok);
	snprintf(hdr, sizeof hdr, "Bearer %s.%s.", htok, payload);
	cr_assert_eq(check(hdr, &p), ECCR_AUTH_BAD_ALG);

	eccr_b64url_encode((const unsigned char *)"{\"alg\":\"nOnE\"}", 14, htok);
	snprintf(hdr, sizeof hdr, "Bearer %s.%s.c2ln", htok, payload);
	cr_assert_eq(check(hdr, &p), ECCR_AUTH_BAD_ALG);
	h384 = sign(JWT_ALG_HS384, SECRET, claims);
	cr_assert_eq(check(h384, &p), ECCR_AUTH_BAD_ALG);
	free(h384);
	/* An accepted algorithm with the signature stripped. */
	h256 = sign(JWT_ALG_HS256, SECRET, claims);
	*strrchr(h256, '.') = '\0';
	strcat(h256, ".");
	cr_assert_eq(check(h256, &p), ECCR_AUTH_BAD_SIGNATURE);
	free(h256);
}

Test(jwt, malformed_inputs)
{
	struct eccr_principal p;
	char *huge = malloc(10000);

	cr_assert_eq(check(NULL, &p), ECCR_AUTH_MISSING);
	cr_assert_eq(check("", &p), ECCR_AUTH_MISSING);
	cr_assert_eq(check("Bearer ", &p), ECCR_AUTH_MISSING);
	cr_assert_eq(check("Basic YWxpY2U6cHc=", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer abc", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer a.b", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer a.b.c.d", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer !!!.b.c", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer bm90IGpzb24.e30.c2ln", &p), ECCR_AUTH_MALFORMED); /* "not json" */
	cr_assert_eq(check("BearerX.y.z", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer", &p), ECCR_AUTH_MISSING);
	cr_assert_eq(check("A.e30.c2ln", &p), ECCR_AUTH_MALFORMED);     /* no scheme */
	cr_assert_eq(check("Bearer A.e30.c2ln", &p), ECCR_AUTH_MALFORMED); /* bad base64 length */
	cr_assert_eq(check("Bearer eyJhbGciOiJIUzI1NiJ9x.e30.c2ln", &p), ECCR_AUTH_MALFORMED);
	/* {"alg":"HS256"}x : trailing junk after the header object */
	cr_assert_eq(check("Bearer eyJhbGciOiJIUzI1NiJ9eA.e30.c2ln", &p), ECCR_AUTH_MALFORMED);
	/* {"alg":5} */
	cr_assert_eq(check("Bearer eyJhbGciOjV9.e30.c2ln", &p), ECCR_AUTH_MALFORMED);
	cr_assert_eq(check("Bearer e30.e30.c2ln", &p), ECCR_AUTH_MALFORMED);  /* {} */
	memcpy(huge, "Bearer ", 7);
	memset(huge + 7, 'a', 2000);                /* a 1.5 KiB header */
	memcpy(huge + 2007, ".e30.c2ln", 10);
	cr_assert_eq(check(huge, &p), ECCR_AUTH_MALFORMED);
	memcpy(huge, "Bearer ", 7);
	memset(huge + 7, 'a', 9990);
	huge[100] = '.';
	huge[200] = '.';
	huge[9997] = '\0';
	cr_assert_eq(check(huge, &p), ECCR_AUTH_MALFORMED);
	free(huge);
}

Test(jwt, bearer_scheme_and_separator)
{
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"a\",\"exp\":1800009999}");
	char buf[1024];

	cr_assert_eq(check(h, &p), ECCR_AUTH_OK);
	snprintf(buf, sizeof buf, "BEARER\t%s  ", h + 7);
	cr_assert_eq(check(buf, &p), ECCR_AUTH_OK);
	snprintf(buf, sizeof buf, "Bearer  %s", h + 7);
	cr_assert_eq(check(buf, &p), ECCR_AUTH_MALFORMED);
	snprintf(buf, sizeof buf, "Bearer \t%s", h + 7);
	cr_assert_eq(check(buf, &p), ECCR_AUTH_MALFORMED);
	snprintf(buf, sizeof buf, "Token %s", h + 7);
	cr_assert_eq(check(buf, &p), ECCR_AUTH_MALFORMED);
	snprintf(buf, sizeof buf, "Bearer %s x", h + 7);
	cr_assert_eq(check(buf, &p), ECCR_AUTH_MALFORMED);
	free(h);
}

Test(jwt, issuer_and_audience)
{
	eccr_auth_free(auth);
	cfg.auth.issuer = strdup("https://id.example");
	cfg.auth.audience = strdup("eccr");
	auth = eccr_auth_new(&cfg, err, sizeof err);
	cr_assert_not_null(auth);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iss\":\"https://id.example\",\"aud\":\"eccr\"}"),
	    ECCR_AUTH_OK);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iss\":\"https://id.example\",\"aud\":[\"x\",\"eccr\"]}"),
	    ECCR_AUTH_OK);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iss\":\"https://evil\",\"aud\":\"eccr\"}"),
	    ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"iss\":\"https://id.example\",\"aud\":[\"x\"]}"),
	    ECCR_AUTH_BAD_CLAIMS);
	cr_assert_eq(check_claims("{\"sub\":\"a\",\"exp\":1800009999,\"aud\":\"eccr\"}"),
	    ECCR_AUTH_BAD_CLAIMS);
}

Test(rsa, public_key_tokens_and_key_confusion, .fini = teardown)
{
	struct eccr_principal p;
	char *h, *confused;

	setup_with("RS256, HS256", true);
	h = sign(JWT_ALG_RS256, rsa_private, "{\"sub\":\"r\",\"exp\":1800009999}");
	cr_assert_eq(check(h, &p), ECCR_AUTH_OK);
	cr_assert_str_eq(p.sub, "r");
	free(h);
	/* HS256 keyed with the public key PEM: must fail, the HMAC key is the secret. */
	confused = sign(JWT_ALG_HS256, rsa_public, "{\"sub\":\"r\",\"exp\":1800009999}");
	cr_assert_eq(check(confused, &p), ECCR_AUTH_BAD_SIGNATURE);
	/* RS256 signed with the wrong key. */
	h = sign(JWT_ALG_RS256, rsa_private, "{\"sub\":\"r\",\"exp\":1800009999}");
	/* Another valid base64url character, so the signature decodes but differs. */
	h[strlen(h) - 3] = h[strlen(h) - 3] == 'A' ? 'B' : 'A';
	cr_assert_eq(check(h, &p), ECCR_AUTH_BAD_SIGNATURE);
	free(h);
	/* Only RS256 accepted: the confused token is refused before any key is used. */
	eccr_auth_free(auth);
	free(cfg.auth.jwt_algorithms);
	cfg.auth.jwt_algorithms = strdup("RS256");
	auth = eccr_auth_new(&cfg, err, sizeof err);
	cr_assert_not_null(auth, "%s", err);
	cr_assert_eq(check(confused, &p), ECCR_AUTH_BAD_ALG);
	free(confused);
}

Test(jwt, no_public_key_means_bad_alg)
{
	struct eccr_principal p;
	/* {"alg":"RS256"} with any payload: no public key is configured. */
	const char *h = "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

	eccr_auth_free(auth);
	free(cfg.auth.jwt_algorithms);
	cfg.auth.jwt_algorithms = strdup("HS256,RS256");
	auth = eccr_auth_new(&cfg, err, sizeof err);
	cr_assert_not_null(auth, "%s", err);
	cr_assert_eq(check(h, &p), ECCR_AUTH_BAD_ALG);
}

Test(mint, errors_and_algorithm_choice, .fini = teardown)
{
	struct eccr_principal p;
	char hdr[2048], *tok;
	jwt_t *jwt = NULL;

	setup_with("RS256,HS512,HS256", false);
	tok = eccr_auth_mint(&cfg, "c", "viewer", NULL, "c@example.org", 60, NOW, err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	cr_assert_eq(jwt_decode(&jwt, tok, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
	cr_assert_eq(jwt_get_alg(jwt), JWT_ALG_HS512);
	cr_assert_eq(jwt_get_grant_int(jwt, "exp"), NOW + 60);
	cr_assert_eq(jwt_get_grant_int(jwt, "iat"), NOW);
	jwt_free(jwt);
	snprintf(hdr, sizeof hdr, "Bearer %s", tok);
	cr_assert_eq(eccr_auth_bearer(auth, hdr, NOW + 121, &p), ECCR_AUTH_EXPIRED);
	cr_assert_eq(eccr_auth_bearer(auth, hdr, NOW + 119, &p), ECCR_AUTH_OK);
	cr_assert_str_eq(p.email, "c@example.org");
	free(tok);
	free(cfg.auth.jwt_algorithms);
	cfg.auth.jwt_algorithms = strdup("RS256");
	cr_assert_null(eccr_auth_mint(&cfg, "c", "viewer", NULL, NULL, 60, NOW, err, sizeof err));
	cr_assert_not_null(strstr(err, "HS"), "%s", err);
	free(cfg.auth.jwt_algorithms);
	cfg.auth.jwt_algorithms = strdup("HS256");
	free(cfg.auth.jwt_secret);
	cfg.auth.jwt_secret = NULL;
	cr_assert_null(eccr_auth_mint(&cfg, "c", "viewer", NULL, NULL, 60, NOW, err, sizeof err));
	cr_assert_not_null(strstr(err, "secret"), "%s", err);
}

Test(mint, verifier_needs_an_algorithm)
{
	struct eccr_config c;

	memset(&c, 0, sizeof c);
	c.auth.mode = ECCR_AUTH_JWT;
	c.auth.jwt_algorithms = (char *)"PS256,none";
	cr_assert_null(eccr_auth_new(&c, err, sizeof err));
	cr_assert_str_eq(eccr_auth_strerror(ECCR_AUTH_EXPIRED), "token has expired");
	cr_assert_str_eq(eccr_role_name(ECCR_ROLE_ADMIN), "admin");
	cr_assert_eq(eccr_role_from_name("Admin"), -1);
}

Test(remote_user, roles_file, .fini = teardown)
{
	struct eccr_principal p;
	char path[] = "/tmp/eccr-roles.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("# users\nalice editor\n\nroot admin  # comment\n", f);
	fclose(f);
	memset(&cfg, 0, sizeof cfg);
	cfg.auth.mode = ECCR_AUTH_REMOTE_USER;
	cfg.auth.roles_file = strdup(path);
	auth = eccr_auth_new(&cfg, err, sizeof err);
	cr_assert_not_null(auth, "%s", err);
	cr_assert_eq(eccr_auth_mode(auth), ECCR_AUTH_REMOTE_USER);
	cr_assert_eq(eccr_auth_remote_user(auth, "alice", &p), ECCR_AUTH_OK);
	cr_assert_eq(p.role, ECCR_ROLE_EDITOR);
	cr_assert_eq(eccr_auth_remote_user(auth, "root", &p), ECCR_AUTH_OK);
	cr_assert_eq(p.role, ECCR_ROLE_ADMIN);
	cr_assert_eq(eccr_auth_remote_user(auth, "mallory", &p), ECCR_AUTH_UNKNOWN_USER);
	cr_assert_eq(eccr_auth_remote_user(auth, NULL, &p), ECCR_AUTH_MISSING);
	eccr_auth_free(auth);
	auth = NULL;

	/* The blank line and comment count: the bad line is line 4. */
	f = fopen(path, "w");
	fputs("alice editor\n\n# x\nbob superuser\n", f);
	fclose(f);
	cr_assert_null(eccr_auth_new(&cfg, err, sizeof err));
	cr_assert_not_null(strstr(err, ":4: expected"), "%s", err);
	cr_assert_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
	f = fopen(path, "w");
	fputs("alice editor\nalice admin\n", f);
	fclose(f);
	cr_assert_null(eccr_auth_new(&cfg, err, sizeof err));
	cr_assert_not_null(strstr(err, ":2:"), "%s", err);
	f = fopen(path, "w");
	fputs("alice editor extra\n", f);
	fclose(f);
	cr_assert_null(eccr_auth_new(&cfg, err, sizeof err));
	cr_assert_not_null(strstr(err, ":1:"), "%s", err);
	unlink(path);
	cr_assert_null(eccr_auth_new(&cfg, err, sizeof err));  /* file gone */
	free(cfg.auth.roles_file);
	cfg.auth.roles_file = NULL;
	cr_assert_null(eccr_auth_new(&cfg, err, sizeof err));
}

/* ------------------------------------------------------------ the memo */

TestSuite(memo, .init = setup, .fini = teardown);

static enum eccr_auth_err memo_check(struct eccr_auth_memo *m, const char *h, time_t now,
    struct eccr_principal *p)
{
	return eccr_auth_bearer_memo(auth, m, h, now, p);
}

Test(memo, answers_as_the_verifier_would)
{
	static struct eccr_auth_memo m;
	struct eccr_principal a, b;
	char *h = sign(JWT_ALG_HS256, SECRET,
	    "{\"sub\":\"alice\",\"name\":\"Alice\",\"role\":\"editor\",\"exp\":1800000100}");

	cr_assert_eq(memo_check(&m, h, NOW, &a), ECCR_AUTH_OK);
	cr_assert_eq(memo_check(&m, h, NOW + 1, &b), ECCR_AUTH_OK);
	cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "the memo gives the same principal");
	cr_assert_str_eq(b.sub, "alice");
	cr_assert_eq(b.role, ECCR_ROLE_EDITOR);
	/* Past exp + leeway (60 s) it is expired, memo or not. */
	cr_assert_eq(memo_check(&m, h, 1800000100 + 60, &b), ECCR_AUTH_OK);
	cr_assert_eq(memo_check(&m, h, 1800000100 + 61, &b), ECCR_AUTH_EXPIRED);
	/* Before the time it was proven valid (a clock set back): checked
	 * again, and here that means not yet valid (iat in the future). */
	free(h);
	h = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"a\",\"exp\":1800009999,\"iat\":1800000000}");
	cr_assert_eq(memo_check(&m, h, NOW, &b), ECCR_AUTH_OK);
	cr_assert_eq(memo_check(&m, h, NOW - 1000, &b), ECCR_AUTH_NOT_YET_VALID);
	cr_assert_eq(memo_check(&m, h, NOW, &b), ECCR_AUTH_OK);
	free(h);
}

Test(memo, a_tampered_token_of_the_same_length_is_refused)
{
	static struct eccr_auth_memo m;
	struct eccr_principal p;
	char *h = sign(JWT_ALG_HS256, SECRET, "{\"sub\":\"alice\",\"exp\":1800000100}");
	char *bad = strdup(h);
	size_t n = strlen(bad);

	cr_assert_eq(memo_check(&m, h, NOW, &p), ECCR_AUTH_OK);
	bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
	cr_assert_eq(memo_check(&m, bad, NOW, &p), ECCR_AUTH_BAD_SIGNATURE);
	cr_assert_eq(memo_check(&m, h, NOW, &p), ECCR_AUTH_OK);
	cr_assert_eq(memo_check(&m, NULL, NOW, &p), ECCR_AUTH_MISSING);
	free(bad);
	free(h);
}

Test(memo, many_tokens_and_huge_expiries)
{
	static struct eccr_auth_memo m;
	struct eccr_principal p;
	char claims[128], *h[20];
	int i, round;

	for (i = 0; i < 20; i++) {
		snprintf(claims, sizeof claims, "{\"sub\":\"u%d\",\"exp\":%s}", i,
		    i % 2 ? "9223372036854775807" : "1800000100");
		h[i] = sign(JWT_ALG_HS256, SECRET, claims);
	}
	for (round = 0; round < 3; round++)
		for (i = 0; i < 20; i++) {
			cr_assert_eq(memo_check(&m, h[i], NOW, &p), ECCR_AUTH_OK);
			snprintf(claims, sizeof claims, "u%d", i);
			cr_assert_str_eq(p.sub, claims, "a slot answered for another token");
		}
	for (i = 0; i < 20; i++)
		free(h[i]);
}
