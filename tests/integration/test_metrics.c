/* Integration tests: GET /metrics through lighttpd, against the harness's
 * eccr-fcgi and eccr-worker (each with its counter file under
 * [metrics] dir), with metrics.public off: admin only.  One test starts a
 * second eccr-fcgi with metrics.public on, on its own socket, and talks
 * FastCGI to it with cgi-fcgi (libfcgi-bin). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static struct resp *scrape(void)
{
	struct resp *r = http_root("GET", "/metrics", tok_admin());

	cr_assert_eq(r->status, 200, "%ld %s", r->status, r->body);
	return r;
}

/* The value of the sample whose name and labels are exactly `series`
 * ("name{a=\"b\"}" or "name"); -1 when absent. */
static double sample(const struct resp *r, const char *series)
{
	size_t n = strlen(series);
	const char *p = r->body;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

static double scrape_sample(const char *series)
{
	struct resp *r = scrape();
	double v = sample(r, series);

	resp_free(r);
	return v;
}

/* ------------------------------------------------------------ a small 0.0.4 parser */

static const char *metric_name(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)*p) || *p == '_' || *p == ':'))
		return NULL;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':')
		n++;
	if (n >= outlen)
		return NULL;
	memcpy(out, p, n);
	out[n] = '\0';
	return p + n;
}

