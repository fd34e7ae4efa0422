/* ws.c - eccr-wsd's libwebsockets protocol: the handshake (token, path,
 * capacity), client frames, writing queued frames, GET /health.
 *
 * libwebsockets calls back on the service thread only; the hub is
 * therefore used without locks.  One frame is written per writable
 * callback, as libwebsockets asks, and a client whose queue overflowed
 * is closed with 1013 there. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "wsd.h"

_Static_assert(WSD_PRE >= LWS_PRE, "hub headroom must cover LWS_PRE");

/* Kernel send buffer per connection.  Fixed rather than autotuned: with
 * thousands of clients, autotuning lets each hold megabytes in the kernel
 * before the hub's own bounded queue sees a slow reader at all. */
#define SOCKET_SNDBUF 65536
#define TOKEN_MAX 8192

struct session {
	struct wsd_client *client;
	char sub[ECCR_SUB_MAX * 4 + 1];
	long exp;                 /* the token's exp: the connection ends then */
	char *rx;                 /* a message arriving in fragments */
	size_t rxlen;
	bool rx_too_long, rx_binary;
};

static struct wsd *wsd_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---------------------------------------------------------------- HTTP answers */

/* A whole small response written as raw bytes: libwebsockets' header
 * helpers answer an upgrade request with an HTTP/1.0 status line, which
 * strict WebSocket clients refuse to read. */
static int http_answer(struct lws *wsi, unsigned status, const char *ctype,
    const char *body, bool closing)
{
	unsigned char out[LWS_PRE + 3072];
	char *p = (char *)out + LWS_PRE;
	size_t room = sizeof out - LWS_PRE;
	int n;

	n = snprintf(p, room, "HTTP/1.1 %u %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n%s",
	    status, status == 200 ? "OK" : status == 401 ? "Unauthorized" :
	    status == 403 ? "Forbidden" :
	    status == 404 ? "Not Found" : status == 400 ? "Bad Request" : "Service Unavailable",
	    ctype, strlen(body),
	    status == 401 ? "WWW-Authenticate: Bearer realm=\"eccr\"\r\n" : "",
	    closing ? "Connection: close\r\n" : "", body);
	if (n < 0 || (size_t)n >= room)
		return -1;
	return lws_write(wsi, out + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL) == n ? 0 : -1;
}

static int problem(struct lws *wsi, unsigned status, const char *title,
    const char *code, const char *detail, bool closing)
{
	char body[512];

	snprintf(body, sizeof body,
	    "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,\"code\":\"%s\",\"detail\":\"%s\"}",
	    title, status, code, detail);
	return http_answer(wsi, status, "application/problem+json", body, closing);
}

static int health(struct lws *wsi, struct wsd *w)
{
	struct wsd_hub_stats hs;
	struct wsd_listener_stats ls;
	char body[512];

	wsd_hub_get_stats(w->hub, &hs);
	wsd_listener_get_stats(w->listener, &ls);
	snprintf(body, sizeof body,
	    "{\"status\":\"%s\",\"database\":\"%s\",\"clients\":%llu,\"rooms\":%llu,"
	    "\"events\":%llu,\"frames\":%llu,\"slow_dropped\":%llu,\"caught_up\":%llu,"
	    "\"reconnects\":%llu}",
	    ls.listening ? "ok" : "degraded", ls.listening ? "ok" : "down",
	    (unsigned long long)hs.clients, (unsigned long long)hs.rooms,
	    (unsigned long long)hs.events_in, (unsigned long long)hs.frames_out,
	    (unsigned long long)hs.slow_dropped, (unsigned long long)ls.caught_up,
	    (unsigned long long)ls.reconnects);
	return http_answer(wsi, ls.listening ? 200 : 503, "application/json", body, false);
}

/* Prometheus text format.  Like eccr-fcgi's /metrics: public only where
 * metrics.public = true, else an admin's bearer token. */
