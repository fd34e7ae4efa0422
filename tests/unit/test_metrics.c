/* Unit tests: the pure half of metrics (metrics_text.c): status and
 * bucket slots, merging regions by label, the text format, the gate;
 * and (metrics.c) folding into an archive of another layout. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eccr/plugin.h"
#include "metrics.h"

static struct eccr_metrics_region *region(void)
{
	struct eccr_metrics_region *r = malloc(sizeof *r);

	cr_assert_not_null(r);
	eccr_metrics_region_init(r);
	return r;
}

static void label_route(struct eccr_metrics_region *r, size_t i, const char *m, const char *p)
{
	r->route[i].used = 1;
	snprintf(r->route[i].method, sizeof r->route[i].method, "%s", m);
	snprintf(r->route[i].pattern, sizeof r->route[i].pattern, "%s", p);
}

static void label_sink(struct eccr_metrics_region *r, size_t i, const char *name)
{
	r->sink[i].used = 1;
	snprintf(r->sink[i].name, sizeof r->sink[i].name, "%s", name);
}

static void label_job(struct eccr_metrics_region *r, size_t i, const char *type)
{
	r->job[i].used = 1;
	snprintf(r->job[i].type, sizeof r->job[i].type, "%s", type);
}

static char *format(const struct eccr_metrics_region *r, const struct eccr_metrics_gauges *g)
{
	struct eccr_buf b = { 0 };

	eccr_metrics_format(&b, r, g);
	cr_assert(!b.oom);
	return b.p;
}

Test(metrics, status_slots)
{
	cr_assert_eq(eccr_metrics_status_slot(200), 0);
	cr_assert_neq(eccr_metrics_status_slot(404), eccr_metrics_status_slot(405));
	cr_assert_eq(eccr_metrics_status_slot(418), ECCR_METRICS_STATUSES - 1);
	cr_assert_eq(eccr_metrics_status_slot(0), ECCR_METRICS_STATUSES - 1);
	cr_assert_eq(eccr_metrics_status_slot(-1), ECCR_METRICS_STATUSES - 1);
}

Test(metrics, buckets_are_upper_bounds)
{
	cr_assert_eq(eccr_metrics_bucket(0), 0);
	cr_assert_eq(eccr_metrics_bucket(1000), 0);         /* le="0.001" */
	cr_assert_eq(eccr_metrics_bucket(1001), 1);
	cr_assert_eq(eccr_metrics_bucket(10000000), ECCR_METRICS_BUCKETS - 2);
	cr_assert_eq(eccr_metrics_bucket(10000001), ECCR_METRICS_BUCKETS - 1);
	cr_assert_eq(eccr_metrics_bucket(UINT64_MAX), ECCR_METRICS_BUCKETS - 1);
}

Test(metrics, job_buckets_suit_jobs)
{
	cr_assert_eq(eccr_metrics_job_bucket(0), 0);
	cr_assert_eq(eccr_metrics_job_bucket(10000), 0);        /* le="0.01" */
	cr_assert_eq(eccr_metrics_job_bucket(10001), 1);
	cr_assert_eq(eccr_metrics_job_bucket(1000000), 4);      /* le="1" */
	cr_assert_eq(eccr_metrics_job_bucket(3600000000ULL), ECCR_METRICS_JOB_BUCKETS - 2);
	cr_assert_eq(eccr_metrics_job_bucket(3600000001ULL), ECCR_METRICS_JOB_BUCKETS - 1);
	cr_assert_eq(eccr_metrics_job_bucket(UINT64_MAX), ECCR_METRICS_JOB_BUCKETS - 1);
}

