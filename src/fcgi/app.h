/* app.h - eccr-fcgi's process-wide state and per-thread request context. */
#ifndef ECCR_FCGI_APP_H
#define ECCR_FCGI_APP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <fcgiapp.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "http.h"
#include "idempotency.h"
#include "plugins.h"
#include "router.h"
#include "storage.h"

struct eccr_app {
	struct eccr_config cfg;
	struct eccr_auth *auth;
	int listen_fd;
	/* base_path and mount_path split into segments, once */
	struct eccr_buf api_prefix_buf, mount_prefix_buf;
	struct eccr_path api_prefix, mount_prefix;
	struct eccr_plugins plugins;
	struct eccr_dispatch *dispatch;   /* NULL when no sink is loaded */
	struct eccr_storage *storage;
};

#define ECCR_USER_CACHE 64

/* Everything one worker thread owns; reused from request to request. */
struct eccr_ctx {
	struct eccr_app *app;
	FCGX_Request fcgx;
	struct eccr_req req;
	struct eccr_db *db;
	json_object *body;          /* parsed JSON body of this request, or NULL */
	struct eccr_buf scratch;
	/* users already upserted by this thread (hash of their claims) */
	uint64_t user_seen[ECCR_USER_CACHE];
	unsigned user_next;
	struct eccr_auth_memo auth_memo;   /* tokens this thread verified */
	struct eccr_idem idem;             /* this request's Idempotency-Key */
};

typedef void (*eccr_handler_fn)(struct eccr_ctx *c);

/* Route tables (routes.c). */
extern const struct eccr_route eccr_api_routes[];
extern const size_t eccr_api_nroutes;
extern const struct eccr_route eccr_root_routes[];
extern const size_t eccr_root_nroutes;

/* app.c: one request through routing, auth and its handler. */
void eccr_app_handle(struct eccr_ctx *c);
/* Register every statement eccr-fcgi uses; before threads start. */
int eccr_app_register_statements(void);

/* Shared handler helpers (app.c). */
/* Check the caller's credentials; false when a 401 (or 500) was queued. */
bool eccr_authenticate(struct eccr_ctx *c);
/* The metrics slot of the request's route (see main.c). */
size_t eccr_route_slot(const struct eccr_req *r);
bool eccr_require_role(struct eccr_ctx *c, enum eccr_role role);
/* Read and parse a JSON object body: false when a problem was queued. */
bool eccr_read_json_object(struct eccr_ctx *c);
/* For actions that take no input (retry, read, watch, heartbeat...): a
 * POST has no body, or an empty JSON object; any field is 400 naming it,
 * as API.md says of unknown fields.  Other methods' bodies are not read.
 * False when a problem was queued. */
bool eccr_empty_body(struct eccr_ctx *c);
/* Map a database error to its problem response. */
void eccr_db_problem(struct eccr_ctx *c, enum eccr_db_err e);
/* Upsert the caller into users (cached per thread). */
enum eccr_db_err eccr_record_user(struct eccr_ctx *c);
/* Captured path segment i as a lower-case UUID; false (400 queued) if not one. */
bool eccr_capture_uuid(struct eccr_ctx *c, size_t i, char out[37]);
/* Reject query parameters nobody read (400); false when a problem was queued. */
bool eccr_no_unknown_query(struct eccr_ctx *c);
/* Parse If-Match into a PostgreSQL int[] literal of the versions it names
 * ("{3}"; weak tags never match, so "{}" is possible).  Returns 0 when the
 * header is absent or "*" (no version condition), 1 when out is set, -1
 * when it is malformed (a 400 is queued). */
int eccr_if_match(struct eccr_ctx *c, char *out, size_t outlen);

/* After a change committed: hand the event id in column col of row to
 * the dispatcher (nothing when that value is NULL, e.g. a no-op PATCH). */
void eccr_event_committed(struct eccr_ctx *c, PGresult *res, int row, int col);

/* A keyset page: 200 {"items":[...],"next_cursor":"..."|null} from a query
 * that fetched limit + 1 rows, column 0 of each being an item's JSON.  When
 * a row lies beyond the limit, cursor_of writes the raw cursor of the last
 * row shown into raw (returning its length, -1 if it does not fit) and the
 * page carries it base64url-encoded. */
typedef int (*eccr_cursor_fn)(const PGresult *res, int row, const void *arg,
    char *raw, size_t rawlen);
void eccr_send_page(struct eccr_ctx *c, const PGresult *res, long limit,
    eccr_cursor_fn cursor_of, const void *arg);

/* Handlers. */
void eccr_health(struct eccr_ctx *c);
void eccr_metrics(struct eccr_ctx *c);
void eccr_episodes_list(struct eccr_ctx *c);
void eccr_episodes_create(struct eccr_ctx *c);
void eccr_episodes_get(struct eccr_ctx *c);
void eccr_episodes_patch(struct eccr_ctx *c);
void eccr_episodes_put(struct eccr_ctx *c);
void eccr_episodes_delete(struct eccr_ctx *c);
void eccr_activity_list(struct eccr_ctx *c);
void eccr_activity_episode(struct eccr_ctx *c);
void eccr_activity_stats(struct eccr_ctx *c);
void eccr_job_types(struct eccr_ctx *c);
void eccr_jobs_list(struct eccr_ctx *c);
void eccr_jobs_create(struct eccr_ctx *c);
void eccr_jobs_get(struct eccr_ctx *c);
void eccr_jobs_retry(struct eccr_ctx *c);
void eccr_jobs_cancel(struct eccr_ctx *c);

/* notifications.c, me.c */
void eccr_notifications_list(struct eccr_ctx *c);
void eccr_notifications_unread_count(struct eccr_ctx *c);
void eccr_notifications_read(struct eccr_ctx *c);
void eccr_notifications_read_all(struct eccr_ctx *c);
void eccr_notifications_delete(struct eccr_ctx *c);
void eccr_notifications_announce(struct eccr_ctx *c);   /* announcements.c */
void eccr_me_get(struct eccr_ctx *c);
void eccr_me_preferences_get(struct eccr_ctx *c);
void eccr_me_preferences_put(struct eccr_ctx *c);
void eccr_episodes_watch(struct eccr_ctx *c);
void eccr_episodes_unwatch(struct eccr_ctx *c);
int eccr_notifications_register(void);
int eccr_announcements_register(void);
int eccr_me_register(void);
int eccr_activity_register(void);

int eccr_episodes_register(void);
int eccr_episodes_list_register(void);
int eccr_jobs_register(void);
int eccr_jobs_list_register(void);
int eccr_health_register(void);
int eccr_metrics_register(void);

#endif
