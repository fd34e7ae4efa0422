/* jobs.c - see jobs.h. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "util.h"

#define MAX_RUNNERS 1024
#define PROGRESS_INTERVAL_MS 200
/* Succeeded jobs recorded per statement: enough that a busy worker writes
 * one statement where it wrote dozens, small enough that the statement
 * stays well under a megabyte with typical results. */
#define FINISH_BATCH 64
/* Leases run out in seconds: looking for expired ones on every wake-up
 * would cost a round trip per claim at full load for nothing. */
#define RECLAIM_INTERVAL_MS 250
/* How often a runner tries again to record an outcome while the database
 * is away (record). */
#define RECORD_RETRY_MS 500
/* A result larger than this is recorded on its own statement. */
#define RESULT_BATCH_MAX (256 * 1024)

/* Runnable jobs of the types this worker has handlers for, claimed with
 * their job_started events.  $1 limit, $2 worker id, $3 lease s, $4 types. */
static struct eccr_stmt st_claim = {
	.sql =
	"WITH c AS (SELECT id FROM jobs WHERE status = 'queued' AND run_at <= now()"
	"           AND type = ANY($4::text[])"
	"           ORDER BY priority, run_at LIMIT $1::int FOR UPDATE SKIP LOCKED),"
	" u AS (UPDATE jobs j SET status = 'running', attempts = j.attempts + 1,"
	"         locked_by = $2, locked_until = now() + make_interval(secs => $3::int),"
	"         started_at = now(), finished_at = NULL, progress = 0, updated_at = now()"
	"       FROM c WHERE j.id = c.id RETURNING j.*),"
	" ev AS (INSERT INTO events (type, actor_id, resource_type, resource_id, episode_id, data)"
	"        SELECT 'job_started', 'system', 'job', u.id::text, u.episode_id,"
	"               jsonb_build_object('job_id', u.id, 'attempt', u.attempts, 'type', u.type)"
	"        FROM u RETURNING id, resource_id)"
	"SELECT u.id, u.type, u.episode_id, u.payload::text, u.attempts, u.max_attempts, ev.id"
	" FROM u JOIN ev ON ev.resource_id = u.id::text ORDER BY u.priority, u.run_at",
	.nparams = 4,
};

/* Jobs whose worker stopped renewing its lease: run again (the attempt
 * counted), or failed when it was the last one. */
static struct eccr_stmt st_reclaim = {
	.sql =
	"WITH x AS (SELECT id FROM jobs WHERE status = 'running' AND locked_until < now()"
	"           LIMIT 100 FOR UPDATE SKIP LOCKED),"
	" u AS (UPDATE jobs j SET"
	"         status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,"
	"         finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,"
	"         last_error = 'the worker running it stopped responding (lease expired)',"
	"         locked_by = NULL, locked_until = NULL, run_at = now(), updated_at = now()"
	"       FROM x WHERE j.id = x.id RETURNING j.*),"
	" ev AS (INSERT INTO events (type, actor_id, resource_type, resource_id, episode_id, data)"
	"        SELECT CASE u.status WHEN 'failed' THEN 'job_failed' ELSE 'job_retry' END,"
	"               'system', 'job', u.id::text, u.episode_id,"
	"               CASE u.status WHEN 'failed' THEN jsonb_build_object('job_id', u.id,"
	"                 'error', u.last_error, 'retries_exhausted', true)"
	"               ELSE jsonb_build_object('job_id', u.id, 'attempt', u.attempts,"
	"                 'retry_in_ms', 0, 'error', u.last_error) END"
	"        FROM u RETURNING id)"
	"SELECT id FROM ev",
	.nparams = 0,
};

/* SKIP LOCKED: a row another statement holds is being finished or
 * cancelled right now; waiting for it would deadlock with the batched
 * completion, which locks several of the same rows in its own order. */
static struct eccr_stmt st_heartbeat = {
	.sql = "UPDATE jobs SET locked_until = now() + make_interval(secs => $2::int)"
	       " WHERE id IN (SELECT id FROM jobs WHERE locked_by = $1 AND status = 'running'"
	       "              FOR UPDATE SKIP LOCKED)"
	       " RETURNING id::text, cancel_requested",
	.nparams = 2,
};

static struct eccr_stmt st_succeeded = {
	.sql =
	"WITH u AS (UPDATE jobs SET status = 'succeeded', result = $3::jsonb, progress = 100,"
	"             finished_at = now(), last_error = NULL, locked_by = NULL, locked_until = NULL,"
	"             updated_at = now()"
	"           WHERE id = $1::uuid AND locked_by = $2 AND status = 'running' RETURNING *),"
	" ev AS (INSERT INTO events (type, actor_id, resource_type, resource_id, episode_id, data)"
	"        SELECT 'job_completed', 'system', 'job', u.id::text, u.episode_id,"
	"               jsonb_build_object('job_id', u.id, 'result', u.result) FROM u RETURNING id)"
	"SELECT id FROM ev",
	.nparams = 3,
};

