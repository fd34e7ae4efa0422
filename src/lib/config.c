/* config.c - eccr.conf: one schema table, parsed with libinih.
 *
 * The schema below is the single source of truth for every core key: its
 * type, default, bounds and where it lands in struct eccr_config.  The
 * reference file etc/eccr.conf and eccr.conf(5) document the same table.
 *
 * libinih (Debian 55) hands the handler no line number, silently truncates
 * lines longer than INI_MAX_LINE, section names longer than 49 bytes and
 * key names longer than 49 bytes, and reads indented lines as continuations
 * of the previous value.  So the whole file is read into memory and fed to
 * inih through our own line reader, which counts lines and checks each one
 * first: inih only ever sees lines it will parse faithfully.
 *
 * No global state: everything lives in a parse_ctx on the caller's stack,
 * so loading is thread-safe (strerror_r, never strerror). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* asprintf, GNU strerror_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "content_rules.h"
#include "event_types.h"
#include "util.h"

#ifndef ECCR_SYSCONFDIR
#define ECCR_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef ECCR_PLUGIN_DIR
#define ECCR_PLUGIN_DIR "/usr/local/lib/eccr/plugins"
#endif

#define CONF_MAX (1024 * 1024)  /* a bigger eccr.conf is a mistake */
#define SECRET_MAX (64 * 1024)
#define PLUGIN_NAME_MAX 64
#define INIH_NAME_MAX 49        /* inih's MAX_NAME - 1: longer keys get cut */
#define SECTION_MAX 80          /* core sections are short; plugin ones <= 71 */

enum key_type {
	K_STR,          /* string, always set */
	K_OPTSTR,       /* string, NULL when empty */
	K_PATH,         /* like K_OPTSTR, relative paths resolved against the file's dir */
	K_INT,
	K_I64,
	K_BOOL,
	K_ENUM
};

struct enum_name {
	const char *name;
	int value;
};

typedef const char *(*validator)(const char *value);

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;                     /* into struct eccr_config */
	const char *def;                /* default, as text (NULL: unset) */
	int64_t min, max;               /* K_INT, K_I64 */
	const struct enum_name *names;  /* K_ENUM, NULL-terminated */
	validator check;                /* extra check on the text, or NULL */
	const char *doc;                /* one line, for readers of this table */
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
static const char *check_plugin_list(const char *v);
static const char *check_notify_types(const char *v);
static const char *check_allowed_types(const char *v);

#define OFF(f) offsetof(struct eccr_config, f)
#define STR(s, k, f, d, c, doc) { s, k, K_STR, OFF(f), d, 0, 0, NULL, c, doc }
#define OPT(s, k, f, doc) { s, k, K_OPTSTR, OFF(f), NULL, 0, 0, NULL, NULL, doc }
#define PATH(s, k, f, doc) { s, k, K_PATH, OFF(f), NULL, 0, 0, NULL, NULL, doc }
#define INT(s, k, f, d, lo, hi, doc) { s, k, K_INT, OFF(f), d, lo, hi, NULL, NULL, doc }
#define I64(s, k, f, d, lo, hi, doc) { s, k, K_I64, OFF(f), d, lo, hi, NULL, NULL, doc }
#define BOOL(s, k, f, d, doc) { s, k, K_BOOL, OFF(f), d, 0, 0, NULL, NULL, doc }
#define ENUM(s, k, f, d, n, doc) { s, k, K_ENUM, OFF(f), d, 0, 0, n, NULL, doc }

#define KIB 1024LL
#define GIB (1024LL * 1024 * 1024)
/* The notifiable event types of API.md ("Notifications"). */
#define DEFAULT_NOTIFY_TYPES "episode_created,episode_deleted,file_uploaded," \
	"file_deleted,job_created,job_failed,job_completed"