Test(metrics, merge_job_types_by_label)
{
	struct eccr_metrics_region *a = region(), *b = region(), *sum = region();

	label_job(a, 0, "noop");
	label_job(a, 1, "checksum");
	a->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][0] = 3;
	a->job[0].sum_us[ECCR_METRICS_JOB_SUCCEEDED] = 1500;
	a->job[1].bucket[ECCR_METRICS_JOB_FAILED][5] = 1;
	/* Another worker: the same types in other slots, and a new one. */
	label_job(b, 2, "checksum");
	label_job(b, 7, "noop");
	label_job(b, 8, "transcode");
	b->job[7].bucket[ECCR_METRICS_JOB_SUCCEEDED][0] = 2;
	b->job[7].bucket[ECCR_METRICS_JOB_RETRY][1] = 1;
	b->job[7].sum_us[ECCR_METRICS_JOB_SUCCEEDED] = 500;
	b->job[2].bucket[ECCR_METRICS_JOB_FAILED][5] = 4;
	b->job[8].bucket[ECCR_METRICS_JOB_CANCELLED][12] = 1;

	cr_assert_eq(eccr_metrics_region_add(sum, a), 0);
	cr_assert_eq(eccr_metrics_region_add(sum, b), 0);
	cr_assert_str_eq(sum->job[0].type, "noop");
	cr_assert_eq(sum->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][0], 5);
	cr_assert_eq(sum->job[0].bucket[ECCR_METRICS_JOB_RETRY][1], 1);
	cr_assert_eq(sum->job[0].sum_us[ECCR_METRICS_JOB_SUCCEEDED], 2000);
	cr_assert_str_eq(sum->job[1].type, "checksum");
	cr_assert_eq(sum->job[1].bucket[ECCR_METRICS_JOB_FAILED][5], 5);
	cr_assert_str_eq(sum->job[2].type, "transcode");
	cr_assert_eq(sum->job[2].bucket[ECCR_METRICS_JOB_CANCELLED][12], 1);
	cr_assert_eq(sum->job[3].used, 0);
	free(a);
	free(b);
	free(sum);
}

Test(metrics, merge_drops_job_types_that_do_not_fit)
{
	struct eccr_metrics_region *a = region(), *b = region();
	size_t i;

	for (i = 0; i < ECCR_METRICS_JOB_TYPES; i++) {
		char name[16];

		snprintf(name, sizeof name, "a%zu", i);
		label_job(a, i, name);
	}
	label_job(b, 0, "a3");          /* already there: merged */
	label_job(b, 1, "extra");       /* no room */
	b->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][2] = 1;
	cr_assert_eq(eccr_metrics_region_add(a, b), 1);
	cr_assert_eq(a->job[3].bucket[ECCR_METRICS_JOB_SUCCEEDED][2], 1);
	free(a);
	free(b);
}

Test(metrics, merge_matches_labels_not_slots)
{
	struct eccr_metrics_region *a = region(), *b = region(), *sum = region();

	label_route(a, 0, "GET", "/api/v1/episodes");
	label_route(a, 1, "POST", "/api/v1/episodes");
	a->route[0].status[0] = 3;
	a->route[1].status[1] = 1;
	/* Another build: the same routes in other slots, and one more. */
	label_route(b, 0, "POST", "/api/v1/episodes");
	label_route(b, 5, "GET", "/api/v1/episodes");
	label_route(b, 6, "GET", "/api/v1/new");
	b->route[0].status[1] = 2;
	b->route[5].status[0] = 4;
	b->route[6].status[0] = 1;
	label_sink(a, 0, "activity-pg");
	a->sink[0].outcome[ECCR_METRICS_OK] = 7;
	label_sink(b, 3, "activity-pg");
	b->sink[3].outcome[ECCR_METRICS_OK] = 5;
	b->events[ECCR_METRICS_DURABLE] = 9;

	cr_assert_eq(eccr_metrics_region_add(sum, a), 0);
	cr_assert_eq(eccr_metrics_region_add(sum, b), 0);
	cr_assert_str_eq(sum->route[0].pattern, "/api/v1/episodes");
	cr_assert_str_eq(sum->route[0].method, "GET");
	cr_assert_eq(sum->route[0].status[0], 7);
	cr_assert_eq(sum->route[1].status[1], 3);
	cr_assert_str_eq(sum->route[2].pattern, "/api/v1/new");
	cr_assert_eq(sum->route[2].status[0], 1);
	cr_assert_eq(sum->route[3].used, 0);
	cr_assert_eq(sum->sink[0].outcome[ECCR_METRICS_OK], 12);
	cr_assert_eq(sum->sink[1].used, 0);
	cr_assert_eq(sum->events[ECCR_METRICS_DURABLE], 9);
	free(a);
	free(b);
	free(sum);
}

