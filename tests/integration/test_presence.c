/* Integration tests: presence.  The harness runs two memcached servers and
 * loads presence-memcache with servers = both, ttl_s = 2; sink-jsonl
 * records every event, transient ones included, in events.jsonl. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "client.h"

#define TTL_MS 2000
#define CROWD 50

static const char *stack_path(const char *name)
{
	static char path[1024];
	const char *dir = getenv("ECCR_TEST_STACK_DIR");

	if (dir == NULL)
		cr_skip_test("ECCR_TEST_STACK_DIR is not set");
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void create(char id[37])
{
	struct resp *r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"watched\"}");

	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

/* A user of this test only, so that tests never see each other's viewers. */
static const char *user(const char *who)
{
	static char names[8][64];
	static int next;
	char *n = names[next++ % 8];

	snprintf(n, 64, "%s-%s", who, uniq());
	return n;
}

static long call(const char *method, const char *type, const char *id, const char *tail,
    const char *token)
{
	char path[160];
	struct resp *r;
	long status;

	snprintf(path, sizeof path, "/presence/%s/%s%s", type, id, tail);
	r = http_json(method, path, token, NULL);
	status = r->status;
	if (status >= 400)
		assert_problem(r, status, status == 503 ? "unavailable" : resp_str(r, "code"));
	resp_free(r);
	return status;
}

static long heartbeat(const char *id, const char *token)
{
	return call("POST", "episode", id, "/heartbeat", token);
}

/* The viewers array of r (GET /presence or GET /episodes), owned by r. */
static json_object *viewers_of(const struct resp *r)
{
	json_object *v;

	cr_assert_not_null(r->json, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "viewers", &v), "%s", r->body);
	cr_assert(json_object_is_type(v, json_type_array), "%s", r->body);
	return v;
}

/* The viewer entry of user_id in arr, or NULL. */
static json_object *viewer(json_object *arr, const char *user_id)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i), *u;

		if (json_object_object_get_ex(e, "user_id", &u) &&
		    strcmp(json_object_get_string(u), user_id) == 0)
			return e;
	}
	return NULL;
}

static struct resp *list(const char *id)
{
	char path[160];
	struct resp *r;

	snprintf(path, sizeof path, "/presence/episode/%s", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	return r;
}

static struct resp *episode_get(const char *id, const char *token)
{
	char path[1024];

	snprintf(path, sizeof path, "/episodes/%s", id);
	return http_json("GET", path, token, NULL);
}

static const char *member(json_object *o, const char *name)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, name, &v), "no %s in %s", name,
	    json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* Lines of events.jsonl holding every one of the NULL-terminated needles. */
static long event_lines(const char *first, ...)
{
	char line[65536];
	FILE *f = fopen(stack_path("events.jsonl"), "r");
	long n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		va_list ap;
		const char *s;
		int all = 1;

		va_start(ap, first);
		for (s = first; s != NULL && all; s = va_arg(ap, const char *))
			all = strstr(line, s) != NULL;
		va_end(ap);
		n += all;
	}
	fclose(f);
	return n;
}

/* Wait (5 s at most) until events.jsonl has want lines of this kind. */
#define wait_events(want, ...) ({ \
		long got_ = 0; \
		for (int i_ = 0; i_ < 50 && (got_ = event_lines(__VA_ARGS__, NULL)) < (want); i_++) \
			usleep(100000); \
		got_; })

static void json_needle(char *out, size_t n, const char *key, const char *value)
{
	snprintf(out, n, "\"%s\":\"%s\"", key, value);
}

/* ------------------------------------------------------------ presence */

Test(presence, episode_read_marks_the_reader_and_the_api_lists_viewers)
{
	char id[37];
	const char *alice = user("alice"), *bob = user("bob");
	char *ta = token_for(alice, "viewer"), *tb = token_for(bob, "editor");
	struct resp *r;
	json_object *v, *e;
	char since[32];

	create(id);
	r = episode_get(id, ta);
	cr_assert_eq(r->status, 200, "%s", r->body);
	v = viewers_of(r);
	cr_assert_eq(json_object_array_length(v), 1, "%s", r->body);
	cr_assert_not_null(e = viewer(v, alice), "%s", r->body);
	cr_assert_str_eq(member(e, "name"), alice);     /* the token's name claim */
	snprintf(since, sizeof since, "%s", member(e, "since"));
	cr_assert_eq(strlen(since), 24, "%s", since);
	cr_assert_eq(since[10], 'T');
	cr_assert_eq(since[23], 'Z');
	cr_assert_str_eq(member(e, "last_seen"), since);
	resp_free(r);

	/* Reading the list does not make the reader a viewer. */
	r = list(id);
	v = viewers_of(r);
	cr_assert_eq(json_object_array_length(v), 1, "%s", r->body);
	cr_assert_not_null(viewer(v, alice));
	cr_assert_null(viewer(v, bob));
	resp_free(r);

	cr_assert_eq(heartbeat(id, tb), 204);
	r = list(id);
	v = viewers_of(r);
	cr_assert_eq(json_object_array_length(v), 2, "%s", r->body);
	cr_assert_not_null(viewer(v, bob), "%s", r->body);
	resp_free(r);

	/* A second read keeps alice's "since" and moves her last_seen on
	 * (once a tenth of the TTL has passed: more often is not written). */
	usleep(TTL_MS * 1000 / 10 + 100000);
	r = episode_get(id, ta);
	e = viewer(viewers_of(r), alice);
	cr_assert_not_null(e, "%s", r->body);
	cr_assert_str_eq(member(e, "since"), since);
	cr_assert_str_gt(member(e, "last_seen"), since);
	resp_free(r);
	free(ta);
	free(tb);
}

