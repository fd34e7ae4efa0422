/* eccr/plugin.h - the whole SDK for ECCR plugins.
 *
 * A plugin is a shared object in plugins.dir that exports one function,
 * eccr_plugin_entry(), returning a descriptor.  Build it with nothing but
 *
 *     cc -shared -fPIC $(pkg-config --cflags eccr-plugin) -o my-sink.so my-sink.c
 *
 * Plugins never link against the host: everything they may call is in the
 * struct eccr_host table handed to init().
 *
 * Versioning.  The descriptor starts with abi_major, abi_minor and
 * struct_size.  The host refuses a plugin whose abi_major differs from its
 * own and reads only min(struct_size, sizeof(struct eccr_plugin)) of the
 * descriptor, so a plugin built against an older minor keeps loading.  New
 * fields and host services are only ever appended; before calling a host
 * service added after ECCR_PLUGIN_ABI_MINOR 0, check it with
 * ECCR_HOST_HAS(host, member).
 *
 * Threads.  init() and fini() run once per instance on the host's main
 * thread before any other call and after the last one.  emit() and
 * emit_batch() of one instance are never called concurrently (the host
 * serializes them, though not always from the same thread), but
 * several processes (eccr-fcgi, eccr-worker) each run their own instance,
 * so a plugin's external effects must tolerate concurrency and repetition:
 * delivery is at least once, and the event id is the idempotency key.
 * query() may be called from several request threads at once: make it
 * thread-safe (e.g. a connection per call or a lock).  run() of job plugins
 * is called from up to worker.max_concurrent threads at once.
 *
 * Blocking.  emit() may block on I/O, but should bound every wait (connect
 * and I/O timeouts of a few seconds): a slow sink delays only the other
 * sinks of its dispatcher, never a request, and the outbox redelivers what
 * it did not take.  query() runs inside an HTTP request and should answer
 * within a second.
 *
 * Ownership.  Every pointer the host passes (events, jobs, configuration
 * strings, the host table itself) is borrowed: valid for the duration of
 * the call (the host table and configuration strings: until fini returns),
 * never to be freed or modified.  Strings a plugin returns through an out
 * parameter (query's *out_json, run's *result_json and *error) are
 * allocated with malloc() and owned by the host afterwards.
 *
 * Errors.  A plugin never calls exit(), abort() or anything that ends the
 * process, and never installs signal handlers: it shares the process with
 * requests in flight.  It returns a status and logs through host->log.
 */
#ifndef ECCR_PLUGIN_H
#define ECCR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ECCR_PLUGIN_ABI_MAJOR 1
#define ECCR_PLUGIN_ABI_MINOR 2

/* The one symbol a plugin exports. */
#define ECCR_PLUGIN_ENTRY_SYMBOL "eccr_plugin_entry"

#if defined(__GNUC__)
#define ECCR_PLUGIN_EXPORT __attribute__((visibility("default")))
#define ECCR_PLUGIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ECCR_PLUGIN_EXPORT
#define ECCR_PLUGIN_PRINTF(f, a)
#endif

enum eccr_plugin_kind {
	ECCR_PLUGIN_SINK = 1,   /* receives events: emit() */
	ECCR_PLUGIN_JOB = 2     /* runs jobs of one type: run() */
};

/* What emit() answers; the host owns the retry policy (backoff with
 * jitter, a cap, a limit, then "dead"). */
enum eccr_emit_result {
	ECCR_EMIT_OK = 0,       /* done (also: already done before) */
	ECCR_EMIT_RETRY = 1,    /* transient: try again later */
	ECCR_EMIT_FAIL = 2      /* permanent: retrying cannot help */
};

/* What query() answers. */
enum eccr_query_result {
	ECCR_QUERY_OK = 0,
	ECCR_QUERY_BAD_ARGS = 1,
	ECCR_QUERY_UNAVAILABLE = 2,
	ECCR_QUERY_NOT_MINE = 3
};

/* Log levels: the syslog(3) priorities. */
enum eccr_plugin_log_level {
	ECCR_PLUGIN_LOG_ERR = 3,
	ECCR_PLUGIN_LOG_WARNING = 4,
	ECCR_PLUGIN_LOG_NOTICE = 5,
	ECCR_PLUGIN_LOG_INFO = 6,
	ECCR_PLUGIN_LOG_DEBUG = 7
};

