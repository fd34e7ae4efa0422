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

#include <time.h>

#include "auth.h"
#include "client.h"
#include "config.h"
#include "util.h"
#include <eccr/plugin.h>

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
	snprintf(needle, sizeof needle, "\"id\":\"%s\"", ev);
	cr_assert_eq(wait_lines(stack_path("events.jsonl"), needle, 1), 1);
	usleep(300000);
	cr_assert_eq(count_lines(stack_path("events.jsonl"), needle), 1, "delivered twice");
	cr_assert_eq(count_lines(stack_path("events.jsonl"), id), 3);
}

/* The event ids of the lines of file holding both needles, in file order,
 * into ids (at most max); how many. */
static size_t line_event_ids(const char *file, const char *a, const char *b, long *ids, size_t max)
{
	char line[65536];
	FILE *f = fopen(file, "r");
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (n < max && fgets(line, sizeof line, f) != NULL) {
		/* The envelope's first member is the event's id. */
		const char *at = strstr(line, "\"id\":\"");

		if (strstr(line, a) != NULL && strstr(line, b) != NULL && at != NULL)
			ids[n++] = atol(at + 6);
	}
	fclose(f);
	return n;
}

/* The dispatcher delivers with several threads (outbox.dispatch_threads,
 * 2 in the harness, the default), yet a sink gets one client's successive
 * changes in the order they were made: each was offered before the next
 * request was sent, and batches reach a sink in offer order. */
Test(sinks, one_clients_successive_changes_reach_a_sink_in_order, .timeout = 60)
{
	enum { CHANGES = 60 };
	char id[37], path[64], body[64];
	long ids[CHANGES + 1];
	struct resp *r;
	size_t n, i;
	int k;

	episode_create(tok_editor(), "{\"title\":\"in order\"}", id);
	snprintf(path, sizeof path, "/episodes/%s", id);
	for (k = 1; k <= CHANGES; k++) {
		snprintf(body, sizeof body, "{\"title\":\"in order %d\"}", k);
		r = http_json("PATCH", path, tok_editor(), body);
		cr_assert_eq(r->status, 200);
		resp_free(r);
	}
	/* Its created event and the changes: the lines naming the episode. */
	wait_lines(stack_path("events.jsonl"), id, CHANGES + 1);
	n = line_event_ids(stack_path("events.jsonl"), id, "\"episode_updated\"", ids, CHANGES + 1);
	cr_assert_eq(n, CHANGES, "%zu of %d changes reached sink-jsonl", n, CHANGES);
	for (i = 1; i < n; i++)
		cr_assert_gt(ids[i], ids[i - 1], "event %ld reached the sink after event %ld, a later change",
		    ids[i], ids[i - 1]);
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
	snprintf(needle, sizeof needle, "\"id\":\"%s\"", ev);
	cr_assert_eq(count_lines(stack_path("flaky.jsonl"), needle), 1);
	/* Backoff: base 200 ms, so the two retries took at least ~300 ms. */
	cr_assert_eq(db_long("SELECT count(*) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	    " WHERE d.event_id = $1::bigint AND d.sink = 'sink-flaky'"
	    " AND d.updated_at - e.created_at >= interval '250 milliseconds'", ev), 1);
}

/* Events the worker's sweep takes together reach a sink with emit_batch
 * (sink-flaky) in one call: the one it refuses (FAIL) goes dead alone; the
 * others answer RETRY twice (fail_times) and are then delivered, each on
 * its own schedule; activity-pg writes all their rows in one statement. */
