/* router.c - static route tables matched segment by segment.
 *
 * Written by hand: the FastCGI libraries route nothing, and matching
 * decoded segments against a dozen patterns needs no more than this. */
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "router.h"
#include "util.h"

static const struct {
	enum eccr_method m;
	const char *name;
} method_names[] = {
	{ ECCR_GET, "GET" }, { ECCR_HEAD, "HEAD" }, { ECCR_POST, "POST" },
	{ ECCR_PUT, "PUT" }, { ECCR_PATCH, "PATCH" }, { ECCR_DELETE, "DELETE" },
	{ ECCR_OPTIONS, "OPTIONS" },
};
#define NMETHODS (sizeof method_names / sizeof method_names[0])

enum eccr_method eccr_method_parse(const char *s)
{
	size_t i;

	if (s != NULL)
		for (i = 0; i < NMETHODS; i++)
			if (strcmp(s, method_names[i].name) == 0)
				return method_names[i].m;
	return ECCR_METHOD_OTHER;
}

const char *eccr_method_name(enum eccr_method m)
{
	size_t i;

	for (i = 0; i < NMETHODS; i++)
		if (method_names[i].m == m)
			return method_names[i].name;
	return "OTHER";
}

void eccr_method_list(unsigned mask, char *out, size_t outlen)
{
	size_t i, used = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	for (i = 0; i < NMETHODS; i++) {
		int n;

		if (!(mask & method_names[i].m))
			continue;
		n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
		    method_names[i].name);
		if (n < 0 || (size_t)n >= outlen - used) {
			/* Never a half name in an Allow header. */
			out[used] = '\0';
			return;
		}
		used += (size_t)n;
	}
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX in s[0..n) in place; '+' is a space only in query strings.
 * Returns the new length or -1. */
static long percent_decode(char *s, size_t n, bool plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			if ((hi = unhex(s[i + 1])) < 0 || (lo = unhex(s[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -1;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		s[o++] = c;
	}
	return (long)o;
}

/* Only s[0..n) is written, so a component can be decoded while the
 * separator after it is still in place; s[len] is NUL when it shrank. */
long eccr_query_decode(char *s, size_t n)
{
	long len = percent_decode(s, n, true);

	if (len >= 0 && (size_t)len < n)
		s[len] = '\0';
	return len;
}

static bool dot_segment(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* One raw segment: reject an encoded '/', invalid UTF-8 and dot
 * segments, checked after decoding so "%2e%2e" is caught as well as ".."
 * (a raw "." decodes to itself). */
static int add_segment(struct eccr_path *out, char *s, size_t n)
{
	long len;

	if (out->nseg == ECCR_MAX_SEGMENTS)
		return -1;
	if ((len = percent_decode(s, n, false)) < 0)
		return -1;
	if (memchr(s, '/', (size_t)len) != NULL || dot_segment(s, (size_t)len) ||
	    eccr_utf8_len(s, (size_t)len) < 0)
		return -1;
	s[len] = '\0';
	out->seg[out->nseg] = s;
	out->seglen[out->nseg] = (size_t)len;
	out->nseg++;
	return 0;
}

int eccr_path_split(char *buf, struct eccr_path *out)
{
	char *p = buf;

	out->nseg = 0;
	if (*p != '/')
		return -1;
	while (*p != '\0') {
		char *start;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != '/')
			p++;
		if (*p == '/') {
			/* Terminate here; decoding only shrinks, so the
			 * segment's NUL always fits. */
			*p++ = '\0';
			if (add_segment(out, start, (size_t)(p - 1 - start)) != 0)
				return -1;
		} else if (add_segment(out, start, (size_t)(p - start)) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Does path[first..] match pattern?  Captures go into m. */
static bool match_pattern(const char *pattern, const struct eccr_path *path,
    size_t first, struct eccr_route_match *m)
{
	const char *p = pattern;
	size_t i = first;

	m->ncap = 0;
	while (*p != '\0') {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (i >= path->nseg)
			return false;
		if (n == 2 && p[0] == '{' && p[1] == '}') {
			if (m->ncap == ECCR_MAX_CAPTURES)
				return false;
			m->cap[m->ncap] = path->seg[i];
			m->caplen[m->ncap] = path->seglen[i];
			m->ncap++;
		} else if (n != path->seglen[i] || memcmp(p, path->seg[i], n) != 0) {
			return false;
		}
		i++;
		p += n;
		if (*p == '/')
			p++;
	}
	return i == path->nseg;
}

/* Routes are scanned in order.  Among the patterns that match, the most
 * literal ones (fewest captures) decide, so "notifications/unread-count"
 * is never taken for "notifications/{}": DELETE on it is a 405, not a
 * delete of a notification called "unread-count".  Among those, the first
 * that allows the method wins, and every one contributes to m->allow so a
 * 405's Allow header is complete. */
enum eccr_route_result eccr_route(const struct eccr_route *routes, size_t n,
    const struct eccr_path *path, size_t first, enum eccr_method method,
    struct eccr_route_match *m)
{
	struct eccr_route_match tmp = { 0 };
	size_t best_ncap = SIZE_MAX, i;
	bool found = false;
	unsigned allow = 0;

	memset(m, 0, sizeof *m);
	if (first > path->nseg)
		return ECCR_ROUTE_NOT_FOUND;
	for (i = 0; i < n; i++) {
		unsigned methods = routes[i].methods;

		if (!match_pattern(routes[i].pattern, path, first, &tmp) || tmp.ncap > best_ncap)
			continue;
		if (tmp.ncap < best_ncap) {     /* more literal: forget the rest */
			best_ncap = tmp.ncap;
			allow = 0;
			found = false;
			memset(m, 0, sizeof *m);
		}
		if (methods & ECCR_GET)  /* HEAD is GET without the body */
			methods |= ECCR_HEAD;
		allow |= methods;
		if (!found && (methods & (unsigned)method)) {
			found = true;
			*m = tmp;
			m->route = &routes[i];
		}
	}
	m->allow = allow;
	if (found)
		return ECCR_ROUTE_FOUND;
	return best_ncap != SIZE_MAX ? ECCR_ROUTE_METHOD_NOT_ALLOWED : ECCR_ROUTE_NOT_FOUND;
}
