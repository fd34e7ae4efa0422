/* Unit tests: src/lib/storage*.c without a network: the s3 backend's
 * start-up checks and presigning, and the local backend's objects.  The
 * s3 backend's requests are exercised against s3rver by
 * tests/integration/s3.sh. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "storage.h"

#define KEY "files/0b6c5a3e-8c1f-4d6e-9a0b-2f3c4d5e6f70/3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"

static struct eccr_config cfg;
static char err[ECCR_CONFIG_ERRLEN];
static char dir[64];

static void setup(void)
{
	FILE *f;
	char path[128];

	snprintf(dir, sizeof dir, "/tmp/eccr-storage-test.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/secret", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", f);
	fclose(f);
	cr_assert_eq(eccr_config_defaults(&cfg), 0);
	err[0] = '\0';
}

static void teardown(void)
{
	char cmd[128];

	eccr_config_free(&cfg);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

TestSuite(storage, .init = setup, .fini = teardown);

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A [storage] section for the s3 backend; NULL leaves a key out. */
static struct eccr_storage *s3_with(const char *endpoint, const char *region, const char *bucket,
    const char *key_id, bool secret, const char *path_style)
{
	char text[2048];
	int n;

	n = snprintf(text, sizeof text, "[storage]\nbackend = s3\nlocal_root = %s/root\n", dir);
	if (endpoint)
		n += snprintf(text + n, sizeof text - (size_t)n, "s3_endpoint = %s\n", endpoint);
	if (region)
		n += snprintf(text + n, sizeof text - (size_t)n, "s3_region = %s\n", region);
	if (bucket)
		n += snprintf(text + n, sizeof text - (size_t)n, "s3_bucket = %s\n", bucket);
	if (key_id)
		n += snprintf(text + n, sizeof text - (size_t)n, "s3_access_key_id = %s\n", key_id);
	if (secret)
		n += snprintf(text + n, sizeof text - (size_t)n, "s3_secret_key_file = %s/secret\n", dir);
	if (path_style)
		snprintf(text + n, sizeof text - (size_t)n, "s3_path_style = %s\n", path_style);
	cr_assert_eq(eccr_config_load_string(&cfg, "t.conf", text, err, sizeof err), 0, "%s", err);
	return eccr_storage_new(&cfg, err, sizeof err);
}

Test(storage, s3_presigns_and_has_no_local_paths)
{
	struct eccr_storage *st = s3_with("http://127.0.0.1:4568", "us-east-1", "eccr-files",
	    "AKIAIOSFODNN7EXAMPLE", true, "true");
	char url[8192], path[256];

	cr_assert_not_null(st, "%s", err);
	cr_assert_not(eccr_storage_is_local(st));
	cr_assert_eq(eccr_storage_presign(st, "GET", KEY, 900, url, sizeof url), 0);
	cr_assert(starts_with(url, "http://127.0.0.1:4568/eccr-files/" KEY "?"), "%s", url);
	cr_assert_not_null(strstr(url, "X-Amz-Expires=900&"), "%s", url);
	cr_assert_not_null(strstr(url, "X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F"), "%s", url);
	cr_assert_not_null(strstr(url, "&X-Amz-Signature="), "%s", url);
	cr_assert_eq(eccr_storage_presign(st, "PUT", KEY, 604800, url, sizeof url), 0);
	cr_assert_eq(eccr_storage_presign(st, "GET", KEY, 604801, url, sizeof url), EINVAL);
	cr_assert_eq(eccr_storage_presign(st, "GET", "files/../etc/passwd", 60, url, sizeof url), EINVAL);
	cr_assert_eq(eccr_storage_local_path(st, KEY, path, sizeof path), ENOTSUP);
	/* A download URL with the answer's headers signed in. */
	cr_assert_eq(eccr_storage_presign_get(st, KEY, 60, "audio/mpeg",
	    "inline; filename=\"a b.mp3\"; filename*=UTF-8''a%20b.mp3", url, sizeof url), 0);
	cr_assert(starts_with(url, "http://127.0.0.1:4568/eccr-files/" KEY "?"), "%s", url);
	cr_assert_not_null(strstr(url, "&X-Amz-SignedHeaders=host&response-content-disposition="
	    "inline%3B%20filename%3D%22a%20b.mp3%22%3B%20filename%2A%3DUTF-8%27%27a%2520b.mp3"
	    "&response-content-type=audio%2Fmpeg&X-Amz-Signature="), "%s", url);
	cr_assert_eq(eccr_storage_presign_get(st, KEY, 60, NULL, NULL, path, sizeof path), EINVAL,
	    "a URL that does not fit");
	cr_assert_eq(eccr_storage_presign_get(st, "files/../x", 60, NULL, NULL, url, sizeof url), EINVAL);
	eccr_storage_free(st);
}

Test(storage, s3_virtual_hosted)
{
	struct eccr_storage *st = s3_with("https://s3.eu-west-1.amazonaws.com/", "eu-west-1",
	    "media.example", "AKIDEXAMPLE", true, "false");
	char url[8192];

	cr_assert_not_null(st, "%s", err);
	cr_assert_eq(eccr_storage_presign(st, "GET", KEY, 60, url, sizeof url), 0);
	cr_assert(starts_with(url, "https://media.example.s3.eu-west-1.amazonaws.com/" KEY "?"), "%s", url);
	eccr_storage_free(st);
}