static const struct key schema[] = {
	STR("database", "conninfo", database.conninfo, "", NULL,
	    "libpq connection string or URI; empty: libpq defaults and PG* variables"),

	STR("server", "base_path", server.base_path, "/api/v1", check_url_path,
	    "prefix of every API path"),
	STR("server", "mount_path", server.mount_path, "", check_url_path,
	    "where the application is mounted; /health and /metrics live under it"),
	INT("server", "threads", server.threads, "4", 1, 256,
	    "request threads per eccr-fcgi process"),
	I64("server", "max_body_bytes", server.max_body_bytes, "1048576", KIB, GIB,
	    "largest JSON request body"),
	STR("server", "public_url", server.public_url, "http://127.0.0.1:8080", check_public_url,
	    "URL clients reach the service at; links in e-mails are built from it"),
	STR("server", "listen", server.listen, "", NULL,
	    "socket to listen on instead of the FastCGI socket on fd 0"),
	INT("server", "idempotency_ttl_s", server.idempotency_ttl_s, "86400", 1, 2592000,
	    "how long the answer of a POST with an Idempotency-Key is kept for replay"),

	ENUM("auth", "mode", auth.mode, "jwt", auth_modes,
	    "jwt: bearer tokens; remote_user: trust the web server's REMOTE_USER"),
	PATH("auth", "jwt_secret_file", auth.jwt_secret_file,
	    "file holding the HMAC secret of HS* tokens"),
	PATH("auth", "jwt_public_key_file", auth.jwt_public_key_file,
	    "file holding the PEM public key of RS* and ES* tokens"),
	STR("auth", "jwt_algorithms", auth.jwt_algorithms, "HS256", check_algorithms,
	    "accepted token algorithms, comma-separated"),
	INT("auth", "leeway_s", auth.leeway_s, "60", 0, 3600,
	    "clock skew tolerated on exp, nbf and iat"),
	OPT("auth", "issuer", auth.issuer, "required iss claim; unset: not checked"),
	OPT("auth", "audience", auth.audience, "required aud claim; unset: not checked"),
	PATH("auth", "roles_file", auth.roles_file,
	    "remote_user mode: file of USERNAME ROLE lines"),

	ENUM("log", "target", log.target, "stderr", log_targets, "stderr or syslog"),
	ENUM("log", "level", log.level, "info", log_levels, "least important level logged"),
	STR("log", "ident", log.ident, "", NULL,
	    "name in syslog and stderr lines; empty: the program's (eccr-fcgi, ...)"),

	ENUM("storage", "backend", storage.backend, "local", backends, "local or s3"),
	STR("storage", "local_root", storage.local_root, "/var/lib/eccr/files", NULL,
	    "root directory of the local backend"),
	PATH("storage", "url_secret_file", storage.url_secret_file,
	    "file holding the key that signs upload and download URLs"),
	I64("storage", "max_upload_bytes", storage.max_upload_bytes, "5368709120",
	    KIB, 5 * 1024 * GIB, "largest upload"),
	ENUM("storage", "sendfile", storage.sendfile, "none", sendfiles,
	    "header letting the web server send file content"),
	STR("storage", "allowed_types", storage.allowed_types, ECCR_ALLOWED_TYPES_DEFAULT,
	    check_allowed_types, "MIME type globs an upload may declare (image/svg+xml only by name)"),
	OPT("storage", "s3_endpoint", storage.s3_endpoint, "S3-compatible endpoint URL"),
	OPT("storage", "s3_region", storage.s3_region, "S3 region"),
	OPT("storage", "s3_bucket", storage.s3_bucket, "S3 bucket"),
	OPT("storage", "s3_access_key_id", storage.s3_access_key_id, "S3 access key id"),
	PATH("storage", "s3_secret_key_file", storage.s3_secret_key_file,
	    "file holding the S3 secret access key"),
	BOOL("storage", "s3_path_style", storage.s3_path_style, "true",
	    "path-style (true) or virtual-hosted-style (false) bucket addressing"),

	STR("plugins", "dir", plugins.dir, ECCR_PLUGIN_DIR, NULL,
	    "directory plugins are loaded from"),
	STR("plugins", "load", plugins.load, "", check_plugin_list,
	    "plugins to load, comma-separated, in order"),

	INT("outbox", "grace_ms", outbox.grace_ms, "5000", 0, 3600000,
	    "age after which eccr-worker delivers an event the writer did not"),
	INT("outbox", "max_attempts", outbox.max_attempts, "10", 1, 1000,
	    "delivery attempts per sink before a delivery is dead"),
	INT("outbox", "retry_base_ms", outbox.retry_base_ms, "1000", 1, 3600000,
	    "first retry delay"),
	INT("outbox", "retry_max_ms", outbox.retry_max_ms, "300000", 1, 86400000,
	    "longest retry delay"),
	INT("outbox", "dispatch_threads", outbox.dispatch_threads, "2", 1, 8,
	    "threads per process delivering fresh events to the sinks"),

	INT("worker", "max_concurrent", worker.max_concurrent, "4", 1, 1024,
	    "jobs run at once by one eccr-worker"),
	INT("worker", "poll_interval_ms", worker.poll_interval_ms, "1000", 10, 3600000,
	    "polling fallback when no notification arrives"),
	INT("worker", "lease_s", worker.lease_s, "30", 1, 86400,
	    "lease of a running job, renewed by heartbeat"),
	INT("worker", "retry_base_ms", worker.retry_base_ms, "1000", 1, 3600000,
	    "first job retry delay"),
	INT("worker", "retry_max_ms", worker.retry_max_ms, "300000", 1, 86400000,
	    "longest job retry delay"),

	STR("wsd", "listen", wsd.listen, "127.0.0.1:3002", check_host_port,
	    "ADDRESS:PORT eccr-wsd listens on"),
	STR("wsd", "channel", wsd.channel, "eccr_events", NULL,
	    "PostgreSQL NOTIFY channel carrying events"),
	INT("wsd", "max_clients", wsd.max_clients, "10000", 1, 1000000,
	    "most WebSocket clients at once"),
	I64("wsd", "send_queue_bytes", wsd.send_queue_bytes, "1048576", KIB, GIB,
	    "bytes queued per client before it is dropped"),

	STR("notifications", "types", notifications.types, DEFAULT_NOTIFY_TYPES, check_notify_types,
	    "event types that notify watchers, comma-separated"),

	BOOL("metrics", "public", metrics.public_, "false",
	    "serve /metrics without authentication"),
	STR("metrics", "dir", metrics.dir, "/run/eccr/metrics", NULL,
	    "directory of the per-process counter files /metrics adds up"),
};
#define NKEYS (sizeof schema / sizeof schema[0])