/* One event, as API.md's envelope, split into fields and as JSON text. */
struct eccr_event {
	uint32_t struct_size;      /* sizeof(struct eccr_event) of the host */
	int64_t id;                /* outbox id; 0 for transient events */
	const char *id_text;       /* id in decimal ("1042"); "" when transient */
	const char *type;          /* "episode_updated" */
	const char *occurred_at;   /* RFC 3339 UTC with milliseconds */
	const char *actor_id;      /* "alice", "system" */
	const char *actor_name;    /* "" when unknown */
	const char *resource_type; /* "episode", "job", "file", ... */
	const char *resource_id;
	const char *episode_id;    /* NULL when the event concerns no episode */
	const char *data_json;     /* the "data" object as JSON text */
	const char *json;          /* the whole envelope as JSON text */
	size_t json_len;
	int transient;             /* 1: not in the outbox, delivered at most once */
	int attempt;               /* 1 on the first delivery to this sink */
};

/* A job handed to a job plugin's run(). */
struct eccr_job {
	uint32_t struct_size;
	const char *id;            /* uuid */
	const char *type;
	const char *episode_id;    /* NULL when none */
	const char *payload_json;  /* the job's payload object as JSON text */
	int attempt;               /* 1 on the first run */
	int max_attempts;
};

struct eccr_host;

/* Services for a running job. */
struct eccr_job_ctx {
	uint32_t struct_size;
	void *opaque;              /* the host's; do not touch */
	/* Report progress 0..100 (stored, and sent as a transient event). */
	void (*progress)(const struct eccr_job_ctx *ctx, int percent);
	/* Non-zero once the job was cancelled or the worker is stopping:
	 * return ECCR_EMIT_FAIL soon after (the host records the cancel). */
	int (*cancelled)(const struct eccr_job_ctx *ctx);
};

/* The host's services, handed to init().  Valid until fini() returns. */
struct eccr_host {
	uint32_t struct_size;
	uint16_t abi_major, abi_minor;
	void *opaque;              /* the host's; do not touch */
	const char *instance;      /* the NAME of [plugin.NAME] */
	/* Log with the prefix "[plugin:NAME]"; thread-safe. */
	void (*log)(const struct eccr_host *host, int level, const char *fmt, ...)
	    ECCR_PLUGIN_PRINTF(3, 4);
	/* A key of this plugin's [plugin.NAME] section, or NULL when unset. */
	const char *(*config)(const struct eccr_host *host, const char *key);
	/* A core key as "section.key", or NULL.  Available: database.conninfo,
	 * server.public_url, server.base_path, wsd.channel,
	 * notifications.types, storage.backend, storage.local_root.  Secrets
	 * are not available. */
	const char *(*core_config)(const struct eccr_host *host, const char *key);
	/* Wall-clock and monotonic time in milliseconds. */
	int64_t (*now_ms)(const struct eccr_host *host);
	int64_t (*monotonic_ms)(const struct eccr_host *host);
	/* Read a whole file named by a *_file key of this plugin's section
	 * (relative paths resolved like the core's), at most 64 KiB, one
	 * trailing newline removed; malloc'd, or NULL with errno set. */
	char *(*read_secret)(const struct eccr_host *host, const char *key);
	/* Minor 1.  From emit(), before answering ECCR_EMIT_RETRY: try this
	 * event again no sooner than delay_ms from now, e.g. what an HTTP
	 * Retry-After asked (the host's own backoff still applies when it is
	 * longer; at most a day is honoured).  Ignored after OK or FAIL and
	 * outside emit().  Check ECCR_HOST_HAS(host, retry_after) first. */
	void (*retry_after)(const struct eccr_host *host, int64_t delay_ms);
};

/* The configuration keys a plugin accepts, declared by the plugin and
 * validated by the host before init(): an unknown key in [plugin.NAME], or
 * a value of the wrong type or out of range, stops start-up naming the
 * file and line.  host->config() returns the default for unset keys.  The
 * key "events" (a comma list of globs over event types, default "*") is
 * the host's and never appears here. */
enum eccr_option_type {
	ECCR_OPT_STRING = 1,
	ECCR_OPT_INT = 2,          /* decimal, within [min, max] */
	ECCR_OPT_BOOL = 3,         /* true/false/yes/no/on/off/1/0 */
	ECCR_OPT_FILE = 4          /* a path; read it with host->read_secret */
};

