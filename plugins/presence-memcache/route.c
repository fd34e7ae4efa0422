/* route.c - see route.h. */
#include "route.h"

#include <stdio.h>
#include <string.h>

bool route_group_key(const char *key, unsigned n, char out[ROUTE_KEY_MAX + 1])
{
	char tail[16];
	size_t room;

	if (n >= ROUTE_MAX)
		return false;
	if (n == 0) {
		snprintf(out, ROUTE_KEY_MAX + 1, "%s", key);
		return true;
	}
	snprintf(tail, sizeof tail, "#%u", n);
	room = ROUTE_KEY_MAX - strlen(tail);
	snprintf(out, ROUTE_KEY_MAX + 1, "%.*s%s", (int)room, key, tail);
	return true;
}

int route_pick(const char *key, unsigned from, unsigned limit, route_usable_fn *usable,
    void *ctx, char group[ROUTE_KEY_MAX + 1])
{
	if (limit > ROUTE_MAX)
		limit = ROUTE_MAX;
	for (unsigned n = from; n < limit; n++)
		if (route_group_key(key, n, group) && usable(ctx, n, group))
			return (int)n;
	return -1;
}
