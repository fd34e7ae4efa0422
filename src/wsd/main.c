/* main.c - eccr-wsd: the WebSocket hub.
 *
 * Clients connect to /ws?token=JWT and subscribe to rooms; the hub LISTENs
 * on PostgreSQL (the channel broadcast-ws notifies on), so every hub on
 * every host hears every event, and routes each to its rooms (rooms.c).
 * One service thread (libwebsockets) owns the clients; one listener thread
 * owns the PostgreSQL connection (listener.c).  SIGTERM/SIGINT stop
 * cleanly; SIGHUP re-reads the configuration. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "wsd.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

/* Envelopes waiting for the service thread; beyond this the listener drops
 * (and counts) rather than let a stuck service thread eat the memory. */
#define INBOX_MAX 100000

static struct wsd *the_wsd;   /* for the signal handlers only */

static void usage(FILE *f)
{
	fprintf(f, "usage: eccr-wsd [-c FILE] [-l ADDRESS:PORT]\n"
	    "  -c FILE          configuration file (default: $ECCR_CONFIG or %s)\n"
	    "  -l ADDRESS:PORT  listen here instead of wsd.listen\n",
	    eccr_config_path(NULL));
}

static void on_signal(int sig)
{
	if (!the_wsd)
		return;
	if (sig == SIGHUP)
		the_wsd->reload = 1;
	else
		the_wsd->stop = 1;
	/* Writes one byte to libwebsockets' wake-up pipe. */
	if (the_wsd->lws)
		lws_cancel_service(the_wsd->lws);
}

static void lws_to_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	eccr_log(level == LLL_ERR ? LOG_ERR : LOG_WARNING, "libwebsockets: %.*s", (int)n, line);
}

/* "host:port" -> iface and port; the config reader validated the shape. */
static int split_listen(const char *listen, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(listen, ':');
	int64_t n64;
	size_t n;

	if (!colon || colon == listen)
		return -1;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n >= hostlen)
		return -1;
	memcpy(host, listen, n);
	host[n] = '\0';
	if (!eccr_parse_i64(colon + 1, 1, 65535, &n64))
		return -1;
	*port = (int)n64;
	return 0;
}

static int load_config(struct eccr_config *cfg, const char *path)
{
	char err[512];

	if (eccr_config_defaults(cfg) != 0 ||
	    eccr_config_load(cfg, eccr_config_path(path), err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	if (cfg->auth.mode != ECCR_AUTH_JWT) {
		eccr_err("%s: eccr-wsd needs auth.mode = jwt (browsers pass a token to /ws)",
		    cfg->path);
		return -1;
	}
	if (eccr_config_check_auth(cfg, err, sizeof err) != 0) {
		eccr_err("%s", err);
		return -1;
	}
	return 0;
}

/* SIGHUP: read the file again; keep everything if it is not valid.
 * Authentication keys and the per-client queue bound apply at once; the
 * listen address, database, channel and log settings need a restart (the
 * listener thread logs concurrently, and the log is set up before threads). */
static void reload(struct wsd *w, const char *path)
{
	struct eccr_config cfg;
	struct eccr_auth *auth;
	char err[512];

	memset(&cfg, 0, sizeof cfg);
	if (load_config(&cfg, path) != 0) {
		eccr_err("reload refused; still running with the previous configuration");
		eccr_config_free(&cfg);
		return;
	}
	auth = eccr_auth_new(&cfg, err, sizeof err);
	if (!auth) {
		eccr_err("reload refused: %s", err);
		eccr_config_free(&cfg);
		return;
	}
	if (strcmp(cfg.wsd.listen, w->cfg.wsd.listen) != 0 ||
	    strcmp(cfg.wsd.channel, w->cfg.wsd.channel) != 0 ||
	    strcmp(cfg.database.conninfo, w->cfg.database.conninfo) != 0)
		eccr_warn("wsd.listen, wsd.channel, database.conninfo and [log] change on restart only");
	eccr_auth_free(w->auth);
	w->auth = auth;
	memset(&w->auth_memo, 0, sizeof w->auth_memo);   /* old keys' verdicts */
	wsd_hub_set_queue_limit(w->hub, (size_t)cfg.wsd.send_queue_bytes);
	eccr_config_free(&w->cfg);
	w->cfg = cfg;
	eccr_notice("configuration reloaded from %s", w->cfg.path);
}

static struct lws_context *start_lws(struct wsd *w, const char *listen)
{
	static const lws_retry_bo_t idle = {
		/* WebSocket PINGs after 30 s of silence; drop after 60 s. */
		.secs_since_valid_ping = 30,
		.secs_since_valid_hangup = 60,
	};
	static char host[256];
	struct lws_context_creation_info info;
	int port;

	if (split_listen(listen, host, sizeof host, &port) != 0) {
		eccr_err("cannot use listen address \"%s\"", listen);
		return NULL;
	}
	memset(&info, 0, sizeof info);
	info.port = port;
	info.iface = host;
	info.protocols = wsd_protocols;
	info.user = w;
	info.retry_and_idle_policy = &idle;
	info.max_http_header_data = 8192 + 1024;   /* tokens ride in the URL */
	info.fd_limit_per_thread = (unsigned)w->cfg.wsd.max_clients + 64;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.gid = -1;
	info.uid = -1;
	return lws_create_context(&info);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int run(struct wsd *w, const char *cfgpath, const char *listen)
{
	char err[512];

	w->auth = eccr_auth_new(&w->cfg, err, sizeof err);
	if (!w->auth) {
		eccr_err("%s", err);
		return 1;
	}
	w->hub = wsd_hub_new((size_t)w->cfg.wsd.send_queue_bytes, wsd_want_write);
	if (!w->hub)
		return 1;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_to_log);
	w->lws = start_lws(w, listen ? listen : w->cfg.wsd.listen);
	if (!w->lws) {
		eccr_err("cannot listen on %s", listen ? listen : w->cfg.wsd.listen);
		return 1;
	}
	w->listener = wsd_listener_start(w->cfg.database.conninfo, w->cfg.wsd.channel,
	    INBOX_MAX, wsd_wake, w);
	if (!w->listener) {
		eccr_err("cannot start the listener thread");
		return 1;
	}
	eccr_notice("eccr-wsd %s listening on %s", PACKAGE_VERSION,
	    listen ? listen : w->cfg.wsd.listen);
	while (!w->stop) {
		if (lws_service(w->lws, 0) < 0)
			break;
		if (w->reload) {
			w->reload = 0;
			reload(w, cfgpath);
		}
	}
	eccr_notice("stopping");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct wsd w;
	const char *cfgpath = NULL, *listen = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:l:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'l': listen = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("eccr-wsd %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	eccr_log_init("eccr-wsd", ECCR_LOG_STDERR, LOG_INFO);
	if (load_config(&w.cfg, cfgpath) != 0)
		return 1;
	eccr_log_init("eccr-wsd", w.cfg.log.target, w.cfg.log.level);
	the_wsd = &w;
	install_signals();
	rc = run(&w, cfgpath, listen);
	/* Listener first: it wakes the service thread, which must still exist. */
	wsd_listener_stop(w.listener);
	if (w.lws)
		lws_context_destroy(w.lws);   /* closes every client (1001) */
	the_wsd = NULL;
	wsd_hub_free(w.hub);
	eccr_auth_free(w.auth);
	eccr_config_free(&w.cfg);
	return rc;
}
