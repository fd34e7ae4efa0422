/* Unit tests: src/lib/sigv4.c
 *
 * The worked examples are copied from AWS's documentation, inputs and
 * expected values alike; each block names its page.  They were checked
 * against the published text (and the many independent implementations
 * that test against the same vectors), not recalled. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sigv4.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 20130524T000000Z, the instant of every S3 example. */
#define MAY24 ((time_t)1369353600)

/* The S3 examples' credentials (note the '/' where the general SigV4
 * pages have a '+'). */
static const struct eccr_s3_target example = {
	.endpoint = "https://s3.amazonaws.com",
	.region = "us-east-1",
	.bucket = "examplebucket",
	.path_style = false,
	.access_key_id = "AKIAIOSFODNN7EXAMPLE",
	.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

/* Canonical request -> string to sign -> signature with the example's
 * secret, checking the published string to sign on the way. */
static void check_chain(const char *cr, const char *want_sts, const char *want_sig)
{
	char sts[256], sig[65];
	unsigned char key[32];
	int n;

	n = eccr_sigv4_string_to_sign("20130524T000000Z", "us-east-1", "s3", cr,
	    strlen(cr), sts, sizeof sts);
	cr_assert_eq(n, (int)strlen(want_sts));
	cr_assert_str_eq(sts, want_sts);
	cr_assert_eq(eccr_sigv4_signing_key(example.secret_key, "20130524", "us-east-1",
	    "s3", key), 0);
	cr_assert_eq(eccr_sigv4_signature(key, sts, (size_t)n, sig), 0);
	cr_assert_str_eq(sig, want_sig);
}

/* ------------------------------------------------------------ (a) presigned URL
 * "Authenticating Requests: Using Query Parameters (AWS Signature Version
 * 4)", Amazon S3 API Reference, section "An Example":
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 * GET /test.txt from examplebucket (virtual-hosted), 20130524T000000Z,
 * us-east-1, X-Amz-Expires=86400. */

static const char presign_cr[] =
    "GET\n"
    "/test.txt\n"
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "\n"
    "host\n"
    "UNSIGNED-PAYLOAD";
static const char presign_sts[] =
    "AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n"
    "20130524/us-east-1/s3/aws4_request\n"
    "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04";
static const char presign_sig[] =
    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
static const char presign_url[] =
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z"
    "&X-Amz-Expires=86400"
    "&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

Test(aws_presign, canonical_request_string_to_sign_signature)
{
	const struct eccr_sigv4_header h[] = { { "Host", "examplebucket.s3.amazonaws.com" } };
	const char *q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
	char cr[1024];

	cr_assert_eq(eccr_sigv4_canonical_request("GET", "/test.txt", q, h, 1,
	    "UNSIGNED-PAYLOAD", cr, sizeof cr), (int)strlen(presign_cr));
	cr_assert_str_eq(cr, presign_cr);
	check_chain(presign_cr, presign_sts, presign_sig);
}

Test(aws_presign, full_url)
{
	char url[ECCR_SIGV4_URL_MAX];
	int n;

	n = eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, url, sizeof url);
	cr_assert_eq(n, (int)strlen(presign_url));
	cr_assert_str_eq(url, presign_url);
}