/* {name="value",...}: returns what follows '}' or NULL when malformed. */
static const char *labels(const char *p)
{
	char name[128];

	if (*p++ != '{')
		return NULL;
	while (*p != '}') {
		if ((p = metric_name(p, name, sizeof name)) == NULL || strchr(name, ':') != NULL)
			return NULL;
		if (*p++ != '=' || *p++ != '"')
			return NULL;
		while (*p != '"') {
			if (*p == '\0' || *p == '\n')
				return NULL;
			if (*p == '\\' && (p[1] != '\\' && p[1] != '"' && p[1] != 'n'))
				return NULL;
			p += *p == '\\' ? 2 : 1;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

/* The family a sample belongs to: name less _bucket/_sum/_count when a
 * histogram of that name was declared. */
static bool declared(const char *typed, const char *name)
{
	static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };
	char want[160];
	size_t i;

	for (i = 0; i < 4; i++) {
		size_t n = strlen(name), s = strlen(suffixes[i]);

		if (n <= s || strcmp(name + n - s, suffixes[i]) != 0)
			continue;
		snprintf(want, sizeof want, "\n%.*s ", (int)(n - s), name);
		if (strstr(typed, want) != NULL)
			return true;
	}
	return false;
}

Test(metrics, exposition_format_parses)
{
	struct resp *r = scrape();
	char ct[128], name[128], want[160], typed[16384] = "\n";
	const char *line = r->body, *p;
	int samples = 0;

	cr_assert_not_null(resp_header(r, "Content-Type", ct, sizeof ct));
	cr_assert_str_eq(ct, "text/plain; version=0.0.4; charset=utf-8");
	cr_assert(r->len > 0 && r->body[r->len - 1] == '\n', "the text ends with a newline");
	while (*line != '\0') {
		const char *end = strchr(line, '\n');
		char *num;

		cr_assert_not_null(end);
		if (strncmp(line, "# HELP ", 7) == 0) {
			cr_assert_not_null(metric_name(line + 7, name, sizeof name), "%.*s", (int)(end - line), line);
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			p = metric_name(line + 7, name, sizeof name);
			cr_assert_not_null(p);
			cr_assert(strncmp(p, " counter\n", 9) == 0 || strncmp(p, " gauge\n", 7) == 0 ||
			    strncmp(p, " histogram\n", 11) == 0, "%.*s", (int)(end - line), line);
			snprintf(want, sizeof want, "\n%s \n", name);
			cr_assert_null(strstr(typed, want), "TYPE %s declared twice", name);
			cr_assert_lt(strlen(typed) + strlen(want), sizeof typed);
			strcat(typed, want + 1);
		} else {
			/* name{labels} value */
			p = metric_name(line, name, sizeof name);
			cr_assert_not_null(p, "%.*s", (int)(end - line), line);
			if (*p == '{')
				p = labels(p);
			cr_assert_not_null(p, "bad labels: %.*s", (int)(end - line), line);
			cr_assert_eq(*p, ' ', "%.*s", (int)(end - line), line);
			strtod(p + 1, &num);
			cr_assert(num > p + 1 && num == end, "bad value: %.*s", (int)(end - line), line);
			cr_assert(declared(typed, name), "%s has no TYPE line before it", name);
			samples++;
		}
		line = end + 1;
	}
	cr_assert_gt(samples, 5);
	/* Everything API.md lists is there. */
	cr_assert_geq(sample(r, "eccr_events_total{kind=\"durable\"}"), 0);
	cr_assert_geq(sample(r, "eccr_outbox_backlog_events"), 0);
	cr_assert_geq(sample(r, "eccr_outbox_oldest_undelivered_age_seconds"), 0);
	cr_assert_geq(sample(r, "eccr_deliveries_total{sink=\"activity-pg\",outcome=\"ok\"}"), 0);
	cr_assert_eq(sample(r, "eccr_database_up"), 1);
	cr_assert_geq(sample(r, "eccr_jobs{status=\"queued\",type=\"noop\"}"), 0);
	cr_assert_geq(sample(r, "eccr_jobs{status=\"running\",type=\"noop\"}"), 0);
	cr_assert_geq(sample(r, "eccr_jobs_oldest_queued_age_seconds"), 0);
	/* The harness runs one eccr-fcgi and one eccr-worker. */
	cr_assert_geq(sample(r, "eccr_metrics_processes"), 2);
	resp_free(r);
}

Test(metrics, requests_counted_by_route_pattern_and_status)
{
	const char *series = "eccr_http_requests_total{method=\"GET\",route=\"/api/v1/jobs/{}\",status=\"404\"}";
	const char *count = "eccr_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/jobs/{}\"}";
	const char *inf = "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/jobs/{}\",le=\"+Inf\"}";
	double before = scrape_sample(series), before_count = scrape_sample(count), after;
	char path[128], id[64];
	struct resp *r;
	int i;

	snprintf(id, sizeof id, "%08x-0000-4000-8000-000000000000", (unsigned)getpid());
	snprintf(path, sizeof path, "/jobs/%s", id);
	for (i = 0; i < 20; i++) {
		r = http("GET", path, tok_viewer(), NULL, NULL, 0, NULL);
		cr_assert_eq(r->status, 404);
		resp_free(r);
	}
	r = scrape();
	after = sample(r, series);
	cr_assert_eq(after - (before < 0 ? 0 : before), 20, "%g -> %g", before, after);
	cr_assert_eq(sample(r, count) - (before_count < 0 ? 0 : before_count), 20);
	cr_assert_eq(sample(r, inf), sample(r, count));
	/* Labels are route patterns, never the raw path. */
	cr_assert_null(strstr(r->body, id));
	resp_free(r);
}

Test(metrics, unmatched_paths_share_one_series)
{
	const char *series = "eccr_http_requests_total{method=\"any\",route=\"unmatched\",status=\"404\"}";
	double before = scrape_sample(series), after;
	/* Under the API's prefix: the web server answers other unknown paths
	 * itself (they are the dashboard's files), so eccr-fcgi never sees them. */
	struct resp *r = http_json("GET", "/no/such/thing-xyzzy", NULL, NULL);

	cr_assert_eq(r->status, 404);
	resp_free(r);
	r = scrape();
	after = sample(r, series);
	cr_assert_eq(after - (before < 0 ? 0 : before), 1);
	cr_assert_null(strstr(r->body, "xyzzy"));
	resp_free(r);
}

Test(metrics, events_and_deliveries_count_up, .timeout = 60)
{
	const char *ev = "eccr_events_total{kind=\"durable\"}";
	const char *ok = "eccr_deliveries_total{sink=\"activity-pg\",outcome=\"ok\"}";
	double ev0 = scrape_sample(ev), ok0 = scrape_sample(ok), v = -1;
	char body[128];
	struct resp *r;
	int i;

	snprintf(body, sizeof body, "{\"title\":\"metrics %s\"}", uniq());
	r = http_json("POST", "/episodes", tok_editor(), body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	resp_free(r);
	cr_assert_geq(scrape_sample(ev), ev0 + 1);
	/* The dispatcher delivers after the response: wait for it. */
	for (i = 0; i < 100 && (v = scrape_sample(ok)) < ok0 + 1; i++)
		usleep(100000);
	cr_assert_geq(v, ok0 + 1, "%g -> %g", ok0, v);
}

/* ------------------------------------------------------------ jobs */

static void post_job(const char *json)
{
	struct resp *r = http_json("POST", "/jobs", tok_editor(), json);

	cr_assert_eq(r->status, 201, "%ld %s (%s)", r->status, r->body, json);
	resp_free(r);
}

static double delta(double before, double after)
{
	return after - (before < 0 ? 0 : before);
}

/* eccr-worker times each handler run into its counter file; a scrape of
 * eccr-fcgi adds it up: eccr_job_run_seconds{type,outcome}. */
Test(metrics, job_run_times_by_type_and_outcome, .timeout = 60)
{
	const char *ok = "eccr_job_run_seconds_count{type=\"noop\",outcome=\"succeeded\"}";
	const char *ok_sum = "eccr_job_run_seconds_sum{type=\"noop\",outcome=\"succeeded\"}";
	const char *ok_inf = "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"+Inf\"}";
	const char *ok_fast = "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"0.01\"}";
	const char *failed = "eccr_job_run_seconds_count{type=\"noop\",outcome=\"failed\"}";
	double ok0, sum0, fast0, failed0;
	char tag[64], body[256];
	struct resp *r;
	int i;

	r = scrape();
	ok0 = sample(r, ok);
	sum0 = sample(r, ok_sum);
	fast0 = sample(r, ok_fast);
	failed0 = sample(r, failed);
	resp_free(r);
	snprintf(tag, sizeof tag, "metrics-%s", uniq());
	/* Three that work 50 ms each, one that fails for good. */
	for (i = 0; i < 3; i++) {
		snprintf(body, sizeof body, "{\"type\":\"noop\",\"payload\":{\"tag\":\"%s\","
		    "\"sleep_ms\":50}}", tag);
		post_job(body);
	}
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"max_attempts\":1,"
	    "\"payload\":{\"tag\":\"%s\",\"fail_permanently\":true}}", tag);
	post_job(body);
	/* The worker counts a run before it records its outcome. */
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1"
	    " AND status IN ('succeeded', 'failed')", tag, 4, 30), 4);

	r = scrape();
	cr_assert_geq(delta(ok0, sample(r, ok)), 3, "%g -> %g", ok0, sample(r, ok));
	cr_assert_geq(delta(failed0, sample(r, failed)), 1, "%g -> %g", failed0, sample(r, failed));
	cr_assert_eq(sample(r, ok_inf), sample(r, ok));
	/* 50 ms each: at least 0.15 s more, none of it under 10 ms. */
	cr_assert_geq(delta(sum0, sample(r, ok_sum)), 0.15, "%g -> %g", sum0, sample(r, ok_sum));
	cr_assert_leq(delta(fast0, sample(r, ok_fast)), delta(ok0, sample(r, ok)) - 3);
	/* Job types are labels; job ids and tags never are. */
	cr_assert_null(strstr(r->body, tag));
	resp_free(r);
}

