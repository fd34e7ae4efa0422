/* Integration tests: SIGHUP reloads eccr-worker's configuration.  The
 * test runs its own worker on a copy of the harness's configuration (the
 * harness's worker is paused meanwhile, so only ours claims jobs), changes
 * worker.max_concurrent and sends SIGHUP, and watches how many jobs run
 * at once; a broken file must leave the worker running as it was. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

static char conf[1024], logfile[1100];
static pid_t worker;    /* ours, stopped by fini however the test ends */

static void fini(void)
{
	const char *s = getenv("ECCR_TEST_WORKER_PID");

	if (worker > 0 && kill(worker, SIGTERM) == 0)
		waitpid(worker, NULL, 0);
	if (s != NULL)
		kill((pid_t)atol(s), SIGCONT);
}

/* The harness's configuration plus `extra` (a repeated [worker] section
 * adds keys the harness's does not set), with log.level = debug when
 * asked, written aside and renamed as an operator's editor or
 * configuration manager would. */
static void write_conf(const char *extra, bool debug)
{
	char tmp[1100], line[4096];
	FILE *in = fopen(getenv("ECCR_TEST_CONFIG"), "r"), *out;

	snprintf(tmp, sizeof tmp, "%s.new", conf);
	cr_assert_not_null(in);
	cr_assert_not_null(out = fopen(tmp, "w"));
	while (fgets(line, sizeof line, in) != NULL)
		fputs(debug && strncmp(line, "level = ", 8) == 0 ? "level = debug\n" : line, out);
	fprintf(out, "\n%s\n", extra);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
	cr_assert_eq(rename(tmp, conf), 0);
}

static pid_t start_worker(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (freopen("/dev/null", "w", stdout) == NULL || freopen(logfile, "a", stderr) == NULL)
			_exit(126);
		execl(getenv("ECCR_TEST_WORKER"), "eccr-worker", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void insert_jobs(const char *tag, int n, int sleep_ms)
{
	char sql[512];

	snprintf(sql, sizeof sql, "WITH x AS (INSERT INTO jobs (type, payload, max_attempts, created_by)"
	    " SELECT 'noop', jsonb_build_object('tag', $1::text, 'sleep_ms', %d), 1, 'tests'"
	    " FROM generate_series(1, %d) RETURNING 1) SELECT count(*) FROM x", sleep_ms, n);
	cr_assert_eq(db_long(sql, tag), n);
}

/* The most jobs of tag seen running at once while watching for ms. */
static long most_running(const char *tag, int ms)
{
	long most = 0, v;
	int i;

	for (i = 0; i < ms / 50; i++) {
		v = db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'running'", tag);
		if (v > most)
			most = v;
		usleep(50000);
	}
	return most;
}

static long succeeded(const char *tag)
{
	return db_long("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1 AND status = 'succeeded'", tag);
}

/* Wait (20 s at most) until the n jobs of tag have succeeded. */
static void wait_done(const char *tag, long n)
{
	int i;

	for (i = 0; i < 200 && succeeded(tag) < n; i++)
		usleep(100000);
	cr_assert_eq(succeeded(tag), n, "jobs %s", tag);
}

static bool log_has(const char *needle)
{
	char line[4096];
	FILE *f = fopen(logfile, "r");
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static bool alive(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == 0;
}

Test(reload, sighup_applies_max_concurrent_and_survives_a_broken_file, .timeout = 120,
    .fini = fini)
{
	const char *s = getenv("ECCR_TEST_WORKER_PID"), *dir = getenv("ECCR_TEST_STACK_DIR");
	char a[64], b[64], c[64];
	int status, i;
	pid_t w;

	if (s == NULL || dir == NULL)
		cr_skip_test("needs the integration harness");
	snprintf(conf, sizeof conf, "%s/reload-%s.conf", dir, uniq());
	snprintf(logfile, sizeof logfile, "%s.log", conf);
	snprintf(a, sizeof a, "reload-a-%s", uniq());
	snprintf(b, sizeof b, "reload-b-%s", uniq());
	snprintf(c, sizeof c, "reload-c-%s", uniq());
	kill((pid_t)atol(s), SIGSTOP);
	worker = 0;

	write_conf("[worker]\nmax_concurrent = 1", false);
	w = worker = start_worker();
	insert_jobs(a, 4, 600);
	/* One at a time. */
	cr_assert_eq(most_running(a, 1500), 1);
	wait_done(a, 4);

	/* Four at a time from the reload on. */
	write_conf("[worker]\nmax_concurrent = 4", true);
	cr_assert_eq(kill(w, SIGHUP), 0);
	insert_jobs(b, 4, 1500);
	cr_assert_eq(most_running(b, 1200), 4);
	for (i = 0; i < 100 && !log_has("SIGHUP: configuration reloaded"); i++)
		usleep(50000);
	cr_assert(log_has("SIGHUP: worker.max_concurrent 1 -> 4"));
	cr_assert(log_has("SIGHUP: [log] target and level applied"));
	wait_done(b, 4);

	/* A broken file: logged with its line, the worker keeps its settings. */
	write_conf("[worker]\nmax_concurrent = many", true);
	cr_assert_eq(kill(w, SIGHUP), 0);
	for (i = 0; i < 100 && !log_has("keeping the current configuration"); i++)
		usleep(50000);
	cr_assert(log_has("max_concurrent: expected an integer"), "the reason is logged");
	cr_assert(alive(w), "the worker died on a broken file");
	insert_jobs(c, 4, 1500);
	cr_assert_eq(most_running(c, 1200), 4);
	wait_done(c, 4);

	cr_assert_eq(kill(w, SIGTERM), 0);
	cr_assert_eq(waitpid(w, &status, 0), w);
	worker = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker status %d", status);
}