/* Secrets named by *_file keys, read after parsing. */
static const struct secret_file {
	size_t file_off, content_off, len_off;  /* len_off 0: no length field */
	const char *key;
	bool pem;             /* kept as is; secrets lose one trailing newline */
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
#define NSECRETS (sizeof secret_files / sizeof secret_files[0])

/* K_ENUM stores through an int *. */
_Static_assert(sizeof(enum eccr_auth_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eccr_log_target) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eccr_storage_backend) == sizeof(int), "enum size");
_Static_assert(sizeof(enum eccr_sendfile) == sizeof(int), "enum size");

#define FIELD(cfg, off, type) ((type *)(void *)((char *)(cfg) + (off)))

/* ------------------------------------------------------------ helpers */

static bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	/* strtoll would also take leading spaces and '+'; we do not. */
	if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && min < 0)))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Read a whole file of at most max bytes; returns 0 or an errno value
 * (EFBIG when it is bigger).  *out is NUL-terminated. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *p;
	ssize_t r;
	int fd, e = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	for (;;) {
		if (buf == NULL || n == cap) {
			if (buf != NULL)
				cap *= 2;
			if ((p = realloc(buf, cap + 1)) == NULL) {
				e = ENOMEM;
				break;
			}
			buf = p;
		}
		if ((r = read(fd, buf + n, cap - n)) < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			e = EFBIG;
			break;
		}
	}
	close(fd);
	if (e != 0) {
		free(buf);
		return e;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static const char *errstr(int e, char *buf, size_t len)
{
	if (e == EFBIG)
		return "file too large";
	return strerror_r(e, buf, len);
}

/* ------------------------------------------------------------ validators */

static const char *check_url_path(const char *v)
{
	if (v[0] == '\0')
		return NULL;
	if (v[0] != '/' || v[strlen(v) - 1] == '/')
		return "must be empty, or start with '/' and not end with '/'";
	if (strstr(v, "..") || strstr(v, "//") || strpbrk(v, "?#%; \t"))
		return "must be a plain path without '..', '//', '?', '#', '%', ';' or spaces";
	return NULL;
}

static const char *check_public_url(const char *v)
{
	size_t skip;

	if (strncmp(v, "http://", 7) == 0)
		skip = 7;
	else if (strncmp(v, "https://", 8) == 0)
		skip = 8;
	else
		return "must start with http:// or https://";
	if (v[skip] == '\0' || v[skip] == '/')
		return "must name a host after the scheme";
	if (v[strlen(v) - 1] == '/')
		return "must not end with '/'";
	if (strpbrk(v, " \t?#"))
		return "must not contain spaces, '?' or '#'";
	return NULL;
}

static const char *const known_algs[] = {
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", NULL
};

/* Length of the next item of a comma list (spaces allowed around items),
 * with *p moved to its start; 0 at the end. */
static size_t next_item(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == ',')
		(*p)++;
	return strcspn(*p, ", \t");
}

static bool item_is(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncmp(p, word, n) == 0;
}

