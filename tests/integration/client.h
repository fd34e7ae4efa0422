/* client.h - what the integration tests need to talk to a running stack:
 * HTTP through the real web server (libcurl), tokens, and direct SQL
 * (libpq) to check what the service did or did not change.
 *
 * The harness (tests/integration/run.sh) provides ECCR_TEST_URL,
 * ECCR_TEST_ROOT, ECCR_TEST_CONFIG and ECCR_TEST_CONNINFO. */
#ifndef ECCR_TEST_CLIENT_H
#define ECCR_TEST_CLIENT_H

#include <stddef.h>
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

/* Shorthands with a JSON body (or none). */
struct resp *http_json(const char *method, const char *path, const char *token, const char *json);

/* Header value (case-insensitive name) copied into out; NULL if absent. */
const char *resp_header(const struct resp *r, const char *name, char *out, size_t outlen);
/* Member of the JSON object body as a string ("" when absent). */
const char *resp_str(const struct resp *r, const char *field);
/* Assert a problem document: status, content type, code. */
void assert_problem(const struct resp *r, long status, const char *code);
void resp_free(struct resp *r);

/* Tokens signed with the test configuration's secret. */
char *token_for(const char *sub, const char *role);
char *token_at(const char *sub, const char *role, long ttl_s, time_t now);
const char *tok_viewer(void);
const char *tok_editor(void);
const char *tok_admin(void);

/* SQL helpers: a scalar of the first row, first column, as a long (or -1). */
long db_long(const char *sql, const char *param);
/* Count rows of episodes plus events: "nothing changed" checks compare it. */
long db_changes(void);

/* A random tag unique to this test run, to keep tests independent. */
const char *uniq(void);

#endif