static int metrics(struct lws *wsi, struct wsd *w)
{
	static char auth[TOKEN_MAX + 16];
	struct wsd_hub_stats hs;
	struct wsd_listener_stats ls;
	struct eccr_principal who;
	char body[2400];
	int n;

	if (!w->cfg.metrics.public_) {
		if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
		    eccr_auth_bearer(w->auth, auth, time(NULL), &who) != ECCR_AUTH_OK)
			return problem(wsi, 401, "Unauthorized", "unauthorized",
			    "an admin token is needed (metrics.public = false)", false);
		if (who.role != ECCR_ROLE_ADMIN)
			return problem(wsi, 403, "Forbidden", "forbidden", "admins only", false);
	}
	wsd_hub_get_stats(w->hub, &hs);
	wsd_listener_get_stats(w->listener, &ls);
	n = snprintf(body, sizeof body,
	    "# HELP eccr_wsd_clients WebSocket clients connected.\n"
	    "# TYPE eccr_wsd_clients gauge\neccr_wsd_clients %llu\n"
	    "# HELP eccr_wsd_rooms Rooms with at least one subscriber.\n"
	    "# TYPE eccr_wsd_rooms gauge\neccr_wsd_rooms %llu\n"
	    "# HELP eccr_wsd_events_total Event envelopes routed.\n"
	    "# TYPE eccr_wsd_events_total counter\neccr_wsd_events_total %llu\n"
	    "# HELP eccr_wsd_frames_total Event frames queued to clients.\n"
	    "# TYPE eccr_wsd_frames_total counter\neccr_wsd_frames_total %llu\n"
	    "# HELP eccr_wsd_slow_dropped_total Clients closed with 1013 (send queue full).\n"
	    "# TYPE eccr_wsd_slow_dropped_total counter\neccr_wsd_slow_dropped_total %llu\n"
	    "# HELP eccr_wsd_frames_dropped_total Event frames a client never got: refused or freed"
	    " when its send queue overflowed, or still queued when it went away.\n"
	    "# TYPE eccr_wsd_frames_dropped_total counter\neccr_wsd_frames_dropped_total %llu\n"
	    "# HELP eccr_wsd_listening 1 while LISTENing on PostgreSQL.\n"
	    "# TYPE eccr_wsd_listening gauge\neccr_wsd_listening %d\n"
	    "# HELP eccr_wsd_reconnects_total LISTEN connections made.\n"
	    "# TYPE eccr_wsd_reconnects_total counter\neccr_wsd_reconnects_total %llu\n"
	    "# HELP eccr_wsd_caught_up_total Events read back after a reconnect.\n"
	    "# TYPE eccr_wsd_caught_up_total counter\neccr_wsd_caught_up_total %llu\n"
	    "# HELP eccr_wsd_inbox_dropped_total Events lost because the service thread fell behind.\n"
	    "# TYPE eccr_wsd_inbox_dropped_total counter\neccr_wsd_inbox_dropped_total %llu\n",
	    (unsigned long long)hs.clients, (unsigned long long)hs.rooms,
	    (unsigned long long)hs.events_in, (unsigned long long)hs.frames_out,
	    (unsigned long long)hs.slow_dropped, (unsigned long long)hs.frames_dropped,
	    ls.listening ? 1 : 0,
	    (unsigned long long)ls.reconnects, (unsigned long long)ls.caught_up,
	    (unsigned long long)ls.dropped);
	if (n < 0 || (size_t)n >= sizeof body)
		return problem(wsi, 500, "Internal Server Error", "internal", "metrics too long", false);
	return http_answer(wsi, 200, "text/plain; version=0.0.4; charset=utf-8", body, false);
}

static int plain_http(struct lws *wsi, struct wsd *w, const char *path)
{
	int rc;

	if (strcmp(path, "/health") == 0)
		rc = health(wsi, w);
	else if (strcmp(path, "/metrics") == 0)
		rc = metrics(wsi, w);
	else if (strcmp(path, "/ws") == 0)
		rc = problem(wsi, 400, "Bad Request", "bad_request",
		    "/ws is a WebSocket endpoint: send an Upgrade request", false);
	else
		rc = problem(wsi, 404, "Not Found", "not_found", "no such path on eccr-wsd", false);
	if (rc || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- handshake */

/* Verify ?token= against auth; fills the session on success. */
static enum eccr_auth_err check_token(struct lws *wsi, struct wsd *w, struct session *s)
{
	static char arg[TOKEN_MAX], bearer[TOKEN_MAX + 8];
	struct eccr_principal who;
	enum eccr_auth_err e;
	const char *token;

	/* Service thread only, hence the static buffers (tokens are large). */
	token = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
	if (!token || !*token)
		return ECCR_AUTH_MISSING;
	snprintf(bearer, sizeof bearer, "Bearer %s", token);
	e = eccr_auth_bearer_memo(w->auth, &w->auth_memo, bearer, time(NULL), &who);
	if (e == ECCR_AUTH_OK && s) {
		snprintf(s->sub, sizeof s->sub, "%s", who.sub);
		s->exp = who.exp;
	}
	return e;
}

static int confirm_upgrade(struct lws *wsi, struct wsd *w)
{
	char path[64];
	enum eccr_auth_err e;

	if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(path, "/ws") != 0)
		return problem(wsi, 404, "Not Found", "not_found", "the WebSocket endpoint is /ws", true) ? -1 : 1;
	if (w->connections >= w->cfg.wsd.max_clients)
		return problem(wsi, 503, "Service Unavailable", "unavailable",
		    "too many connections on this hub", true) ? -1 : 1;
	e = check_token(wsi, w, NULL);
	if (e != ECCR_AUTH_OK)
		return problem(wsi, 401, "Unauthorized", "unauthorized",
		    eccr_auth_strerror(e), true) ? -1 : 1;
	return 0;
}

/* A connection lives no longer than its token (exp, with the same leeway
 * the handshake allowed): the client reconnects with a fresh one, so a
 * revoked user's access ends when their last token does. */
static void expire_at_token_end(struct lws *wsi, struct wsd *w, struct session *s)
{
	long left;

	if (s->exp <= 0)
		return;
	left = s->exp + w->cfg.auth.leeway_s - (long)time(NULL);
	if (left < 1)
		left = 1;
	lws_set_timer_usecs(wsi, (lws_usec_t)left * LWS_USEC_PER_SEC);
}

static int established(struct lws *wsi, struct wsd *w, struct session *s)
{
	int fd = lws_get_socket_fd(wsi), size = SOCKET_SNDBUF;

	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0)
		eccr_debug("SO_SNDBUF: %s", strerror(errno));
	s->client = wsd_client_new(w->hub, wsi, s->sub);
	if (!s->client)
		return -1;
	w->connections++;
	expire_at_token_end(wsi, w, s);
	return 0;
}

