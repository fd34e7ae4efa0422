/* event_json.h - the event object of API.md ("Events"), as the sinks get it
 * in struct eccr_event's json: built here from the event's fields, for
 * outbox and transient events alike. */
#ifndef ECCR_EVENT_JSON_H
#define ECCR_EVENT_JSON_H

#include <eccr/plugin.h>

#include "util.h"

/* Append ev's envelope to b: {"id","type","occurred_at","actor":{"id",
 * "name" (when known)},"resource":{"type","id"},"episode_id","data"}.  id
 * is null for a transient event; data_json is copied as it is (it comes
 * from PostgreSQL's jsonb or from the host, never from a client).  An
 * allocation failure sets b->oom. */
void eccr_event_json(struct eccr_buf *b, const struct eccr_event *ev);

#endif
