/* reload.c - see reload.h.
 *
 * What a reload may change is exactly what is read from the live
 * configuration each time it is used: the [log] level and target, and the
 * int-sized outbox.* and worker.* tunables (read with ECCR_TUNABLE by the
 * other threads).  Everything else is held by something built at start-up
 * -- connections (database.conninfo), loaded plugins and their sections,
 * the storage backend, the metrics file -- and needs a restart; a reload
 * that changes it says so and leaves it alone. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "reload.h"

/* The tunables copied on reload, all int fields of struct eccr_config. */
static const struct tunable {
	const char *name;
	size_t off;
} tunables[] = {
	{ "outbox.grace_ms", offsetof(struct eccr_config, outbox.grace_ms) },
	{ "outbox.max_attempts", offsetof(struct eccr_config, outbox.max_attempts) },
	{ "outbox.retry_base_ms", offsetof(struct eccr_config, outbox.retry_base_ms) },
	{ "outbox.retry_max_ms", offsetof(struct eccr_config, outbox.retry_max_ms) },
	{ "worker.max_concurrent", offsetof(struct eccr_config, worker.max_concurrent) },
	{ "worker.poll_interval_ms", offsetof(struct eccr_config, worker.poll_interval_ms) },
	{ "worker.lease_s", offsetof(struct eccr_config, worker.lease_s) },
	{ "worker.retry_base_ms", offsetof(struct eccr_config, worker.retry_base_ms) },
	{ "worker.retry_max_ms", offsetof(struct eccr_config, worker.retry_max_ms) },
};

#define INT_AT(cfg, off) ((int *)((char *)(cfg) + (off)))

static bool str_differs(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0;
}

static bool section_differs(const struct eccr_plugin_section *a,
    const struct eccr_plugin_section *b)
{
	size_t i;

	if (a == NULL || b == NULL || a->nkv != b->nkv)
		return a != b;
	for (i = 0; i < a->nkv; i++)
		if (strcmp(a->kv[i].key, b->kv[i].key) != 0 ||
		    strcmp(a->kv[i].value, b->kv[i].value) != 0)
			return true;
	return false;
}

static bool plugins_differ(const struct eccr_config *a, const struct eccr_config *b)
{
	size_t i;

	if (str_differs(a->plugins.dir, b->plugins.dir) ||
	    str_differs(a->plugins.load, b->plugins.load) ||
	    a->nplugin_sections != b->nplugin_sections)
		return true;
	for (i = 0; i < a->nplugin_sections; i++)
		if (section_differs(&a->plugin_sections[i],
		    eccr_config_plugin(b, a->plugin_sections[i].name)))
			return true;
	return false;
}

static bool storage_differs(const struct eccr_config *a, const struct eccr_config *b)
{
	return a->storage.backend != b->storage.backend ||
	    str_differs(a->storage.local_root, b->storage.local_root) ||
	    str_differs(a->storage.s3_endpoint, b->storage.s3_endpoint) ||
	    str_differs(a->storage.s3_region, b->storage.s3_region) ||
	    str_differs(a->storage.s3_bucket, b->storage.s3_bucket) ||
	    str_differs(a->storage.s3_access_key_id, b->storage.s3_access_key_id) ||
	    str_differs(a->storage.s3_secret_key, b->storage.s3_secret_key) ||
	    a->storage.s3_path_style != b->storage.s3_path_style;
}

/* Name what changed but only takes effect after a restart. */
static void warn_restart_only(const struct eccr_config *live, const struct eccr_config *next)
{
	if (str_differs(live->database.conninfo, next->database.conninfo))
		eccr_warn("SIGHUP: database.conninfo changed: restart eccr-worker to use it");
	if (plugins_differ(live, next))
		eccr_warn("SIGHUP: [plugins] or a [plugin.NAME] section changed: restart "
		    "eccr-worker to load them");
	if (storage_differs(live, next))
		eccr_warn("SIGHUP: [storage] changed: restart eccr-worker to use it");
	if (str_differs(live->metrics.dir, next->metrics.dir))
		eccr_warn("SIGHUP: metrics.dir changed: restart eccr-worker to use it");
	if (str_differs(live->log.ident, next->log.ident))
		eccr_warn("SIGHUP: log.ident changed: restart eccr-worker to use it");
	if (live->outbox.dispatch_threads != next->outbox.dispatch_threads)
		eccr_warn("SIGHUP: outbox.dispatch_threads changed: restart eccr-worker to use it");
}

static void apply(struct eccr_config *live, const struct eccr_config *next)
{
	size_t i;

	for (i = 0; i < sizeof tunables / sizeof tunables[0]; i++) {
		int was = *INT_AT(live, tunables[i].off), now = *INT_AT(next, tunables[i].off);

		if (was == now)
			continue;
		__atomic_store_n(INT_AT(live, tunables[i].off), now, __ATOMIC_RELAXED);
		eccr_notice("SIGHUP: %s %d -> %d", tunables[i].name, was, now);
	}
	if (live->log.level != next->log.level || live->log.target != next->log.target) {
		live->log.level = next->log.level;
		live->log.target = next->log.target;
		eccr_log_reconfigure(next->log.target, next->log.level);
		eccr_notice("SIGHUP: [log] target and level applied");
	}
}

int worker_reload(struct eccr_config *live, const char *path, struct jobs *jobs)
{
	struct eccr_config next;
	char err[ECCR_CONFIG_ERRLEN];

	if (eccr_config_defaults(&next) != 0) {
		eccr_err("SIGHUP: out of memory: keeping the current configuration");
		return -1;
	}
	if (eccr_config_load(&next, path, err, sizeof err) != 0) {
		eccr_err("SIGHUP: %s: keeping the current configuration", err);
		eccr_config_free(&next);
		return -1;
	}
	warn_restart_only(live, &next);
	apply(live, &next);
	if (jobs != NULL && jobs_set_concurrency(jobs, live->worker.max_concurrent) != 0)
		eccr_warn("SIGHUP: could not start every runner for worker.max_concurrent = %d",
		    live->worker.max_concurrent);
	eccr_notice("SIGHUP: configuration reloaded from %s", path);
	eccr_config_free(&next);
	return 0;
}