/* eccr_jobs{status,type} and eccr_jobs_oldest_queued_age_seconds, with the
 * harness's worker paused so that queued jobs stay queued. */
Test(metrics, queued_jobs_and_the_oldest_due_one, .timeout = 60)
{
	const char *queued = "eccr_jobs{status=\"queued\",type=\"noop\"}";
	const char *age = "eccr_jobs_oldest_queued_age_seconds";
	const char *wpid = getenv("ECCR_TEST_WORKER_PID");
	const char *count_sql = "SELECT count(*) FROM jobs WHERE status = 'queued' AND type = $1";
	char tag[64], body[256], when[32];
	double q, a, running_checksum, queued_results;
	time_t due;
	long in_db, in_db_after;
	pid_t h;
	struct resp *r;

	if (wpid == NULL)
		cr_skip_test("ECCR_TEST_WORKER_PID is not set");
	h = (pid_t)atol(wpid);
	snprintf(tag, sizeof tag, "metrics-q-%s", uniq());
	kill(h, SIGSTOP);
	/* One for later (not due: counted as queued, not in the age) and one
	 * due two minutes ago. */
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"run_at\":\"2099-01-01T00:00:00Z\","
	    "\"payload\":{\"tag\":\"%s\"}}", tag);
	post_job(body);
	due = time(NULL) - 120;
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&due));
	snprintf(body, sizeof body, "{\"type\":\"noop\",\"run_at\":\"%s\","
	    "\"payload\":{\"tag\":\"%s\"}}", when, tag);
	post_job(body);
	in_db = db_long(count_sql, "noop");
	r = scrape();
	in_db_after = db_long(count_sql, "noop");
	q = sample(r, queued);
	a = sample(r, age);
	/* Loaded job types without jobs read 0 rather than being absent. */
	running_checksum = sample(r, "eccr_jobs{status=\"running\",type=\"checksum\"}");
	queued_results = sample(r, "eccr_jobs{status=\"queued\",type=\"results\"}");
	resp_free(r);
	kill(h, SIGCONT);          /* before any assertion: later tests need the worker */

	cr_assert_geq(in_db, 2);
	cr_assert_eq(in_db, in_db_after, "the queue moved while the worker was paused");
	cr_assert_eq(q, (double)in_db, "%g queued in /metrics, %ld in the table", q, in_db);
	cr_assert_geq(a, 119, "oldest due queued job: %g s", a);
	cr_assert_geq(running_checksum, 0);
	cr_assert_geq(queued_results, 0);

	/* The worker takes the due one: the age is the table's again (0 when
	 * nothing is due), and the one for 2099 is still counted. */
	cr_assert_eq(db_wait_for("SELECT count(*) FROM jobs WHERE payload->>'tag' = $1"
	    " AND status = 'succeeded'", tag, 1, 30), 1);
	r = scrape();
	a = sample(r, age);
	{
		char *db_age = db_scalar("SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8"
		    " FROM jobs WHERE status = 'queued' AND run_at <= now()", (char *)NULL);

		cr_assert_not_null(db_age);
		cr_assert_lt(a, 119, "%g", a);
		cr_assert_leq(a - strtod(db_age, NULL), 2, "/metrics %g, table %s", a, db_age);
		free(db_age);
	}
	cr_assert_geq(sample(r, queued), 1);
	resp_free(r);
}