Test(aws_presign, query_built_by_canonical_query)
{
	/* The same query from unsorted, unencoded parameters. */
	const struct eccr_sigv4_param p[] = {
		{ "X-Amz-SignedHeaders", "host" },
		{ "X-Amz-Expires", "86400" },
		{ "X-Amz-Date", "20130524T000000Z" },
		{ "X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request" },
		{ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" },
	};
	char q[512];

	cr_assert_gt(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), 0);
	cr_assert_str_eq(q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host");
}

/* The same request with S3's response-* overrides signed into the query
 * (what a download URL of eccr-fcgi carries): they sort after the X-Amz-*
 * parameters (upper case first), values encoded once more in the query. */
static const char presign_resp_cr[] =
    "GET\n"
    "/test.txt\n"
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&response-content-disposition=attachment%3B%20filename%3D%22caf_.txt%22%3B%20"
    "filename%2A%3DUTF-8%27%27caf%25C3%25A9.txt"
    "&response-content-type=text%2Fplain%3B%20charset%3Dutf-8\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "\n"
    "host\n"
    "UNSIGNED-PAYLOAD";

Test(aws_presign, response_overrides_are_signed_query_parameters)
{
	const struct eccr_sigv4_param resp[] = {
		{ "response-content-type", "text/plain; charset=utf-8" },
		{ "response-content-disposition",
		  "attachment; filename=\"caf_.txt\"; filename*=UTF-8''caf%C3%A9.txt" },
	};
	const struct eccr_sigv4_param bad[] = { { "X-Amz-Expires", "1" } };
	const struct eccr_sigv4_param bad_case[] = { { "x-amz-signature", "0" } };
	char url[ECCR_SIGV4_URL_MAX + 512], plain[ECCR_SIGV4_URL_MAX], sts[256], sig[65], want[1200];
	unsigned char key[32];
	const char *q;
	int n;

	n = eccr_sigv4_presign_query(&example, "GET", "test.txt", resp, LEN(resp), 86400, MAY24,
	    url, sizeof url);
	cr_assert_gt(n, 0);
	cr_assert_eq(n, (int)strlen(url));
	/* The URL is the canonical query, then the signature of presign_resp_cr. */
	n = eccr_sigv4_string_to_sign("20130524T000000Z", "us-east-1", "s3", presign_resp_cr,
	    strlen(presign_resp_cr), sts, sizeof sts);
	cr_assert_gt(n, 0);
	cr_assert_eq(eccr_sigv4_signing_key(example.secret_key, "20130524", "us-east-1", "s3", key), 0);
	cr_assert_eq(eccr_sigv4_signature(key, sts, (size_t)n, sig), 0);
	q = strchr(presign_resp_cr + 4, '\n') + 1;
	snprintf(want, sizeof want, "https://examplebucket.s3.amazonaws.com/test.txt?%.*s"
	    "&X-Amz-Signature=%s", (int)(strchr(q, '\n') - q), q, sig);
	cr_assert_str_eq(url, want);

	/* None: exactly eccr_sigv4_presign, AWS's example. */
	cr_assert_gt(eccr_sigv4_presign_query(&example, "GET", "test.txt", NULL, 0, 86400, MAY24,
	    plain, sizeof plain), 0);
	cr_assert_str_eq(plain, presign_url);
	/* The signature covers them: another disposition, another signature. */
	cr_assert_null(strstr(url, presign_sig));
	/* The signature's own parameters cannot be set or repeated. */
	cr_assert_eq(eccr_sigv4_presign_query(&example, "GET", "test.txt", bad, 1, 60, MAY24,
	    url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign_query(&example, "GET", "test.txt", bad_case, 1, 60, MAY24,
	    url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign_query(&example, "GET", "test.txt", NULL, 1, 60, MAY24,
	    url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign_query(&example, "GET", "test.txt", resp, 28, 60, MAY24,
	    url, sizeof url), -1);
}

/* ------------------------------------------------------------ (b) Authorization header
 * "Authenticating Requests: Using the Authorization Header (AWS Signature
 * Version 4)", Amazon S3 API Reference, section "Examples: Signature
 * Calculations":
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 * Four requests to examplebucket (virtual-hosted) at 20130524T000000Z. */

static const char get_object_cr[] =
    "GET\n"
    "/test.txt\n"
    "\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "range:bytes=0-9\n"
    "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-amz-date:20130524T000000Z\n"
    "\n"
    "host;range;x-amz-content-sha256;x-amz-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char get_object_sts[] =
    "AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n"
    "20130524/us-east-1/s3/aws4_request\n"
    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972";
static const char get_object_auth[] =
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

Test(aws_header, get_object)
{
	/* GET /test.txt with Range: bytes=0-9 and the empty body's hash. */
	const struct eccr_sigv4_header all[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", ECCR_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", "20130524T000000Z" },
	};
	const struct eccr_sigv4_header extra[] = { { "Range", "bytes=0-9" } };
	struct eccr_sigv4_auth a;
	char cr[1024], url[256];

	cr_assert_gt(eccr_sigv4_canonical_request("GET", "/test.txt", "", all, LEN(all),
	    ECCR_SIGV4_EMPTY_SHA256, cr, sizeof cr), 0);
	cr_assert_str_eq(cr, get_object_cr);
	check_chain(get_object_cr, get_object_sts,
	    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");

	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", "test.txt", NULL, 0,
	    extra, LEN(extra), ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, url, sizeof url), 0);
	cr_assert_str_eq(a.authorization, get_object_auth);
	cr_assert_str_eq(a.amz_date, "20130524T000000Z");
	cr_assert_str_eq(a.content_sha256, ECCR_SIGV4_EMPTY_SHA256);
	cr_assert_str_eq(url, "https://examplebucket.s3.amazonaws.com/test.txt");
}

static const char put_object_cr[] =
    "PUT\n"
    "/test%24file.text\n"
    "\n"
    "date:Fri, 24 May 2013 00:00:00 GMT\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
    "x-amz-date:20130524T000000Z\n"
    "x-amz-storage-class:REDUCED_REDUNDANCY\n"
    "\n"
    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
static const char put_object_sts[] =
    "AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n"
    "20130524/us-east-1/s3/aws4_request\n"
    "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d";
static const char put_object_auth[] =
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
    "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd";

Test(aws_header, put_object)
{
	/* PUT /test$file.text, body "Welcome to Amazon S3.", with Date and
	 * x-amz-storage-class: REDUCED_REDUNDANCY. */
	const char body[] = "Welcome to Amazon S3.";
	const struct eccr_sigv4_header extra[] = {
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct eccr_sigv4_header all[5];
	struct eccr_sigv4_auth a;
	char hash[65], uri[64], cr[1024], url[256];

	cr_assert_eq(eccr_sigv4_sha256_hex(body, strlen(body), hash), 0);
	cr_assert_str_eq(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	cr_assert_gt(eccr_sigv4_canonical_uri(&example, "test$file.text", uri, sizeof uri), 0);
	cr_assert_str_eq(uri, "/test%24file.text");

	all[0] = extra[1];      /* order does not matter */
	all[1] = (struct eccr_sigv4_header){ "x-amz-date", "20130524T000000Z" };
	all[2] = (struct eccr_sigv4_header){ "HOST", "examplebucket.s3.amazonaws.com" };
	all[3] = extra[0];
	all[4] = (struct eccr_sigv4_header){ "X-Amz-Content-Sha256", hash };
	cr_assert_gt(eccr_sigv4_canonical_request("PUT", uri, "", all, LEN(all), hash,
	    cr, sizeof cr), 0);
	cr_assert_str_eq(cr, put_object_cr);
	check_chain(put_object_cr, put_object_sts,
	    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");

	cr_assert_eq(eccr_sigv4_sign_headers(&example, "PUT", "test$file.text", NULL, 0,
	    extra, LEN(extra), hash, MAY24, &a, url, sizeof url), 0);
	cr_assert_str_eq(a.authorization, put_object_auth);
	cr_assert_str_eq(a.content_sha256, hash);
	cr_assert_str_eq(url, "https://examplebucket.s3.amazonaws.com/test%24file.text");
}

static const char lifecycle_cr[] =
    "GET\n"
    "/\n"
    "lifecycle=\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-amz-date:20130524T000000Z\n"
    "\n"
    "host;x-amz-content-sha256;x-amz-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char lifecycle_sts[] =
    "AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n"
    "20130524/us-east-1/s3/aws4_request\n"
    "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca";
static const char lifecycle_auth[] =
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
    "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543";

Test(aws_header, get_bucket_lifecycle)
{
	/* GET /?lifecycle: a parameter without a value is signed as "lifecycle=". */
	const struct eccr_sigv4_param p[] = { { "lifecycle", NULL } };
	const struct eccr_sigv4_header all[] = {
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", ECCR_SIGV4_EMPTY_SHA256 },
		{ "x-amz-date", "20130524T000000Z" },
	};
	struct eccr_sigv4_auth a;
	char q[64], uri[16], cr[1024], url[256];

	cr_assert_eq(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), 10);
	cr_assert_str_eq(q, "lifecycle=");
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, NULL, uri, sizeof uri), 1);
	cr_assert_str_eq(uri, "/");
	cr_assert_gt(eccr_sigv4_canonical_request("GET", uri, q, all, LEN(all),
	    ECCR_SIGV4_EMPTY_SHA256, cr, sizeof cr), 0);
	cr_assert_str_eq(cr, lifecycle_cr);
	check_chain(lifecycle_cr, lifecycle_sts,
	    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", NULL, p, LEN(p), NULL, 0,
	    ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, url, sizeof url), 0);
	cr_assert_str_eq(a.authorization, lifecycle_auth);
	cr_assert_str_eq(url, "https://examplebucket.s3.amazonaws.com/?lifecycle=");
}

static const char list_cr[] =
    "GET\n"
    "/\n"
    "max-keys=2&prefix=J\n"
    "host:examplebucket.s3.amazonaws.com\n"
    "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
    "x-amz-date:20130524T000000Z\n"
    "\n"
    "host;x-amz-content-sha256;x-amz-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char list_sts[] =
    "AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n"
    "20130524/us-east-1/s3/aws4_request\n"
    "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7";
static const char list_auth[] =
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
    "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7";

Test(aws_header, get_bucket_list_objects)
{
	/* GET /?max-keys=2&prefix=J, parameters given out of order. */
	const struct eccr_sigv4_param p[] = { { "prefix", "J" }, { "max-keys", "2" } };
	const struct eccr_sigv4_header all[] = {
		{ "x-amz-date", "20130524T000000Z" },
		{ "host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", ECCR_SIGV4_EMPTY_SHA256 },
	};
	struct eccr_sigv4_auth a;
	char q[64], cr[1024], url[256];

	cr_assert_gt(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), 0);
	cr_assert_str_eq(q, "max-keys=2&prefix=J");
	cr_assert_gt(eccr_sigv4_canonical_request("GET", "/", q, all, LEN(all),
	    ECCR_SIGV4_EMPTY_SHA256, cr, sizeof cr), 0);
	cr_assert_str_eq(cr, list_cr);
	check_chain(list_cr, list_sts,
	    "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");

	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", "", p, LEN(p), NULL, 0,
	    ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, url, sizeof url), 0);
	cr_assert_str_eq(a.authorization, list_auth);
	cr_assert_str_eq(url, "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J");
}

