/* webhook.h - the pure parts of webhook-http: Standard Webhooks signing,
 * what an HTTP answer means for a delivery, and Retry-After.  No I/O, so
 * they are unit-tested (tests/unit/test_webhook.c) against the
 * specification's published example. */
#ifndef ECCR_WEBHOOK_H
#define ECCR_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WEBHOOK_KEY_MIN 24      /* bytes; the specification asks 24 to 64 */
#define WEBHOOK_KEY_MAX 64
/* "v1," and base64 of 32 bytes, NUL */
#define WEBHOOK_SIGNATURE_LEN (3 + 44 + 1)

/* The signing key of a secret as the specification writes it: base64,
 * optionally after the prefix "whsec_" (surrounding white space ignored).
 * Returns the key's length, or -1 when the secret is not base64 or its
 * key is not WEBHOOK_KEY_MIN..WEBHOOK_KEY_MAX bytes. */
int webhook_secret_key(const char *secret, unsigned char key[WEBHOOK_KEY_MAX]);

/* "v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>" into out.
 * 0, or -1 when OpenSSL failed. */
int webhook_sign(const unsigned char *key, size_t keylen, const char *id, int64_t timestamp,
    const char *body, size_t bodylen, char out[WEBHOOK_SIGNATURE_LEN]);

/* What an answer means (the values of enum eccr_emit_result): 2xx OK; 408,
 * 429 and 5xx RETRY; anything else FAIL (other 4xx, and 1xx/3xx: redirects
 * are never followed, so one is a wrong URL). */
int webhook_outcome(long status);

/* A Retry-After value (delay-seconds or an HTTP-date, RFC 9110) as a delay
 * in milliseconds from now; -1 when absent or malformed.  parse_date turns
 * an HTTP-date into a time_t (-1 when malformed): curl_getdate in the
 * plugin, so dates are read by a library, not by hand. */
int64_t webhook_retry_after_ms(const char *value, time_t now,
    time_t (*parse_date)(const char *date));

#endif