Test(metrics, merge_drops_what_does_not_fit)
{
	struct eccr_metrics_region *a = region(), *b = region();
	size_t i;

	for (i = 0; i < ECCR_METRICS_SINKS; i++) {
		char name[16];

		snprintf(name, sizeof name, "s%zu", i);
		label_sink(a, i, name);
		snprintf(name, sizeof name, "t%zu", i);
		label_sink(b, i, name);
	}
	cr_assert_eq(eccr_metrics_region_add(a, b), ECCR_METRICS_SINKS);
	free(a);
	free(b);
}

Test(metrics, text_format)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { .db_ok = true, .backlog_events = 3,
		.retry_deliveries = 2, .oldest_age_s = 1.5, .ndead = 1, .processes = 2 };
	char *text;

	snprintf(g.dead[0].sink, sizeof g.dead[0].sink, "sink-dead");
	g.dead[0].count = 4;
	label_route(r, 0, "GET", "/api/v1/episodes/{}");
	r->route[0].status[eccr_metrics_status_slot(200)] = 2;
	r->route[0].status[eccr_metrics_status_slot(404)] = 1;
	r->route[0].bucket[0] = 1;
	r->route[0].bucket[3] = 2;
	r->route[0].sum_us = 12500;
	label_route(r, 1, "GET", "/health");     /* never requested: no series */
	label_sink(r, 0, "activity-pg");
	r->sink[0].outcome[ECCR_METRICS_OK] = 5;
	r->sink[0].outcome[ECCR_METRICS_RETRY] = 1;
	r->events[ECCR_METRICS_DURABLE] = 6;
	text = format(r, &g);

	cr_assert_not_null(strstr(text,
	    "# HELP eccr_http_requests_total HTTP requests answered, by method, route pattern and status.\n"
	    "# TYPE eccr_http_requests_total counter\n"
	    "eccr_http_requests_total{method=\"GET\",route=\"/api/v1/episodes/{}\",status=\"200\"} 2\n"
	    "eccr_http_requests_total{method=\"GET\",route=\"/api/v1/episodes/{}\",status=\"404\"} 1\n"
	    "# HELP eccr_http_request_duration_seconds "), "%s", text);
	cr_assert_not_null(strstr(text, "# TYPE eccr_http_request_duration_seconds histogram\n"
	    "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/episodes/{}\",le=\"0.001\"} 1\n"
	    "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/episodes/{}\",le=\"0.0025\"} 1\n"
	    "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/episodes/{}\",le=\"0.005\"} 1\n"
	    "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/episodes/{}\",le=\"0.01\"} 3\n"),
	    "%s", text);
	cr_assert_not_null(strstr(text,
	    "eccr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/episodes/{}\",le=\"+Inf\"} 3\n"
	    "eccr_http_request_duration_seconds_sum{method=\"GET\",route=\"/api/v1/episodes/{}\"} 0.012500\n"
	    "eccr_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/episodes/{}\"} 3\n"),
	    "%s", text);
	cr_assert_null(strstr(text, "/health"));
	cr_assert_not_null(strstr(text, "eccr_events_total{kind=\"durable\"} 6\n"
	    "eccr_events_total{kind=\"transient\"} 0\n"));
	cr_assert_not_null(strstr(text,
	    "eccr_deliveries_total{sink=\"activity-pg\",outcome=\"ok\"} 5\n"
	    "eccr_deliveries_total{sink=\"activity-pg\",outcome=\"retry\"} 1\n"
	    "eccr_deliveries_total{sink=\"activity-pg\",outcome=\"fail\"} 0\n"));
	cr_assert_not_null(strstr(text, "\neccr_metrics_processes 2\n"));
	cr_assert_not_null(strstr(text, "\neccr_database_up 1\n"));
	cr_assert_not_null(strstr(text, "\neccr_outbox_backlog_events 3\n"));
	cr_assert_not_null(strstr(text, "\neccr_outbox_retry_deliveries 2\n"));
	cr_assert_not_null(strstr(text, "\neccr_outbox_oldest_undelivered_age_seconds 1.500\n"));
	cr_assert_not_null(strstr(text, "# TYPE eccr_deliveries_dead gauge\n"
	    "eccr_deliveries_dead{sink=\"sink-dead\"} 4\n"));
	cr_assert_eq(text[strlen(text) - 1], '\n');
	free(text);
	free(r);
}

