/* metrics_text.c - the pure half of metrics: merging counter regions by
 * label, and writing the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Counters are read with relaxed atomic loads: the region may be a live
 * mapping other processes are adding to. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* The statuses ECCR answers; anything else counts as "other". */
static const int status_codes[ECCR_METRICS_STATUSES - 1] = {
	200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406,
	409, 410, 412, 413, 415, 416, 422, 428, 429, 500, 501, 502, 503, 504,
};

/* Upper bounds of the latency buckets, in microseconds and as printed. */
static const uint64_t bucket_us[ECCR_METRICS_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000,
};
static const char *const bucket_le[ECCR_METRICS_BUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10", "+Inf",
};

/* Job run times: from a quick handler to an hour-long transcode.  Not the
 * request buckets, which end at 10 s where jobs begin. */
static const uint64_t job_bucket_us[ECCR_METRICS_JOB_BUCKETS - 1] = {
	10000, 50000, 100000, 500000, 1000000, 5000000, 10000000, 30000000,
	60000000, 300000000, 600000000, 1800000000, 3600000000,
};
static const char *const job_bucket_le[ECCR_METRICS_JOB_BUCKETS] = {
	"0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "60", "300", "600", "1800",
	"3600", "+Inf",
};
static const char *const job_outcomes[ECCR_METRICS_JOB_NOUTCOMES] = {
	"succeeded", "failed", "retry", "cancelled",
};

static const char *const event_kinds[ECCR_METRICS_NEVENTS] = { "durable", "transient" };
static const char *const outcomes[ECCR_METRICS_NOUTCOMES] = { "ok", "retry", "fail" };

void eccr_metrics_region_init(struct eccr_metrics_region *r)
{
	memset(r, 0, sizeof *r);
	r->magic = ECCR_METRICS_MAGIC;
	r->size = sizeof *r;
}

size_t eccr_metrics_status_slot(int status)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_STATUSES - 1; i++)
		if (status_codes[i] == status)
			return i;
	return ECCR_METRICS_STATUSES - 1;
}

size_t eccr_metrics_bucket(uint64_t elapsed_us)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_BUCKETS - 1; i++)
		if (elapsed_us <= bucket_us[i])
			return i;
	return ECCR_METRICS_BUCKETS - 1;
}

size_t eccr_metrics_job_bucket(uint64_t elapsed_us)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_JOB_BUCKETS - 1; i++)
		if (elapsed_us <= job_bucket_us[i])
			return i;
	return ECCR_METRICS_JOB_BUCKETS - 1;
}

/* ------------------------------------------------------------ merging */

static void add_u64(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		__atomic_fetch_add(&dst[i], LOAD(&src[i]), __ATOMIC_RELAXED);
}

/* The label fields of a slot another process may still be writing are
 * only trusted once `used` is seen; copy them bounded. */
static void copy_label(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, size);
	dst[size - 1] = '\0';
}

static struct eccr_metrics_route *route_slot(struct eccr_metrics_region *dst,
    const struct eccr_metrics_route *s)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_ROUTES; i++) {
		struct eccr_metrics_route *d = &dst->route[i];

		if (!__atomic_load_n(&d->used, __ATOMIC_ACQUIRE)) {
			copy_label(d->method, s->method, sizeof d->method);
			copy_label(d->pattern, s->pattern, sizeof d->pattern);
			__atomic_store_n(&d->used, 1, __ATOMIC_RELEASE);
			return d;
		}
		if (strncmp(d->method, s->method, sizeof d->method) == 0 &&
		    strncmp(d->pattern, s->pattern, sizeof d->pattern) == 0)
			return d;
	}
	return NULL;
}

static struct eccr_metrics_sink *sink_slot(struct eccr_metrics_region *dst,
    const struct eccr_metrics_sink *s)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_SINKS; i++) {
		struct eccr_metrics_sink *d = &dst->sink[i];

		if (!__atomic_load_n(&d->used, __ATOMIC_ACQUIRE)) {
			copy_label(d->name, s->name, sizeof d->name);
			__atomic_store_n(&d->used, 1, __ATOMIC_RELEASE);
			return d;
		}
		if (strncmp(d->name, s->name, sizeof d->name) == 0)
			return d;
	}
	return NULL;
}

