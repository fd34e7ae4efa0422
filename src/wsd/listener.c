/* listener.c - LISTEN on PostgreSQL, reconnect, catch up (see listener.h). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "db.h"
#include "json.h"
#include "listener.h"
#include "log.h"
#include "rooms.h"

/* Ids recently passed on, so a catch-up after a reconnect does not send
 * clients what they already have (they deduplicate anyway; this keeps a
 * restart from becoming a burst). */
#define SEEN_MAX 8192
/* How far back a catch-up looks: ids are assigned at INSERT, so an event
 * can commit after one with a higher id; looking a little below the
 * highest id seen finds those, and the seen ring drops the rest. */
#define CATCHUP_ID_MARGIN 1000
#define CATCHUP_ROWS_MAX 10000
#define IDLE_CHECK_MS 30000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* What the inbox may hold while the service thread is behind, besides its
 * count limit: envelopes read back by id can be large (a job's result). */
#define INBOX_BYTES_MAX (64u << 20)

/* One queued envelope: its text, then its rooms, each NUL-terminated, in
 * one allocation (routing is decided here, on the listener thread, from
 * the one parse that also reads the id; the service thread only fans out). */
struct item {
	struct item *next;
	size_t len, nrooms;
	const char *rooms[WSD_EVENT_ROOMS_MAX];
	char text[];
};

struct wsd_listener {
	char *conninfo, *channel;
	size_t inbox_max;
	void (*wake)(void *arg);
	void *arg;
	pthread_t thread;
	int stop_fd;                 /* eventfd: non-zero means stop */

	pthread_mutex_t lock;        /* guards inbox and stats */
	struct item *head, *tail;
	size_t queued, queued_bytes;
	struct wsd_listener_stats stats;

	/* listener thread only */
	PGconn *conn;
	int64_t high_id;             /* highest outbox id seen; -1 unknown */
	int64_t seen[SEEN_MAX];
	size_t seen_pos, seen_n;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(struct wsd_listener *l, int wait_ms)
{
	struct pollfd p = { .fd = l->stop_fd, .events = POLLIN };

	return poll(&p, 1, wait_ms) > 0;
}

static void count(struct wsd_listener *l, uint64_t *field)
{
	pthread_mutex_lock(&l->lock);
	(*field)++;
	pthread_mutex_unlock(&l->lock);
}

static bool seen_before(const struct wsd_listener *l, int64_t id)
{
	for (size_t i = 0; i < l->seen_n; i++)
		if (l->seen[i] == id)
			return true;
	return false;
}

/* Only an envelope that was queued is remembered: one the full inbox
 * dropped may still come back with the next catch-up. */
static void remember(struct wsd_listener *l, int64_t id)
{
	l->seen[l->seen_pos] = id;
	l->seen_pos = (l->seen_pos + 1) % SEEN_MAX;
	if (l->seen_n < SEEN_MAX)
		l->seen_n++;
}

/* "1042" -> 1042; anything but a positive decimal -> -1. */
static int64_t outbox_id(const char *s)
{
	char *end;
	long long v;

	if (*s < '1' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' ? (int64_t)v : -1;
}

/* Read envelope text once: its outbox id (0 for a transient event, whose
 * "id" is null: it never was in the outbox; -1 when the text is not an
 * envelope) and the rooms it goes to. */
static int64_t envelope_read(const char *text, size_t len,
    char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX], size_t *nrooms)
{
	json_object *o = NULL, *v = NULL;
	int64_t id = -1;
	char detail[64];

	*nrooms = 0;
	if (eccr_json_parse(text, len, &o, detail, sizeof detail) == ECCR_JSON_OK &&
	    json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "id", &v)) {
		if (v == NULL)
			id = 0;
		else if (json_object_is_type(v, json_type_string))
			id = outbox_id(json_object_get_string(v));
		if (id >= 0)
			*nrooms = wsd_event_rooms(o, rooms);
	}
	json_object_put(o);
	return id;
}

/* text and rooms copied into one item. */
static struct item *item_new(const char *text, size_t len,
    char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX], size_t nrooms)
{
	size_t rlen[WSD_EVENT_ROOMS_MAX], total = len + 1, i;
	struct item *it;
	char *p;

	for (i = 0; i < nrooms; i++)
		total += (rlen[i] = strlen(rooms[i])) + 1;
	if ((it = malloc(sizeof *it + total)) == NULL)
		return NULL;
	it->next = NULL;
	it->len = len;
	it->nrooms = nrooms;
	memcpy(it->text, text, len);
	it->text[len] = '\0';
	p = it->text + len + 1;
	for (i = 0; i < nrooms; i++) {
		memcpy(p, rooms[i], rlen[i] + 1);
		it->rooms[i] = p;
		p += rlen[i] + 1;
	}
	return it;
}