static const char *check_algorithms(const char *v)
{
	const char *p = v;
	size_t n;
	int count = 0, i;

	while ((n = next_item(&p)) > 0) {
		if (n == 4 && strncasecmp(p, "none", 4) == 0)
			return "\"none\" is never accepted: unsigned tokens would let anyone in";
		if (n == 5 && strncmp(p, "PS", 2) == 0)
			return "PS256, PS384 and PS512 are not supported "
			    "(libjwt 1.10 cannot verify RSASSA-PSS)";
		for (i = 0; known_algs[i] != NULL; i++)
			if (item_is(p, n, known_algs[i]))
				break;
		if (known_algs[i] == NULL)
			return "expected a comma list of HS256, HS384, HS512, RS256, RS384, "
			    "RS512, ES256, ES384, ES512";
		count++;
		p += n;
	}
	return count == 0 ? "must name at least one algorithm" : NULL;
}

static const char *check_allowed_types(const char *v)
{
	return eccr_type_globs_invalid(v);
}

static const char *check_host_port(const char *v)
{
	const char *colon = strrchr(v, ':');
	int64_t port;

	if (colon == NULL || colon == v || !parse_i64(colon + 1, 1, 65535, &port))
		return "expected ADDRESS:PORT";
	return NULL;
}

static bool plugin_name_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > PLUGIN_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

bool eccr_plugin_entry_parse(const char *p, size_t n, char instance[65], char plugin[65])
{
	const char *eq = memchr(p, '=', n);
	size_t in = eq ? (size_t)(eq - p) : n, pn = eq ? n - in - 1 : n;
	const char *pp = eq ? eq + 1 : p;

	if (!plugin_name_valid(p, in) || !plugin_name_valid(pp, pn))
		return false;
	snprintf(instance, 65, "%.*s", (int)in, p);
	snprintf(plugin, 65, "%.*s", (int)pn, pp);
	return true;
}

const char *eccr_plugin_entry_next(const char **p, size_t *n)
{
	*n = next_item(p);
	return *n > 0 ? *p : NULL;
}

static const char *check_plugin_list(const char *v)
{
	const char *p = v;
	char instance[65], plugin[65];
	size_t n;

	while (eccr_plugin_entry_next(&p, &n) != NULL) {
		if (!eccr_plugin_entry_parse(p, n, instance, plugin))
			return "expected a comma list of plugin names (a-z, 0-9, '-', '_'), "
			    "each NAME or NAME=PLUGIN (another instance of PLUGIN, named NAME)";
		p += n;
	}
	return NULL;
}

/* Event type names as the trigger of migration 0005 stores them; a
 * notification about a notification would never end. */
static const char *check_notify_types(const char *v)
{
	const char *p = v;
	size_t n, i;

	while ((n = next_item(&p)) > 0) {
		if (n > 64)
			return "an event type is at most 64 characters";
		for (i = 0; i < n; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
			    p[i] == '_'))
				return "expected a comma list of event types (a-z, 0-9, '_')";
		if (item_is(p, n, "notification_created"))
			return "notification_created cannot itself be notifiable";
		/* A misspelt type would never notify anyone, silently. */
		if (!eccr_event_type_notifiable(p, n))
			return "not an event type that can notify (see the event table in the API"
			       " reference; transient events never notify)";
		p += n;
	}
	return NULL;
}

/* ------------------------------------------------------------ values */

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1", NULL };
	static const char *const no[] = { "false", "no", "off", "0", NULL };
	int i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, true;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, true;
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

/* A relative path in the file is relative to the file's directory
 * (basedir, NULL: the current directory). */
static char *resolve_path(const char *basedir, const char *file)
{
	char *out;

	if (file[0] == '/' || basedir == NULL)
		return strdup(file);
	if (asprintf(&out, "%s/%s", basedir, file) < 0)
		return NULL;
	return out;
}

static const char *set_string(char **field, const struct key *k, const char *v,
    const char *basedir)
{
	const char *bad;
	char *copy = NULL;

	if (has_control(v))
		return "must not contain control characters";
	if (k->check != NULL && (bad = k->check(v)) != NULL)
		return bad;
	if (k->type == K_STR || v[0] != '\0') {
		copy = k->type == K_PATH ? resolve_path(basedir, v) : strdup(v);
		if (copy == NULL)
			return "out of memory";
	}
	free(*field);
	*field = copy;
	return NULL;
}

/* Store text v into the field of k.  Returns NULL, or why v is bad (a
 * constant, or why[] filled in). */
