/* client.h - what the integration tests need to talk to a running stack:
 * HTTP through the real web server (libcurl), tokens, and direct SQL
 * (libpq) to check what the service did or did not change.
 *
 * The harness (tests/integration/run.sh) provides ECCR_TEST_URL,
 * ECCR_TEST_ROOT, ECCR_TEST_CONFIG and ECCR_TEST_CONNINFO. */
#ifndef ECCR_TEST_CLIENT_H
#define ECCR_TEST_CLIENT_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

struct resp {
	long status;
	char *body;
	size_t len;
	char *headers;          /* raw header block, "Name: value\r\n"... */
	json_object *json;      /* parsed body, or NULL */
};

/* One request.  path is relative to ECCR_TEST_URL (the API base), or to
 * ECCR_TEST_ROOT when it starts with "@" ("@/health").  token may be NULL;
 * content_type NULL means application/json when a body is given.
 * extra_header is one "Name: value" line or NULL. */
struct resp *http(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, const char *extra_header);

/* As http, with any number of extra header lines, NULL-terminated. */
struct resp *http_headers(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, ...)
    __attribute__((sentinel));

/* As http_headers, but a transport failure (refused, reset, timed out) is
 * status 0 instead of a failed assertion: for clients that retry, and for
 * threads (it asserts nothing about the answer). */
struct resp *http_try(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, ...)
    __attribute__((sentinel));

/* A request to the server root (ECCR_TEST_ROOT): http_root("GET", "/health", NULL). */
struct resp *http_root(const char *method, const char *path, const char *token);

/* Shorthands with a JSON body (or none). */
struct resp *http_json(const char *method, const char *path, const char *token, const char *json);

/* Header value (case-insensitive name) copied into out; NULL if absent. */
const char *resp_header(const struct resp *r, const char *name, char *out, size_t outlen);
/* Member of the JSON object body as a string ("" when absent). */
const char *resp_str(const struct resp *r, const char *field);
/* Assert a problem document: status, content type, code. */
void assert_problem(const struct resp *r, long status, const char *code);
void resp_free(struct resp *r);

/* The configuration the server under test runs with (ECCR_TEST_CONFIG),
 * loaded once per test process. */
struct eccr_config;
const struct eccr_config *test_config(void);

/* Tokens signed with the test configuration's secret. */
char *token_for(const char *sub, const char *role);
char *token_at(const char *sub, const char *role, long ttl_s, time_t now);
const char *tok_viewer(void);
const char *tok_editor(void);
const char *tok_admin(void);
/* A token signed with another secret than the server's (a forgery). */
char *token_wrong_key(const char *sub, const char *role);
/* base64url(header_json) "." base64url(claims_json) "." signature, as is:
 * for alg "none" and other hand-made tokens. */
char *token_raw(const char *header_json, const char *claims_json, const char *signature);

/* SQL helpers: a scalar of the first row, first column, as a long (or -1). */
long db_long(const char *sql, const char *param);
/* Poll db_long(sql, param) every 100 ms until it returns want, for at most
 * seconds (db_wait: 20); returns the last value read. */
long db_wait_for(const char *sql, const char *param, long want, int seconds);
long db_wait(const char *sql, const char *param, long want);
/* POST /episodes with json as token; asserts 201 and a UUID, copied to id. */
void episode_create(const char *token, const char *json, char id[37]);
/* The same with any number of text parameters ($1, $2...), NULL-terminated. */
long db_count(const char *sql, ...) __attribute__((sentinel));
/* First row, first column as a malloc'd string (NULL for no row or SQL
 * NULL); text parameters NULL-terminated. */
char *db_scalar(const char *sql, ...) __attribute__((sentinel));
/* A fingerprint of the episodes and their events (row counts, versions,
 * last change): "nothing changed" checks compare it before and after.
 * Free with free(). */
char *db_changes(void);
#define assert_unchanged(before) do { \
		char *now_ = db_changes(); \
		cr_assert_str_eq(now_, (before), "the database changed"); \
		free(now_); \
	} while (0)

/* A process that SIGKILLs every eccr-fcgi of the build under test
 * interval_ms after the service last came back, until stop_killer, which
 * returns once the service answers again (lighttpd keeps a killed backend
 * disabled for a second or so), so that what follows meets a working
 * service.  The killer checks its stop flag only between rounds, so no
 * kill of its own lands after stop_killer, and it dies with the test
 * process (a test that times out leaves no killer behind). */
pid_t start_killer(int interval_ms);
void stop_killer(pid_t killer);
void wait_until_served(void);

/* A random tag, fresh in each test (Criterion runs each test in its own
 * process), to keep tests independent of one another and of their order. */
const char *uniq(void);

#endif
