/* Unit tests: src/lib/config.c (eccr.conf reader) and src/lib/log.c. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static struct eccr_config cfg;
static char err[ECCR_CONFIG_ERRLEN];
static char dir[64];

static void setup(void)
{
	cr_assert_eq(eccr_config_defaults(&cfg), 0);
	err[0] = '\0';
	dir[0] = '\0';
}

/* Remove what a test wrote into its temporary directory. */
static void rm_dir(void)
{
	char cmd[128];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

static void teardown(void)
{
	eccr_config_free(&cfg);
	rm_dir();
}

static int load(const char *text)
{
	return eccr_config_load_string(&cfg, "t.conf", text, err, sizeof err);
}

static void reset(void)
{
	eccr_config_free(&cfg);
	cr_assert_eq(eccr_config_defaults(&cfg), 0);
	err[0] = '\0';
}

static void make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/eccr-config-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

/* Write content into dir/name and return the full path (static buffer
 * rotation would be fragile, so the caller passes one). */
static void write_file(char *path, size_t pathlen, const char *name, const char *content)
{
	FILE *f;

	snprintf(path, pathlen, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(content, 1, strlen(content), f), strlen(content));
	cr_assert_eq(fclose(f), 0);
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
	cr_assert_null(cfg.path);
	cr_assert_str_eq(cfg.database.conninfo, "");
	cr_assert_str_eq(cfg.server.base_path, "/api/v1");
	cr_assert_str_eq(cfg.server.mount_path, "");
	cr_assert_eq(cfg.server.threads, 4);
	cr_assert_eq(cfg.server.max_body_bytes, 1048576);
	cr_assert_str_eq(cfg.server.public_url, "http://127.0.0.1:8080");
	cr_assert_str_eq(cfg.server.listen, "");
	cr_assert_eq(cfg.auth.mode, ECCR_AUTH_JWT);
	cr_assert_null(cfg.auth.jwt_secret);
	cr_assert_eq(cfg.auth.jwt_secret_len, 0);
	cr_assert_null(cfg.auth.jwt_secret_file);
	cr_assert_null(cfg.auth.jwt_public_key);
	cr_assert_null(cfg.auth.jwt_public_key_file);
	cr_assert_str_eq(cfg.auth.jwt_algorithms, "HS256");
	cr_assert_eq(cfg.auth.leeway_s, 60);
	cr_assert_null(cfg.auth.issuer);
	cr_assert_null(cfg.auth.audience);
	cr_assert_null(cfg.auth.roles_file);
	cr_assert_eq(cfg.log.target, ECCR_LOG_STDERR);
	cr_assert_eq(cfg.log.level, LOG_INFO);
	cr_assert_str_eq(cfg.log.ident, "");
	cr_assert_eq(cfg.storage.backend, ECCR_STORAGE_LOCAL);
	cr_assert_str_eq(cfg.storage.local_root, "/var/lib/eccr/files");
	cr_assert_null(cfg.storage.url_secret_file);
	cr_assert_null(cfg.storage.url_secret);
	cr_assert_eq(cfg.storage.max_upload_bytes, 5368709120LL);
	cr_assert_eq(cfg.storage.sendfile, ECCR_SENDFILE_NONE);
	cr_assert_str_eq(cfg.storage.allowed_types, "audio/*, video/*, image/*, text/plain, "
	    "application/pdf, application/octet-stream");
	cr_assert_null(cfg.storage.s3_endpoint);
	cr_assert_null(cfg.storage.s3_bucket);
	cr_assert_null(cfg.storage.s3_secret_key_file);
	cr_assert(cfg.storage.s3_path_style);
	cr_assert_not_null(strstr(cfg.plugins.dir, "/plugins"));
	cr_assert_str_eq(cfg.plugins.load, "");
	cr_assert_eq(cfg.outbox.grace_ms, 5000);
	cr_assert_eq(cfg.outbox.max_attempts, 10);
	cr_assert_eq(cfg.outbox.retry_base_ms, 1000);
	cr_assert_eq(cfg.outbox.retry_max_ms, 300000);
	cr_assert_eq(cfg.outbox.dispatch_threads, 2);
	cr_assert_eq(cfg.worker.max_concurrent, 4);
	cr_assert_eq(cfg.worker.poll_interval_ms, 1000);
	cr_assert_eq(cfg.worker.lease_s, 30);
	cr_assert_eq(cfg.worker.retry_base_ms, 1000);
	cr_assert_eq(cfg.worker.retry_max_ms, 300000);
	cr_assert_str_eq(cfg.wsd.listen, "127.0.0.1:3002");
	cr_assert_str_eq(cfg.wsd.channel, "eccr_events");
	cr_assert_eq(cfg.wsd.max_clients, 10000);
	cr_assert_eq(cfg.wsd.send_queue_bytes, 1048576);
	cr_assert_str_eq(cfg.notifications.types, "episode_created,episode_deleted,"
	    "file_uploaded,file_deleted,job_created,job_failed,job_completed");
	cr_assert_not(cfg.metrics.public_);
	cr_assert_eq(cfg.nplugin_sections, 0);
}

Test(config, every_section_and_key)
{
	cr_assert_eq(load(
	    "; comment\n"
	    "# another\n"
	    "[database]\n"
	    "conninfo = host=/run/postgresql dbname=eccr\n"
	    "[server]\n"
	    "base_path = /x/api\n"
	    "mount_path = /eccr\n"
	    "threads = 16\n"
	    "max_body_bytes = 2048\n"
	    "public_url = https://eccr.example.org\n"
	    "listen = /run/eccr.sock\n"
	    "[auth]\n"
	    "mode = remote_user\n"
	    "jwt_algorithms = HS512 , RS256,ES384\n"
	    "leeway_s = 0\n"
	    "issuer = https://id.example\n"
	    "audience = eccr\n"
	    "roles_file = /etc/eccr/roles\n"
	    "[log]\n"
	    "target = syslog\n"
	    "level = debug\n"
	    "ident = eccr-test\n"
	    "[storage]\n"
	    "backend = s3\n"
	    "local_root = /srv/files\n"
	    "max_upload_bytes = 1024\n"
	    "sendfile = x-accel-redirect\n"
	    "allowed_types = audio/mpeg,Image/SVG+XML , */*\n"
	    "s3_endpoint = https://s3.example\n"
	    "s3_region = eu-1\n"
	    "s3_bucket = media\n"
	    "s3_access_key_id = AKIA\n"
	    "s3_path_style = off\n"
	    "[plugins]\n"
	    "dir = /opt/eccr/plugins\n"
	    "load = activity-pg, sink-jsonl\n"
	    "[outbox]\n"
	    "grace_ms = 0\n"
	    "max_attempts = 3\n"
	    "retry_base_ms = 10\n"
	    "retry_max_ms = 20\n"
	    "dispatch_threads = 3\n"
	    "[worker]\n"
	    "max_concurrent = 2\n"
	    "poll_interval_ms = 500\n"
	    "lease_s = 9\n"
	    "retry_base_ms = 11\n"
	    "retry_max_ms = 22\n"
	    "[wsd]\n"
	    "listen = [::1]:4000\n"
	    "channel = ev\n"
	    "max_clients = 5\n"
	    "send_queue_bytes = 4096\n"
	    "[notifications]\n"
	    "types = job_failed\n"
	    "[metrics]\n"
	    "public = yes\n"), 0, "%s", err);
	cr_assert_str_eq(cfg.path, "t.conf");
	cr_assert_str_eq(cfg.database.conninfo, "host=/run/postgresql dbname=eccr");
	cr_assert_str_eq(cfg.server.base_path, "/x/api");
	cr_assert_str_eq(cfg.server.mount_path, "/eccr");
	cr_assert_eq(cfg.server.threads, 16);
	cr_assert_eq(cfg.server.max_body_bytes, 2048);
	cr_assert_str_eq(cfg.server.public_url, "https://eccr.example.org");
	cr_assert_str_eq(cfg.server.listen, "/run/eccr.sock");
	cr_assert_eq(cfg.auth.mode, ECCR_AUTH_REMOTE_USER);
	cr_assert_str_eq(cfg.auth.jwt_algorithms, "HS512 , RS256,ES384");
	cr_assert_eq(cfg.auth.leeway_s, 0);
	cr_assert_str_eq(cfg.auth.issuer, "https://id.example");
	cr_assert_str_eq(cfg.auth.audience, "eccr");
	cr_assert_str_eq(cfg.auth.roles_file, "/etc/eccr/roles");
	cr_assert_eq(cfg.log.target, ECCR_LOG_SYSLOG);
	cr_assert_eq(cfg.log.level, LOG_DEBUG);
	cr_assert_str_eq(cfg.log.ident, "eccr-test");
	cr_assert_eq(cfg.storage.backend, ECCR_STORAGE_S3);
	cr_assert_str_eq(cfg.storage.local_root, "/srv/files");
	cr_assert_eq(cfg.storage.max_upload_bytes, 1024);
	cr_assert_eq(cfg.storage.sendfile, ECCR_SENDFILE_X_ACCEL);
	cr_assert_str_eq(cfg.storage.allowed_types, "audio/mpeg,Image/SVG+XML , */*");
	cr_assert_str_eq(cfg.storage.s3_endpoint, "https://s3.example");
	cr_assert_str_eq(cfg.storage.s3_region, "eu-1");
	cr_assert_str_eq(cfg.storage.s3_bucket, "media");
	cr_assert_str_eq(cfg.storage.s3_access_key_id, "AKIA");
	cr_assert_not(cfg.storage.s3_path_style);
	cr_assert_str_eq(cfg.plugins.dir, "/opt/eccr/plugins");
	cr_assert_str_eq(cfg.plugins.load, "activity-pg, sink-jsonl");
	cr_assert_eq(cfg.outbox.grace_ms, 0);
	cr_assert_eq(cfg.outbox.max_attempts, 3);
	cr_assert_eq(cfg.outbox.retry_base_ms, 10);
	cr_assert_eq(cfg.outbox.retry_max_ms, 20);
	cr_assert_eq(cfg.outbox.dispatch_threads, 3);
	cr_assert_eq(cfg.worker.max_concurrent, 2);
	cr_assert_eq(cfg.worker.poll_interval_ms, 500);
	cr_assert_eq(cfg.worker.lease_s, 9);
	cr_assert_eq(cfg.worker.retry_base_ms, 11);
	cr_assert_eq(cfg.worker.retry_max_ms, 22);
	cr_assert_str_eq(cfg.wsd.listen, "[::1]:4000");
	cr_assert_str_eq(cfg.wsd.channel, "ev");
	cr_assert_eq(cfg.wsd.max_clients, 5);
	cr_assert_eq(cfg.wsd.send_queue_bytes, 4096);
	cr_assert_str_eq(cfg.notifications.types, "job_failed");
	cr_assert(cfg.metrics.public_);
}

Test(config, every_enum_name_and_bool_spelling)
{
	static const char *const sendfiles[] = { "none", "x-sendfile",
		"x-lighttpd-send-file", "x-accel-redirect" };
	static const char *const levels[] = { "debug", "info", "notice", "warning", "error" };
	static const int prios[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR };
	static const char *const bools[] = { "true", "false", "yes", "no", "on", "off",
		"1", "0", "TRUE", "Off" };
	char text[128];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(text, sizeof text, "[storage]\nsendfile = %s\n", sendfiles[i]);
		cr_assert_eq(load(text), 0, "%s", err);
		cr_assert_eq((int)cfg.storage.sendfile, i);
		reset();
	}
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof text, "[log]\nlevel = %s\n", levels[i]);
		cr_assert_eq(load(text), 0, "%s", err);
		cr_assert_eq(cfg.log.level, prios[i]);
		cr_assert_eq(eccr_log_level_from_name(levels[i]), prios[i]);
		reset();
	}
	for (i = 0; i < 10; i++) {
		snprintf(text, sizeof text, "[metrics]\npublic = %s\n", bools[i]);
		cr_assert_eq(load(text), 0, "%s", err);
		cr_assert_eq(cfg.metrics.public_, i % 2 == 0, "%s", bools[i]);
		reset();
	}
}

