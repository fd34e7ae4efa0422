/* webhook.c - see webhook.h. */
#include "webhook.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/params.h>

int webhook_secret_key(const char *secret, unsigned char key[WEBHOOK_KEY_MAX])
{
	unsigned char buf[(WEBHOOK_KEY_MAX + 3) / 3 * 3 + 3];
	size_t n, pad = 0;
	int out;

	while (isspace((unsigned char)*secret))
		secret++;
	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	n = strlen(secret);
	while (n > 0 && isspace((unsigned char)secret[n - 1]))
		n--;
	/* EVP_DecodeBlock wants whole quanta and counts '=' padding as data. */
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof buf)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)secret[i]) || secret[i] == '+' || secret[i] == '/' ||
		    (secret[i] == '=' && i >= n - 2)))
			return -1;
	if (secret[n - 1] == '=')
		pad = secret[n - 2] == '=' ? 2 : 1;
	out = EVP_DecodeBlock(buf, (const unsigned char *)secret, (int)n);
	if (out < 0 || (size_t)out < pad)
		return -1;
	out -= (int)pad;
	if (out < WEBHOOK_KEY_MIN || out > WEBHOOK_KEY_MAX)
		return -1;
	memcpy(key, buf, (size_t)out);
	return out;
}

int webhook_sign(const unsigned char *key, size_t keylen, const char *id, int64_t timestamp,
    const char *body, size_t bodylen, char out[WEBHOOK_SIGNATURE_LEN])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	unsigned char md[32];
	char ts[24];
	size_t mdlen = 0;
	int ok;

	snprintf(ts, sizeof ts, ".%lld.", (long long)timestamp);
	ok = ctx != NULL && EVP_MAC_init(ctx, key, keylen, params) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_update(ctx, (const unsigned char *)body, bodylen) == 1 &&
	    EVP_MAC_final(ctx, md, &mdlen, sizeof md) == 1 && mdlen == 32;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (!ok)
		return -1;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, md, 32);
	return 0;
}

int webhook_outcome(long status)
{
	if (status >= 200 && status <= 299)
		return 0;                       /* ECCR_EMIT_OK */
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return 1;                       /* ECCR_EMIT_RETRY */
	return 2;                               /* ECCR_EMIT_FAIL */
}

int64_t webhook_retry_after_ms(const char *value, time_t now,
    time_t (*parse_date)(const char *date))
{
	char *end;
	long long s;
	time_t at;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		s = strtoll(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0' || s < 0 || s > 7LL * 24 * 3600)
			return -1;
		return s * 1000;
	}
	if (parse_date == NULL || (at = parse_date(value)) == (time_t)-1)
		return -1;
	return at > now ? (int64_t)(at - now) * 1000 : 0;
}