Test(presence, viewers_expire_after_the_ttl_and_the_expiry_is_announced, .timeout = 30)
{
	char id[37], uid[128], eid[128];
	const char *carol = user("carol");
	char *tc = token_for(carol, "viewer");
	struct resp *r;

	create(id);
	cr_assert_eq(heartbeat(id, tc), 204);
	r = list(id);
	cr_assert_not_null(viewer(viewers_of(r), carol));
	resp_free(r);

	/* Within the TTL a heartbeat keeps her; after it she is gone. */
	usleep(TTL_MS * 1000 / 2);
	cr_assert_eq(heartbeat(id, tc), 204);
	usleep(TTL_MS * 1000 / 2 + 300000);
	r = list(id);
	cr_assert_not_null(viewer(viewers_of(r), carol), "gone before the TTL: %s", r->body);
	resp_free(r);
	usleep(TTL_MS * 1000 + 500000);
	r = list(id);
	cr_assert_eq(json_object_array_length(viewers_of(r)), 0, "%s", r->body);
	resp_free(r);
	r = episode_get(id, tok_viewer());
	cr_assert_null(viewer(viewers_of(r), carol), "%s", r->body);
	resp_free(r);

	json_needle(uid, sizeof uid, "user_id", carol);
	json_needle(eid, sizeof eid, "episode_id", id);
	cr_assert_eq(wait_events(1, "\"type\":\"presence_left\"", uid, eid, "\"reason\":\"expired\"",
	    "\"actor\":{\"id\":\"system\"}"), 1, "one presence_left for the expiry");
	cr_assert_eq(event_lines("\"type\":\"presence_joined\"", uid, NULL), 1);
	free(tc);
}