Test(metrics, job_run_histogram_format)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { .db_ok = true, .oldest_age_s = -1 };
	char *text;
	const char *p;

	label_job(r, 0, "noop");
	r->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][0] = 2;     /* <= 0.01 s */
	r->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][4] = 1;     /* <= 1 s */
	r->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][13] = 1;    /* > 1 h */
	r->job[0].sum_us[ECCR_METRICS_JOB_SUCCEEDED] = 3600500000ULL + 12000;
	r->job[0].bucket[ECCR_METRICS_JOB_FAILED][6] = 1;
	r->job[0].sum_us[ECCR_METRICS_JOB_FAILED] = 7000000;
	label_job(r, 1, "idle");        /* labelled, never ran: no series */
	text = format(r, &g);

	cr_assert_not_null(strstr(text,
	    "# HELP eccr_job_run_seconds Time job handlers ran in eccr-worker, per attempt,"
	    " by job type and outcome (succeeded, failed, retry, cancelled).\n"
	    "# TYPE eccr_job_run_seconds histogram\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"0.01\"} 2\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"0.05\"} 2\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"0.1\"} 2\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"0.5\"} 2\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"1\"} 3\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"5\"} 3\n"), "%s", text);
	cr_assert_not_null(strstr(text,
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"3600\"} 3\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\",le=\"+Inf\"} 4\n"
	    "eccr_job_run_seconds_sum{type=\"noop\",outcome=\"succeeded\"} 3600.512000\n"
	    "eccr_job_run_seconds_count{type=\"noop\",outcome=\"succeeded\"} 4\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"failed\",le=\"0.01\"} 0\n"),
	    "%s", text);
	cr_assert_not_null(strstr(text,
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"failed\",le=\"5\"} 0\n"
	    "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"failed\",le=\"10\"} 1\n"), "%s", text);
	cr_assert_not_null(strstr(text,
	    "eccr_job_run_seconds_sum{type=\"noop\",outcome=\"failed\"} 7.000000\n"
	    "eccr_job_run_seconds_count{type=\"noop\",outcome=\"failed\"} 1\n"), "%s", text);
	/* Fourteen buckets per series, in increasing order of le. */
	p = text;
	{
		int n = 0;

		while ((p = strstr(p, "eccr_job_run_seconds_bucket{type=\"noop\",outcome=\"succeeded\"")) != NULL) {
			n++;
			p++;
		}
		cr_assert_eq(n, ECCR_METRICS_JOB_BUCKETS);
	}
	cr_assert_null(strstr(text, "outcome=\"retry\""));
	cr_assert_null(strstr(text, "outcome=\"cancelled\""));
	cr_assert_null(strstr(text, "type=\"idle\""));
	free(text);
	free(r);
}

Test(metrics, job_gauges_format)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { .db_ok = true, .oldest_age_s = -1,
		.oldest_queued_s = 42.25, .njobs = 3 };
	char *text;

	snprintf(g.jobs[0].status, sizeof g.jobs[0].status, "queued");
	snprintf(g.jobs[0].type, sizeof g.jobs[0].type, "checksum");
	g.jobs[0].count = 7;
	snprintf(g.jobs[1].status, sizeof g.jobs[1].status, "running");
	snprintf(g.jobs[1].type, sizeof g.jobs[1].type, "checksum");
	g.jobs[1].count = 2;
	snprintf(g.jobs[2].status, sizeof g.jobs[2].status, "queued");
	snprintf(g.jobs[2].type, sizeof g.jobs[2].type, "no\"op");
	g.jobs[2].count = 0;
	text = format(r, &g);

	cr_assert_not_null(strstr(text, "# HELP eccr_jobs Live jobs by status (queued, running) and type;"
	    " finished jobs are not counted."), "%s", text);
	cr_assert_not_null(strstr(text, "# TYPE eccr_jobs gauge\n"
	    "eccr_jobs{status=\"queued\",type=\"checksum\"} 7\n"
	    "eccr_jobs{status=\"running\",type=\"checksum\"} 2\n"
	    "eccr_jobs{status=\"queued\",type=\"no\\\"op\"} 0\n"
	    "# HELP eccr_jobs_oldest_queued_age_seconds "), "%s", text);
	cr_assert_not_null(strstr(text, "# TYPE eccr_jobs_oldest_queued_age_seconds gauge\n"
	    "eccr_jobs_oldest_queued_age_seconds 42.250\n"), "%s", text);
	free(text);
	free(r);
	/* None due: 0, as the outbox's oldest age. */
	r = region();
	g.oldest_queued_s = -1;
	text = format(r, &g);
	cr_assert_not_null(strstr(text, "\neccr_jobs_oldest_queued_age_seconds 0.000\n"), "%s", text);
	free(text);
	free(r);
}

