/* client.c - HTTP, token and SQL helpers for the integration tests. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "client.h"
#include "config.h"
#include "util.h"

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		cr_skip_test("%s is not set: run through tests/integration/run.sh", name);
	return v;
}

static size_t collect(char *data, size_t size, size_t n, void *user)
{
	struct eccr_buf *b = user;

	eccr_buf_add(b, data, size * n);
	return size * n;
}

/* Parse a response body.  Deeper than json-c's default of 32: responses
 * echo metadata nested as deep as the server accepts. */
static json_object *parse(const char *s, size_t n)
{
	struct json_tokener *tok = json_tokener_new_ex(128);
	json_object *o;

	cr_assert_not_null(tok);
	o = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* tolerant: a transport failure is status 0, not a failed assertion. */
static struct resp *request(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, const char *const *extra,
    size_t nextra, bool tolerant)
{
	struct eccr_buf out = { 0 }, hdr = { 0 }, url = { 0 };
	struct curl_slist *h = NULL;
	struct resp *r = calloc(1, sizeof *r);
	char line[8192];
	CURL *curl = curl_easy_init();

	cr_assert_not_null(curl);
	if (path[0] == '@')
		eccr_buf_printf(&url, "%s%s", env("ECCR_TEST_ROOT"), path + 1);
	else
		eccr_buf_printf(&url, "%s%s", env("ECCR_TEST_URL"), path);
	curl_easy_setopt(curl, CURLOPT_URL, url.p);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
	if (token != NULL) {
		snprintf(line, sizeof line, "Authorization: Bearer %s", token);
		h = curl_slist_append(h, line);
	}
	if (body != NULL) {
		snprintf(line, sizeof line, "Content-Type: %s",
		    content_type ? content_type : "application/json");
		h = curl_slist_append(h, line);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "PATCH") == 0) {
		/* An empty body with Content-Length: 0, as clients send; without
		 * it lighttpd answers 411 Length Required. */
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	h = curl_slist_append(h, "Expect:");
	for (size_t i = 0; i < nextra; i++)
		if (extra[i] != NULL)
			h = curl_slist_append(h, extra[i]);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	else
		cr_assert(tolerant, "%s %s failed", method, url.p);
	curl_easy_cleanup(curl);
	curl_slist_free_all(h);
	eccr_buf_free(&url);
	eccr_buf_adds(&out, "");
	eccr_buf_adds(&hdr, "");
	r->body = out.p;
	r->len = out.len;
	r->headers = hdr.p;
	r->json = out.len ? parse(out.p, out.len) : NULL;
	return r;
}

struct resp *http(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, const char *extra_header)
{
	return request(method, path, token, content_type, body, bodylen, &extra_header, 1, false);
}

#define COLLECT_HEADERS(last, extra, n) do { \
		va_list ap_; \
		va_start(ap_, last); \
		while (((extra)[n] = va_arg(ap_, const char *)) != NULL) \
			cr_assert_lt(++(n), sizeof(extra) / sizeof((extra)[0]), "too many headers"); \
		va_end(ap_); \
	} while (0)

struct resp *http_headers(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, ...)
{
	const char *extra[16];
	size_t n = 0;

	COLLECT_HEADERS(bodylen, extra, n);
	return request(method, path, token, content_type, body, bodylen, extra, n, false);
}

struct resp *http_try(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, ...)
{
	const char *extra[16];
	size_t n = 0;

	COLLECT_HEADERS(bodylen, extra, n);
	return request(method, path, token, content_type, body, bodylen, extra, n, true);
}

struct resp *http_root(const char *method, const char *path, const char *token)
{
	struct eccr_buf p = { 0 };
	struct resp *r;

	eccr_buf_printf(&p, "@%s", path);
	r = request(method, p.p, token, NULL, NULL, 0, NULL, 0, false);
	eccr_buf_free(&p);
	return r;
}

struct resp *http_json(const char *method, const char *path, const char *token, const char *json)
{
	return http(method, path, token, NULL, json, json ? strlen(json) : 0, NULL);
}

const char *resp_header(const struct resp *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);
	const char *p = r->headers;

	while (p != NULL && *p != '\0') {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;

			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(p + len - v), v);
			return out;
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

const char *resp_str(const struct resp *r, const char *field)
{
	json_object *v;

	if (r->json == NULL || !json_object_object_get_ex(r->json, field, &v) || v == NULL)
		return "";
	return json_object_get_string(v);
}

