/* Unit tests: webhook-http's signing (against the Standard Webhooks
 * specification's published example), secrets, outcomes, Retry-After. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "webhook.h"

/* The example every Standard Webhooks library tests against. */
#define SPEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS 1614265330
#define SPEC_BODY "{\"test\": 2432232314}"
#define SPEC_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

Test(webhook, signs_the_specification_example)
{
	unsigned char key[WEBHOOK_KEY_MAX];
	char sig[WEBHOOK_SIGNATURE_LEN];
	int n = webhook_secret_key(SPEC_SECRET, key);

	cr_assert_eq(n, 24);
	cr_assert_eq(webhook_sign(key, (size_t)n, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), sig), 0);
	cr_assert_str_eq(sig, SPEC_SIGNATURE);
	/* the prefix is optional, white space around it ignored */
	cr_assert_eq(webhook_secret_key("  MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", key), 24);
	cr_assert_eq(webhook_sign(key, 24, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), sig), 0);
	cr_assert_str_eq(sig, SPEC_SIGNATURE);
}

Test(webhook, any_change_changes_the_signature)
{
	unsigned char key[WEBHOOK_KEY_MAX];
	char a[WEBHOOK_SIGNATURE_LEN], b[WEBHOOK_SIGNATURE_LEN];
	int n = webhook_secret_key(SPEC_SECRET, key);

	webhook_sign(key, (size_t)n, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), a);
	webhook_sign(key, (size_t)n, SPEC_ID, SPEC_TS + 1, SPEC_BODY, strlen(SPEC_BODY), b);
	cr_assert_str_neq(a, b);
	webhook_sign(key, (size_t)n, "msg_other", SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), b);
	cr_assert_str_neq(a, b);
	webhook_sign(key, (size_t)n, SPEC_ID, SPEC_TS, "{\"test\": 2432232315}", 20, b);
	cr_assert_str_neq(a, b);
	key[0] ^= 1;
	webhook_sign(key, (size_t)n, SPEC_ID, SPEC_TS, SPEC_BODY, strlen(SPEC_BODY), b);
	cr_assert_str_neq(a, b);
}

Test(webhook, bad_secrets_are_refused)
{
	unsigned char key[WEBHOOK_KEY_MAX];

	cr_assert_eq(webhook_secret_key("", key), -1);
	cr_assert_eq(webhook_secret_key("whsec_", key), -1);
	cr_assert_eq(webhook_secret_key("whsec_not base64 at all!", key), -1);
	cr_assert_eq(webhook_secret_key("whsec_c2hvcnQ=", key), -1);            /* 5 bytes: too short */
	cr_assert_eq(webhook_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", key), -1);  /* not whole */
	cr_assert_eq(webhook_secret_key("whsec_MfKQ9r8GKYqrTwjU=D8ILPZIo2LaLaSw", key), -1); /* = inside */
	/* 64 bytes is the most, 65 too many */
	cr_assert_eq(webhook_secret_key("whsec_"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	    key), 64);
	cr_assert_eq(webhook_secret_key("whsec_"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    key), -1);
}

Test(webhook, outcomes)
{
	cr_assert_eq(webhook_outcome(200), 0);
	cr_assert_eq(webhook_outcome(204), 0);
	cr_assert_eq(webhook_outcome(299), 0);
	cr_assert_eq(webhook_outcome(408), 1);
	cr_assert_eq(webhook_outcome(429), 1);
	cr_assert_eq(webhook_outcome(500), 1);
	cr_assert_eq(webhook_outcome(503), 1);
	cr_assert_eq(webhook_outcome(599), 1);
	cr_assert_eq(webhook_outcome(400), 2);
	cr_assert_eq(webhook_outcome(401), 2);
	cr_assert_eq(webhook_outcome(404), 2);
	cr_assert_eq(webhook_outcome(410), 2);
	cr_assert_eq(webhook_outcome(301), 2);   /* redirects are not followed */
	cr_assert_eq(webhook_outcome(100), 2);
}

static time_t fixed_date(const char *s)
{
	/* what curl_getdate gives for this one date, and nothing else */
	return strcmp(s, "Wed, 21 Oct 2015 07:28:00 GMT") == 0 ? 1445412480 : (time_t)-1;
}

Test(webhook, retry_after)
{
	cr_assert_eq(webhook_retry_after_ms(NULL, 0, fixed_date), -1);
	cr_assert_eq(webhook_retry_after_ms("2", 0, fixed_date), 2000);
	cr_assert_eq(webhook_retry_after_ms(" 120\r\n", 0, fixed_date), 120000);
	cr_assert_eq(webhook_retry_after_ms("0", 0, fixed_date), 0);
	cr_assert_eq(webhook_retry_after_ms("-1", 0, fixed_date), -1);
	cr_assert_eq(webhook_retry_after_ms("2s", 0, fixed_date), -1);
	cr_assert_eq(webhook_retry_after_ms("99999999999", 0, fixed_date), -1);
	cr_assert_eq(webhook_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, fixed_date),
	    10000);
	/* a date in the past: at once */
	cr_assert_eq(webhook_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, fixed_date), 0);
	cr_assert_eq(webhook_retry_after_ms("yesterday", 0, fixed_date), -1);
}