Test(storage, s3_settings_are_checked_at_start)
{
	static const struct {
		const char *endpoint, *region, *bucket, *key_id;
		bool secret;
		const char *path_style, *names;
	} cases[] = {
		{ NULL, "us-east-1", "eccr", "AK", true, NULL, "storage.s3_endpoint" },
		{ "ftp://s3.example.com", "us-east-1", "eccr", "AK", true, NULL, "storage.s3_endpoint" },
		{ "s3.example.com", "us-east-1", "eccr", "AK", true, NULL, "storage.s3_endpoint" },
		{ "https://s3.example.com/base", "us-east-1", "eccr", "AK", true, NULL, "storage.s3_endpoint" },
		{ "https://user@s3.example.com", "us-east-1", "eccr", "AK", true, NULL, "storage.s3_endpoint" },
		{ "http://127.0.0.1:9000", "us-east-1", "eccr", "AK", true, "false", "storage.s3_endpoint" },
		{ "https://s3.example.com", NULL, "eccr", "AK", true, NULL, "storage.s3_region" },
		{ "https://s3.example.com", "US East", "eccr", "AK", true, NULL, "storage.s3_region" },
		{ "https://s3.example.com", "us-east-1", NULL, "AK", true, NULL, "storage.s3_bucket" },
		{ "https://s3.example.com", "us-east-1", "ab", "AK", true, NULL, "storage.s3_bucket" },
		{ "https://s3.example.com", "us-east-1", "Eccr_Files", "AK", true, NULL, "storage.s3_bucket" },
		{ "https://s3.example.com", "us-east-1", "a..b", "AK", true, NULL, "storage.s3_bucket" },
		{ "https://s3.example.com", "us-east-1", "-eccr", "AK", true, NULL, "storage.s3_bucket" },
		{ "https://s3.example.com", "us-east-1", "eccr", NULL, true, NULL, "storage.s3_access_key_id" },
		{ "https://s3.example.com", "us-east-1", "eccr", "AK", false, NULL, "storage.s3_secret_key_file" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct eccr_storage *st;

		eccr_config_free(&cfg);
		cr_assert_eq(eccr_config_defaults(&cfg), 0);
		err[0] = '\0';
		st = s3_with(cases[i].endpoint, cases[i].region, cases[i].bucket, cases[i].key_id,
		    cases[i].secret, cases[i].path_style);
		cr_assert_null(st, "case %zu was accepted", i);
		cr_assert_not_null(strstr(err, cases[i].names), "case %zu: \"%s\" does not name %s",
		    i, err, cases[i].names);
	}
}

Test(storage, local_objects)
{
	struct eccr_storage *st;
	struct eccr_storage_writer *w;
	char text[256], hex[65], head[64];
	int64_t size = -1;
	size_t got = 0;

	snprintf(text, sizeof text, "[storage]\nlocal_root = %s/root\n", dir);
	cr_assert_eq(eccr_config_load_string(&cfg, "t.conf", text, err, sizeof err), 0, "%s", err);
	cr_assert_not_null(st = eccr_storage_new(&cfg, err, sizeof err), "%s", err);
	cr_assert(eccr_storage_is_local(st));
	cr_assert_eq(eccr_storage_presign(st, "GET", KEY, 60, text, sizeof text), ENOTSUP);
	cr_assert_eq(eccr_storage_presign_get(st, KEY, 60, NULL, NULL, text, sizeof text), ENOTSUP);
	cr_assert_eq(eccr_storage_stat(st, KEY, &size), ENOENT);
	cr_assert_eq(eccr_storage_read_head(st, KEY, head, sizeof head, &got), ENOENT);
	cr_assert_eq(eccr_storage_writer_open(st, KEY, "text/plain", &w), 0);
	cr_assert_eq(eccr_storage_write(w, "hello ", 6), 0);
	cr_assert_eq(eccr_storage_stat(st, KEY, &size), ENOENT, "visible before commit");
	cr_assert_eq(eccr_storage_write(w, "world", 5), 0);
	cr_assert_eq(eccr_storage_commit(w), 0);
	cr_assert_eq(eccr_storage_stat(st, KEY, &size), 0);
	cr_assert_eq(size, 11);
	cr_assert_eq(eccr_storage_sha256(st, KEY, hex), 0);
	cr_assert_str_eq(hex, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
	/* The first bytes: as many as asked, or the whole of a shorter object. */
	cr_assert_eq(eccr_storage_read_head(st, KEY, head, 5, &got), 0);
	cr_assert_eq(got, 5);
	cr_assert_eq(memcmp(head, "hello", 5), 0);
	cr_assert_eq(eccr_storage_read_head(st, KEY, head, sizeof head, &got), 0);
	cr_assert_eq(got, 11);
	cr_assert_eq(memcmp(head, "hello world", 11), 0);
	cr_assert_eq(eccr_storage_read_head(st, KEY, head, 0, &got), EINVAL);
	cr_assert_eq(eccr_storage_read_head(st, "files/../etc/passwd", head, 5, &got), EINVAL);
	cr_assert_eq(eccr_storage_delete(st, KEY), 0);
	cr_assert_eq(eccr_storage_delete(st, KEY), 0, "deleting twice is fine");
	cr_assert_eq(eccr_storage_sha256(st, KEY, hex), ENOENT);
	cr_assert_eq(eccr_storage_writer_open(st, "files/x/y", NULL, &w), EINVAL);
	/* An empty object has no first bytes. */
	cr_assert_eq(eccr_storage_writer_open(st, KEY, NULL, &w), 0);
	cr_assert_eq(eccr_storage_commit(w), 0);
	got = 99;
	cr_assert_eq(eccr_storage_read_head(st, KEY, head, sizeof head, &got), 0);
	cr_assert_eq(got, 0);
	eccr_storage_free(st);
}