static void enqueue(struct wsd_listener *l, const char *text, size_t len, bool catchup)
{
	char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX];
	size_t nrooms;
	int64_t id = envelope_read(text, len, rooms, &nrooms);
	struct item *it;

	if (id < 0) {
		eccr_warn("ignoring a notification that is not an event envelope (%zu bytes)", len);
		return;
	}
	if (id > 0) {
		if (seen_before(l, id)) {
			count(l, &l->stats.duplicates);
			return;
		}
		if (id > l->high_id)
			l->high_id = id;
	}
	if ((it = item_new(text, len, rooms, nrooms)) == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->queued >= l->inbox_max || l->queued_bytes + len > INBOX_BYTES_MAX) {
		l->stats.dropped++;
		pthread_mutex_unlock(&l->lock);
		free(it);
		return;
	}
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
	l->queued++;
	l->queued_bytes += len;
	if (id > 0)
		remember(l, id);
	if (catchup)
		l->stats.caught_up++;
	else
		l->stats.notifications++;
	pthread_mutex_unlock(&l->lock);
}

static bool fetch_by_id(struct wsd_listener *l, const char *idtext)
{
	const char *params[1] = { idtext };
	PGresult *r = PQexecParams(l->conn,
	    "SELECT eccr_event_envelope(e) FROM events e WHERE e.id = $1::bigint",
	    1, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	if (ok && PQntuples(r) == 1)
		enqueue(l, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0), false);
	else if (ok)
		eccr_warn("event %s announced but not found", idtext);
	PQclear(r);
	return ok;
}

/* Read back what was committed while we were not listening. */
static bool catch_up(struct wsd_listener *l)
{
	char from[32], limit[16];
	const char *params[2] = { from, limit };
	PGresult *r;
	int i, n;

	if (l->high_id < 0) {
		/* First connection: nothing to catch up on, start from now. */
		r = PQexec(l->conn, "SELECT coalesce(max(id), 0) FROM events");
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			l->high_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		n = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
		return n;
	}
	snprintf(from, sizeof from, "%" PRId64,
	    l->high_id > CATCHUP_ID_MARGIN ? l->high_id - CATCHUP_ID_MARGIN : 0);
	snprintf(limit, sizeof limit, "%d", CATCHUP_ROWS_MAX);
	r = PQexecParams(l->conn,
	    "SELECT eccr_event_envelope(e) FROM events e WHERE e.id > $1::bigint"
	    " AND e.created_at > now() - interval '10 minutes'"
	    " ORDER BY e.id LIMIT $2::int",
	    2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return false;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++)
		enqueue(l, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0), true);
	PQclear(r);
	if (n == CATCHUP_ROWS_MAX)
		eccr_warn("catch-up stopped at %d events; clients may miss older ones", n);
	return true;
}

