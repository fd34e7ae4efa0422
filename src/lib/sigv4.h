/* sigv4.h - AWS Signature Version 4 for S3 and S3-compatible stores:
 * presigned URLs (query-string auth, UNSIGNED-PAYLOAD) and Authorization
 * headers for requests sent with libcurl.
 *
 * Pure and reentrant: no globals, no I/O, no heap (fixed-size stack
 * buffers, about 32 KiB at most; HMAC-SHA256 and SHA-256 through OpenSSL's
 * one-shot calls), so any thread may call anything here at any time.
 * Every function that writes text writes a NUL-terminated string into a
 * caller's buffer of a stated size and returns its length (or 0 where
 * noted), or -1 when an input is invalid or the output would not fit; it
 * never aborts.  On -1 the output is unspecified (but terminated when its
 * size is not zero).
 *
 * References: "Authenticating Requests: Using Query Parameters (AWS
 * Signature Version 4)" and "... Using the Authorization Header" in the
 * Amazon S3 API Reference; "Create a signed AWS API request" in the IAM
 * User Guide.  S3 differs from other services in that the path is encoded
 * once, never normalised (".", ".." and "//" are part of the key). */
#ifndef ECCR_SIGV4_H
#define ECCR_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define ECCR_SIGV4_KEY_MAX 1024          /* bytes of an object key (S3's limit) */
#define ECCR_SIGV4_EXPIRES_MAX 604800L   /* 7 days: SigV4's limit on X-Amz-Expires */
#define ECCR_SIGV4_MAX_HEADERS 32        /* signed headers in one request */
#define ECCR_SIGV4_MAX_PARAMS 32         /* query parameters in one request */
#define ECCR_SIGV4_HOST_MAX 320          /* bucket.host:port plus NUL */
#define ECCR_SIGV4_AUTH_MAX 1024         /* an Authorization value plus NUL */
/* Room a presigned URL can need: a maximal key encodes to 3 bytes a byte. */
#define ECCR_SIGV4_URL_MAX (3 * ECCR_SIGV4_KEY_MAX + 1536)
#define ECCR_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* Hex SHA-256 of the empty string: the payload hash of a bodiless request. */
#define ECCR_SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Where the objects are, and who signs.  Borrowed: nothing here is copied
 * or kept past a call.
 *   endpoint       "https://s3.amazonaws.com", "http://127.0.0.1:4568",
 *                  "https://[::1]:9000"; scheme http or https, an optional
 *                  port, at most a trailing "/" (no base path, no userinfo).
 *                  The port appears in URLs and in the signed Host only
 *                  when it is not the scheme's default.
 *   region         "us-east-1", or whatever the store expects ("auto").
 *   bucket         path-style: 3..255 of [A-Za-z0-9._-], sent as the first
 *                  path segment; virtual-hosted: 3..63 of [a-z0-9.-] with
 *                  no "..", prefixed to the endpoint's host name, which
 *                  must then be a DNS name rather than an IP literal.
 *   access_key_id  printable ASCII without '/' or spaces.
 *   secret_key     non-empty. */
struct eccr_s3_target {
	const char *endpoint;
	const char *region;
	const char *bucket;
	bool path_style;
	const char *access_key_id;
	const char *secret_key;
};

/* A request header to sign (names are matched case-insensitively). */
struct eccr_sigv4_header {
	const char *name;
	const char *value;
};

/* A query parameter, unencoded; value NULL means "name" alone ("?lifecycle"),
 * which SigV4 signs as "name=". */
struct eccr_sigv4_param {
	const char *name;
	const char *value;
};

/* ------------------------------------------------------------ the two uses */

/* A presigned URL for method (GET, PUT, HEAD or DELETE) on object key
 * (UTF-8, 1..ECCR_SIGV4_KEY_MAX bytes), valid expires_s seconds
 * (1..604800) from now.  Signs only "host", with UNSIGNED-PAYLOAD, so a
 * presigned PUT accepts any body and Content-Type.  The query carries
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders and, last, X-Amz-Signature.  Returns the URL's
 * length or -1. */
int eccr_sigv4_presign(const struct eccr_s3_target *t, const char *method,
    const char *key, long expires_s, time_t now, char *out, size_t outlen);

/* The same with more query parameters signed into the URL (unencoded,
 * any order, at most ECCR_SIGV4_MAX_PARAMS - 5, none named X-Amz-*), such
 * as S3's response-content-disposition and response-content-type, which
 * make the store answer a GET with those headers.  The URL then needs
 * room for them, percent-encoded, beyond ECCR_SIGV4_URL_MAX. */
int eccr_sigv4_presign_query(const struct eccr_s3_target *t, const char *method,
    const char *key, const struct eccr_sigv4_param *extra, size_t nextra,
    long expires_s, time_t now, char *out, size_t outlen);

/* What to add to a request signed with eccr_sigv4_sign_headers. */
struct eccr_sigv4_auth {
	char authorization[ECCR_SIGV4_AUTH_MAX];  /* the Authorization value */
	char amz_date[17];                        /* the x-amz-date value */
	char content_sha256[65];                  /* the x-amz-content-sha256 value */
};

