/* client.c - HTTP, token and SQL helpers for the integration tests. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

struct resp *http(const char *method, const char *path, const char *token,
    const char *content_type, const char *body, size_t bodylen, const char *extra_header)
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
	if (extra_header != NULL)
		h = curl_slist_append(h, extra_header);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	cr_assert_eq(curl_easy_perform(curl), CURLE_OK, "%s %s failed", method, url.p);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(curl);
	curl_slist_free_all(h);
	eccr_buf_free(&url);
	eccr_buf_adds(&out, "");
	eccr_buf_adds(&hdr, "");
	r->body = out.p;
	r->len = out.len;
	r->headers = hdr.p;
	r->json = out.len ? json_tokener_parse(out.p) : NULL;
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
	/* Never leak internals. */
	cr_assert_null(strstr(r->body, "SELECT"), "%s", r->body);
	cr_assert_null(strstr(r->body, "ERROR:"), "%s", r->body);
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

char *token_at(const char *sub, const char *role, long ttl_s, time_t now)
{
	struct eccr_config cfg;
	char err[512], *tok;

	cr_assert_eq(eccr_config_defaults(&cfg), 0);
	cr_assert_eq(eccr_config_load(&cfg, env("ECCR_TEST_CONFIG"), err, sizeof err), 0, "%s", err);
	tok = eccr_auth_mint(&cfg, sub, role, sub, NULL, ttl_s, now, err, sizeof err);
	cr_assert_not_null(tok, "%s", err);
	eccr_config_free(&cfg);
	return tok;
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

long db_long(const char *sql, const char *param)
{
	PGconn *db = PQconnectdb(env("ECCR_TEST_CONNINFO"));
	PGresult *res;
	long v = -1;

	cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
	res = PQexecParams(db, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		v = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(db);
	return v;
}

long db_changes(void)
{
	return db_long("SELECT (SELECT count(*) FROM episodes) * 1000000 + "
	    "(SELECT count(*) FROM events) + (SELECT coalesce(sum(version), 0) FROM episodes)", NULL);
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
