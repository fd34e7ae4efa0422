/* plugins.h - the plugin host: loads the plugins of plugins.load with
 * dlopen, checks their ABI, validates their [plugin.NAME] sections against
 * the options they declare, runs init, and unloads in order. */
#ifndef ECCR_PLUGINS_H
#define ECCR_PLUGINS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "eccr/plugin.h"

#define ECCR_PLUGIN_MAX 32
#define ECCR_PLUGIN_GLOBS_MAX 32

struct eccr_plugin_instance {
	char name[65];                 /* as in plugins.load */
	char path[4096];
	void *dl;
	struct eccr_plugin desc;       /* min(struct_size, sizeof) of the plugin's */
	void *state;
	bool initialised;
	struct eccr_host host;         /* handed to init; points back here */
	const struct eccr_config *cfg;
	const struct eccr_plugin_section *section;  /* NULL when absent */
	char *globs[ECCR_PLUGIN_GLOBS_MAX];         /* the events filter */
	size_t nglobs;
	/* host->retry_after during the emit() under way (outbox.c's emit lock
	 * makes emits of one process one at a time); -1: none. */
	int64_t retry_hint_ms;
};

struct eccr_plugins {
	struct eccr_plugin_instance *v[ECCR_PLUGIN_MAX];
	size_t n;
};

/* Load every plugin of cfg->plugins.load, in order, from cfg->plugins.dir.
 * On any failure everything loaded so far is unloaded and err names the
 * plugin and the reason.  cfg must outlive the plugins. */
int eccr_plugins_load(struct eccr_plugins *ps, const struct eccr_config *cfg,
    char *err, size_t errlen);

/* Load one plugin file (eccrctl plugin check) without a configuration
 * section or init.  Returns NULL with err set. */
struct eccr_plugin_instance *eccr_plugin_open(const char *path, char *err, size_t errlen);

/* fini (when initialised) and dlclose, in reverse order of loading. */
void eccr_plugins_unload(struct eccr_plugins *ps);
void eccr_plugin_close(struct eccr_plugin_instance *pi);

/* Does this sink's events filter take this event type? */
bool eccr_plugin_wants(const struct eccr_plugin_instance *pi, const char *type);

/* Ask the loaded plugins, in load order, to answer a query; the first
 * that does not say ECCR_QUERY_NOT_MINE answers.  Returns its enum
 * eccr_query_result, or ECCR_QUERY_NOT_MINE when none answers.  *out_json
 * is malloc'd (or NULL). */
/* The answer of pi to the optional "health" query: false only when the
 * plugin says its own service is unavailable. */
bool eccr_plugin_healthy(const struct eccr_plugin_instance *pi);

int eccr_plugins_query(const struct eccr_plugins *ps, const char *what,
    const char *args_json, char **out_json);

/* Is any loaded plugin a sink (so there is anything to dispatch)? */
bool eccr_plugins_has_sinks(const struct eccr_plugins *ps);

const char *eccr_plugin_kind_name(int kind);

#endif
