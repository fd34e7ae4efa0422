/* Integration tests: the job processor in eccr-worker, against the real
 * PostgreSQL and real worker processes.  Jobs are inserted with SQL, as
 * the API would (the trigger NOTIFYs the workers); the API itself is
 * tested in test_jobs_api.c.  Tests that need to know which worker runs a
 * job pause the harness's worker with SIGSTOP and start their own. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

static pid_t start_worker_with(const char *config)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execl(getenv("ECCR_TEST_WORKER"), "eccr-worker", "-c", config, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static pid_t start_worker(void)
{
	return start_worker_with(getenv("ECCR_TEST_CONFIG"));
}

/* A copy of the harness's configuration with worker.lease_s = 60, under
 * the stack's directory: path gets its name. */
static void long_lease_config(char *path, size_t len)
{
	char line[1024];
	FILE *in = fopen(getenv("ECCR_TEST_CONFIG"), "r"), *out;

	cr_assert_not_null(in);
	snprintf(path, len, "%s/eccr-long-lease.conf", getenv("ECCR_TEST_STACK_DIR"));
	cr_assert_not_null(out = fopen(path, "w"));
	while (fgets(line, sizeof line, in) != NULL)
		fputs(strncmp(line, "lease_s", 7) == 0 ? "lease_s = 60\n" : line, out);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

static pid_t harness_worker(void)
{
	const char *s = getenv("ECCR_TEST_WORKER_PID");

	if (s == NULL)
		cr_skip_test("ECCR_TEST_WORKER_PID is not set");
	return (pid_t)atol(s);
}

/* Insert jobs with SQL; returns the tag their payload carries. */
static void insert_jobs(const char *tag, const char *values_sql)
{
	char sql[2048];

	snprintf(sql, sizeof sql, "WITH x AS (INSERT INTO jobs (type, payload, priority, run_at,"
	    " max_attempts, created_by) %s RETURNING 1) SELECT count(*) FROM x", values_sql);
	cr_assert_gt(db_long(sql, tag), 0);
}

Test(jobs, priority_then_run_at_order, .timeout = 60)
{
	char tag[64];
	pid_t h = harness_worker();

	snprintf(tag, sizeof tag, "prio-%s", uniq());
	/* Pause the worker so every job is queued before the first claim. */
	kill(h, SIGSTOP);
	insert_jobs(tag, "SELECT 'noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 30, 'n', g),"
	    " CASE WHEN g % 3 = 0 THEN -50 WHEN g % 3 = 1 THEN 0 ELSE 50 END,"
	    " now() - make_interval(secs => g), 3, 'tests' FROM generate_series(1, 12) g");
	insert_jobs(tag, "SELECT 'noop', jsonb_build_object('tag', $1::text, 'late', true),"
	    " -100, now() + interval '1.5 seconds', 3, 'tests'");
	kill(h, SIGCONT);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'",
	    tag, 13, 30), 13);
	/* No job of a higher priority number started before one of a lower. */
	cr_assert_eq(db_long("SELECT count(*) FROM jobs a JOIN jobs b ON a.payload->>'tag' = b.payload->>'tag'"
	    " WHERE a.payload->>'tag' = $1 AND NOT (a.payload ? 'late') AND NOT (b.payload ? 'late')"
	    " AND a.priority < b.priority AND a.started_at > b.started_at", tag), 0);
	/* Within one priority, the older run_at first. */
	cr_assert_eq(db_long("SELECT count(*) FROM jobs a JOIN jobs b ON a.payload->>'tag' = b.payload->>'tag'"
	    " WHERE a.payload->>'tag' = $1 AND a.priority = b.priority AND NOT (a.payload ? 'late')"
	    " AND a.run_at < b.run_at AND a.started_at > b.started_at", tag), 0);
	/* The best priority waits for its run_at. */
	cr_assert_eq(db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND payload ? 'late'"
	    " AND started_at >= run_at", tag), 1);
}

Test(jobs, transient_failures_retry_with_backoff, .timeout = 60)
{
	char tag[64];

	snprintf(tag, sizeof tag, "retry-%s", uniq());
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'fail_attempts', 2), 0, now(), 3, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'"
	    " AND attempts = 3 AND result->>'attempt' = '3'", tag, 1, 30), 1);
	/* job_retry events say when the next attempt comes: base 200 ms, then
	 * 400 ms, each with up to half of it random. */
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_retry' AND ("
	    " ((e.data->>'attempt')::int = 1 AND (e.data->>'retry_in_ms')::int BETWEEN 100 AND 200) OR"
	    " ((e.data->>'attempt')::int = 2 AND (e.data->>'retry_in_ms')::int BETWEEN 200 AND 400))", tag), 2);
	/* And the attempts really waited that long. */
	cr_assert_eq(db_long("SELECT count(*) FROM events r JOIN events s ON s.resource_id = r.resource_id"
	    " JOIN jobs j ON r.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND r.type = 'job_retry' AND s.type = 'job_started'"
	    " AND (s.data->>'attempt')::int = (r.data->>'attempt')::int + 1"
	    " AND s.created_at - r.created_at >= make_interval(secs => (r.data->>'retry_in_ms')::int / 1000.0 - 0.05)",
	    tag), 2);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_completed'", tag), 1);
}