Test(config, syntax_accepted)
{
	/* CRLF endings, a BOM, ':' separators, inline comments, empty
	 * values clearing optional keys, a repeated core section. */
	cr_assert_eq(load("\xef\xbb\xbf[server]\r\n"
	    "threads: 8\r\n"
	    "\r\n"
	    "  ; an indented comment\r\n"
	    "[auth]\r\n"
	    "issuer = x ; the issuer\r\n"
	    "[server]\r\n"
	    "base_path =\r\n"), 0, "%s", err);
	cr_assert_eq(cfg.server.threads, 8);
	cr_assert_str_eq(cfg.auth.issuer, "x");
	cr_assert_str_eq(cfg.server.base_path, "");
	cr_assert_eq(load("[auth]\nissuer =\n"), 0, "%s", err);
	cr_assert_null(cfg.auth.issuer);
	cr_assert_eq(load(""), 0, "%s", err);
}

struct bad_case {
	const char *text;
	int line;          /* 0: no line, "t.conf: " */
	const char *want;  /* substring of the message after the prefix */
};

static const struct bad_case bad_cases[] = {
	{ "[server]\nthreads = 2\n[nope]\na = 1\n", 3, "unknown section [nope]" },
	{ "[nope]\n", 1, "unknown section [nope]" },
	{ "[server]\n\nthreadz = 3\n", 3, "unknown key \"threadz\" in section [server]" },
	{ "[server]\nthreads = abc\n", 2,
	  "server.threads: expected an integer 1..256, got \"abc\"" },
	{ "[server]\nthreads = 0\n", 2, "server.threads: expected an integer 1..256, got \"0\"" },
	{ "[server]\nthreads = 257\n", 2, "expected an integer 1..256" },
	{ "[server]\nthreads = +4\n", 2, "expected an integer 1..256" },
	{ "[server]\nthreads = 4x\n", 2, "expected an integer 1..256" },
	{ "[server]\nthreads =\n", 2, "expected an integer 1..256, got \"\"" },
	{ "[server]\nmax_body_bytes = 99999999999999999999\n", 2,
	  "expected an integer 1024..1073741824" },
	{ "[auth]\nleeway_s = -1\n", 2, "auth.leeway_s: expected an integer 0..3600" },
	{ "[outbox]\ndispatch_threads = 9\n", 2, "outbox.dispatch_threads: expected an integer 1..8, got \"9\"" },
	{ "[server]\nthreads = 4\nthreads = 5\n", 3, "server.threads: duplicate key" },
	{ "[plugins]\nload = activity-pg\nload = crm=webhook-http, Bad/Name\n", 3,
	  "plugins.load: expected a comma list of plugin names" },
	{ "[server]\nthreads = 4\n[auth]\n[server]\nthreads = 5\n", 5,
	  "server.threads: duplicate key" },
	{ "[auth]\nmode = kerberos\n", 2,
	  "auth.mode: expected one of jwt|remote_user, got \"kerberos\"" },
	{ "[log]\nlevel = warn\n", 2, "expected one of debug|info|notice|warning|error" },
	{ "[storage]\nsendfile = yes\n", 2,
	  "expected one of none|x-sendfile|x-lighttpd-send-file|x-accel-redirect" },
	{ "[metrics]\npublic = maybe\n", 2,
	  "metrics.public: expected true, false, yes, no, on, off, 1 or 0, got \"maybe\"" },
	{ "[auth]\njwt_algorithms = HS256,none\n", 2,
	  "auth.jwt_algorithms: \"none\" is never accepted" },
	{ "[auth]\njwt_algorithms = NONE\n", 2, "\"none\" is never accepted" },
	{ "[auth]\njwt_algorithms = PS256\n", 2, "PS256, PS384 and PS512 are not supported" },
	{ "[auth]\njwt_algorithms = HS1\n", 2, "expected a comma list of HS256" },
	{ "[auth]\njwt_algorithms = hs256\n", 2, "expected a comma list of HS256" },
	{ "[auth]\njwt_algorithms = ,\n", 2, "must name at least one algorithm" },
	{ "[server]\nbase_path = api\n", 2,
	  "server.base_path: must be empty, or start with '/'" },
	{ "[server]\nbase_path = /api/\n", 2, "not end with '/'" },
	{ "[server]\nbase_path = /\n", 2, "not end with '/'" },
	{ "[server]\nbase_path = /a/../b\n", 2, "server.base_path: must be a plain path" },
	{ "[server]\nbase_path = /a?b\n", 2, "must be a plain path" },
	{ "[server]\nbase_path = /a#b\n", 2, "must be a plain path" },
	{ "[server]\nmount_path = x/\n", 2, "server.mount_path: must be empty, or start" },
	{ "[server]\npublic_url = ftp://x\n", 2, "must start with http:// or https://" },
	{ "[server]\npublic_url = https://\n", 2, "must name a host" },
	{ "[server]\npublic_url = https://x/\n", 2, "must not end with '/'" },
	{ "[wsd]\nlisten = 3002\n", 2, "wsd.listen: expected ADDRESS:PORT" },
	{ "[wsd]\nlisten = h:70000\n", 2, "expected ADDRESS:PORT" },
	{ "[plugins]\nload = a,B\n", 2, "plugins.load: expected a comma list of plugin names" },
	{ "[database]\nconninfo = a\tb\n", 2, "must not contain control characters" },
	{ "[plugin.Bad Name]\na = 1\n", 1, "plugin names are 1 to 64 characters" },
	{ "[plugin.]\n", 1, "unknown section [plugin.]" },
	{ "[plugin.x]\na = 1\n[plugin.x]\nb = 2\n", 3,
	  "duplicate section [plugin.x] (first on line 1)" },
	{ "[plugin.x]\na = 1\na = 2\n", 3, "[plugin.x] a: duplicate key (first set on line 2)" },
	{ "[server]\nthis line has no equals sign\n", 2, "syntax error" },
	{ "[server\nthreads = 4\n", 1, "section header without ']'" },
	{ "threads = 4\n", 1, "\"threads\" is outside any [section]" },
	{ "[server]\nthreads = 4\n  base_path = /x\n", 3, "indented line" },
	{ "[plugin.x]\n"
	  "a_key_name_that_is_much_longer_than_inih_allows_it = 1\n", 2,
	  "key name longer than 49 bytes" },
	{ "[outbox]\nretry_base_ms = 500\nretry_max_ms = 100\n", 0,
	  "outbox.retry_max_ms (100) is less than outbox.retry_base_ms (500)" },
	{ "[worker]\nretry_max_ms = 999\n", 0, "worker.retry_max_ms (999) is less than" },
	{ "[notifications]\ntypes = episode_created, Job-Done\n", 2,
	  "notifications.types: expected a comma list of event types" },
	{ "[notifications]\ntypes = file_uploaded,notification_created\n", 2,
	  "notification_created cannot itself be notifiable" },
	{ "[notifications]\ntypes = episode_created,episode_udpated\n", 2,
	  "notifications.types: not an event type that can notify" },
	{ "[notifications]\ntypes = episode_viewed\n", 2,
	  "notifications.types: not an event type that can notify" },
	{ "[storage]\nallowed_types = audio/*, video\n", 2,
	  "storage.allowed_types: expected a comma list of MIME types or globs" },
	{ "[storage]\n\nallowed_types = audio/[a-z]*\n", 3, "storage.allowed_types: expected" },
	{ "[storage]\nallowed_types = text/plain; charset=utf-8\n", 2, "expected a comma list" },
	{ "[storage]\nallowed_types = audio/ mpeg\n", 2, "expected a comma list" },
	{ "[storage]\nallowed_types = /mpeg\n", 2, "expected a comma list" },
	{ "[storage]\nallowed_types = a/b/c\n", 2, "expected a comma list" },
	{ "[storage]\nallowed_types = , ,\n", 2,
	  "storage.allowed_types: must name at least one MIME type" },
	{ "[storage]\nallowed_types =\n", 2, "must name at least one MIME type" },
};

