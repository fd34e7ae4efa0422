/* presence_sweep.c - see presence_sweep.h. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <libpq-fe.h>

#include "db.h"
#include "json.h"
#include "log.h"
#include "presence_sweep.h"
#include "util.h"

/* How often the plugin is asked; it sweeps at most once per its sweep_s. */
#define ASK_INTERVAL_MS 1000
/* What an answer's entries may carry (the plugin's own bounds). */
#define TYPE_MAX 32
#define RID_MAX 64
#define USER_MAX 512
#define NAME_MAX_ 1024

/* The episode of a file or job, as eccr-fcgi finds it for its presence
 * events (src/fcgi/presence.c); NULL for a job of no episode. */
static struct eccr_stmt st_episode_of = {
	.sql = "SELECT episode_id FROM files WHERE $1 = 'file' AND id = $2::uuid"
	       " UNION ALL SELECT episode_id FROM jobs WHERE $1 = 'job' AND id = $2::uuid",
	.nparams = 2, .flags = ECCR_STMT_READ,
};

struct presence_sweep {
	const struct eccr_plugins *ps;
	struct eccr_dispatch *d;
	struct eccr_db *db;     /* this thread's own; NULL: episodes not looked up */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool failing;       /* the last ask failed: logged once */
};

/* A string member of o within 1..max bytes (0..max when empty_ok). */
static const char *member(json_object *o, const char *name, size_t max, bool empty_ok)
{
	json_object *v;
	size_t len;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	len = (size_t)json_object_get_string_len(v);
	if ((len == 0 && !empty_ok) || len > max || strlen(json_object_get_string(v)) != len)
		return NULL;
	return json_object_get_string(v);
}

int presence_sweep_register(void)
{
	return eccr_db_register(&st_episode_of);
}

/* The episode_id of an event about type/id into out: the id of an episode,
 * the episode of a file or job; false when there is none (or the database
 * could not tell: the event then reaches the resource's watchers only). */
static bool episode_of(struct presence_sweep *s, const char *type, const char *id, char out[37])
{
	const char *p[2] = { type, id };
	PGresult *res;
	bool found;

	if (strcmp(type, "episode") == 0) {
		snprintf(out, 37, "%s", id);
		return true;
	}
	if (s->db == NULL || (strcmp(type, "file") != 0 && strcmp(type, "job") != 0) ||
	    !eccr_uuid_valid(id) || eccr_db_exec(s->db, &st_episode_of, p, &res) != ECCR_DB_OK)
		return false;
	found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && eccr_uuid_valid(PQgetvalue(res, 0, 0));
	if (found)
		snprintf(out, 37, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* presence_left for one {"resource_type","resource_id","user_id","name"},
 * as eccr-fcgi announces an expiry it finds (src/fcgi/presence.c). */
static void announce(struct presence_sweep *s, json_object *e)
{
	const char *type = member(e, "resource_type", TYPE_MAX, false);
	const char *id = member(e, "resource_id", RID_MAX, false);
	const char *user = member(e, "user_id", USER_MAX, false);
	const char *name = member(e, "name", NAME_MAX_, true);
	json_object *data;
	char episode[37];

	if (type == NULL || id == NULL || user == NULL || name == NULL) {
		eccr_warn("presence.sweep answered a malformed entry: %s",
		    json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
		return;
	}
	if ((data = json_object_new_object()) == NULL)
		return;
	json_object_object_add(data, "user_id", json_object_new_string(user));
	json_object_object_add(data, "name", json_object_new_string(name));
	json_object_object_add(data, "reason", json_object_new_string("expired"));
	/* A full queue drops it: transient events may be lost. */
	eccr_dispatch_offer_transient(s->d, "presence_left", "system", NULL, type, id,
	    episode_of(s, type, id, episode) ? episode : NULL,
	    json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
	json_object_put(data);
}

static void announce_all(struct presence_sweep *s, const char *text)
{
	json_object *root = NULL, *arr;
	char detail[128];

	if (eccr_json_parse(text, strlen(text), &root, detail, sizeof detail) != ECCR_JSON_OK ||
	    !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "expired", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		eccr_warn("presence.sweep answered no \"expired\" list");
		json_object_put(root);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		announce(s, json_object_array_get_idx(arr, i));
	json_object_put(root);
}

/* One ask; false when no plugin answers presence.sweep (stop asking). */
static bool ask(struct presence_sweep *s)
{
	char *out = NULL;
	int rc = eccr_plugins_query(s->ps, "presence.sweep", "{}", &out);

	if (rc == ECCR_QUERY_NOT_MINE) {
		eccr_debug("no plugin answers presence.sweep: expiries wait for the next request");
		free(out);
		return false;
	}
	if (rc == ECCR_QUERY_OK && out != NULL) {
		if (s->failing)
			eccr_notice("presence.sweep answers again");
		s->failing = false;
		announce_all(s, out);
	} else if (!s->failing) {
		/* The plugin logs its store's outages itself; once here is enough. */
		eccr_warn("presence.sweep failed (%s); trying again every %d ms",
		    rc == ECCR_QUERY_BAD_ARGS ? "refused" : "store unavailable", ASK_INTERVAL_MS);
		s->failing = true;
	}
	free(out);
	return true;
}

/* Sleep until the next ask; false when asked to stop. */
static bool pause_until_next(struct presence_sweep *s)
{
	struct timespec at;
	bool go;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_sec += ASK_INTERVAL_MS / 1000;
	at.tv_nsec += (long)(ASK_INTERVAL_MS % 1000) * 1000000L;
	if (at.tv_nsec >= 1000000000L) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	/* 0 is a wake-up (stop, or spurious): look again; the deadline or
	 * any error ends the wait rather than spinning. */
	while (!s->stop && rc == 0)
		rc = pthread_cond_timedwait(&s->cv, &s->mu, &at);
	go = !s->stop;
	pthread_mutex_unlock(&s->mu);
	return go;
}

static void *run(void *arg)
{
	struct presence_sweep *s = arg;

	while (pause_until_next(s) && ask(s))
		;
	return NULL;
}

struct presence_sweep *presence_sweep_start(const struct eccr_config *cfg,
    const struct eccr_plugins *ps, struct eccr_dispatch *d)
{
	struct presence_sweep *s = calloc(1, sizeof *s);
	pthread_condattr_t ca;
	int err;

	if (s == NULL) {
		eccr_err("presence sweep: out of memory");
		return NULL;
	}
	s->ps = ps;
	s->d = d;
	if ((s->db = eccr_db_new(cfg->database.conninfo, "eccr-worker-presence")) == NULL)
		eccr_warn("presence sweep: out of memory; expiries on files and jobs go "
		    "without their episode_id");
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((err = pthread_create(&s->thread, NULL, run, s)) != 0) {
		eccr_err("presence sweep: cannot start its thread: %s", strerror(err));
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		eccr_db_free(s->db);
		free(s);
		return NULL;
	}
	return s;
}

void presence_sweep_stop(struct presence_sweep *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	eccr_db_free(s->db);
	free(s);
}
