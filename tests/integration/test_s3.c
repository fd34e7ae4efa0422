/* Integration tests: the files API on the s3 backend, through lighttpd,
 * against s3rver on loopback with SigV4 checked by the AWS SDK's signer.
 * Run by tests/integration/s3.sh (not run.sh), which sets, besides the
 * usual ECCR_TEST_* variables: ECCR_TEST_S3_DIR (s3rver's directory of
 * the bucket: an object is KEY._S3rver_object there), ECCR_TEST_S3_STOP
 * and ECCR_TEST_S3_START (take the store away and bring it back).
 * storage.max_upload_bytes is 1 MiB. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

/* ------------------------------------------------------------ helpers */

static void new_episode(char id[37])
{
	struct resp *r = http_json("POST", "/episodes", tok_editor(), "{\"title\":\"s3 files\"}");

	cr_assert_eq(r->status, 201, "%s", r->body);
	snprintf(id, 37, "%s", resp_str(r, "id"));
	resp_free(r);
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
	unsigned char md[32];

	SHA256(data, n, md);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + seed) % 253);
}

/* s3rver's file for an object. */
static void object_path(const char *ep, const char *fid, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/files/%s/%s._S3rver_object", getenv("ECCR_TEST_S3_DIR"), ep, fid);
}

static bool object_exists(const char *ep, const char *fid)
{
	char path[1200];
	struct stat sb;

	object_path(ep, fid, path, sizeof path);
	return stat(path, &sb) == 0;
}

/* The stored object's sha256, read from s3rver's directory. */
static void object_sha256(const char *ep, const char *fid, char hex[65])
{
	char path[1200], *buf;
	struct stat sb;
	FILE *f;

	object_path(ep, fid, path, sizeof path);
	cr_assert_eq(stat(path, &sb), 0, "no object at %s", path);
	buf = malloc((size_t)sb.st_size + 1);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	sha256_hex(buf, (size_t)sb.st_size, hex);
	free(buf);
}

static long count_lines(const char *cmd)
{
	char out[64];
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(fgets(out, sizeof out, p));
	pclose(p);
	return atol(out);
}

static long objects_in_bucket(void)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "find %s -name '*._S3rver_object' 2>/dev/null | wc -l",
	    getenv("ECCR_TEST_S3_DIR"));
	return count_lines(cmd);
}

/* Spooled uploads must vanish: nothing may stay in local_root/tmp. */
static long spooled_files(void)
{
	char cmd[1200];

	snprintf(cmd, sizeof cmd, "find %s/files/tmp -type f | wc -l", getenv("ECCR_TEST_STACK_DIR"));
	return count_lines(cmd);
}

static void s3_ctl(const char *which)
{
	cr_assert_eq(system(getenv(which)), 0, "%s failed", which);
}

/* A request to an absolute URL (the store), without our token. */
struct raw {
	long status;
	char *body;
	size_t len;
	char headers[8192];      /* the header block, "Name: value\r\n"... */
	size_t hlen;
};

static size_t raw_header_line(char *p, size_t size, size_t n, void *user)
{
	struct raw *r = user;
	size_t k = size * n;

	if (r->hlen + k < sizeof r->headers) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = '\0';
	}
	return size * n;
}

/* A response header's value, or NULL. */
static const char *raw_header(const struct raw *r, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	for (const char *line = r->headers; *line != '\0';) {
		const char *end = strstr(line, "\r\n"), *v = line + n + 1;
		size_t len = end ? (size_t)(end - line) : strlen(line);

		if (len > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
			while (*v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(len - (size_t)(v - line)), v);
			return out;
		}
		if (end == NULL)
			break;
		line = end + 2;
	}
	return NULL;
}

