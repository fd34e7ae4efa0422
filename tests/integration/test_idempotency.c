/* Integration tests: retry-safe writes with Idempotency-Key (API.md
 * "Retry-safe writes") through lighttpd + eccr-fcgi: replays, concurrent
 * duplicates, another request under the same key, keys per user, what
 * is not remembered, every POST that takes a key, expiry, bad keys, and
 * clients that retry through SIGKILLs of eccr-fcgi.
 *
 * The harness runs with server.idempotency_ttl_s = 10 (run.sh), so that
 * expiry can be seen within a test. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "client.h"
#include "config.h"
#include "util.h"

#define KEYH(buf, key) (snprintf((buf), sizeof(buf), "Idempotency-Key: %s", (key)), (buf))

/* POST with a key (and any body): the answer. */
static struct resp *post_key(const char *path, const char *token, const char *key,
    const char *json)
{
	char h[512];

	return http_headers("POST", path, token, NULL, json, json ? strlen(json) : 0,
	    KEYH(h, key), NULL);
}

static bool replayed(const struct resp *r)
{
	char v[16];

	return resp_header(r, "Idempotent-Replayed", v, sizeof v) != NULL &&
	    strcmp(v, "true") == 0;
}

static void same_header(const struct resp *a, const struct resp *b, const char *name)
{
	char x[512], y[512];

	cr_assert_not_null(resp_header(a, name, x, sizeof x), "no %s: %s", name, a->headers);
	cr_assert_not_null(resp_header(b, name, y, sizeof y), "no %s on the replay", name);
	cr_assert_str_eq(x, y, "%s differs", name);
}

static long episodes_titled(const char *title)
{
	return db_long("SELECT count(*) FROM episodes WHERE title = $1", title);
}

static long events_of(const char *resource_id)
{
	return db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type <> 'notification_created'", resource_id);
}

/* ------------------------------------------------------------ replays */

Test(idempotency, replay_is_the_same_answer_and_changes_nothing)
{
	char key[64], body[192], title[128], before_id[37];
	struct resp *a, *b;

	snprintf(key, sizeof key, "create-%s", uniq());
	snprintf(title, sizeof title, "idem %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"categories\":[\"news\"]}", title);
	a = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(a->status, 201, "%s", a->body);
	cr_assert_not(replayed(a));
	snprintf(before_id, sizeof before_id, "%s", resp_str(a, "id"));
	char *before = db_changes();
	b = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(b->status, 201, "%s", b->body);
	cr_assert(replayed(b), "%s", b->headers);
	cr_assert_str_eq(resp_str(b, "id"), before_id);
	same_header(a, b, "Location");
	same_header(a, b, "ETag");
	cr_assert_str_eq(a->body, b->body);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(episodes_titled(title), 1);
	cr_assert_eq(events_of(before_id), 1);
	/* and one activity row, once delivered */
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1",
	    before_id, 1), 1);
	resp_free(a);
	resp_free(b);
}

Test(idempotency, another_request_under_the_key_is_422)
{
	char key[64], body[128], other[128];
	struct resp *r;

	snprintf(key, sizeof key, "other-%s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"first %s\"}", uniq());
	snprintf(other, sizeof other, "{\"title\":\"second %s\"}", uniq());
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	char *before = db_changes();
	long jobs = db_long("SELECT count(*) FROM jobs", NULL);
	/* another body */
	r = post_key("/episodes", tok_editor(), key, other);
	assert_problem(r, 422, "unprocessable");
	resp_free(r);
	/* another path: the same key may not create a job either */
	r = post_key("/jobs", tok_editor(), key, "{\"type\":\"noop\"}");
	assert_problem(r, 422, "unprocessable");
	resp_free(r);
	assert_unchanged(before);
	free(before);
	cr_assert_eq(db_long("SELECT count(*) FROM jobs", NULL), jobs);
}

