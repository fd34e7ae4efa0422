/* presence.h - who is looking at a resource: the presence API and the
 * viewers of an episode read.  The store is a plugin answering the
 * presence.* queries (plugins/presence-memcache); this side validates,
 * checks the resource exists and announces presence_joined/presence_left
 * as transient events. */
#ifndef ECCR_FCGI_PRESENCE_H
#define ECCR_FCGI_PRESENCE_H

#include "app.h"

void eccr_presence_get(struct eccr_ctx *c);
void eccr_presence_heartbeat(struct eccr_ctx *c);
void eccr_presence_leave(struct eccr_ctx *c);
int eccr_presence_register(void);

/* An episode read: mark the caller present on episode id (announcing a
 * join and any expiry) and append the viewers as a JSON array to out.
 * Never fails the read: with the store down or no presence plugin it
 * appends "[]" at once. */
void eccr_presence_episode_viewers(struct eccr_ctx *c, const char *id, struct eccr_buf *out);

#endif
