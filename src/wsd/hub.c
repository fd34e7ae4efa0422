/* hub.c - clients, rooms and bounded send queues (see hub.h).
 *
 * Rooms live in a chained hash table keyed by name; each room holds an
 * array of its clients, so publishing to a room of N clients is one pass
 * and one shared message.  A room is created by its first subscriber and
 * freed with its last.  The table is small and ours because nothing in
 * Debian's C libraries that we already link offers a growable string map
 * (json-c's lh_table is internal API). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "json.h"
#include "rooms.h"

struct wsd_room {
	struct wsd_room *next;      /* hash chain */
	uint32_t hash;
	struct wsd_client **members;
	size_t n, cap;
	char name[];
};

struct wsd_client {
	void *conn;
	char *sub;
	struct wsd_room *subs[WSD_SUBS_MAX];
	size_t nsubs;
	struct wsd_msg **q;         /* ring of queued frames */
	size_t qcap, qhead, qlen, qbytes;
	bool too_slow;
};

struct wsd_hub {
	struct wsd_room **buckets;
	size_t nbuckets, nrooms;
	size_t queue_limit;
	void (*want_write)(void *conn);
	struct wsd_hub_stats stats;
};

/* ---------------------------------------------------------------- messages */

static struct wsd_msg *msg_new(const char *a, size_t alen, const char *b, size_t blen,
    const char *c, size_t clen)
{
	struct wsd_msg *m = malloc(sizeof *m + WSD_PRE + alen + blen + clen);

	if (!m)
		return NULL;
	m->refs = 1;
	m->event = false;
	m->len = alen + blen + clen;
	memcpy(wsd_msg_payload(m), a, alen);
	memcpy(wsd_msg_payload(m) + alen, b, blen);
	memcpy(wsd_msg_payload(m) + alen + blen, c, clen);
	return m;
}

static void msg_unref(struct wsd_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

/* ---------------------------------------------------------------- rooms */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct wsd_room *room_find(const struct wsd_hub *hub, const char *name, uint32_t h)
{
	struct wsd_room *r;

	for (r = hub->buckets[h & (hub->nbuckets - 1)]; r; r = r->next)
		if (r->hash == h && strcmp(r->name, name) == 0)
			return r;
	return NULL;
}

static void table_grow(struct wsd_hub *hub)
{
	size_t n = hub->nbuckets * 2, i;
	struct wsd_room **b = calloc(n, sizeof *b), *r, *next;

	if (!b)
		return;   /* longer chains, still correct */
	for (i = 0; i < hub->nbuckets; i++)
		for (r = hub->buckets[i]; r; r = next) {
			next = r->next;
			r->next = b[r->hash & (n - 1)];
			b[r->hash & (n - 1)] = r;
		}
	free(hub->buckets);
	hub->buckets = b;
	hub->nbuckets = n;
}

static struct wsd_room *room_get(struct wsd_hub *hub, const char *name)
{
	uint32_t h = fnv1a(name);
	struct wsd_room *r = room_find(hub, name, h);
	size_t len = strlen(name);

	if (r)
		return r;
	r = calloc(1, sizeof *r + len + 1);
	if (!r)
		return NULL;
	memcpy(r->name, name, len + 1);
	r->hash = h;
	r->next = hub->buckets[h & (hub->nbuckets - 1)];
	hub->buckets[h & (hub->nbuckets - 1)] = r;
	if (++hub->nrooms > hub->nbuckets)
		table_grow(hub);
	return r;
}

static void room_drop(struct wsd_hub *hub, struct wsd_room *room)
{
	struct wsd_room **p = &hub->buckets[room->hash & (hub->nbuckets - 1)];

	while (*p && *p != room)
		p = &(*p)->next;
	if (*p)
		*p = room->next;
	hub->nrooms--;
	free(room->members);
	free(room);
}

static bool room_add(struct wsd_room *r, struct wsd_client *c)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct wsd_client **m = realloc(r->members, cap * sizeof *m);

		if (!m)
			return false;
		r->members = m;
		r->cap = cap;
	}
	r->members[r->n++] = c;
	return true;
}