static const char *set_value(struct eccr_config *cfg, const struct key *k, const char *v,
    const char *basedir, char *why, size_t whylen)
{
	int64_t n;
	bool b;
	int i;
	char list[160];

	switch (k->type) {
	case K_STR:
	case K_OPTSTR:
	case K_PATH:
		return set_string(FIELD(cfg, k->off, char *), k, v, basedir);
	case K_INT:
	case K_I64:
		if (!parse_i64(v, k->min, k->max, &n)) {
			snprintf(why, whylen, "expected an integer %lld..%lld, got \"%.40s\"",
			    (long long)k->min, (long long)k->max, v);
			return why;
		}
		if (k->type == K_INT)
			*FIELD(cfg, k->off, int) = (int)n;
		else
			*FIELD(cfg, k->off, int64_t) = n;
		return NULL;
	case K_BOOL:
		if (!parse_bool(v, &b)) {
			snprintf(why, whylen, "expected true, false, yes, no, on, off, 1 or 0, "
			    "got \"%.40s\"", v);
			return why;
		}
		*FIELD(cfg, k->off, bool) = b;
		return NULL;
	case K_ENUM:
		for (i = 0; k->names[i].name != NULL; i++)
			if (strcmp(v, k->names[i].name) == 0) {
				/* Every enum field (and log.level) is int-sized. */
				*FIELD(cfg, k->off, int) = k->names[i].value;
				return NULL;
			}
		enum_list(k->names, list, sizeof list);
		snprintf(why, whylen, "expected one of %s, got \"%.40s\"", list, v);
		return why;
	}
	return "unknown key type";
}

static bool is_core_section(const char *section)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(schema[i].section, section) == 0)
			return true;
	return false;
}

static const struct key *find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].name, name) == 0)
			return &schema[i];
	return NULL;
}

/* ------------------------------------------------------------ parse state */

enum in_section { IN_NONE, IN_CORE, IN_PLUGIN };

struct parse_ctx {
	struct eccr_config *cfg;
	const char *name;       /* file name for messages */
	const char *basedir;    /* for relative *_file paths; NULL: cwd */
	const char *text;       /* what is left to read */
	char *err;
	size_t errlen;
	bool failed;
	int lineno;
	enum in_section in;
	char section[SECTION_MAX];  /* IN_CORE: its name */
	size_t plugin;              /* IN_PLUGIN: index into cfg->plugin_sections */
	size_t first_plugin;        /* plugin sections before this load */
	bool seen[NKEYS];
};

