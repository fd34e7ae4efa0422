/* Unit tests: src/wsd/rooms.c and src/wsd/hub.c (no sockets: the hub's
 * want_write is recorded, frames are pulled as the transport would). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "rooms.h"

#define EP "5e3c2a9b-8f1d-4c6e-9a7b-1d2e3f4a5b6c"
#define EP2 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

/* ---------------------------------------------------------------- rooms */

Test(rooms, access_rules)
{
	char why[160];

	cr_expect_eq(wsd_room_check("episodes", "alice", why, sizeof why), WSD_ROOM_OK);
	cr_expect_eq(wsd_room_check("jobs", "alice", why, sizeof why), WSD_ROOM_OK);
	cr_expect_eq(wsd_room_check("episode:" EP, "alice", why, sizeof why), WSD_ROOM_OK);
	cr_expect_eq(wsd_room_check("user:alice", "alice", why, sizeof why), WSD_ROOM_OK);
	/* Another user's room: refused, whatever the role (admins included). */
	cr_expect_eq(wsd_room_check("user:bob", "alice", why, sizeof why), WSD_ROOM_FORBIDDEN);
	cr_expect_eq(wsd_room_check("user:alice", "root", why, sizeof why), WSD_ROOM_FORBIDDEN);
	cr_expect_eq(wsd_room_check("user:", "alice", why, sizeof why), WSD_ROOM_FORBIDDEN);
	cr_expect_eq(wsd_room_check("episode:not-a-uuid", "alice", why, sizeof why), WSD_ROOM_BAD);
	cr_expect_eq(wsd_room_check("episode:5E3C2A9B-8F1D-4C6E-9A7B-1D2E3F4A5B6C", "alice", why,
	    sizeof why), WSD_ROOM_BAD);
	cr_expect_eq(wsd_room_check("Episodes", "alice", why, sizeof why), WSD_ROOM_BAD);
	cr_expect_eq(wsd_room_check("", "alice", why, sizeof why), WSD_ROOM_BAD);
	cr_expect_eq(wsd_room_check("files", "alice", why, sizeof why), WSD_ROOM_BAD);
}

static size_t route(const char *json, char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX])
{
	json_object *o = json_tokener_parse(json);
	size_t n;

	cr_assert_not_null(o, "test envelope must parse: %s", json);
	n = wsd_event_rooms(o, rooms);
	json_object_put(o);
	return n;
}

Test(rooms, routing)
{
	char r[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX];

	cr_assert_eq(route("{\"type\":\"episode_updated\",\"resource\":{\"type\":\"episode\",\"id\":\"" EP
	    "\"},\"episode_id\":\"" EP "\"}", r), 2);
	cr_expect_str_eq(r[0], "episodes");
	cr_expect_str_eq(r[1], "episode:" EP);

	/* Viewed and presence events concern the episode, not the list. */
	cr_assert_eq(route("{\"type\":\"presence_joined\",\"resource\":{\"type\":\"episode\",\"id\":\"" EP
	    "\"},\"episode_id\":\"" EP "\"}", r), 1);
	cr_expect_str_eq(r[0], "episode:" EP);

	cr_assert_eq(route("{\"type\":\"job_completed\",\"resource\":{\"type\":\"job\",\"id\":\"" EP2
	    "\"},\"episode_id\":\"" EP "\"}", r), 2);
	cr_expect_str_eq(r[0], "jobs");
	cr_expect_str_eq(r[1], "episode:" EP);

	cr_assert_eq(route("{\"type\":\"job_processor_started\",\"resource\":{\"type\":\"worker\","
	    "\"id\":\"w1\"},\"episode_id\":null}", r), 1);
	cr_expect_str_eq(r[0], "jobs");

	cr_assert_eq(route("{\"type\":\"file_uploaded\",\"resource\":{\"type\":\"file\",\"id\":\"" EP2
	    "\"},\"episode_id\":\"" EP "\"}", r), 1);
	cr_expect_str_eq(r[0], "episode:" EP);

	/* A notification goes to its recipient's room and nowhere else. */
	cr_assert_eq(route("{\"type\":\"notification_created\",\"resource\":{\"type\":\"notification\","
	    "\"id\":\"" EP2 "\"},\"episode_id\":\"" EP "\",\"data\":{\"user_id\":\"bob\"}}", r), 1);
	cr_expect_str_eq(r[0], "user:bob");

	cr_expect_eq(route("{\"type\":\"notification_created\",\"resource\":{\"type\":\"notification\","
	    "\"id\":\"x\"},\"data\":{}}", r), 0);
	cr_expect_eq(route("{\"resource\":{\"type\":\"episode\"}}", r), 0);
	cr_expect_eq(route("{\"type\":\"episode_updated\"}", r), 0);
	cr_expect_eq(route("{\"type\":\"episode_updated\",\"resource\":{\"type\":\"episode\"},"
	    "\"episode_id\":\"../etc\"}", r), 1);
}

