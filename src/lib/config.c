/* config.c - eccr.conf: one schema table, parsed with libinih.
 *
 * The schema below is the single source of truth for every core key: its
 * type, default, bounds and where it lands in struct eccr_config.  The
 * reference file etc/eccr.conf and eccr.conf(5) document the same table.
 * libinih gives us no line numbers (Debian builds it without
 * INI_HANDLER_LINENO) and silently truncates long lines, so we feed it
 * through our own reader that counts lines and refuses overlong ones. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <ini.h>

#include "config.h"
#include "util.h"

#ifndef ECCR_SYSCONFDIR
#define ECCR_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef ECCR_PLUGIN_DIR
#define ECCR_PLUGIN_DIR "/usr/local/lib/eccr/plugins"
#endif

#define SECRET_MAX (64 * 1024)
#define PLUGIN_NAME_MAX 64

enum key_type { K_STR, K_OPTSTR, K_INT, K_I64, K_BOOL, K_ENUM };

struct enum_name {
	const char *name;
	int value;
};

typedef const char *(*validator)(const char *value);

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;
	const char *def;              /* default, as text (NULL: unset) */
	int64_t min, max;             /* K_INT, K_I64 */
	const struct enum_name *names; /* K_ENUM, NULL-terminated */
	validator check;              /* extra check on the text, or NULL */
};

static const struct enum_name auth_modes[] = {
	{ "jwt", ECCR_AUTH_JWT }, { "remote_user", ECCR_AUTH_REMOTE_USER }, { NULL, 0 } };
static const struct enum_name log_targets[] = {
	{ "stderr", ECCR_LOG_STDERR }, { "syslog", ECCR_LOG_SYSLOG }, { NULL, 0 } };
static const struct enum_name log_levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING }, { "error", LOG_ERR }, { NULL, 0 } };
static const struct enum_name backends[] = {
	{ "local", ECCR_STORAGE_LOCAL }, { "s3", ECCR_STORAGE_S3 }, { NULL, 0 } };
static const struct enum_name sendfiles[] = {
	{ "none", ECCR_SENDFILE_NONE }, { "x-sendfile", ECCR_SENDFILE_X_SENDFILE },
	{ "x-lighttpd-send-file", ECCR_SENDFILE_X_LIGHTTPD },
	{ "x-accel-redirect", ECCR_SENDFILE_X_ACCEL }, { NULL, 0 } };

static const char *check_url_path(const char *v);
static const char *check_public_url(const char *v);
static const char *check_algorithms(const char *v);
static const char *check_host_port(const char *v);

#define OFF(f) offsetof(struct eccr_config, f)
#define STR(s, k, f, d, c) { s, k, K_STR, OFF(f), d, 0, 0, NULL, c }
#define OPT(s, k, f) { s, k, K_OPTSTR, OFF(f), NULL, 0, 0, NULL, NULL }
#define INT(s, k, f, d, lo, hi) { s, k, K_INT, OFF(f), d, lo, hi, NULL, NULL }
#define I64(s, k, f, d, lo, hi) { s, k, K_I64, OFF(f), d, lo, hi, NULL, NULL }
#define BOOL(s, k, f, d) { s, k, K_BOOL, OFF(f), d, 0, 0, NULL, NULL }
#define ENUM(s, k, f, d, n) { s, k, K_ENUM, OFF(f), d, 0, 0, n, NULL }

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define DEFAULT_NOTIFY_TYPES "episode_created,episode_updated,episode_deleted," \
	"file_uploaded,file_deleted,job_completed,job_failed"