static void fail(struct parse_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record the first error only: later ones are often its consequences. */
static void fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->failed)
		return;
	c->failed = true;
	if (c->err == NULL || c->errlen == 0)
		return;
	n = snprintf(c->err, c->errlen, "%s:%d: ", c->name, c->lineno);
	if (n < 0 || (size_t)n >= c->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ plugin sections */

static void clear_plugin_section(struct eccr_plugin_section *ps)
{
	size_t i;

	for (i = 0; i < ps->nkv; i++) {
		free(ps->kv[i].key);
		free(ps->kv[i].value);
	}
	free(ps->kv);
	ps->kv = NULL;
	ps->nkv = 0;
}

/* Find or make [plugin.NAME].  A section read by an earlier load into the
 * same struct is replaced; one repeated within this file is an error,
 * because merging would hide a copy-paste mistake. */
static int enter_plugin(struct parse_ctx *c, const char *name, size_t n)
{
	struct eccr_config *cfg = c->cfg;
	struct eccr_plugin_section *ps;
	size_t i;

	if (!plugin_name_valid(name, n)) {
		fail(c, "[plugin.%.*s]: plugin names are 1 to %d characters of a-z, 0-9, "
		    "'-' and '_'", (int)(n > 80 ? 80 : n), name, PLUGIN_NAME_MAX);
		return -1;
	}
	for (i = 0; i < cfg->nplugin_sections; i++) {
		ps = &cfg->plugin_sections[i];
		if (strlen(ps->name) != n || strncmp(ps->name, name, n) != 0)
			continue;
		if (i >= c->first_plugin) {
			fail(c, "duplicate section [plugin.%s] (first on line %d)", ps->name,
			    ps->line);
			return -1;
		}
		clear_plugin_section(ps);
		ps->line = c->lineno;
		c->plugin = i;
		return 0;
	}
	ps = realloc(cfg->plugin_sections, (cfg->nplugin_sections + 1) * sizeof *ps);
	if (ps == NULL)
		return fail(c, "out of memory"), -1;
	cfg->plugin_sections = ps;
	ps = &cfg->plugin_sections[cfg->nplugin_sections];
	memset(ps, 0, sizeof *ps);
	if ((ps->name = strndup(name, n)) == NULL)
		return fail(c, "out of memory"), -1;
	ps->line = c->lineno;
	c->plugin = cfg->nplugin_sections++;
	return 0;
}

static int plugin_key(struct parse_ctx *c, const char *name, const char *value)
{
	struct eccr_plugin_section *ps = &c->cfg->plugin_sections[c->plugin];
	struct eccr_config_kv *kv;
	size_t i;

	for (i = 0; i < ps->nkv; i++)
		if (strcmp(ps->kv[i].key, name) == 0) {
			fail(c, "[plugin.%s] %s: duplicate key (first set on line %d)", ps->name,
			    name, ps->kv[i].line);
			return 0;
		}
	if ((kv = realloc(ps->kv, (ps->nkv + 1) * sizeof *kv)) == NULL)
		return fail(c, "out of memory"), 0;
	ps->kv = kv;
	kv = &ps->kv[ps->nkv];
	kv->key = strdup(name);
	kv->value = strdup(value);
	kv->line = c->lineno;
	if (kv->key == NULL || kv->value == NULL) {
		free(kv->key);
		free(kv->value);
		return fail(c, "out of memory"), 0;
	}
	ps->nkv++;
	return 1;
}

/* ------------------------------------------------------------ lines */

static int enter_section(struct parse_ctx *c, const char *name, size_t n)
{
	if (n > 7 && strncmp(name, "plugin.", 7) == 0) {
		c->in = IN_PLUGIN;
		return enter_plugin(c, name + 7, n - 7);
	}
	if (n >= sizeof c->section)
		n = sizeof c->section - 1;
	memcpy(c->section, name, n);
	c->section[n] = '\0';
	if (!is_core_section(c->section)) {
		fail(c, "unknown section [%s]", c->section);
		return -1;
	}
	c->in = IN_CORE;
	return 0;
}

/* Look at a line before inih does, for what inih would get wrong. */
static int check_line(struct parse_ctx *c, const char *line)
{
	const char *start = line, *p, *end;
	size_t n;

	if (c->lineno == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;     /* inih skips a UTF-8 BOM */
	p = start + strspn(start, " \t");
	if (*p == '\0' || *p == '\r' || *p == ';' || *p == '#')
		return 0;
	if (*p == '[') {
		if ((end = strchr(p, ']')) == NULL)
			return fail(c, "syntax error: section header without ']'"), -1;
		return enter_section(c, p + 1, (size_t)(end - p - 1));
	}
	if (p != start)
		return fail(c, "indented line: inih would read it as the continuation "
		    "of the previous value; remove the indentation"), -1;
	n = strcspn(p, "=:");
	if (p[n] == '\0')
		return fail(c, "syntax error: expected [section], key = value, or a comment"), -1;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n > INIH_NAME_MAX)
		return fail(c, "key name longer than %d bytes", INIH_NAME_MAX), -1;
	return 0;
}

/* fgets-like reader for inih: counts lines and refuses a line inih would
 * truncate (its buffer must hold the line, "\r\n" and a NUL). */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	size_t n, max = num > 3 ? (size_t)num - 3 : 0;

	if (c->failed || *c->text == '\0')
		return NULL;
	n = strcspn(c->text, "\n");
	c->lineno++;
	if (n > 0 && c->text[n - 1] == '\r')
		n--;
	if (n > max) {
		fail(c, "line too long (more than %zu bytes)", max);
		return NULL;
	}
	memcpy(str, c->text, n);
	str[n] = '\0';
	c->text += strcspn(c->text, "\n");
	if (*c->text == '\n')
		c->text++;
	return check_line(c, str) == 0 ? str : NULL;
}

/* plugins.load again: its instances follow those of the lines before.
 * A list longer than a line (INI_MAX_LINE) is written over several. */
static int load_more(struct parse_ctx *c, const struct key *k, const char *value)
{
	const char *before = *FIELD(c->cfg, k->off, char *), *bad;
	char why[256], *joined;

	if (asprintf(&joined, "%s%s%s", before, *before && *value ? ", " : "", value) < 0)
		return fail(c, "out of memory"), 0;
	bad = set_value(c->cfg, k, joined, c->basedir, why, sizeof why);
	free(joined);
	if (bad != NULL)
		return fail(c, "%s.%s: %s", k->section, k->name, bad), 0;
	return 1;
}

