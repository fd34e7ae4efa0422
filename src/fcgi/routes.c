/* routes.c - every route eccr-fcgi answers.  API routes are relative to
 * server.base_path, root routes to server.mount_path. */
#include "app.h"

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
	{ ECCR_GET, "activity/stats", H(eccr_activity_stats), "activity.stats" },
};
const size_t eccr_api_nroutes = sizeof eccr_api_routes / sizeof eccr_api_routes[0];

const struct eccr_route eccr_root_routes[] = {
	{ ECCR_GET, "health", H(eccr_health), "health" },
};
const size_t eccr_root_nroutes = sizeof eccr_root_routes / sizeof eccr_root_routes[0];