static const struct key schema[] = {
	STR("database", "conninfo", database.conninfo, "", NULL),

	STR("server", "base_path", server.base_path, "/api/v1", check_url_path),
	STR("server", "mount_path", server.mount_path, "", check_url_path),
	INT("server", "threads", server.threads, "4", 1, 256),
	I64("server", "max_body_bytes", server.max_body_bytes, "1048576", KIB, GIB),
	STR("server", "public_url", server.public_url, "http://127.0.0.1:8080", check_public_url),
	STR("server", "listen", server.listen, "", NULL),

	ENUM("auth", "mode", auth.mode, "jwt", auth_modes),
	OPT("auth", "jwt_secret_file", auth.jwt_secret_file),
	OPT("auth", "jwt_public_key_file", auth.jwt_public_key_file),
	STR("auth", "jwt_algorithms", auth.jwt_algorithms, "HS256", check_algorithms),
	INT("auth", "leeway_s", auth.leeway_s, "60", 0, 3600),
	OPT("auth", "issuer", auth.issuer),
	OPT("auth", "audience", auth.audience),
	OPT("auth", "roles_file", auth.roles_file),

	ENUM("log", "target", log.target, "stderr", log_targets),
	ENUM("log", "level", log.level, "info", log_levels),
	STR("log", "ident", log.ident, "eccr", NULL),

	ENUM("storage", "backend", storage.backend, "local", backends),
	STR("storage", "local_root", storage.local_root, "/var/lib/eccr/files", NULL),
	OPT("storage", "url_secret_file", storage.url_secret_file),
	I64("storage", "max_upload_bytes", storage.max_upload_bytes, "5368709120", KIB, 5 * 1024 * GIB),
	ENUM("storage", "sendfile", storage.sendfile, "none", sendfiles),
	OPT("storage", "s3_endpoint", storage.s3_endpoint),
	OPT("storage", "s3_region", storage.s3_region),
	OPT("storage", "s3_bucket", storage.s3_bucket),
	OPT("storage", "s3_access_key_id", storage.s3_access_key_id),
	OPT("storage", "s3_secret_key_file", storage.s3_secret_key_file),
	BOOL("storage", "s3_path_style", storage.s3_path_style, "true"),

	STR("plugins", "dir", plugins.dir, ECCR_PLUGIN_DIR, NULL),
	STR("plugins", "load", plugins.load, "", NULL),

	INT("outbox", "grace_ms", outbox.grace_ms, "5000", 0, 3600000),
	INT("outbox", "max_attempts", outbox.max_attempts, "10", 1, 1000),
	INT("outbox", "retry_base_ms", outbox.retry_base_ms, "1000", 1, 3600000),
	INT("outbox", "retry_max_ms", outbox.retry_max_ms, "300000", 1, 86400000),

	INT("worker", "max_concurrent", worker.max_concurrent, "4", 1, 1024),
	INT("worker", "poll_interval_ms", worker.poll_interval_ms, "1000", 10, 3600000),
	INT("worker", "lease_s", worker.lease_s, "30", 1, 86400),
	INT("worker", "retry_base_ms", worker.retry_base_ms, "1000", 1, 3600000),
	INT("worker", "retry_max_ms", worker.retry_max_ms, "300000", 1, 86400000),

	STR("wsd", "listen", wsd.listen, "127.0.0.1:3002", check_host_port),
	STR("wsd", "channel", wsd.channel, "eccr_events", NULL),
	INT("wsd", "max_clients", wsd.max_clients, "10000", 1, 1000000),
	I64("wsd", "send_queue_bytes", wsd.send_queue_bytes, "1048576", KIB, GIB),

	STR("notifications", "types", notifications.types, DEFAULT_NOTIFY_TYPES, NULL),

	BOOL("metrics", "public", metrics.public_, "false"),
};
#define NKEYS (sizeof schema / sizeof schema[0])

/* Secrets named by *_file keys, read after parsing. */
static const struct {
	size_t file_off, content_off, len_off;
	const char *key;
	bool pem;             /* keep as is; secrets lose one trailing newline */
} secret_files[] = {
	{ OFF(auth.jwt_secret_file), OFF(auth.jwt_secret), OFF(auth.jwt_secret_len),
	  "auth.jwt_secret_file", false },
	{ OFF(auth.jwt_public_key_file), OFF(auth.jwt_public_key), OFF(auth.jwt_public_key_len),
	  "auth.jwt_public_key_file", true },
	{ OFF(storage.url_secret_file), OFF(storage.url_secret), OFF(storage.url_secret_len),
	  "storage.url_secret_file", false },
	{ OFF(storage.s3_secret_key_file), OFF(storage.s3_secret_key), 0,
	  "storage.s3_secret_key_file", false },
};

/* ------------------------------------------------------------ validators */