/* A job of episode ep that will not run while the test lasts. */
static void create_job(const char *ep, char id[37])
{
	char body[160];
	struct resp *r;

	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\","
	    "\"run_at\":\"2099-01-01T00:00:00Z\"}", ep);
	r = http_json("POST", "/jobs", tok_editor(), body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

/* Nobody touches the episode after a viewer's only heartbeat: eccr-worker's
 * sweep (sweep_s = 1 in the harness) still announces the expiry, exactly
 * once, within TTL + 2 sweeps and some slack; so it does for a job, with
 * the job's episode as episode_id; a viewer who keeps heartbeating another
 * episode meanwhile is not reported. */
Test(presence, an_expiry_nobody_reads_is_announced_by_the_sweep, .timeout = 40)
{
	char gone[37], kept[37], job[37], uid[128], mid[128], nid[128], eid[128], rid[160];
	const char *leo = user("leo"), *mia = user("mia"), *nina = user("nina");
	char *tl = token_for(leo, "viewer"), *tm = token_for(mia, "viewer");
	char *tn = token_for(nina, "viewer");
	double t0, last_beat = 0, found_at = -1;
	long n = 0;

	create(gone);
	create(kept);
	create_job(gone, job);
	cr_assert_eq(heartbeat(kept, tm), 204);
	cr_assert_eq(call("POST", "job", job, "/heartbeat", tn), 204);
	cr_assert_eq(heartbeat(gone, tl), 204);
	t0 = now_ms();
	json_needle(uid, sizeof uid, "user_id", leo);
	json_needle(mid, sizeof mid, "user_id", mia);
	json_needle(eid, sizeof eid, "episode_id", gone);
	snprintf(rid, sizeof rid, "\"resource\":{\"type\":\"episode\",\"id\":\"%s\"}", gone);
	/* Poll for 10 s, then watch 3 s more that it stays one; mia beats
	 * every 400 ms throughout (well within the TTL). */
	while (now_ms() - t0 < 13000) {
		if (now_ms() - last_beat >= 400) {
			cr_assert_eq(heartbeat(kept, tm), 204);
			last_beat = now_ms();
		}
		n = event_lines("\"type\":\"presence_left\"", uid, NULL);
		if (n > 0 && found_at < 0)
			found_at = now_ms() - t0;
		if (found_at < 0 && now_ms() - t0 > 10000)
			break;
		usleep(100000);
	}
	cr_assert_geq(found_at, 0, "no presence_left for %s within 10 s of its last heartbeat", leo);
	cr_log_info("expiry announced %.0f ms after the last heartbeat", found_at);
	cr_assert_geq(found_at, TTL_MS, "announced before the TTL ran out (%.0f ms)", found_at);
	cr_assert_eq(n, 1, "%ld presence_left for one expiry", n);
	cr_assert_eq(event_lines("\"type\":\"presence_left\"", uid, eid, rid, "\"reason\":\"expired\"",
	    "\"actor\":{\"id\":\"system\"}", NULL), 1, "the announcement is not the expiry's");
	cr_assert_eq(event_lines("\"type\":\"presence_left\"", mid, NULL), 0,
	    "%s kept heartbeating but was reported gone", mia);
	json_needle(nid, sizeof nid, "user_id", nina);
	snprintf(rid, sizeof rid, "\"resource\":{\"type\":\"job\",\"id\":\"%s\"}", job);
	cr_assert_eq(event_lines("\"type\":\"presence_left\"", nid, NULL), 1,
	    "one presence_left for the job's viewer");
	cr_assert_eq(event_lines("\"type\":\"presence_left\"", nid, rid, eid,
	    "\"reason\":\"expired\"", NULL), 1, "the job's expiry lacks its episode");
	free(tl);
	free(tm);
	free(tn);
}

Test(presence, leave_removes_the_caller_only)
{
	char id[37], uid[128];
	const char *dave = user("dave"), *erin = user("erin");
	char *td = token_for(dave, "viewer"), *te = token_for(erin, "viewer");
	struct resp *r;
	json_object *v;

	create(id);
	cr_assert_eq(heartbeat(id, td), 204);
	cr_assert_eq(heartbeat(id, te), 204);
	cr_assert_eq(call("DELETE", "episode", id, "", td), 204);
	r = list(id);
	v = viewers_of(r);
	cr_assert_eq(json_object_array_length(v), 1, "%s", r->body);
	cr_assert_not_null(viewer(v, erin));
	resp_free(r);
	/* Leaving twice, or without having been there, is fine. */
	cr_assert_eq(call("DELETE", "episode", id, "", td), 204);

	json_needle(uid, sizeof uid, "user_id", dave);
	cr_assert_eq(wait_events(1, "\"type\":\"presence_left\"", uid, "\"reason\":\"leave\""), 1);
	usleep(200000);
	cr_assert_eq(event_lines("\"type\":\"presence_left\"", uid, NULL), 1, "one leave, one event");
	free(td);
	free(te);
}

Test(presence, joined_is_announced_once_per_presence)
{
	char id[37], uid[128], eid[128], rid[128];
	const char *fay = user("fay");
	char *tf = token_for(fay, "viewer");
	struct resp *r;

	create(id);
	r = episode_get(id, tf);            /* the first read joins */
	cr_assert_eq(r->status, 200);
	resp_free(r);
	cr_assert_eq(heartbeat(id, tf), 204);
	r = episode_get(id, tf);
	resp_free(r);

	json_needle(uid, sizeof uid, "user_id", fay);
	json_needle(eid, sizeof eid, "episode_id", id);
	snprintf(rid, sizeof rid, "\"resource\":{\"type\":\"episode\",\"id\":\"%s\"}", id);
	cr_assert_eq(wait_events(1, "\"type\":\"presence_joined\"", uid, eid, rid, "\"name\":\""), 1);
	/* and each read is an episode_viewed, by the reader */
	cr_assert_eq(wait_events(2, "\"type\":\"episode_viewed\"", eid, "\"actor\":{\"id\":\"fay-"), 2);
	usleep(200000);
	cr_assert_eq(event_lines("\"type\":\"presence_joined\"", uid, NULL), 1, "joined twice");
	free(tf);
}

struct crowd_member {
	pthread_barrier_t *start;
	const char *id;
	char *token;
	long status;
};

static void *crowd_heartbeat(void *arg)
{
	struct crowd_member *m = arg;

	pthread_barrier_wait(m->start);
	m->status = heartbeat(m->id, m->token);
	return NULL;
}

Test(presence, fifty_users_heartbeating_at_once_are_all_present, .timeout = 60)
{
	struct crowd_member m[CROWD];
	pthread_t t[CROWD];
	pthread_barrier_t start;
	char id[37], names[CROWD][64];
	struct resp *r;
	json_object *v;
	double t0;

	create(id);
	pthread_barrier_init(&start, NULL, CROWD);
	for (int i = 0; i < CROWD; i++) {
		snprintf(names[i], sizeof names[i], "%s", user("crowd"));
		snprintf(names[i] + strlen(names[i]), 8, "-%d", i);
		m[i] = (struct crowd_member){ .start = &start, .id = id,
			.token = token_for(names[i], "viewer") };
	}
	t0 = now_ms();
	for (int i = 0; i < CROWD; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, crowd_heartbeat, &m[i]), 0);
	for (int i = 0; i < CROWD; i++)
		pthread_join(t[i], NULL);
	r = list(id);
	cr_log_info("%d concurrent heartbeats and the list took %.0f ms", CROWD, now_ms() - t0);
	/* All within the TTL, or the check below would mean nothing. */
	cr_assert_lt(now_ms() - t0, TTL_MS, "too slow to judge: %.0f ms", now_ms() - t0);
	v = viewers_of(r);
	for (int i = 0; i < CROWD; i++) {
		cr_assert_eq(m[i].status, 204, "heartbeat %d: %ld", i, m[i].status);
		cr_assert_not_null(viewer(v, names[i]), "%s lost", names[i]);
	}
	cr_assert_eq(json_object_array_length(v), CROWD);
	resp_free(r);
	for (int i = 0; i < CROWD; i++)
		free(m[i].token);
	pthread_barrier_destroy(&start);
}

Test(presence, viewers_may_read_heartbeat_and_leave)
{
	char id[37];
	struct resp *r;

	create(id);
	cr_assert_eq(heartbeat(id, tok_viewer()), 204);
	r = list(id);
	cr_assert_not_null(viewer(viewers_of(r), "vera"));
	resp_free(r);
	cr_assert_eq(call("DELETE", "episode", id, "", tok_viewer()), 204);
}