static struct eccr_metrics_job *job_slot(struct eccr_metrics_region *dst,
    const struct eccr_metrics_job *s)
{
	size_t i;

	for (i = 0; i < ECCR_METRICS_JOB_TYPES; i++) {
		struct eccr_metrics_job *d = &dst->job[i];

		if (!__atomic_load_n(&d->used, __ATOMIC_ACQUIRE)) {
			copy_label(d->type, s->type, sizeof d->type);
			__atomic_store_n(&d->used, 1, __ATOMIC_RELEASE);
			return d;
		}
		if (strncmp(d->type, s->type, sizeof d->type) == 0)
			return d;
	}
	return NULL;
}

size_t eccr_metrics_region_add(struct eccr_metrics_region *dst,
    const struct eccr_metrics_region *src)
{
	size_t i, dropped = 0;

	add_u64(dst->events, src->events, ECCR_METRICS_NEVENTS);
	for (i = 0; i < ECCR_METRICS_ROUTES; i++) {
		const struct eccr_metrics_route *s = &src->route[i];
		struct eccr_metrics_route *d;

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			continue;
		if ((d = route_slot(dst, s)) == NULL) {
			dropped++;
			continue;
		}
		add_u64(d->status, s->status, ECCR_METRICS_STATUSES);
		add_u64(d->bucket, s->bucket, ECCR_METRICS_BUCKETS);
		add_u64(&d->sum_us, &s->sum_us, 1);
	}
	for (i = 0; i < ECCR_METRICS_SINKS; i++) {
		const struct eccr_metrics_sink *s = &src->sink[i];
		struct eccr_metrics_sink *d;

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			continue;
		if ((d = sink_slot(dst, s)) == NULL) {
			dropped++;
			continue;
		}
		add_u64(d->outcome, s->outcome, ECCR_METRICS_NOUTCOMES);
	}
	for (i = 0; i < ECCR_METRICS_JOB_TYPES; i++) {
		const struct eccr_metrics_job *s = &src->job[i];
		struct eccr_metrics_job *d;

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			continue;
		if ((d = job_slot(dst, s)) == NULL) {
			dropped++;
			continue;
		}
		add_u64(&d->bucket[0][0], &s->bucket[0][0],
		    ECCR_METRICS_JOB_NOUTCOMES * ECCR_METRICS_JOB_BUCKETS);
		add_u64(d->sum_us, s->sum_us, ECCR_METRICS_JOB_NOUTCOMES);
	}
	return dropped;
}

/* ------------------------------------------------------------ text format */

int eccr_metrics_gate(bool public_, bool authenticated, bool is_admin)
{
	if (public_)
		return 0;
	if (!authenticated)
		return 401;
	return is_admin ? 0 : 403;
}

/* A label value: backslash, double quote and newline escaped (0.0.4). */
static void add_label(struct eccr_buf *b, const char *name, const char *value)
{
	eccr_buf_adds(b, name);
	eccr_buf_adds(b, "=\"");
	for (; *value != '\0'; value++) {
		if (*value == '\\' || *value == '"')
			eccr_buf_addc(b, '\\');
		if (*value == '\n')
			eccr_buf_adds(b, "\\n");
		else
			eccr_buf_addc(b, *value);
	}
	eccr_buf_addc(b, '"');
}

static void header(struct eccr_buf *b, const char *name, const char *type, const char *help)
{
	eccr_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void route_labels(struct eccr_buf *b, const struct eccr_metrics_route *r)
{
	add_label(b, "method", r->method);
	eccr_buf_addc(b, ',');
	add_label(b, "route", r->pattern);
}

static uint64_t route_count(const struct eccr_metrics_route *r)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < ECCR_METRICS_STATUSES; i++)
		n += LOAD(&r->status[i]);
	return n;
}