static const char *check_url_path(const char *v)
{
	if (v[0] == '\0')
		return NULL;
	if (v[0] != '/' || v[strlen(v) - 1] == '/')
		return "must be empty or start with '/' and not end with '/'";
	if (strstr(v, "..") || strpbrk(v, "?#%; \t") || strstr(v, "//"))
		return "must be a plain path without '..', '//', '?', '#', '%' or spaces";
	return NULL;
}

static const char *check_public_url(const char *v)
{
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
		return "must start with http:// or https://";
	if (v[strlen(v) - 1] == '/')
		return "must not end with '/'";
	return NULL;
}

static const char *const known_algs[] = {
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", NULL  /* libjwt 1.10 has no PS* */
};

static const char *check_algorithms(const char *v)
{
	const char *p = v;
	int count = 0;

	while (*p != '\0') {
		size_t n;
		int i;

		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, ", ");
		if (n == 4 && strncasecmp(p, "none", 4) == 0)
			return "\"none\" is never accepted: unsigned tokens would let anyone in";
		for (i = 0; known_algs[i] != NULL; i++)
			if (strlen(known_algs[i]) == n && strncmp(known_algs[i], p, n) == 0)
				break;
		if (known_algs[i] == NULL)
			return "must be a comma list of HS256, HS384, HS512, RS256, RS384, "
			    "RS512, ES256, ES384, ES512";
		count++;
		p += n;
	}
	return count == 0 ? "must name at least one algorithm" : NULL;
}

static const char *check_host_port(const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;

	if (colon == NULL || colon == v || !eccr_parse_i64(colon + 1, 1, 65535, &port))
		return "must be ADDRESS:PORT";
	return NULL;
}

/* ------------------------------------------------------------ values */

struct parse_ctx {
	struct eccr_config *cfg;
	const char *name;       /* file name for messages */
	char *err;
	size_t errlen;
	bool failed;
	int lineno;
	int section_line;       /* line of the last [section] header */
	bool too_long;
	FILE *f;                /* file source, or */
	const char *text;       /* string source */
	bool seen[NKEYS];
	struct eccr_plugin_section *plugin; /* current [plugin.NAME], or NULL */
	char plugin_for[INI_MAX_LINE];      /* the inih section it belongs to */
};

static void fail(struct parse_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	c->failed = true;
	n = snprintf(c->err, c->errlen, "%s:%d: ", c->name, c->lineno);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	return false;
}

static void enum_list(const struct enum_name *names, char *out, size_t outlen)
{
	size_t used = 0;
	int i, n;

	out[0] = '\0';
	for (i = 0; names[i].name != NULL; i++) {
		n = snprintf(out + used, outlen - used, "%s%s", i ? "|" : "", names[i].name);
		if (n < 0 || (size_t)n >= outlen - used)
			return;
		used += (size_t)n;
	}
}

/* Store text v into the field of k.  Returns NULL or why v is bad. */
static const char *set_value(struct eccr_config *cfg, const struct key *k, const char *v,
    char *why, size_t whylen)
{
	char *field = (char *)cfg + k->off;
	int64_t n;
	bool b;
	int i;

	switch (k->type) {
	case K_STR:
	case K_OPTSTR: {
		char **s = (char **)field, *copy = NULL;
		const char *bad;

		if (k->check != NULL && (bad = k->check(v)) != NULL)
			return bad;
		if (eccr_utf8_len(v, strlen(v)) < 0 || eccr_has_control(v, strlen(v)))
			return "must be UTF-8 text without control characters";
		if (!(k->type == K_OPTSTR && v[0] == '\0') && (copy = strdup(v)) == NULL)
			return "out of memory";
		free(*s);
		*s = copy;
		return NULL;
	}
	case K_INT:
	case K_I64:
		if (!eccr_parse_i64(v, k->min, k->max, &n)) {
			snprintf(why, whylen, "expected an integer %lld..%lld, got \"%.40s\"",
			    (long long)k->min, (long long)k->max, v);
			return why;
		}
		if (k->type == K_INT)
			*(int *)field = (int)n;
		else
			*(int64_t *)field = n;
		return NULL;
	case K_BOOL:
		if (!parse_bool(v, &b)) {
			snprintf(why, whylen, "expected true or false, got \"%.40s\"", v);
			return why;
		}
		*(bool *)field = b;
		return NULL;
	case K_ENUM:
		for (i = 0; k->names[i].name != NULL; i++)
			if (strcmp(v, k->names[i].name) == 0) {
				*(int *)field = k->names[i].value;
				return NULL;
			}
		{
			char list[160];

			enum_list(k->names, list, sizeof list);
			snprintf(why, whylen, "expected one of %s, got \"%.40s\"", list, v);
		}
		return why;
	}
	return "unknown key type";
}

