/* hub.h - the WebSocket hub's state: clients, rooms, and each client's
 * bounded send queue.  Knows nothing of libwebsockets: the transport hands
 * it complete client frames and pulls queued messages when the socket is
 * writable (ws.c), so the rules are unit-tested without sockets.
 * Single-threaded: everything here runs on the service thread. */
#ifndef ECCR_WSD_HUB_H
#define ECCR_WSD_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"

/* Headroom before each message's bytes for the transport's framing
 * (libwebsockets wants LWS_PRE; ws.c checks it fits). */
#define WSD_PRE 32
/* Largest client frame (API.md: 4 KiB). */
#define WSD_FRAME_MAX 4096
/* Rooms one client may be in at once. */
#define WSD_SUBS_MAX 64

/* One outgoing frame, shared by every client it is queued for. */
struct wsd_msg {
	unsigned refs;
	bool event;            /* an event frame (not a reply): counted when dropped */
	size_t len;
	unsigned char bytes[]; /* WSD_PRE bytes of headroom, then len bytes */
};

static inline unsigned char *wsd_msg_payload(struct wsd_msg *m)
{
	return m->bytes + WSD_PRE;
}

struct wsd_hub;
struct wsd_client;

struct wsd_hub_stats {
	uint64_t clients, rooms;
	uint64_t events_in;        /* envelopes published */
	uint64_t frames_out;       /* event frames queued, all clients */
	uint64_t slow_dropped;     /* clients disconnected with 1013 */
	uint64_t frames_dropped;   /* event frames a client never got: refused or
	                              freed when it overflowed, or still queued
	                              when it went away */
};

/* want_write(conn) asks the transport to call wsd_client_next() when the
 * client's socket can take more. */
struct wsd_hub *wsd_hub_new(size_t send_queue_bytes, void (*want_write)(void *conn));
void wsd_hub_free(struct wsd_hub *hub);
void wsd_hub_set_queue_limit(struct wsd_hub *hub, size_t send_queue_bytes);
void wsd_hub_get_stats(const struct wsd_hub *hub, struct wsd_hub_stats *out);

/* A connection authenticated as user sub (every role reads every room but
 * other users' own).  NULL on allocation failure. */
struct wsd_client *wsd_client_new(struct wsd_hub *hub, void *conn,
    const char *sub);
/* Leave every room, drop the queue, free. */
void wsd_client_free(struct wsd_hub *hub, struct wsd_client *c);

/* One complete text frame from the client: subscribe, unsubscribe or
 * ping; answers (subscribed, pong, error) are queued.  Never closes. */
void wsd_client_frame(struct wsd_hub *hub, struct wsd_client *c,
    const char *text, size_t len);
/* Queue an error frame (e.g. a frame over WSD_FRAME_MAX). */
void wsd_client_error(struct wsd_hub *hub, struct wsd_client *c,
    const char *code, const char *message);

/* Route one event envelope (JSON text) to its rooms' subscribers.
 * Returns the number of frames queued; -1 if the envelope is not valid. */
long wsd_hub_publish(struct wsd_hub *hub, const char *envelope, size_t len);
/* The same with its rooms already known (wsd_event_rooms): what the
 * service thread does with envelopes the listener thread has read. */
long wsd_hub_publish_to(struct wsd_hub *hub, const char *const *rooms, size_t nrooms,
    const char *envelope, size_t len);

/* The client's next frame to send, or NULL when the queue is empty.  The
 * message stays queued until wsd_client_sent(). */
struct wsd_msg *wsd_client_next(struct wsd_client *c);
void wsd_client_sent(struct wsd_client *c);
/* True once the queue overflowed: close the connection with 1013. */
bool wsd_client_too_slow(const struct wsd_client *c);
size_t wsd_client_queued_bytes(const struct wsd_client *c);

#endif
