/* viewers.h - the viewers of one resource as presence-memcache keeps them
 * in one memcached value: pure code (no I/O, no clock), unit-tested in
 * tests/unit/test_presence_viewers.c.
 *
 * The stored value is compact JSON, one array per viewer, times in
 * milliseconds since the Unix epoch:
 *
 *     [["alice","Alice",1764067200123,1764067230456],...]
 *       user_id  name    since          last_seen
 */
#ifndef ECCR_PRESENCE_VIEWERS_H
#define ECCR_PRESENCE_VIEWERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on what one viewer may carry (the host's token limits: sub 128
 * characters, name 256, of up to 4 bytes each). */
#define VIEWER_ID_MAX 512
#define VIEWER_NAME_MAX 1024

struct viewer {
	char *user_id;
	char *name;          /* "" when unknown */
	int64_t since_ms;    /* when this presence began */
	int64_t last_ms;     /* the last heartbeat */
};

struct viewers {
	struct viewer *v;
	size_t n, cap;
};

void viewers_init(struct viewers *vs);
void viewers_free(struct viewers *vs);

/* Parse a stored value into vs (which must be empty).  At most max
 * entries are taken.  Returns 0, or -1 when the text is not a well-formed
 * list (vs is then left empty: the caller starts afresh rather than be
 * stuck on a damaged key). */
int viewers_decode(const char *text, size_t len, size_t max, struct viewers *vs);

/* The stored value of vs as a malloc'd NUL-terminated string (*len its
 * length), or NULL when out of memory. */
char *viewers_encode(const struct viewers *vs, size_t *len);

/* Move the entries whose last heartbeat is older than ttl_ms at now_ms
 * into gone (appended).  Returns how many moved, or -1 when out of memory
 * (vs is then unchanged). */
int viewers_prune(struct viewers *vs, int64_t now_ms, int64_t ttl_ms, struct viewers *gone);

/* Record a heartbeat of user_id at now_ms: a new entry (since = now), or
 * the existing one's last_seen and name refreshed.  Returns 1 when the
 * user joined, 0 when they were present already, -1 when out of memory,
 * -2 when a new entry would exceed max. */
int viewers_touch(struct viewers *vs, const char *user_id, const char *name,
    int64_t now_ms, size_t max);

/* user_id's entry, or NULL. */
const struct viewer *viewers_find(const struct viewers *vs, const char *user_id);

/* Move user_id's entry into gone.  Returns 1 when it was there, 0 when
 * not, -1 when out of memory. */
int viewers_remove(struct viewers *vs, const char *user_id, struct viewers *gone);

/* The newest last_seen of vs, or 0 when empty. */
int64_t viewers_newest(const struct viewers *vs);

/* vs as the API shows it: a new JSON array of
 * {"user_id","name","since","last_seen"} with RFC 3339 times. */
struct json_object;
struct json_object *viewers_api(const struct viewers *vs);

/* RFC 3339 UTC with milliseconds of a time in ms since the epoch:
 * "2026-11-25T10:33:37.123Z" (out holds 25 bytes). */
void viewers_rfc3339(int64_t ms, char out[25]);

#endif