void assert_problem(const struct resp *r, long status, const char *code)
{
	char ct[128];
	json_object *v;

	cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
	cr_assert_not_null(resp_header(r, "Content-Type", ct, sizeof ct));
	cr_assert_str_eq(ct, "application/problem+json", "content type %s", ct);
	cr_assert_not_null(r->json, "problem body is not JSON: %s", r->body);
	cr_assert_str_eq(resp_str(r, "code"), code, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "status", &v));
	cr_assert_eq(json_object_get_int(v), status);
	cr_assert_str_eq(resp_str(r, "type"), "about:blank");
	cr_assert_gt(strlen(resp_str(r, "title")), 0);
	cr_assert_gt(strlen(resp_str(r, "detail")), 0);
	/* Never leak internals: SQL, server paths, secrets. */
	cr_assert_null(strstr(r->body, "SELECT"), "%s", r->body);
	cr_assert_null(strstr(r->body, "ERROR:"), "%s", r->body);
	cr_assert_null(strstr(r->body, "episodes_series_season"), "%s", r->body);
	if (getenv("ECCR_TEST_STACK_DIR") != NULL && *getenv("ECCR_TEST_STACK_DIR") != '\0')
		cr_assert_null(strstr(r->body, getenv("ECCR_TEST_STACK_DIR")), "%s", r->body);
	if (test_config()->auth.jwt_secret != NULL && test_config()->auth.jwt_secret_len >= 8)
		cr_assert_null(strstr(r->body, test_config()->auth.jwt_secret), "%s", r->body);
}

void resp_free(struct resp *r)
{
	if (r == NULL)
		return;
	json_object_put(r->json);
	free(r->body);
	free(r->headers);
	free(r);
}

static struct eccr_config cfg;
static bool cfg_loaded;

const struct eccr_config *test_config(void)
{
	char err[512];

	if (!cfg_loaded) {
		cr_assert_eq(eccr_config_defaults(&cfg), 0);
		cr_assert_eq(eccr_config_load(&cfg, env("ECCR_TEST_CONFIG"), err, sizeof err), 0,
		    "%s", err);
		cfg_loaded = true;
	}
	return &cfg;
}