Test(config, errors_name_file_line_and_reason)
{
	size_t i;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		char prefix[32];
		size_t plen;

		reset();
		cr_assert_eq(load(bc->text), -1, "case %zu accepted", i);
		if (bc->line > 0)
			snprintf(prefix, sizeof prefix, "t.conf:%d: ", bc->line);
		else
			snprintf(prefix, sizeof prefix, "t.conf: ");
		plen = strlen(prefix);
		cr_assert_eq(strncmp(err, prefix, plen), 0, "case %zu: want %s, got \"%s\"",
		    i, prefix, err);
		cr_assert_not_null(strstr(err + plen, bc->want), "case %zu: \"%s\"", i, err);
	}
}

Test(config, line_length_limit)
{
	char text[600], value[400];

	/* "conninfo = " is 11 bytes: 186 more make 197, the longest line. */
	memset(value, 'v', 186);
	value[186] = '\0';
	snprintf(text, sizeof text, "[database]\nconninfo = %s\r\n", value);
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert_eq(strlen(cfg.database.conninfo), 186);

	reset();
	value[186] = 'v';
	value[187] = '\0';
	snprintf(text, sizeof text, "[database]\n; ok\nconninfo = %s\n", value);
	cr_assert_eq(load(text), -1);
	cr_assert_str_eq(err, "t.conf:3: line too long (more than 197 bytes)");

	/* Never silently cut: a 300-byte value would otherwise be accepted. */
	reset();
	memset(value, 'v', 300);
	value[300] = '\0';
	snprintf(text, sizeof text, "[database]\nconninfo = %s", value);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "t.conf:2: line too long"), "%s", err);
}

