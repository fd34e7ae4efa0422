/* Integration tests: the event pipeline.  The harness loads activity-pg,
 * sink-jsonl, sink-flaky (RETRY twice per episode_created, then OK) and
 * sink-dead (FAIL on episode_deleted while a flag file exists) into
 * eccr-fcgi, and runs one eccr-worker; tests start more processes when
 * they need them. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

static const char *stack_path(const char *name)
{
	static char path[4][1024];
	static int next;
	const char *dir = getenv("ECCR_TEST_STACK_DIR");
	char *p = path[next++ % 4];

	if (dir == NULL)
		cr_skip_test("ECCR_TEST_STACK_DIR is not set");
	snprintf(p, 1024, "%s/%s", dir, name);
	return p;
}

/* Lines of a file containing needle. */
static long count_lines(const char *file, const char *needle)
{
	char line[65536];
	FILE *f = fopen(file, "r");
	long n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static long wait_lines(const char *file, const char *needle, long want)
{
	long v = 0;
	int i;

	for (i = 0; i < 200; i++) {
		if ((v = count_lines(file, needle)) >= want)
			return v;
		usleep(100000);
	}
	return v;
}

/* Run a shell command; its stdout (first 64 KiB) into out; exit status. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	cr_assert_not_null(p);
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void event_id_of(const char *episode, const char *type, char out[24])
{
	char sql[200];

	snprintf(sql, sizeof sql, "SELECT id FROM events WHERE resource_id = $1 AND type = '%s'", type);
	snprintf(out, 24, "%ld", db_long(sql, episode));
	cr_assert_gt(atol(out), 0);
}

/* ------------------------------------------------------------ sinks */

Test(sinks, every_change_gives_one_activity_row_and_one_jsonl_line)
{
	char id[37], path[64], ev[24], needle[64];
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"audited\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("PATCH", path, tok_editor(), "{\"title\":\"audited twice\"}");
	cr_assert_eq(r->status, 200);
	resp_free(r);
	r = http_json("PATCH", path, tok_editor(), "{\"title\":\"audited twice\"}");  /* no-op */
	resp_free(r);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);

	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", id, 3), 3);
	cr_assert_eq(db_long("SELECT count(*) FROM activity_logs WHERE resource_id = $1 AND "
	    "((action = 'CREATE' AND user_id = 'eddie') OR (action = 'UPDATE' AND user_id = 'eddie') OR "
	    "(action = 'DELETE' AND user_id = 'ada')) AND episode_id::text = $1", id), 3);
	event_id_of(id, "episode_updated", ev);
	snprintf(needle, sizeof needle, "\"id\" : \"%s\"", ev);
	cr_assert_eq(wait_lines(stack_path("events.jsonl"), needle, 1), 1);
	usleep(300000);
	cr_assert_eq(count_lines(stack_path("events.jsonl"), needle), 1, "delivered twice");
	cr_assert_eq(count_lines(stack_path("events.jsonl"), id), 3);
}

Test(sinks, retry_is_redelivered_with_backoff_then_succeeds)
{
	char id[37], ev[24], needle[64];

	episode_create(tok_editor(), "{\"title\":\"flaky\"}", id);
	event_id_of(id, "episode_created", ev);
	/* The dispatcher's attempt 1 and the worker's attempt 2 answer RETRY;
	 * attempt 3 succeeds. */
	cr_assert_eq(db_wait("SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'sink-flaky' AND status = 'delivered' AND attempts = 3", ev, 1), 1);
	snprintf(needle, sizeof needle, "\"id\" : \"%s\"", ev);
	cr_assert_eq(count_lines(stack_path("flaky.jsonl"), needle), 1);
	/* Backoff: base 200 ms, so the two retries took at least ~300 ms. */
	cr_assert_eq(db_long("SELECT count(*) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	    " WHERE d.event_id = $1::bigint AND d.sink = 'sink-flaky'"
	    " AND d.updated_at - e.created_at >= interval '250 milliseconds'", ev), 1);
}