/* The same for several jobs at once: $1 a JSON array of [id, result]
 * pairs (ids from the claim, results checked as JSON by the worker). */
static struct eccr_stmt st_succeeded_batch = {
	.sql =
	"WITH f AS (SELECT (e->>0)::uuid AS id, e->1 AS result FROM jsonb_array_elements($1::jsonb) e),"
	" u AS (UPDATE jobs j SET status = 'succeeded', result = f.result, progress = 100,"
	"         finished_at = now(), last_error = NULL, locked_by = NULL, locked_until = NULL,"
	"         updated_at = now()"
	"       FROM f WHERE j.id = f.id AND j.locked_by = $2 AND j.status = 'running' RETURNING j.*),"
	" ev AS (INSERT INTO events (type, actor_id, resource_type, resource_id, episode_id, data)"
	"        SELECT 'job_completed', 'system', 'job', u.id::text, u.episode_id,"
	"               jsonb_build_object('job_id', u.id, 'result', u.result) FROM u RETURNING id)"
	"SELECT id FROM ev",
	.nparams = 2,
};

/* $3: 'retry' | 'fail' | 'cancel' | 'release'; $4 error; $5 retry delay ms. */
static struct eccr_stmt st_unfinished = {
	.sql =
	"WITH cur AS (SELECT * FROM jobs WHERE id = $1::uuid AND locked_by = $2"
	"             AND status = 'running' FOR UPDATE),"
	" d AS (SELECT cur.id, CASE"
	"         WHEN $3 = 'cancel' THEN 'cancelled'"
	"         WHEN $3 = 'release' THEN 'queued'"
	"         WHEN $3 = 'retry' AND cur.attempts < cur.max_attempts THEN 'queued'"
	"         ELSE 'failed' END AS status FROM cur),"
	" u AS (UPDATE jobs j SET status = d.status, last_error = $4,"
	"         attempts = CASE WHEN $3 = 'release' THEN greatest(j.attempts - 1, 0) ELSE j.attempts END,"
	"         run_at = CASE WHEN d.status = 'queued' AND $3 = 'retry'"
	"                  THEN now() + make_interval(secs => $5::bigint / 1000.0) ELSE now() END,"
	"         finished_at = CASE WHEN d.status = 'queued' THEN NULL ELSE now() END,"
	"         locked_by = NULL, locked_until = NULL, updated_at = now()"
	"       FROM d WHERE j.id = d.id RETURNING j.*),"
	" ev AS (INSERT INTO events (type, actor_id, resource_type, resource_id, episode_id, data)"
	"        SELECT CASE u.status WHEN 'queued' THEN 'job_retry' ELSE 'job_failed' END,"
	"               'system', 'job', u.id::text, u.episode_id,"
	"               CASE u.status WHEN 'queued' THEN jsonb_build_object('job_id', u.id,"
	"                 'attempt', u.attempts, 'retry_in_ms', $5::bigint, 'error', $4)"
	"               ELSE jsonb_build_object('job_id', u.id, 'error', $4,"
	"                 'retries_exhausted', $3 = 'retry') END"
	"        FROM u WHERE u.status = 'failed' OR $3 = 'retry' RETURNING id)"
	"SELECT (SELECT status FROM u), (SELECT id FROM ev)",
	.nparams = 5,
};

static struct eccr_stmt st_progress = {
	.sql = "UPDATE jobs SET progress = $2::int, updated_at = now()"
	       " WHERE id = $1::uuid AND locked_by = $3 AND status = 'running'",
	.nparams = 3,
};

static struct eccr_stmt st_started = {
	.sql = "INSERT INTO events (type, actor_id, resource_type, resource_id, data)"
	       " VALUES ('job_processor_started', 'system', 'worker', $1,"
	       "  jsonb_build_object('worker_id', $1::text, 'poll_interval_ms', $2::int,"
	       "  'max_concurrent', $3::int)) RETURNING id",
	.nparams = 3,
};