Test(metrics, label_values_are_escaped)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { 0 };
	char *text;

	label_sink(r, 0, "a\"b\\c\nd");
	text = format(r, &g);
	cr_assert_not_null(strstr(text, "{sink=\"a\\\"b\\\\c\\nd\",outcome=\"ok\"} 0\n"), "%s", text);
	free(text);
	free(r);
}

Test(metrics, database_down_leaves_its_gauges_out)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { .db_ok = false, .backlog_events = 99 };
	char *text = format(r, &g);

	cr_assert_not_null(strstr(text, "\neccr_database_up 0\n"));
	cr_assert_null(strstr(text, "eccr_outbox_backlog_events"));
	cr_assert_null(strstr(text, "eccr_jobs"));
	cr_assert_null(strstr(text, "99"));
	free(text);
	free(r);
}

Test(metrics, no_pending_work_is_age_zero)
{
	struct eccr_metrics_region *r = region();
	struct eccr_metrics_gauges g = { .db_ok = true, .oldest_age_s = -1 };
	char *text = format(r, &g);

	cr_assert_not_null(strstr(text, "\neccr_outbox_oldest_undelivered_age_seconds 0.000\n"));
	free(text);
	free(r);
}

Test(metrics, gate)
{
	cr_assert_eq(eccr_metrics_gate(true, false, false), 0);    /* metrics.public */
	cr_assert_eq(eccr_metrics_gate(true, true, false), 0);
	cr_assert_eq(eccr_metrics_gate(false, false, false), 401);
	cr_assert_eq(eccr_metrics_gate(false, true, false), 403);
	cr_assert_eq(eccr_metrics_gate(false, true, true), 0);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* After an upgrade metrics.dir may hold an archive.m of the old layout:
 * it is started afresh, so the files of dead processes are still folded
 * (and removed) instead of piling up. */
Test(metrics, archive_of_another_layout_is_reset)
{
	char dir[] = "/tmp/eccr-metrics-XXXXXX", path[512], err[256];
	struct eccr_metrics_region *dead = region(), *sum = region();
	static const char old[4096] = "ECCRMET1 and then some other layout";
	struct stat st;
	int live = -1;

	cr_assert_not_null(mkdtemp(dir));
	write_file(dir, "archive.m", old, sizeof old);
	/* A dead process of this layout (no lock held on its file). */
	label_job(dead, 0, "noop");
	dead->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][3] = 5;
	write_file(dir, "worker-1-00000000.m", dead, sizeof *dead);

	cr_assert_eq(eccr_metrics_open(dir, "test", err, sizeof err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/worker-1-00000000.m", dir);
	cr_assert_neq(stat(path, &st), 0, "the dead process's file was not folded");
	snprintf(path, sizeof path, "%s/archive.m", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, (off_t)sizeof *sum);
	eccr_metrics_job_run("noop", ECCR_METRICS_JOB_SUCCEEDED, 2000000);
	cr_assert_eq(eccr_metrics_collect(dir, sum, &live, err, sizeof err), 0, "%s", err);
	cr_assert_eq(live, 1);
	cr_assert_str_eq(sum->job[0].type, "noop");
	cr_assert_eq(sum->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][3], 5);
	cr_assert_eq(sum->job[0].bucket[ECCR_METRICS_JOB_SUCCEEDED][eccr_metrics_job_bucket(2000000)], 1);
	cr_assert_eq(sum->job[0].sum_us[ECCR_METRICS_JOB_SUCCEEDED], 2000000);
	free(dead);
	free(sum);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	cr_assert_eq(system(path), 0);
}