static bool connect_and_listen(struct wsd_listener *l)
{
	PGresult *r;
	char *ident, *sql;
	bool ok = false;

	l->conn = eccr_pg_connect(l->conninfo, "eccr-wsd");
	if (PQstatus(l->conn) != CONNECTION_OK)
		goto out;
	ident = PQescapeIdentifier(l->conn, l->channel, strlen(l->channel));
	if (!ident)
		goto out;
	sql = malloc(strlen(ident) + 8);
	if (sql) {
		strcpy(sql, "LISTEN ");
		strcat(sql, ident);
		r = PQexec(l->conn, sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		free(sql);
	}
	PQfreemem(ident);
	/* LISTEN first, then read back: an event committed in between is
	 * both notified and read, and the seen ring drops the second. */
	ok = ok && catch_up(l);
out:
	if (!ok) {
		PQfinish(l->conn);
		l->conn = NULL;
	}
	return ok;
}

static void handle_notifications(struct wsd_listener *l)
{
	PGnotify *n;
	const char *p;
	bool wake = false;

	while ((n = PQnotifies(l->conn))) {
		p = n->extra;
		if (strncmp(p, "id:", 3) == 0)
			fetch_by_id(l, p + 3);
		else
			enqueue(l, p, strlen(p), false);
		PQfreemem(n);
		wake = true;
	}
	if (wake)
		l->wake(l->arg);
}

static void set_listening(struct wsd_listener *l, bool on)
{
	pthread_mutex_lock(&l->lock);
	l->stats.listening = on;
	if (on)
		l->stats.reconnects++;
	pthread_mutex_unlock(&l->lock);
}

/* Wait for notifications; false when the connection is lost. */
static bool serve(struct wsd_listener *l)
{
	struct pollfd p[2] = {
		{ .fd = PQsocket(l->conn), .events = POLLIN },
		{ .fd = l->stop_fd, .events = POLLIN },
	};
	int64_t last = mono_ms();
	PGresult *r;
	bool ok;

	/* NOTIFYs that arrived while the catch-up query was read sit in
	 * libpq already: the socket will not wake us for them. */
	handle_notifications(l);
	l->wake(l->arg);   /* deliver what the catch-up queued */
	for (;;) {
		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			return false;
		if (p[1].revents)
			return true;
		if (p[0].revents) {
			if (!PQconsumeInput(l->conn))
				return false;
			handle_notifications(l);
			last = mono_ms();
		} else if (mono_ms() - last > IDLE_CHECK_MS) {
			/* Idle: make sure the server is still there. */
			r = PQexec(l->conn, "SELECT 1");
			ok = PQresultStatus(r) == PGRES_TUPLES_OK;
			PQclear(r);
			if (!ok)
				return false;
			handle_notifications(l);
			last = mono_ms();
		}
	}
}

static void *listener_main(void *arg)
{
	struct wsd_listener *l = arg;
	int backoff = BACKOFF_MIN_MS;
	bool was_up = false;

	while (!stopping(l, 0)) {
		if (!connect_and_listen(l)) {
			if (was_up || backoff == BACKOFF_MIN_MS)
				eccr_warn("cannot LISTEN on PostgreSQL; retrying (up to every %d ms)",
				    BACKOFF_MAX_MS);
			was_up = false;
			if (stopping(l, backoff))
				break;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		eccr_info("listening on PostgreSQL channel \"%s\"", l->channel);
		set_listening(l, true);
		was_up = true;
		backoff = BACKOFF_MIN_MS;
		if (serve(l) || stopping(l, 0)) {
			set_listening(l, false);
			break;
		}
		eccr_warn("lost the PostgreSQL connection; reconnecting");
		set_listening(l, false);
		PQfinish(l->conn);
		l->conn = NULL;
	}
	PQfinish(l->conn);
	l->conn = NULL;
	return NULL;
}

struct wsd_listener *wsd_listener_start(const char *conninfo, const char *channel,
    size_t inbox_max, void (*wake)(void *arg), void *arg)
{
	struct wsd_listener *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	l->conninfo = strdup(conninfo);
	l->channel = strdup(channel);
	l->inbox_max = inbox_max;
	l->wake = wake;
	l->arg = arg;
	l->high_id = -1;
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&l->lock, NULL);
	if (!l->conninfo || !l->channel || l->stop_fd < 0 ||
	    pthread_create(&l->thread, NULL, listener_main, l) != 0) {
		if (l->stop_fd >= 0)
			close(l->stop_fd);
		pthread_mutex_destroy(&l->lock);
		free(l->conninfo);
		free(l->channel);
		free(l);
		return NULL;
	}
	return l;
}

void wsd_listener_stop(struct wsd_listener *l)
{
	uint64_t one = 1;
	struct item *it, *next;

	if (!l)
		return;
	if (write(l->stop_fd, &one, sizeof one) != sizeof one)
		eccr_err("cannot signal the listener thread: %s", strerror(errno));
	pthread_join(l->thread, NULL);
	for (it = l->head; it; it = next) {
		next = it->next;
		free(it);
	}
	close(l->stop_fd);
	pthread_mutex_destroy(&l->lock);
	free(l->conninfo);
	free(l->channel);
	free(l);
}

void wsd_listener_drain(struct wsd_listener *l, wsd_publish_fn *fn, void *arg)
{
	struct item *it, *next;

	pthread_mutex_lock(&l->lock);
	it = l->head;
	l->head = l->tail = NULL;
	l->queued = 0;
	l->queued_bytes = 0;
	pthread_mutex_unlock(&l->lock);
	for (; it; it = next) {
		next = it->next;
		fn(arg, it->rooms, it->nrooms, it->text, it->len);
		free(it);
	}
}

void wsd_listener_get_stats(struct wsd_listener *l, struct wsd_listener_stats *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->stats;
	pthread_mutex_unlock(&l->lock);
}