Test(sinks, failing_sink_goes_dead_and_replay_delivers)
{
	char id[37], path[64], ev[24], needle[64], cmd[2048], out[65536];
	const char *flag = stack_path("sink-dead.fail");
	struct resp *r;

	episode_create(tok_editor(), "{\"title\":\"doomed delivery\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	event_id_of(id, "episode_deleted", ev);
	cr_assert_eq(db_wait("SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'sink-dead' AND status = 'dead'", ev, 1), 1);

	snprintf(cmd, sizeof cmd, "%s -c %s deliveries --status dead --limit 1000",
	    getenv("ECCR_TEST_ECCRCTL"), getenv("ECCR_TEST_CONFIG"));
	cr_assert_eq(run(cmd, out, sizeof out), 0);
	snprintf(needle, sizeof needle, "\n%-10s episode_deleted", ev);
	cr_assert_not_null(strstr(out, needle), "%s not listed:\n%s", ev, out);

	/* The sink is healed; replay hands the delivery back to the worker. */
	unlink(flag);
	snprintf(cmd, sizeof cmd, "%s -c %s deliveries replay %s",
	    getenv("ECCR_TEST_ECCRCTL"), getenv("ECCR_TEST_CONFIG"), ev);
	cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_eq(db_wait("SELECT count(*) FROM event_deliveries WHERE event_id = $1::bigint"
	    " AND sink = 'sink-dead' AND status = 'delivered'", ev, 1), 1);
	snprintf(needle, sizeof needle, "\"id\" : \"%s\"", ev);
	cr_assert_eq(count_lines(stack_path("dead.jsonl"), needle), 1);
	FILE *f = fopen(flag, "w");   /* as the other tests expect it */
	fclose(f);
	/* Replaying what is not dead is an error. */
	cr_assert_eq(run(cmd, out, sizeof out), 1);
}

/* ------------------------------------------------------------ the worker */

static pid_t start_worker(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execl(getenv("ECCR_TEST_WORKER"), "eccr-worker", "-c", getenv("ECCR_TEST_CONFIG"), (char *)NULL);
		_exit(127);
	}
	return pid;
}

Test(worker, racing_workers_deliver_each_event_once_per_sink, .timeout = 120)
{
	char tag[64], sql[512];
	pid_t w[2];
	int i;

	/* Events whose process "died" before dispatching them. */
	snprintf(tag, sizeof tag, "race-%s", uniq());
	snprintf(sql, sizeof sql,
	    "WITH x AS (INSERT INTO events (type, actor_id, resource_type, resource_id, data, created_at)"
	    " SELECT 'episode_updated', 'system', 'episode', $1 || '-' || g, '{}'::jsonb,"
	    " now() - interval '1 minute' FROM generate_series(1, 400) g RETURNING 1)"
	    " SELECT count(*) FROM x");
	for (i = 0; i < 2; i++)
		w[i] = start_worker();
	cr_assert_eq(db_long(sql, tag), 400);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM activity_logs WHERE resource_id LIKE $1 || '-%%'");
	cr_assert_eq(db_wait(sql, tag, 400), 400);
	for (i = 0; i < 2; i++) {
		kill(w[i], SIGTERM);
		waitpid(w[i], NULL, 0);
	}
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id LIKE $1 || '-%' AND delivered_at IS NULL", tag), 0);
	/* sink-jsonl appended each exactly once. */
	long lines = count_lines(stack_path("events.jsonl"), tag);
	cr_assert_eq(lines, 400, "%ld lines for 400 events", lines);
}

Test(worker, killed_fcgi_loses_nothing, .timeout = 300)
{
	char tag[64], body[128], sql[512];
	int i, tries, failures = 0;
	pid_t killer;

	snprintf(tag, sizeof tag, "kill-%s", uniq());
	killer = start_killer(300);
	for (i = 0; i < 1000; i++) {
		snprintf(body, sizeof body, "{\"title\":\"%s %d\"}", tag, i);
		/* While lighttpd respawns the backend it answers 5xx: try again
		 * (a create that committed before its response was lost makes a
		 * second episode; both events must still be delivered once). */
		for (tries = 0; tries < 300; tries++) {
			struct resp *r = http_json("POST", "/episodes", tok_editor(), body);
			long st = r->status;

			resp_free(r);
			if (st == 201)
				break;
			failures++;
			usleep(50000);
		}
		cr_assert_lt(tries, 300, "the service did not come back");
	}
	stop_killer(killer);
	cr_assert_gt(failures, 0, "no request ever met a killed backend");
	/* Every committed event reaches activity_logs exactly once, whether the
	 * dispatcher or (after a kill) the worker delivered it. */
	snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE type = 'episode_created' "
	    "AND data->>'title' LIKE $1 || ' %%'");
	long committed = db_long(sql, tag);
	cr_assert_geq(committed, 1000);
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs a JOIN events e ON e.id = a.event_id"
	    " WHERE e.type = 'episode_created' AND e.data->>'title' LIKE $1 || ' %'", tag, committed),
	    committed);
	/* Marked delivered once every sink took it: the mark is written after
	 * the sinks' own work (in batches), so it may trail activity_logs. */
	cr_assert_eq(db_wait("SELECT count(*) FROM events WHERE data->>'title' LIKE $1 || ' %'"
	    " AND delivered_at IS NULL", tag, 0), 0);
	/* sink-jsonl keeps no ledger: an event whose dispatcher died after
	 * emitting but before recording it is appended again (at least once). */
	cr_assert_geq(count_lines(stack_path("events.jsonl"), tag), committed);
}