int jobs_register(void)
{
	struct eccr_stmt *all[] = { &st_claim, &st_reclaim, &st_heartbeat, &st_succeeded,
		&st_succeeded_batch, &st_unfinished, &st_progress, &st_started };
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		if (eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------ state */

struct runner {
	struct jobs *j;
	pthread_t thread;
	struct eccr_db *db;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool busy;                  /* a job is assigned (main sets, runner clears) */
	bool quit;
	atomic_bool cancel;         /* the job's cancel_requested, from the heartbeat */
	/* the job */
	char id[37];
	char type[128];
	char *episode_id;           /* NULL when none */
	char *payload;
	int attempt, max_attempts;
	const struct eccr_plugin_instance *pi;
	int progress;
	int64_t progress_at;
	struct eccr_job_ctx ctx;
};

/* A job its handler finished with a JSON result, waiting for the main
 * thread to record it with others (flush_finished). */
struct finished {
	char id[37];
	char *result;
};

struct jobs {
	const struct eccr_config *cfg;
	const struct eccr_plugins *ps;
	struct eccr_dispatch *dispatch;
	char worker_id[128];
	char types[2048];           /* PostgreSQL array literal of the job types */
	struct eccr_db *db;         /* claims, on the main thread */
	PGconn *listen;
	int64_t listen_retry_at;
	int wake_fd;
	int64_t reclaim_at;
	atomic_bool stopping;
	/* Succeeded jobs not yet recorded: at most one per runner, since the
	 * main thread records them before it claims again. */
	pthread_mutex_t finished_lock;
	struct finished *finished;  /* MAX_RUNNERS slots */
	int nfinished;
	struct finished *flushing;  /* main thread's copy while it records them */
	/* MAX_RUNNERS slots; threads run in the first nrunners (grown by
	 * jobs_set_concurrency, read by the heartbeat thread: atomic), and at
	 * most `limit` of them hold a job (main thread only). */
	struct runner *runners;
	atomic_int nrunners;
	int limit;
	pthread_t heartbeat;
	pthread_mutex_t hb_lock;
	pthread_cond_t hb_wake;
	bool hb_quit;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void offer(struct jobs *j, PGresult *res, int row, int col)
{
	int64_t id;

	if (res != NULL && row < PQntuples(res) && !PQgetisnull(res, row, col) &&
	    eccr_parse_i64(PQgetvalue(res, row, col), 1, INT64_MAX, &id))
		eccr_dispatch_offer(j->dispatch, id);
}

/* ------------------------------------------------------------ handler services */

static void ctx_progress(const struct eccr_job_ctx *ctx, int percent)
{
	struct runner *r = ctx->opaque;
	char pct[8], data[96];
	const char *p[3] = { r->id, pct, r->j->worker_id };
	int64_t t = now_ms();
	PGresult *res;

	if (percent < 0)
		percent = 0;
	if (percent > 100)
		percent = 100;
	/* Rate-limited: progress is for people watching, not a log. */
	if (percent == r->progress || (t - r->progress_at < PROGRESS_INTERVAL_MS && percent != 100))
		return;
	r->progress = percent;
	r->progress_at = t;
	snprintf(pct, sizeof pct, "%d", percent);
	if (eccr_db_exec(r->db, &st_progress, p, &res) == ECCR_DB_OK)
		PQclear(res);
	snprintf(data, sizeof data, "{\"job_id\":\"%s\",\"progress\":%d}", r->id, percent);
	eccr_dispatch_offer_transient(r->j->dispatch, "job_progress", "system", NULL, "job",
	    r->id, r->episode_id, data);
}

static int ctx_cancelled(const struct eccr_job_ctx *ctx)
{
	struct runner *r = ctx->opaque;

	return atomic_load(&r->cancel) || atomic_load(&r->j->stopping);
}

/* ------------------------------------------------------------ running */

/* One succeeded job; a result PostgreSQL refuses as JSON is recorded as {}. */
static enum eccr_db_err record_success(struct jobs *j, struct eccr_db *db, const char *id,
    const char *result)
{
	const char *p[3] = { id, j->worker_id, result ? result : "{}" };
	PGresult *res;
	enum eccr_db_err e = eccr_db_exec(db, &st_succeeded, p, &res);

	if (e == ECCR_DB_INVALID) {     /* the handler's result is not JSON */
		p[2] = "{}";
		e = eccr_db_exec(db, &st_succeeded, p, &res);
	}
	if (e == ECCR_DB_OK) {
		offer(j, res, 0, 0);
		PQclear(res);
	}
	return e;
}

static enum eccr_db_err record_unfinished(struct runner *r, int rc, const char *error)
{
	struct jobs *j = r->j;
	char delay[24], err[1024];
	const char *p[5] = { r->id, j->worker_id, NULL, err, delay };
	PGresult *res;
	enum eccr_db_err e;

	snprintf(err, sizeof err, "%s", error ? error : "the handler failed");
	if (atomic_load(&r->cancel))
		p[2] = "cancel";
	else if (atomic_load(&j->stopping))
		p[2] = "release";   /* interrupted by our shutdown, not its fault */
	else
		p[2] = rc == ECCR_EMIT_RETRY ? "retry" : "fail";
	snprintf(delay, sizeof delay, "%lld", (long long)eccr_backoff_ms(r->attempt,
	    ECCR_TUNABLE(j->cfg->worker.retry_base_ms), ECCR_TUNABLE(j->cfg->worker.retry_max_ms),
	    eccr_random32()));
	e = eccr_db_exec(r->db, &st_unfinished, p, &res);
	if (e != ECCR_DB_OK)
		return e;
	if (PQntuples(res) > 0)
		eccr_info("job %s (%s) attempt %d: %s -> %s", r->id, r->type, r->attempt,
		    err, PQgetvalue(res, 0, 0));
	offer(j, res, 0, 1);
	PQclear(res);
	return e;
}

/* Leave a succeeded job for the main thread to record with others (see
 * flush_finished).  The result is checked here, so that one handler's
 * malformed result cannot fail the batch: what the strict parser refuses,
 * or what is too large to batch, is recorded on its own.  Takes *result. */
static bool defer_success(struct runner *r, char **result)
{
	struct jobs *j = r->j;
	json_object *o = NULL;
	char detail[96];
	struct finished *f;
	bool ok = false;

	if (*result != NULL) {
		size_t len = strlen(*result);

		if (len > RESULT_BATCH_MAX ||
		    eccr_json_parse(*result, len, &o, detail, sizeof detail) != ECCR_JSON_OK)
			return false;
		json_object_put(o);
	}
	pthread_mutex_lock(&j->finished_lock);
	if (j->nfinished < MAX_RUNNERS) {
		f = &j->finished[j->nfinished++];
		snprintf(f->id, sizeof f->id, "%s", r->id);
		f->result = *result;
		*result = NULL;
		ok = true;
	}
	pthread_mutex_unlock(&j->finished_lock);
	return ok;
}

/* Waits up to ms, in steps, returning early when the worker stops. */
static void pause_unless_stopping(struct jobs *j, int ms)
{
	struct timespec step = { 0, 100 * 1000000L };

	for (; ms > 0 && !atomic_load(&j->stopping); ms -= 100)
		nanosleep(&step, NULL);
}

/* The runner keeps the job until its outcome is recorded: while it is
 * busy the heartbeat renews the lease, and the lease is renewed for every
 * job of this worker still 'running', so an outcome dropped here would
 * leave the job 'running' for as long as the worker lives.  So a database
 * that is down or restarting is waited for; only a worker that stops gives
 * up, and then the lease runs out and another worker runs the job again.
 * An error text PostgreSQL refuses is replaced, once, by a plain one. */
static void record(struct runner *r, int rc, char **result, const char *error)
{
	enum eccr_db_err e;

	if (rc == ECCR_EMIT_OK && defer_success(r, result))
		return;
	for (;;) {
		e = rc == ECCR_EMIT_OK ? record_success(r->j, r->db, r->id, *result)
		                       : record_unfinished(r, rc, error);
		if (e == ECCR_DB_OK)
			return;
		if (e == ECCR_DB_INVALID && rc != ECCR_EMIT_OK && error != NULL) {
			error = NULL;
			continue;
		}
		if ((e != ECCR_DB_UNAVAILABLE && e != ECCR_DB_SERIALIZATION) ||
		    atomic_load(&r->j->stopping))
			break;
		pause_unless_stopping(r->j, RECORD_RETRY_MS);
	}
	if (atomic_load(&r->j->stopping))
		eccr_warn("job %s: outcome not recorded; it runs again when its lease ends", r->id);
	else    /* a bug or a broken schema: db.c logged the error */
		eccr_err("job %s: outcome not recorded; it stays running until this worker stops",
		    r->id);
}

/* What becomes of a job after its handler returned rc, as record() and
 * st_unfinished decide it, for eccr_job_run_seconds{outcome}. */
static enum eccr_metrics_job_outcome run_outcome(struct runner *r, int rc)
{
	if (rc == ECCR_EMIT_OK)
		return ECCR_METRICS_JOB_SUCCEEDED;
	if (atomic_load(&r->cancel))
		return ECCR_METRICS_JOB_CANCELLED;
	if (atomic_load(&r->j->stopping))
		return ECCR_METRICS_JOB_RETRY;     /* released: back in the queue */
	if (rc == ECCR_EMIT_RETRY && r->attempt < r->max_attempts)
		return ECCR_METRICS_JOB_RETRY;
	return ECCR_METRICS_JOB_FAILED;
}

static void run_job(struct runner *r)
{
	struct eccr_job job = {
		.struct_size = sizeof job, .id = r->id, .type = r->type,
		.episode_id = r->episode_id, .payload_json = r->payload,
		.attempt = r->attempt, .max_attempts = r->max_attempts,
	};
	char *result = NULL, *error = NULL;
	struct timespec t0, t1;
	int64_t us;
	int rc;

	r->progress = 0;
	r->progress_at = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = r->pi->desc.run(r->pi->state, &job, &r->ctx, &result, &error);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc != ECCR_EMIT_OK && rc != ECCR_EMIT_RETRY && rc != ECCR_EMIT_FAIL)
		rc = ECCR_EMIT_FAIL;
	us = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	eccr_metrics_job_run(r->type, run_outcome(r, rc), us > 0 ? (uint64_t)us : 0);
	record(r, rc, &result, error);
	free(result);
	free(error);
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	uint64_t one = 1;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (!r->busy && !r->quit)
			pthread_cond_wait(&r->wake, &r->lock);
		if (!r->busy && r->quit) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		pthread_mutex_unlock(&r->lock);
		run_job(r);
		pthread_mutex_lock(&r->lock);
		free(r->episode_id);
		free(r->payload);
		r->episode_id = r->payload = NULL;
		r->busy = false;
		pthread_mutex_unlock(&r->lock);
		if (write(r->j->wake_fd, &one, sizeof one) < 0) {
			/* the main loop also wakes on its poll interval */
		}
	}
}

/* ------------------------------------------------------------ heartbeat */

static void heartbeat_once(struct jobs *j, struct eccr_db *db)
{
	char lease[16];
	const char *p[2] = { j->worker_id, lease };
	PGresult *res;
	int i, k, n = atomic_load(&j->nrunners);

	snprintf(lease, sizeof lease, "%d", ECCR_TUNABLE(j->cfg->worker.lease_s));
	if (eccr_db_exec(db, &st_heartbeat, p, &res) != ECCR_DB_OK)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
			continue;
		for (k = 0; k < n; k++) {
			struct runner *r = &j->runners[k];

			pthread_mutex_lock(&r->lock);
			if (r->busy && strcmp(r->id, PQgetvalue(res, i, 0)) == 0)
				atomic_store(&r->cancel, true);
			pthread_mutex_unlock(&r->lock);
		}
	}
	PQclear(res);
}

