/* plugins.c - the plugin host.
 *
 * Loading order for one plugin: dlopen the file named after it in
 * plugins.dir; find the entry symbol; check abi_major/struct_size before
 * reading anything else; copy min(struct_size, sizeof) of the descriptor;
 * validate its configuration section against the options it declares;
 * init.  Unloading runs the reverse: fini, then dlclose. */
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "plugins.h"
#include "util.h"

#define SECRET_MAX (64 * 1024)

const char *eccr_plugin_kind_name(int kind)
{
	switch (kind) {
	case ECCR_PLUGIN_SINK: return "sink";
	case ECCR_PLUGIN_JOB: return "job";
	default: return "unknown";
	}
}

/* ------------------------------------------------------------ host services */

static void host_log(const struct eccr_host *host, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	eccr_log(level, "[plugin:%s] %s", host->instance, msg);
}

static const struct eccr_plugin_option *find_option(const struct eccr_plugin *d, const char *key)
{
	const struct eccr_plugin_option *o;

	for (o = d->options; o != NULL && o->key != NULL; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

static const char *host_config(const struct eccr_host *host, const char *key)
{
	const struct eccr_plugin_instance *pi = host->opaque;
	const struct eccr_plugin_option *o;
	size_t i;

	if (pi->section != NULL)
		for (i = 0; i < pi->section->nkv; i++)
			if (strcmp(pi->section->kv[i].key, key) == 0)
				return pi->section->kv[i].value;
	o = find_option(&pi->desc, key);
	return o ? o->default_value : NULL;
}

/* The core keys a plugin may read; secrets deliberately absent. */
static const char *host_core_config(const struct eccr_host *host, const char *key)
{
	const struct eccr_plugin_instance *pi = host->opaque;
	const struct eccr_config *c = pi->cfg;

	if (c == NULL)
		return NULL;
	if (strcmp(key, "database.conninfo") == 0)
		return c->database.conninfo;
	if (strcmp(key, "server.public_url") == 0)
		return c->server.public_url;
	if (strcmp(key, "server.base_path") == 0)
		return c->server.base_path;
	if (strcmp(key, "wsd.channel") == 0)
		return c->wsd.channel;
	if (strcmp(key, "notifications.types") == 0)
		return c->notifications.types;
	if (strcmp(key, "storage.backend") == 0)
		return c->storage.backend == ECCR_STORAGE_S3 ? "s3" : "local";
	if (strcmp(key, "storage.local_root") == 0)
		return c->storage.local_root;
	return NULL;
}

static int64_t host_now_ms(const struct eccr_host *host)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t host_monotonic_ms(const struct eccr_host *host)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *host_read_secret(const struct eccr_host *host, const char *key)
{
	const struct eccr_plugin_instance *pi = host->opaque;
	const char *file = host_config(host, key), *cfgpath = pi->cfg ? pi->cfg->path : NULL;
	const char *slash = cfgpath ? strrchr(cfgpath, '/') : NULL;
	char path[4096], *data = NULL;
	size_t len;
	int e;

	if (file == NULL || *file == '\0') {
		errno = ENOENT;
		return NULL;
	}
	if (file[0] == '/' || slash == NULL)
		snprintf(path, sizeof path, "%s", file);
	else
		snprintf(path, sizeof path, "%.*s/%s", (int)(slash - cfgpath), cfgpath, file);
	if ((e = eccr_read_file(path, SECRET_MAX, &data, &len)) != 0) {
		errno = e;
		return NULL;
	}
	if (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	if (len > 0 && data[len - 1] == '\r')
		data[--len] = '\0';
	return data;
}

#define RETRY_HINT_MAX_MS (24LL * 3600 * 1000)

static void host_retry_after(const struct eccr_host *host, int64_t delay_ms)
{
	struct eccr_plugin_instance *pi = host->opaque;

	if (delay_ms < 0)
		delay_ms = 0;
	if (delay_ms > RETRY_HINT_MAX_MS)
		delay_ms = RETRY_HINT_MAX_MS;
	if (delay_ms > pi->retry_hint_ms)
		pi->retry_hint_ms = delay_ms;
}

static void host_init(struct eccr_plugin_instance *pi)
{
	struct eccr_host *h = &pi->host;

	memset(h, 0, sizeof *h);
	h->struct_size = sizeof *h;
	h->abi_major = ECCR_PLUGIN_ABI_MAJOR;
	h->abi_minor = ECCR_PLUGIN_ABI_MINOR;
	h->opaque = pi;
	h->instance = pi->name;
	h->log = host_log;
	h->config = host_config;
	h->core_config = host_core_config;
	h->now_ms = host_now_ms;
	h->monotonic_ms = host_monotonic_ms;
	h->read_secret = host_read_secret;
	h->retry_after = host_retry_after;
	pi->retry_hint_ms = -1;
}

/* ------------------------------------------------------------ loading */

static bool name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

/* The descriptor's version and size are read before anything else. */
static int check_descriptor(struct eccr_plugin_instance *pi, const struct eccr_plugin *d,
    char *err, size_t errlen)
{
	size_t n;

	if (d == NULL)
		return snprintf(err, errlen, "%s: %s() returned NULL", pi->path,
		    ECCR_PLUGIN_ENTRY_SYMBOL), -1;
	if (d->abi_major != ECCR_PLUGIN_ABI_MAJOR)
		return snprintf(err, errlen, "%s: built for plugin ABI %u.%u, this host speaks %u.%u: "
		    "rebuild it against this eccr-plugin", pi->path, d->abi_major, d->abi_minor,
		    ECCR_PLUGIN_ABI_MAJOR, ECCR_PLUGIN_ABI_MINOR), -1;
	if (d->struct_size < offsetof(struct eccr_plugin, emit))
		return snprintf(err, errlen, "%s: descriptor struct_size %u is too small",
		    pi->path, d->struct_size), -1;
	n = d->struct_size < sizeof pi->desc ? d->struct_size : sizeof pi->desc;
	memset(&pi->desc, 0, sizeof pi->desc);
	memcpy(&pi->desc, d, n);
	d = &pi->desc;
	if (d->name == NULL || !name_valid(d->name, strlen(d->name)) || d->version == NULL)
		return snprintf(err, errlen, "%s: the descriptor has no valid name and version",
		    pi->path), -1;
	if (d->init == NULL)
		return snprintf(err, errlen, "%s: the descriptor has no init callback", pi->path), -1;
	if (d->kind == ECCR_PLUGIN_SINK && d->emit == NULL)
		return snprintf(err, errlen, "%s: a sink plugin without emit", pi->path), -1;
	if (d->kind == ECCR_PLUGIN_JOB && (d->run == NULL || d->job_type == NULL))
		return snprintf(err, errlen, "%s: a job plugin without run or job_type", pi->path), -1;
	if (d->kind != ECCR_PLUGIN_SINK && d->kind != ECCR_PLUGIN_JOB)
		return snprintf(err, errlen, "%s: unknown plugin kind %d", pi->path, d->kind), -1;
	return 0;
}

static struct eccr_plugin_instance *open_path(const char *name, const char *path,
    char *err, size_t errlen)
{
	struct eccr_plugin_instance *pi = calloc(1, sizeof *pi);
	eccr_plugin_entry_fn entry;
	const char *dlerr;

	if (pi == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	snprintf(pi->name, sizeof pi->name, "%s", name);
	snprintf(pi->path, sizeof pi->path, "%s", path);
	/* RTLD_LOCAL: two plugins never see each other's symbols. */
	if ((pi->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "%s: cannot load: %s", path, dlerror());
		free(pi);
		return NULL;
	}
	dlerror();
	*(void **)&entry = dlsym(pi->dl, ECCR_PLUGIN_ENTRY_SYMBOL);
	if ((dlerr = dlerror()) != NULL || entry == NULL) {
		snprintf(err, errlen, "%s: no %s symbol: not an ECCR plugin", path,
		    ECCR_PLUGIN_ENTRY_SYMBOL);
		eccr_plugin_close(pi);
		return NULL;
	}
	if (check_descriptor(pi, entry(), err, errlen) != 0) {
		eccr_plugin_close(pi);
		return NULL;
	}
	host_init(pi);
	return pi;
}

struct eccr_plugin_instance *eccr_plugin_open(const char *path, char *err, size_t errlen)
{
	const char *base = strrchr(path, '/');
	char name[65];
	size_t n;

	base = base ? base + 1 : path;
	n = strcspn(base, ".");
	snprintf(name, sizeof name, "%.*s", (int)(n < 64 ? n : 64), base);
	return open_path(name, path, err, errlen);
}

static bool parse_bool(const char *v)
{
	static const char *const ok[] = { "true", "false", "yes", "no", "on", "off", "1", "0", NULL };
	int i;

	for (i = 0; ok[i] != NULL; i++)
		if (strcasecmp(v, ok[i]) == 0)
			return true;
	return false;
}

/* Every key of [plugin.NAME] must be "events" or a declared option. */
static int validate_section(struct eccr_plugin_instance *pi, char *err, size_t errlen)
{
	const struct eccr_plugin_section *s = pi->section;
	const char *cfgname = pi->cfg && pi->cfg->path ? pi->cfg->path : "configuration";
	size_t i;

	for (i = 0; s != NULL && i < s->nkv; i++) {
		const struct eccr_config_kv *kv = &s->kv[i];
		const struct eccr_plugin_option *o;
		int64_t n;

		if (strcmp(kv->key, "events") == 0)
			continue;
		if ((o = find_option(&pi->desc, kv->key)) == NULL)
			return snprintf(err, errlen, "%s:%d: plugin %s has no key \"%s\"", cfgname,
			    kv->line, pi->name, kv->key), -1;
		if (o->type == ECCR_OPT_INT && !eccr_parse_i64(kv->value, o->min, o->max, &n))
			return snprintf(err, errlen, "%s:%d: plugin.%s.%s: expected an integer %lld..%lld",
			    cfgname, kv->line, pi->name, kv->key, o->min, o->max), -1;
		if (o->type == ECCR_OPT_BOOL && !parse_bool(kv->value))
			return snprintf(err, errlen, "%s:%d: plugin.%s.%s: expected true or false",
			    cfgname, kv->line, pi->name, kv->key), -1;
	}
	return 0;
}

/* "episode_*, job_completed" -> globs; default "*". */
static int parse_globs(struct eccr_plugin_instance *pi, char *err, size_t errlen)
{
	const char *v = host_config(&pi->host, "events"), *p;

	if (v == NULL)
		v = "*";
	for (p = v; *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, ", ");
		if (pi->nglobs == ECCR_PLUGIN_GLOBS_MAX)
			return snprintf(err, errlen, "plugin %s: events lists more than %d patterns",
			    pi->name, ECCR_PLUGIN_GLOBS_MAX), -1;
		if ((pi->globs[pi->nglobs++] = strndup(p, n)) == NULL)
			return snprintf(err, errlen, "out of memory"), -1;
		p += n;
	}
	return 0;
}

bool eccr_plugin_wants(const struct eccr_plugin_instance *pi, const char *type)
{
	size_t i;

	for (i = 0; i < pi->nglobs; i++)
		if (fnmatch(pi->globs[i], type, 0) == 0)
			return true;
	return false;
}

/* Instance name of plugin file; a second instance of one file shares the
 * file's globals (dlopen loads it once), so plugins keep their state in
 * what init returns (eccr-plugin(7)). */
static int load_one(struct eccr_plugins *ps, const struct eccr_config *cfg,
    const char *name, const char *file, char *err, size_t errlen)
{
	struct eccr_plugin_instance *pi;
	char path[4096];
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i]->name, name) == 0)
			return snprintf(err, errlen, "plugins.load names %s twice", name), -1;
	if (ps->n == ECCR_PLUGIN_MAX)
		return snprintf(err, errlen, "plugins.load names more than %d plugins",
		    ECCR_PLUGIN_MAX), -1;
	/* The file comes from the operator's list, never from a request, and
	 * the name was checked to hold no '/' or "..". */
	snprintf(path, sizeof path, "%s/%s.so", cfg->plugins.dir, file);
	if ((pi = open_path(name, path, err, errlen)) == NULL)
		return -1;
	ps->v[ps->n++] = pi;
	pi->cfg = cfg;
	pi->section = eccr_config_plugin(cfg, name);
	if (validate_section(pi, err, errlen) != 0 || parse_globs(pi, err, errlen) != 0)
		return -1;
	if (pi->desc.init(&pi->host, &pi->state) != 0)
		return snprintf(err, errlen, "plugin %s (%s): init failed (see the messages above)",
		    name, path), -1;
	pi->initialised = true;
	eccr_info("plugin %s loaded: %s %s, %s, ABI %u.%u", pi->name, pi->desc.name,
	    pi->desc.version, eccr_plugin_kind_name(pi->desc.kind), pi->desc.abi_major,
	    pi->desc.abi_minor);
	return 0;
}