static size_t raw_body(char *p, size_t size, size_t n, void *user)
{
	struct raw *r = user;

	r->body = realloc(r->body, r->len + size * n + 1);
	memcpy(r->body + r->len, p, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

static struct raw raw_request(const char *method, const char *url, const char *body, size_t len,
    const char *header)
{
	static struct raw zero;
	struct raw r = zero;
	struct curl_slist *hl = NULL;
	CURL *h = curl_easy_init();

	cr_assert_not_null(h);
	if (header != NULL)
		hl = curl_slist_append(hl, header);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, raw_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, raw_header_line);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cr_assert_eq(curl_easy_perform(h), CURLE_OK, "%s %s", method, url);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return r;
}

static char *upload_raw(const char *ep, const char *name, const char *data, size_t n, char sha[65])
{
	char path[256], *fid;
	struct resp *r;

	snprintf(path, sizeof path, "/episodes/%s/files?name=%s", ep, name);
	r = http("POST", path, tok_editor(), "audio/mpeg", data, n, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	if (sha != NULL)
		cr_assert_str_eq(resp_str(r, "sha256"), sha);
	fid = strdup(resp_str(r, "id"));
	resp_free(r);
	return fid;
}

static char *download_url(const char *fid, int expires_in)
{
	char path[128], *url;
	struct resp *r;

	snprintf(path, sizeof path, "/files/%s/url?expires_in=%d", fid, expires_in);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	url = strdup(resp_str(r, "url"));
	resp_free(r);
	return url;
}

static bool wait_gone(const char *ep, const char *fid, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (!object_exists(ep, fid))
			return true;
		usleep(100000);
	}
	return false;
}

/* ------------------------------------------------------------ tests */

Test(s3, raw_upload_lands_in_bucket_and_downloads_with_range)
{
	static char data[300000];
	char ep[37], sha[65], stored[65], *fid, *url;
	struct raw r;

	fill(data, sizeof data, 1);
	sha256_hex(data, sizeof data, sha);
	new_episode(ep);
	fid = upload_raw(ep, "take%201.mp3", data, sizeof data, sha);
	object_sha256(ep, fid, stored);
	cr_assert_str_eq(stored, sha, "the bucket holds other bytes");
	cr_assert_eq(spooled_files(), 0);

	/* The download URL is the store's own, presigned; no token needed. */
	url = download_url(fid, 60);
	cr_assert(strstr(url, "X-Amz-Signature=") != NULL, "%s", url);
	cr_assert(strstr(url, "/eccr-test/files/") != NULL, "%s", url);
	r = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_assert_eq(r.len, sizeof data);
	cr_assert_eq(memcmp(r.body, data, sizeof data), 0);
	free(r.body);
	r = raw_request("GET", url, NULL, 0, "Range: bytes=1000-1999");
	cr_assert_eq(r.status, 206);
	cr_assert_eq(r.len, 1000);
	cr_assert_eq(memcmp(r.body, data + 1000, 1000), 0);
	free(r.body);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE type = 'file_download' AND resource_id = $1", fid), 1);
	free(url);
	free(fid);
}

Test(s3, multipart_upload_lands_in_bucket)
{
	static char content[70000];
	char ep[37], path[128], sha[65], stored[65], fid[37];
	struct eccr_buf b = { 0 };
	struct resp *r;

	fill(content, sizeof content, 7);
	memcpy(content + 100, "\r\n--BoUnDaRx", 12);   /* almost the delimiter */
	sha256_hex(content, sizeof content, sha);
	new_episode(ep);
	eccr_buf_adds(&b, "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n"
	    "--BoUnDaRy\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
	    "Content-Type: audio/wav\r\n\r\n");
	eccr_buf_add(&b, content, sizeof content);
	eccr_buf_adds(&b, "\r\n--BoUnDaRy--\r\n");
	snprintf(path, sizeof path, "/episodes/%s/files", ep);
	r = http("POST", path, tok_editor(), "multipart/form-data; boundary=BoUnDaRy", b.p, b.len, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "sha256"), sha);
	cr_assert_str_eq(resp_str(r, "content_type"), "audio/wav");
	snprintf(fid, sizeof fid, "%s", resp_str(r, "id"));
	resp_free(r);
	eccr_buf_free(&b);
	object_sha256(ep, fid, stored);
	cr_assert_str_eq(stored, sha);
	cr_assert_eq(spooled_files(), 0);
}

Test(s3, over_the_limit_leaves_nothing)
{
	char ep[37], path[128];
	long objects = objects_in_bucket(), rows;
	struct eccr_buf b = { 0 };
	struct resp *r;
	char *big = calloc(1, 1100000);

	new_episode(ep);
	rows = db_long("SELECT count(*) FROM files", NULL);
	/* Declared too large: refused before reading. */
	snprintf(path, sizeof path, "/episodes/%s/files?name=big.bin", ep);
	r = http("POST", path, tok_editor(), "application/octet-stream", big, 1100000, NULL);
	assert_problem(r, 413, "payload_too_large");
	resp_free(r);
	/* A form within the declared allowance whose file part is too large:
	 * found while streaming, after part of it was spooled. */
	eccr_buf_adds(&b, "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n");
	eccr_buf_add(&b, big, 1048576 + 100);
	eccr_buf_adds(&b, "\r\n--B--\r\n");
	snprintf(path, sizeof path, "/episodes/%s/files", ep);
	r = http("POST", path, tok_editor(), "multipart/form-data; boundary=B", b.p, b.len, NULL);
	assert_problem(r, 413, "payload_too_large");
	resp_free(r);
	eccr_buf_free(&b);
	free(big);
	cr_assert_eq(db_long("SELECT count(*) FROM files", NULL), rows);
	cr_assert_eq(objects_in_bucket(), objects);
	cr_assert_eq(spooled_files(), 0);
}