char *token_at(const char *sub, const char *role, long ttl_s, time_t now)
{
	char err[512], *tok;

	tok = eccr_auth_mint(test_config(), sub, role, sub, NULL, ttl_s, now, err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	return tok;
}

char *token_wrong_key(const char *sub, const char *role)
{
	struct eccr_config other = *test_config();
	char secret[] = "not-the-secret-of-the-server-under-test-0123456789", err[512], *tok;

	other.auth.jwt_secret = secret;
	other.auth.jwt_secret_len = strlen(secret);
	tok = eccr_auth_mint(&other, sub, role, sub, NULL, 3600, time(NULL), err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	return tok;
}

char *token_raw(const char *header_json, const char *claims_json, const char *signature)
{
	size_t hn = strlen(header_json), cn = strlen(claims_json);
	char *h = malloc(eccr_b64url_len(hn) + 1), *c = malloc(eccr_b64url_len(cn) + 1);
	struct eccr_buf out = { 0 };

	cr_assert(h != NULL && c != NULL);
	eccr_b64url_encode((const unsigned char *)header_json, hn, h);
	eccr_b64url_encode((const unsigned char *)claims_json, cn, c);
	eccr_buf_printf(&out, "%s.%s.%s", h, c, signature);
	free(h);
	free(c);
	return out.p;
}

char *token_for(const char *sub, const char *role)
{
	return token_at(sub, role, 3600, time(NULL));
}

static char *cached[3];

const char *tok_viewer(void)
{
	return cached[0] ? cached[0] : (cached[0] = token_for("vera", "viewer"));
}

const char *tok_editor(void)
{
	return cached[1] ? cached[1] : (cached[1] = token_for("eddie", "editor"));
}

const char *tok_admin(void)
{
	return cached[2] ? cached[2] : (cached[2] = token_for("ada", "admin"));
}

/* Run sql with n text parameters; one row, one column expected at most. */
static char *query1(const char *sql, const char *const *params, int n)
{
	PGconn *db = PQconnectdb(env("ECCR_TEST_CONNINFO"));
	PGresult *res;
	char *v = NULL;

	cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
	res = PQexecParams(db, sql, n, NULL, n ? params : NULL, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
	cr_assert_leq(PQntuples(res), 1, "%s: %d rows", sql, PQntuples(res));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(db);
	return v;
}

static long to_long(char *v)
{
	long n = v ? atol(v) : -1;

	free(v);
	return n;
}

long db_long(const char *sql, const char *param)
{
	return to_long(query1(sql, &param, param ? 1 : 0));
}

long db_wait_for(const char *sql, const char *param, long want, int seconds)
{
	long v = -1;

	for (int i = 0; i < seconds * 10; i++) {
		if ((v = db_long(sql, param)) == want)
			return v;
		usleep(100000);
	}
	return v;
}

long db_wait(const char *sql, const char *param, long want)
{
	return db_wait_for(sql, param, want, 20);
}

void episode_create(const char *token, const char *json, char id[37])
{
	struct resp *r = http_json("POST", "/episodes", token, json);

	cr_assert_eq(r->status, 201, "create failed %ld: %s (%s)", r->status, r->body, json);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	cr_assert(eccr_uuid_valid(id), "%s", r->body);
	resp_free(r);
}

#define MAX_PARAMS 16
#define COLLECT_PARAMS(last, params, n) do { \
		va_list ap_; \
		va_start(ap_, last); \
		while (((params)[n] = va_arg(ap_, const char *)) != NULL) \
			cr_assert_lt(++(n), MAX_PARAMS, "too many parameters"); \
		va_end(ap_); \
	} while (0)

long db_count(const char *sql, ...)
{
	const char *params[MAX_PARAMS];
	int n = 0;

	COLLECT_PARAMS(sql, params, n);
	return to_long(query1(sql, params, n));
}

char *db_scalar(const char *sql, ...)
{
	const char *params[MAX_PARAMS];
	int n = 0;

	COLLECT_PARAMS(sql, params, n);
	return query1(sql, params, n);
}

char *db_changes(void)
{
	/* Only the episode resource: the worker running beside the tests
	 * writes job and worker events of its own. */
	char *v = query1("SELECT format('episodes=%s versions=%s last=%s events=%s',"
	    " (SELECT count(*) FROM episodes), (SELECT coalesce(sum(version), 0) FROM episodes),"
	    " (SELECT max(updated_at) FROM episodes),"
	    " (SELECT count(*) FROM events WHERE resource_type = 'episode'))", NULL, 0);

	cr_assert_not_null(v);
	return v;
}

const char *uniq(void)
{
	static char tag[32];
	unsigned char raw[6];
	FILE *f;

	if (tag[0] != '\0')
		return tag;
	f = fopen("/dev/urandom", "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(raw, 1, sizeof raw, f), sizeof raw);
	fclose(f);
	snprintf(tag, sizeof tag, "t%02x%02x%02x%02x%02x%02x%d", raw[0], raw[1], raw[2], raw[3],
	    raw[4], raw[5], (int)getpid());
	return tag;
}

static volatile sig_atomic_t killer_stop;

static void killer_on_term(int sig)
{
	(void)sig;
	killer_stop = 1;
}

/* Wait (at most 30 s) until eccr-fcgi answers /health: on a slow or busy
 * machine a backend takes a while to come back, and a killer that kept
 * its pace regardless would leave no window for requests to succeed. */
static void killer_wait_served(void)
{
	for (int i = 0; i < 600 && !killer_stop; i++) {
		struct resp *r = http_try("GET", "@/health", NULL, NULL, NULL, 0, NULL);
		long st = r->status;

		resp_free(r);
		if (st == 200)
			return;
		usleep(50000);
	}
}

pid_t start_killer(int interval_ms)
{
	char cmd[1024];
	pid_t parent = getpid(), pid = fork();

	cr_assert_geq(pid, 0);
	if (pid != 0)
		return pid;
	/* Dies with the test: a test that times out must not leave a killer
	 * behind for the suites after it. */
	signal(SIGTERM, killer_on_term);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(1);
	/* -x: the whole command line, so the shell running pkill (whose own
	 * command line contains the pattern) is not a match. */
	snprintf(cmd, sizeof cmd, "pkill -KILL -xf '%s/src/fcgi/eccr-fcgi'", env("ECCR_TEST_BUILD"));
	while (!killer_stop) {
		killer_wait_served();
		usleep((useconds_t)interval_ms * 1000);
		if (!killer_stop && system(cmd) == -1)
			_exit(1);
	}
	_exit(0);
}

void stop_killer(pid_t killer)
{
	kill(killer, SIGTERM);
	waitpid(killer, NULL, 0);
	wait_until_served();
}

void wait_until_served(void)
{
	for (int i = 0; i < 300; i++) {
		struct resp *r = http_root("GET", "/health", NULL);
		long st = r->status;

		resp_free(r);
		if (st == 200)
			return;
		usleep(100000);
	}
	cr_assert_fail("eccr-fcgi was not served again within 30 s of the last kill");
}