/* Renews leases well before they end and picks up cancel requests often
 * enough that a handler stops within a second of the API call. */
static void *heartbeat_main(void *arg)
{
	struct jobs *j = arg;
	struct eccr_db *db = eccr_db_new(j->cfg->database.conninfo, "eccr-worker-heartbeat");

	for (;;) {
		/* lease_s may change on SIGHUP: read it each round. */
		int interval_ms = ECCR_TUNABLE(j->cfg->worker.lease_s) * 1000 / 3;
		struct timespec until;

		if (interval_ms > 500)
			interval_ms = 500;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)interval_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&j->hb_lock);
		while (!j->hb_quit && pthread_cond_timedwait(&j->hb_wake, &j->hb_lock, &until) == 0)
			;
		if (j->hb_quit) {
			pthread_mutex_unlock(&j->hb_lock);
			break;
		}
		pthread_mutex_unlock(&j->hb_lock);
		if (db != NULL)
			heartbeat_once(j, db);
	}
	eccr_db_free(db);
	return NULL;
}

/* ------------------------------------------------------------ claiming */

static const struct eccr_plugin_instance *handler_for(const struct jobs *j, const char *type)
{
	size_t i;

	for (i = 0; i < j->ps->n; i++)
		if (j->ps->v[i]->desc.kind == ECCR_PLUGIN_JOB &&
		    strcmp(j->ps->v[i]->desc.job_type, type) == 0)
			return j->ps->v[i];
	return NULL;
}

