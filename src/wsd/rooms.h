/* rooms.h - which rooms exist, who may join them, and which rooms an event
 * goes to.  Pure functions over strings and the envelope, so the rules of
 * API.md's "WebSocket" section are unit-tested without a hub. */
#ifndef ECCR_WSD_ROOMS_H
#define ECCR_WSD_ROOMS_H

#include <stddef.h>

#include <json-c/json.h>

#include "auth.h"

/* "user:" + the longest sub (128 characters of up to 4 bytes) + NUL. */
#define WSD_ROOM_MAX (5 + ECCR_SUB_MAX * 4 + 1)
/* An event goes to at most: its collection room, its episode room, or
 * one user's room. */
#define WSD_EVENT_ROOMS_MAX 2

enum wsd_room_verdict {
	WSD_ROOM_OK = 0,
	WSD_ROOM_BAD,        /* not a room name at all: bad_request */
	WSD_ROOM_FORBIDDEN   /* a room, but not this caller's: forbidden */
};

/* May the user `sub` subscribe to `room`?  Every role may read episodes
 * and jobs, so only the caller's identity matters.  On refusal, why[] gets
 * a message for the client's error frame. */
enum wsd_room_verdict wsd_room_check(const char *room, const char *sub,
    char *why, size_t whylen);

/* The rooms an event envelope goes to (API.md): `episodes` for episode
 * created/updated/deleted, `jobs` for job and worker resources,
 * `episode:<id>` for anything with an episode_id, and `user:<sub>` -- only
 * that -- for notification_created.  Returns how many names were written
 * to rooms[], 0 when the envelope names no room or is malformed. */
size_t wsd_event_rooms(json_object *envelope,
    char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX]);

#endif