Test(s3, direct_upload_then_complete)
{
	char ep[37], path[256], *url, *fid;
	const char *hello_sha = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
	json_object *file;
	struct resp *r;
	struct raw p;

	new_episode(ep);
	snprintf(path, sizeof path, "/episodes/%s/files/uploads", ep);
	r = http_json("POST", path, tok_editor(),
	    "{\"name\":\"direct.txt\",\"content_type\":\"text/plain\",\"size_bytes\":11}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "file", &file));
	fid = strdup(json_object_get_string(json_object_object_get(file, "id")));
	url = strdup(resp_str(r, "upload_url"));
	resp_free(r);
	cr_assert(strstr(url, "X-Amz-Signature=") != NULL, "%s", url);

	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	assert_problem(r, 409, "conflict");      /* nothing uploaded */
	resp_free(r);
	p = raw_request("PUT", url, "hello", 5, "Content-Type: text/plain");
	cr_assert_eq(p.status, 200, "%s", p.body);
	free(p.body);
	r = http_json("POST", path, tok_editor(), NULL);
	assert_problem(r, 409, "conflict");      /* 5 bytes, 11 declared */
	resp_free(r);
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE id = $1::uuid AND status = 'pending'", fid), 1);
	p = raw_request("PUT", url, "hello world", 11, "Content-Type: text/plain");
	cr_assert_eq(p.status, 200, "%s", p.body);
	free(p.body);
	/* A declared hash that differs: read back and refused. */
	r = http_json("POST", path, tok_editor(),
	    "{\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}");
	assert_problem(r, 409, "conflict");
	resp_free(r);
	r = http_json("POST", path, tok_editor(), "{\"sha256\":\"not hex\"}");
	assert_problem(r, 400, "validation_failed");
	resp_free(r);
	char body[100];
	snprintf(body, sizeof body, "{\"sha256\":\"%s\"}", hello_sha);
	r = http_json("POST", path, tok_editor(), body);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "ready");
	cr_assert_str_eq(resp_str(r, "sha256"), hello_sha);
	resp_free(r);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE type = 'file_uploaded' AND resource_id = $1", fid), 1);
	free(url);
	free(fid);
}

Test(s3, tampered_or_expired_presigned_urls_are_refused)
{
	static char data[1000];
	char ep[37], *fid, *url, *sig, was;
	struct raw r;

	fill(data, sizeof data, 3);
	new_episode(ep);
	fid = upload_raw(ep, "t.bin", data, sizeof data, NULL);
	url = download_url(fid, 60);
	sig = strstr(url, "X-Amz-Signature=") + 16;
	was = sig[0];
	sig[0] = was == 'a' ? 'b' : 'a';
	r = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(r.status, 403, "a tampered signature was accepted: %s", r.body);
	free(r.body);
	sig[0] = was;                            /* restored: fine again */
	r = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(r.status, 200, "%s", r.body);
	free(r.body);
	/* Another key under the same signature. */
	char *other = strdup(url), *k = strstr(other, fid);
	k[0] = k[0] == 'a' ? 'b' : 'a';
	r = raw_request("GET", other, NULL, 0, NULL);
	cr_assert_eq(r.status, 403, "a signature for another key was accepted");
	free(r.body);
	free(other);
	free(url);

	url = download_url(fid, 1);
	sleep(2);
	r = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(r.status, 403, "an expired URL was accepted");
	cr_assert(strstr(r.body, "expired") != NULL, "%s", r.body);
	free(r.body);
	free(url);
	free(fid);
}