static const struct key *find_key(const char *section, const char *name, bool *section_known)
{
	size_t i;

	*section_known = false;
	for (i = 0; i < NKEYS; i++) {
		if (strcmp(schema[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(schema[i].name, name) == 0)
			return &schema[i];
	}
	return NULL;
}

/* ------------------------------------------------------------ plugin sections */

static bool plugin_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > PLUGIN_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static struct eccr_plugin_section *plugin_section(struct parse_ctx *c, const char *section)
{
	struct eccr_config *cfg = c->cfg;
	struct eccr_plugin_section *ps;
	const char *name = section + 7;
	size_t i;

	/* inih calls us per key; a new header line means a new section even
	 * when it repeats a name, which we refuse. */
	if (c->plugin != NULL && strcmp(c->plugin_for, section) == 0 &&
	    c->plugin->line == c->section_line)
		return c->plugin;
	if (!plugin_name_valid(name)) {
		fail(c, "[%.80s]: plugin names are 1 to %d characters of a-z, 0-9, '-' and '_'",
		    section, PLUGIN_NAME_MAX);
		return NULL;
	}
	for (i = 0; i < cfg->nplugin_sections; i++)
		if (strcmp(cfg->plugin_sections[i].name, name) == 0) {
			fail(c, "duplicate section [%s]", section);
			return NULL;
		}
	ps = realloc(cfg->plugin_sections, (cfg->nplugin_sections + 1) * sizeof *ps);
	if (ps == NULL) {
		fail(c, "out of memory");
		return NULL;
	}
	cfg->plugin_sections = ps;
	ps = &cfg->plugin_sections[cfg->nplugin_sections];
	memset(ps, 0, sizeof *ps);
	if ((ps->name = strdup(name)) == NULL) {
		fail(c, "out of memory");
		return NULL;
	}
	ps->line = c->section_line;
	cfg->nplugin_sections++;
	c->plugin = ps;
	snprintf(c->plugin_for, sizeof c->plugin_for, "%s", section);
	return ps;
}

static int plugin_key(struct parse_ctx *c, const char *section, const char *name, const char *value)
{
	struct eccr_plugin_section *ps = plugin_section(c, section);
	struct eccr_config_kv *kv;
	size_t i;

	if (ps == NULL)
		return 0;
	for (i = 0; i < ps->nkv; i++)
		if (strcmp(ps->kv[i].key, name) == 0) {
			fail(c, "[%s] %s: duplicate key (first set on line %d)", section, name,
			    ps->kv[i].line);
			return 0;
		}
	if ((kv = realloc(ps->kv, (ps->nkv + 1) * sizeof *kv)) == NULL) {
		fail(c, "out of memory");
		return 0;
	}
	ps->kv = kv;
	kv = &ps->kv[ps->nkv];
	kv->key = strdup(name);
	kv->value = strdup(value);
	kv->line = c->lineno;
	if (kv->key == NULL || kv->value == NULL) {
		free(kv->key);
		free(kv->value);
		fail(c, "out of memory");
		return 0;
	}
	ps->nkv++;
	return 1;
}

/* ------------------------------------------------------------ parsing */

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	const struct key *k;
	const char *bad;
	bool known;
	char why[256];

	if (c->failed)
		return 0;
	if (strncmp(section, "plugin.", 7) == 0)
		return plugin_key(c, section, name, value);
	if ((k = find_key(section, name, &known)) == NULL) {
		if (known)
			fail(c, "unknown key \"%.60s\" in section [%s]", name, section);
		else
			fail(c, "unknown section [%.60s]", section);
		return 0;
	}
	if (c->seen[k - schema]) {
		fail(c, "%s.%s: duplicate key", section, name);
		return 0;
	}
	c->seen[k - schema] = true;
	if ((bad = set_value(c->cfg, k, value, why, sizeof why)) != NULL) {
		fail(c, "%s.%s: %s", section, name, bad);
		return 0;
	}
	return 1;
}

/* fgets-like reader for inih that counts lines and refuses lines inih
 * would truncate. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	size_t n;

	if (c->failed || c->too_long)
		return NULL;
	if (c->f != NULL) {
		if (fgets(str, num, c->f) == NULL)
			return NULL;
		n = strlen(str);
		c->lineno++;
		if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(c->f)) {
			c->too_long = true;
			return NULL;
		}
	} else {
		if (*c->text == '\0')
			return NULL;
		n = strcspn(c->text, "\n");
		c->lineno++;
		if (n + 1 > (size_t)num - 1) {
			c->too_long = true;
			return NULL;
		}
		memcpy(str, c->text, n);
		str[n] = '\0';
		c->text += n + (c->text[n] == '\n');
	}
	if (str[strspn(str, " \t")] == '[')
		c->section_line = c->lineno;
	return str;
}

/* Relative *_file paths are taken relative to the configuration file. */
static char *resolve_path(const char *cfgpath, const char *file)
{
	const char *slash = cfgpath ? strrchr(cfgpath, '/') : NULL;
	char *out;

	if (file[0] == '/' || slash == NULL)
		return strdup(file);
	if (asprintf(&out, "%.*s/%s", (int)(slash - cfgpath), cfgpath, file) < 0)
		return NULL;
	return out;
}

static int load_secrets(struct eccr_config *cfg, const char *cfgpath, const char *name,
    char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < sizeof secret_files / sizeof secret_files[0]; i++) {
		char *file = *(char **)((char *)cfg + secret_files[i].file_off);
		char **content = (char **)((char *)cfg + secret_files[i].content_off);
		char *path, *data = NULL;
		size_t len = 0;
		int e;

		free(*content);
		*content = NULL;
		if (file == NULL)
			continue;
		if ((path = resolve_path(cfgpath, file)) == NULL)
			return snprintf(err, errlen, "%s: out of memory", name), -1;
		e = eccr_read_file(path, SECRET_MAX, &data, &len);
		if (e != 0) {
			snprintf(err, errlen, "%s: %s: cannot read %s: %s", name,
			    secret_files[i].key, path, e == EFBIG ? "larger than 64 KiB" : strerror(e));
			free(path);
			return -1;
		}
		free(path);
		if (!secret_files[i].pem) {
			if (len > 0 && data[len - 1] == '\n')
				data[--len] = '\0';
			if (len > 0 && data[len - 1] == '\r')
				data[--len] = '\0';
		}
		if (len == 0) {
			snprintf(err, errlen, "%s: %s: %s is empty", name, secret_files[i].key, file);
			free(data);
			return -1;
		}
		*content = data;
		if (secret_files[i].len_off != 0)
			*(size_t *)((char *)cfg + secret_files[i].len_off) = len;
	}
	return 0;
}