static int busy_runners(struct jobs *j)
{
	int k, n = 0, nr = atomic_load(&j->nrunners);

	for (k = 0; k < nr; k++) {
		pthread_mutex_lock(&j->runners[k].lock);
		n += j->runners[k].busy;
		pthread_mutex_unlock(&j->runners[k].lock);
	}
	return n;
}

/* Jobs this worker may take now: below its limit, never below zero (a
 * lowered limit waits for running jobs to finish).  A success not yet
 * recorded counts: the job is still 'running' in the database until the
 * next flush_finished. */
static int idle_runners(struct jobs *j)
{
	/* Busy first: a runner defers its success before it turns idle, so
	 * read in this order it is counted once or twice, never missed. */
	int busy = busy_runners(j), pending, n;

	pthread_mutex_lock(&j->finished_lock);
	pending = j->nfinished;
	pthread_mutex_unlock(&j->finished_lock);
	n = j->limit - busy - pending;
	return n > 0 ? n : 0;
}

static void assign(struct jobs *j, PGresult *res, int row)
{
	int k, nr = atomic_load(&j->nrunners);

	for (k = 0; k < nr; k++) {
		struct runner *r = &j->runners[k];

		pthread_mutex_lock(&r->lock);
		if (r->busy) {
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, row, 0));
		snprintf(r->type, sizeof r->type, "%s", PQgetvalue(res, row, 1));
		r->episode_id = PQgetisnull(res, row, 2) ? NULL : strdup(PQgetvalue(res, row, 2));
		r->payload = strdup(PQgetvalue(res, row, 3));
		r->attempt = atoi(PQgetvalue(res, row, 4));
		r->max_attempts = atoi(PQgetvalue(res, row, 5));
		r->pi = handler_for(j, r->type);
		atomic_store(&r->cancel, false);
		r->busy = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		return;
	}
}