static void room_remove(struct wsd_hub *hub, struct wsd_room *r, struct wsd_client *c)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->members[i] == c) {
			r->members[i] = r->members[--r->n];
			break;
		}
	if (r->n == 0)
		room_drop(hub, r);
}

/* ---------------------------------------------------------------- queues */

static bool queue_grow(struct wsd_client *c)
{
	size_t cap = c->qcap ? c->qcap * 2 : 8, i;
	struct wsd_msg **q = malloc(cap * sizeof *q);

	if (!q)
		return false;
	for (i = 0; i < c->qlen; i++)
		q[i] = c->q[(c->qhead + i) % c->qcap];
	free(c->q);
	c->q = q;
	c->qcap = cap;
	c->qhead = 0;
	return true;
}

/* Free c's queue; returns the event frames in it (never sent). */
static uint64_t queue_clear(struct wsd_client *c)
{
	uint64_t events = 0;

	while (c->qlen) {
		events += c->q[c->qhead]->event;
		msg_unref(c->q[c->qhead]);
		c->qhead = (c->qhead + 1) % c->qcap;
		c->qlen--;
	}
	c->qbytes = 0;
	return events;
}

/* Queue m for c (taking a reference).  A client whose backlog would pass
 * the limit is marked too slow and its queue freed: it is closed with 1013
 * on its next writable callback, and nobody else waits for it.  A frame
 * into an empty queue is always taken: a client that has sent everything
 * is keeping up, however large the one event is (a job's result). */
static bool enqueue(struct wsd_hub *hub, struct wsd_client *c, struct wsd_msg *m)
{
	if (c->too_slow) {
		hub->stats.frames_dropped += m->event;
		return false;
	}
	if ((c->qlen > 0 && c->qbytes + m->len > hub->queue_limit) ||
	    (c->qlen == c->qcap && !queue_grow(c))) {
		c->too_slow = true;
		hub->stats.frames_dropped += queue_clear(c) + m->event;
		hub->stats.slow_dropped++;
		hub->want_write(c->conn);
		return false;
	}
	m->refs++;
	c->q[(c->qhead + c->qlen) % c->qcap] = m;
	c->qlen++;
	c->qbytes += m->len;
	if (c->qlen == 1)
		hub->want_write(c->conn);
	return true;
}

struct wsd_msg *wsd_client_next(struct wsd_client *c)
{
	return c->qlen && !c->too_slow ? c->q[c->qhead] : NULL;
}

void wsd_client_sent(struct wsd_client *c)
{
	struct wsd_msg *m;

	if (!c->qlen)
		return;
	m = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	c->qbytes -= m->len;
	msg_unref(m);
}

bool wsd_client_too_slow(const struct wsd_client *c)
{
	return c->too_slow;
}

size_t wsd_client_queued_bytes(const struct wsd_client *c)
{
	return c->qbytes;
}

/* ---------------------------------------------------------------- hub */

struct wsd_hub *wsd_hub_new(size_t send_queue_bytes, void (*want_write)(void *conn))
{
	struct wsd_hub *hub = calloc(1, sizeof *hub);

	if (!hub)
		return NULL;
	hub->nbuckets = 256;
	hub->buckets = calloc(hub->nbuckets, sizeof *hub->buckets);
	if (!hub->buckets) {
		free(hub);
		return NULL;
	}
	hub->queue_limit = send_queue_bytes;
	hub->want_write = want_write;
	return hub;
}

void wsd_hub_free(struct wsd_hub *hub)
{
	size_t i;
	struct wsd_room *r, *next;

	if (!hub)
		return;
	for (i = 0; i < hub->nbuckets; i++)
		for (r = hub->buckets[i]; r; r = next) {
			next = r->next;
			free(r->members);
			free(r);
		}
	free(hub->buckets);
	free(hub);
}