/* inih's section and key arguments are cut at 49 bytes; check_line made
 * sure keys fit, and the section is taken from our own state. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	const struct key *k;
	const char *bad;
	char why[256];

	(void)section;
	if (c->failed)
		return 0;
	if (c->in == IN_NONE)
		return fail(c, "\"%.60s\" is outside any [section]", name), 0;
	if (c->in == IN_PLUGIN)
		return plugin_key(c, name, value);
	if ((k = find_key(c->section, name)) == NULL)
		return fail(c, "unknown key \"%.60s\" in section [%s]", name, c->section), 0;
	if (c->seen[k - schema] && k->off == OFF(plugins.load))
		return load_more(c, k, value);
	if (c->seen[k - schema])
		return fail(c, "%s.%s: duplicate key", k->section, k->name), 0;
	c->seen[k - schema] = true;
	if ((bad = set_value(c->cfg, k, value, c->basedir, why, sizeof why)) != NULL)
		return fail(c, "%s.%s: %s", k->section, k->name, bad), 0;
	return 1;
}

/* ------------------------------------------------------------ after parsing */

static int load_secret(struct eccr_config *cfg, const struct secret_file *s,
    char *err, size_t errlen)
{
	const char *file = *FIELD(cfg, s->file_off, char *);
	char **content = FIELD(cfg, s->content_off, char *);
	char *data = NULL, ebuf[128];
	size_t len = 0;
	int e;

	free(*content);
	*content = NULL;
	if (s->len_off != 0)
		*FIELD(cfg, s->len_off, size_t) = 0;
	if (file == NULL)
		return 0;
	if ((e = read_file(file, SECRET_MAX, &data, &len)) != 0) {
		eccr_seterr(err, errlen, "%s: %s: cannot read %s: %s", cfg->path, s->key, file,
		    errstr(e, ebuf, sizeof ebuf));
		return -1;
	}
	/* Secrets are usually written with echo, whose newline is no part
	 * of them; a PEM key is parsed by OpenSSL and keeps its newline. */
	if (!s->pem && len > 0 && data[len - 1] == '\n') {
		data[--len] = '\0';
		if (len > 0 && data[len - 1] == '\r')
			data[--len] = '\0';
	}
	if (len == 0) {
		eccr_seterr(err, errlen, "%s: %s: %s is empty", cfg->path, s->key, file);
		free(data);
		return -1;
	}
	*content = data;
	if (s->len_off != 0)
		*FIELD(cfg, s->len_off, size_t) = len;
	return 0;
}

static int check_retry(const struct eccr_config *cfg, const char *section, int base,
    int max, char *err, size_t errlen)
{
	if (max >= base)
		return 0;
	eccr_seterr(err, errlen, "%s: %s.retry_max_ms (%d) is less than %s.retry_base_ms (%d)",
	    cfg->path, section, max, section, base);
	return -1;
}

static int finish(struct eccr_config *cfg, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < NSECRETS; i++)
		if (load_secret(cfg, &secret_files[i], err, errlen) != 0)
			return -1;
	if (check_retry(cfg, "outbox", cfg->outbox.retry_base_ms, cfg->outbox.retry_max_ms,
	    err, errlen) != 0)
		return -1;
	return check_retry(cfg, "worker", cfg->worker.retry_base_ms, cfg->worker.retry_max_ms,
	    err, errlen);
}

static int parse(struct eccr_config *cfg, const char *name, const char *basedir,
    const char *text, char *err, size_t errlen)
{
	struct parse_ctx c;
	int rc;

	memset(&c, 0, sizeof c);
	c.cfg = cfg;
	c.name = name;
	c.basedir = basedir;
	c.text = text;
	c.err = err;
	c.errlen = errlen;
	c.first_plugin = cfg->nplugin_sections;
	rc = ini_parse_stream(read_line, &c, on_key, &c);
	if (c.failed)
		return -1;
	if (rc != 0) {
		/* check_line leaves inih nothing to refuse; just in case. */
		if (rc > 0)
			c.lineno = rc;
		fail(&c, rc > 0 ? "syntax error" : "out of memory");
		return -1;
	}
	return finish(cfg, err, errlen);
}

static int set_path(struct eccr_config *cfg, const char *name, char *err, size_t errlen)
{
	char *copy = strdup(name);

	if (copy == NULL) {
		eccr_seterr(err, errlen, "%s: out of memory", name);
		return -1;
	}
	free(cfg->path);
	cfg->path = copy;
	return 0;
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
		if (set_value(cfg, &schema[i], schema[i].def, NULL, why, sizeof why) != NULL) {
			eccr_config_free(cfg);
			return -1;
		}
	}
	return 0;
}

