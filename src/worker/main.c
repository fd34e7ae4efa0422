/* main.c - eccr-worker: the job processor and the outbox's safety net.
 *
 * One main thread waits (poll) on three things: a signalfd for SIGTERM,
 * SIGINT and SIGHUP; the LISTEN connection that hears "eccr_jobs" when a
 * job becomes runnable; and an eventfd a runner writes when it becomes
 * idle.  Whenever it wakes it claims jobs for the idle runners (jobs.c);
 * every worker.poll_interval_ms it also delivers the events no eccr-fcgi
 * delivered within outbox.grace_ms and the deliveries whose retry is due
 * (outbox.c), and now and then removes expired Idempotency-Key answers
 * (idempotency_gc.c).  Events the worker itself writes (job_started, ...) go
 * through its own dispatcher (outbox.dispatch_threads), as in eccr-fcgi,
 * and so do the presence_left of viewers whose ttl ran out where nobody
 * looks any more (presence_sweep.c, a thread of its own).  SIGHUP reads the
 * configuration file again (reload.c). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "idempotency_gc.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "outbox.h"
#include "plugins.h"
#include "presence_sweep.h"
#include "reload.h"
#include "storage.h"
#include "storage_gc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define BATCH 100
#define STOP_DEADLINE_MS 10000

struct worker {
	struct eccr_config cfg;
	struct eccr_plugins plugins;
	struct eccr_db *db;
	struct eccr_dispatch *dispatch;
	struct jobs *jobs;
	struct presence_sweep *sweep;
	struct eccr_storage *storage;
	char id[128];
	const char *cfgpath;    /* the file read at start-up, read again on SIGHUP */
	bool down;          /* database unreachable: logged once */
	bool types_synced;  /* notification_types written (notify.h) */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: eccr-worker [-c FILE] [--once]\n"
	    "  -c FILE   configuration file (default: $ECCR_CONFIG or %s)\n"
	    "  --once    deliver what is due in the outbox once and exit (no jobs)\n",
	    eccr_config_path(NULL));
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One outbox round; returns the number of events handled, -1 on error. */
static long outbox_round(struct worker *w)
{
	struct eccr_outbox_stats a, b;
	enum eccr_db_err e;

	e = eccr_outbox_sweep(w->db, &w->plugins, &w->cfg, BATCH, &a);
	if (e == ECCR_DB_OK)
		e = eccr_outbox_retry_due(w->db, &w->plugins, &w->cfg, BATCH, &b);
	if (e != ECCR_DB_OK) {
		if (!w->down)
			eccr_warn("database unavailable; retrying every %d ms",
			    w->cfg.worker.poll_interval_ms);
		w->down = true;
		return -1;
	}
	if (w->down)
		eccr_notice("database reachable again");
	w->down = false;
	/* Once per start, and again until it worked (database down at start). */
	if (!w->types_synced)
		w->types_synced = eccr_notify_sync_types(w->db, w->cfg.notifications.types) == ECCR_DB_OK;
	storage_gc_round(w->db, w->storage);
	if (a.events + b.events > 0)
		eccr_debug("delivered %zu stale events, %zu retries (%zu ok, %zu retry, %zu dead)",
		    a.events, b.events, a.ok + b.ok, a.retry + b.retry, a.dead + b.dead);
	return (long)(a.events + b.events);
}

/* Wait for a signal, a NOTIFY or an idle runner, at most timeout_ms.
 * Returns the signal number, or 0. */
