/* route.h - which server of the pool an operation on a presence key goes
 * to: pure code (no I/O), unit-tested in tests/unit/test_presence_route.c.
 *
 * libmemcached's *_by_key functions send a key to the server its group key
 * hashes to (ketama).  Route 0 of a key is the key itself as group key: its
 * home server.  Route n > 0 is the group key KEY "#" n, which hashes to a
 * server of its own, independent of the key's.  When the home server is
 * down, the first route whose server is up takes the key, so every thread
 * and process that sees the same servers down picks the same one; the
 * value is still stored under KEY. */
#ifndef ECCR_PRESENCE_ROUTE_H
#define ECCR_PRESENCE_ROUTE_H

#include <stdbool.h>

/* memcached's key limit: libmemcached tests group keys against it too. */
#define ROUTE_KEY_MAX 250
/* Routes tried per key.  With two servers and one down, each route has
 * even odds of reaching the live one: 32 leave a key stranded with odds of
 * 2^-31 (and always the same keys, as the routes are fixed). */
#define ROUTE_MAX 32

/* The group key of route n of key (a key of at most ROUTE_KEY_MAX) into
 * out: key itself for 0, else key "#" n, the key's tail cut off when the
 * whole would pass ROUTE_KEY_MAX (still one group key per key and n).
 * false when n >= ROUTE_MAX. */
bool route_group_key(const char *key, unsigned n, char out[ROUTE_KEY_MAX + 1]);

/* Asked for each route in turn: may route n (group key group) be used? */
typedef bool route_usable_fn(void *ctx, unsigned n, const char *group);

/* The first route n, from <= n < limit (at most ROUTE_MAX), that usable
 * accepts, its group key in group; -1 when none does. */
int route_pick(const char *key, unsigned from, unsigned limit, route_usable_fn *usable,
    void *ctx, char group[ROUTE_KEY_MAX + 1]);

#endif
