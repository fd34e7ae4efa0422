/* shard.c - one shard of the index of resources with viewers; see shard.h. */
#include "shard.h"

#include <stdlib.h>
#include <string.h>

#define TYPE_MAX 32
#define RID_MAX 64

void shard_init(struct shard *sh)
{
	sh->v = NULL;
	sh->n = sh->cap = sh->bytes = 0;
}

void shard_free(struct shard *sh)
{
	for (size_t i = 0; i < sh->n; i++)
		free(sh->v[i]);
	free(sh->v);
	shard_init(sh);
}

unsigned shard_of(const char *entry)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)entry; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % SHARD_COUNT;
}

bool shard_entry_ok(const char *entry, size_t len)
{
	const char *colon = memchr(entry, ':', len);
	size_t tl = colon ? (size_t)(colon - entry) : 0, il = colon ? len - tl - 1 : 0;

	if (tl == 0 || tl > TYPE_MAX || il == 0 || il > RID_MAX)
		return false;
	for (size_t i = 0; i < tl; i++)
		if ((entry[i] < 'a' || entry[i] > 'z') && entry[i] != '_')
			return false;
	for (size_t i = tl + 1; i < len; i++)
		if (entry[i] <= ' ' || entry[i] > '~')
			return false;
	return true;
}

/* Append a copy of len bytes of entry; -1 when out of memory. */
static int append(struct shard *sh, const char *entry, size_t len)
{
	char **nv;
	size_t cap = sh->cap ? sh->cap * 2 : 16;

	if (sh->n == sh->cap) {
		if ((nv = realloc(sh->v, cap * sizeof *nv)) == NULL)
			return -1;
		sh->v = nv;
		sh->cap = cap;
	}
	if ((sh->v[sh->n] = strndup(entry, len)) == NULL)
		return -1;
	sh->n++;
	sh->bytes += len + 1;
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does an entry appear twice?  Sorted copies, so a full shard costs
 * n log n comparisons, not the n^2 of asking shard_has for each entry
 * (this runs on request threads, at every join). */
static int has_duplicates(const struct shard *sh)
{
	char **sorted;
	int dup = 0;

	if (sh->n < 2)
		return 0;
	if ((sorted = malloc(sh->n * sizeof *sorted)) == NULL)
		return -1;
	memcpy(sorted, sh->v, sh->n * sizeof *sorted);
	qsort(sorted, sh->n, sizeof *sorted, by_text);
	for (size_t i = 1; i < sh->n && !dup; i++)
		dup = strcmp(sorted[i - 1], sorted[i]) == 0;
	free(sorted);
	return dup;
}

int shard_decode(const char *text, size_t len, struct shard *sh)
{
	size_t at = 0;

	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t el = nl ? (size_t)(nl - (text + at)) : 0;
		char entry[SHARD_ENTRY_MAX + 1];

		if (nl == NULL || !shard_entry_ok(text + at, el) || sh->n >= SHARD_ENTRIES_MAX)
			goto damaged;
		memcpy(entry, text + at, el);
		entry[el] = '\0';
		if (append(sh, entry, el) != 0)
			goto damaged;
		at += el + 1;
	}
	if (has_duplicates(sh) != 0)
		goto damaged;
	return 0;
damaged:
	shard_free(sh);
	return -1;
}

char *shard_encode(const struct shard *sh, size_t *len)
{
	char *out = malloc(sh->bytes + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < sh->n; i++) {
		size_t el = strlen(sh->v[i]);

		memcpy(p, sh->v[i], el);
		p[el] = '\n';
		p += el + 1;
	}
	*p = '\0';
	*len = (size_t)(p - out);
	return out;
}

bool shard_has(const struct shard *sh, const char *entry)
{
	for (size_t i = 0; i < sh->n; i++)
		if (strcmp(sh->v[i], entry) == 0)
			return true;
	return false;
}

int shard_add(struct shard *sh, const char *entry)
{
	size_t len = strlen(entry);

	if (!shard_entry_ok(entry, len))
		return -1;
	if (shard_has(sh, entry))
		return 0;
	if (sh->n >= SHARD_ENTRIES_MAX || sh->bytes + len + 1 > SHARD_VALUE_MAX)
		return -2;
	return append(sh, entry, len) == 0 ? 1 : -1;
}

int shard_remove(struct shard *sh, const char *entry)
{
	for (size_t i = 0; i < sh->n; i++) {
		if (strcmp(sh->v[i], entry) != 0)
			continue;
		sh->bytes -= strlen(sh->v[i]) + 1;
		free(sh->v[i]);
		memmove(&sh->v[i], &sh->v[i + 1], (sh->n - i - 1) * sizeof sh->v[0]);
		sh->n--;
		return 1;
	}
	return 0;
}
