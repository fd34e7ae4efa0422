/* reload.h - eccr-worker's SIGHUP: read the configuration file again and
 * apply what can change while it runs. */
#ifndef ECCR_WORKER_RELOAD_H
#define ECCR_WORKER_RELOAD_H

#include "config.h"
#include "jobs.h"

/* Load path into a fresh configuration; when it is valid, copy [log]
 * level/target, worker.* and outbox.* into *live (the structure every
 * thread reads, stored atomically), resize the job runners, and log each
 * changed key that needs a restart instead.  A broken file changes
 * nothing and is logged with its FILE:LINE reason.  jobs may be NULL.
 * Returns 0 when applied, -1 when the file was refused. */
int worker_reload(struct eccr_config *live, const char *path, struct jobs *jobs);

#endif