void wsd_hub_set_queue_limit(struct wsd_hub *hub, size_t send_queue_bytes)
{
	hub->queue_limit = send_queue_bytes;
}

void wsd_hub_get_stats(const struct wsd_hub *hub, struct wsd_hub_stats *out)
{
	*out = hub->stats;
	out->rooms = hub->nrooms;
}

struct wsd_client *wsd_client_new(struct wsd_hub *hub, void *conn,
    const char *sub)
{
	struct wsd_client *c = calloc(1, sizeof *c);

	if (!c || !(c->sub = strdup(sub))) {
		free(c);
		return NULL;
	}
	c->conn = conn;
	hub->stats.clients++;
	return c;
}

void wsd_client_free(struct wsd_hub *hub, struct wsd_client *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nsubs; i++)
		room_remove(hub, c->subs[i], c);
	hub->stats.frames_dropped += queue_clear(c);
	free(c->q);
	free(c->sub);
	free(c);
	hub->stats.clients--;
}

/* ---------------------------------------------------------------- client frames */

/* Queue a small JSON reply built with json-c (so room names and messages
 * are escaped whatever they hold). */
static void reply(struct wsd_hub *hub, struct wsd_client *c, json_object *o)
{
	size_t len;
	const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	struct wsd_msg *m = text ? msg_new(text, len, "", 0, "", 0) : NULL;

	if (m) {
		enqueue(hub, c, m);
		msg_unref(m);
	}
	json_object_put(o);
}

void wsd_client_error(struct wsd_hub *hub, struct wsd_client *c,
    const char *code, const char *message)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "message", json_object_new_string(message));
	reply(hub, c, o);
}

static void reply_room(struct wsd_hub *hub, struct wsd_client *c,
    const char *type, const char *room)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "room", json_object_new_string(room));
	reply(hub, c, o);
}

static ssize_t sub_index(const struct wsd_client *c, const char *room)
{
	size_t i;

	for (i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i]->name, room) == 0)
			return (ssize_t)i;
	return -1;
}

static void subscribe(struct wsd_hub *hub, struct wsd_client *c, const char *room)
{
	struct wsd_room *r;
	char why[160];

	switch (wsd_room_check(room, c->sub, why, sizeof why)) {
	case WSD_ROOM_BAD:
		wsd_client_error(hub, c, "bad_request", why);
		return;
	case WSD_ROOM_FORBIDDEN:
		wsd_client_error(hub, c, "forbidden", why);
		return;
	case WSD_ROOM_OK:
		break;
	}
	if (sub_index(c, room) < 0) {
		if (c->nsubs == WSD_SUBS_MAX) {
			wsd_client_error(hub, c, "bad_request", "too many rooms on one connection (64)");
			return;
		}
		r = room_get(hub, room);
		if (!r || !room_add(r, c)) {
			if (r && r->n == 0)
				room_drop(hub, r);
			wsd_client_error(hub, c, "unavailable", "out of memory");
			return;
		}
		c->subs[c->nsubs++] = r;
	}
	reply_room(hub, c, "subscribed", room);
}

static void unsubscribe(struct wsd_hub *hub, struct wsd_client *c, const char *room)
{
	ssize_t i = sub_index(c, room);

	if (i >= 0) {
		room_remove(hub, c->subs[i], c);
		c->subs[i] = c->subs[--c->nsubs];
	}
	reply_room(hub, c, "unsubscribed", room);
}

