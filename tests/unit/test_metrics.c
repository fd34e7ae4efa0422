/* Unit tests: the pure half of metrics (metrics_text.c): status and
 * bucket slots, merging regions by label, the text format, the gate. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
