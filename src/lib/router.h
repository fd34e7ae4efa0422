/* router.h - maps (method, decoded path segments) to a handler.
 *
 * Routes are static tables of patterns such as "episodes/{}/files" where
 * "{}" matches any one segment and is captured.  Matching is by segment, so
 * a percent-encoded '/' inside a segment can never change the route. */
#ifndef ECCR_ROUTER_H
#define ECCR_ROUTER_H

#include <stddef.h>

enum eccr_method {
	ECCR_GET = 1 << 0,
	ECCR_HEAD = 1 << 1,
	ECCR_POST = 1 << 2,
	ECCR_PUT = 1 << 3,
	ECCR_PATCH = 1 << 4,
	ECCR_DELETE = 1 << 5,
	ECCR_OPTIONS = 1 << 6,
	ECCR_METHOD_OTHER = 1 << 7
};

#define ECCR_MAX_SEGMENTS 16
#define ECCR_MAX_CAPTURES 4

struct eccr_route {
	unsigned methods;     /* mask of enum eccr_method */
	const char *pattern;  /* segments relative to the prefix, no leading '/' */
	void *handler;        /* opaque to the router */
	const char *name;     /* for metrics and logs, e.g. "episodes.get" */
};

struct eccr_path {
	size_t nseg;
	const char *seg[ECCR_MAX_SEGMENTS];
	size_t seglen[ECCR_MAX_SEGMENTS];
};

enum eccr_route_result {
	ECCR_ROUTE_FOUND,
	ECCR_ROUTE_NOT_FOUND,
	ECCR_ROUTE_METHOD_NOT_ALLOWED  /* path matched, method didn't: see allow */
};

struct eccr_route_match {
	const struct eccr_route *route;
	size_t ncap;
	const char *cap[ECCR_MAX_CAPTURES];
	size_t caplen[ECCR_MAX_CAPTURES];
	unsigned allow;      /* methods of the routes whose pattern matched */
};

enum eccr_method eccr_method_parse(const char *s);
const char *eccr_method_name(enum eccr_method m);
/* "GET, HEAD, POST" for an Allow header; out needs 64 bytes. */
void eccr_method_list(unsigned mask, char *out, size_t outlen);

/* Split and percent-decode a path (no query string) into out, in place in
 * buf (a writable copy of the path).  Empty segments from "//" or a
 * trailing '/' are dropped.  Returns 0, or -1 on a bad percent escape, a
 * decoded NUL or '/', a "." / ".." segment, or too many segments. */
int eccr_path_split(char *buf, struct eccr_path *out);

/* Match path (starting at segment `first`) against routes[0..n). */
enum eccr_route_result eccr_route(const struct eccr_route *routes, size_t n,
    const struct eccr_path *path, size_t first, enum eccr_method method,
    struct eccr_route_match *m);

/* Percent-decode a query-string component in place ('+' is a space).
 * Returns the new length or -1 on a bad escape or a decoded NUL.  Writes
 * only s[0..n): s[len] is set to NUL when the text shrank. */
long eccr_query_decode(char *s, size_t n);

#endif