static void format_requests(struct eccr_buf *b, const struct eccr_metrics_region *m)
{
	size_t i, s;

	header(b, "eccr_http_requests_total", "counter",
	    "HTTP requests answered, by method, route pattern and status.");
	for (i = 0; i < ECCR_METRICS_ROUTES; i++) {
		const struct eccr_metrics_route *r = &m->route[i];

		if (!LOAD(&r->used))
			continue;
		for (s = 0; s < ECCR_METRICS_STATUSES; s++) {
			uint64_t n = LOAD(&r->status[s]);
			char code[8];

			if (n == 0)
				continue;
			if (s < ECCR_METRICS_STATUSES - 1)
				snprintf(code, sizeof code, "%d", status_codes[s]);
			else
				snprintf(code, sizeof code, "other");
			eccr_buf_adds(b, "eccr_http_requests_total{");
			route_labels(b, r);
			eccr_buf_printf(b, ",status=\"%s\"} %" PRIu64 "\n", code, n);
		}
	}
}

static void format_latency(struct eccr_buf *b, const struct eccr_metrics_region *m)
{
	size_t i, k;

	header(b, "eccr_http_request_duration_seconds", "histogram",
	    "Time from reading a request to handing its response to the web server.");
	for (i = 0; i < ECCR_METRICS_ROUTES; i++) {
		const struct eccr_metrics_route *r = &m->route[i];
		uint64_t cum = 0, count;

		if (!LOAD(&r->used) || (count = route_count(r)) == 0)
			continue;
		for (k = 0; k < ECCR_METRICS_BUCKETS; k++) {
			cum += LOAD(&r->bucket[k]);
			eccr_buf_adds(b, "eccr_http_request_duration_seconds_bucket{");
			route_labels(b, r);
			eccr_buf_printf(b, ",le=\"%s\"} %" PRIu64 "\n", bucket_le[k], cum);
		}
		eccr_buf_adds(b, "eccr_http_request_duration_seconds_sum{");
		route_labels(b, r);
		eccr_buf_printf(b, "} %.6f\n", (double)LOAD(&r->sum_us) / 1e6);
		eccr_buf_adds(b, "eccr_http_request_duration_seconds_count{");
		route_labels(b, r);
		/* The buckets and the count are added separately: report the
		 * +Inf bucket as the count so the two always agree. */
		eccr_buf_printf(b, "} %" PRIu64 "\n", cum);
	}
}

static void format_events(struct eccr_buf *b, const struct eccr_metrics_region *m)
{
	size_t i, k;

	header(b, "eccr_events_total", "counter",
	    "Events emitted: durable ones committed with their change, transient ones offered to the sinks.");
	for (k = 0; k < ECCR_METRICS_NEVENTS; k++)
		eccr_buf_printf(b, "eccr_events_total{kind=\"%s\"} %" PRIu64 "\n", event_kinds[k],
		    LOAD(&m->events[k]));
	header(b, "eccr_deliveries_total", "counter",
	    "Events offered to a sink, by sink and outcome (ok, retry, fail).");
	for (i = 0; i < ECCR_METRICS_SINKS; i++) {
		const struct eccr_metrics_sink *s = &m->sink[i];

		if (!LOAD(&s->used))
			continue;
		for (k = 0; k < ECCR_METRICS_NOUTCOMES; k++) {
			eccr_buf_adds(b, "eccr_deliveries_total{");
			add_label(b, "sink", s->name);
			eccr_buf_printf(b, ",outcome=\"%s\"} %" PRIu64 "\n", outcomes[k],
			    LOAD(&s->outcome[k]));
		}
	}
}

static void format_job_runs(struct eccr_buf *b, const struct eccr_metrics_region *m)
{
	size_t i, o, k;

	header(b, "eccr_job_run_seconds", "histogram",
	    "Time job handlers ran in eccr-worker, per attempt, by job type and outcome"
	    " (succeeded, failed, retry, cancelled).");
	for (i = 0; i < ECCR_METRICS_JOB_TYPES; i++) {
		const struct eccr_metrics_job *j = &m->job[i];

		if (!LOAD(&j->used))
			continue;
		for (o = 0; o < ECCR_METRICS_JOB_NOUTCOMES; o++) {
			uint64_t cum = 0;

			for (k = 0; k < ECCR_METRICS_JOB_BUCKETS; k++)
				cum += LOAD(&j->bucket[o][k]);
			if (cum == 0)   /* an outcome never seen has no series */
				continue;
			cum = 0;
			for (k = 0; k < ECCR_METRICS_JOB_BUCKETS; k++) {
				cum += LOAD(&j->bucket[o][k]);
				eccr_buf_adds(b, "eccr_job_run_seconds_bucket{");
				add_label(b, "type", j->type);
				eccr_buf_printf(b, ",outcome=\"%s\",le=\"%s\"} %" PRIu64 "\n",
				    job_outcomes[o], job_bucket_le[k], cum);
			}
			eccr_buf_adds(b, "eccr_job_run_seconds_sum{");
			add_label(b, "type", j->type);
			eccr_buf_printf(b, ",outcome=\"%s\"} %.6f\n", job_outcomes[o],
			    (double)LOAD(&j->sum_us[o]) / 1e6);
			eccr_buf_adds(b, "eccr_job_run_seconds_count{");
			add_label(b, "type", j->type);
			/* The +Inf bucket, as for requests: the two always agree. */
			eccr_buf_printf(b, ",outcome=\"%s\"} %" PRIu64 "\n", job_outcomes[o], cum);
		}
	}
}