static int claim(struct jobs *j, int n)
{
	char limit[16], lease[16];
	const char *p[4] = { limit, j->worker_id, lease, j->types };
	PGresult *res;
	int i;

	snprintf(limit, sizeof limit, "%d", n);
	snprintf(lease, sizeof lease, "%d", ECCR_TUNABLE(j->cfg->worker.lease_s));
	if (eccr_db_exec(j->db, &st_claim, p, &res) != ECCR_DB_OK)
		return -1;
	for (i = 0; i < PQntuples(res); i++) {
		assign(j, res, i);
		offer(j, res, i, 6);
	}
	n = PQntuples(res);
	PQclear(res);
	return n;
}

static void reclaim(struct jobs *j)
{
	PGresult *res;
	int i;

	if (eccr_db_exec(j->db, &st_reclaim, NULL, &res) != ECCR_DB_OK)
		return;
	if (PQntuples(res) > 0)
		eccr_notice("%d jobs of unresponsive workers reclaimed", PQntuples(res));
	for (i = 0; i < PQntuples(res); i++)
		offer(j, res, i, 0);
	PQclear(res);
}

/* ------------------------------------------------------------ recording */

/* n succeeded jobs in one statement, with their job_completed events. */
static enum eccr_db_err record_batch(struct jobs *j, const struct finished *f, int n)
{
	struct printbuf *pb = printbuf_new();
	const char *p[2] = { NULL, j->worker_id };
	PGresult *res;
	enum eccr_db_err e = ECCR_DB_ERROR;
	int i, bad = pb == NULL;

	/* Concatenated, not rebuilt: every id is a uuid from the claim and
	 * every result was parsed as JSON by defer_success. */
	bad = bad || printbuf_strappend(pb, "[") < 0;
	for (i = 0; i < n && !bad; i++)
		bad = (i > 0 && printbuf_strappend(pb, ",") < 0) ||
		    printbuf_strappend(pb, "[\"") < 0 ||
		    printbuf_memappend(pb, f[i].id, (int)strlen(f[i].id)) < 0 ||
		    printbuf_strappend(pb, "\",") < 0 ||
		    printbuf_memappend(pb, f[i].result ? f[i].result : "{}",
		        f[i].result ? (int)strlen(f[i].result) : 2) < 0 ||
		    printbuf_strappend(pb, "]") < 0;
	bad = bad || printbuf_strappend(pb, "]") < 0;
	if (!bad) {
		p[0] = pb->buf;
		e = eccr_db_exec(j->db, &st_succeeded_batch, p, &res);
	}
	if (pb != NULL)
		printbuf_free(pb);
	if (e == ECCR_DB_OK) {
		for (i = 0; i < PQntuples(res); i++)
			offer(j, res, i, 0);
		PQclear(res);
		return e;
	}
	if (e != ECCR_DB_INVALID && !bad)
		return e;
	/* A result json-c took and PostgreSQL did not (or no memory for the
	 * batch): one at a time, so the others are recorded as they are. */
	for (i = 0; i < n; i++)
		if ((e = record_success(j, j->db, f[i].id, f[i].result)) != ECCR_DB_OK)
			return e;
	return ECCR_DB_OK;
}

/* Record what the runners finished, FINISH_BATCH jobs per statement.  Main
 * thread, before it claims: a job finished and not yet recorded is still
 * 'running' in the database, so claiming first would run more than the
 * limit there.  -1 when the database failed: what was not recorded goes
 * back in the queue for the next tick (the heartbeat keeps renewing those
 * leases meanwhile, so dropping them would leave them 'running' for as
 * long as this worker lives). */
static int flush_finished(struct jobs *j)
{
	int i, k, n, batch;

	pthread_mutex_lock(&j->finished_lock);
	n = j->nfinished;
	memcpy(j->flushing, j->finished, (size_t)n * sizeof *j->finished);
	j->nfinished = 0;
	pthread_mutex_unlock(&j->finished_lock);
	for (i = 0; i < n; i += batch) {
		batch = n - i < FINISH_BATCH ? n - i : FINISH_BATCH;
		if (record_batch(j, j->flushing + i, batch) != ECCR_DB_OK)
			break;
		for (k = i; k < i + batch; k++)
			free(j->flushing[k].result);
	}
	if (i >= n)
		return 0;
	eccr_warn("%d finished jobs: cannot record their outcome now; trying again", n - i);
	pthread_mutex_lock(&j->finished_lock);
	for (k = i; k < n; k++) {
		if (j->nfinished < MAX_RUNNERS)
			j->finished[j->nfinished++] = j->flushing[k];
		else
			free(j->flushing[k].result);   /* cannot happen: one per runner */
	}
	pthread_mutex_unlock(&j->finished_lock);
	return -1;
}