/* ---------------------------------------------------------------- hub */

static int wakes;
static void *last_woken;

static void want_write(void *conn)
{
	wakes++;
	last_woken = conn;
}

/* Pull every queued frame of c into out (concatenated, one per line). */
static size_t drain(struct wsd_client *c, char *out, size_t outlen)
{
	struct wsd_msg *m;
	size_t n = 0, used = 0;

	out[0] = '\0';
	while ((m = wsd_client_next(c))) {
		used += (size_t)snprintf(out + used, outlen - used, "%.*s\n", (int)m->len,
		    (const char *)wsd_msg_payload(m));
		wsd_client_sent(c);
		n++;
	}
	return n;
}

static void send_text(struct wsd_hub *h, struct wsd_client *c, const char *text)
{
	wsd_client_frame(h, c, text, strlen(text));
}

Test(hub, subscribe_publish_once_per_room)
{
	struct wsd_hub *h = wsd_hub_new(1 << 20, want_write);
	int conn_a, conn_b, conn_c;
	struct wsd_client *a = wsd_client_new(h, &conn_a, "alice");
	struct wsd_client *b = wsd_client_new(h, &conn_b, "bob");
	struct wsd_client *c = wsd_client_new(h, &conn_c, "carol");
	const char *env = "{\"id\":\"7\",\"type\":\"episode_updated\",\"resource\":{\"type\":\"episode\","
	    "\"id\":\"" EP "\"},\"episode_id\":\"" EP "\",\"data\":{}}";
	char out[8192];

	send_text(h, a, "{\"type\":\"subscribe\",\"room\":\"episode:" EP "\"}");
	send_text(h, a, "{\"type\":\"subscribe\",\"room\":\"episode:" EP "\"}");  /* twice: once */
	send_text(h, b, "{\"type\":\"subscribe\",\"room\":\"episodes\"}");
	send_text(h, c, "{\"type\":\"subscribe\",\"room\":\"episode:" EP2 "\"}");
	cr_expect_eq(drain(a, out, sizeof out), 2);
	cr_expect(strstr(out, "{\"type\":\"subscribed\",\"room\":\"episode:" EP "\"}"), "%s", out);
	drain(b, out, sizeof out);
	drain(c, out, sizeof out);

	cr_expect_eq(wsd_hub_publish(h, env, strlen(env)), 2);
	cr_expect_eq(drain(a, out, sizeof out), 1);
	cr_expect(strstr(out, "{\"type\":\"event\",\"room\":\"episode:" EP "\",\"event\":{\"id\":\"7\""),
	    "%s", out);
	cr_expect_eq(drain(b, out, sizeof out), 1);
	cr_expect(strstr(out, "\"room\":\"episodes\""), "%s", out);
	cr_expect_eq(drain(c, out, sizeof out), 0, "another episode's room gets nothing");

	/* In both rooms of an event: it arrives once, under the first room. */
	send_text(h, b, "{\"type\":\"subscribe\",\"room\":\"episode:" EP "\"}");
	drain(b, out, sizeof out);
	cr_expect_eq(wsd_hub_publish(h, env, strlen(env)), 2);
	cr_expect_eq(drain(b, out, sizeof out), 1, "one frame for two rooms: %s", out);
	cr_expect(strstr(out, "\"room\":\"episodes\""), "%s", out);
	drain(a, out, sizeof out);

	send_text(h, a, "{\"type\":\"unsubscribe\",\"room\":\"episode:" EP "\"}");
	drain(a, out, sizeof out);
	cr_expect_eq(wsd_hub_publish(h, env, strlen(env)), 1);   /* b alone now */
	cr_expect_eq(drain(a, out, sizeof out), 0);
	cr_expect_eq(wsd_hub_publish(h, "not json", 8), -1);

	wsd_client_free(h, a);
	wsd_client_free(h, b);
	wsd_client_free(h, c);
	{
		struct wsd_hub_stats st;

		wsd_hub_get_stats(h, &st);
		cr_expect_eq(st.rooms, 0, "rooms go with their last member");
		cr_expect_eq(st.clients, 0);
	}
	wsd_hub_free(h);
}