Test(presence, bad_requests)
{
	char id[37], path[160];
	const char *nil = "5e3c0000-0000-4000-8000-000000000000";
	struct resp *r;

	create(id);
	cr_assert_eq(call("GET", "show", id, "", tok_viewer()), 400);
	cr_assert_eq(call("POST", "Episode", id, "/heartbeat", tok_viewer()), 400);
	cr_assert_eq(call("GET", "episode", "not-a-uuid", "", tok_viewer()), 400);
	cr_assert_eq(call("POST", "episode", "not-a-uuid", "/heartbeat", tok_viewer()), 400);
	cr_assert_eq(call("GET", "episode", nil, "", tok_viewer()), 404);
	cr_assert_eq(call("POST", "episode", nil, "/heartbeat", tok_viewer()), 404);
	cr_assert_eq(call("GET", "file", nil, "", tok_viewer()), 404);
	cr_assert_eq(call("GET", "job", nil, "", tok_viewer()), 404);
	cr_assert_eq(call("GET", "episode", id, "?colour=red", tok_viewer()), 400);

	snprintf(path, sizeof path, "/presence/episode/%s", id);
	r = http_json("GET", path, NULL, NULL);
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_json("PUT", path, tok_viewer(), NULL);
	assert_problem(r, 405, "method_not_allowed");
	resp_free(r);
	snprintf(path, sizeof path, "/presence/episode/%s/heartbeat", id);
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 405, "method_not_allowed");
	resp_free(r);
	/* A heartbeat takes no input: {} is fine, a field is refused by name. */
	r = http_json("POST", path, tok_viewer(), "{\"colour\":\"red\"}");
	assert_problem(r, 400, "validation_failed");
	cr_assert_not_null(strstr(r->body, "colour"), "%s", r->body);
	resp_free(r);
	r = http_json("POST", path, tok_viewer(), "{}");
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
}

/* ------------------------------------------------------------ memcached down */

static void memcached(const char *which)
{
	const char *script = getenv(which);
	char cmd[1200];

	if (script == NULL)
		cr_skip_test("%s is not set: run through tests/integration/run.sh", which);
	snprintf(cmd, sizeof cmd, "%s", script);
	cr_assert_eq(system(cmd), 0, "%s failed", script);
}

static void memcached_back(void)
{
	if (getenv("ECCR_TEST_MEMCACHED_START") != NULL)
		(void)!system(getenv("ECCR_TEST_MEMCACHED_START"));
}

Test(presence_outage, episode_reads_go_on_and_presence_recovers_by_itself,
    .timeout = 60, .fini = memcached_back)
{
	char id[37];
	const char *gina = user("gina");
	char *tg = token_for(gina, "viewer");
	struct resp *r;
	double t0, slowest = 0, took;
	char retry[16];
	int i;

	create(id);
	cr_assert_eq(heartbeat(id, tg), 204);
	memcached("ECCR_TEST_MEMCACHED_STOP");

	/* Episode reads: 200, nobody viewing, and not slowed down. */
	for (i = 0; i < 20; i++) {
		t0 = now_ms();
		r = episode_get(id, tg);
		took = now_ms() - t0;
		slowest = took > slowest ? took : slowest;
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(json_object_array_length(viewers_of(r)), 0, "%s", r->body);
		resp_free(r);
	}
	cr_log_info("episode read with memcached down: slowest of 20 took %.1f ms", slowest);
	cr_assert_lt(slowest, 250.0, "an episode read took %.1f ms with memcached down", slowest);

	/* The presence endpoints: 503 naming the store, with Retry-After. */
	{
		char path[160];

		snprintf(path, sizeof path, "/presence/episode/%s", id);
		r = http_json("GET", path, tg, NULL);
		assert_problem(r, 503, "unavailable");
		cr_assert(strstr(resp_str(r, "detail"), "presence store") != NULL, "%s", r->body);
		cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
		resp_free(r);
	}
	cr_assert_eq(heartbeat(id, tg), 503);
	cr_assert_eq(call("DELETE", "episode", id, "", tg), 503);
	/* /health names what is down, the database being fine. */
	r = http_root("GET", "/health", NULL);
	cr_assert_eq(r->status, 503, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "degraded", "%s", r->body);
	cr_assert_str_eq(resp_str(r, "database"), "ok", "%s", r->body);
	cr_assert_not_null(strstr(r->body, "\"presence-memcache\":\"unavailable\""), "%s", r->body);
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);

	/* Back, without restarting eccr-fcgi: within a few seconds. */
	memcached("ECCR_TEST_MEMCACHED_START");
	for (i = 0; i < 100 && heartbeat(id, tg) != 204; i++)
		usleep(100000);
	cr_assert_lt(i, 100, "presence did not recover within 10 s");
	cr_log_info("presence answered again after %d tries", i + 1);
	r = episode_get(id, tg);
	cr_assert_eq(r->status, 200);
	cr_assert_not_null(viewer(viewers_of(r), gina), "%s", r->body);
	resp_free(r);
	r = list(id);
	cr_assert_not_null(viewer(viewers_of(r), gina), "%s", r->body);
	resp_free(r);
	/* /health too, once every server's breaker lets it be asked again
	 * (retry_s after its last failure, whichever server that was). */
	for (i = 0; i < 100; i++) {
		r = http_root("GET", "/health", NULL);
		if (r->status == 200)
			break;
		cr_assert_not_null(strstr(r->body, "\"presence-memcache\":\"unavailable\""), "%s",
		    r->body);
		resp_free(r);
		usleep(100000);
	}
	cr_assert_lt(i, 100, "/health did not recover within 10 s");
	cr_assert_not_null(strstr(r->body, "\"presence-memcache\":\"ok\""), "%s", r->body);
	cr_log_info("/health answered 200 again after %d tries", i + 1);
	resp_free(r);
	free(tg);
}

