/* presign_c.c - our side of the SigV4 cross-check (see run.sh): reads
 * lines of tab-separated
 *   method endpoint region bucket path_style(0|1) access_key_id secret
 *   expires now(unix seconds) key response_content_disposition
 *   response_content_type
 * (the last three hex of their UTF-8 bytes, the overrides empty when
 * absent) and prints, for each, eccr_sigv4_presign_query's URL or "ERROR".
 * Built from src/lib/sigv4.c alone: cc -Isrc/lib presign_c.c sigv4.c -lcrypto */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define NFIELDS 12
#define VALUE_MAX 2048

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex into out (NUL-terminated, at most max bytes); -1 when malformed. */
static long unhex_into(const char *hex, char *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 != 0 || n >= max)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = unhex(hex[2 * i]), lo = unhex(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (char)(hi << 4 | lo);
	}
	out[n] = '\0';
	return (long)n;
}

int main(void)
{
	static char line[32768], key[ECCR_SIGV4_KEY_MAX + 2], url[ECCR_SIGV4_URL_MAX + 8192];
	static char disposition[VALUE_MAX], type[VALUE_MAX];
	unsigned long lineno = 0;

	while (fgets(line, sizeof line, stdin) != NULL) {
		char *f[NFIELDS], *p = line, *end;
		struct eccr_s3_target t;
		struct eccr_sigv4_param q[2];
		size_t n = 0, nq = 0;
		long klen;
		long expires;
		long long now;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (n < NFIELDS && p != NULL) {
			f[n++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (n != NFIELDS || p != NULL) {
			fprintf(stderr, "presign_c: line %lu: bad input\n", lineno);
			return 2;
		}
		if ((klen = unhex_into(f[9], key, sizeof key)) < 0 ||
		    unhex_into(f[10], disposition, sizeof disposition) < 0 ||
		    unhex_into(f[11], type, sizeof type) < 0) {
			fprintf(stderr, "presign_c: line %lu: bad hex\n", lineno);
			return 2;
		}
		if (disposition[0] != '\0')
			q[nq++] = (struct eccr_sigv4_param){ "response-content-disposition", disposition };
		if (type[0] != '\0')
			q[nq++] = (struct eccr_sigv4_param){ "response-content-type", type };
		t.endpoint = f[1];
		t.region = f[2];
		t.bucket = f[3];
		t.path_style = strcmp(f[4], "1") == 0;
		t.access_key_id = f[5];
		t.secret_key = f[6];
		expires = strtol(f[7], &end, 10);
		if (*end != '\0')
			expires = -1;
		now = strtoll(f[8], &end, 10);
		if (*end != '\0')
			now = -1;
		if (memchr(key, '\0', (size_t)klen) != NULL ||
		    eccr_sigv4_presign_query(&t, f[0], key, q, nq, expires, (time_t)now, url,
		    sizeof url) < 0)
			puts("ERROR");
		else
			puts(url);
	}
	return ferror(stdin) ? 1 : 0;
}