Test(sinks, one_event_of_a_batch_fails_and_the_others_are_delivered, .timeout = 60)
{
	char tag[64], sql[1024];

	snprintf(tag, sizeof tag, "batch-%s", uniq());
	/* Written as a handler would, but offered to no dispatcher: after
	 * outbox.grace_ms one sweep of eccr-worker locks them all at once. */
	snprintf(sql, sizeof sql, "WITH x AS (INSERT INTO events (type, actor_id, resource_type,"
	    " resource_id, data) SELECT 'episode_created', 'eddie', 'episode', gen_random_uuid()::text,"
	    " jsonb_build_object('title', CASE g WHEN 4 THEN 'poison-pill ' ELSE '' END || $1 || ' ' || g)"
	    " FROM generate_series(1, 6) g RETURNING 1) SELECT count(*) FROM x");
	cr_assert_eq(db_long(sql, tag), 6);
	cr_assert_eq(db_wait("SELECT count(*) FROM events WHERE data->>'title' LIKE '%' || $1 || '%'"
	    " AND delivered_at IS NOT NULL", tag, 6), 6);
	cr_assert_eq(db_long("SELECT count(*) FROM activity_logs a JOIN events e ON e.id = a.event_id"
	    " WHERE e.data->>'title' LIKE '%' || $1 || '%' AND a.action = 'CREATE'", tag), 6);
	cr_assert_eq(db_long("SELECT count(*) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	    " WHERE e.data->>'title' LIKE 'poison-pill %' || $1 || '%' AND d.sink = 'sink-flaky'"
	    " AND d.status = 'dead' AND d.attempts = 1", tag), 1);
	cr_assert_eq(db_wait("SELECT count(*) FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	    " WHERE e.data->>'title' LIKE $1 || '%' AND d.sink = 'sink-flaky'"
	    " AND d.status = 'delivered' AND d.attempts = 3", tag, 5), 5);
	cr_assert_eq(count_lines(stack_path("flaky.jsonl"), tag), 5);
	cr_assert_eq(count_lines(stack_path("flaky.jsonl"), "poison-pill"), 0);
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
	snprintf(needle, sizeof needle, "\"id\":\"%s\"", ev);
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
	char out[8192], sect[1024], want[128];

	cr_assert_eq(run_worker_with("load = sink-jsonl\n[plugin.sink-jsonl]\npath = /tmp/x\n"
	    "colour = red\n", out, sizeof out), 1);
	cr_assert_not_null(strstr(out, "load.conf:8: plugin sink-jsonl has no key \"colour\""), "%s", out);

	cr_assert_eq(run_worker_with("load = abi-mismatch\n", out, sizeof out), 1);
	snprintf(want, sizeof want, "abi-mismatch.so: built for plugin ABI 2.0, this host speaks %d.%d",
	    ECCR_PLUGIN_ABI_MAJOR, ECCR_PLUGIN_ABI_MINOR);
	cr_assert_not_null(strstr(out, want), "%s", out);

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
	char cmd[2048], out[8192], want[128];

	snprintf(cmd, sizeof cmd, "%s plugin check %s 2>&1", getenv("ECCR_TEST_ECCRCTL"),
	    stack_path("plugins/sink-jsonl.so"));
	cr_assert_eq(run(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_not_null(strstr(out, "name:        sink-jsonl\n"), "%s", out);
	cr_assert_not_null(strstr(out, "kind:        sink\n"), "%s", out);
	cr_assert_not_null(strstr(out, "version:     1.0.0\n"), "%s", out);
	snprintf(want, sizeof want, "abi:         %d.%d (host %d.%d)", ECCR_PLUGIN_ABI_MAJOR,
	    ECCR_PLUGIN_ABI_MINOR, ECCR_PLUGIN_ABI_MAJOR, ECCR_PLUGIN_ABI_MINOR);
	cr_assert_not_null(strstr(out, want), "%s", out);
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

/* ------------------------------------------------------------ activity search (q) */

/* A token for an editor with a display name (the actor's name is searchable). */
static char *named_token(const char *sub, const char *name)
{
	char err[256], *tok = eccr_auth_mint(test_config(), sub, "editor", name, NULL, 3600,
	    time(NULL), err, sizeof err);

	cr_assert_not_null(tok, "%s", err);
	return tok;
}

/* The items of GET path (admin), asserting 200. */
static json_object *search(const char *path_fmt, ...) __attribute__((format(printf, 1, 2)));
static json_object *search(const char *path_fmt, ...)
{
	char path[1024];
	struct resp *r;
	va_list ap;
	json_object *items;

	va_start(ap, path_fmt);
	vsnprintf(path, sizeof path, path_fmt, ap);
	va_end(ap);
	r = http_json("GET", path, tok_admin(), NULL);
	items = json_object_get(items_of(r));
	resp_free(r);
	return items;
}

static const char *item_str(json_object *items, size_t i, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(json_object_array_get_idx(items, i), key, &v));
	return json_object_get_string(v);
}

Test(activity_search, titles_file_names_job_types_and_actors)
{
	const char *t = uniq();
	char a[37], b[37], body[256], path[256], fid[37], job[37], actor[64], name[96];
	char *tok;
	json_object *items;
	struct resp *r;

	snprintf(actor, sizeof actor, "searcher-%s", t);
	snprintf(name, sizeof name, "Quentin%s Tester", t);
	tok = named_token(actor, name);
	snprintf(body, sizeof body, "{\"title\":\"Alpha%s evening news\"}", t);
	episode_create(tok, body, a);
	snprintf(body, sizeof body, "{\"title\":\"Beta%s evening news\"}", t);
	episode_create(tok, body, b);
	snprintf(path, sizeof path, "/episodes/%s/files?name=clip_%s.wav", a, t);
	r = http("POST", path, tok, "audio/wav", "RIFF", 4, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(fid, sizeof fid, "%s", resp_str(r, "id"));
	resp_free(r);
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"episode_id\":\"%s\"}", a);
	r = http_json("POST", "/jobs", tok, body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(job, sizeof job, "%s", resp_str(r, "id"));
	resp_free(r);
	/* created, started, completed (by "system", whose events carry no type
	 * of their own: the job's type is added to every job event) */
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1"
	    " AND action IN ('CREATE', 'START', 'COMPLETE')", job, 3), 3);
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", fid, 1), 1);

	/* A word of a title finds that episode's CREATE, not the other's. */
	items = search("/activity?q=alpha%s", t);
	cr_assert_eq(json_object_array_length(items), 1, "%s", json_object_to_json_string(items));
	cr_assert_str_eq(item_str(items, 0, "resource_id"), a);
	cr_assert_str_eq(item_str(items, 0, "action"), "CREATE");
	json_object_put(items);
	/* websearch syntax: both words, a phrase, OR */
	items = search("/activity?q=beta%s%%20evening", t);
	cr_assert_eq(json_object_array_length(items), 1);
	cr_assert_str_eq(item_str(items, 0, "resource_id"), b);
	json_object_put(items);
	items = search("/activity?q=alpha%s%%20or%%20beta%s", t, t);
	cr_assert_eq(json_object_array_length(items), 2);
	json_object_put(items);
	items = search("/activity?q=%%22evening%%20news%%22%%20alpha%s", t);
	cr_assert_eq(json_object_array_length(items), 1);
	json_object_put(items);
	items = search("/activity?q=%%22news%%20evening%%22%%20alpha%s", t);
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);
	items = search("/activity?q=alpha%s%%20-evening", t);
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);

	/* A file name, whole or by a word of it. */
	items = search("/activity?q=clip_%s.wav", t);
	cr_assert_eq(json_object_array_length(items), 1);
	cr_assert_str_eq(item_str(items, 0, "resource_id"), fid);
	cr_assert_str_eq(item_str(items, 0, "resource_type"), "file");
	json_object_put(items);
	items = search("/activity?q=clip%%20%s", t);
	cr_assert_eq(json_object_array_length(items), 1);
	json_object_put(items);

	/* A job type: all three entries of the job, the system's included. */
	items = search("/activity?q=noop&episode_id=%s", a);
	cr_assert_eq(json_object_array_length(items), 3, "%s", json_object_to_json_string(items));
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(item_str(items, i, "resource_id"), job);
	json_object_put(items);
	items = search("/activity?q=checksum&episode_id=%s", a);
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);
	/* the per-episode trail takes q too */
	items = search("/episodes/%s/activity?q=clip_%s.wav", a, t);
	cr_assert_eq(json_object_array_length(items), 1);
	json_object_put(items);
	items = search("/episodes/%s/activity?q=beta%s", a, t);
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);

	/* The actor's name (and id) find what they did: 2 episodes, the file,
	 * the job's creation; not the job's start and completion (system). */
	items = search("/activity?q=quentin%s", t);
	cr_assert_eq(json_object_array_length(items), 4, "%s", json_object_to_json_string(items));
	for (size_t i = 0; i < 4; i++)
		cr_assert_str_eq(item_str(items, i, "user_id"), actor);
	json_object_put(items);
	items = search("/activity?q=quentin%s%%20tester&resource_type=file", t);
	cr_assert_eq(json_object_array_length(items), 1);
	json_object_put(items);
	items = search("/activity?q=%s", actor);
	cr_assert_eq(json_object_array_length(items), 4);
	json_object_put(items);

	/* Pages of a search: one at a time, newest first, each entry once. */
	char cursor[256] = "";
	int seen = 0;
	do {
		json_object *next;

		snprintf(path, sizeof path, "/activity?q=quentin%s&limit=1%s%s", t,
		    cursor[0] ? "&cursor=" : "", cursor);
		r = http_json("GET", path, tok_admin(), NULL);
		cr_assert_eq(json_object_array_length(items_of(r)), 1);
		cr_assert(json_object_object_get_ex(r->json, "next_cursor", &next));
		snprintf(cursor, sizeof cursor, "%s", next ? json_object_get_string(next) : "");
		resp_free(r);
		seen++;
	} while (cursor[0] != '\0' && seen < 10);
	cr_assert_eq(seen, 4);

	/* Viewers and editors search their own actions only. */
	cr_assert_eq(count_items(tok_editor(), "/activity?q=quentin%s", t), 0);
	items = search("/activity?q=quentin%s&since=2999-01-01T00:00:00Z", t);
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);
	/* Only stop words or punctuation: nothing matches, and that is no error. */
	items = search("/activity?q=%%2E%%2C%%3B");
	cr_assert_eq(json_object_array_length(items), 0);
	json_object_put(items);
	free(tok);
}

