/* main.c - eccr-worker: the outbox's safety net (and, with the jobs
 * issue, the job processor).
 *
 * Each round delivers the events no eccr-fcgi delivered within
 * outbox.grace_ms (their process died or its queue was full) and the
 * deliveries whose retry is due, in batches, each batch one transaction
 * with its rows locked FOR UPDATE SKIP LOCKED: any number of workers may
 * run side by side.  Between rounds it sleeps worker.poll_interval_ms, or
 * not at all while there is a backlog. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "plugins.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define BATCH 100

struct worker {
	struct eccr_config cfg;
	struct eccr_plugins plugins;
	struct eccr_db *db;
	bool down;          /* database unreachable: logged once */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: eccr-worker [-c FILE] [--once]\n"
	    "  -c FILE   configuration file (default: $ECCR_CONFIG or %s)\n"
	    "  --once    run one round (deliver what is due) and exit\n",
	    eccr_config_path(NULL));
}

/* One round; returns the number of events handled, -1 on database error. */
static long round_once(struct worker *w)
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
	if (a.events + b.events > 0)
		eccr_debug("delivered %zu stale events, %zu retries (%zu ok, %zu retry, %zu dead)",
		    a.events, b.events, a.ok + b.ok, a.retry + b.retry, a.dead + b.dead);
	return (long)(a.events + b.events);
}

/* Sleep up to ms, waking at once for a signal in set; returns it or 0. */
static int wait_signal(const sigset_t *set, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	int sig = sigtimedwait(set, NULL, &ts);

	return sig > 0 ? sig : 0;
}

static int serve(struct worker *w, const sigset_t *set, bool once)
{
	eccr_info("eccr-worker %s started: %zu plugins, grace %d ms, poll %d ms", PACKAGE_VERSION,
	    w->plugins.n, w->cfg.outbox.grace_ms, w->cfg.worker.poll_interval_ms);
	for (;;) {
		long n = round_once(w);
		int sig;

		if (once)
			return n < 0 ? 1 : 0;
		/* A full batch means more is waiting: go again at once. */
		sig = wait_signal(set, n >= BATCH ? 0 : w->cfg.worker.poll_interval_ms);
		if (sig == SIGTERM || sig == SIGINT) {
			eccr_info("signal %d: stopping", sig);
			return 0;
		}
		if (sig == SIGHUP)
			eccr_notice("SIGHUP: configuration reload is not supported yet; restart instead");
	}
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
	char err[ECCR_CONFIG_ERRLEN];
	bool once = false;
	sigset_t set;
	int c, rc;

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

	if (eccr_config_defaults(&w.cfg) != 0 ||
	    eccr_config_load(&w.cfg, eccr_config_path(cfgpath), err, sizeof err) != 0) {
		eccr_err("%s", err);
		eccr_config_free(&w.cfg);
		return 1;
	}
	eccr_log_init("eccr-worker", w.cfg.log.target, w.cfg.log.level);
	if (eccr_outbox_register() != 0 ||
	    eccr_plugins_load(&w.plugins, &w.cfg, err, sizeof err) != 0) {
		eccr_err("%s", err);
		eccr_config_free(&w.cfg);
		return 1;
	}
	if ((w.db = eccr_db_new(w.cfg.database.conninfo, "eccr-worker")) == NULL) {
		eccr_err("out of memory");
		rc = 1;
	} else {
		rc = serve(&w, &set, once);
	}
	eccr_db_free(w.db);
	eccr_plugins_unload(&w.plugins);
	eccr_config_free(&w.cfg);
	return rc;
}
