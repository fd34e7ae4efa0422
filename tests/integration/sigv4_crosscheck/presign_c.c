/* presign_c.c - our side of the SigV4 cross-check (see run.sh): reads
 * lines of tab-separated
 *   method endpoint region bucket path_style(0|1) access_key_id secret
 *   expires now(unix seconds) key(hex of its UTF-8 bytes)
 * and prints, for each, eccr_sigv4_presign's URL or "ERROR".
 * Built from src/lib/sigv4.c alone: cc -Isrc/lib presign_c.c sigv4.c -lcrypto */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

#define NFIELDS 10

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int main(void)
{
	static char line[16384], key[ECCR_SIGV4_KEY_MAX + 2], url[ECCR_SIGV4_URL_MAX];
	unsigned long lineno = 0;

	while (fgets(line, sizeof line, stdin) != NULL) {
		char *f[NFIELDS], *p = line, *end;
		struct eccr_s3_target t;
		size_t klen, n = 0;
		long expires;
		long long now;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (n < NFIELDS && p != NULL) {
			f[n++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (n != NFIELDS || p != NULL || strlen(f[9]) % 2 != 0 ||
		    (klen = strlen(f[9]) / 2) >= sizeof key) {
			fprintf(stderr, "presign_c: line %lu: bad input\n", lineno);
			return 2;
		}
		for (size_t i = 0; i < klen; i++) {
			int hi = unhex(f[9][2 * i]), lo = unhex(f[9][2 * i + 1]);

			if (hi < 0 || lo < 0) {
				fprintf(stderr, "presign_c: line %lu: bad key hex\n", lineno);
				return 2;
			}
			key[i] = (char)(hi << 4 | lo);
		}
		key[klen] = '\0';
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
		if (memchr(key, '\0', klen) != NULL ||
		    eccr_sigv4_presign(&t, f[0], key, expires, (time_t)now, url, sizeof url) < 0)
			puts("ERROR");
		else
			puts(url);
	}
	return ferror(stdin) ? 1 : 0;
}