static int wait_event(struct worker *w, int sfd, int timeout_ms)
{
	struct pollfd fds[3] = { { sfd, POLLIN, 0 }, { -1, POLLIN, 0 }, { -1, POLLIN, 0 } };
	struct signalfd_siginfo si;

	if (w->jobs != NULL) {
		fds[1].fd = jobs_listen_fd(w->jobs);
		fds[2].fd = jobs_wake_fd(w->jobs);
	}
	if (poll(fds, 3, timeout_ms) > 0 && (fds[0].revents & POLLIN) &&
	    read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
		return (int)si.ssi_signo;
	return 0;
}

static int serve(struct worker *w, int sfd)
{
	int64_t next_outbox = 0, next_idem_gc = 0;

	eccr_info("eccr-worker %s (%s) started: %zu plugins, grace %d ms, poll %d ms",
	    PACKAGE_VERSION, w->id, w->plugins.n, w->cfg.outbox.grace_ms,
	    w->cfg.worker.poll_interval_ms);
	for (;;) {
		int sig, timeout = w->cfg.worker.poll_interval_ms;

		if (w->jobs != NULL)
			jobs_tick(w->jobs);
		if (now_ms() >= next_outbox) {
			/* A full batch means more is waiting: go again at once. */
			long n = outbox_round(w);

			next_outbox = n >= BATCH ? 0 : now_ms() + w->cfg.worker.poll_interval_ms;
		}
		if (now_ms() >= next_idem_gc) {
			(void)idempotency_gc_round(w->db, w->cfg.server.idempotency_ttl_s);
			next_idem_gc = now_ms() +
			    idempotency_gc_interval_ms(w->cfg.server.idempotency_ttl_s);
		}
		if (next_outbox == 0)
			timeout = 0;
		else if (next_outbox - now_ms() < timeout)
			timeout = (int)(next_outbox - now_ms());
		sig = wait_event(w, sfd, timeout < 0 ? 0 : timeout);
		if (sig == SIGTERM || sig == SIGINT) {
			eccr_info("signal %d: stopping", sig);
			return 0;
		}
		if (sig == SIGHUP)
			(void)worker_reload(&w->cfg, w->cfgpath, w->jobs);
	}
}

static int setup(struct worker *w, const char *cfgpath, bool once)
{
	char err[ECCR_CONFIG_ERRLEN], host[64];
	bool failed = false;

	w->cfgpath = eccr_config_path(cfgpath);
	if (eccr_config_defaults(&w->cfg) != 0 ||
	    eccr_config_load(&w->cfg, w->cfgpath, err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	eccr_log_configure("eccr-worker", &w->cfg);
	if (!once && eccr_metrics_open(w->cfg.metrics.dir, "worker", err, sizeof err) != 0)
		eccr_warn("%s: this worker's deliveries will not show in /metrics", err);
	if (eccr_outbox_register() != 0 || eccr_notify_register() != 0 || jobs_register() != 0 || storage_gc_register() != 0 ||
	    idempotency_gc_register() != 0 ||
	    presence_sweep_register() != 0 ||
	    eccr_plugins_load(&w->plugins, &w->cfg, err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(w->id, sizeof w->id, "%s:%ld", host, (long)getpid());
	if ((w->db = eccr_db_new(w->cfg.database.conninfo, "eccr-worker")) == NULL)
		return -1;
	if ((w->storage = eccr_storage_new(&w->cfg, err, sizeof err)) == NULL)
		eccr_warn("%s: stored objects of deleted files will not be removed", err);
	if (once)
		return 0;
	/* Without sinks there is nothing to dispatch: the outbox rounds mark
	 * this worker's events delivered in batches. */
	if (eccr_plugins_has_sinks(&w->plugins) &&
	    (w->dispatch = eccr_dispatch_start(&w->cfg, &w->plugins,
	    w->cfg.outbox.dispatch_threads)) == NULL) {
		eccr_err("cannot start the event dispatcher");
		return -1;
	}
	w->jobs = jobs_start(&w->cfg, &w->plugins, w->dispatch, w->id, &failed);
	if (failed) {
		eccr_err("cannot start the job processor");
		return -1;
	}
	/* Only with somewhere to announce them: a sweep takes each expiry
	 * for good, so one nobody hears would be lost for every process.
	 * Without it expiries are still announced, by the next request. */
	if (w->dispatch != NULL)
		w->sweep = presence_sweep_start(&w->cfg, &w->plugins, w->dispatch);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct worker w;
	const char *cfgpath = NULL;
	bool once = false, clean = true;
	sigset_t set;
	int c, rc, sfd;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'o': once = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': puts("eccr-worker " PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		eccr_err("signalfd: %s", strerror(errno));
		return 1;
	}

	if (setup(&w, cfgpath, once) != 0) {
		rc = 1;
	} else if (once) {
		rc = outbox_round(&w) < 0 ? 1 : 0;
	} else {
		rc = serve(&w, sfd);
		presence_sweep_stop(w.sweep);
		w.sweep = NULL;
		clean = jobs_stop(w.jobs, STOP_DEADLINE_MS);
		w.jobs = NULL;
	}
	if (!clean) {
		/* Handlers still run in their threads: leave without tearing
		 * down what they use; their jobs are back in the queue. */
		eccr_dispatch_stop(w.dispatch);
		return rc;
	}
	eccr_dispatch_stop(w.dispatch);
	eccr_storage_free(w.storage);
	eccr_db_free(w.db);
	eccr_plugins_unload(&w.plugins);
	eccr_config_free(&w.cfg);
	close(sfd);
	return rc;
}