static const char *frame_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void wsd_client_frame(struct wsd_hub *hub, struct wsd_client *c,
    const char *text, size_t len)
{
	json_object *o = NULL, *pong;
	const char *type, *room;
	char detail[128];

	if (len > WSD_FRAME_MAX) {
		wsd_client_error(hub, c, "bad_request", "frame longer than 4096 bytes");
		return;
	}
	if (eccr_json_parse(text, len, &o, detail, sizeof detail) != ECCR_JSON_OK ||
	    !json_object_is_type(o, json_type_object)) {
		wsd_client_error(hub, c, "bad_request", "frames are JSON objects");
		json_object_put(o);
		return;
	}
	type = frame_string(o, "type");
	room = frame_string(o, "room");
	if (type && strcmp(type, "ping") == 0) {
		pong = json_object_new_object();
		json_object_object_add(pong, "type", json_object_new_string("pong"));
		reply(hub, c, pong);
	} else if (type && (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0)) {
		if (!room || strlen(room) >= WSD_ROOM_MAX)
			wsd_client_error(hub, c, "bad_request", "\"room\" must be a string naming a room");
		else if (type[0] == 's')
			subscribe(hub, c, room);
		else
			unsubscribe(hub, c, room);
	} else {
		wsd_client_error(hub, c, "bad_request",
		    "\"type\" must be subscribe, unsubscribe or ping");
	}
	json_object_put(o);
}

/* ---------------------------------------------------------------- publishing */

static bool is_member(const struct wsd_client *c, const struct wsd_room *r)
{
	size_t i;

	for (i = 0; i < c->nsubs; i++)
		if (c->subs[i] == r)
			return true;
	return false;
}

/* One frame per room, shared by all its members:
 * {"type":"event","room":"<room>","event":<envelope>}.  A client also in
 * one of the rooms before it (skip[0..nskip)) already has the event: each
 * subscriber receives each event once (API.md), under its first room. */
static long publish_room(struct wsd_hub *hub, struct wsd_room *r,
    struct wsd_room *const *skip, size_t nskip, const char *env, size_t envlen)
{
	json_object *name;
	const char *quoted;
	size_t qlen, i, k;
	struct wsd_msg *m;
	char head[WSD_ROOM_MAX * 2 + 64];
	long n = 0;

	name = json_object_new_string(r->name);
	quoted = json_object_to_json_string_length(name, JSON_C_TO_STRING_PLAIN, &qlen);
	if (!quoted || qlen + 40 > sizeof head) {
		json_object_put(name);
		return 0;
	}
	qlen = (size_t)snprintf(head, sizeof head, "{\"type\":\"event\",\"room\":%s,\"event\":", quoted);
	json_object_put(name);
	m = msg_new(head, qlen, env, envlen, "}", 1);
	if (!m)
		return 0;
	m->event = true;
	/* enqueue() never changes room membership, so iterating is safe. */
	for (i = 0; i < r->n; i++) {
		for (k = 0; k < nskip && !is_member(r->members[i], skip[k]); k++)
			;
		if (k == nskip)
			n += enqueue(hub, r->members[i], m);
	}
	msg_unref(m);
	return n;
}

long wsd_hub_publish_to(struct wsd_hub *hub, const char *const *rooms, size_t nrooms,
    const char *envelope, size_t len)
{
	struct wsd_room *found[WSD_EVENT_ROOMS_MAX];
	size_t i, nfound = 0;
	long n = 0;

	hub->stats.events_in++;
	for (i = 0; i < nrooms && i < WSD_EVENT_ROOMS_MAX; i++) {
		found[nfound] = room_find(hub, rooms[i], fnv1a(rooms[i]));
		if (found[nfound]) {
			n += publish_room(hub, found[nfound], found, nfound, envelope, len);
			nfound++;
		}
	}
	hub->stats.frames_out += (uint64_t)n;
	return n;
}

long wsd_hub_publish(struct wsd_hub *hub, const char *envelope, size_t len)
{
	char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX];
	const char *names[WSD_EVENT_ROOMS_MAX];
	json_object *env = NULL;
	size_t nrooms, i;
	char detail[128];

	if (eccr_json_parse(envelope, len, &env, detail, sizeof detail) != ECCR_JSON_OK ||
	    !json_object_is_type(env, json_type_object)) {
		json_object_put(env);
		return -1;
	}
	nrooms = wsd_event_rooms(env, rooms);
	json_object_put(env);
	for (i = 0; i < nrooms; i++)
		names[i] = rooms[i];
	return wsd_hub_publish_to(hub, names, nrooms, envelope, len);
}
