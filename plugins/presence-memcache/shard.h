/* shard.h - one shard of presence-memcache's index of the resources that
 * have viewers: pure code (no I/O, no clock), unit-tested in
 * tests/unit/test_presence_shard.c.
 *
 * The index lets a sweep find viewers whose ttl ran out on a resource
 * nobody touches any more.  It is spread over SHARD_COUNT memcached keys,
 * KEY_PREFIX "index:" N, N = shard_of("type:id"); each value is the
 * entries "type:id" each followed by a newline (a key may hold no
 * whitespace, so the list needs no quoting):
 *
 *     episode:5e3c...\nfile:9a01...\n
 */
#ifndef ECCR_PRESENCE_SHARD_H
#define ECCR_PRESENCE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_COUNT 16
/* Bounds of one shard: beyond them a resource is not indexed and its
 * expiries wait for the next request that reads it (the lazy path). */
#define SHARD_ENTRIES_MAX 10000
#define SHARD_VALUE_MAX (512 * 1024)
/* "type:id": a type of 1..32 of a-z and _, an id of 1..64 printable
 * characters without spaces. */
#define SHARD_ENTRY_MAX (32 + 1 + 64)

struct shard {
	char **v;
	size_t n, cap;
	size_t bytes;       /* the encoded length */
};

void shard_init(struct shard *sh);
void shard_free(struct shard *sh);

/* Which shard holds entry: FNV-1a of its bytes, mod SHARD_COUNT (stable
 * across processes, builds and restarts). */
unsigned shard_of(const char *entry);

/* Is entry a well-formed "type:id"? */
bool shard_entry_ok(const char *entry, size_t len);

/* Parse a stored value into sh (which must be empty).  Returns 0, or -1
 * when it is not a list of well-formed entries without repeats (sh is then
 * left empty: the caller starts afresh rather than be stuck on a damaged
 * key; the resources it named fall back to the lazy path). */
int shard_decode(const char *text, size_t len, struct shard *sh);

/* The stored value of sh, malloc'd and NUL-terminated (*len its length),
 * or NULL when out of memory. */
char *shard_encode(const struct shard *sh, size_t *len);

bool shard_has(const struct shard *sh, const char *entry);

/* Add entry (well-formed).  1: added; 0: present already; -2: the shard
 * is full (SHARD_ENTRIES_MAX or SHARD_VALUE_MAX); -1: out of memory or a
 * malformed entry. */
int shard_add(struct shard *sh, const char *entry);

/* Remove entry.  1: removed; 0: it was not there. */
int shard_remove(struct shard *sh, const char *entry);

#endif
