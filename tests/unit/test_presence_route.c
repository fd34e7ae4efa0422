/* Unit tests: plugins/presence-memcache/route.c (which group key a
 * presence key is sent with, and the failover to a live server). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

#define KEY "eccr:presence:episode:5e3c0000-0000-4000-8000-000000000001"

/* A pool of two servers for the tests: FNV-1a of the group key picks one
 * (libmemcached's ketama is a hash of the group key too), down[] says
 * which are down.  Every route asked for is recorded. */
struct pool {
	bool down[2];
	unsigned asked[ROUTE_MAX];
	size_t nasked;
};

static unsigned server_of(const char *group)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)group; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % 2;
}

static bool live(void *ctx, unsigned n, const char *group)
{
	struct pool *p = ctx;

	p->asked[p->nasked++] = n;
	return !p->down[server_of(group)];
}

Test(route, route_zero_is_the_key_and_the_others_add_a_suffix)
{
	char g[ROUTE_KEY_MAX + 1];

	cr_assert(route_group_key(KEY, 0, g));
	cr_assert_str_eq(g, KEY);
	cr_assert(route_group_key(KEY, 1, g));
	cr_assert_str_eq(g, KEY "#1");
	cr_assert(route_group_key(KEY, ROUTE_MAX - 1, g));
	cr_assert_str_eq(g, KEY "#31");
	cr_assert_not(route_group_key(KEY, ROUTE_MAX, g));
}

Test(route, a_long_key_is_cut_to_fit_and_its_routes_still_differ)
{
	char key[ROUTE_KEY_MAX + 1], g1[ROUTE_KEY_MAX + 1], g2[ROUTE_KEY_MAX + 1];

	memset(key, 'k', ROUTE_KEY_MAX);
	key[ROUTE_KEY_MAX] = '\0';
	cr_assert(route_group_key(key, 0, g1));
	cr_assert_str_eq(g1, key);
	cr_assert(route_group_key(key, 7, g1));
	cr_assert(route_group_key(key, 17, g2));
	cr_assert_eq(strlen(g1), ROUTE_KEY_MAX);
	cr_assert_eq(strlen(g2), ROUTE_KEY_MAX);
	cr_assert_str_eq(g1 + ROUTE_KEY_MAX - 2, "#7");
	cr_assert_str_eq(g2 + ROUTE_KEY_MAX - 3, "#17");
	cr_assert_str_neq(g1, g2);
}

Test(route, the_home_route_when_it_is_usable)
{
	struct pool p = { { false, false }, { 0 }, 0 };
	char g[ROUTE_KEY_MAX + 1];

	cr_assert_eq(route_pick(KEY, 0, ROUTE_MAX, live, &p, g), 0);
	cr_assert_str_eq(g, KEY);
	cr_assert_eq(p.nasked, 1);
}

/* Server home's down: the first route whose server is the other, the same
 * on every call (what every process and thread picks). */
Test(route, the_first_live_route_when_home_is_down_and_always_the_same)
{
	char key[64], g[ROUTE_KEY_MAX + 1], again[ROUTE_KEY_MAX + 1];

	for (int i = 0; i < 1000; i++) {
		struct pool p = { { false, false }, { 0 }, 0 };
		unsigned home;
		int n;

		snprintf(key, sizeof key, "eccr:presence:episode:%d", i);
		home = server_of(key);
		p.down[home] = true;
		n = route_pick(key, 0, ROUTE_MAX, live, &p, g);
		cr_assert_gt(n, 0, "%s: no live route", key);
		cr_assert_eq(server_of(g), 1 - home, "%s: route %d is on the dead server", key, n);
		for (int m = 1; m < n; m++) {
			char skipped[ROUTE_KEY_MAX + 1];

			cr_assert(route_group_key(key, (unsigned)m, skipped));
			cr_assert_eq(server_of(skipped), home, "%s: route %d was live", key, m);
		}
		p.nasked = 0;
		cr_assert_eq(route_pick(key, 0, ROUTE_MAX, live, &p, again), n);
		cr_assert_str_eq(again, g);
	}
}

Test(route, from_goes_on_after_a_route_that_failed_and_limit_bounds_the_search)
{
	struct pool p = { { false, false }, { 0 }, 0 };
	char g[ROUTE_KEY_MAX + 1];

	cr_assert_eq(route_pick(KEY, 3, ROUTE_MAX, live, &p, g), 3);
	cr_assert_eq(p.asked[0], 3);
	p.nasked = 0;
	/* limit 1: the home route only (a pool of one server). */
	p.down[server_of(KEY)] = true;
	cr_assert_eq(route_pick(KEY, 0, 1, live, &p, g), -1);
	cr_assert_eq(p.nasked, 1);
}

Test(route, every_server_down_is_no_route_after_route_max_questions)
{
	struct pool p = { { true, true }, { 0 }, 0 };
	char g[ROUTE_KEY_MAX + 1];

	cr_assert_eq(route_pick(KEY, 0, ROUTE_MAX + 5, live, &p, g), -1);
	cr_assert_eq(p.nasked, ROUTE_MAX);
	for (unsigned n = 0; n < ROUTE_MAX; n++)
		cr_assert_eq(p.asked[n], n);
}