Test(config, long_plugin_names_are_not_cut)
{
	char text[256], name[70];

	/* inih cuts section names at 49 bytes; we must keep all 64. */
	memset(name, 'p', 64);
	name[64] = '\0';
	snprintf(text, sizeof text, "[plugin.%s]\nevents = *\n", name);
	cr_assert_eq(load(text), 0, "%s", err);
	cr_assert_eq(cfg.nplugin_sections, 1);
	cr_assert_str_eq(cfg.plugin_sections[0].name, name);

	reset();
	name[64] = 'p';
	name[65] = '\0';
	snprintf(text, sizeof text, "[plugin.%s]\nevents = *\n", name);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "t.conf:1: [plugin.ppp"), "%s", err);
	cr_assert_not_null(strstr(err, "plugin names are 1 to 64"), "%s", err);
}

Test(config, error_message_truncated_safely)
{
	char small[24];

	memset(small, 'x', sizeof small);
	cr_assert_eq(eccr_config_load_string(&cfg, "a-rather-long-file-name.conf",
	    "[server]\nthreads = many\n", small, sizeof small), -1);
	cr_assert_eq(strlen(small), sizeof small - 1);
	cr_assert_eq(strncmp(small, "a-rather-long-file-name", sizeof small - 1), 0);
	/* No room at all for a message is not a crash either. */
	cr_assert_eq(eccr_config_load_string(&cfg, "t", "[x]\n", small, 0), -1);
}