static int parse(struct eccr_config *cfg, struct parse_ctx *c)
{
	int rc;

	rc = ini_parse_stream(read_line, c, on_key, c);
	if (c->failed)
		return -1;
	if (c->too_long) {
		fail(c, "line longer than %d bytes", INI_MAX_LINE - 2);
		return -1;
	}
	if (rc > 0) {
		c->lineno = rc;
		fail(c, "syntax error: expected [section], key = value, or a comment");
		return -1;
	}
	if (rc < 0) {
		fail(c, "out of memory");
		return -1;
	}
	return load_secrets(cfg, c->f ? cfg->path : NULL, c->name, c->err, c->errlen);
}

/* ------------------------------------------------------------ public */

int eccr_config_defaults(struct eccr_config *cfg)
{
	char why[256];
	size_t i;

	memset(cfg, 0, sizeof *cfg);
	for (i = 0; i < NKEYS; i++) {
		if (schema[i].def == NULL)
			continue;
		if (set_value(cfg, &schema[i], schema[i].def, why, sizeof why) != NULL) {
			eccr_config_free(cfg);
			return -1;
		}
	}
	return 0;
}

int eccr_config_load(struct eccr_config *cfg, const char *path, char *err, size_t errlen)
{
	struct parse_ctx *c;
	int rc;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return snprintf(err, errlen, "%s: out of memory", path), -1;
	c->cfg = cfg;
	c->name = path;
	c->err = err;
	c->errlen = errlen;
	if ((c->f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		free(c);
		return -1;
	}
	free(cfg->path);
	cfg->path = strdup(path);
	rc = cfg->path ? parse(cfg, c) : -1;
	fclose(c->f);
	free(c);
	return rc;
}

int eccr_config_load_string(struct eccr_config *cfg, const char *name,
    const char *text, char *err, size_t errlen)
{
	struct parse_ctx *c;
	int rc;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return snprintf(err, errlen, "%s: out of memory", name), -1;
	c->cfg = cfg;
	c->name = name;
	c->err = err;
	c->errlen = errlen;
	c->text = text;
	rc = parse(cfg, c);
	free(c);
	return rc;
}

const char *eccr_config_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL && explicit_path[0] != '\0')
		return explicit_path;
	if ((env = getenv("ECCR_CONFIG")) != NULL && env[0] != '\0')
		return env;
	return ECCR_SYSCONFDIR "/eccr/eccr.conf";
}