struct eccr_plugin_option {
	const char *key;           /* NULL ends the table */
	int type;                  /* enum eccr_option_type */
	const char *default_value; /* NULL: unset */
	long long min, max;        /* ECCR_OPT_INT */
	const char *description;
};

/* Is host service `member` present (added in a later minor)? */
#define ECCR_HOST_HAS(host, member) \
	((host)->struct_size >= offsetof(struct eccr_host, member) + sizeof((host)->member) && \
	 (host)->member != NULL)

/* The descriptor.  Keep it static and const. */
struct eccr_plugin {
	uint16_t abi_major;        /* ECCR_PLUGIN_ABI_MAJOR */
	uint16_t abi_minor;        /* ECCR_PLUGIN_ABI_MINOR */
	uint32_t struct_size;      /* sizeof(struct eccr_plugin) */
	const char *name;          /* "activity-pg" */
	const char *version;       /* the plugin's own version */
	const char *description;
	int kind;                  /* enum eccr_plugin_kind */
	const char *job_type;      /* ECCR_PLUGIN_JOB: the job type it runs */
	const struct eccr_plugin_option *options; /* may be NULL: no keys */
	/* Validate the configuration and set up; *state is passed to every
	 * other call.  Return 0, or -1 after logging why (start-up stops). */
	int (*init)(const struct eccr_host *host, void **state);
	/* Release everything; after the last emit/query/run. May be NULL. */
	void (*fini)(void *state);
	/* ECCR_PLUGIN_SINK: deliver one event; enum eccr_emit_result. */
	int (*emit)(void *state, const struct eccr_event *event);
	/* Optional: answer a read for the API ("activity.list", ...).  args is
	 * a JSON object.  Return ECCR_QUERY_OK with *out_json a malloc'd JSON
	 * text; ECCR_QUERY_BAD_ARGS with *out_json a malloc'd message for the
	 * client; ECCR_QUERY_UNAVAILABLE when the store is down;
	 * ECCR_QUERY_NOT_MINE when this plugin does not answer `what`.  Called
	 * from several threads at once.  May be NULL.
	 * what = "health" (args "{}") is asked of every plugin on each
	 * GET /health: answer ECCR_QUERY_OK when the service the plugin
	 * depends on is reachable, ECCR_QUERY_UNAVAILABLE when it is not
	 * (the process then reports itself degraded), NOT_MINE if the plugin
	 * has no such service.  Answer from what you already know or with a
	 * check bounded to ~100 ms; *out_json is ignored (and freed). */
	int (*query)(void *state, const char *what, const char *args_json, char **out_json);
	/* ECCR_PLUGIN_JOB: run one job.  Return ECCR_EMIT_OK with *result_json
	 * (malloc'd JSON object, may stay NULL), ECCR_EMIT_RETRY or
	 * ECCR_EMIT_FAIL with *error (malloc'd text, may stay NULL). */
	int (*run)(void *state, const struct eccr_job *job,
	    const struct eccr_job_ctx *ctx, char **result_json, char **error);
	/* ECCR_PLUGIN_SINK, optional (SDK minor 2; NULL: emit() one at a
	 * time): deliver events[0..n) together, in id order, and set
	 * results[i] to events[i]'s enum eccr_emit_result (one bad event need
	 * not fail the others).  The host calls it for the first delivery of
	 * the durable events it dispatches at once (n from 1 to a few
	 * hundred), with the same guarantees as emit(), which still gets
	 * redeliveries and transient events: a sink with emit_batch keeps its
	 * emit.  host->retry_after applies to every RETRY of the call. */
	void (*emit_batch)(void *state, const struct eccr_event *const *events, size_t n,
	    int *results);
};

/* Every plugin defines exactly this function (ECCR_PLUGIN_DECLARE_ENTRY
 * { return &descriptor; }); it is the only symbol a plugin exports. */
typedef const struct eccr_plugin *(*eccr_plugin_entry_fn)(void);
ECCR_PLUGIN_EXPORT const struct eccr_plugin *eccr_plugin_entry(void);

#define ECCR_PLUGIN_DECLARE_ENTRY \
	ECCR_PLUGIN_EXPORT const struct eccr_plugin *eccr_plugin_entry(void)

#ifdef __cplusplus
}
#endif

#endif