/* memcached restarted between two requests: the pooled connections to it
 * are dead, and the next request must still be served (reconnecting), not
 * answered 503 until the breaker's retry interval has passed. */
Test(presence_outage, a_restarted_memcached_serves_the_very_next_requests,
    .timeout = 60, .fini = memcached_back)
{
	char ids[6][37];
	const char *hal = user("hal");
	char *th = token_for(hal, "viewer");
	int i, round;

	for (i = 0; i < 6; i++)
		create(ids[i]);
	/* Every eccr-fcgi thread's handle gets connections to both servers. */
	for (round = 0; round < 4; round++)
		for (i = 0; i < 6; i++)
			cr_assert_eq(heartbeat(ids[i], th), 204);
	memcached("ECCR_TEST_MEMCACHED_STOP");
	memcached("ECCR_TEST_MEMCACHED_START");
	for (round = 0; round < 4; round++)
		for (i = 0; i < 6; i++)
			cr_assert_eq(heartbeat(ids[i], th), 204,
			    "heartbeat %d after the restart was refused", round * 6 + i + 1);
	free(th);
}

/* SIGSTOP or SIGCONT to every memcached of the stack: a hung server, which
 * accepts connections and never answers. */
static void memcached_signal(int sig)
{
	char ports[256], *save = NULL, pidfile[64];
	const char *list = getenv("ECCR_TEST_MEMCACHED_PORTS");

	if (list == NULL)
		cr_skip_test("ECCR_TEST_MEMCACHED_PORTS is not set");
	snprintf(ports, sizeof ports, "%s", list);
	for (char *p = strtok_r(ports, " ", &save); p != NULL; p = strtok_r(NULL, " ", &save)) {
		FILE *f;
		long pid = 0;

		snprintf(pidfile, sizeof pidfile, "memcached-%s.pid", p);
		f = fopen(stack_path(pidfile), "r");
		cr_assert_not_null(f, "%s: %s", pidfile, strerror(errno));
		cr_assert_eq(fscanf(f, "%ld", &pid), 1);
		fclose(f);
		cr_assert_eq(kill((pid_t)pid, sig), 0, "kill %ld: %s", pid, strerror(errno));
	}
}

static void memcached_resume(void)
{
	if (getenv("ECCR_TEST_MEMCACHED_PORTS") != NULL)
		memcached_signal(SIGCONT);
}

Test(presence_outage, a_hung_memcached_delays_at_most_one_read_per_retry_interval,
    .timeout = 60, .fini = memcached_resume)
{
	char id[37];
	const char *hugo = user("hugo");
	char *th = token_for(hugo, "viewer");
	struct resp *r;
	double t0, took, slowest = 0, start;
	int slow = 0, i;

	create(id);
	cr_assert_eq(heartbeat(id, th), 204);
	memcached_signal(SIGSTOP);
	start = now_ms();
	for (i = 0; i < 25; i++) {
		t0 = now_ms();
		r = episode_get(id, th);
		took = now_ms() - t0;
		cr_assert_eq(r->status, 200, "%s", r->body);
		cr_assert_eq(json_object_array_length(viewers_of(r)), 0, "%s", r->body);
		resp_free(r);
		slowest = took > slowest ? took : slowest;
		slow += took > 250;     /* waited for the io timeout (300 ms) */
		usleep(100000);
	}
	/* retry_s = 1: the first read, then one probe a second, wait for the
	 * io timeout (300 ms); the others fail fast. */
	took = (now_ms() - start) / 1000;
	cr_log_info("hung memcached: %d of 25 reads over %.1f s took > 250 ms, slowest %.0f ms",
	    slow, took, slowest);
	cr_assert_leq(slow, (int)took + 2, "%d slow reads in %.1f s", slow, took);
	cr_assert_lt(slowest, 1000.0, "a read took %.0f ms", slowest);

	memcached_signal(SIGCONT);
	for (i = 0; i < 100 && heartbeat(id, th) != 204; i++)
		usleep(100000);
	cr_assert_lt(i, 100, "presence did not recover within 10 s");
	r = episode_get(id, th);
	cr_assert_not_null(viewer(viewers_of(r), hugo), "%s", r->body);
	resp_free(r);
	free(th);
}

/* ------------------------------------------------------------ the keys */

/* The value memcached at port holds for key (malloc'd), or NULL: a
 * "get" over the text protocol. */
static char *mc_get(int port, const char *key)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[65536], cmd[300], *v = NULL, *p;
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "port %d", port);
	snprintf(cmd, sizeof cmd, "get %s\r\n", key);
	cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (got >= 5 && strcmp(buf + got - 5, "END\r\n") == 0)
			break;
	}
	close(fd);
	buf[got] = '\0';
	if (strncmp(buf, "VALUE ", 6) == 0 && (p = strstr(buf, "\r\n")) != NULL) {
		v = strdup(p + 2);
		*strstr(v, "\r\nEND\r\n") = '\0';
	}
	return v;
}

