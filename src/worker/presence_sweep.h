/* presence_sweep.h - eccr-worker announces the viewers whose ttl ran out on
 * resources nobody touches any more.
 *
 * A thread of its own asks the plugins "presence.sweep" once a second (the
 * presence plugin itself limits how often it really sweeps: sweep_s) and
 * offers a transient presence_left (actor "system", reason "expired") to
 * the dispatcher for each expiry it answers, with the episode_id eccr-fcgi
 * would give it (a file's or job's looked up on a connection of its own).  It stops asking for good
 * when no plugin answers the query.  Its own thread, not the main loop, so
 * that memcached round trips never delay the claiming of jobs. */
#ifndef ECCR_WORKER_PRESENCE_SWEEP_H
#define ECCR_WORKER_PRESENCE_SWEEP_H

#include "config.h"
#include "dispatch.h"
#include "plugins.h"

struct presence_sweep;

/* Its statement (db.h); before any connection is made. */
int presence_sweep_register(void);

/* Start the thread; NULL (after logging why) when it could not start.
 * cfg, ps and d must outlive presence_sweep_stop. */
struct presence_sweep *presence_sweep_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps, struct eccr_dispatch *d);

/* Ask the thread to stop, wait for it (at most one sweep: memcached calls
 * are bounded by the plugin's timeouts) and free it.  NULL is fine. */
void presence_sweep_stop(struct presence_sweep *s);

#endif