int eccr_config_load(struct eccr_config *cfg, const char *path,
    char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *text = NULL, *dir = NULL, ebuf[128];
	size_t len;
	int e, rc;

	if ((e = read_file(path, CONF_MAX, &text, &len)) != 0) {
		eccr_seterr(err, errlen, "%s: cannot read: %s", path, errstr(e, ebuf, sizeof ebuf));
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		eccr_seterr(err, errlen, "%s: not a text file (contains a NUL byte)", path);
		free(text);
		return -1;
	}
	if (slash != NULL && (dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))) == NULL) {
		eccr_seterr(err, errlen, "%s: out of memory", path);
		free(text);
		return -1;
	}
	rc = set_path(cfg, path, err, errlen);
	if (rc == 0)
		rc = parse(cfg, path, dir, text, err, errlen);
	free(dir);
	free(text);
	return rc;
}

int eccr_config_load_string(struct eccr_config *cfg, const char *name,
    const char *text, char *err, size_t errlen)
{
	if (set_path(cfg, name, err, errlen) != 0)
		return -1;
	return parse(cfg, name, NULL, text, err, errlen);
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

const struct eccr_plugin_section *eccr_config_plugin(
    const struct eccr_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nplugin_sections; i++)
		if (strcmp(cfg->plugin_sections[i].name, name) == 0)
			return &cfg->plugin_sections[i];
	return NULL;
}

/* The HS* algorithm of auth.jwt_algorithms needing the longest key (RFC
 * 7518 3.2: at least the hash size), or NULL; *asym set when an RS* or
 * ES* algorithm is listed. */
static const char *strongest_hmac(const char *algs, size_t *need, bool *asym)
{
	const char *p = algs, *best = NULL;
	size_t n;

	*need = 0;
	*asym = false;
	while ((n = next_item(&p)) > 0) {
		if (n == 5 && p[0] == 'H') {
			size_t bytes = (size_t)atoi(p + 2) / 8;

			if (bytes > *need) {
				*need = bytes;
				best = p;
			}
		} else if (n == 5) {
			*asym = true;
		}
		p += n;
	}
	return best;
}

int eccr_config_check_auth(const struct eccr_config *cfg, char *err, size_t errlen)
{
	const char *name = cfg->path != NULL ? cfg->path : "eccr.conf";
	const char *hs;
	size_t need;
	bool asym;

	if (cfg->auth.mode == ECCR_AUTH_REMOTE_USER) {
		if (cfg->auth.roles_file != NULL)
			return 0;
		eccr_seterr(err, errlen, "%s: auth.mode = remote_user needs auth.roles_file", name);
		return -1;
	}
	hs = strongest_hmac(cfg->auth.jwt_algorithms ? cfg->auth.jwt_algorithms : "",
	    &need, &asym);
	if (hs != NULL && cfg->auth.jwt_secret == NULL) {
		eccr_seterr(err, errlen, "%s: auth.jwt_algorithms lists %.5s: set auth.jwt_secret_file",
		    name, hs);
		return -1;
	}
	if (hs != NULL && cfg->auth.jwt_secret_len < need) {
		eccr_seterr(err, errlen, "%s: auth.jwt_secret_file: secret is %zu bytes, at least %zu "
		    "are required for %.5s", name, cfg->auth.jwt_secret_len, need, hs);
		return -1;
	}
	if (asym && cfg->auth.jwt_public_key == NULL) {
		eccr_seterr(err, errlen, "%s: auth.jwt_algorithms lists an RS* or ES* algorithm: "
		    "set auth.jwt_public_key_file", name);
		return -1;
	}
	return 0;
}

void eccr_config_free(struct eccr_config *cfg)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (schema[i].type == K_STR || schema[i].type == K_OPTSTR ||
		    schema[i].type == K_PATH)
			free(*FIELD(cfg, schema[i].off, char *));
	for (i = 0; i < NSECRETS; i++)
		free(*FIELD(cfg, secret_files[i].content_off, char *));
	for (i = 0; i < cfg->nplugin_sections; i++) {
		clear_plugin_section(&cfg->plugin_sections[i]);
		free(cfg->plugin_sections[i].name);
	}
	free(cfg->plugin_sections);
	free(cfg->path);
	memset(cfg, 0, sizeof *cfg);
}