/* Store value at key on memcached at port ("set" over the text protocol). */
static void mc_set(int port, const char *key, const char *value)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char cmd[1024], reply[64] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "port %d", port);
	snprintf(cmd, sizeof cmd, "set %s 0 60 %zu\r\n%s\r\n", key, strlen(value), value);
	cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	n = read(fd, reply, sizeof reply - 1);
	close(fd);
	cr_assert(n > 0 && strncmp(reply, "STORED", 6) == 0, "set: %s", reply);
}

static int memcached_ports(int ports[2])
{
	const char *list = getenv("ECCR_TEST_MEMCACHED_PORTS");

	if (list == NULL)
		cr_skip_test("ECCR_TEST_MEMCACHED_PORTS is not set");
	return sscanf(list, "%d %d", &ports[0], &ports[1]);
}

/* Which of the servers holds the viewers of episode id (-1: none), and the value. */
static int holder(const int ports[2], const char *id, char **value)
{
	char key[128];
	int at = -1;

	snprintf(key, sizeof key, "eccr:presence:episode:%s", id);
	*value = NULL;
	for (int i = 0; i < 2; i++) {
		char *v = mc_get(ports[i], key);

		if (v == NULL)
			continue;
		cr_assert_eq(at, -1, "%s on both servers", key);
		at = i;
		*value = v;
	}
	return at;
}

Test(presence_keys, one_key_per_resource_spread_over_the_servers_and_forgotten_on_delete)
{
	int ports[2], on[2] = { 0, 0 }, at, i;
	char ids[16][37], want[256], *value;
	const char *ivan = user("ivan");
	char *ti = token_for(ivan, "viewer");
	struct resp *r;

	cr_assert_eq(memcached_ports(ports), 2);
	for (i = 0; i < 16; i++) {
		create(ids[i]);
		r = episode_get(ids[i], ti);
		cr_assert_eq(r->status, 200);
		resp_free(r);
		at = holder(ports, ids[i], &value);
		cr_assert_geq(at, 0, "no key for episode %s", ids[i]);
		on[at]++;
		/* [["user_id","name",since_ms,last_seen_ms]] */
		snprintf(want, sizeof want, "[[\"%s\",\"%s\",", ivan, ivan);
		cr_assert_eq(strncmp(value, want, strlen(want)), 0, "%s", value);
		cr_assert_eq(strcmp(value + strlen(value) - 2, "]]"), 0, "%s", value);
		free(value);
	}
	cr_log_info("16 keys: %d on the first server, %d on the second", on[0], on[1]);
	cr_assert(on[0] > 0 && on[1] > 0, "keys are not spread: %d and %d", on[0], on[1]);

	/* Deleting the episode forgets its viewers at once (well before the key's expiry). */
	snprintf(want, sizeof want, "/episodes/%s", ids[0]);
	r = http_json("DELETE", want, tok_admin(), NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	for (i = 0; i < 20 && holder(ports, ids[0], &value) >= 0; i++) {
		free(value);
		usleep(50000);
	}
	cr_assert_lt(i, 20, "the key of a deleted episode is still there after 1 s");
	free(ti);
}

Test(presence_keys, a_damaged_value_is_started_afresh)
{
	int ports[2], at;
	char id[37], key[128], *value;
	const char *jane = user("jane"), *kim = user("kim");
	char *tj = token_for(jane, "viewer"), *tk = token_for(kim, "viewer");
	struct resp *r;
	json_object *v;

	cr_assert_eq(memcached_ports(ports), 2);
	create(id);
	cr_assert_eq(heartbeat(id, tj), 204);
	at = holder(ports, id, &value);
	cr_assert_geq(at, 0);
	free(value);
	snprintf(key, sizeof key, "eccr:presence:episode:%s", id);
	mc_set(ports[at], key, "[[\"x\",\"X\",1,2],{}]");
	cr_assert_eq(heartbeat(id, tk), 204);
	r = list(id);
	v = viewers_of(r);
	cr_assert_eq(json_object_array_length(v), 1, "%s", r->body);
	cr_assert_not_null(viewer(v, kim), "%s", r->body);
	resp_free(r);
	free(tj);
	free(tk);
}

/* ------------------------------------------------------------ one server down */

#define RETRY_MS 1000           /* retry_s = 1 in the harness */
#define POOL_EPISODES_MAX 40

/* memcached-stop or memcached-start (which) of one server only. */
static void memcached_port(const char *which, int port)
{
	const char *script = getenv(which);
	char cmd[1200];

	if (script == NULL)
		cr_skip_test("%s is not set: run through tests/integration/run.sh", which);
	snprintf(cmd, sizeof cmd, "%s %d", script, port);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

/* The key of episode id's viewers (the harness's key_prefix). */
static void episode_key(char key[128], const char *id)
{
	snprintf(key, 128, "eccr:presence:episode:%.36s", id);
}

/* Episodes until at least want of them are homed on each server (by where
 * a heartbeat put their key); home[i] is the index in ports. */
static int spread_episodes(const int ports[2], const char *token, int want,
    char ids[][37], int home[])
{
	int on[2] = { 0, 0 }, n;
	char *value;

	for (n = 0; n < POOL_EPISODES_MAX && (on[0] < want || on[1] < want); n++) {
		create(ids[n]);
		cr_assert_eq(heartbeat(ids[n], token), 204);
		home[n] = holder(ports, ids[n], &value);
		cr_assert_geq(home[n], 0, "no key for episode %s", ids[n]);
		free(value);
		on[home[n]]++;
	}
	cr_assert(on[0] >= want && on[1] >= want, "%d episodes: %d and %d on the servers",
	    n, on[0], on[1]);
	return n;
}

/* Does a heartbeat of token answer 204 and the reader's episode read list
 * user, for every one of the n episodes?  With fail_ok, a failure is
 * answered false; else it fails the test. */
static bool all_present(char ids[][37], int n, const char *token, const char *user_id,
    bool fail_ok, double *slowest)
{
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		long status = heartbeat(ids[i], token);
		struct resp *r = episode_get(ids[i], token);
		bool ok = status == 204 && r->status == 200 &&
		    viewer(viewers_of(r), user_id) != NULL;

		*slowest = now_ms() - t0 > *slowest ? now_ms() - t0 : *slowest;
		if (!ok && !fail_ok)
			cr_assert_fail("episode %s: heartbeat %ld, read %ld %s", ids[i], status,
			    r->status, r->body);
		resp_free(r);
		if (!ok)
			return false;
	}
	return true;
}

static void assert_health(long want)
{
	struct resp *r = http_root("GET", "/health", NULL);

	cr_assert_eq(r->status, want, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "database"), "ok", "%s", r->body);
	cr_assert_not_null(strstr(r->body, want == 200 ? "\"presence-memcache\":\"ok\"" :
	    "\"presence-memcache\":\"unavailable\""), "%s", r->body);
	if (want != 200)
		cr_assert_str_eq(resp_str(r, "status"), "degraded", "%s", r->body);
	resp_free(r);
}

