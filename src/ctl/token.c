/* token.c - eccrctl token: mint a bearer token with the configured secret,
 * for development, tests and service accounts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "ctl.h"
#include "util.h"

#define TTL_MAX 31536000  /* one year */

static int usage(FILE *f, int rc)
{
	fprintf(f, "usage: eccrctl token --sub SUB [--role viewer|editor|admin] [--name NAME]\n"
	    "                     [--email EMAIL] [--ttl SECONDS]\n"
	    "  prints a token signed with auth.jwt_secret_file (default role viewer, ttl 3600)\n");
	return rc;
}

static int bad(const char *what)
{
	fprintf(stderr, "eccrctl token: %s\n", what);
	return 2;
}

static bool text_ok(const char *s, size_t max_chars)
{
	long n = eccr_utf8_len(s, strlen(s));

	return n >= 1 && (size_t)n <= max_chars && !eccr_has_control(s, strlen(s));
}

int ctl_token(int argc, char **argv, const struct eccr_config *cfg)
{
	static const struct option opts[] = {
		{ "sub", required_argument, NULL, 's' },
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "email", required_argument, NULL, 'e' },
		{ "ttl", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sub = NULL, *role = "viewer", *name = NULL, *email = NULL;
	int64_t ttl = 3600;
	char err[256], *token;
	int c;

	optind = 0;  /* 0, not 1: glibc then re-reads the option string (main used "+") */
	while ((c = getopt_long(argc, argv, "s:r:n:e:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sub = optarg; break;
		case 'r': role = optarg; break;
		case 'n': name = optarg; break;
		case 'e': email = optarg; break;
		case 't':
			if (!eccr_parse_i64(optarg, 1, TTL_MAX, &ttl))
				return bad("--ttl must be 1 to 31536000 seconds");
			break;
		case 'h': return usage(stdout, 0);
		default: return usage(stderr, 2);
		}
	}
	if (optind != argc)
		return usage(stderr, 2);
	if (sub == NULL)
		return bad("--sub is required");
	if (!text_ok(sub, ECCR_SUB_MAX))
		return bad("--sub must be 1 to 128 characters of text");
	if (eccr_role_from_name(role) < 0)
		return bad("--role must be viewer, editor or admin");
	if (name != NULL && !text_ok(name, ECCR_NAME_MAX))
		return bad("--name must be 1 to 256 characters of text");
	if (email != NULL && (strlen(email) > ECCR_EMAIL_MAX || !text_ok(email, ECCR_EMAIL_MAX) ||
	    strchr(email, '@') == NULL))
		return bad("--email must be an e-mail address");
	token = eccr_auth_mint(cfg, sub, role, name, email, (long)ttl, time(NULL), err, sizeof err);
	if (token == NULL) {
		fprintf(stderr, "eccrctl token: %s\n", err);
		return 1;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}
