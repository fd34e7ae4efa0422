/* config.h - the eccr.conf reader shared by every ECCR program.
 *
 * The file is INI, parsed by libinih.  Every key the core knows is declared
 * in one schema table (config.c) with its type, default, bounds and a line
 * of documentation; an unknown section or key, or a value that does not
 * validate, makes eccr_config_load() fail with "FILE:LINE: reason".
 * [plugin.NAME] sections are kept as raw key/value lists: the plugin that
 * owns the section declares and validates its own keys when it is loaded.
 */
#ifndef ECCR_CONFIG_H
#define ECCR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ECCR_CONFIG_ERRLEN 512

enum eccr_auth_mode { ECCR_AUTH_JWT, ECCR_AUTH_REMOTE_USER };
enum eccr_log_target { ECCR_LOG_STDERR, ECCR_LOG_SYSLOG };
enum eccr_storage_backend { ECCR_STORAGE_LOCAL, ECCR_STORAGE_S3 };
enum eccr_sendfile {
	ECCR_SENDFILE_NONE,
	ECCR_SENDFILE_X_SENDFILE,
	ECCR_SENDFILE_X_LIGHTTPD,
	ECCR_SENDFILE_X_ACCEL
};

/* One key = value line of a [plugin.NAME] section, in file order. */
struct eccr_config_kv {
	char *key;
	char *value;
	int line;
};

struct eccr_plugin_section {
	char *name;                 /* NAME of [plugin.NAME] */
	int line;                   /* line of the section header */
	struct eccr_config_kv *kv;
	size_t nkv;
};

struct eccr_config {
	char *path;                 /* the file that was read */

	struct {
		char *conninfo;         /* default "" (libpq defaults / PG* env) */
	} database;

	struct {
		char *base_path;        /* default "/api/v1" */
		char *mount_path;       /* default "" : /health, /metrics live under it */
		int threads;            /* default 4, 1..256 */
		int64_t max_body_bytes; /* default 1048576, 1 KiB..1 GiB */
		char *public_url;       /* default "http://127.0.0.1:8080" */
		char *listen;           /* default "" : FastCGI socket from the web server (fd 0) */
		int idempotency_ttl_s;  /* default 86400, 1..2592000 (30 days) */
	} server;

	struct {
		enum eccr_auth_mode mode;   /* default jwt */
		char *jwt_secret;           /* contents of jwt_secret_file, trailing newline stripped; NULL if unset */
		size_t jwt_secret_len;
		char *jwt_secret_file;
		char *jwt_public_key;       /* contents (PEM) of jwt_public_key_file; NULL if unset */
		size_t jwt_public_key_len;
		char *jwt_public_key_file;
		char *jwt_algorithms;       /* default "HS256", comma list of HS256..ES512 (no PS*: libjwt 1.10) */
		int leeway_s;               /* default 60, 0..3600 */
		char *issuer;               /* default NULL: not checked */
		char *audience;             /* default NULL: not checked */
		char *roles_file;           /* default NULL */
	} auth;

	struct {
		enum eccr_log_target target; /* default stderr */
		int level;                   /* syslog priority, default LOG_INFO; names debug|info|notice|warning|error */
		char *ident;                 /* default "": the program's name */
	} log;

	struct {
		enum eccr_storage_backend backend; /* default local */
		char *local_root;           /* default "/var/lib/eccr/files" */
		char *url_secret_file;
		char *url_secret;           /* contents, NULL if unset */
		size_t url_secret_len;
		int64_t max_upload_bytes;   /* default 5 GiB */
		enum eccr_sendfile sendfile; /* default none */
		char *allowed_types;        /* default ECCR_ALLOWED_TYPES_DEFAULT (content_rules.h) */
		char *s3_endpoint, *s3_region, *s3_bucket, *s3_access_key_id;
		char *s3_secret_key_file;
		char *s3_secret_key;        /* contents, NULL if unset */
		bool s3_path_style;         /* default true */
	} storage;

	struct {
		char *dir;                  /* default $(pkglibdir)/plugins */
		char *load;                 /* default "" : comma list */
	} plugins;

	struct {
		int grace_ms;               /* default 5000 */
		int max_attempts;           /* default 10 */
		int retry_base_ms;          /* default 1000 */
		int retry_max_ms;           /* default 300000 */
		int dispatch_threads;       /* default 2, 1..8; start-up only */
	} outbox;

	struct {
		int max_concurrent;         /* default 4 */
		int poll_interval_ms;       /* default 1000 */
		int lease_s;                /* default 30 */
		int retry_base_ms;          /* default 1000 */
		int retry_max_ms;           /* default 300000 */
	} worker;

	struct {
		char *listen;               /* default "127.0.0.1:3002" */
		char *channel;              /* default "eccr_events" */
		int max_clients;            /* default 10000 */
		int64_t send_queue_bytes;   /* default 1048576 */
	} wsd;

	struct {
		char *types;                /* default: the notifiable types of API.md */
	} notifications;

	struct {
		bool public_;               /* key "public", default false */
		char *dir;                  /* default "/run/eccr/metrics" */
	} metrics;

	struct eccr_plugin_section *plugin_sections;
	size_t nplugin_sections;
};

/* Read a run-time tunable (outbox.*, worker.*) that another thread may
 * change on SIGHUP (eccr-worker's reload stores them atomically). */
#define ECCR_TUNABLE(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* Fill *cfg with every default.  Never fails except on allocation (-1). */
int eccr_config_defaults(struct eccr_config *cfg);

/* Read PATH over the defaults.  On error returns -1 and writes
 * "PATH:LINE: reason" (or "PATH: reason") into err.  Loading again over a
 * loaded struct replaces what the new file sets (a [plugin.NAME] section
 * it repeats is replaced whole); on error *cfg is partly updated but still
 * owns only valid memory: free it.  The *_file fields (and roles_file)
 * hold the path resolved against the directory of PATH, and the four
 * secret files are read into their content fields before this returns. */
int eccr_config_load(struct eccr_config *cfg, const char *path,
    char *err, size_t errlen);

/* Same, from a string (unit tests).  name is used in messages and stored
 * in cfg->path; relative *_file paths stay relative to the cwd. */
int eccr_config_load_string(struct eccr_config *cfg, const char *name,
    const char *text, char *err, size_t errlen);

/* The file to read: explicit (-c), else $ECCR_CONFIG, else the built-in
 * $(sysconfdir)/eccr/eccr.conf. */
const char *eccr_config_path(const char *explicit_path);

/* plugins.load, an entry at a time: the next entry after *p (separators
 * skipped; *p is moved to it and *n set to its length), or NULL at the
 * end.  Then parse it: "NAME" is plugin NAME as instance NAME, and
 * "NAME=PLUGIN" plugin PLUGIN again as instance NAME, with [plugin.NAME]
 * its section; false when a name is not 1..64 of a-z, 0-9, '-', '_'. */
const char *eccr_plugin_entry_next(const char **p, size_t *n);
bool eccr_plugin_entry_parse(const char *p, size_t n, char instance[65], char plugin[65]);

/* The [plugin.NAME] section, or NULL. */
const struct eccr_plugin_section *eccr_config_plugin(
    const struct eccr_config *cfg, const char *name);

/* Check that the [auth] section is usable by a server: jwt mode needs a
 * secret or public key matching auth.jwt_algorithms, remote_user mode
 * needs roles_file.  eccrctl skips this (it may run before keys exist).
 * Returns 0, or -1 with "PATH: reason" in err. */
int eccr_config_check_auth(const struct eccr_config *cfg, char *err, size_t errlen);

void eccr_config_free(struct eccr_config *cfg);

#endif