/* Poll (bounded) until every episode is present again for user_id. */
static double wait_all_present(char ids[][37], int n, const char *token, const char *user_id,
    double patience_ms)
{
	double t0 = now_ms(), slowest = 0;

	while (!all_present(ids, n, token, user_id, true, &slowest)) {
		cr_assert_lt(now_ms() - t0, patience_ms, "presence not back within %.0f ms",
		    patience_ms);
		usleep(100000);
	}
	return now_ms() - t0;
}

/* Each key homed on the restarted server (ports[0]) is written there again
 * (once this process's breaker let a probe through: retry_s). */
static void keys_back_home(const int ports[2], char ids[][37], int n, const int home[],
    const char *token)
{
	char key[128], *value;

	for (int i = 0; i < n; i++) {
		double t0 = now_ms();

		if (home[i] != 0)
			continue;
		episode_key(key, ids[i]);
		while ((value = mc_get(ports[0], key)) == NULL && now_ms() - t0 < 5000) {
			cr_assert_eq(heartbeat(ids[i], token), 204);
			usleep(100000);
		}
		cr_assert_not_null(value, "%s did not go back to its server", key);
		free(value);
	}
}

/* /health 200 again within 10 s. */
static void wait_health_ok(void)
{
	for (int i = 0; i < 100; i++) {
		struct resp *r = http_root("GET", "/health", NULL);
		long status = r->status;

		resp_free(r);
		if (status == 200)
			break;
		usleep(100000);
	}
	assert_health(200);
}

/* One memcached of the two killed: the keys homed on it go to the other
 * within its breaker's time, heartbeats, reads and leaves go on, and so
 * does the sweep (its index shards fail over the same way); /health says
 * degraded meanwhile.  Back, the keys go home again and /health is 200. */
Test(presence_outage, one_server_down_its_keys_go_to_the_other_and_come_back,
    .timeout = 120, .fini = memcached_back)
{
	int ports[2], home[POOL_EPISODES_MAX], n, i;
	char ids[POOL_EPISODES_MAX][37], key[128], *value;
	const char *olga = user("olga"), *pat = user("pat");
	char *to = token_for(olga, "viewer"), *tp = token_for(pat, "viewer");
	char uid[128], eid[128];
	double t0, took, slowest = 0;
	struct resp *r;

	cr_assert_eq(memcached_ports(ports), 2);
	n = spread_episodes(ports, to, 3, ids, home);
	memcached_port("ECCR_TEST_MEMCACHED_STOP", ports[0]);

	took = wait_all_present(ids, n, to, olga, RETRY_MS + 2000);
	cr_log_info("one of two servers down: %d episodes present again after %.0f ms", n, took);
	/* ... and stay so over several retry intervals (the dead server's probes). */
	for (t0 = now_ms(); now_ms() - t0 < 2.5 * RETRY_MS; usleep(100000))
		all_present(ids, n, to, olga, false, &slowest);
	cr_log_info("slowest heartbeat and read with one server down: %.0f ms", slowest);
	cr_assert_lt(slowest, 1000.0, "a heartbeat and read took %.0f ms", slowest);
	for (i = 0; i < n; i++) {
		if (home[i] != 0)
			continue;
		episode_key(key, ids[i]);
		cr_assert_not_null(value = mc_get(ports[1], key), "%s is not on the live server", key);
		free(value);
	}
	/* pat's heartbeats, on the episodes homed on the dead server, then
	 * nobody's: the worker's sweep finds them through the index, whose
	 * shards fail over too, and announces each expiry. */
	for (i = 0; i < n; i++)
		if (home[i] == 0)
			cr_assert_eq(heartbeat(ids[i], tp), 204);
	for (i = 0; i < n && home[i] != 0; i++)
		;
	cr_assert_eq(call("DELETE", "episode", ids[i], "", to), 204);
	r = list(ids[i]);
	cr_assert_null(viewer(viewers_of(r), olga), "left, but still listed: %s", r->body);
	resp_free(r);
	assert_health(503);
	json_needle(uid, sizeof uid, "user_id", pat);
	for (i = 0; i < n; i++) {
		if (home[i] != 0)
			continue;
		snprintf(eid, sizeof eid, "\"episode_id\":\"%.36s\"", ids[i]);
		for (t0 = now_ms(); event_lines("\"type\":\"presence_left\"", uid, eid, NULL) == 0;
		    usleep(100000))
			cr_assert_lt(now_ms() - t0, 10000, "no presence_left of %s on %s", pat, ids[i]);
	}
	assert_health(503);

	memcached_port("ECCR_TEST_MEMCACHED_START", ports[0]);
	took = wait_all_present(ids, n, to, olga, 10000);
	cr_log_info("server back: every episode present after %.0f ms", took);
	keys_back_home(ports, ids, n, home, to);
	wait_health_ok();
	free(to);
	free(tp);
}

