/* Unit tests: src/lib/router.c */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static int h_list, h_get, h_files, h_file, h_dl, h_exact, h_other, h_opt, h_many;

static const struct eccr_route routes[] = {
	{ ECCR_GET | ECCR_POST, "episodes", &h_list, "episodes.list" },
	{ ECCR_GET | ECCR_PATCH | ECCR_PUT | ECCR_DELETE, "episodes/{}", &h_get, "episodes.get" },
	{ ECCR_GET | ECCR_POST, "episodes/{}/files", &h_files, "files.list" },
	{ ECCR_DELETE, "episodes/{}/files/{}", &h_file, "files.delete" },
	{ ECCR_GET, "episodes/{}/files/{}/content", &h_dl, "files.content" },
	/* a literal that also matches "episodes/{}": the literal decides */
	{ ECCR_POST, "episodes/search", &h_exact, "episodes.search" },
	{ ECCR_OPTIONS | ECCR_GET, "episodes/{}", &h_opt, "episodes.options" },  /* GET: shadowed */
	{ ECCR_GET, "{}/{}/x/{}/{}", &h_many, "four" },
	{ ECCR_GET, "", &h_other, "root" },
};

static int split(const char *path, char *buf, struct eccr_path *p)
{
	strcpy(buf, path);
	return eccr_path_split(buf, p);
}

/* ------------------------------------------------------------ methods */

Test(method, parse_exact)
{
	static const struct {
		const char *s;
		enum eccr_method m;
	} cases[] = {
		{ "GET", ECCR_GET }, { "HEAD", ECCR_HEAD }, { "POST", ECCR_POST },
		{ "PUT", ECCR_PUT }, { "PATCH", ECCR_PATCH }, { "DELETE", ECCR_DELETE },
		{ "OPTIONS", ECCR_OPTIONS },
		{ "get", ECCR_METHOD_OTHER }, { "Get", ECCR_METHOD_OTHER },
		{ "GET ", ECCR_METHOD_OTHER }, { " GET", ECCR_METHOD_OTHER },
		{ "GETX", ECCR_METHOD_OTHER }, { "GE", ECCR_METHOD_OTHER },
		{ "", ECCR_METHOD_OTHER }, { "TRACE", ECCR_METHOD_OTHER },
		{ "CONNECT", ECCR_METHOD_OTHER }, { "BREW", ECCR_METHOD_OTHER },
		{ NULL, ECCR_METHOD_OTHER },
	};
	size_t i;

	for (i = 0; i < LEN(cases); i++)
		cr_assert_eq(eccr_method_parse(cases[i].s), cases[i].m, "case %zu", i);
}

Test(method, name_round_trips)
{
	unsigned bit;

	for (bit = ECCR_GET; bit < ECCR_METHOD_OTHER; bit <<= 1)
		cr_assert_eq(eccr_method_parse(eccr_method_name(bit)), bit);
	cr_assert_str_eq(eccr_method_name(ECCR_DELETE), "DELETE");
	cr_assert_not_null(eccr_method_name(ECCR_METHOD_OTHER));
}

