/* metrics.h - counters for GET /metrics, shared by every ECCR process of
 * one host.
 *
 * eccr-fcgi runs as N processes of T threads behind the web server, and a
 * scrape lands on one of them, so per-process counters alone would be
 * wrong.  Each process keeps its counters in a small file of its own under
 * metrics.dir, mapped shared (the Prometheus client's "multiprocess mode"):
 * counting is a relaxed atomic add into that mapping, no lock and no
 * system call per request.  A scrape adds up every file in the directory.
 * A process holds a shared flock(2) on its file for its whole life; the
 * next process to start folds the files of dead processes into one
 * archive file, so counters never go backwards and the directory stays
 * small.  eccr-worker keeps a file there too (its deliveries, events and
 * job run times).
 *
 * The file layout (struct eccr_metrics_region) carries its own labels
 * (route patterns, sink names, job types): a scrape merges by label, so
 * processes of another build with other routes still add up correctly.
 * A change of layout changes its size (and the magic): files of another
 * layout are skipped, and an archive of another layout is reset. */
#ifndef ECCR_METRICS_H
#define ECCR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define ECCR_METRICS_MAGIC 0x3254454d52434345ULL   /* "ECCRMET2" (job types added) */
#define ECCR_METRICS_ROUTES 64
#define ECCR_METRICS_SINKS 32
#define ECCR_METRICS_JOB_TYPES 32
#define ECCR_METRICS_JOB_BUCKETS 14 /* 13 bounds (0.01 s .. 1 h) and +Inf */
/* Rows of eccr_jobs: a queued and a running row per job type. */
#define ECCR_METRICS_JOB_ROWS (2 * ECCR_METRICS_JOB_TYPES)
#define ECCR_METRICS_LABEL 96
#define ECCR_METRICS_BUCKETS 14     /* 13 bounds and +Inf */
#define ECCR_METRICS_STATUSES 29    /* the codes ECCR answers, then "other" */

enum eccr_metrics_event { ECCR_METRICS_DURABLE, ECCR_METRICS_TRANSIENT, ECCR_METRICS_NEVENTS };
enum eccr_metrics_outcome { ECCR_METRICS_OK, ECCR_METRICS_RETRY, ECCR_METRICS_FAIL,
	ECCR_METRICS_NOUTCOMES };
/* How a job handler's run ended: succeeded; retry (back in the queue: the
 * handler asked for it with attempts left, or the worker was stopping);
 * cancelled (cancel requested through the API); failed (for good). */
enum eccr_metrics_job_outcome { ECCR_METRICS_JOB_SUCCEEDED, ECCR_METRICS_JOB_FAILED,
	ECCR_METRICS_JOB_RETRY, ECCR_METRICS_JOB_CANCELLED, ECCR_METRICS_JOB_NOUTCOMES };

/* Labels are written before `used` is set (release), and read after it is
 * seen set (acquire); counters are only ever added to. */
struct eccr_metrics_route {
	uint32_t used;
	uint32_t pad_;
	char method[16];
	char pattern[ECCR_METRICS_LABEL];
	uint64_t status[ECCR_METRICS_STATUSES];
	uint64_t bucket[ECCR_METRICS_BUCKETS];  /* per bucket, not cumulative */
	uint64_t sum_us;
};

struct eccr_metrics_sink {
	uint32_t used;
	uint32_t pad_;
	char name[ECCR_METRICS_LABEL];
	uint64_t outcome[ECCR_METRICS_NOUTCOMES];
};

/* Run times of one job type's handler, by outcome. */
struct eccr_metrics_job {
	uint32_t used;
	uint32_t pad_;
	char type[ECCR_METRICS_LABEL];
	uint64_t bucket[ECCR_METRICS_JOB_NOUTCOMES][ECCR_METRICS_JOB_BUCKETS];  /* not cumulative */
	uint64_t sum_us[ECCR_METRICS_JOB_NOUTCOMES];
};