Test(hub, errors_never_close)
{
	struct wsd_hub *h = wsd_hub_new(1 << 20, want_write);
	int conn;
	struct wsd_client *a = wsd_client_new(h, &conn, "alice");
	char out[8192], big[WSD_FRAME_MAX + 2];

	send_text(h, a, "{\"type\":\"subscribe\",\"room\":\"user:bob\"}");
	send_text(h, a, "not json");
	send_text(h, a, "{\"type\":\"dance\"}");
	send_text(h, a, "{\"type\":\"subscribe\"}");
	send_text(h, a, "[1,2]");
	memset(big, ' ', sizeof big);
	wsd_client_frame(h, a, big, sizeof big);
	send_text(h, a, "{\"type\":\"ping\"}");
	cr_expect_eq(drain(a, out, sizeof out), 7);
	cr_expect(strstr(out, "\"code\":\"forbidden\""), "%s", out);
	cr_expect(strstr(out, "{\"type\":\"pong\"}"), "%s", out);
	cr_expect(!wsd_client_too_slow(a));
	wsd_client_free(h, a);
	wsd_hub_free(h);
}

Test(hub, slow_client_overflows_alone)
{
	struct wsd_hub *h = wsd_hub_new(4096, want_write);
	int conn_slow, conn_fast;
	struct wsd_client *slow = wsd_client_new(h, &conn_slow, "s");
	struct wsd_client *fast = wsd_client_new(h, &conn_fast, "f");
	char env[600], out[65536];
	int i, got = 0;

	send_text(h, slow, "{\"type\":\"subscribe\",\"room\":\"jobs\"}");
	send_text(h, fast, "{\"type\":\"subscribe\",\"room\":\"jobs\"}");
	drain(slow, out, sizeof out);
	drain(fast, out, sizeof out);
	for (i = 0; i < 40; i++) {
		snprintf(env, sizeof env, "{\"id\":\"%d\",\"type\":\"job_started\",\"resource\":"
		    "{\"type\":\"job\",\"id\":\"j\"},\"data\":{\"pad\":\"%0200d\"}}", i + 1, 0);
		wsd_hub_publish(h, env, strlen(env));
		got += (int)drain(fast, out, sizeof out);   /* the fast one keeps up */
	}
	cr_expect_eq(got, 40);
	cr_expect(wsd_client_too_slow(slow));
	cr_expect_null(wsd_client_next(slow), "an overflowed queue is freed at once");
	cr_expect_eq(last_woken == &conn_slow || wakes > 0, 1);
	{
		struct wsd_hub_stats st;

		wsd_hub_get_stats(h, &st);
		cr_expect_eq(st.slow_dropped, 1);
		/* Every one of the 40 missed the slow client: those queued when
		 * it overflowed, the one that overflowed it, and those after. */
		cr_expect_eq(st.frames_dropped, 40);
		wsd_client_free(h, slow);
		wsd_client_free(h, fast);
		wsd_hub_get_stats(h, &st);
		cr_expect_eq(st.frames_dropped, 40, "counted once");
	}
	wsd_hub_free(h);
}