Test(idempotency, keys_belong_to_their_user)
{
	char key[64], body[192], title[128];
	struct resp *a, *b;
	char *other = token_for("ivy", "editor");

	snprintf(key, sizeof key, "shared-%s", uniq());
	snprintf(title, sizeof title, "per user %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	a = post_key("/episodes", tok_editor(), key, body);
	b = post_key("/episodes", other, key, body);
	cr_assert_eq(a->status, 201, "%s", a->body);
	cr_assert_eq(b->status, 201, "%s", b->body);
	cr_assert_not(replayed(b));
	cr_assert_str_neq(resp_str(a, "id"), resp_str(b, "id"));
	cr_assert_eq(episodes_titled(title), 2);
	resp_free(a);
	resp_free(b);
	free(other);
}

Test(idempotency, refused_requests_are_not_remembered)
{
	char key[64], body[192], title[128], ep[37];
	struct resp *r;

	snprintf(key, sizeof key, "refused-%s", uniq());
	/* a validation error (before the look-up) */
	r = post_key("/episodes", tok_editor(), key, "{\"title\":\"\"}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
	/* a viewer may not create: 403 */
	r = post_key("/episodes", tok_viewer(), key, "{\"title\":\"x\"}");
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	/* refused after the look-up: a job on an episode that does not exist */
	r = post_key("/jobs", tok_editor(), key,
	    "{\"type\":\"noop\",\"episode_id\":\"00000000-0000-4000-8000-000000000000\"}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
	/* a conflict: series, season and episode taken */
	snprintf(title, sizeof title, "refused %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\",\"series\":\"%s\",\"season_number\":1,"
	    "\"episode_number\":1}", title, uniq());
	episode_create(tok_editor(), body, ep);
	r = post_key("/episodes", tok_editor(), key, body);
	assert_problem(r, 409, "conflict");
	resp_free(r);
	/* the key is still free, at once: the fixed request runs */
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_not(replayed(r));
	resp_free(r);
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(replayed(r));
	resp_free(r);
	cr_assert_eq(episodes_titled(title), 2);  /* the conflicting one and this one */
	cr_assert_eq(db_long("SELECT count(*) FROM idempotency_keys WHERE idem_key = $1", key), 1);
}

Test(idempotency, a_request_in_flight_is_409)
{
	char key[64], body[192], title[128], sql[256];
	const char *p[1];
	PGconn *db = PQconnectdb(getenv("ECCR_TEST_CONNINFO"));
	PGresult *res;
	struct resp *r;
	char ra[16];

	cr_assert_eq(PQstatus(db), CONNECTION_OK);
	snprintf(key, sizeof key, "flight-%s", uniq());
	snprintf(title, sizeof title, "flight %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	/* Hold the key's lock as a request in flight would. */
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(eccr_idempotency_lock_id('eddie', $1))");
	p[0] = key;
	res = PQexecParams(db, sql, 1, NULL, p, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
	PQclear(res);
	r = post_key("/episodes", tok_editor(), key, body);
	assert_problem(r, 409, "conflict");
	cr_assert_not_null(resp_header(r, "Retry-After", ra, sizeof ra));
	cr_assert_str_eq(ra, "1");
	resp_free(r);
	cr_assert_eq(episodes_titled(title), 0);
	/* The request in flight ends: the key is free at once. */
	res = PQexecParams(db, "SELECT pg_advisory_unlock(eccr_idempotency_lock_id('eddie', $1))",
	    1, NULL, p, NULL, NULL, 0);
	cr_assert_str_eq(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	PQfinish(db);
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
}

/* ------------------------------------------------------------ concurrency */

#define RACERS 8

struct racer {
	pthread_barrier_t *start;
	const char *token, *key, *body;
	long status;
	bool replayed;
	char id[37];
};

static void *race(void *arg)
{
	struct racer *x = arg;
	char h[512];
	struct resp *r;

	pthread_barrier_wait(x->start);
	r = http_try("POST", "/episodes", x->token, NULL, x->body, strlen(x->body),
	    KEYH(h, x->key), NULL);
	x->status = r->status;
	x->replayed = replayed(r);
	snprintf(x->id, sizeof x->id, "%s", resp_str(r, "id"));
	resp_free(r);
	return NULL;
}

Test(idempotency, concurrent_duplicates_make_one_row, .timeout = 60)
{
	pthread_barrier_t start;
	pthread_t t[RACERS];
	struct racer x[RACERS];
	char key[64], body[192], title[128], first[37] = "";
	int originals = 0;

	snprintf(key, sizeof key, "race-%s", uniq());
	snprintf(title, sizeof title, "race %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	(void)tok_editor();  /* minted once, before the threads share it */
	pthread_barrier_init(&start, NULL, RACERS);
	for (int i = 0; i < RACERS; i++) {
		x[i] = (struct racer){ .start = &start, .token = tok_editor(), .key = key,
		    .body = body };
		cr_assert_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < RACERS; i++) {
		cr_assert(x[i].status == 201 || x[i].status == 409, "racer %d: %ld", i, x[i].status);
		if (x[i].status != 201)
			continue;
		if (!x[i].replayed)
			originals++;
		if (first[0] == '\0')
			snprintf(first, sizeof first, "%s", x[i].id);
		cr_assert_str_eq(x[i].id, first, "two ids for one key");
	}
	cr_assert_eq(originals, 1, "%d requests ran", originals);
	cr_assert_eq(episodes_titled(title), 1);
	cr_assert_eq(events_of(first), 1);
}

/* ------------------------------------------------------------ every POST */

static void create_episode(char id[37])
{
	char body[128];

	snprintf(body, sizeof body, "{\"title\":\"idem files %s\"}", uniq());
	episode_create(tok_editor(), body, id);
}

/* The same POST twice under one key: the second a replay of the first. */
static void twice(const char *path, const char *key, const char *json, long want,
    struct resp **a, struct resp **b)
{
	*a = post_key(path, tok_editor(), key, json);
	cr_assert_eq((*a)->status, want, "%s: %s", path, (*a)->body);
	cr_assert_not(replayed(*a));
	*b = post_key(path, tok_editor(), key, json);
	cr_assert_eq((*b)->status, want, "%s: %s", path, (*b)->body);
	cr_assert(replayed(*b), "%s: not replayed", path);
	cr_assert_str_eq((*a)->body, (*b)->body);
}

Test(idempotency, jobs_create_retry_and_cancel_replay)
{
	char key[80], path[128], id[37];
	struct resp *a, *b;

	snprintf(key, sizeof key, "job-%s", uniq());
	twice("/jobs", key, "{\"type\":\"noop\",\"run_at\":\"2099-01-01T00:00:00Z\"}", 201, &a, &b);
	same_header(a, b, "Location");
	snprintf(id, sizeof id, "%s", resp_str(a, "id"));
	cr_assert_eq(db_long("SELECT count(*) FROM jobs WHERE id = $1::uuid", id), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_created'", id), 1);
	resp_free(a);
	resp_free(b);

	/* cancel a queued job: done once; a plain second cancel would be 409 */
	snprintf(path, sizeof path, "/jobs/%s/cancel", id);
	snprintf(key, sizeof key, "cancel-%s", uniq());
	twice(path, key, NULL, 200, &a, &b);
	cr_assert_str_eq(resp_str(b, "status"), "cancelled");
	resp_free(a);
	resp_free(b);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_cancelled'", id), 1);

	/* retry it: the replay does not queue it a second time */
	snprintf(path, sizeof path, "/jobs/%s/retry", id);
	snprintf(key, sizeof key, "retry-%s", uniq());
	twice(path, key, NULL, 200, &a, &b);
	cr_assert_str_eq(resp_str(b, "status"), "queued");
	resp_free(a);
	resp_free(b);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1"
	    " AND type = 'job_retried'", id), 1);
	/* leave nothing for the worker */
	snprintf(path, sizeof path, "/jobs/%s/cancel", id);
	resp_free(http_json("POST", path, tok_editor(), NULL));
}

Test(idempotency, direct_upload_replays)
{
	char ep[37], key[64], path[128], body[160], id[37];
	struct resp *a, *b;

	create_episode(ep);
	snprintf(path, sizeof path, "/episodes/%s/files/uploads", ep);
	snprintf(key, sizeof key, "direct-%s", uniq());
	snprintf(body, sizeof body, "{\"name\":\"take.wav\",\"content_type\":\"audio/wav\","
	    "\"size_bytes\":1234}");
	twice(path, key, body, 201, &a, &b);
	same_header(a, b, "Location");
	cr_assert_not_null(strstr(b->body, "\"upload_url\""), "%s", b->body);
	json_object *file;
	cr_assert(json_object_object_get_ex(a->json, "file", &file));
	snprintf(id, sizeof id, "%s", json_object_get_string(json_object_object_get(file, "id")));
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE episode_id = $1::uuid", ep), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE id = $1::uuid AND status = 'pending'",
	    id), 1);
	resp_free(a);
	resp_free(b);
}

static long stored_objects(const char *episode)
{
	char cmd[1024], out[64] = "";
	FILE *f;

	snprintf(cmd, sizeof cmd, "find '%s/files/files/%s' -type f 2>/dev/null | wc -l",
	    getenv("ECCR_TEST_STACK_DIR"), episode);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(out, sizeof out, f));
	pclose(f);
	return atol(out);
}

Test(idempotency, raw_and_multipart_uploads_replay_without_a_second_object)
{
	char ep[37], key[64], path[160], h[128], bytes[4096];
	struct resp *a, *b;

	create_episode(ep);
	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (char)(i * 7 + 3);
	snprintf(path, sizeof path, "/episodes/%s/files?name=take1.bin", ep);
	snprintf(key, sizeof key, "raw-%s", uniq());
	a = http_headers("POST", path, tok_editor(), "application/octet-stream", bytes,
	    sizeof bytes, KEYH(h, key), NULL);
	cr_assert_eq(a->status, 201, "%s", a->body);
	b = http_headers("POST", path, tok_editor(), "application/octet-stream", bytes,
	    sizeof bytes, KEYH(h, key), NULL);
	cr_assert_eq(b->status, 201, "%s", b->body);
	cr_assert(replayed(b));
	cr_assert_str_eq(a->body, b->body);
	same_header(a, b, "Location");
	resp_free(a);
	resp_free(b);
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE episode_id = $1::uuid", ep), 1);
	cr_assert_eq(stored_objects(ep), 1);
	/* other bytes under the same key: 422, nothing stored */
	bytes[0] ^= 1;
	b = http_headers("POST", path, tok_editor(), "application/octet-stream", bytes,
	    sizeof bytes, KEYH(h, key), NULL);
	assert_problem(b, 422, "unprocessable");
	resp_free(b);
	cr_assert_eq(stored_objects(ep), 1);

	/* multipart: curl picks a new boundary for each try, the file is the same */
	char form[8192], ct[128];
	int n = snprintf(form, sizeof form, "--b1\r\nContent-Disposition: form-data; name=\"file\";"
	    " filename=\"take2.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
	memcpy(form + n, bytes, 1000);
	n += 1000;
	n += snprintf(form + n, sizeof form - (size_t)n, "\r\n--b1--\r\n");
	snprintf(path, sizeof path, "/episodes/%s/files", ep);
	snprintf(key, sizeof key, "form-%s", uniq());
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=b1");
	a = http_headers("POST", path, tok_editor(), ct, form, (size_t)n, KEYH(h, key), NULL);
	cr_assert_eq(a->status, 201, "%s", a->body);
	for (int i = 0; i < n; i++)   /* the same form with another boundary */
		if (memcmp(form + i, "--b1", 4) == 0)
			form[i + 3] = '2';
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=b2");
	b = http_headers("POST", path, tok_editor(), ct, form, (size_t)n, KEYH(h, key), NULL);
	cr_assert_eq(b->status, 201, "%s", b->body);
	cr_assert(replayed(b));
	cr_assert_str_eq(a->body, b->body);
	resp_free(a);
	resp_free(b);
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE episode_id = $1::uuid", ep), 2);
	cr_assert_eq(stored_objects(ep), 2);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE episode_id = $1::uuid"
	    " AND type = 'file_uploaded'", ep), 2);
}

/* ------------------------------------------------------------ expiry, bad keys */

Test(idempotency, a_key_past_its_ttl_is_forgotten, .timeout = 60)
{
	char key[64], body[192], title[128];
	struct resp *r;

	cr_assert_eq(test_config()->server.idempotency_ttl_s, 10, "run.sh sets a 10 s TTL");
	snprintf(key, sizeof key, "ttl-%s", uniq());
	snprintf(title, sizeof title, "ttl %s", uniq());
	snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201);
	resp_free(r);
	/* Replayed while it lives... */
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert(replayed(r));
	resp_free(r);
	/* ...and eccr-worker removes it once the TTL has passed. */
	cr_assert_eq(db_wait_for("SELECT count(*) FROM idempotency_keys WHERE idem_key = $1",
	    key, 0, 30), 0, "the worker did not remove the expired key");
	cr_assert_eq(episodes_titled(title), 1);
	/* A new request under it runs again. */
	r = post_key("/episodes", tok_editor(), key, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_not(replayed(r));
	resp_free(r);
	cr_assert_eq(episodes_titled(title), 2);
}

Test(idempotency, bad_keys_are_400_and_change_nothing)
{
	char long_key[300], h[400];
	const char *bad[] = { "Idempotency-Key: a\tb", "Idempotency-Key: ключ",
	    "Idempotency-Key: a b", NULL };
	char *before = db_changes();
	struct resp *r;

	memset(long_key, 'k', 256);
	long_key[256] = '\0';
	snprintf(h, sizeof h, "Idempotency-Key: %s", long_key);
	r = http_headers("POST", "/episodes", tok_editor(), NULL, "{\"title\":\"bad key\"}", 19,
	    h, NULL);
	assert_problem(r, 400, "bad_request");
	cr_assert_not_null(strstr(resp_str(r, "detail"), "Idempotency-Key"), "%s", r->body);
	resp_free(r);
	for (int i = 0; bad[i] != NULL; i++) {
		r = http_headers("POST", "/episodes", tok_editor(), NULL, "{\"title\":\"bad key\"}",
		    19, bad[i], NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	/* (An empty value is 400 too where it reaches eccr-fcgi, but lighttpd
	 * drops empty headers: behind it, it is a request without a key.) */
	/* 255 is the longest that is taken */
	long_key[255] = '\0';
	memcpy(long_key, uniq(), strlen(uniq()));
	snprintf(h, sizeof h, "Idempotency-Key: %s", long_key);
	r = post_key("/jobs", tok_editor(), long_key,
	    "{\"type\":\"noop\",\"run_at\":\"2099-01-01T00:00:00Z\"}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	assert_unchanged(before);
	free(before);
}

/* ------------------------------------------------------------ SIGKILL */

#define CLIENTS 8
#define PER_CLIENT 150

struct client {
	const char *tag, *token;
	int n;
	long retries;
	bool stuck;
};

/* Create PER_CLIENT episodes, each under its own key, trying again with
 * the same key and body on a 5xx, a 409 or a broken connection. */
static void *client_run(void *arg)
{
	struct client *x = arg;
	char key[96], body[160], h[160];

	for (int i = 0; i < PER_CLIENT; i++) {
		int tries;

		snprintf(key, sizeof key, "%s-%d-%d", x->tag, x->n, i);
		snprintf(body, sizeof body, "{\"title\":\"%s\"}", key);
		for (tries = 0; tries < 600; tries++) {
			struct resp *r = http_try("POST", "/episodes", x->token, NULL, body,
			    strlen(body), KEYH(h, key), NULL);
			long st = r->status;

			resp_free(r);
			if (st == 201)
				break;
			if (st != 0 && st < 500 && st != 409) {
				x->stuck = true;  /* a 4xx the client could not fix */
				return NULL;
			}
			x->retries++;
			usleep(50000);
		}
		if (tries == 600) {
			x->stuck = true;
			return NULL;
		}
	}
	return NULL;
}

Test(idempotency, clients_retrying_through_sigkills_make_each_row_once, .timeout = 300)
{
	pthread_t t[CLIENTS];
	struct client x[CLIENTS];
	char tag[64];
	long retries = 0;
	pid_t killer;

	snprintf(tag, sizeof tag, "idkill-%s", uniq());
	(void)tok_editor();
	resp_free(http_root("GET", "/health", NULL));  /* libcurl's global set-up, once */
	killer = start_killer(400);
	for (int i = 0; i < CLIENTS; i++) {
		x[i] = (struct client){ .tag = tag, .token = tok_editor(), .n = i };
		cr_assert_eq(pthread_create(&t[i], NULL, client_run, &x[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		retries += x[i].retries;
	}
	stop_killer(killer);
	for (int i = 0; i < CLIENTS; i++)
		cr_assert_not(x[i].stuck, "client %d gave up", i);
	cr_assert_gt(retries, 0, "no request ever met a killed backend");
	/* One episode per key, each with one event and, once delivered, one
	 * activity row. */
	cr_assert_eq(db_long("SELECT count(*) FROM episodes WHERE title LIKE $1 || '-%'", tag),
	    CLIENTS * PER_CLIENT);
	cr_assert_eq(db_long("SELECT count(DISTINCT title) FROM episodes WHERE title LIKE $1 || '-%'",
	    tag), CLIENTS * PER_CLIENT);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE type = 'episode_created'"
	    " AND data->>'title' LIKE $1 || '-%'", tag), CLIENTS * PER_CLIENT);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM activity_logs a JOIN events e"
	    " ON e.id = a.event_id WHERE e.type = 'episode_created'"
	    " AND e.data->>'title' LIKE $1 || '-%'", tag, CLIENTS * PER_CLIENT, 60),
	    CLIENTS * PER_CLIENT);
	cr_log_info("%ld retries; %ld answers kept", retries,
	    db_long("SELECT count(*) FROM idempotency_keys WHERE idem_key LIKE $1 || '-%'", tag));
}