static void format_gauges(struct eccr_buf *b, const struct eccr_metrics_gauges *g)
{
	size_t i;

	header(b, "eccr_metrics_processes", "gauge",
	    "Live ECCR processes whose counters this scrape added up.");
	eccr_buf_printf(b, "eccr_metrics_processes %d\n", g->processes);
	header(b, "eccr_database_up", "gauge", "Whether the scrape could query PostgreSQL.");
	eccr_buf_printf(b, "eccr_database_up %d\n", g->db_ok ? 1 : 0);
	if (!g->db_ok)
		return;
	header(b, "eccr_outbox_backlog_events", "gauge",
	    "Events not yet delivered to every sink (the outbox backlog).");
	eccr_buf_printf(b, "eccr_outbox_backlog_events %" PRId64 "\n", g->backlog_events);
	header(b, "eccr_outbox_retry_deliveries", "gauge",
	    "Deliveries a sink asked to retry, waiting for their next attempt.");
	eccr_buf_printf(b, "eccr_outbox_retry_deliveries %" PRId64 "\n", g->retry_deliveries);
	header(b, "eccr_outbox_oldest_undelivered_age_seconds", "gauge",
	    "Age of the oldest undelivered event or pending retry; 0 when none.");
	eccr_buf_printf(b, "eccr_outbox_oldest_undelivered_age_seconds %.3f\n",
	    g->oldest_age_s < 0 ? 0.0 : g->oldest_age_s);
	header(b, "eccr_deliveries_dead", "gauge",
	    "Dead deliveries (attempts exhausted or refused), by sink; replay with eccrctl.");
	for (i = 0; i < g->ndead && i < ECCR_METRICS_SINKS; i++) {
		eccr_buf_adds(b, "eccr_deliveries_dead{");
		add_label(b, "sink", g->dead[i].sink);
		eccr_buf_printf(b, "} %" PRId64 "\n", g->dead[i].count);
	}
	header(b, "eccr_jobs", "gauge",
	    "Live jobs by status (queued, running) and type; finished jobs are not counted."
	    " Queued includes jobs waiting for a later run_at (retries, scheduled jobs).");
	for (i = 0; i < g->njobs && i < ECCR_METRICS_JOB_ROWS; i++) {
		eccr_buf_adds(b, "eccr_jobs{");
		add_label(b, "status", g->jobs[i].status);
		eccr_buf_addc(b, ',');
		add_label(b, "type", g->jobs[i].type);
		eccr_buf_printf(b, "} %" PRId64 "\n", g->jobs[i].count);
	}
	header(b, "eccr_jobs_oldest_queued_age_seconds", "gauge",
	    "Time the oldest queued job has waited since its run_at (due, not yet claimed); 0 when none.");
	eccr_buf_printf(b, "eccr_jobs_oldest_queued_age_seconds %.3f\n",
	    g->oldest_queued_s < 0 ? 0.0 : g->oldest_queued_s);
}

void eccr_metrics_format(struct eccr_buf *b, const struct eccr_metrics_region *sum,
    const struct eccr_metrics_gauges *g)
{
	format_requests(b, sum);
	format_latency(b, sum);
	format_events(b, sum);
	format_job_runs(b, sum);
	format_gauges(b, g);
}