Test(method, list_in_bit_order)
{
	static const struct {
		unsigned mask;
		const char *want;
	} cases[] = {
		{ 0, "" },
		{ ECCR_GET, "GET" },
		{ ECCR_POST | ECCR_GET | ECCR_HEAD, "GET, HEAD, POST" },
		{ ECCR_OPTIONS | ECCR_GET, "GET, OPTIONS" },
		{ ECCR_DELETE | ECCR_PATCH | ECCR_PUT, "PUT, PATCH, DELETE" },
		{ 0x7f, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" },
		{ 0xff, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" },
		{ ECCR_METHOD_OTHER, "" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		memset(out, 'x', sizeof out);
		eccr_method_list(cases[i].mask, out, sizeof out);
		cr_assert_str_eq(out, cases[i].want, "case %zu", i);
	}
}

Test(method, list_never_cuts_a_name)
{
	char out[12];

	eccr_method_list(ECCR_GET | ECCR_HEAD | ECCR_POST, out, sizeof out);
	cr_assert_str_eq(out, "GET, HEAD");
	eccr_method_list(ECCR_GET, out, 3);
	cr_assert_str_eq(out, "");
	eccr_method_list(ECCR_GET, out, 0);     /* no write at all */
}

/* ------------------------------------------------------------ paths */

Test(path, splits_and_decodes)
{
	static const struct {
		const char *path;
		size_t nseg;
		const char *seg[5];
		size_t len[5];
	} cases[] = {
		{ "/", 0, { NULL }, { 0 } },
		{ "//", 0, { NULL }, { 0 } },
		{ "/a", 1, { "a" }, { 1 } },
		{ "/a/", 1, { "a" }, { 1 } },
		{ "/api/v1//episodes/a%20b/", 4, { "api", "v1", "episodes", "a b" }, { 3, 2, 8, 3 } },
		{ "/caf%C3%A9/caf%c3%a9", 2, { "caf\xc3\xa9", "caf\xc3\xa9" }, { 5, 5 } },
		{ "/%41%42c", 1, { "ABc" }, { 3 } },
		{ "/a+b", 1, { "a+b" }, { 3 } },              /* '+' is literal in paths */
		{ "/%2B", 1, { "+" }, { 1 } },
		{ "/%25", 1, { "%" }, { 1 } },              /* decoded once only */
		{ "/%252F", 1, { "%2F" }, { 3 } },
		{ "/...", 1, { "..." }, { 3 } },            /* not a dot segment */
		{ "/.a/a.", 2, { ".a", "a." }, { 2, 2 } },
		{ "/%3F/%23", 2, { "?", "#" }, { 1, 1 } },
		{ "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", 16, { "1", "2", "3", "4", "5" },
		    { 1, 1, 1, 1, 1 } },
		{ "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/", 16, { "1" }, { 1 } },
	};
	char buf[256];
	struct eccr_path p;
	size_t i, k;

	for (i = 0; i < LEN(cases); i++) {
		cr_assert_eq(split(cases[i].path, buf, &p), 0, "%s", cases[i].path);
		cr_assert_eq(p.nseg, cases[i].nseg, "%s", cases[i].path);
		for (k = 0; k < p.nseg && k < 5 && cases[i].seg[k] != NULL; k++) {
			cr_assert_eq(p.seglen[k], cases[i].len[k], "%s #%zu", cases[i].path, k);
			cr_assert_str_eq(p.seg[k], cases[i].seg[k], "%s #%zu", cases[i].path, k);
			/* segments live inside buf */
			cr_assert(p.seg[k] >= buf && p.seg[k] < buf + sizeof buf);
		}
	}
}

Test(path, rejects_hostile)
{
	static const char *const bad[] = {
		"", "relative", "a/b", "%2Fa",
		"/a/%2F/b", "/a/%2f", "/a%2Fb",            /* an encoded '/' */
		"/a%00b", "/%00",                          /* an encoded NUL */
		"/a/../b", "/a/./b", "/..", "/.", "/a/..", "/a/.",
		"/%2e%2e/x", "/%2E%2E", "/.%2e", "/%2e.", "/%2e",   /* dot segments, encoded */
		"/a/%zz", "/a/%4", "/a/%", "/a/%%41", "/a/%g0", "/a/% 1", "/a/%4/b",
		"/x/%C0%AF", "/x/%ED%A0%80", "/x/%FF", "/x/%C3", "/x/\xc0\xaf", "/x/\xff",
		"/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
		"/1//2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17/",
	};
	char buf[256];
	struct eccr_path p;
	size_t i;

	for (i = 0; i < LEN(bad); i++)
		cr_assert_eq(split(bad[i], buf, &p), -1, "%s", bad[i]);
}

Test(path, long_segment_count_is_bounded)
{
	char *path = malloc(20001), *buf = malloc(20001);
	struct eccr_path p;
	int i;

	cr_assert(path && buf);
	for (i = 0; i < 10000; i++)
		memcpy(path + 2 * i, "/a", 2);
	path[20000] = '\0';
	strcpy(buf, path);
	cr_assert_eq(eccr_path_split(buf, &p), -1);
	free(path);
	free(buf);
}

/* ------------------------------------------------------------ routing */

struct rcase {
	const char *path;
	size_t first;
	enum eccr_method method;
	enum eccr_route_result want;
	const void *handler;
	unsigned allow;
};

Test(route, table)
{
	static const struct rcase cases[] = {
		{ "/api/v1/episodes", 2, ECCR_GET, ECCR_ROUTE_FOUND, &h_list,
		    ECCR_GET | ECCR_HEAD | ECCR_POST },
		{ "/api/v1/episodes", 2, ECCR_HEAD, ECCR_ROUTE_FOUND, &h_list,
		    ECCR_GET | ECCR_HEAD | ECCR_POST },
		{ "/api/v1/episodes", 2, ECCR_POST, ECCR_ROUTE_FOUND, &h_list,
		    ECCR_GET | ECCR_HEAD | ECCR_POST },
		{ "/api/v1/episodes", 2, ECCR_DELETE, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_GET | ECCR_HEAD | ECCR_POST },
		{ "/api/v1/episodes/x", 2, ECCR_PATCH, ECCR_ROUTE_FOUND, &h_get,
		    ECCR_GET | ECCR_HEAD | ECCR_PATCH | ECCR_PUT | ECCR_DELETE | ECCR_OPTIONS },
		{ "/api/v1/episodes/x", 2, ECCR_OPTIONS, ECCR_ROUTE_FOUND, &h_opt,
		    ECCR_GET | ECCR_HEAD | ECCR_PATCH | ECCR_PUT | ECCR_DELETE | ECCR_OPTIONS },
		{ "/api/v1/episodes/x", 2, ECCR_POST, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_GET | ECCR_HEAD | ECCR_PATCH | ECCR_PUT | ECCR_DELETE | ECCR_OPTIONS },
		{ "/api/v1/episodes/x", 2, ECCR_METHOD_OTHER, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_GET | ECCR_HEAD | ECCR_PATCH | ECCR_PUT | ECCR_DELETE | ECCR_OPTIONS },
		/* the literal route and the capture both match "search": the
		 * literal alone decides, even listed after the capture */
		{ "/api/v1/episodes/search", 2, ECCR_POST, ECCR_ROUTE_FOUND, &h_exact, ECCR_POST },
		{ "/api/v1/episodes/search", 2, ECCR_GET, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_POST },
		{ "/api/v1/episodes/search", 2, ECCR_DELETE, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_POST },
		{ "/api/v1/episodes/x/files", 2, ECCR_HEAD, ECCR_ROUTE_FOUND, &h_files,
		    ECCR_GET | ECCR_HEAD | ECCR_POST },
		{ "/api/v1/episodes/x/files/y", 2, ECCR_DELETE, ECCR_ROUTE_FOUND, &h_file,
		    ECCR_DELETE },
		{ "/api/v1/episodes/x/files/y", 2, ECCR_HEAD, ECCR_ROUTE_METHOD_NOT_ALLOWED, NULL,
		    ECCR_DELETE },           /* no GET, so no HEAD */
		{ "/api/v1/episodes/x/files/y/content", 2, ECCR_GET, ECCR_ROUTE_FOUND, &h_dl,
		    ECCR_GET | ECCR_HEAD },
		/* no prefix matching, no partial matching, exact-length literals */
		{ "/api/v1/episodes/x/files/y/content/z", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/episode", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/episodesx", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/Episodes", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/episodes/x/file", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		/* an encoded '/' can't reach another route: it's refused earlier,
		 * and "{}" takes exactly one segment */
		{ "/api/v1/a/b/x/d/e/f", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/a/x/d/e", 2, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		{ "/api/v1/a/b/x/d/e", 2, ECCR_GET, ECCR_ROUTE_FOUND, &h_many, ECCR_GET | ECCR_HEAD },
		{ "/api/v1/x/b/c", 0, ECCR_GET, ECCR_ROUTE_FOUND, &h_many, ECCR_GET | ECCR_HEAD },
		{ "/api/v1/y/b/c", 0, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
		/* the empty pattern matches exactly the prefix */
		{ "/api/v1", 2, ECCR_GET, ECCR_ROUTE_FOUND, &h_other, ECCR_GET | ECCR_HEAD },
		{ "/api/v1/", 2, ECCR_HEAD, ECCR_ROUTE_FOUND, &h_other, ECCR_GET | ECCR_HEAD },
		/* first past the end */
		{ "/api/v1", 3, ECCR_GET, ECCR_ROUTE_NOT_FOUND, NULL, 0 },
	};
	char buf[256];
	struct eccr_path p;
	struct eccr_route_match m;
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		enum eccr_route_result r;

		cr_assert_eq(split(cases[i].path, buf, &p), 0, "%s", cases[i].path);
		r = eccr_route(routes, LEN(routes), &p, cases[i].first, cases[i].method, &m);
		cr_assert_eq(r, cases[i].want, "case %zu %s", i, cases[i].path);
		cr_assert_eq(m.allow, cases[i].allow, "case %zu: allow %#x", i, m.allow);
		if (r == ECCR_ROUTE_FOUND)
			cr_assert_eq(m.route->handler, cases[i].handler, "case %zu", i);
		else
			cr_assert_null(m.route, "case %zu", i);
	}
}

Test(route, captures)
{
	char buf[256];
	struct eccr_path p;
	struct eccr_route_match m;

	/* %2F is refused before routing */
	cr_assert_eq(split("/api/v1/episodes/a%2Fb%20c/files/f1/content", buf, &p), -1);
	split("/api/v1/episodes/ab%20c/files/f1/content", buf, &p);
	cr_assert_eq(eccr_route(routes, LEN(routes), &p, 2, ECCR_GET, &m), ECCR_ROUTE_FOUND);
	cr_assert_str_eq(m.route->name, "files.content");
	cr_assert_eq(m.ncap, 2);
	cr_assert_eq(m.caplen[0], 4);
	cr_assert_eq(memcmp(m.cap[0], "ab c", 4), 0);
	cr_assert_eq(m.caplen[1], 2);
	cr_assert_eq(memcmp(m.cap[1], "f1", 2), 0);

	split("/api/v1/episodes", buf, &p);
	cr_assert_eq(eccr_route(routes, LEN(routes), &p, 2, ECCR_GET, &m), ECCR_ROUTE_FOUND);
	cr_assert_eq(m.ncap, 0);
}

Test(route, capture_limit)
{
	static const struct eccr_route r[] = {
		{ ECCR_GET, "{}/{}/{}/{}/{}", &h_other, "too.many" },
		{ ECCR_GET, "{}/{}/{}/{}", &h_many, "four" },
	};
	char buf[64];
	struct eccr_path p;
	struct eccr_route_match m;

	split("/a/b/c/d/e", buf, &p);
	cr_assert_eq(eccr_route(r, LEN(r), &p, 0, ECCR_GET, &m), ECCR_ROUTE_NOT_FOUND);
	split("/a/b/c/d", buf, &p);
	cr_assert_eq(eccr_route(r, LEN(r), &p, 0, ECCR_GET, &m), ECCR_ROUTE_FOUND);
	cr_assert_eq(m.ncap, ECCR_MAX_CAPTURES);
	cr_assert_eq(memcmp(m.cap[3], "d", 1), 0);
}

Test(route, no_routes)
{
	char buf[16];
	struct eccr_path p;
	struct eccr_route_match m;

	split("/a", buf, &p);
	cr_assert_eq(eccr_route(routes, 0, &p, 0, ECCR_GET, &m), ECCR_ROUTE_NOT_FOUND);
	cr_assert_eq(m.allow, 0);
}

/* ------------------------------------------------------------ queries */

Test(query, decode)
{
	static const struct {
		const char *in;
		long want;
		const char *out;
	} cases[] = {
		{ "", 0, "" },
		{ "plain", 5, "plain" },
		{ "a+b%20c%2Fd", 7, "a b c/d" },
		{ "%2B+", 2, "+ " },
		{ "%25%32%35", 3, "%25" },
		{ "caf%C3%A9", 5, "caf\xc3\xa9" },
		{ "%7e%7E", 2, "~~" },
		{ "bad%2", -1, NULL },
		{ "bad%", -1, NULL },
		{ "bad%g1", -1, NULL },
		{ "bad%1g", -1, NULL },
		{ "nul%00", -1, NULL },
		{ "%00x", -1, NULL },
	};
	char s[64];
	size_t i;

	for (i = 0; i < LEN(cases); i++) {
		long got;

		strcpy(s, cases[i].in);
		got = eccr_query_decode(s, strlen(s));
		cr_assert_eq(got, cases[i].want, "case %zu", i);
		if (got >= 0) {
			cr_assert_eq(memcmp(s, cases[i].out, (size_t)got), 0, "case %zu", i);
			cr_assert_str_eq(s, cases[i].out, "case %zu", i);
		}
	}
}

Test(query, writes_only_inside_n)
{
	char s[] = "a%20b&c=d";
	char t[] = "abc&d";

	/* decode "a%20b" in place without touching the '&' after it */
	cr_assert_eq(eccr_query_decode(s, 5), 3);
	cr_assert_eq(memcmp(s, "a b\0b&c=d", 9), 0);
	cr_assert_eq(eccr_query_decode(t, 3), 3);
	cr_assert_str_eq(t, "abc&d");
}
