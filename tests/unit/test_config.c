/* Unit tests: src/lib/config.c (eccr.conf reader). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"

static struct eccr_config cfg;
static char err[ECCR_CONFIG_ERRLEN];
static char dir[] = "/tmp/eccr-config-test.XXXXXX";

static void setup(void)
{
	cr_assert_eq(eccr_config_defaults(&cfg), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	eccr_config_free(&cfg);
}

static int load(const char *text)
{
	return eccr_config_load_string(&cfg, "t.conf", text, err, sizeof err);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(content, f);
	fclose(f);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, defaults)
{
	cr_assert_str_eq(cfg.server.base_path, "/api/v1");
	cr_assert_str_eq(cfg.server.mount_path, "");
	cr_assert_eq(cfg.server.threads, 4);
	cr_assert_eq(cfg.server.max_body_bytes, 1048576);
	cr_assert_eq(cfg.auth.mode, ECCR_AUTH_JWT);
	cr_assert_str_eq(cfg.auth.jwt_algorithms, "HS256");
	cr_assert_eq(cfg.auth.leeway_s, 60);
	cr_assert_null(cfg.auth.issuer);
	cr_assert_eq(cfg.log.level, LOG_INFO);
	cr_assert_eq(cfg.storage.max_upload_bytes, 5368709120LL);
	cr_assert(cfg.storage.s3_path_style);
	cr_assert_str_eq(cfg.wsd.listen, "127.0.0.1:3002");
	cr_assert_eq(cfg.outbox.max_attempts, 10);
	cr_assert_not(cfg.metrics.public_);
}

Test(config, full_file)
{
	cr_assert_eq(load(
	    "; comment\n"
	    "# another\n"
	    "[database]\n"
	    "conninfo = host=/run/postgresql dbname=eccr\n"
	    "[server]\n"
	    "threads = 16\n"
	    "max_body_bytes = 2048\n"
	    "base_path = /x/api\n"
	    "[auth]\n"
	    "jwt_algorithms = HS256, RS256\n"
	    "issuer = https://id.example\n"
	    "[log]\n"
	    "level = debug\n"
	    "target = syslog\n"
	    "[storage]\n"
	    "sendfile = x-accel-redirect\n"
	    "s3_path_style = off\n"
	    "[metrics]\n"
	    "public = yes\n"
	    "[plugin.activity-pg]\n"
	    "events = episode_*\n"
	    "conninfo = dbname=audit\n"
	    "[plugin.sink-jsonl]\n"
	    "path = /tmp/x.jsonl\n"), 0, "%s", err);
	cr_assert_str_eq(cfg.database.conninfo, "host=/run/postgresql dbname=eccr");
	cr_assert_eq(cfg.server.threads, 16);
	cr_assert_eq(cfg.server.max_body_bytes, 2048);
	cr_assert_str_eq(cfg.server.base_path, "/x/api");
	cr_assert_str_eq(cfg.auth.issuer, "https://id.example");
	cr_assert_eq(cfg.log.level, LOG_DEBUG);
	cr_assert_eq(cfg.log.target, ECCR_LOG_SYSLOG);
	cr_assert_eq(cfg.storage.sendfile, ECCR_SENDFILE_X_ACCEL);
	cr_assert_not(cfg.storage.s3_path_style);
	cr_assert(cfg.metrics.public_);
	cr_assert_eq(cfg.nplugin_sections, 2);
	const struct eccr_plugin_section *ps = eccr_config_plugin(&cfg, "activity-pg");
	cr_assert_not_null(ps);
	cr_assert_eq(ps->line, 20);
	cr_assert_eq(ps->nkv, 2);
	cr_assert_str_eq(ps->kv[0].key, "events");
	cr_assert_str_eq(ps->kv[0].value, "episode_*");
	cr_assert_eq(ps->kv[1].line, 22);
	cr_assert_null(eccr_config_plugin(&cfg, "nope"));
}

struct bad_case {
	const char *text;
	const char *want;  /* substring of the message, after "t.conf:LINE: " */
	int line;
};