Test(metrics, dead_deliveries_match_the_table)
{
	struct resp *r = scrape();
	long dead = db_long("SELECT count(*) FROM event_deliveries WHERE status = 'dead'"
	    " AND sink = $1", "sink-dead");
	double v = sample(r, "eccr_deliveries_dead{sink=\"sink-dead\"}");

	/* A sink with no dead delivery has no series. */
	cr_assert_eq(dead == 0 ? -1 : (double)dead, v);
	resp_free(r);
}

Test(metrics, admin_only_unless_public)
{
	struct resp *r = http_root("GET", "/metrics", NULL);

	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_root("GET", "/metrics", "not-a-token");
	assert_problem(r, 401, "unauthorized");
	resp_free(r);
	r = http_root("GET", "/metrics", tok_viewer());
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_root("GET", "/metrics", tok_editor());
	assert_problem(r, 403, "forbidden");
	resp_free(r);
	r = http_root("GET", "/metrics", tok_admin());
	cr_assert_eq(r->status, 200);
	resp_free(r);
}

/* A killed eccr-fcgi's counters are folded into the archive by the next
 * process: the sum never goes backwards. */
Test(metrics, counters_survive_a_killed_process, .timeout = 60)
{
	const char *series = "eccr_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}";
	char cmd[1024];
	double before = scrape_sample(series), after = -1;
	int i;

	snprintf(cmd, sizeof cmd, "pkill -KILL -xf '%s/src/fcgi/eccr-fcgi'", getenv("ECCR_TEST_BUILD"));
	cr_assert_eq(system(cmd), 0, "no eccr-fcgi to kill");
	/* lighttpd answers 5xx until it respawns the backend. */
	for (i = 0; i < 100; i++) {
		struct resp *r = http_root("GET", "/metrics", tok_admin());

		if (r->status == 200)
			after = sample(r, series);
		resp_free(r);
		if (after >= 0)
			break;
		usleep(100000);
	}
	/* Every scrape before the kill was counted (this one is counted after
	 * its response is written, so it is not in its own body). */
	cr_assert_geq(after, before + 1, "%g -> %g", before, after);
}