const struct eccr_plugin_section *eccr_config_plugin(const struct eccr_config *cfg,
    const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nplugin_sections; i++)
		if (strcmp(cfg->plugin_sections[i].name, name) == 0)
			return &cfg->plugin_sections[i];
	return NULL;
}

static bool alg_family_listed(const char *algs, char family)
{
	const char *p;

	for (p = algs; (p = strpbrk(p, "HREP")) != NULL; p++)
		if ((p == algs || p[-1] == ',' || p[-1] == ' ') &&
		    (family == 'H' ? *p == 'H' : *p != 'H'))
			return true;
	return false;
}

int eccr_config_check_auth(const struct eccr_config *cfg, char *err, size_t errlen)
{
	const char *name = cfg->path ? cfg->path : "configuration";

	if (cfg->auth.mode == ECCR_AUTH_REMOTE_USER) {
		if (cfg->auth.roles_file == NULL)
			return snprintf(err, errlen, "%s: auth.mode = remote_user needs auth.roles_file",
			    name), -1;
		return 0;
	}
	if (alg_family_listed(cfg->auth.jwt_algorithms, 'H')) {
		if (cfg->auth.jwt_secret == NULL)
			return snprintf(err, errlen, "%s: auth.jwt_algorithms has an HS* algorithm: "
			    "set auth.jwt_secret_file", name), -1;
		if (cfg->auth.jwt_secret_len < 32)
			return snprintf(err, errlen, "%s: auth.jwt_secret_file: the secret is %zu bytes, "
			    "at least 32 are required", name, cfg->auth.jwt_secret_len), -1;
	}
	if (alg_family_listed(cfg->auth.jwt_algorithms, 'R') && cfg->auth.jwt_public_key == NULL)
		return snprintf(err, errlen, "%s: auth.jwt_algorithms has an RS* or ES* algorithm: "
		    "set auth.jwt_public_key_file", name), -1;
	return 0;
}

void eccr_config_free(struct eccr_config *cfg)
{
	size_t i, j;

	for (i = 0; i < NKEYS; i++)
		if (schema[i].type == K_STR || schema[i].type == K_OPTSTR)
			free(*(char **)((char *)cfg + schema[i].off));
	for (i = 0; i < sizeof secret_files / sizeof secret_files[0]; i++)
		free(*(char **)((char *)cfg + secret_files[i].content_off));
	for (i = 0; i < cfg->nplugin_sections; i++) {
		for (j = 0; j < cfg->plugin_sections[i].nkv; j++) {
			free(cfg->plugin_sections[i].kv[j].key);
			free(cfg->plugin_sections[i].kv[j].value);
		}
		free(cfg->plugin_sections[i].kv);
		free(cfg->plugin_sections[i].name);
	}
	free(cfg->plugin_sections);
	free(cfg->path);
	memset(cfg, 0, sizeof *cfg);
}
