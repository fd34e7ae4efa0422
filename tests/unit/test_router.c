/* Unit tests: src/lib/router.c */
#include <criterion/criterion.h>
#include <string.h>

#include "router.h"

static int h_list, h_get, h_files;

static const struct eccr_route routes[] = {
	{ ECCR_GET | ECCR_POST, "episodes", &h_list, "episodes.list" },
	{ ECCR_GET | ECCR_PATCH | ECCR_PUT | ECCR_DELETE, "episodes/{}", &h_get, "episodes.get" },
	{ ECCR_GET, "episodes/{}/files", &h_files, "files.list" },
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int split(const char *path, char *buf, struct eccr_path *p)
{
	strcpy(buf, path);
	return eccr_path_split(buf, p);
}

Test(path, splits_and_decodes)
{
	char buf[256];
	struct eccr_path p;

	cr_assert_eq(split("/api/v1//episodes/a%20b/", buf, &p), 0);
	cr_assert_eq(p.nseg, 4);
	cr_assert_str_eq(p.seg[0], "api");
	cr_assert_str_eq(p.seg[3], "a b");
	cr_assert_eq(p.seglen[3], 3);
	cr_assert_eq(split("/", buf, &p), 0);
	cr_assert_eq(p.nseg, 0);
	cr_assert_eq(split("/caf%C3%A9", buf, &p), 0);
	cr_assert_str_eq(p.seg[0], "caf\xc3\xa9");
}

Test(path, rejects_hostile)
{
	static const char *const bad[] = {
		"relative", "/a/%2F/b", "/a/%2f", "/a%00b", "/a/../b", "/a/./b", "/%2e%2e/x",
		"/a/%zz", "/a/%4", "/a/%", "/x/%C0%AF", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
		NULL
	};
	char buf[256];
	struct eccr_path p;
	int i;

	for (i = 0; bad[i] != NULL; i++)
		cr_assert_eq(split(bad[i], buf, &p), -1, "%s", bad[i]);
}

Test(route, finds_and_captures)
{
	char buf[256];
	struct eccr_path p;
	struct eccr_route_match m;

	split("/api/v1/episodes/abc/files", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_GET, &m), ECCR_ROUTE_FOUND);
	cr_assert_eq(m.route->handler, &h_files);
	cr_assert_eq(m.ncap, 1);
	cr_assert_eq(m.caplen[0], 3);
	cr_assert_eq(memcmp(m.cap[0], "abc", 3), 0);

	split("/api/v1/episodes", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_POST, &m), ECCR_ROUTE_FOUND);
	cr_assert_eq(m.route->handler, &h_list);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_HEAD, &m), ECCR_ROUTE_FOUND);
}

Test(route, not_found_and_not_allowed)
{
	char buf[256], allow[64];
	struct eccr_path p;
	struct eccr_route_match m;

	split("/api/v1/episode", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_GET, &m), ECCR_ROUTE_NOT_FOUND);
	split("/api/v1/episodes/a/files/b", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_GET, &m), ECCR_ROUTE_NOT_FOUND);
	split("/api/v1/episodes/a", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_POST, &m), ECCR_ROUTE_METHOD_NOT_ALLOWED);
	eccr_method_list(m.allow, allow, sizeof allow);
	cr_assert_str_eq(allow, "GET, HEAD, PUT, PATCH, DELETE");
	split("/api/v1/episodes", buf, &p);
	cr_assert_eq(eccr_route(routes, NROUTES, &p, 2, ECCR_DELETE, &m), ECCR_ROUTE_METHOD_NOT_ALLOWED);
	eccr_method_list(m.allow, allow, sizeof allow);
	cr_assert_str_eq(allow, "GET, HEAD, POST");
}

Test(method, parse_and_name)
{
	cr_assert_eq(eccr_method_parse("PATCH"), ECCR_PATCH);
	cr_assert_eq(eccr_method_parse("patch"), ECCR_METHOD_OTHER);
	cr_assert_eq(eccr_method_parse("BREW"), ECCR_METHOD_OTHER);
	cr_assert_eq(eccr_method_parse(NULL), ECCR_METHOD_OTHER);
	cr_assert_str_eq(eccr_method_name(ECCR_DELETE), "DELETE");
}

Test(query, decode)
{
	char s[64];

	strcpy(s, "a+b%20c%2Fd");
	cr_assert_eq(eccr_query_decode(s, strlen(s)), 7);
	cr_assert_str_eq(s, "a b c/d");
	strcpy(s, "bad%2");
	cr_assert_eq(eccr_query_decode(s, strlen(s)), -1);
	strcpy(s, "nul%00");
	cr_assert_eq(eccr_query_decode(s, strlen(s)), -1);
}
