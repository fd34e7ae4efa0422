/* wsd.h - the state eccr-wsd's parts share (main.c sets it up, ws.c serves
 * the connections).  Everything but the listener's thread runs on the
 * libwebsockets service thread. */
#ifndef ECCR_WSD_H
#define ECCR_WSD_H

#include <signal.h>
#include <stdbool.h>

#include <libwebsockets.h>

#include "auth.h"
#include "config.h"
#include "hub.h"
#include "listener.h"

struct wsd {
	struct eccr_config cfg;
	struct eccr_auth *auth;
	/* The handshake checks a token twice (to answer 401, then to bind it
	 * to the connection): the second check is answered from here. */
	struct eccr_auth_memo auth_memo;
	struct wsd_hub *hub;
	struct wsd_listener *listener;
	struct lws_context *lws;
	long connections;            /* upgraded and not yet closed */
	volatile sig_atomic_t stop, reload;
};

/* The one protocol: the WebSocket API on /ws, and GET /health. */
extern const struct lws_protocols wsd_protocols[];

/* The hub's want_write: ask for a writable callback. */
void wsd_want_write(void *conn);

/* The listener's wake-up: thread-safe. */
void wsd_wake(void *arg);

#endif