Test(jobs, permanent_and_exhausted_failures, .timeout = 60)
{
	char tag[64];

	snprintf(tag, sizeof tag, "fail-%s", uniq());
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'fail_permanently', true), 0, now(), 3, 'tests'),"
	    " ('noop', jsonb_build_object('tag', $1::text, 'fail_attempts', 9), 0, now(), 2, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'failed'"
	    " AND finished_at IS NOT NULL AND last_error IS NOT NULL", tag, 2, 30), 2);
	cr_assert_eq(db_long("SELECT count(*) FROM jobs j JOIN events e ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_failed' AND"
	    " ((j.payload ? 'fail_permanently' AND j.attempts = 1 AND (e.data->>'retries_exhausted')::bool = false) OR"
	    "  (j.payload ? 'fail_attempts' AND j.attempts = 2 AND (e.data->>'retries_exhausted')::bool = true))",
	    tag), 2);
}

Test(jobs, cancel_reaches_a_running_handler, .timeout = 60)
{
	char tag[64];

	snprintf(tag, sizeof tag, "cancel-%s", uniq());
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 20000), 0, now(), 3, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'", tag, 1, 20), 1);
	/* What POST /jobs/{id}/cancel does to a running job. */
	cr_assert_eq(db_long("WITH u AS (UPDATE jobs SET cancel_requested = true WHERE payload->>'tag' = $1"
	    " RETURNING 1) SELECT count(*) FROM u", tag), 1);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'cancelled'"
	    " AND finished_at IS NOT NULL AND finished_at - started_at < interval '5 seconds'", tag, 1, 10), 1);
}

Test(jobs, progress_is_recorded, .timeout = 60)
{
	char tag[64];
	long seen = 0;
	int i;

	snprintf(tag, sizeof tag, "progress-%s", uniq());
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 1500), 0, now(), 3, 'tests')");
	for (i = 0; i < 100 && seen == 0; i++) {
		seen = db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'"
		    " AND progress BETWEEN 1 AND 99", tag);
		usleep(50000);
	}
	cr_assert_eq(seen, 1, "no intermediate progress was stored");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'"
	    " AND progress = 100", tag, 1, 20), 1);
}

Test(jobs, killed_worker_job_runs_again_elsewhere, .timeout = 90)
{
	char tag[64], who[256];
	pid_t h = harness_worker(), a, b, victim;
	long pid;

	snprintf(tag, sizeof tag, "crash-%s", uniq());
	kill(h, SIGSTOP);
	a = start_worker();
	b = start_worker();
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 2000), 0, now(), 3, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'", tag, 1, 20), 1);
	pid = db_long("SELECT split_part(locked_by, ':', 2)::bigint FROM jobs WHERE payload->>'tag' = $1", tag);
	cr_assert(pid == a || pid == b, "running on %ld, not on a (%d) or b (%d)", pid, a, b);
	victim = (pid_t)pid;
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	/* The lease (2 s) runs out; the other worker takes it, attempt 2. */
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'"
	    " AND attempts = 2", tag, 1, 30), 1);
	snprintf(who, sizeof who, "%ld", (long)(victim == a ? b : a));
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_retry'", tag), 1);
	kill(victim == a ? b : a, SIGTERM);
	waitpid(victim == a ? b : a, NULL, 0);
	kill(h, SIGCONT);
	(void)who;
}

/* The four jobs a worker claimed in one statement die with it and come
 * back, every one, when their lease runs out. */
Test(jobs, killed_worker_holding_a_batch_loses_none_of_it, .timeout = 90)
{
	char tag[64];
	pid_t h = harness_worker(), a, b;

	snprintf(tag, sizeof tag, "batch-crash-%s", uniq());
	kill(h, SIGSTOP);
	a = start_worker();
	insert_jobs(tag, "SELECT 'noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 3000), 0, now(), 3,"
	    " 'tests' FROM generate_series(1, 4)");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'",
	    tag, 4, 20), 4);
	cr_assert_eq(db_long("SELECT count(DISTINCT locked_by) FROM jobs WHERE payload->>'tag' = $1", tag), 1);
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	b = start_worker();
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'"
	    " AND attempts = 2", tag, 4, 40), 4);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_retry'", tag), 4);
	kill(b, SIGTERM);
	waitpid(b, NULL, 0);
	kill(h, SIGCONT);
}

/* Jobs that finish together are recorded in one statement; a result
 * json-c accepts and PostgreSQL refuses (a number out of numeric's range)
 * or no JSON at all is recorded as {} and the others keep theirs. */