Test(config, plugin_sections_in_order_with_lines)
{
	const struct eccr_plugin_section *ps;

	cr_assert_eq(load(
	    "[plugins]\n"
	    "load = sink-jsonl,activity-pg\n"
	    "[plugin.sink-jsonl]\n"
	    "path = /tmp/x.jsonl\n"
	    "events = episode_*, job_*\n"
	    "\n"
	    "[plugin.activity-pg]\n"
	    "; nothing but a comment\n"
	    "[plugin.presence-memcache]\n"
	    "ttl_s = 60\n"
	    "servers: a:11211 ; inline comment\n"), 0, "%s", err);
	cr_assert_eq(cfg.nplugin_sections, 3);
	cr_assert_str_eq(cfg.plugin_sections[0].name, "sink-jsonl");
	cr_assert_str_eq(cfg.plugin_sections[1].name, "activity-pg");
	cr_assert_str_eq(cfg.plugin_sections[2].name, "presence-memcache");

	ps = eccr_config_plugin(&cfg, "sink-jsonl");
	cr_assert_eq(ps, &cfg.plugin_sections[0]);
	cr_assert_eq(ps->line, 3);
	cr_assert_eq(ps->nkv, 2);
	cr_assert_str_eq(ps->kv[0].key, "path");
	cr_assert_str_eq(ps->kv[0].value, "/tmp/x.jsonl");
	cr_assert_eq(ps->kv[0].line, 4);
	cr_assert_str_eq(ps->kv[1].key, "events");
	cr_assert_str_eq(ps->kv[1].value, "episode_*, job_*");
	cr_assert_eq(ps->kv[1].line, 5);

	ps = eccr_config_plugin(&cfg, "activity-pg");
	cr_assert_not_null(ps);
	cr_assert_eq(ps->line, 7);
	cr_assert_eq(ps->nkv, 0);

	ps = eccr_config_plugin(&cfg, "presence-memcache");
	cr_assert_eq(ps->line, 9);
	cr_assert_eq(ps->nkv, 2);
	cr_assert_str_eq(ps->kv[1].key, "servers");
	cr_assert_str_eq(ps->kv[1].value, "a:11211");
	cr_assert_eq(ps->kv[1].line, 11);

	cr_assert_null(eccr_config_plugin(&cfg, "nope"));
	cr_assert_null(eccr_config_plugin(&cfg, "sink"));
}

Test(config, secret_files_relative_to_config)
{
	char conf[128], path[128];

	make_dir();
	write_file(path, sizeof path, "secret", "0123456789abcdef0123456789abcdef\n");
	write_file(path, sizeof path, "url", "url-secret\r\n");
	write_file(path, sizeof path, "s3", "s3-secret\n\n");
	write_file(path, sizeof path, "key.pem",
	    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
	write_file(conf, sizeof conf, "eccr.conf",
	    "[auth]\n"
	    "jwt_secret_file = secret\n"
	    "jwt_public_key_file = key.pem\n"
	    "jwt_algorithms = HS256,ES256\n"
	    "roles_file = roles\n"
	    "[storage]\n"
	    "url_secret_file = url\n"
	    "s3_secret_key_file = s3\n");
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(cfg.path, conf);

	cr_assert_str_eq(cfg.auth.jwt_secret, "0123456789abcdef0123456789abcdef");
	cr_assert_eq(cfg.auth.jwt_secret_len, 32);
	snprintf(path, sizeof path, "%s/secret", dir);
	cr_assert_str_eq(cfg.auth.jwt_secret_file, path);
	cr_assert_str_eq(cfg.auth.jwt_public_key,
	    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
	cr_assert_eq(cfg.auth.jwt_public_key_len, strlen(cfg.auth.jwt_public_key));
	cr_assert_str_eq(cfg.storage.url_secret, "url-secret");
	cr_assert_eq(cfg.storage.url_secret_len, 10);
	cr_assert_str_eq(cfg.storage.s3_secret_key, "s3-secret\n");  /* one newline only */
	snprintf(path, sizeof path, "%s/roles", dir);
	cr_assert_str_eq(cfg.auth.roles_file, path);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), 0, "%s", err);
}