Test(config, errors_name_file_line_and_reason)
{
	static const struct bad_case cases[] = {
		{ "[nope]\na = 1\n", "unknown section [nope]", 2 },
		{ "[server]\n\nthreadz = 3\n", "unknown key \"threadz\" in section [server]", 3 },
		{ "[server]\nthreads = abc\n", "server.threads: expected an integer 1..256, got \"abc\"", 2 },
		{ "[server]\nthreads = 0\n", "expected an integer 1..256", 2 },
		{ "[server]\nthreads = 257\n", "expected an integer 1..256", 2 },
		{ "[server]\nthreads = 4\nthreads = 5\n", "server.threads: duplicate key", 3 },
		{ "[auth]\nmode = kerberos\n", "expected one of jwt|remote_user", 2 },
		{ "[metrics]\npublic = maybe\n", "expected true or false", 2 },
		{ "[auth]\njwt_algorithms = HS256,none\n", "\"none\" is never accepted", 2 },
		{ "[auth]\njwt_algorithms = HS1\n", "must be a comma list", 2 },
		{ "[server]\nbase_path = api\n", "server.base_path: must be empty or start with '/'", 2 },
		{ "[server]\nbase_path = /a/../b\n", "server.base_path: must be a plain path", 2 },
		{ "[server]\npublic_url = ftp://x\n", "must start with http:// or https://", 2 },
		{ "[wsd]\nlisten = 3002\n", "must be ADDRESS:PORT", 2 },
		{ "[plugin.Bad Name]\na = 1\n", "plugin names are", 2 },
		{ "[plugin.x]\na = 1\n[plugin.x]\nb = 2\n", "duplicate section [plugin.x]", 4 },
		{ "[plugin.x]\na = 1\na = 2\n", "a: duplicate key (first set on line 2)", 3 },
		{ "[server]\nthis line has no equals sign\n", "syntax error", 2 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char prefix[32];

		eccr_config_free(&cfg);
		eccr_config_defaults(&cfg);
		cr_assert_eq(load(cases[i].text), -1, "case %zu accepted", i);
		snprintf(prefix, sizeof prefix, "t.conf:%d: ", cases[i].line);
		cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "case %zu: \"%s\"", i, err);
		cr_assert_not_null(strstr(err, cases[i].want), "case %zu: \"%s\"", i, err);
	}
}

Test(config, line_too_long)
{
	char text[600];

	snprintf(text, sizeof text, "[database]\nconninfo = %0300d\n", 7);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "t.conf:2: line longer than"), "%s", err);
}

Test(config, secret_files)
{
	char path[256], conf[256], text[512];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/secret", dir);
	write_file(path, "0123456789abcdef0123456789abcdef\n");
	snprintf(path, sizeof path, "%s/key.pem", dir);
	write_file(path, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
	snprintf(conf, sizeof conf, "%s/eccr.conf", dir);
	/* Relative to the configuration file's directory. */
	write_file(conf, "[auth]\njwt_secret_file = secret\njwt_public_key_file = key.pem\n"
	    "jwt_algorithms = HS256,ES256\n");
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(cfg.auth.jwt_secret, "0123456789abcdef0123456789abcdef");
	cr_assert_eq(cfg.auth.jwt_secret_len, 32);
	cr_assert_eq(cfg.auth.jwt_public_key[cfg.auth.jwt_public_key_len - 1], '\n');
	cr_assert_str_eq(cfg.path, conf);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), 0, "%s", err);

	/* Loading again over the same struct replaces, never leaks. */
	cr_assert_eq(eccr_config_load(&cfg, conf, err, sizeof err), 0, "%s", err);

	snprintf(text, sizeof text, "[auth]\njwt_secret_file = %s/missing\n", dir);
	eccr_config_free(&cfg);
	eccr_config_defaults(&cfg);
	cr_assert_eq(load(text), -1);
	cr_assert_not_null(strstr(err, "auth.jwt_secret_file: cannot read"), "%s", err);
	cr_assert_not_null(strstr(err, "No such file"), "%s", err);
	unlink(conf);
	snprintf(path, sizeof path, "%s/secret", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/key.pem", dir);
	unlink(path);
	rmdir(dir);
}

Test(config, check_auth_rules)
{
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "set auth.jwt_secret_file"), "%s", err);

	cfg.auth.jwt_secret = strdup("short");
	cfg.auth.jwt_secret_len = 5;
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "is 5 bytes, at least 32"), "%s", err);

	cr_assert_eq(load("[auth]\nmode = remote_user\n"), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "needs auth.roles_file"), "%s", err);

	eccr_config_free(&cfg);
	eccr_config_defaults(&cfg);
	cr_assert_eq(load("[auth]\njwt_algorithms = RS256\n"), 0, "%s", err);
	cr_assert_eq(eccr_config_check_auth(&cfg, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "set auth.jwt_public_key_file"), "%s", err);
}

Test(config, path_precedence)
{
	setenv("ECCR_CONFIG", "/env/eccr.conf", 1);
	cr_assert_str_eq(eccr_config_path("/x.conf"), "/x.conf");
	cr_assert_str_eq(eccr_config_path(NULL), "/env/eccr.conf");
	unsetenv("ECCR_CONFIG");
	cr_assert_not_null(strstr(eccr_config_path(NULL), "/eccr/eccr.conf"));
}

Test(config, reference_file_loads)
{
	const char *src = getenv("ECCR_SRCDIR");
	char path[1024];

	if (src == NULL)
		cr_skip_test("ECCR_SRCDIR is not set");
	snprintf(path, sizeof path, "%s/etc/eccr.conf", src);
	cr_assert_eq(eccr_config_load(&cfg, path, err, sizeof err), 0, "%s", err);
}