Test(activity_search, q_is_at_most_500_characters_and_an_empty_q_is_no_search)
{
	static char path[4096];
	struct resp *r;
	int n;

	n = snprintf(path, sizeof path, "/activity?q=");
	memset(path + n, 'x', 500);
	path[n + 500] = '\0';
	r = http_json("GET", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	strcat(path, "y");
	r = http_json("GET", path, tok_admin(), NULL);
	assert_problem(r, 400, "bad_request");
	cr_assert_not_null(strstr(r->body, "500"), "%s", r->body);
	resp_free(r);
	/* characters, not bytes: 500 two-byte ones pass, 501 do not */
	n = snprintf(path, sizeof path, "/activity?q=");
	for (int i = 0; i < 500; i++)
		n += snprintf(path + n, sizeof path - (size_t)n, "%%C3%%A9");
	r = http_json("GET", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	strcat(path, "%C3%A9");
	r = http_json("GET", path, tok_admin(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	/* the same on one episode's trail */
	n = snprintf(path, sizeof path,
	    "/episodes/00000000-0000-4000-8000-000000000000/activity?q=");
	memset(path + n, 'x', 501);
	path[n + 501] = '\0';
	r = http_json("GET", path, tok_admin(), NULL);
	assert_problem(r, 400, "bad_request");
	resp_free(r);
	r = http_json("GET", "/activity?q=", tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
}

/* ------------------------------------------------------------ stats by day */

static long member_int(json_object *o, const char *key)
{
	json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key,
	    json_object_to_json_string(o));
	return (long)json_object_get_int64(v);
}

/* by_day of a stats answer: contiguous UTC days, each one's by_action
 * adding up to its total, all adding up to total; returns its length and
 * copies the first and last day. */
static size_t check_by_day(json_object *stats, char first[11], char last[11])
{
	json_object *days, *d, *v;
	long sum = 0;
	size_t n, i;
	struct tm prev = { 0 };

	cr_assert(json_object_object_get_ex(stats, "by_day", &days));
	cr_assert(json_object_is_type(days, json_type_array));
	n = json_object_array_length(days);
	for (i = 0; i < n; i++) {
		struct tm tm = { 0 };
		long day_sum = 0;
		const char *day;

		d = json_object_array_get_idx(days, i);
		cr_assert(json_object_object_get_ex(d, "day", &v));
		day = json_object_get_string(v);
		cr_assert_eq(strlen(day), 10, "%s", day);
		cr_assert_not_null(strptime(day, "%Y-%m-%d", &tm), "%s", day);
		if (i > 0)
			cr_assert_eq(timegm(&tm) - timegm(&prev), 86400, "%s after a gap", day);
		prev = tm;
		cr_assert(json_object_object_get_ex(d, "by_action", &v));
		json_object_object_foreach(v, action, count) {
			(void)action;
			day_sum += (long)json_object_get_int64(count);
		}
		cr_assert_eq(day_sum, member_int(d, "total"), "%s", json_object_to_json_string(d));
		sum += member_int(d, "total");
		if (i == 0)
			snprintf(first, 11, "%s", day);
		snprintf(last, 11, "%s", day);
	}
	cr_assert_eq(sum, member_int(stats, "total"));
	return n;
}

static void utc_day(time_t t, char out[11])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

Test(activity_stats, by_day_is_every_utc_day_and_adds_up)
{
	char id[37], first[11], last[11], want[11], path[256], since[32];
	time_t now = time(NULL);
	struct resp *r;
	json_object *days, *today, *v;

	episode_create(tok_editor(), "{\"title\":\"counted by day\"}", id);
	cr_assert_eq(db_wait("SELECT count(*) FROM activity_logs WHERE resource_id = $1", id, 1), 1);

	/* Defaults: 30 days ago to now, so 31 UTC days ending today. */
	r = http_json("GET", "/activity/stats", tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(check_by_day(r->json, first, last), 31, "%s", r->body);
	utc_day(time(NULL), want);
	if (strcmp(last, want) != 0)       /* midnight passed during the request */
		utc_day(now, want);
	cr_assert_str_eq(last, want);
	utc_day(now - 30 * 86400, want);
	cr_assert_str_eq(first, want);
	/* today holds the episode just created */
	cr_assert(json_object_object_get_ex(r->json, "by_day", &days));
	today = json_object_array_get_idx(days, 30);
	cr_assert_geq(member_int(today, "total"), 1);
	cr_assert(json_object_object_get_ex(today, "by_action", &v));
	cr_assert_geq(member_int(v, "CREATE"), 1);
	resp_free(r);

	/* An editor's own: the same shape, fewer or as many. */
	r = http_json("GET", "/activity/stats", tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(check_by_day(r->json, first, last), 31);
	resp_free(r);

	/* Explicit bounds: every day they touch, the empty ones too. */
	r = http_json("GET", "/activity/stats?since=2020-02-27T12:00:00Z&until=2020-03-02T00:00:00Z",
	    tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(check_by_day(r->json, first, last), 4, "%s", r->body);
	cr_assert_str_eq(first, "2020-02-27");
	cr_assert_str_eq(last, "2020-03-01");     /* leap year; until itself is excluded */
	cr_assert_eq(member_int(r->json, "total"), 0);
	resp_free(r);
	/* a whole leap year is 366 days: the most there may be */
	r = http_json("GET", "/activity/stats?since=2024-01-01T00:00:00Z&until=2025-01-01T00:00:00Z",
	    tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_eq(check_by_day(r->json, first, last), 366);
	resp_free(r);
	/* since alone: until is now */
	utc_day(now - 2 * 86400, want);
	snprintf(since, sizeof since, "%sT23:59:59Z", want);
	snprintf(path, sizeof path, "/activity/stats?since=%s", since);
	r = http_json("GET", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_geq(check_by_day(r->json, first, last), 3);
	cr_assert_str_eq(first, want);
	resp_free(r);
}

Test(activity_stats, bad_ranges)
{
	static const char *const bad[] = {
		/* more than 366 days */
		"/activity/stats?since=2024-01-01T00:00:00Z&until=2025-01-01T00:00:01Z",
		"/activity/stats?since=2000-01-01T00:00:00Z",
		"/activity/stats?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z",
		/* since after until */
		"/activity/stats?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
		"/activity/stats?since=2999-01-01T00:00:00Z",
		/* not date-times */
		"/activity/stats?since=yesterday", "/activity/stats?until=2026-02-30T00:00:00Z",
		"/activity/stats?q=x",
	};
	char *before = db_changes();

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct resp *r = http_json("GET", bad[i], tok_admin(), NULL);

		assert_problem(r, 400, "bad_request");
		resp_free(r);
	}
	assert_unchanged(before);
	free(before);
}
