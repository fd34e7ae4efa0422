/* jobs.h - eccr-worker's job processor.
 *
 * The main loop calls jobs_tick() whenever it wakes (a NOTIFY on
 * eccr_jobs, a runner finishing, or the poll interval): it reclaims the
 * jobs of workers whose lease ran out and claims as many runnable jobs as
 * it has idle runner threads, by priority then run_at, FOR UPDATE SKIP
 * LOCKED, with their job_started events in the same statement.  Each
 * runner thread runs one job at a time in its plugin; a success is left
 * for the main thread, which records the successes of all runners in one
 * statement before it claims again (a failure, rarer and with more to
 * decide, is recorded by its runner).  A heartbeat thread renews the
 * leases and carries cancel requests to the running handlers. */
#ifndef ECCR_WORKER_JOBS_H
#define ECCR_WORKER_JOBS_H

#include "config.h"
#include "dispatch.h"
#include "plugins.h"

struct jobs;

int jobs_register(void);

/* NULL when no job plugin is loaded (nothing to run) or on failure (*failed set). */
struct jobs *jobs_start(const struct eccr_config *cfg, const struct eccr_plugins *ps,
    struct eccr_dispatch *d, const char *worker_id, bool *failed);

/* Run at most n jobs at once from now on (1..1024; a SIGHUP reload):
 * more runner threads start when n grows; when it shrinks, running jobs
 * finish and fewer are claimed.  Main thread only.  -1 when not all the
 * threads could start (the limit is then what runs). */
int jobs_set_concurrency(struct jobs *j, int n);

/* Descriptors to poll: the LISTEN connection (-1 while disconnected) and
 * an eventfd a runner signals when it becomes idle. */
int jobs_listen_fd(struct jobs *j);
int jobs_wake_fd(struct jobs *j);

/* Drain what woke us; reconnect LISTEN if needed; record the jobs that
 * succeeded since the last tick; reclaim (at most every 250 ms) and claim.
 * Returns the number of jobs started, -1 on a database error. */
int jobs_tick(struct jobs *j);

/* Stop claiming; ask running handlers to stop (ctx->cancelled() turns
 * true); wait up to deadline_ms for them; put what is still running back
 * in the queue (the attempt does not count); free everything.  Returns
 * false when handlers were still running: their threads were left alone,
 * so the caller must not unload the plugins before exiting. */
bool jobs_stop(struct jobs *j, int deadline_ms);

#endif