Test(jobs, one_bad_result_costs_the_others_nothing, .timeout = 60)
{
	char tag[64];
	pid_t h = harness_worker();

	snprintf(tag, sizeof tag, "results-%s", uniq());
	kill(h, SIGSTOP);
	insert_jobs(tag, "SELECT 'results', jsonb_build_object('tag', $1::text, 'kind',"
	    " CASE g WHEN 2 THEN 'overflow' WHEN 7 THEN 'not-json' ELSE 'ok' END), 0, now(), 3, 'tests'"
	    " FROM generate_series(1, 8) g");
	kill(h, SIGCONT);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'",
	    tag, 8, 30), 8);
	cr_assert_eq(db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND attempts = 1"
	    " AND result = CASE WHEN payload->>'kind' = 'ok' THEN '{\"ok\": true}'::jsonb ELSE '{}' END",
	    tag), 8);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_completed' AND e.data->'result' = j.result",
	    tag), 8);
}

Test(jobs, sigterm_releases_running_jobs_and_exits, .timeout = 60)
{
	char tag[64];
	pid_t h = harness_worker(), w;
	int status;

	snprintf(tag, sizeof tag, "drain-%s", uniq());
	kill(h, SIGSTOP);
	w = start_worker();
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 5000), 0, now(), 3, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'", tag, 1, 20), 1);
	kill(w, SIGTERM);
	waitpid(w, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker status %d", status);
	/* Back in the queue, the interrupted attempt not counted. */
	cr_assert_eq(db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'queued'"
	    " AND attempts = 0 AND locked_by IS NULL", tag), 1);
	kill(h, SIGCONT);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'"
	    " AND attempts = 1", tag, 1, 30), 1);
}

Test(jobs, ten_thousand_jobs_three_workers_each_runs_once, .timeout = 300)
{
	char tag[64];
	pid_t a, b;

	snprintf(tag, sizeof tag, "bulk-%s", uniq());
	a = start_worker();
	b = start_worker();
	insert_jobs(tag, "SELECT 'noop', jsonb_build_object('tag', $1::text), 0, now(), 3, 'tests'"
	    " FROM generate_series(1, 10000)");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'",
	    tag, 10000, 240), 10000);
	kill(a, SIGTERM);
	kill(b, SIGTERM);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	/* Each ran exactly once: one attempt, one job_started, one job_completed. */
	cr_assert_eq(db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND attempts <> 1", tag), 0);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_started'", tag), 10000);
	cr_assert_eq(db_long("SELECT count(*) FROM events e JOIN jobs j ON e.resource_id = j.id::text"
	    " WHERE j.payload->>'tag' = $1 AND e.type = 'job_completed'", tag), 10000);
	/* More than one worker did the work. */
	cr_assert_gt(db_long("SELECT count(DISTINCT e.data->>'worker_id') FROM events e"
	    " WHERE e.type = 'job_processor_started' AND e.created_at > now() - interval '10 minutes'", NULL), 1);
}

Test(jobs, processor_announces_itself)
{
	cr_assert_gt(db_long("SELECT count(*) FROM events WHERE type = 'job_processor_started'"
	    " AND resource_type = 'worker' AND data ? 'worker_id' AND (data->>'max_concurrent')::int = 4"
	    " AND (data->>'poll_interval_ms')::int = 100", NULL), 0);
}

/* A handler that ends while PostgreSQL is away: its outcome is recorded
 * when the database is back, by the worker still running (before, the
 * outcome was dropped and the heartbeat renewed the job's lease for as
 * long as the worker lived: 'running' for ever).  The lease (60 s) is far
 * longer than the outage, so no reclaim can end the job instead. */
Test(jobs_outage, an_outcome_the_database_missed_is_recorded_when_it_returns, .timeout = 90)
{
	const char *stop = getenv("ECCR_TEST_PG_STOP"), *start = getenv("ECCR_TEST_PG_START");
	char tag[64], config[512];
	pid_t h = harness_worker(), w;
	struct resp *r;
	int i;

	if (stop == NULL || start == NULL)
		cr_skip_test("ECCR_TEST_PG_STOP/START are not set");
	snprintf(tag, sizeof tag, "outage-%s", uniq());
	long_lease_config(config, sizeof config);
	kill(h, SIGSTOP);
	w = start_worker_with(config);
	insert_jobs(tag, "VALUES ('noop', jsonb_build_object('tag', $1::text, 'sleep_ms', 2000,"
	    " 'fail_permanently', true), 0, now(), 1, 'tests')");
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'", tag, 1, 20), 1);
	cr_assert_eq(system(stop), 0, "%s failed", stop);
	/* The database is away while the handler ends (2 s after it
	 * started) and the runner's first tries to record it fail: nothing to
	 * poll meanwhile. */
	sleep(5);
	cr_assert_eq(system(start), 0, "%s failed", start);
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'failed'"
	    " AND attempts = 1 AND locked_by IS NULL", tag, 1, 15), 1);
	/* eccr-fcgi's threads each held a connection the restart closed:
	 * each notices before its next statement, so no write fails (before,
	 * each thread's first write after the restart was a 503). */
	for (i = 0; i < 12; i++) {
		r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"after a restart\"}");
		cr_assert_eq(r->status, 201, "write %d after the restart: %d %s", i, r->status, r->body);
		resp_free(r);
	}
	kill(w, SIGTERM);
	waitpid(w, NULL, 0);
	kill(h, SIGCONT);
}