Test(config, relative_secret_in_string_uses_cwd)
{
	char path[128];

	make_dir();
	write_file(path, sizeof path, "s", "from-cwd\n");
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(load("[storage]\nurl_secret_file = s\n"), 0, "%s", err);
	cr_assert_str_eq(cfg.storage.url_secret_file, "s");
	cr_assert_str_eq(cfg.storage.url_secret, "from-cwd");
}

Test(config, secret_file_errors)
{
	char path[128], text[256], want[300];

	make_dir();
	snprintf(text, sizeof text, "[auth]\njwt_secret_file = %s/missing\n", dir);
	cr_assert_eq(load(text), -1);
	snprintf(want, sizeof want, "t.conf: auth.jwt_secret_file: cannot read %s/missing: "
	    "No such file or directory", dir);
	cr_assert_str_eq(err, want);

	reset();
	write_file(path, sizeof path, "empty", "\n");
	snprintf(text, sizeof text, "[storage]\nurl_secret_file = %s\n", path);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "t.conf: storage.url_secret_file: "), "%s", err);
	cr_assert_not_null(strstr(err, "is empty"), "%s", err);

	reset();
	write_file(path, sizeof path, "big", "");
	{
		FILE *f = fopen(path, "w");
		int i;

		cr_assert_not_null(f);
		for (i = 0; i < 65 * 1024; i++)
			fputc('k', f);
		fclose(f);
	}
	snprintf(text, sizeof text, "[storage]\ns3_secret_key_file = %s\n", path);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "file too large"), "%s", err);

	reset();
	snprintf(text, sizeof text, "%s/none.conf", dir);
	cr_assert_eq(eccr_config_load(&cfg, text, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "none.conf: cannot read: No such file"), "%s", err);
}

Test(config, errors_in_a_file_name_the_file)
{
	char conf[128], want[256];

	make_dir();
	write_file(conf, sizeof conf, "eccr.conf", "[server]\n\n\nthreads = 1000\n");
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:4: server.threads: expected an integer 1..256, "
	    "got \"1000\"", conf);
	cr_assert_str_eq(err, want);
}

Test(config, check_auth_rules)
{
	cr_assert_eq(load(""), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_str_eq(err, "t.conf: auth.jwt_algorithms lists HS256: set auth.jwt_secret_file");

	cfg.auth.jwt_secret = strdup("short");
	cfg.auth.jwt_secret_len = 5;
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_str_eq(err, "t.conf: auth.jwt_secret_file: secret is 5 bytes, "
	    "at least 32 are required for HS256");

	cfg.auth.jwt_secret_len = 32;
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), 0, "%s", err);

	/* RFC 7518: the key is at least as long as the hash. */
	cr_assert_eq(load("[auth]\njwt_algorithms = HS256, HS512\n"), 0, "%s", err);
	cfg.auth.jwt_secret = strdup("0123456789abcdef0123456789abcdef");
	cfg.auth.jwt_secret_len = 32;
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "at least 64 are required for HS512"), "%s", err);

	reset();
	cr_assert_eq(load("[auth]\njwt_algorithms = RS256\n"), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "set auth.jwt_public_key_file"), "%s", err);
	cfg.auth.jwt_public_key = strdup("-----BEGIN PUBLIC KEY-----\n");
	cfg.auth.jwt_public_key_len = strlen(cfg.auth.jwt_public_key);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), 0, "%s", err);

	reset();
	cr_assert_eq(load("[auth]\nmode = remote_user\n"), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_str_eq(err, "t.conf: auth.mode = remote_user needs auth.roles_file");
	cr_assert_eq(load("[auth]\nroles_file = /etc/eccr/roles\n"), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), 0, "%s", err);
}

Test(config, load_twice_replaces_and_free_zeroes)
{
	char conf[128], path[128];

	make_dir();
	write_file(path, sizeof path, "secret", "first-secret\n");
	write_file(conf, sizeof conf, "a.conf",
	    "[server]\nbase_path = /one\n[auth]\njwt_secret_file = secret\n"
	    "[plugin.a]\nx = 1\n[plugin.b]\ny = 2\n");
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(cfg.auth.jwt_secret, "first-secret");

	/* The secret file changes: a reload sees the new content. */
	write_file(path, sizeof path, "secret", "second\n");
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(cfg.auth.jwt_secret, "second");
	cr_assert_eq(cfg.auth.jwt_secret_len, 6);
	cr_assert_eq(cfg.nplugin_sections, 2);
	cr_assert_eq(cfg.plugin_sections[0].nkv, 1);

	/* A second file over the first: its own keys and sections win. */
	cr_assert_eq(load("[server]\nbase_path = /two\n[plugin.b]\nz = 3\n"), 0, "%s", err);
	cr_assert_str_eq(cfg.server.base_path, "/two");
	cr_assert_str_eq(cfg.path, "t.conf");
	cr_assert_eq(cfg.nplugin_sections, 2);
	cr_assert_eq(eccr_config_plugin(&cfg, "b")->nkv, 1);
	cr_assert_str_eq(eccr_config_plugin(&cfg, "b")->kv[0].key, "z");
	cr_assert_eq(eccr_config_plugin(&cfg, "b")->line, 3);

	/* A failed load also leaves nothing to leak. */
	cr_assert_eq(load("[server]\nbase_path = /three\nthreads = x\n"), -1);

	eccr_config_free(&cfg);
	cr_assert(all_zero(&cfg, sizeof cfg));
	eccr_config_free(&cfg);     /* twice is harmless */
	cr_assert(all_zero(&cfg, sizeof cfg));
}