/* ------------------------------------------------------------ LISTEN */

static void listen_connect(struct jobs *j)
{
	PGresult *res;

	if (j->listen != NULL && PQstatus(j->listen) == CONNECTION_OK)
		return;
	if (now_ms() < j->listen_retry_at)
		return;
	PQfinish(j->listen);
	j->listen = eccr_pg_connect(j->cfg->database.conninfo, "eccr-worker-listen");
	if (PQstatus(j->listen) == CONNECTION_OK) {
		res = PQexec(j->listen, "LISTEN eccr_jobs");
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			PQsetnonblocking(j->listen, 1);
			return;
		}
		PQclear(res);
	}
	PQfinish(j->listen);
	j->listen = NULL;
	j->listen_retry_at = now_ms() + j->cfg->worker.poll_interval_ms;
}

int jobs_listen_fd(struct jobs *j)
{
	return j->listen != NULL && PQstatus(j->listen) == CONNECTION_OK ? PQsocket(j->listen) : -1;
}

int jobs_wake_fd(struct jobs *j)
{
	return j->wake_fd;
}

static void drain_wakeups(struct jobs *j)
{
	PGnotify *n;
	uint64_t v;

	if (read(j->wake_fd, &v, sizeof v) < 0) {
		/* EAGAIN: nothing pending */
	}
	if (j->listen == NULL)
		return;
	if (!PQconsumeInput(j->listen)) {
		PQfinish(j->listen);
		j->listen = NULL;   /* reconnected on the next tick */
		return;
	}
	while ((n = PQnotifies(j->listen)) != NULL)
		PQfreemem(n);
}

int jobs_tick(struct jobs *j)
{
	int idle, started = 0, n;

	drain_wakeups(j);
	listen_connect(j);
	if (flush_finished(j) != 0)
		return -1;
	if (atomic_load(&j->stopping))
		return 0;
	if (now_ms() >= j->reclaim_at) {
		reclaim(j);
		j->reclaim_at = now_ms() + RECLAIM_INTERVAL_MS;
	}
	/* Keep claiming while there are idle runners and jobs come back. */
	while ((idle = idle_runners(j)) > 0) {
		if ((n = claim(j, idle)) < 0)
			return -1;
		started += n;
		if (n < idle)
			break;
	}
	return started;
}

/* ------------------------------------------------------------ life cycle */

static int build_types(struct jobs *j)
{
	size_t i, used = 1;
	int count = 0;

	strcpy(j->types, "{");
	for (i = 0; i < j->ps->n; i++) {
		const struct eccr_plugin_instance *pi = j->ps->v[i];
		int n;

		if (pi->desc.kind != ECCR_PLUGIN_JOB)
			continue;
		/* Job types come from plugin descriptors: quote them anyway. */
		if (strpbrk(pi->desc.job_type, "\"\\{},") != NULL)
			return -1;
		n = snprintf(j->types + used, sizeof j->types - used, "%s\"%s\"", count ? "," : "",
		    pi->desc.job_type);
		if (n < 0 || (size_t)n >= sizeof j->types - used - 1)
			return -1;
		used += (size_t)n;
		count++;
	}
	strcat(j->types, "}");
	return count;
}

static void announce(struct jobs *j)
{
	char poll_ms[16], conc[16];
	const char *p[3] = { j->worker_id, poll_ms, conc };
	PGresult *res;

	snprintf(poll_ms, sizeof poll_ms, "%d", j->cfg->worker.poll_interval_ms);
	snprintf(conc, sizeof conc, "%d", j->limit);
	if (eccr_db_exec(j->db, &st_started, p, &res) == ECCR_DB_OK) {
		offer(j, res, 0, 0);
		PQclear(res);
	}
}

/* Start the runner thread of slot k (main thread, before nrunners covers it). */
static int start_runner(struct jobs *j, int k)
{
	struct runner *r = &j->runners[k];

	r->j = j;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->db = eccr_db_new(j->cfg->database.conninfo, "eccr-worker-runner");
	r->ctx.struct_size = sizeof r->ctx;
	r->ctx.opaque = r;
	r->ctx.progress = ctx_progress;
	r->ctx.cancelled = ctx_cancelled;
	if (r->db == NULL || pthread_create(&r->thread, NULL, runner_main, r) != 0) {
		eccr_db_free(r->db);
		r->db = NULL;
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->wake);
		return -1;
	}
	return 0;
}