/* ------------------------------------------------------------ loading */

/* Run eccr-worker --once on a configuration of its own; returns its exit
 * status with its output in out. */
static int run_worker_with(const char *sections, char *out, size_t outlen)
{
	char conf[1024], cmd[4096];
	FILE *f;

	snprintf(conf, sizeof conf, "%s", stack_path("load.conf"));
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "[database]\nconninfo = %s\n[plugins]\ndir = %s\n%s",
	    getenv("ECCR_TEST_CONNINFO"), stack_path("plugins"), sections);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s -c %s --once 2>&1", getenv("ECCR_TEST_WORKER"), conf);
	return run(cmd, out, outlen);
}

Test(loading, bad_plugins_stop_start_up_with_a_reason)
{
	char out[8192], sect[1024];

	cr_assert_eq(run_worker_with("load = sink-jsonl\n[plugin.sink-jsonl]\npath = /tmp/x\n"
	    "colour = red\n", out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "load.conf:8: plugin sink-jsonl has no key \"colour\""), "%s", out);

	cr_assert_eq(run_worker_with("load = abi-mismatch\n", out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "abi-mismatch.so: built for plugin ABI 2.0, this host speaks 1.1"),
	    "%s", out);

	/* SMTP AUTH over "starttls = try" (the default) could go out in clear. */
	snprintf(sect, sizeof sect, "load = notify-email\n[plugin.notify-email]\nfrom = e@x.invalid\n"
	    "username = u\npassword_file = %s\n", stack_path("smtp-password"));
	cr_assert_eq(run_worker_with(sect, out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "with username set, starttls must be required"), "%s", out);
	cr_assert_eq(run_worker_with("load = no-such-sink\n", out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "no-such-sink.so: cannot load"), "%s", out);

	cr_assert_eq(run_worker_with("load = sink-jsonl\n", out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "[plugin:sink-jsonl] path must be set"), "%s", out);
	cr_assert_not_null(strstr(out, "plugin sink-jsonl"), "%s", out);
	cr_assert_not_null(strstr(out, "init failed"), "%s", out);

	cr_assert_eq(run_worker_with("load = ../etc/passwd\n", out, sizeof out), 1);
	/* Caught by the configuration reader, with the file and line. */
	cr_assert_not_null(strstr(out, "load.conf:5: plugins.load: expected a comma list of plugin names"),
	    "%s", out);

	/* And a good one runs. */
	cr_assert_eq(run_worker_with("load = sink-jsonl\n[plugin.sink-jsonl]\npath = /dev/null\n",
	    out, sizeof out), 0, "%s", out);
}

Test(loading, eccrctl_plugin_check)
{
	char cmd[2048], out[8192];

	snprintf(cmd, sizeof cmd, "%s plugin check %s 2>&1", getenv("ECCR_TEST_ECCRCTL"),
	    stack_path("plugins/sink-jsonl.so"));
	cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "name:        sink-jsonl\n"), "%s", out);
	cr_assert_not_null(strstr(out, "kind:        sink\n"), "%s", out);
	cr_assert_not_null(strstr(out, "version:     1.0.0\n"), "%s", out);
	cr_assert_not_null(strstr(out, "abi:         1.1"), "%s", out);
	snprintf(cmd, sizeof cmd, "%s plugin check %s 2>&1", getenv("ECCR_TEST_ECCRCTL"),
	    stack_path("plugins/abi-mismatch.so"));
	cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
	cr_assert_not_null(strstr(out, "built for plugin ABI 2.0"), "%s", out);
	snprintf(cmd, sizeof cmd, "%s plugin check /etc/passwd 2>&1", getenv("ECCR_TEST_ECCRCTL"));
	cr_assert_eq(run(cmd, out, sizeof out), 1, "%s", out);
}

/* ------------------------------------------------------------ the activity API */

static json_object *items_of(struct resp *r)
{
	json_object *items;

	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "items", &items), "%s", r->body);
	return items;
}