int eccr_plugins_load(struct eccr_plugins *ps, const struct eccr_config *cfg,
    char *err, size_t errlen)
{
	const char *p = cfg->plugins.load ? cfg->plugins.load : "";
	char name[65], file[65];
	size_t n;

	memset(ps, 0, sizeof *ps);
	for (; eccr_plugin_entry_next(&p, &n) != NULL; p += n) {
		if (!eccr_plugin_entry_parse(p, n, name, file)) {
			snprintf(err, errlen, "plugins.load: \"%.*s\" is not NAME or NAME=PLUGIN "
			    "(a-z, 0-9, '-' and '_')", (int)(n < 130 ? n : 130), p);
			eccr_plugins_unload(ps);
			return -1;
		}
		if (load_one(ps, cfg, name, file, err, errlen) != 0) {
			eccr_plugins_unload(ps);
			return -1;
		}
	}
	return 0;
}

bool eccr_plugins_has_sinks(const struct eccr_plugins *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i]->desc.kind == ECCR_PLUGIN_SINK)
			return true;
	return false;
}

void eccr_plugin_close(struct eccr_plugin_instance *pi)
{
	size_t i;

	if (pi == NULL)
		return;
	if (pi->initialised && pi->desc.fini != NULL)
		pi->desc.fini(pi->state);
	for (i = 0; i < pi->nglobs; i++)
		free(pi->globs[i]);
	if (pi->dl != NULL)
		dlclose(pi->dl);
	free(pi);
}

void eccr_plugins_unload(struct eccr_plugins *ps)
{
	while (ps->n > 0)
		eccr_plugin_close(ps->v[--ps->n]);
}

bool eccr_plugin_healthy(const struct eccr_plugin_instance *pi)
{
	char *out = NULL;
	int rc;

	if (pi->desc.query == NULL)
		return true;
	rc = pi->desc.query(pi->state, "health", "{}", &out);
	free(out);
	return rc != ECCR_QUERY_UNAVAILABLE;
}

int eccr_plugins_query(const struct eccr_plugins *ps, const char *what,
    const char *args_json, char **out_json)
{
	size_t i;

	*out_json = NULL;
	for (i = 0; i < ps->n; i++) {
		const struct eccr_plugin_instance *pi = ps->v[i];
		int rc;

		if (pi->desc.query == NULL)
			continue;
		rc = pi->desc.query(pi->state, what, args_json, out_json);
		if (rc != ECCR_QUERY_NOT_MINE)
			return rc;
		free(*out_json);
		*out_json = NULL;
	}
	return ECCR_QUERY_NOT_MINE;
}