int jobs_set_concurrency(struct jobs *j, int n)
{
	int k = atomic_load(&j->nrunners);

	if (n < 1 || n > MAX_RUNNERS)
		return -1;
	/* Threads are started as the limit grows and kept when it shrinks:
	 * an idle runner costs a parked thread and a connection. */
	for (; k < n; k++) {
		if (start_runner(j, k) != 0) {
			eccr_err("cannot start job runner %d", k + 1);
			break;
		}
		atomic_store(&j->nrunners, k + 1);
	}
	j->limit = k < n ? k : n;
	return k < n ? -1 : 0;
}

struct jobs *jobs_start(const struct eccr_config *cfg, const struct eccr_plugins *ps,
    struct eccr_dispatch *d, const char *worker_id, bool *failed)
{
	struct jobs *j = calloc(1, sizeof *j);
	int ntypes;

	*failed = j == NULL;
	if (j == NULL)
		return NULL;
	j->cfg = cfg;
	j->ps = ps;
	j->dispatch = d;
	snprintf(j->worker_id, sizeof j->worker_id, "%s", worker_id);
	if ((ntypes = build_types(j)) <= 0) {
		*failed = ntypes < 0;
		free(j);
		return NULL;
	}
	/* Every slot up front (untouched pages cost nothing), so a SIGHUP
	 * that raises worker.max_concurrent never moves a runner. */
	j->runners = calloc(MAX_RUNNERS, sizeof *j->runners);
	j->finished = calloc(MAX_RUNNERS, sizeof *j->finished);
	j->flushing = calloc(MAX_RUNNERS, sizeof *j->flushing);
	pthread_mutex_init(&j->finished_lock, NULL);
	j->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	j->db = eccr_db_new(cfg->database.conninfo, "eccr-worker-jobs");
	pthread_mutex_init(&j->hb_lock, NULL);
	pthread_cond_init(&j->hb_wake, NULL);
	if (j->runners == NULL || j->finished == NULL || j->flushing == NULL || j->wake_fd < 0 || j->db == NULL ||
	    jobs_set_concurrency(j, cfg->worker.max_concurrent) != 0) {
		*failed = true;
		return NULL;
	}
	if (pthread_create(&j->heartbeat, NULL, heartbeat_main, j) != 0) {
		*failed = true;
		return NULL;
	}
	listen_connect(j);
	announce(j);
	eccr_info("job processor %s: %d runners for %d job types", worker_id, j->limit, ntypes);
	return j;
}

bool jobs_stop(struct jobs *j, int deadline_ms)
{
	int64_t until = now_ms() + deadline_ms;
	const char *p[5];
	int k, busy, nr;

	if (j == NULL)
		return true;
	nr = atomic_load(&j->nrunners);
	atomic_store(&j->stopping, true);
	while ((busy = busy_runners(j)) > 0 && now_ms() < until)
		usleep(20000);
	(void)flush_finished(j);
	if (busy > 0) {
		/* Handlers that ignore cancellation: put their jobs back for
		 * another worker and leave without them. */
		PGresult *res;

		eccr_warn("%d jobs still running after %d ms: putting them back in the queue",
		    busy, deadline_ms);
		for (k = 0; k < nr; k++) {
			struct runner *r = &j->runners[k];

			pthread_mutex_lock(&r->lock);
			if (r->busy) {
				p[0] = r->id;
				p[1] = j->worker_id;
				p[2] = "release";
				p[3] = "the worker stopped";
				p[4] = "0";
				if (eccr_db_exec(j->db, &st_unfinished, p, &res) == ECCR_DB_OK)
					PQclear(res);
			}
			pthread_mutex_unlock(&r->lock);
		}
		return false;   /* runner threads still hold plugin state: no teardown */
	}
	pthread_mutex_lock(&j->hb_lock);
	j->hb_quit = true;
	pthread_cond_signal(&j->hb_wake);
	pthread_mutex_unlock(&j->hb_lock);
	pthread_join(j->heartbeat, NULL);
	for (k = 0; k < nr; k++) {
		struct runner *r = &j->runners[k];

		pthread_mutex_lock(&r->lock);
		r->quit = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		eccr_db_free(r->db);
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->wake);
	}
	free(j->runners);
	for (k = 0; k < j->nfinished; k++)     /* what the last flush could not record */
		free(j->finished[k].result);
	free(j->finished);
	free(j->flushing);
	pthread_mutex_destroy(&j->finished_lock);
	PQfinish(j->listen);
	eccr_db_free(j->db);
	close(j->wake_fd);
	pthread_mutex_destroy(&j->hb_lock);
	pthread_cond_destroy(&j->hb_wake);
	free(j);
	return true;
}