/* How many items GET path_fmt answers token. */
static size_t count_items(const char *token, const char *path_fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t count_items(const char *token, const char *path_fmt, ...)
{
	char path[256];
	struct resp *r;
	va_list ap;
	size_t n;

	va_start(ap, path_fmt);
	vsnprintf(path, sizeof path, path_fmt, ap);
	va_end(ap);
	r = http_json("GET", path, token, NULL);
	n = json_object_array_length(items_of(r));
	resp_free(r);
	return n;
}

Test(activity_api, filters_roles_and_pages)
{
	char id[37], path[256];
	struct resp *r;
	json_object *items;
	int i;

	episode_create(tok_editor(), "{\"title\":\"trail\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	for (i = 0; i < 3; i++) {
		char body[64];

		snprintf(body, sizeof body, "{\"title\":\"trail %d\"}", i);
		r = http_json("PATCH", path, tok_editor(), body);
		cr_assert_eq(r->status, 200);
		resp_free(r);
	}
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", id, 4), 4);

	/* One episode's trail, newest first, paged one at a time. */
	char cursor[256] = "";
	int seen = 0;
	do {
		json_object *next;

		snprintf(path, sizeof path, "/episodes/%s/activity?limit=1%s%s", id,
		    cursor[0] ? "&cursor=" : "", cursor);
		r = http_json("GET", path, tok_viewer(), NULL);
		items = items_of(r);
		cr_assert_eq(json_object_array_length(items), 1);
		json_object *e = json_object_array_get_idx(items, 0);
		json_object *action;
		cr_assert(json_object_object_get_ex(e, "action", &action));
		cr_assert_str_eq(json_object_get_string(action), seen < 3 ? "UPDATE" : "CREATE");
		seen++;
		cr_assert(json_object_object_get_ex(r->json, "next_cursor", &next));
		snprintf(cursor, sizeof cursor, "%s", next ? json_object_get_string(next) : "");
		resp_free(r);
	} while (cursor[0] != '\0' && seen < 10);
	cr_assert_eq(seen, 4);

	/* Admin filters. */
	cr_assert_eq(count_items(tok_admin(), "/activity?resource_id=%s&action=UPDATE", id), 3);
	cr_assert_eq(count_items(tok_admin(), "/activity?resource_type=episode&resource_id=%s", id), 4);
	cr_assert_eq(count_items(tok_admin(), "/activity?resource_type=job&resource_id=%s", id), 0);
	cr_assert_eq(count_items(tok_admin(),
	    "/activity?episode_id=%s&user_id=eddie&since=2000-01-01T00:00:00Z", id), 4);
	cr_assert_eq(count_items(tok_admin(), "/activity?episode_id=%s&until=2000-01-01T00:00:00Z",
	    id), 0);

	/* Editors see their own actions only; asking for someone else's is 403. */
	cr_assert_eq(count_items(tok_editor(), "/activity?resource_id=%s", id), 4);
	cr_assert_eq(count_items(tok_viewer(), "/activity?resource_id=%s", id), 0);
	r = http_json("GET", "/activity?user_id=eddie", tok_viewer(), NULL);
	assert_problem(r, 403, "forbidden");
	resp_free(r);

	/* A deleted episode keeps its trail; an id nothing ever named is 404. */
	snprintf(path, sizeof path, "/episodes/%s", id);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", id, 5), 5);
	cr_assert_eq(count_items(tok_admin(), "/episodes/%s/activity", id), 5);
	r = http_json("GET", "/episodes/00000000-0000-4000-8000-000000000000/activity", tok_admin(), NULL);
	assert_problem(r, 404, "not_found");
	resp_free(r);
}

Test(activity_api, stats_and_bad_parameters)
{
	static const char *const bad[] = {
		"/activity?action=EXPLODE", "/activity?limit=0", "/activity?limit=201",
		"/activity?resource_type=bogus", "/activity?resource_type=Episode",
		"/activity?episode_id=nope", "/activity?since=yesterday", "/activity?colour=red",
		"/activity?cursor=abc", "/activity/stats?until=2026-13-01T00:00:00Z",
	};
	struct resp *r;
	json_object *v;
	size_t i;
	char id[37];

	episode_create(tok_editor(), "{\"title\":\"counted\"}", id);
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", id, 1), 1);
	r = http_json("GET", "/activity/stats", tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "by_action", &v));
	cr_assert(json_object_object_get_ex(v, "CREATE", &v));
	cr_assert_geq(json_object_get_int64(v), 1);
	cr_assert(json_object_object_get_ex(r->json, "by_resource_type", &v));
	cr_assert(json_object_object_get_ex(v, "episode", &v));
	cr_assert(json_object_object_get_ex(r->json, "total", &v));
	long total_admin = json_object_get_int64(v);
	resp_free(r);
	r = http_json("GET", "/activity/stats", tok_viewer(), NULL);
	cr_assert_eq(r->status, 200);
	cr_assert(json_object_object_get_ex(r->json, "total", &v));
	cr_assert_lt(json_object_get_int64(v), total_admin);
	resp_free(r);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = http_json("GET", bad[i], tok_admin(), NULL);
		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
}
