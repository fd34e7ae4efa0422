/* storage_s3.c - the s3 backend: objects in a bucket of any S3-compatible
 * store.  Download and direct-upload URLs are SigV4 presigned (sigv4.c);
 * PUT, HEAD, GET (whole, or the first bytes with Range) and DELETE are sent
 * with libcurl, signed in headers.
 *
 * Streamed uploads are spooled to an unnamed temporary file under
 * storage.local_root/tmp while their SHA-256 is computed, then PUT with
 * x-amz-content-sha256 set to that hash, so the store checks the bytes it
 * received and the process never holds the file in memory.  The spool has
 * no name: whatever happens (413, a crash), nothing is left on disk.
 *
 * Each thread keeps its own curl handle (and so its connections) under a
 * pthread key; signals are never used (CURLOPT_NOSIGNAL), and every
 * request is bounded by a connect timeout and a low-speed limit. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "log.h"
#include "sigv4.h"
#include "storage_impl.h"
#include "util.h"

#define CONNECT_TIMEOUT_MS 5000L
#define SMALL_TIMEOUT_MS 30000L    /* HEAD, DELETE and a ranged GET */
#define LOW_SPEED_BYTES 1024L      /* a transfer slower than this ... */
#define LOW_SPEED_S 30L            /* ... for this long is given up */
#define ERRBODY_MAX 512

struct s3 {
	struct eccr_storage base;
	struct eccr_s3_target t;
	char *endpoint, *region, *bucket, *access_key_id, *secret_key;
	pthread_key_t curl_key;
	char spool[4200];
};

struct s3_writer {
	struct eccr_storage_writer base;
	int fd;
	EVP_MD_CTX *sha;
	int64_t size;
	char key[ECCR_STORAGE_KEY_MAX];
	char content_type[128];
};

/* One request and what came back. */
struct call {
	CURL *h;
	const char *method;        /* GET, HEAD, PUT or DELETE */
	const char *key;
	const char *payload_hash;  /* PUT: hex SHA-256 of the body */
	const char *content_type;  /* PUT: signed and stored with the object */
	int fd;                    /* PUT: the body */
	int64_t size;
	off_t off;
	EVP_MD_CTX *sink;          /* GET: hash the body of a 200 */
	bool sink_failed;
	const char *range;         /* GET: a Range header, signed */
	char *head;                /* GET: keep the body of a 200 or 206 here ... */
	size_t head_cap, head_got; /* ... up to head_cap bytes */
	bool head_full;            /* more came than head_cap: the transfer was cut */
	long status;
	int64_t length;            /* HEAD: Content-Length, or -1 */
	char errbody[ERRBODY_MAX];
	size_t errlen;
};

/* ------------------------------------------------------------ configuration */

static bool region_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* S3's bucket naming rules: 3..63 of a-z 0-9 . -, starting and ending
 * with a letter or digit, no "..".  (Legacy upper-case or '_' names are
 * refused: virtual-hosted addressing could never reach them.) */
static bool bucket_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
	    s[0] != '.' && s[0] != '-' && s[n - 1] != '.' && s[n - 1] != '-' &&
	    strstr(s, "..") == NULL;
}