/* Sign a GET, PUT, HEAD, DELETE or POST request on key (NULL or "" for
 * the bucket itself) with the given query parameters (any order; at most
 * ECCR_SIGV4_MAX_PARAMS) and extra headers to sign (Range, Content-Type,
 * x-amz-*, ...; at most ECCR_SIGV4_MAX_HEADERS - 3, none of them Host,
 * x-amz-date, x-amz-content-sha256 or Authorization, no name twice).
 * payload_hash is the lower-case hex SHA-256 of the body
 * (ECCR_SIGV4_EMPTY_SHA256 when there is none) or "UNSIGNED-PAYLOAD".
 * Signs host, x-amz-content-sha256, x-amz-date and the extra headers.
 *
 * The request must then be sent to exactly the URL written to url (when
 * url is not NULL): scheme, host, encoded path and the canonical, sorted
 * query, which is what was signed.  libcurl derives the same Host from it;
 * set CURLOPT_PATH_AS_IS if keys may hold "." or ".." segments, which curl
 * (like browsers, for presigned URLs) would otherwise squash.
 * Send "Authorization: <out->authorization>", "x-amz-date: <out->amz_date>",
 * "x-amz-content-sha256: <out->content_sha256>" and each extra header
 * with the value given here.  Returns 0 or -1. */
int eccr_sigv4_sign_headers(const struct eccr_s3_target *t, const char *method,
    const char *key, const struct eccr_sigv4_param *query, size_t nquery,
    const struct eccr_sigv4_header *headers, size_t nheaders,
    const char *payload_hash, time_t now, struct eccr_sigv4_auth *out,
    char *url, size_t urllen);

/* ------------------------------------------------------------ the pieces
 * Exposed for the tests and for the s3 backend's error messages. */

/* Lower-case hex of n bytes; out needs 2n+1 bytes. */
void eccr_sigv4_hex(const unsigned char *in, size_t n, char *out);
/* Lower-case hex SHA-256 of data; 0 or -1 (OpenSSL failed). */
int eccr_sigv4_sha256_hex(const void *data, size_t n, char out[65]);

/* AWS URI encoding: A-Z a-z 0-9 - . _ ~ as they are, every other byte as
 * %XY with upper-case hex; '/' too unless keep_slash (object key paths).
 * Returns the length or -1. */
int eccr_sigv4_uri_encode(const char *s, size_t n, bool keep_slash,
    char *out, size_t outlen);

/* "20130524T000000Z" and "20130524" for now (UTC, years 1970..9999);
 * 0 or -1. */
int eccr_sigv4_amz_date(time_t now, char amz_date[17], char date[9]);

/* The endpoint's Host value as signed: "s3.amazonaws.com",
 * "examplebucket.s3.amazonaws.com" (virtual-hosted), "127.0.0.1:4568".
 * Returns the length or -1 (also when t is invalid). */
int eccr_sigv4_host(const struct eccr_s3_target *t, char *out, size_t outlen);

/* The path of key, encoded once: "/bucket/a%20b/c" path-style, "/a%20b/c"
 * virtual-hosted; key NULL or "" gives "/bucket" or "/".  This is both the
 * canonical URI and the path to send.  Returns the length or -1. */
int eccr_sigv4_canonical_uri(const struct eccr_s3_target *t, const char *key,
    char *out, size_t outlen);

/* The canonical query string: names and values URI-encoded ('/' too),
 * sorted by encoded name then value, "name=value" joined with '&'.
 * Returns the length (0 for no parameters) or -1. */
int eccr_sigv4_canonical_query(const struct eccr_sigv4_param *params, size_t n,
    char *out, size_t outlen);

/* "host;range;x-amz-date": the headers' lower-case names, sorted.
 * Returns the length or -1 (bad or duplicate name, too many). */
int eccr_sigv4_signed_headers(const struct eccr_sigv4_header *headers, size_t n,
    char *out, size_t outlen);

/* The canonical request:
 *   method \n canonical_uri \n canonical_query \n
 *   (lower-case name ":" trimmed value, spaces collapsed, \n)* sorted \n
 *   signed headers \n payload_hash
 * headers are all the headers to sign, Host included.  canonical_uri must
 * start with '/'; payload_hash is 64 lower-case hex digits or
 * "UNSIGNED-PAYLOAD".  Returns the length or -1. */
int eccr_sigv4_canonical_request(const char *method, const char *canonical_uri,
    const char *canonical_query, const struct eccr_sigv4_header *headers,
    size_t nheaders, const char *payload_hash, char *out, size_t outlen);

/* "AWS4-HMAC-SHA256\n" amz_date "\n" date/region/service/aws4_request "\n"
 * hex SHA-256 of the canonical request.  Returns the length or -1. */
int eccr_sigv4_string_to_sign(const char *amz_date, const char *region,
    const char *service, const char *canonical_request, size_t crlen,
    char *out, size_t outlen);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request"), date being "YYYYMMDD".  0 or -1. */
int eccr_sigv4_signing_key(const char *secret_key, const char *date,
    const char *region, const char *service, unsigned char out[32]);

/* Hex HMAC-SHA256(signing_key, string_to_sign).  0 or -1. */
int eccr_sigv4_signature(const unsigned char signing_key[32],
    const char *string_to_sign, size_t n, char out[65]);

#endif