struct eccr_metrics_region {
	uint64_t magic;
	uint64_t size;              /* sizeof the region: another layout is skipped */
	uint64_t events[ECCR_METRICS_NEVENTS];
	struct eccr_metrics_route route[ECCR_METRICS_ROUTES];
	struct eccr_metrics_sink sink[ECCR_METRICS_SINKS];
	struct eccr_metrics_job job[ECCR_METRICS_JOB_TYPES];
};

/* What the scrape reads from PostgreSQL. */
struct eccr_metrics_gauges {
	bool db_ok;                 /* false: the database gauges are left out */
	int64_t backlog_events;     /* events no process has delivered yet */
	int64_t retry_deliveries;   /* deliveries waiting for a retry */
	double oldest_age_s;        /* oldest of those, seconds; < 0 when none */
	size_t ndead;
	struct {
		char sink[ECCR_METRICS_LABEL];
		int64_t count;
	} dead[ECCR_METRICS_SINKS];
	size_t njobs;               /* live jobs (queued, running) by status and type */
	struct eccr_metrics_job_row {
		char status[16];
		char type[ECCR_METRICS_LABEL];
		int64_t count;
	} jobs[ECCR_METRICS_JOB_ROWS];
	double oldest_queued_s;     /* oldest queued job past its run_at, s; < 0 when none */
	int processes;              /* live processes whose counters were read */
};

/* ------------------------------------------------------------ per process */

/* Open this process's counter file under dir (created 0770 if missing),
 * folding the files of dead processes into the archive first.  kind names
 * the program ("fcgi", "worker").  On failure the counters live in private
 * memory (a scrape of this process still sees them), and -1 is returned
 * with err set so the caller can say so once.  Call before threads start. */
int eccr_metrics_open(const char *dir, const char *kind, char *err, size_t errlen);

/* Route slot i gets its labels ("GET", "/api/v1/episodes/{}").  Before
 * threads start; i < ECCR_METRICS_ROUTES. */
void eccr_metrics_route_label(size_t i, const char *method, const char *pattern);

/* One answered request on route slot i: its status and duration.  Lock-free. */
void eccr_metrics_request(size_t i, int status, uint64_t elapsed_us);

/* An event committed (or a transient one offered) by this process. */
void eccr_metrics_event(enum eccr_metrics_event kind);

/* One emit to a sink and its outcome (ECCR_EMIT_OK/RETRY/FAIL). */
void eccr_metrics_delivery(const char *sink, int emit_rc);

/* One job handler run of this type, how it ended and how long it took.
 * Lock-free but for a type's first run. */
void eccr_metrics_job_run(const char *type, enum eccr_metrics_job_outcome outcome,
    uint64_t elapsed_us);

/* Add up every counter file of dir (and this process's private counters
 * when it has no file) into *sum; *live counts the files of live processes.
 * Returns 0, or -1 with err set when dir cannot be read. */
int eccr_metrics_collect(const char *dir, struct eccr_metrics_region *sum, int *live,
    char *err, size_t errlen);

/* ------------------------------------------------------------ pure (metrics_text.c) */

/* An empty region with its header set. */
void eccr_metrics_region_init(struct eccr_metrics_region *r);

/* Add src's counters into dst, matching routes, sinks and job types by label; a
 * label dst has no room for is dropped.  Returns the number dropped. */
size_t eccr_metrics_region_add(struct eccr_metrics_region *dst,
    const struct eccr_metrics_region *src);

/* The status slot of an HTTP status. */
size_t eccr_metrics_status_slot(int status);
/* The histogram bucket of a duration. */
size_t eccr_metrics_bucket(uint64_t elapsed_us);
/* The job run time bucket of a duration. */
size_t eccr_metrics_job_bucket(uint64_t elapsed_us);

/* The Prometheus text exposition (format 0.0.4) of sum and g into b. */
void eccr_metrics_format(struct eccr_buf *b, const struct eccr_metrics_region *sum,
    const struct eccr_metrics_gauges *g);

/* Who may read /metrics: 0 (serve it), 401 or 403.  authenticated and
 * is_admin describe the caller's credentials; metrics.public lets anyone. */
int eccr_metrics_gate(bool public_, bool authenticated, bool is_admin);

#endif