/* SIGSTOP or SIGCONT to the memcached at port. */
static void memcached_signal_port(int port, int sig)
{
	char pidfile[64];
	long pid = 0;
	FILE *f;

	snprintf(pidfile, sizeof pidfile, "memcached-%d.pid", port);
	f = fopen(stack_path(pidfile), "r");
	cr_assert_not_null(f, "%s: %s", pidfile, strerror(errno));
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	cr_assert_eq(kill((pid_t)pid, sig), 0, "kill %ld: %s", pid, strerror(errno));
}

/* One memcached of the two hung (it accepts connections, never answers):
 * every heartbeat and read still succeeds, through the other; one request
 * per retry_s waits for the probe's io timeout (300 ms), the rest do not. */
Test(presence_outage, a_hung_server_of_the_pool_delays_one_request_per_retry_interval,
    .timeout = 90, .fini = memcached_resume)
{
	int ports[2], home[POOL_EPISODES_MAX], n, slow = 0, rounds = 0;
	char ids[POOL_EPISODES_MAX][37];
	const char *quinn = user("quinn");
	char *tq = token_for(quinn, "viewer");
	double start, t0, took, slowest = 0;

	cr_assert_eq(memcached_ports(ports), 2);
	n = spread_episodes(ports, tq, 2, ids, home);
	memcached_signal_port(ports[0], SIGSTOP);
	for (start = now_ms(); now_ms() - start < 4 * RETRY_MS; rounds++) {
		for (int i = 0; i < n; i++) {
			double one = 0;

			t0 = now_ms();
			all_present(&ids[i], 1, tq, quinn, false, &one);
			took = now_ms() - t0;
			slow += took > 250;
			slowest = took > slowest ? took : slowest;
		}
		usleep(50000);
	}
	took = (now_ms() - start) / 1000;
	cr_log_info("one of two servers hung: %d of %d heartbeats and reads over %.1f s took "
	    "> 250 ms, slowest %.0f ms", slow, rounds * n, took, slowest);
	cr_assert_leq(slow, (int)took + 2, "%d slow in %.1f s", slow, took);
	cr_assert_lt(slowest, 1000.0, "a heartbeat and read took %.0f ms", slowest);
	assert_health(503);

	memcached_signal_port(ports[0], SIGCONT);
	took = wait_all_present(ids, n, tq, quinn, 10000);
	cr_log_info("server answering again: every episode present after %.0f ms", took);
	wait_health_ok();
	free(tq);
}

/* The presence events of one user on one episode, in file order, as a
 * string of 'J' (joined) and 'L' (left). */
static void presence_sequence(const char *uid, const char *eid, char *out, size_t n)
{
	char line[65536];
	FILE *f = fopen(stack_path("events.jsonl"), "r");
	size_t used = 0;

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL && used + 1 < n) {
		if (strstr(line, uid) == NULL || strstr(line, eid) == NULL)
			continue;
		if (strstr(line, "\"type\":\"presence_joined\"") != NULL)
			out[used++] = 'J';
		else if (strstr(line, "\"type\":\"presence_left\"") != NULL)
			out[used++] = 'L';
	}
	out[used] = '\0';
	fclose(f);
}

Test(presence, a_viewer_back_after_expiring_ends_present, .timeout = 30)
{
	char id[37], uid[128], eid[128], seq[16];
	const char *liz = user("liz");
	char *tl = token_for(liz, "viewer");

	create(id);
	cr_assert_eq(heartbeat(id, tl), 204);
	usleep(TTL_MS * 1000 + 500000);
	/* Expired, and back in one call: whoever reports the expiry, her
	 * departure comes before her return, so a client applying the
	 * events in order shows her present. */
	cr_assert_eq(heartbeat(id, tl), 204);
	json_needle(uid, sizeof uid, "user_id", liz);
	json_needle(eid, sizeof eid, "episode_id", id);
	for (int i = 0; i < 50; i++) {
		presence_sequence(uid, eid, seq, sizeof seq);
		if (strlen(seq) >= 3)
			break;
		usleep(100000);
	}
	cr_assert_str_eq(seq, "JLJ", "presence events of the returning viewer: %s", seq);
	free(tl);
}
