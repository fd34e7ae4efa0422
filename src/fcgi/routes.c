/* routes.c - every route eccr-fcgi answers.  API routes are relative to
 * server.base_path, root routes to server.mount_path. */
#include "app.h"
#include "files.h"
#include "presence.h"

#define H(fn) ((void *)(fn))

const struct eccr_route eccr_api_routes[] = {
	{ ECCR_GET, "episodes", H(eccr_episodes_list), "episodes.list" },
	{ ECCR_POST, "episodes", H(eccr_episodes_create), "episodes.create" },
	{ ECCR_GET, "episodes/{}", H(eccr_episodes_get), "episodes.get" },
	{ ECCR_PATCH, "episodes/{}", H(eccr_episodes_patch), "episodes.patch" },
	{ ECCR_PUT, "episodes/{}", H(eccr_episodes_put), "episodes.put" },
	{ ECCR_DELETE, "episodes/{}", H(eccr_episodes_delete), "episodes.delete" },
	{ ECCR_GET, "episodes/{}/activity", H(eccr_activity_episode), "activity.episode" },
	{ ECCR_GET, "activity", H(eccr_activity_list), "activity.list" },
	{ ECCR_GET, "episodes/{}/files", H(eccr_files_list), "files.list" },
	{ ECCR_POST, "episodes/{}/files", H(eccr_files_upload), "files.upload" },
	{ ECCR_POST, "episodes/{}/files/uploads", H(eccr_files_direct), "files.direct" },
	{ ECCR_GET, "files/{}", H(eccr_files_get), "files.get" },
	{ ECCR_DELETE, "files/{}", H(eccr_files_delete), "files.delete" },
	{ ECCR_GET, "files/{}/url", H(eccr_files_url), "files.url" },
	{ ECCR_POST, "files/{}/complete", H(eccr_files_complete), "files.complete" },
	/* Signed URLs instead of bearer tokens: see files_content.c. */
	{ ECCR_GET, "files/{}/content", H(eccr_files_content_get), "public.files.content" },
	{ ECCR_PUT, "files/{}/content", H(eccr_files_content_put), "public.files.upload" },
	{ ECCR_GET, "activity/stats", H(eccr_activity_stats), "activity.stats" },
	{ ECCR_GET, "job-types", H(eccr_job_types), "jobs.types" },
	{ ECCR_GET, "jobs", H(eccr_jobs_list), "jobs.list" },
	{ ECCR_POST, "jobs", H(eccr_jobs_create), "jobs.create" },
	{ ECCR_GET, "jobs/{}", H(eccr_jobs_get), "jobs.get" },
	{ ECCR_POST, "jobs/{}/retry", H(eccr_jobs_retry), "jobs.retry" },
	{ ECCR_POST, "jobs/{}/cancel", H(eccr_jobs_cancel), "jobs.cancel" },
	{ ECCR_GET, "notifications", H(eccr_notifications_list), "notifications.list" },
	{ ECCR_POST, "notifications", H(eccr_notifications_announce), "notifications.announce" },
	{ ECCR_GET, "notifications/unread-count", H(eccr_notifications_unread_count),
	  "notifications.unread_count" },
	{ ECCR_POST, "notifications/read-all", H(eccr_notifications_read_all),
	  "notifications.read_all" },
	{ ECCR_POST, "notifications/{}/read", H(eccr_notifications_read), "notifications.read" },
	{ ECCR_DELETE, "notifications/{}", H(eccr_notifications_delete), "notifications.delete" },
	{ ECCR_GET, "me", H(eccr_me_get), "me.get" },
	{ ECCR_GET, "me/preferences", H(eccr_me_preferences_get), "me.preferences_get" },
	{ ECCR_PUT, "me/preferences", H(eccr_me_preferences_put), "me.preferences_put" },
	{ ECCR_POST, "episodes/{}/watch", H(eccr_episodes_watch), "episodes.watch" },
	{ ECCR_DELETE, "episodes/{}/watch", H(eccr_episodes_unwatch), "episodes.unwatch" },
	{ ECCR_GET, "presence/{}/{}", H(eccr_presence_get), "presence.get" },
	{ ECCR_POST, "presence/{}/{}/heartbeat", H(eccr_presence_heartbeat), "presence.heartbeat" },
	{ ECCR_DELETE, "presence/{}/{}", H(eccr_presence_leave), "presence.leave" },
};
const size_t eccr_api_nroutes = sizeof eccr_api_routes / sizeof eccr_api_routes[0];

const struct eccr_route eccr_root_routes[] = {
	{ ECCR_GET, "health", H(eccr_health), "health" },
	{ ECCR_GET, "metrics", H(eccr_metrics), "metrics" },
};
const size_t eccr_root_nroutes = sizeof eccr_root_routes / sizeof eccr_root_routes[0];
