/* main.c - eccr-fcgi: the FastCGI responder.
 *
 * server.threads threads each own one FCGX_Request, one PostgreSQL
 * connection and their buffers, and loop on FCGX_Accept_r on the socket the
 * web server handed us on fd 0 (or on server.listen / -s PATH).  The main
 * thread only waits for SIGTERM/SIGINT, then shuts the listening socket so
 * every thread finishes its request in flight and returns. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "content_sniff.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "outbox.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: eccr-fcgi [-c FILE] [-s SOCKET]\n"
	    "  -c FILE    configuration file (default: $ECCR_CONFIG or %s)\n"
	    "  -s SOCKET  listen on this unix socket (or host:port) instead of\n"
	    "             the socket the web server passes on file descriptor 0\n",
	    eccr_config_path(NULL));
}

static void *worker(void *arg)
{
	struct eccr_ctx *c = arg;

	while (FCGX_Accept_r(&c->fcgx) >= 0) {
		eccr_app_handle(c);
		FCGX_Finish_r(&c->fcgx);
	}
	return NULL;
}

static int split_prefix(const char *path, struct eccr_buf *buf, struct eccr_path *out)
{
	if (path[0] == '\0') {  /* mounted at the root: no prefix segments */
		out->nseg = 0;
		return 0;
	}
	eccr_buf_reset(buf);
	eccr_buf_adds(buf, path);
	if (buf->oom)
		return -1;
	return eccr_path_split(buf->p, out);
}

/* Label the metrics slots with the route patterns (eccr_route_slot's order). */
static void label_routes(const struct eccr_app *a)
{
	const struct eccr_config *cfg = &a->cfg;
	char pattern[ECCR_METRICS_LABEL];
	size_t i;

	if (eccr_api_nroutes + eccr_root_nroutes + 1 > ECCR_METRICS_ROUTES)
		eccr_warn("more routes than metrics slots (%d): the last are not counted",
		    ECCR_METRICS_ROUTES);
	for (i = 0; i < eccr_api_nroutes; i++) {
		snprintf(pattern, sizeof pattern, "%s/%s", cfg->server.base_path,
		    eccr_api_routes[i].pattern);
		eccr_metrics_route_label(i, eccr_method_name(eccr_api_routes[i].methods), pattern);
	}
	for (i = 0; i < eccr_root_nroutes; i++) {
		snprintf(pattern, sizeof pattern, "%s/%s", cfg->server.mount_path,
		    eccr_root_routes[i].pattern);
		eccr_metrics_route_label(eccr_api_nroutes + i,
		    eccr_method_name(eccr_root_routes[i].methods), pattern);
	}
	eccr_metrics_route_label(eccr_api_nroutes + eccr_root_nroutes, "any", "unmatched");
}

static void metrics_init(struct eccr_app *a)
{
	char err[256];

	if (eccr_metrics_open(a->cfg.metrics.dir, "fcgi", err, sizeof err) != 0)
		eccr_warn("%s: /metrics will count this process's requests only", err);
	label_routes(a);
}

/* The trigger of migration 0005 reads the notifiable types from the
 * database; eccr-worker writes them too, and again until it worked. */
static void sync_notify_types(struct eccr_app *a)
{
	struct eccr_db *db = eccr_db_new(a->cfg.database.conninfo, "eccr-fcgi");

	if (db == NULL || eccr_notify_sync_types(db, a->cfg.notifications.types) != ECCR_DB_OK)
		eccr_warn("notification types not written to the database; eccr-worker will");
	eccr_db_free(db);
}