/* ---------------------------------------------------------------- frames */

static void receive(struct lws *wsi, struct wsd *w, struct session *s,
    const char *in, size_t len)
{
	bool first = lws_is_first_fragment(wsi), last = lws_is_final_fragment(wsi);
	char *grown;

	if (first) {
		s->rxlen = 0;
		s->rx_too_long = false;
		s->rx_binary = lws_frame_is_binary(wsi);
	}
	if (first && last && !s->rx_binary) {
		wsd_client_frame(w->hub, s->client, in, len);   /* the usual case: no copy */
		return;
	}
	if (!s->rx_too_long && !s->rx_binary) {
		if (s->rxlen + len > WSD_FRAME_MAX) {
			s->rx_too_long = true;
		} else {
			grown = s->rx ? s->rx : malloc(WSD_FRAME_MAX);
			if (!grown) {
				s->rx_too_long = true;
			} else {
				s->rx = grown;
				memcpy(s->rx + s->rxlen, in, len);
				s->rxlen += len;
			}
		}
	}
	if (!last || lws_remaining_packet_payload(wsi))
		return;
	if (s->rx_binary)
		wsd_client_error(w->hub, s->client, "bad_request", "frames are JSON text, not binary");
	else if (s->rx_too_long)
		wsd_client_error(w->hub, s->client, "bad_request", "frame longer than 4096 bytes");
	else
		wsd_client_frame(w->hub, s->client, s->rx, s->rxlen);
	free(s->rx);
	s->rx = NULL;
	s->rxlen = 0;
}

static int writable(struct lws *wsi, struct session *s)
{
	static const char why[] = "send queue full: client too slow";
	struct wsd_msg *m;

	if (!s->client)
		return 0;
	if (wsd_client_too_slow(s->client)) {
		lws_close_reason(wsi, 1013, (unsigned char *)why, sizeof why - 1);
		return -1;
	}
	m = wsd_client_next(s->client);
	if (!m)
		return 0;
	if (lws_write(wsi, wsd_msg_payload(m), m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	wsd_client_sent(s->client);
	if (wsd_client_next(s->client))
		lws_callback_on_writable(wsi);
	return 0;
}

static void publish(void *arg, const char *const *rooms, size_t nrooms,
    const char *envelope, size_t len)
{
	struct wsd *w = arg;

	wsd_hub_publish_to(w->hub, rooms, nrooms, envelope, len);
}

/* ---------------------------------------------------------------- the callback */

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct wsd *w = wsd_of(wsi);
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return plain_http(wsi, w, in ? (const char *)in : "");
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi, w);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Headers are still here: remember who this is for ESTABLISHED. */
		return check_token(wsi, w, s) == ECCR_AUTH_OK ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		return established(wsi, w, s);
	case LWS_CALLBACK_RECEIVE:
		if (s->client)
			receive(wsi, w, s, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return writable(wsi, s);
	case LWS_CALLBACK_TIMER: {
		static const char why[] = "token expired";

		lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    (unsigned char *)why, sizeof why - 1);
		return -1;
	}
	case LWS_CALLBACK_CLOSED:
		if (s->client) {
			wsd_client_free(w->hub, s->client);
			s->client = NULL;
			w->connections--;
		}
		free(s->rx);
		s->rx = NULL;
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The listener queued envelopes, or a signal arrived. */
		if (w && w->listener)
			wsd_listener_drain(w->listener, publish, w);
		return 0;
	default:
		return 0;
	}
}

void wsd_want_write(void *conn)
{
	lws_callback_on_writable(conn);
}

void wsd_wake(void *arg)
{
	struct wsd *w = arg;

	lws_cancel_service(w->lws);
}

const struct lws_protocols wsd_protocols[] = {
	/* A small receive buffer: client frames are small (a subscribe is under
	 * 100 bytes), and larger ones, up to WSD_FRAME_MAX, are assembled from
	 * fragments; libwebsockets allocates this much for every connection. */
	{ "eccr", callback, sizeof(struct session), 1024, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};
