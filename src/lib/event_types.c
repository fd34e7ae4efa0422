/* event_types.c - see event_types.h. */
#include <string.h>

#include "event_types.h"

/* Durable event types of API.md's table, notification_created left out (a
 * notification about a notification would never end), and announcement (an
 * admin's notification to users, which they may mute). */
static const char *const notifiable[] = {
	"episode_created", "episode_updated", "episode_deleted",
	"job_created", "job_retried", "job_cancelled", "job_processor_started",
	"job_started", "job_completed", "job_retry", "job_failed",
	"file_uploaded", "file_deleted", "file_download", "announcement",
};

bool eccr_event_type_notifiable(const char *type, size_t len)
{
	for (size_t i = 0; i < sizeof notifiable / sizeof notifiable[0]; i++)
		if (strlen(notifiable[i]) == len && memcmp(notifiable[i], type, len) == 0)
			return true;
	return false;
}