Test(config, path_precedence)
{
	setenv("ECCR_CONFIG", "/env/eccr.conf", 1);
	cr_assert_str_eq(eccr_config_path("/x.conf"), "/x.conf");
	cr_assert_str_eq(eccr_config_path(NULL), "/env/eccr.conf");
	setenv("ECCR_CONFIG", "", 1);
	cr_assert_str_neq(eccr_config_path(NULL), "");
	unsetenv("ECCR_CONFIG");
	cr_assert_not_null(strstr(eccr_config_path(NULL), "/eccr/eccr.conf"));
	cr_assert_eq(eccr_config_path(NULL)[0], '/');
}

/* The reference file loads as shipped, and with every ";key = value" line
 * uncommented it still loads and gives exactly the defaults: the
 * documented defaults cannot drift from the schema. */
/* A list longer than a line: load repeats, the lines add up in order. */
Test(config, load_over_several_lines)
{
	cr_assert_eq(load("[plugins]\nload = activity-pg, crm=webhook-http\n"
	    "load = chat=webhook-http\nload =\n\n[auth]\n[plugins]\nload = job-noop\n"), 0, "%s", err);
	cr_assert_str_eq(cfg.plugins.load, "activity-pg, crm=webhook-http, chat=webhook-http, job-noop");
}

Test(config, reference_file)
{
	const char *src = getenv("ECCR_SRCDIR");
	char path[1024], conf[128], line[512];
	struct eccr_config def;
	FILE *in, *out;
	int keys = 0;
	bool in_plugin = false;

	if (src == NULL)
		cr_skip_test("ECCR_SRCDIR is not set");
	snprintf(path, sizeof path, "%s/etc/eccr.conf", src);
	cr_assert_eq(eccr_config_load(&cfg, path, err, sizeof err), 0, "%s", err);
	cr_assert_eq(cfg.nplugin_sections, 0);

	make_dir();
	snprintf(conf, sizeof conf, "%s/all.conf", dir);
	in = fopen(path, "r");
	out = fopen(conf, "w");
	cr_assert(in != NULL && out != NULL);
	while (fgets(line, sizeof line, in) != NULL) {
		bool key = line[0] == ';' && line[1] >= 'a' && line[1] <= 'z' &&
		    strstr(line, " =") != NULL;
		bool plugin = strncmp(line, ";[plugin.", 9) == 0;

		in_plugin = in_plugin || plugin;
		keys += key && !in_plugin;
		fputs(key || plugin ? line + 1 : line, out);
	}
	fclose(in);
	fclose(out);
	/* 50 core keys in the schema, each shown once. */
	cr_assert_eq(keys, 50, "%d commented core keys", keys);

	reset();
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);
	cr_assert_not_null(eccr_config_plugin(&cfg, "activity-pg"));
	cr_assert_eq(eccr_config_defaults(&def), 0);
	cr_assert_str_eq(cfg.database.conninfo, def.database.conninfo);
	cr_assert_str_eq(cfg.server.base_path, def.server.base_path);
	cr_assert_str_eq(cfg.server.public_url, def.server.public_url);
	cr_assert_eq(cfg.server.threads, def.server.threads);
	cr_assert_eq(cfg.outbox.dispatch_threads, def.outbox.dispatch_threads);
	cr_assert_eq(cfg.server.max_body_bytes, def.server.max_body_bytes);
	cr_assert_eq(cfg.server.idempotency_ttl_s, def.server.idempotency_ttl_s);
	cr_assert_str_eq(cfg.auth.jwt_algorithms, def.auth.jwt_algorithms);
	cr_assert_eq(cfg.auth.leeway_s, def.auth.leeway_s);
	cr_assert_null(cfg.auth.jwt_secret_file);
	cr_assert_null(cfg.auth.issuer);
	cr_assert_eq(cfg.log.level, def.log.level);
	cr_assert_str_eq(cfg.log.ident, def.log.ident);
	cr_assert_str_eq(cfg.storage.local_root, def.storage.local_root);
	cr_assert_eq(cfg.storage.max_upload_bytes, def.storage.max_upload_bytes);
	cr_assert_str_eq(cfg.storage.allowed_types, def.storage.allowed_types);
	cr_assert_eq(cfg.storage.s3_path_style, def.storage.s3_path_style);
	cr_assert_eq(cfg.outbox.grace_ms, def.outbox.grace_ms);
	cr_assert_eq(cfg.outbox.max_attempts, def.outbox.max_attempts);
	cr_assert_eq(cfg.outbox.retry_max_ms, def.outbox.retry_max_ms);
	cr_assert_eq(cfg.worker.max_concurrent, def.worker.max_concurrent);
	cr_assert_eq(cfg.worker.poll_interval_ms, def.worker.poll_interval_ms);
	cr_assert_eq(cfg.worker.lease_s, def.worker.lease_s);
	cr_assert_eq(cfg.worker.retry_base_ms, def.worker.retry_base_ms);
	cr_assert_str_eq(cfg.wsd.listen, def.wsd.listen);
	cr_assert_str_eq(cfg.wsd.channel, def.wsd.channel);
	cr_assert_eq(cfg.wsd.max_clients, def.wsd.max_clients);
	cr_assert_eq(cfg.wsd.send_queue_bytes, def.wsd.send_queue_bytes);
	cr_assert_str_eq(cfg.notifications.types, def.notifications.types);
	cr_assert_eq(cfg.metrics.public_, def.metrics.public_);
	eccr_config_free(&def);
}