/* ------------------------------------------------------------ (c) signing key
 * General SigV4 documentation, "Examples of how to derive a signing key
 * for Signature Version 4" (AWS General Reference,
 * https://docs.aws.amazon.com/general/latest/gr/signature-v4-examples.html,
 * now in the IAM User Guide's "Create a signed AWS API request").  Its
 * secret has '+' where the S3 examples' has '/'. */

Test(signing_key, general_reference_example)
{
	const char *secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	char ksecret[] = "AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	char hex[2 * sizeof ksecret + 1];
	unsigned char k[32];

	/* kSecret as printed there: the hex of "AWS4" + secret. */
	eccr_sigv4_hex((const unsigned char *)ksecret, strlen(ksecret), hex);
	cr_assert_str_eq(hex, "41575334774a616c725855746e46454d492f4b374d44454e472b62507852666943594558414d504c454b4559");

	/* dateStamp 20120215, us-east-1, service iam. */
	cr_assert_eq(eccr_sigv4_signing_key(secret, "20120215", "us-east-1", "iam", k), 0);
	eccr_sigv4_hex(k, 32, hex);
	cr_assert_str_eq(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

Test(signing_key, iam_list_users_example)
{
	/* The same pages' worked request: IAM ListUsers at 20150830T123600Z,
	 * whose signing key, canonical request hash and signature they print. */
	const char *secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	const struct eccr_sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "iam.amazonaws.com" },
		{ "X-Amz-Date", "20150830T123600Z" },
	};
	const struct eccr_sigv4_param p[] = {
		{ "Version", "2010-05-08" }, { "Action", "ListUsers" },
	};
	char q[64], cr[512], sts[256], hex[65], sig[65];
	unsigned char k[32];
	int n;

	cr_assert_eq(eccr_sigv4_signing_key(secret, "20150830", "us-east-1", "iam", k), 0);
	eccr_sigv4_hex(k, 32, hex);
	cr_assert_str_eq(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");

	cr_assert_gt(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), 0);
	cr_assert_str_eq(q, "Action=ListUsers&Version=2010-05-08");
	n = eccr_sigv4_canonical_request("GET", "/", q, h, LEN(h), ECCR_SIGV4_EMPTY_SHA256,
	    cr, sizeof cr);
	cr_assert_gt(n, 0);
	cr_assert_eq(eccr_sigv4_sha256_hex(cr, (size_t)n, hex), 0);
	cr_assert_str_eq(hex, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	n = eccr_sigv4_string_to_sign("20150830T123600Z", "us-east-1", "iam", cr, (size_t)n,
	    sts, sizeof sts);
	cr_assert_gt(n, 0);
	cr_assert_str_eq(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
	    "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	cr_assert_eq(eccr_sigv4_signature(k, sts, (size_t)n, sig), 0);
	cr_assert_str_eq(sig, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

Test(signing_key, rejects)
{
	unsigned char k[32];

	cr_assert_eq(eccr_sigv4_signing_key("", "20120215", "us-east-1", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key(NULL, "20120215", "us-east-1", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key("s", "2012021", "us-east-1", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key("s", "2012021x", "us-east-1", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key("s", "20120215", "us/east", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key("s", "20120215", "", "s3", k), -1);
	cr_assert_eq(eccr_sigv4_signing_key("s", "20120215", "us-east-1", NULL, k), -1);
}

/* ------------------------------------------------------------ hex, hashes, dates */

Test(hex, sha256)
{
	char out[65];

	cr_assert_eq(eccr_sigv4_sha256_hex("", 0, out), 0);
	cr_assert_str_eq(out, ECCR_SIGV4_EMPTY_SHA256);
	cr_assert_eq(eccr_sigv4_sha256_hex(NULL, 0, out), 0);
	cr_assert_str_eq(out, ECCR_SIGV4_EMPTY_SHA256);
	cr_assert_eq(eccr_sigv4_sha256_hex("abc", 3, out), 0);   /* FIPS 180-2 */
	cr_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	cr_assert_eq(eccr_sigv4_sha256_hex(NULL, 1, out), -1);
}

Test(hex, bytes)
{
	const unsigned char in[] = { 0x00, 0x0f, 0xa0, 0xff };
	char out[9];

	eccr_sigv4_hex(in, sizeof in, out);
	cr_assert_str_eq(out, "000fa0ff");
	eccr_sigv4_hex(in, 0, out);
	cr_assert_str_eq(out, "");
}

Test(amz_date, formats_and_bounds)
{
	char d[17], day[9];

	cr_assert_eq(eccr_sigv4_amz_date(MAY24, d, day), 0);
	cr_assert_str_eq(d, "20130524T000000Z");
	cr_assert_str_eq(day, "20130524");
	cr_assert_eq(eccr_sigv4_amz_date(0, d, day), 0);
	cr_assert_str_eq(d, "19700101T000000Z");
	cr_assert_eq(eccr_sigv4_amz_date((time_t)1440938160, d, day), 0);
	cr_assert_str_eq(d, "20150830T123600Z");
	cr_assert_eq(eccr_sigv4_amz_date((time_t)253402300799LL, d, day), 0);
	cr_assert_str_eq(d, "99991231T235959Z");
	cr_assert_eq(eccr_sigv4_amz_date((time_t)253402300800LL, d, day), -1);
	cr_assert_eq(eccr_sigv4_amz_date((time_t)-1, d, day), -1);
	cr_assert_str_eq(d, "");
}

/* ------------------------------------------------------------ URI encoding */

Test(uri_encode, table)
{
	static const struct {
		const char *in;
		bool keep_slash;
		const char *out;
	} t[] = {
		{ "", false, "" },
		{ "AZaz09-._~", false, "AZaz09-._~" },
		{ "a b", false, "a%20b" },
		{ "a+b", false, "a%2Bb" },          /* never '+' for space, nor kept */
		{ "a/b", true, "a/b" },
		{ "a/b", false, "a%2Fb" },
		{ "~user", true, "~user" },
		{ "*!'()", false, "%2A%21%27%28%29" },
		{ "%41", false, "%2541" },          /* a literal '%' is data: encoded once */
		{ "=&?#", false, "%3D%26%3F%23" },
		{ "\xc3\xbc", false, "%C3%BC" },    /* ü, upper-case hex */
		{ "\xe2\x82\xac/\xf0\x9f\x98\x80", true, "%E2%82%AC/%F0%9F%98%80" },
		{ "\t\x7f", false, "%09%7F" },
	};
	char out[64];

	for (size_t i = 0; i < LEN(t); i++) {
		int n = eccr_sigv4_uri_encode(t[i].in, strlen(t[i].in), t[i].keep_slash,
		    out, sizeof out);

		cr_assert_eq(n, (int)strlen(t[i].out), "case %zu", i);
		cr_assert_str_eq(out, t[i].out, "case %zu", i);
	}
}

Test(uri_encode, bounded)
{
	char out[8];

	cr_assert_eq(eccr_sigv4_uri_encode("a b", 3, false, out, 6), 5);  /* exact fit */
	cr_assert_str_eq(out, "a%20b");
	cr_assert_eq(eccr_sigv4_uri_encode("a b", 3, false, out, 5), -1);
	cr_assert_eq(out[4], '\0');         /* still terminated */
	cr_assert_eq(eccr_sigv4_uri_encode("a", 1, false, out, 0), -1);
	cr_assert_eq(eccr_sigv4_uri_encode("a", 1, false, NULL, 8), -1);
	cr_assert_eq(eccr_sigv4_uri_encode(NULL, 1, false, out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_uri_encode("a\0b", 3, false, out, sizeof out), 5);
	cr_assert_str_eq(out, "a%00b");
}

/* ------------------------------------------------------------ canonical pieces */

Test(canonical_uri, keys_path_style_and_virtual)
{
	struct eccr_s3_target path = example, virt = example;
	static const struct {
		const char *key, *path, *virt;
	} t[] = {
		{ "test.txt", "/examplebucket/test.txt", "/test.txt" },
		{ "a b/c~d+e/\xc3\xbc.txt", "/examplebucket/a%20b/c~d%2Be/%C3%BC.txt",
		  "/a%20b/c~d%2Be/%C3%BC.txt" },
		{ "files/0f/1a", "/examplebucket/files/0f/1a", "/files/0f/1a" },
		{ "a//b/", "/examplebucket/a//b/", "/a//b/" },      /* no normalising */
		{ "/lead", "/examplebucket//lead", "//lead" },
		{ "./x/../y", "/examplebucket/./x/../y", "/./x/../y" },
		{ "100%.txt", "/examplebucket/100%25.txt", "/100%25.txt" },
		{ "%2F", "/examplebucket/%252F", "/%252F" },
		{ "\xe6\x97\xa5\xe6\x9c\xac", "/examplebucket/%E6%97%A5%E6%9C%AC", "/%E6%97%A5%E6%9C%AC" },
	};
	char out[256];

	path.path_style = true;
	for (size_t i = 0; i < LEN(t); i++) {
		cr_assert_gt(eccr_sigv4_canonical_uri(&path, t[i].key, out, sizeof out), 0);
		cr_assert_str_eq(out, t[i].path, "case %zu", i);
		cr_assert_gt(eccr_sigv4_canonical_uri(&virt, t[i].key, out, sizeof out), 0);
		cr_assert_str_eq(out, t[i].virt, "case %zu", i);
	}
	cr_assert_eq(eccr_sigv4_canonical_uri(&path, NULL, out, sizeof out), 14);
	cr_assert_str_eq(out, "/examplebucket");
	cr_assert_eq(eccr_sigv4_canonical_uri(&virt, "", out, sizeof out), 1);
	cr_assert_str_eq(out, "/");
}

Test(canonical_uri, rejects_bad_keys)
{
	char key[ECCR_SIGV4_KEY_MAX + 2];
	static char out[4 * ECCR_SIGV4_KEY_MAX];

	cr_assert_eq(eccr_sigv4_canonical_uri(&example, "\xc3", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, "\xc0\xaf", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, "\xed\xa0\x80", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, "\xff", out, sizeof out), -1);
	memset(key, 'k', ECCR_SIGV4_KEY_MAX);
	key[ECCR_SIGV4_KEY_MAX] = '\0';
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, key, out, sizeof out),
	    ECCR_SIGV4_KEY_MAX + 1);
	key[ECCR_SIGV4_KEY_MAX] = 'k';
	key[ECCR_SIGV4_KEY_MAX + 1] = '\0';
	cr_assert_eq(eccr_sigv4_canonical_uri(&example, key, out, sizeof out), -1);
}

Test(canonical_query, sorts_by_encoded_bytes)
{
	/* Raw '.' sorts before '/', but encoded "%2F" before "."; upper case
	 * before lower; equal names by value; no value is "name=". */
	const struct eccr_sigv4_param p[] = {
		{ "a.b", "2" }, { "a/b", "1" }, { "b", "x y" }, { "B", "+" },
		{ "k", "2" }, { "k", "10" }, { "flag", NULL }, { "e", "" },
		{ "\xc3\xbc", "~/" },
	};
	char q[256];

	cr_assert_gt(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), 0);
	cr_assert_str_eq(q, "%C3%BC=~%2F&B=%2B&a%2Fb=1&a.b=2&b=x%20y&e=&flag=&k=10&k=2");
	cr_assert_eq(eccr_sigv4_canonical_query(NULL, 0, q, sizeof q), 0);
	cr_assert_str_eq(q, "");
}

Test(canonical_query, rejects)
{
	struct eccr_sigv4_param p[ECCR_SIGV4_MAX_PARAMS + 1];
	const struct eccr_sigv4_param noname[] = { { "", "v" } };
	char q[1024];

	for (size_t i = 0; i < LEN(p); i++)
		p[i] = (struct eccr_sigv4_param){ "a", "b" };
	cr_assert_gt(eccr_sigv4_canonical_query(p, ECCR_SIGV4_MAX_PARAMS, q, sizeof q), 0);
	cr_assert_eq(eccr_sigv4_canonical_query(p, LEN(p), q, sizeof q), -1);
	cr_assert_eq(eccr_sigv4_canonical_query(noname, 1, q, sizeof q), -1);
	cr_assert_eq(eccr_sigv4_canonical_query(NULL, 1, q, sizeof q), -1);
	cr_assert_eq(eccr_sigv4_canonical_query(p, 2, q, 7), -1);    /* "a=b&a=b" */
	cr_assert_eq(eccr_sigv4_canonical_query(p, 2, q, 8), 7);
}

Test(canonical_headers, trims_lowercases_and_validates)
{
	const struct eccr_sigv4_header h[] = {
		{ "X-Amz-Meta-Note", "  two   words\there  " },
		{ "Host", "h" },
	};
	const struct eccr_sigv4_header dup[] = { { "Host", "a" }, { "host", "b" } };
	const struct eccr_sigv4_header badname[] = { { "Bad Name", "a" } };
	const struct eccr_sigv4_header crlf[] = { { "x", "a\r\nInjected: 1" } };
	const struct eccr_sigv4_header nul[] = { { "x", NULL } };
	char out[256];

	cr_assert_gt(eccr_sigv4_canonical_request("GET", "/", "", h, LEN(h),
	    "UNSIGNED-PAYLOAD", out, sizeof out), 0);
	cr_assert_str_eq(out, "GET\n/\n\nhost:h\nx-amz-meta-note:two words here\n\n"
	    "host;x-amz-meta-note\nUNSIGNED-PAYLOAD");
	cr_assert_gt(eccr_sigv4_signed_headers(h, LEN(h), out, sizeof out), 0);
	cr_assert_str_eq(out, "host;x-amz-meta-note");
	cr_assert_eq(eccr_sigv4_signed_headers(dup, LEN(dup), out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_signed_headers(badname, 1, out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_signed_headers(crlf, 1, out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_signed_headers(nul, 1, out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_signed_headers(h, 0, out, sizeof out), -1);
}

Test(canonical_request, rejects)
{
	const struct eccr_sigv4_header h[] = { { "host", "h" } };
	char out[256];

	cr_assert_eq(eccr_sigv4_canonical_request("get", "/", "", h, 1,
	    "UNSIGNED-PAYLOAD", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_request("GET", "x", "", h, 1,
	    "UNSIGNED-PAYLOAD", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_request("GET", "/", "a\nb", h, 1,
	    "UNSIGNED-PAYLOAD", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_request("GET", "/", "", h, 1,
	    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_request("GET", "/", "", h, 1, "abc", out, sizeof out), -1);
	cr_assert_eq(eccr_sigv4_canonical_request("GET", "/", "", h, 1,
	    "UNSIGNED-PAYLOAD", out, 20), -1);
	cr_assert_eq(strlen(out), 19);      /* truncated, terminated */
}

/* ------------------------------------------------------------ hosts and targets */

Test(host, endpoints)
{
	static const struct {
		const char *endpoint;
		bool path_style;
		const char *host;
	} t[] = {
		{ "https://s3.amazonaws.com", false, "examplebucket.s3.amazonaws.com" },
		{ "https://s3.amazonaws.com", true, "s3.amazonaws.com" },
		{ "https://s3.amazonaws.com/", true, "s3.amazonaws.com" },
		{ "HTTPS://S3.EU-Central-1.AmazonAWS.com", false,
		  "examplebucket.s3.eu-central-1.amazonaws.com" },
		{ "https://s3.example.com:443", true, "s3.example.com" },    /* default port */
		{ "http://s3.example.com:80", true, "s3.example.com" },
		{ "http://s3.example.com:443", true, "s3.example.com:443" },
		{ "https://s3.example.com:80", true, "s3.example.com:80" },
		{ "https://minio.local:9000", false, "examplebucket.minio.local:9000" },
		{ "http://127.0.0.1:4568", true, "127.0.0.1:4568" },
		{ "http://localhost:4568", false, "examplebucket.localhost:4568" },
		{ "http://[::1]:9000", true, "[::1]:9000" },
		{ "https://[FD00::1]", true, "[fd00::1]" },
	};
	struct eccr_s3_target tg = example;
	char out[ECCR_SIGV4_HOST_MAX];

	for (size_t i = 0; i < LEN(t); i++) {
		tg.endpoint = t[i].endpoint;
		tg.path_style = t[i].path_style;
		cr_assert_eq(eccr_sigv4_host(&tg, out, sizeof out), (int)strlen(t[i].host),
		    "case %zu", i);
		cr_assert_str_eq(out, t[i].host, "case %zu", i);
	}
}

Test(host, rejects_endpoints)
{
	static const struct {
		const char *endpoint;
		bool path_style;
	} t[] = {
		{ "s3.amazonaws.com", true },
		{ "ftp://s3.amazonaws.com", true },
		{ "https://", true },
		{ "https://:9000", true },
		{ "https://s3.example.com/base", true },
		{ "https://s3.example.com/base/", true },
		{ "https://s3.example.com?x=1", true },
		{ "https://user@s3.example.com", true },
		{ "https://s3.example.com:", true },
		{ "https://s3.example.com:0", true },
		{ "https://s3.example.com:65536", true },
		{ "https://s3.example.com:123456", true },
		{ "https://s3.example.com:9x", true },
		{ "https://s3_example.com", true },
		{ "https://.example.com", true },
		{ "https://[::1", true },
		{ "https://[]", true },
		{ "https://[::g]", true },
		{ "http://127.0.0.1:4568", false },    /* virtual-hosted needs a name */
		{ "http://[::1]:9000", false },
		{ NULL, true },
	};
	struct eccr_s3_target tg = example;
	char out[ECCR_SIGV4_HOST_MAX];

	for (size_t i = 0; i < LEN(t); i++) {
		tg.endpoint = t[i].endpoint;
		tg.path_style = t[i].path_style;
		cr_assert_eq(eccr_sigv4_host(&tg, out, sizeof out), -1, "case %zu", i);
	}
	cr_assert_eq(eccr_sigv4_host(NULL, out, sizeof out), -1);
}

Test(host, rejects_targets)
{
	struct eccr_s3_target tg;
	char out[ECCR_SIGV4_HOST_MAX];

#define REJECT(field, value, ps) do { \
	tg = example; \
	tg.path_style = (ps); \
	tg.field = (value); \
	cr_assert_eq(eccr_sigv4_host(&tg, out, sizeof out), -1, #field " " #value); \
} while (0)
	REJECT(bucket, "ab", true);
	REJECT(bucket, "Upper", false);        /* fine path-style, not in a host name */
	REJECT(bucket, "under_score", false);
	REJECT(bucket, "a..b", false);
	REJECT(bucket, "-abc", false);
	REJECT(bucket, "abc-", false);
	REJECT(bucket, "a b c", true);
	REJECT(bucket, "a/b/c", true);
	REJECT(bucket, NULL, true);
	REJECT(region, "", true);
	REJECT(region, "us/east", true);
	REJECT(region, NULL, true);
	REJECT(access_key_id, "", true);
	REJECT(access_key_id, "AKIA/X", true);
	REJECT(access_key_id, "AKIA X", true);
	REJECT(secret_key, "", true);
	REJECT(secret_key, NULL, true);
#undef REJECT
	tg = example;
	tg.path_style = true;
	tg.bucket = "Legacy_Bucket.Name";
	cr_assert_gt(eccr_sigv4_host(&tg, out, sizeof out), 0);
	cr_assert_eq(eccr_sigv4_canonical_uri(&tg, "k", out, sizeof out), 21);
	cr_assert_str_eq(out, "/Legacy_Bucket.Name/k");
}

/* ------------------------------------------------------------ presign */

Test(presign, path_style_port_and_encoding)
{
	struct eccr_s3_target tg = example;
	char url[ECCR_SIGV4_URL_MAX];
	const char *want_prefix =
	    "http://127.0.0.1:4568/examplebucket/a%20b/c~d%2Be/%C3%BC.txt"
	    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Feu-central-1%2Fs3%2Faws4_request"
	    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
	    "&X-Amz-Signature=";
	int n;

	tg.endpoint = "http://127.0.0.1:4568";
	tg.region = "eu-central-1";
	tg.path_style = true;
	n = eccr_sigv4_presign(&tg, "PUT", "a b/c~d+e/\xc3\xbc.txt", 900, MAY24, url, sizeof url);
	cr_assert_eq(n, (int)strlen(want_prefix) + 64);
	cr_assert_eq(strncmp(url, want_prefix, strlen(want_prefix)), 0, "%s", url);
	for (int i = n - 64; i < n; i++)
		cr_assert(strchr("0123456789abcdef", url[i]) != NULL);
}

Test(presign, signature_depends_on_every_input)
{
	struct eccr_s3_target tg = example;
	char base[ECCR_SIGV4_URL_MAX], other[ECCR_SIGV4_URL_MAX];
	const char *sig;

	cr_assert_gt(eccr_sigv4_presign(&tg, "GET", "k", 60, MAY24, base, sizeof base), 0);
	sig = strstr(base, "X-Amz-Signature=");
	cr_assert_not_null(sig);

#define DIFFERS(call) do { \
	cr_assert_gt((call), 0); \
	cr_assert_null(strstr(other, sig), #call); \
} while (0)
	DIFFERS(eccr_sigv4_presign(&tg, "PUT", "k", 60, MAY24, other, sizeof other));
	DIFFERS(eccr_sigv4_presign(&tg, "HEAD", "k", 60, MAY24, other, sizeof other));
	DIFFERS(eccr_sigv4_presign(&tg, "DELETE", "k", 60, MAY24, other, sizeof other));
	DIFFERS(eccr_sigv4_presign(&tg, "GET", "K", 60, MAY24, other, sizeof other));
	DIFFERS(eccr_sigv4_presign(&tg, "GET", "k", 61, MAY24, other, sizeof other));
	DIFFERS(eccr_sigv4_presign(&tg, "GET", "k", 60, MAY24 + 1, other, sizeof other));
	tg.path_style = true;
	DIFFERS(eccr_sigv4_presign(&tg, "GET", "k", 60, MAY24, other, sizeof other));
	tg = example;
	tg.secret_key = "another";
	DIFFERS(eccr_sigv4_presign(&tg, "GET", "k", 60, MAY24, other, sizeof other));
#undef DIFFERS
	/* And is stable. */
	tg = example;
	cr_assert_gt(eccr_sigv4_presign(&tg, "GET", "k", 60, MAY24, other, sizeof other), 0);
	cr_assert_str_eq(other, base);
}

Test(presign, expires_bounds)
{
	char url[ECCR_SIGV4_URL_MAX];

	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "k", 0, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "k", -1, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "k", 604801, MAY24, url, sizeof url), -1);
	cr_assert_gt(eccr_sigv4_presign(&example, "GET", "k", 1, MAY24, url, sizeof url), 0);
	cr_assert_not_null(strstr(url, "&X-Amz-Expires=1&"));
	cr_assert_gt(eccr_sigv4_presign(&example, "GET", "k", 604800, MAY24, url, sizeof url), 0);
	cr_assert_not_null(strstr(url, "&X-Amz-Expires=604800&"));
}

Test(presign, rejects_inputs)
{
	char url[ECCR_SIGV4_URL_MAX];

	cr_assert_eq(eccr_sigv4_presign(&example, "POST", "k", 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "get", "k", 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, NULL, "k", 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "", 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", NULL, 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "\xc3(", 60, MAY24, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "k", 60, (time_t)-1, url, sizeof url), -1);
	cr_assert_eq(eccr_sigv4_presign(NULL, "GET", "k", 60, MAY24, url, sizeof url), -1);
	cr_assert_str_eq(url, "");
}

Test(presign, buffer_too_small)
{
	char url[ECCR_SIGV4_URL_MAX];
	size_t n = strlen(presign_url);

	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, url, n + 1),
	    (int)n);
	cr_assert_str_eq(url, presign_url);
	memset(url, 'x', sizeof url);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, url, n), -1);
	cr_assert_lt(strlen(url), n);       /* terminated within the buffer */
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, url, 1), -1);
	cr_assert_str_eq(url, "");
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, url, 0), -1);
	cr_assert_eq(eccr_sigv4_presign(&example, "GET", "test.txt", 86400, MAY24, NULL, 0), -1);
}

Test(presign, longest_key_fits_url_max)
{
	static char key[ECCR_SIGV4_KEY_MAX + 1], url[ECCR_SIGV4_URL_MAX];
	struct eccr_s3_target tg = example;

	memset(key, ' ', ECCR_SIGV4_KEY_MAX);   /* every byte encodes to three */
	tg.path_style = true;
	tg.endpoint = "https://a-rather-long-endpoint-name.s3.dualstack.eu-central-1.amazonaws.com:8443";
	cr_assert_gt(eccr_sigv4_presign(&tg, "DELETE", key, 604800, MAY24, url, sizeof url), 3 * ECCR_SIGV4_KEY_MAX);
}

/* ------------------------------------------------------------ sign_headers */

Test(sign_headers, path_style_query_url)
{
	struct eccr_s3_target tg = example;
	const struct eccr_sigv4_param p[] = { { "uploads", NULL }, { "prefix", "a b/" } };
	const char *auth_prefix = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"
	    "20130524/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;"
	    "x-amz-date,Signature=";
	struct eccr_sigv4_auth a;
	char url[256];

	tg.endpoint = "http://127.0.0.1:4568";
	tg.path_style = true;
	cr_assert_eq(eccr_sigv4_sign_headers(&tg, "HEAD", "files/x y", p, LEN(p), NULL, 0,
	    ECCR_SIGV4_UNSIGNED_PAYLOAD, MAY24, &a, url, sizeof url), 0);
	cr_assert_str_eq(url, "http://127.0.0.1:4568/examplebucket/files/x%20y?prefix=a%20b%2F&uploads=");
	cr_assert_str_eq(a.content_sha256, "UNSIGNED-PAYLOAD");
	cr_assert_eq(strncmp(a.authorization, auth_prefix, strlen(auth_prefix)), 0, "%s",
	    a.authorization);
	cr_assert_eq(strlen(a.authorization), strlen(auth_prefix) + 64);
	/* url is optional */
	cr_assert_eq(eccr_sigv4_sign_headers(&tg, "DELETE", "k", NULL, 0, NULL, 0,
	    ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, NULL, 0), 0);
}

Test(sign_headers, rejects)
{
	const struct eccr_sigv4_header host[] = { { "Host", "evil" } };
	const struct eccr_sigv4_header date[] = { { "X-AMZ-DATE", "x" } };
	const struct eccr_sigv4_header sha[] = { { "x-amz-content-sha256", "x" } };
	const struct eccr_sigv4_header auth[] = { { "Authorization", "x" } };
	const struct eccr_sigv4_header dup[] = { { "Range", "a" }, { "range", "b" } };
	struct eccr_sigv4_header many[ECCR_SIGV4_MAX_HEADERS];
	char names[ECCR_SIGV4_MAX_HEADERS][8];
	struct eccr_sigv4_auth a;
	char url[256];

#define FAILS(m, h, n, hash) do { \
	memset(&a, 'x', sizeof a); \
	cr_assert_eq(eccr_sigv4_sign_headers(&example, (m), "k", NULL, 0, (h), (n), (hash), \
	    MAY24, &a, url, sizeof url), -1); \
	cr_assert_str_eq(a.authorization, ""); \
} while (0)
	FAILS("GET", host, 1, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("GET", date, 1, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("GET", sha, 1, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("GET", auth, 1, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("GET", dup, 2, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("PATCH", NULL, 0, ECCR_SIGV4_EMPTY_SHA256);
	FAILS("GET", NULL, 0, "");
	FAILS("GET", NULL, 0, NULL);
	FAILS("GET", NULL, 1, ECCR_SIGV4_EMPTY_SHA256);
	for (size_t i = 0; i < LEN(many); i++) {
		snprintf(names[i], sizeof names[i], "x-h%zu", i);
		many[i] = (struct eccr_sigv4_header){ names[i], "v" };
	}
	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", "k", NULL, 0, many,
	    ECCR_SIGV4_MAX_HEADERS - 3, ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, url, sizeof url), 0);
	FAILS("GET", many, ECCR_SIGV4_MAX_HEADERS - 2, ECCR_SIGV4_EMPTY_SHA256);
#undef FAILS
	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", "k", NULL, 0, NULL, 0,
	    ECCR_SIGV4_EMPTY_SHA256, MAY24, NULL, url, sizeof url), -1);
	/* the URL does not fit: nothing is half-returned */
	cr_assert_eq(eccr_sigv4_sign_headers(&example, "GET", "test.txt", NULL, 0, NULL, 0,
	    ECCR_SIGV4_EMPTY_SHA256, MAY24, &a, url, 20), -1);
	cr_assert_str_eq(a.authorization, "");
}
