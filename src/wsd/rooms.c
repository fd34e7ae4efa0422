/* rooms.c - room names, access rules and event routing (API.md "WebSocket"). */
#include <stdio.h>
#include <string.h>

#include "rooms.h"
#include "util.h"

static const char *member_string(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Events carry lower-case ids, and room names are compared exactly. */
static bool lower_uuid(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return false;
	return eccr_uuid_valid(s);
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum wsd_room_verdict wsd_room_check(const char *room, const char *sub,
    char *why, size_t whylen)
{
	if (strcmp(room, "episodes") == 0 || strcmp(room, "jobs") == 0)
		return WSD_ROOM_OK;   /* every role may read episodes and jobs */
	if (has_prefix(room, "episode:")) {
		if (lower_uuid(room + 8))
			return WSD_ROOM_OK;
		snprintf(why, whylen, "episode room needs a lower-case UUID: episode:<id>");
		return WSD_ROOM_BAD;
	}
	if (has_prefix(room, "user:")) {
		/* A user's room carries their notifications: nobody else's,
		 * admins included (API.md). */
		if (strcmp(room + 5, sub) == 0)
			return WSD_ROOM_OK;
		snprintf(why, whylen, "the room of another user");
		return WSD_ROOM_FORBIDDEN;
	}
	snprintf(why, whylen, "unknown room; rooms are episodes, jobs, episode:<id>, user:<sub>");
	return WSD_ROOM_BAD;
}

static bool is_episode_change(const char *type)
{
	return strcmp(type, "episode_created") == 0 ||
	    strcmp(type, "episode_updated") == 0 ||
	    strcmp(type, "episode_deleted") == 0;
}

static size_t add_room(char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX], size_t n,
    const char *prefix, const char *name)
{
	int len;

	if (n >= WSD_EVENT_ROOMS_MAX)
		return n;
	len = snprintf(rooms[n], WSD_ROOM_MAX, "%s%s", prefix, name);
	return len > 0 && len < WSD_ROOM_MAX ? n + 1 : n;
}

size_t wsd_event_rooms(json_object *env, char rooms[WSD_EVENT_ROOMS_MAX][WSD_ROOM_MAX])
{
	json_object *resource = NULL, *data = NULL;
	const char *type, *rtype, *episode_id, *recipient;
	size_t n = 0;

	type = member_string(env, "type");
	if (!type || !json_object_object_get_ex(env, "resource", &resource))
		return 0;
	rtype = member_string(resource, "type");
	if (strcmp(type, "notification_created") == 0) {
		/* Only the recipient's room: a notification is private. */
		json_object_object_get_ex(env, "data", &data);
		recipient = member_string(data, "user_id");
		return recipient && *recipient ? add_room(rooms, 0, "user:", recipient) : 0;
	}
	if (rtype && strcmp(rtype, "episode") == 0 && is_episode_change(type))
		n = add_room(rooms, n, "episodes", "");
	else if (rtype && (strcmp(rtype, "job") == 0 || strcmp(rtype, "worker") == 0))
		n = add_room(rooms, n, "jobs", "");
	episode_id = member_string(env, "episode_id");
	if (episode_id && eccr_uuid_valid(episode_id))
		n = add_room(rooms, n, "episode:", episode_id);
	return n;
}