static int app_init(struct eccr_app *a, const char *cfgpath, const char *listen_opt)
{
	char err[ECCR_CONFIG_ERRLEN];
	const char *listen_path;

	if (eccr_config_defaults(&a->cfg) != 0 ||
	    eccr_config_load(&a->cfg, cfgpath, err, sizeof err) != 0 ||
	    eccr_config_check_auth(&a->cfg, err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	eccr_log_configure("eccr-fcgi", &a->cfg);
	metrics_init(a);
	if ((a->auth = eccr_auth_new(&a->cfg, err, sizeof err)) == NULL) {
		eccr_err("auth: %s", err);
		return -1;
	}
	if (split_prefix(a->cfg.server.base_path, &a->api_prefix_buf, &a->api_prefix) != 0 ||
	    split_prefix(a->cfg.server.mount_path, &a->mount_prefix_buf, &a->mount_prefix) != 0) {
		eccr_err("%s: server.base_path or server.mount_path is not a valid path",
		    a->cfg.path);
		return -1;
	}
	if (eccr_app_register_statements() != 0 || eccr_outbox_register() != 0) {
		eccr_err("too many prepared statements");
		return -1;
	}
	if (eccr_plugins_load(&a->plugins, &a->cfg, err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	if ((a->storage = eccr_storage_new(&a->cfg, err, sizeof err)) == NULL) {
		eccr_err("%s", err);
		return -1;
	}
	/* Uploads are judged by libmagic: without it none could be taken. */
	if (eccr_sniff_check(err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	sync_notify_types(a);
	if (FCGX_Init() != 0) {
		eccr_err("FCGX_Init failed");
		return -1;
	}
	listen_path = listen_opt ? listen_opt : a->cfg.server.listen;
	if (listen_path != NULL && listen_path[0] != '\0') {
		a->listen_fd = FCGX_OpenSocket(listen_path, 1024);
		if (a->listen_fd < 0) {
			eccr_err("cannot listen on %s: %s", listen_path, strerror(errno));
			return -1;
		}
		if (strchr(listen_path, ':') == NULL)
			chmod(listen_path, 0660);
	} else if (FCGX_IsCGI()) {
		eccr_err("not started as a FastCGI application: run it from the web "
		    "server, spawn-fcgi or systemd, or give -s SOCKET");
		return -1;
	} else {
		a->listen_fd = 0;
	}
	return 0;
}

static void app_fini(struct eccr_app *a)
{
	eccr_plugins_unload(&a->plugins);
	eccr_storage_free(a->storage);
	eccr_auth_free(a->auth);
	eccr_buf_free(&a->api_prefix_buf);
	eccr_buf_free(&a->mount_prefix_buf);
	eccr_config_free(&a->cfg);
}

static int ctx_init(struct eccr_ctx *c, struct eccr_app *a)
{
	memset(c, 0, sizeof *c);
	c->app = a;
	eccr_req_init(&c->req);
	c->db = eccr_db_new(a->cfg.database.conninfo, "eccr-fcgi");
	if (c->db == NULL)
		return -1;
	return FCGX_InitRequest(&c->fcgx, a->listen_fd, 0);
}

static void ctx_fini(struct eccr_ctx *c)
{
	FCGX_Free(&c->fcgx, 0);
	eccr_req_free(&c->req);
	eccr_buf_free(&c->scratch);
	eccr_db_free(c->db);
}

/* Start the threads, wait for a stop signal, then drain and join. */
static int serve(struct eccr_app *a, const sigset_t *stopset)
{
	int n = a->cfg.server.threads, started = 0, sig = 0, rc = 0;
	struct eccr_ctx *ctx = calloc((size_t)n, sizeof *ctx);
	pthread_t *tid = calloc((size_t)n, sizeof *tid);

	if (ctx == NULL || tid == NULL) {
		eccr_err("out of memory");
		rc = -1;
		goto out;
	}
	if (eccr_plugins_has_sinks(&a->plugins) &&
	    (a->dispatch = eccr_dispatch_start(&a->cfg, &a->plugins,
	    a->cfg.outbox.dispatch_threads)) == NULL) {
		eccr_err("cannot start the event dispatcher");
		rc = -1;
		goto out;
	}
	for (; started < n; started++) {
		if (ctx_init(&ctx[started], a) != 0 ||
		    pthread_create(&tid[started], NULL, worker, &ctx[started]) != 0) {
			eccr_err("cannot start thread %d", started);
			ctx_fini(&ctx[started]);
			rc = -1;
			break;
		}
	}
	if (rc == 0) {
		eccr_info("eccr-fcgi %s ready: %d threads", PACKAGE_VERSION, n);
		sigwait(stopset, &sig);
		eccr_info("signal %d: finishing requests in flight", sig);
	}
	FCGX_ShutdownPending();
	shutdown(a->listen_fd, SHUT_RDWR);
	for (int i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		ctx_fini(&ctx[i]);
	}
	/* Requests are done: deliver what they queued, then the sinks go. */
	eccr_dispatch_stop(a->dispatch);
	a->dispatch = NULL;
out:
	free(ctx);
	free(tid);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *cfgopt = NULL, *sockopt = NULL;
	struct eccr_app app;
	sigset_t stopset;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "c:s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': cfgopt = optarg; break;
		case 's': sockopt = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': puts("eccr-fcgi " PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Block the stop signals in every thread; main waits for them. */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&app, 0, sizeof app);
	rc = app_init(&app, eccr_config_path(cfgopt), sockopt);
	if (rc == 0)
		rc = serve(&app, &stopset);
	app_fini(&app);
	return rc == 0 ? 0 : 1;
}
