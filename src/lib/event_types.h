/* event_types.h - the event types of API.md ("Events"), for the checks that
 * must know them: notifications.types at start-up and muted_types in
 * PUT /me/preferences.  One list, so a type added to the API is added here
 * once. */
#ifndef ECCR_EVENT_TYPES_H
#define ECCR_EVENT_TYPES_H

#include <stdbool.h>
#include <stddef.h>

/* Is type[0..len) an event type that can notify: written to the outbox
 * (transient events never are) and not notification_created itself? */
bool eccr_event_type_notifiable(const char *type, size_t len);

#endif