Test(s3, deleting_files_and_episodes_removes_objects)
{
	char ep[37], path[128], *a, *b, *c;

	new_episode(ep);
	a = upload_raw(ep, "a.bin", "aaa", 3, NULL);
	b = upload_raw(ep, "b.bin", "bbb", 3, NULL);
	c = upload_raw(ep, "c.bin", "ccc", 3, NULL);
	cr_assert(object_exists(ep, a) && object_exists(ep, b) && object_exists(ep, c));

	snprintf(path, sizeof path, "/files/%s", a);
	struct resp *r = http_json("DELETE", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	cr_assert(wait_gone(ep, a, 10), "eccr-worker did not remove the object");
	cr_assert(object_exists(ep, b));

	snprintf(path, sizeof path, "/episodes/%s", ep);
	r = http_json("DELETE", path, tok_admin(), NULL);
	cr_assert_eq(r->status, 204, "%s", r->body);
	resp_free(r);
	cr_assert(wait_gone(ep, b, 10) && wait_gone(ep, c, 10), "the episode's objects stayed");
	cr_assert_eq(db_long("SELECT count(*) FROM storage_deletions", NULL), 0);
	free(a);
	free(b);
	free(c);
}

Test(s3, store_down_is_503_and_deletions_wait_for_it)
{
	static char data[50000];
	static const char form[] = "--B\r\nContent-Disposition: form-data; name=\"file\"; "
	    "filename=\"m\"\r\n\r\nxyz\r\n--B--\r\n";
	char ep[37], path[128], retry[16], *ready, *pending;
	long rows, objects;
	json_object *file;
	struct resp *r;

	fill(data, sizeof data, 5);
	new_episode(ep);
	ready = upload_raw(ep, "ready.bin", data, sizeof data, NULL);
	snprintf(path, sizeof path, "/episodes/%s/files/uploads", ep);
	r = http_json("POST", path, tok_editor(),
	    "{\"name\":\"p.txt\",\"content_type\":\"text/plain\",\"size_bytes\":5}");
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "file", &file));
	pending = strdup(json_object_get_string(json_object_object_get(file, "id")));
	resp_free(r);
	rows = db_long("SELECT count(*) FROM files", NULL);
	objects = objects_in_bucket();

	s3_ctl("ECCR_TEST_S3_STOP");
	/* Uploads, raw and multipart: 503, nothing kept anywhere. */
	snprintf(path, sizeof path, "/episodes/%s/files?name=x.bin", ep);
	r = http("POST", path, tok_editor(), "application/octet-stream", data, sizeof data, NULL);
	assert_problem(r, 503, "unavailable");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);
	snprintf(path, sizeof path, "/episodes/%s/files", ep);
	r = http("POST", path, tok_editor(), "multipart/form-data; boundary=B", form, strlen(form), NULL);
	assert_problem(r, 503, "unavailable");
	resp_free(r);
	cr_assert_eq(db_long("SELECT count(*) FROM files", NULL), rows);
	cr_assert_eq(spooled_files(), 0);
	/* Download URL and complete: 503 with Retry-After. */
	snprintf(path, sizeof path, "/files/%s/url", ready);
	r = http_json("GET", path, tok_viewer(), NULL);
	assert_problem(r, 503, "unavailable");
	cr_assert_not_null(resp_header(r, "Retry-After", retry, sizeof retry));
	resp_free(r);
	snprintf(path, sizeof path, "/files/%s/complete", pending);
	r = http_json("POST", path, tok_editor(), NULL);
	assert_problem(r, 503, "unavailable");
	resp_free(r);
	/* Everything else still works. */
	snprintf(path, sizeof path, "/files/%s", ready);
	r = http_json("GET", path, tok_viewer(), NULL);
	cr_assert_eq(r->status, 200);
	resp_free(r);
	r = http_root("GET", "/health", NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);
	/* A deletion waits: the worker retries with backoff. */
	r = http_json("DELETE", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 204);
	resp_free(r);
	for (int i = 0; i < 100 && db_long("SELECT coalesce(max(attempts), 0) FROM storage_deletions", NULL) < 1; i++)
		usleep(100000);
	cr_assert_geq(db_long("SELECT max(attempts) FROM storage_deletions", NULL), 1,
	    "the worker did not try while the store was down");
	cr_assert(object_exists(ep, ready));
	sleep(2);

	s3_ctl("ECCR_TEST_S3_START");
	cr_assert(wait_gone(ep, ready, 30), "the deletion was not retried once the store came back");
	cr_assert_eq(db_long("SELECT count(*) FROM storage_deletions", NULL), 0);
	cr_assert_eq(objects_in_bucket(), objects - 1);
	/* And uploads work again. */
	free(upload_raw(ep, "again.bin", data, sizeof data, NULL));
	free(ready);
	free(pending);
}