/* One event larger than the whole queue limit (a job's big result) goes
 * to a client that has sent everything; a client still holding a frame is
 * too slow for it. */
Test(hub, a_large_event_reaches_a_client_that_keeps_up)
{
	struct wsd_hub *h = wsd_hub_new(4096, want_write);
	int conn_idle, conn_busy;
	struct wsd_client *idle = wsd_client_new(h, &conn_idle, "i");
	struct wsd_client *busy = wsd_client_new(h, &conn_busy, "b");
	static char env[12000], out[65536];
	struct wsd_hub_stats st;

	send_text(h, idle, "{\"type\":\"subscribe\",\"room\":\"jobs\"}");
	send_text(h, busy, "{\"type\":\"subscribe\",\"room\":\"jobs\"}");
	drain(idle, out, sizeof out);
	/* busy keeps its "subscribed" frame unsent. */
	snprintf(env, sizeof env, "{\"id\":\"1\",\"type\":\"job_completed\",\"resource\":"
	    "{\"type\":\"job\",\"id\":\"j\"},\"data\":{\"result\":\"%08000d\"}}", 0);
	cr_expect_eq(wsd_hub_publish(h, env, strlen(env)), 1);
	cr_expect(!wsd_client_too_slow(idle));
	cr_expect_eq(drain(idle, out, sizeof out), 1);
	cr_expect_not_null(strstr(out, "job_completed"));
	cr_expect(wsd_client_too_slow(busy));
	wsd_hub_get_stats(h, &st);
	cr_expect_eq(st.slow_dropped, 1);
	cr_expect_eq(st.frames_dropped, 1, "the event, not the reply it held");
	wsd_client_free(h, idle);
	wsd_client_free(h, busy);
	wsd_hub_free(h);
}

/* A client that goes away with events still queued never got them. */
Test(hub, events_queued_at_disconnect_count_as_dropped)
{
	struct wsd_hub *h = wsd_hub_new(65536, want_write);
	int conn;
	struct wsd_client *c = wsd_client_new(h, &conn, "c");
	char env[256], out[4096];
	struct wsd_hub_stats st;
	int i;

	send_text(h, c, "{\"type\":\"subscribe\",\"room\":\"jobs\"}");
	drain(c, out, sizeof out);
	for (i = 0; i < 3; i++) {
		snprintf(env, sizeof env, "{\"id\":\"%d\",\"type\":\"job_started\",\"resource\":"
		    "{\"type\":\"job\",\"id\":\"j\"},\"data\":{}}", i + 1);
		cr_expect_eq(wsd_hub_publish(h, env, strlen(env)), 1);
	}
	cr_expect_not_null(wsd_client_next(c));
	wsd_client_sent(c);             /* one sent, two left */
	send_text(h, c, "{\"type\":\"nonsense\"}");   /* an error reply queued too */
	wsd_client_free(h, c);
	wsd_hub_get_stats(h, &st);
	cr_expect_eq(st.frames_out, 3);
	cr_expect_eq(st.frames_dropped, 2, "replies are not counted");
	wsd_hub_free(h);
}

Test(hub, many_rooms_grow_the_table)
{
	struct wsd_hub *h = wsd_hub_new(1 << 20, want_write);
	struct wsd_client *c[40];
	int conns[40], i, j;
	char text[128], out[65536];
	struct wsd_hub_stats st;

	for (i = 0; i < 40; i++) {
		c[i] = wsd_client_new(h, &conns[i], "u");
		for (j = 0; j < 20; j++) {
			snprintf(text, sizeof text, "{\"type\":\"subscribe\",\"room\":\"episode:%08d-0000-4000-8000-%012d\"}", i, j);
			send_text(h, c[i], text);
		}
		cr_expect_eq(drain(c[i], out, sizeof out), 20);
	}
	wsd_hub_get_stats(h, &st);
	cr_expect_eq(st.rooms, 800);
	for (i = 0; i < 40; i++)
		wsd_client_free(h, c[i]);
	wsd_hub_get_stats(h, &st);
	cr_expect_eq(st.rooms, 0);
	wsd_hub_free(h);
}