/* metrics.public = true: a second eccr-fcgi with that setting answers
 * without credentials.  It shares metrics.dir with the harness's eccr-fcgi
 * and eccr-worker, so its scrape adds up their counters: requests the
 * harness's process answered show in the other process's scrape. */
Test(metrics, public_mode_sums_every_live_process, .timeout = 60)
{
	const char *dir = getenv("ECCR_TEST_STACK_DIR");
	const char *series = "eccr_http_requests_total{method=\"GET\",route=\"/api/v1/jobs/{}\",status=\"404\"}";
	char conf[1024], sock[1024], logf[1100], cmd[4096], out[1 << 16];
	struct resp *r;
	struct stat st;
	double before = scrape_sample(series);
	FILE *p;
	size_t n = 0;
	pid_t pid;
	int i, status;

	if (dir == NULL)
		cr_skip_test("needs the integration harness");
	snprintf(conf, sizeof conf, "%s/public-%s.conf", dir, uniq());
	snprintf(sock, sizeof sock, "%s/public-%s.sock", dir, uniq());
	snprintf(logf, sizeof logf, "%s.log", conf);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf '\\n[metrics]\\npublic = true\\n' >>'%s'",
	    getenv("ECCR_TEST_CONFIG"), conf, conf);
	cr_assert_eq(system(cmd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (freopen(logf, "a", stderr) == NULL)
			_exit(126);
		snprintf(cmd, sizeof cmd, "%s/src/fcgi/eccr-fcgi", getenv("ECCR_TEST_BUILD"));
		execl(cmd, "eccr-fcgi", "-c", conf, "-s", sock, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100 && stat(sock, &st) != 0; i++)
		usleep(50000);
	cr_assert_eq(stat(sock, &st), 0, "eccr-fcgi did not listen on %s", sock);

	/* Three 404s answered by the harness's eccr-fcgi, behind lighttpd. */
	for (i = 0; i < 3; i++) {
		r = http("GET", "/jobs/00000000-0000-4000-8000-00000000abcd", tok_viewer(), NULL, NULL, 0, NULL);
		cr_assert_eq(r->status, 404);
		resp_free(r);
	}
	/* No token at all, straight to the public process. */
	snprintf(cmd, sizeof cmd, "env -i REQUEST_METHOD=GET REQUEST_URI=/metrics QUERY_STRING= "
	    "SERVER_PROTOCOL=HTTP/1.1 cgi-fcgi -bind -connect '%s'", sock);
	cr_assert_not_null(p = popen(cmd, "r"));
	while (n < sizeof out - 1 && (i = (int)fread(out + n, 1, sizeof out - 1 - n, p)) > 0)
		n += (size_t)i;
	out[n] = '\0';
	pclose(p);
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "eccr-fcgi status %d", status);

	cr_assert(strncmp(out, "Status: 200", 11) == 0, "%.200s", out);
	cr_assert_not_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
	{
		struct resp fake = { .body = strstr(out, "\r\n\r\n") };
		double v;

		cr_assert_not_null(fake.body);
		fake.body += 4;
		/* The harness's eccr-fcgi and eccr-worker, and this one. */
		cr_assert_geq(sample(&fake, "eccr_metrics_processes"), 3);
		v = sample(&fake, series);
		cr_assert_geq(v - (before < 0 ? 0 : before), 3, "%g -> %g", before, v);
	}
}