static int check_config(const struct eccr_config *cfg, char *err, size_t errlen)
{
	const char *ep = cfg->storage.s3_endpoint, *rg = cfg->storage.s3_region;
	const char *bk = cfg->storage.s3_bucket, *id = cfg->storage.s3_access_key_id;
	const char *path = cfg->path ? cfg->path : "eccr.conf";

	if (ep == NULL || (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
		snprintf(err, errlen, "%s: storage.s3_endpoint: expected an http:// or https:// URL "
		    "such as https://s3.eu-west-1.amazonaws.com, got %s%s%s", path,
		    ep ? "\"" : "", ep ? ep : "nothing", ep ? "\"" : "");
		return -1;
	}
	if (rg == NULL || !region_ok(rg)) {
		snprintf(err, errlen, "%s: storage.s3_region: expected 1 to 64 of a-z, 0-9 and '-' "
		    "(\"us-east-1\"; \"auto\" or \"us-east-1\" for most other stores)", path);
		return -1;
	}
	if (bk == NULL || !bucket_ok(bk)) {
		snprintf(err, errlen, "%s: storage.s3_bucket: expected 3 to 63 of a-z, 0-9, '.' and "
		    "'-', beginning and ending with a letter or digit, without \"..\"", path);
		return -1;
	}
	if (id == NULL || id[0] == '\0') {
		snprintf(err, errlen, "%s: storage.s3_access_key_id is required with backend = s3",
		    path);
		return -1;
	}
	if (cfg->storage.s3_secret_key == NULL) {
		snprintf(err, errlen, "%s: storage.s3_secret_key_file is required with backend = s3 "
		    "(a file holding the secret access key)", path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ libcurl */

static void curl_free_handle(void *h)
{
	curl_easy_cleanup(h);
}

/* This thread's handle, made on first use; reset between requests so no
 * option leaks from one to the next, while its connections stay open. */
static CURL *thread_handle(struct s3 *s)
{
	CURL *h = pthread_getspecific(s->curl_key);

	if (h != NULL) {
		curl_easy_reset(h);
		return h;
	}
	if ((h = curl_easy_init()) != NULL && pthread_setspecific(s->curl_key, h) != 0) {
		curl_easy_cleanup(h);
		h = NULL;
	}
	return h;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct call *c = user;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (c->sink != NULL && status == 200) {
		if (EVP_DigestUpdate(c->sink, data, n) != 1) {
			c->sink_failed = true;
			return 0;       /* stops the transfer */
		}
	} else if (c->head != NULL && (status == 200 || status == 206)) {
		size_t k = n < c->head_cap - c->head_got ? n : c->head_cap - c->head_got;

		memcpy(c->head + c->head_got, data, k);
		c->head_got += k;
		if (k < n) {
			/* A store that ignored Range: what we need is here. */
			c->head_full = true;
			return 0;
		}
	} else if (c->errlen < ERRBODY_MAX - 1) {
		size_t k = n < ERRBODY_MAX - 1 - c->errlen ? n : ERRBODY_MAX - 1 - c->errlen;

		memcpy(c->errbody + c->errlen, data, k);
		c->errlen += k;
		c->errbody[c->errlen] = '\0';
	}
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user)
{
	struct call *c = user;
	ssize_t n;

	do
		n = pread(c->fd, buf, size * nmemb, c->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return CURL_READFUNC_ABORT;
	c->off += n;
	return (size_t)n;
}

/* curl rewinds the body when it must send it again (a 417 to Expect:). */
static int on_seek(void *user, curl_off_t offset, int origin)
{
	struct call *c = user;

	if (origin != SEEK_SET || offset < 0 || offset > c->size)
		return CURL_SEEKFUNC_FAIL;
	c->off = (off_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Append line to *hl; on failure *hl keeps the list so far (the caller
 * frees it): curl_slist_append returns NULL and would lose it. */
static bool header_add(struct curl_slist **hl, const char *line)
{
	struct curl_slist *n = curl_slist_append(*hl, line);

	if (n == NULL)
		return false;
	*hl = n;
	return true;
}

static int set_options(struct s3 *s, struct call *c, struct curl_slist **hl)
{
	struct eccr_sigv4_header extra[2];
	struct eccr_sigv4_auth auth;
	char url[ECCR_SIGV4_URL_MAX], line[ECCR_SIGV4_AUTH_MAX + 32];
	size_t nextra = 0;
	CURL *h = c->h;

	if (c->content_type != NULL && c->content_type[0] != '\0')
		extra[nextra++] = (struct eccr_sigv4_header){ "Content-Type", c->content_type };
	if (c->range != NULL)
		extra[nextra++] = (struct eccr_sigv4_header){ "Range", c->range };
	if (eccr_sigv4_sign_headers(&s->t, c->method, c->key, NULL, 0, extra, nextra,
	    c->payload_hash ? c->payload_hash : ECCR_SIGV4_EMPTY_SHA256, time(NULL), &auth,
	    url, sizeof url) != 0)
		return EINVAL;
	snprintf(line, sizeof line, "Authorization: %s", auth.authorization);
	if (!header_add(hl, line))
		return ENOMEM;
	snprintf(line, sizeof line, "x-amz-date: %s", auth.amz_date);
	if (!header_add(hl, line))
		return ENOMEM;
	snprintf(line, sizeof line, "x-amz-content-sha256: %s", auth.content_sha256);
	if (!header_add(hl, line))
		return ENOMEM;
	for (size_t i = 0; i < nextra; i++) {
		snprintf(line, sizeof line, "%s: %s", extra[i].name, extra[i].value);
		if (!header_add(hl, line))
			return ENOMEM;
	}

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hl);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_S);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	if (strcmp(c->method, "PUT") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->size);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, c);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
	} else if (strcmp(c->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SMALL_TIMEOUT_MS);
	} else if (strcmp(c->method, "DELETE") == 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SMALL_TIMEOUT_MS);
	} else if (c->range != NULL) {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SMALL_TIMEOUT_MS);
	}
	return 0;
}

/* The S3 error code of an XML error body ("NoSuchBucket"), for logs. */
static void error_code(const struct call *c, char out[64])
{
	const char *a = strstr(c->errbody, "<Code>"), *b;

	snprintf(out, 64, "no error code");
	if (a != NULL && (b = strstr(a + 6, "</Code>")) != NULL && b - a - 6 < 63)
		snprintf(out, 64, "%.*s", (int)(b - a - 6), a + 6);
}

/* Send the request.  0 with c->status set, or EAGAIN when the store could
 * not be reached or did not answer in time, or another errno value. */
static int perform(struct s3 *s, struct call *c)
{
	struct curl_slist *hl = NULL;
	CURLcode rc;
	curl_off_t len = -1;
	int e;

	c->status = 0;
	c->length = -1;
	if ((c->h = thread_handle(s)) == NULL)
		return ENOMEM;
	if ((e = set_options(s, c, &hl)) != 0) {
		curl_slist_free_all(hl);
		return e;
	}
	rc = curl_easy_perform(c->h);
	curl_slist_free_all(hl);
	if (c->sink_failed)
		return EIO;
	if (rc == CURLE_WRITE_ERROR && c->head_full)
		rc = CURLE_OK;          /* on_body cut it: we have what we asked for */
	if (rc != CURLE_OK) {
		eccr_warn("storage: s3 %s %s: %s", c->method, c->key, curl_easy_strerror(rc));
		return rc == CURLE_OUT_OF_MEMORY ? ENOMEM : rc == CURLE_READ_ERROR ? EIO : EAGAIN;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (curl_easy_getinfo(c->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK)
		c->length = (int64_t)len;
	return 0;
}

/* What a status means to our callers (storage.h). */
static int status_errno(const struct call *c)
{
	char code[64];

	if (c->status >= 200 && c->status < 300)
		return 0;
	if (c->status == 404 && strcmp(c->method, "DELETE") != 0 &&
	    (c->errlen == 0 || strstr(c->errbody, "NoSuchBucket") == NULL))
		return ENOENT;
	error_code(c, code);
	eccr_warn("storage: s3 %s %s answered %ld (%s)", c->method, c->key, c->status, code);
	if (c->status >= 500 || c->status == 408 || c->status == 429)
		return EAGAIN;
	return c->status == 403 ? EACCES : EIO;
}

/* ------------------------------------------------------------ objects */

static int s3_stat(struct eccr_storage *st, const char *key, int64_t *size)
{
	struct call c = { .method = "HEAD", .key = key, .fd = -1 };
	int e = perform((struct s3 *)st, &c);

	if (e == 0 && (e = status_errno(&c)) == 0) {
		if (c.length < 0)
			return EIO;
		*size = c.length;
	}
	return e;
}

static int s3_sha256(struct eccr_storage *st, const char *key, char hex[65])
{
	struct call c = { .method = "GET", .key = key, .fd = -1 };
	int e;

	if ((c.sink = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(c.sink, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c.sink);
		return ENOMEM;
	}
	e = perform((struct s3 *)st, &c);
	if (e == 0 && (e = status_errno(&c)) == 0)
		e = eccr_storage_sha256_final(c.sink, hex);
	EVP_MD_CTX_free(c.sink);
	return e;
}

static int s3_read_head(struct eccr_storage *st, const char *key, void *buf, size_t max,
    size_t *got)
{
	char range[48];
	struct call c = { .method = "GET", .key = key, .fd = -1, .range = range, .head = buf,
		.head_cap = max };
	int e;

	snprintf(range, sizeof range, "bytes=0-%zu", max - 1);
	e = perform((struct s3 *)st, &c);
	/* An empty object has no byte 0: S3 answers 416 InvalidRange. */
	if (e == 0 && c.status == 416) {
		*got = 0;
		return 0;
	}
	if (e == 0 && (e = status_errno(&c)) == 0)
		*got = c.head_got;
	return e;
}

static int s3_delete(struct eccr_storage *st, const char *key)
{
	struct call c = { .method = "DELETE", .key = key, .fd = -1 };
	int e = perform((struct s3 *)st, &c);

	/* S3 answers 204 whether or not the key existed; some stores 404. */
	if (e == 0 && c.status == 404 && strstr(c.errbody, "NoSuchBucket") == NULL)
		return 0;
	return e != 0 ? e : status_errno(&c);
}

static int s3_presign(struct eccr_storage *st, const char *method, const char *key,
    long expires_s, const char *response_type, const char *response_disposition,
    char *out, size_t outlen)
{
	struct s3 *s = (struct s3 *)st;
	struct eccr_sigv4_param q[2];
	size_t nq = 0;

	/* Signed query parameters: S3 answers the GET with these headers, so
	 * what a client stored with its presigned PUT never decides them. */
	if (response_disposition != NULL)
		q[nq++] = (struct eccr_sigv4_param){ "response-content-disposition",
			response_disposition };
	if (response_type != NULL)
		q[nq++] = (struct eccr_sigv4_param){ "response-content-type", response_type };
	return eccr_sigv4_presign_query(&s->t, method, key, q, nq, expires_s, time(NULL),
	    out, outlen) < 0 ? EINVAL : 0;
}

/* ------------------------------------------------------------ streamed uploads */

/* An unnamed file in the spool directory (O_TMPFILE), or, where the file
 * system lacks it, a named one unlinked at once. */
static int spool_open(const struct s3 *s)
{
	char path[4300];
	int fd = open(s->spool, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	snprintf(path, sizeof path, "%s/upload.XXXXXX", s->spool);
	if ((fd = mkostemp(path, O_CLOEXEC)) >= 0)
		unlink(path);
	return fd;
}

static void s3_abort(struct eccr_storage_writer *base)
{
	struct s3_writer *w = (struct s3_writer *)base;

	if (w->fd >= 0)
		close(w->fd);
	EVP_MD_CTX_free(w->sha);
	free(w);
}

static int s3_writer_open(struct eccr_storage *st, const char *key, const char *content_type,
    struct eccr_storage_writer **out)
{
	struct s3_writer *w = calloc(1, sizeof *w);
	int e;

	if (w == NULL)
		return ENOMEM;
	w->base.st = st;
	snprintf(w->key, sizeof w->key, "%s", key);
	snprintf(w->content_type, sizeof w->content_type, "%s",
	    content_type ? content_type : "application/octet-stream");
	if ((w->fd = spool_open((struct s3 *)st)) < 0) {
		e = errno;
		s3_abort(&w->base);
		return e;
	}
	if ((w->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
		s3_abort(&w->base);
		return ENOMEM;
	}
	*out = &w->base;
	return 0;
}

static int s3_write(struct eccr_storage_writer *base, const void *data, size_t n)
{
	struct s3_writer *w = (struct s3_writer *)base;

	if (EVP_DigestUpdate(w->sha, data, n) != 1)
		return EIO;
	w->size += (int64_t)n;
	return eccr_write_all(w->fd, data, n);
}

static int s3_commit(struct eccr_storage_writer *base)
{
	struct s3_writer *w = (struct s3_writer *)base;
	char hex[65];
	struct call c = { .method = "PUT", .key = w->key, .payload_hash = hex,
		.content_type = w->content_type, .fd = w->fd, .size = w->size };
	int e = eccr_storage_sha256_final(w->sha, hex);

	if (e == 0 && (e = perform((struct s3 *)base->st, &c)) == 0)
		e = status_errno(&c);
	s3_abort(base);          /* closing the spool frees its blocks */
	return e;
}

/* ------------------------------------------------------------ life */

static void s3_free(struct eccr_storage *st)
{
	struct s3 *s = (struct s3 *)st;
	CURL *h = pthread_getspecific(s->curl_key);

	/* Other threads' handles went with their threads (the key's
	 * destructor); the calling thread's goes here. */
	if (h != NULL) {
		pthread_setspecific(s->curl_key, NULL);
		curl_easy_cleanup(h);
	}
	pthread_key_delete(s->curl_key);
	free(s->endpoint);
	free(s->region);
	free(s->bucket);
	free(s->access_key_id);
	if (s->secret_key != NULL)
		OPENSSL_cleanse(s->secret_key, strlen(s->secret_key));
	free(s->secret_key);
	free(s);
	curl_global_cleanup();
}

static const struct eccr_storage_ops s3_ops = {
	.writer_open = s3_writer_open,
	.write = s3_write,
	.commit = s3_commit,
	.abort = s3_abort,
	.stat = s3_stat,
	.sha256 = s3_sha256,
	.read_head = s3_read_head,
	.delete_ = s3_delete,
	.presign = s3_presign,
	.free_ = s3_free,
};

struct eccr_storage *eccr_storage_s3_new(const struct eccr_config *cfg, char *err, size_t errlen)
{
	struct s3 *s;
	char host[ECCR_SIGV4_HOST_MAX];
	int e;

	if (check_config(cfg, err, errlen) != 0)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "storage: libcurl could not start");
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL || pthread_key_create(&s->curl_key, curl_free_handle) != 0) {
		free(s);
		curl_global_cleanup();
		snprintf(err, errlen, "storage: out of memory");
		return NULL;
	}
	s->base.ops = &s3_ops;
	s->base.backend = ECCR_STORAGE_S3;
	snprintf(s->base.root, sizeof s->base.root, "%s", cfg->storage.local_root);
	s->endpoint = strdup(cfg->storage.s3_endpoint);
	s->region = strdup(cfg->storage.s3_region);
	s->bucket = strdup(cfg->storage.s3_bucket);
	s->access_key_id = strdup(cfg->storage.s3_access_key_id);
	s->secret_key = strdup(cfg->storage.s3_secret_key);
	s->t = (struct eccr_s3_target){ s->endpoint, s->region, s->bucket, cfg->storage.s3_path_style,
		s->access_key_id, s->secret_key };
	if (s->endpoint == NULL || s->region == NULL || s->bucket == NULL ||
	    s->access_key_id == NULL || s->secret_key == NULL) {
		snprintf(err, errlen, "storage: out of memory");
		s3_free(&s->base);
		return NULL;
	}
	/* Everything else sigv4.c checks: the endpoint's host and port, no
	 * path or user, an IP literal with virtual-hosted addressing, the
	 * key id's characters. */
	if (eccr_sigv4_host(&s->t, host, sizeof host) < 0) {
		snprintf(err, errlen, "%s: storage.s3_endpoint \"%s\", s3_bucket, s3_path_style or "
		    "s3_access_key_id cannot be used: the endpoint must be scheme://host[:port] with "
		    "no path (a DNS name when s3_path_style = false), the key id printable ASCII "
		    "without '/' or spaces", cfg->path ? cfg->path : "eccr.conf", s->endpoint);
		s3_free(&s->base);
		return NULL;
	}
	snprintf(s->spool, sizeof s->spool, "%s/tmp", s->base.root);
	if ((e = eccr_storage_mkdirs(s->spool, 0750)) != 0) {
		snprintf(err, errlen, "storage.local_root: cannot create %s to spool uploads: %s",
		    s->spool, strerror(e));
		s3_free(&s->base);
		return NULL;
	}
	return &s->base;
}