/* ------------------------------------------------------------ log.c */

/* Run fn with stderr sent into a pipe; returns what it wrote. */
static size_t capture_stderr(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2], saved;
	ssize_t n;

	cr_assert_eq(pipe(fds), 0);
	saved = dup(STDERR_FILENO);
	cr_assert_eq(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
	fn();
	cr_assert_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, outlen - 1);
	close(fds[0]);
	cr_assert_geq(n, 0);
	out[n] = '\0';
	return (size_t)n;
}

static void log_some(void)
{
	eccr_log_init("eccr-test", ECCR_LOG_STDERR, LOG_NOTICE);
	eccr_info("dropped %d", 1);
	eccr_debug("dropped too");
	eccr_warn("disk at %d%%", 93);
	eccr_notice("with newline\n");
}

static void log_long(void)
{
	char big[4000];

	memset(big, 'm', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	eccr_err("%s", big);
}

Test(log, stderr_format_and_filter)
{
	char out[4096];
	regex_t re;
	int rc;

	capture_stderr(log_some, out, sizeof out);
	rc = regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	    "eccr-test\\[[0-9]+\\] warning: disk at 93%\n"
	    "[0-9T:.Z-]{24} eccr-test\\[[0-9]+\\] notice: with newline\n$", REG_EXTENDED);
	cr_assert_eq(rc, 0);
	rc = regexec(&re, out, 0, NULL, 0);
	regfree(&re);
	cr_assert_eq(rc, 0, "got \"%s\"", out);
}

Test(log, long_message_truncated_in_one_line)
{
	char out[8192];
	size_t n;

	n = capture_stderr(log_long, out, sizeof out);
	cr_assert_eq(n, 2047, "wrote %zu bytes", n);
	cr_assert_eq(strcmp(out + n - 4, "...\n"), 0);
	cr_assert_not_null(strstr(out, " eccr[") , "default ident: %.60s", out);
	cr_assert_not_null(strstr(out, "] error: mmm"));
	cr_assert_eq(strchr(out, '\n'), out + n - 1);
}

Test(log, level_names)
{
	cr_assert_eq(eccr_log_level_from_name("debug"), LOG_DEBUG);
	cr_assert_eq(eccr_log_level_from_name("warning"), LOG_WARNING);
	cr_assert_eq(eccr_log_level_from_name("error"), LOG_ERR);
	cr_assert_eq(eccr_log_level_from_name("emerg"), -1);
	cr_assert_eq(eccr_log_level_from_name("warn"), -1);
	cr_assert_eq(eccr_log_level_from_name(""), -1);
}

/* [log] from the configuration: the ident is log.ident, else the program's
 * name; a reload (eccr-worker's SIGHUP) changes the level at once. */
static void log_configured(void)
{
	struct eccr_config c;
	char e[ECCR_CONFIG_ERRLEN];

	cr_assert_eq(eccr_config_defaults(&c), 0);
	cr_assert_eq(eccr_config_load_string(&c, "t.conf", "[log]\nlevel = warning\n", e,
	    sizeof e), 0, "%s", e);
	eccr_log_configure("eccr-prog", &c);
	eccr_info("dropped");
	eccr_warn("first");
	eccr_log_reconfigure(ECCR_LOG_STDERR, LOG_INFO);
	eccr_info("second");
	eccr_log_reconfigure(ECCR_LOG_STDERR, LOG_ERR);
	eccr_warn("dropped again");
	eccr_config_free(&c);
	cr_assert_eq(eccr_config_defaults(&c), 0);
	cr_assert_eq(eccr_config_load_string(&c, "t.conf", "[log]\nident = site-a\n", e,
	    sizeof e), 0, "%s", e);
	eccr_log_configure("eccr-prog", &c);
	eccr_notice("third");
	eccr_config_free(&c);
}

Test(log, configure_ident_and_reconfigure_level)
{
	char out[4096];

	capture_stderr(log_configured, out, sizeof out);
	cr_assert_null(strstr(out, "dropped"), "%s", out);
	cr_assert_not_null(strstr(out, " eccr-prog["), "%s", out);
	cr_assert_not_null(strstr(out, "] warning: first\n"), "%s", out);
	cr_assert_not_null(strstr(out, "] info: second\n"), "%s", out);
	cr_assert_not_null(strstr(out, " site-a["), "%s", out);
	cr_assert_not_null(strstr(out, "] notice: third\n"), "%s", out);
}
