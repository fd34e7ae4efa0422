/* notify.h - what eccr-fcgi and eccr-worker share about notifications.
 *
 * Recipients and in-app rows are written by the database (migration 0005,
 * the trigger events_notify_recipients), which reads the notifiable types
 * from the table notification_types.  That table is a copy of
 * notifications.types: each process writes it at start-up. */
#ifndef ECCR_NOTIFY_H
#define ECCR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

/* Register the statements; before threads start. */
int eccr_notify_register(void);

/* Make notification_types hold exactly the types of the comma list. */
enum eccr_db_err eccr_notify_sync_types(struct eccr_db *db, const char *types);

#endif