/* ------------------------------------------------------------ upload rules */

static const unsigned char elf_head[] = {
	0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x03, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00, 0x60, 0x10, 0x00, 0x00, 0, 0, 0, 0,
};
static const unsigned char mp3_head[] = {
	'I', 'D', '3', 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xfb, 0x90, 0x64, 0x00, 0x00, 0x00, 0x00,
};

/* A direct upload declared as type: the file id and presigned PUT URL. */
static void direct_start(const char *ep, const char *name, const char *type, size_t n, char fid[37],
    char **url)
{
	char path[128], body[256];
	json_object *file;
	struct resp *r;

	snprintf(path, sizeof path, "/episodes/%s/files/uploads", ep);
	snprintf(body, sizeof body, "{\"name\":\"%s\",\"content_type\":\"%s\",\"size_bytes\":%zu}",
	    name, type, n);
	r = http_json("POST", path, tok_editor(), body);
	cr_assert_eq(r->status, 201, "%s", r->body);
	cr_assert(json_object_object_get_ex(r->json, "file", &file));
	snprintf(fid, 37, "%s", json_object_get_string(json_object_object_get(file, "id")));
	*url = strdup(resp_str(r, "upload_url"));
	resp_free(r);
}

static void put_object(const char *url, const void *data, size_t n, const char *type)
{
	char header[160];
	struct raw p;

	snprintf(header, sizeof header, "Content-Type: %s", type);
	p = raw_request("PUT", url, data, n, header);
	cr_assert_eq(p.status, 200, "%s", p.body);
	free(p.body);
}

Test(s3, refused_content_is_stored_nowhere)
{
	static char elf[100000], svg[3000];
	static const char html[] = "<!DOCTYPE html><html><script>fetch('/api/v1/me')</script>";
	char ep[37], path[256], fid[37], *url;
	struct eccr_buf b = { 0 };
	long objects, rows;
	struct resp *r;

	fill(elf, sizeof elf, 2);
	memcpy(elf, elf_head, sizeof elf_head);
	memset(svg, ' ', sizeof svg);
	memcpy(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\">", 58);
	new_episode(ep);
	objects = objects_in_bucket();
	rows = db_long("SELECT count(*) FROM files", NULL);

	/* Streamed: refused before anything is spooled or PUT. */
	snprintf(path, sizeof path, "/episodes/%s/files?name=page.txt", ep);
	r = http("POST", path, tok_editor(), "text/plain", html, sizeof html - 1, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	cr_assert_not_null(strstr(resp_str(r, "detail"), "HTML"), "%s", r->body);
	resp_free(r);
	eccr_buf_adds(&b, "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
	    "Content-Type: audio/mpeg\r\n\r\n");
	eccr_buf_add(&b, elf, sizeof elf);
	eccr_buf_adds(&b, "\r\n--B--\r\n");
	snprintf(path, sizeof path, "/episodes/%s/files", ep);
	r = http("POST", path, tok_editor(), "multipart/form-data; boundary=B", b.p, b.len, NULL);
	assert_problem(r, 415, "unsupported_media_type");
	cr_assert_not_null(strstr(resp_str(r, "detail"), "an executable (ELF)"), "%s", r->body);
	resp_free(r);
	eccr_buf_free(&b);
	cr_assert_eq(db_long("SELECT count(*) FROM files", NULL), rows);
	cr_assert_eq(objects_in_bucket(), objects);
	cr_assert_eq(spooled_files(), 0);

	/* Direct, read back with a ranged GET at /complete: the object goes,
	 * the file stays pending, no event. */
	direct_start(ep, "x.png", "image/png", sizeof svg, fid, &url);
	put_object(url, svg, sizeof svg, "image/png");
	cr_assert(object_exists(ep, fid));
	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	assert_problem(r, 415, "unsupported_media_type");
	cr_assert_not_null(strstr(resp_str(r, "detail"), "SVG"), "%s", r->body);
	resp_free(r);
	cr_assert_not(object_exists(ep, fid), "the refused object is still in the bucket");
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE id = $1::uuid AND status = 'pending'", fid), 1);
	cr_assert_eq(db_long("SELECT count(*) FROM events WHERE resource_id = $1", fid), 0);
	free(url);
	direct_start(ep, "y.mp3", "audio/mpeg", sizeof elf, fid, &url);
	put_object(url, elf, sizeof elf, "audio/mpeg");
	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	assert_problem(r, 415, "unsupported_media_type");
	resp_free(r);
	cr_assert_not(object_exists(ep, fid));
	cr_assert_eq(db_long("SELECT count(*) FROM files WHERE id = $1::uuid AND status = 'pending'", fid), 1);
	free(url);
	cr_assert_eq(objects_in_bucket(), objects);
}

Test(s3, direct_uploads_that_pass_the_check)
{
	static char mp3[50000];
	char ep[37], path[256], fid[37], sha[65], *url;
	struct resp *r;

	fill(mp3, sizeof mp3, 4);
	memcpy(mp3, mp3_head, sizeof mp3_head);
	sha256_hex(mp3, sizeof mp3, sha);
	new_episode(ep);
	/* Longer than the bytes looked at: the rest is hashed, not refused. */
	direct_start(ep, "take.mp3", "audio/mpeg", sizeof mp3, fid, &url);
	put_object(url, mp3, sizeof mp3, "audio/mpeg");
	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "sha256"), sha);
	resp_free(r);
	free(url);
	/* Empty: nothing to read back (a range of it would be 416), and fine. */
	direct_start(ep, "empty.txt", "text/plain", 0, fid, &url);
	put_object(url, "", 0, "text/plain");
	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	cr_assert_str_eq(resp_str(r, "status"), "ready");
	resp_free(r);
	free(url);
}

