/* listener.h - the hub's PostgreSQL side: one thread that LISTENs on the
 * configured channel and hands event envelopes to the service thread.
 *
 * broadcast-ws publishes each envelope with pg_notify; one too large for
 * NOTIFY's 8000-byte payload arrives as "id:<event id>" and is read from
 * `events`.  When the connection drops (a PostgreSQL restart) the thread
 * reconnects by itself with backoff, LISTENs again, and catches up on the
 * events committed meanwhile from the `events` table, skipping ids it has
 * already passed on. */
#ifndef ECCR_WSD_LISTENER_H
#define ECCR_WSD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wsd_listener;

/* wake() is called from the listener thread after envelopes were queued:
 * it must be thread-safe (lws_cancel_service). */
struct wsd_listener *wsd_listener_start(const char *conninfo, const char *channel,
    size_t inbox_max, void (*wake)(void *arg), void *arg);
/* Stops and joins the thread, frees what is queued. */
void wsd_listener_stop(struct wsd_listener *l);

/* An envelope and the rooms it goes to (wsd_event_rooms), as queued. */
typedef void wsd_publish_fn(void *arg, const char *const *rooms, size_t nrooms,
    const char *envelope, size_t len);

/* On the service thread: hand every queued envelope to fn, oldest first. */
void wsd_listener_drain(struct wsd_listener *l, wsd_publish_fn *fn, void *arg);

struct wsd_listener_stats {
	bool listening;            /* connected and LISTENing now */
	uint64_t notifications;    /* envelopes received */
	uint64_t caught_up;        /* envelopes read back after a reconnect */
	uint64_t duplicates;       /* skipped: already passed on */
	uint64_t dropped;          /* inbox full: lost (clients re-sync) */
	uint64_t reconnects;
};
void wsd_listener_get_stats(struct wsd_listener *l, struct wsd_listener_stats *out);

#endif