Test(s3, download_url_sets_type_and_disposition)
{
	static char mp3[20000], bin[3000];
	char ep[37], path[256], fid[37], got[1024], *url, *bin_id;
	struct resp *r;
	struct raw g;

	fill(mp3, sizeof mp3, 6);
	memcpy(mp3, mp3_head, sizeof mp3_head);
	fill(bin, sizeof bin, 8);
	new_episode(ep);
	/* Stored by a client that sent its own Content-Type with the
	 * presigned PUT: the download still answers with the declared one. */
	direct_start(ep, "take 1.mp3", "audio/mpeg", sizeof mp3, fid, &url);
	put_object(url, mp3, sizeof mp3, "text/html");
	free(url);
	snprintf(path, sizeof path, "/files/%s/complete", fid);
	r = http_json("POST", path, tok_editor(), NULL);
	cr_assert_eq(r->status, 200, "%s", r->body);
	resp_free(r);

	url = download_url(fid, 60);
	cr_assert_not_null(strstr(url, "&response-content-disposition=inline%3B%20filename%3D%22"
	    "take%201.mp3%22%3B%20filename%2A%3DUTF-8%27%27take%25201.mp3"), "%s", url);
	cr_assert_not_null(strstr(url, "&response-content-type=audio%2Fmpeg"), "%s", url);
	g = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(g.status, 200, "%s", g.body);
	cr_assert_eq(g.len, sizeof mp3);
	cr_assert_str_eq(raw_header(&g, "Content-Type", got, sizeof got), "audio/mpeg");
	cr_assert_str_eq(raw_header(&g, "Content-Disposition", got, sizeof got),
	    "inline; filename=\"take 1.mp3\"; filename*=UTF-8''take%201.mp3");
	free(g.body);
	/* The overrides are signed: changed, the URL is refused. */
	char *tampered = strdup(url), *at = strstr(tampered, "response-content-type=audio");
	memcpy(at + strlen("response-content-type="), "video", 5);
	g = raw_request("GET", tampered, NULL, 0, NULL);
	cr_assert_eq(g.status, 403, "a changed response-content-type was accepted");
	free(g.body);
	free(tampered);
	free(url);

	snprintf(path, sizeof path, "/episodes/%s/files?name=caf%%C3%%A9.bin", ep);
	r = http("POST", path, tok_editor(), "application/octet-stream", bin, sizeof bin, NULL);
	cr_assert_eq(r->status, 201, "%s", r->body);
	bin_id = strdup(resp_str(r, "id"));
	resp_free(r);
	url = download_url(bin_id, 60);
	g = raw_request("GET", url, NULL, 0, NULL);
	cr_assert_eq(g.status, 200, "%s", g.body);
	cr_assert_str_eq(raw_header(&g, "Content-Type", got, sizeof got), "application/octet-stream");
	cr_assert_str_eq(raw_header(&g, "Content-Disposition", got, sizeof got),
	    "attachment; filename=\"caf_.bin\"; filename*=UTF-8''caf%C3%A9.bin");
	free(g.body);
	free(url);
	free(bin_id);
}
