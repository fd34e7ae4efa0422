/* Unit tests: plugins/presence-memcache/shard.c (the index of resources
 * with viewers, one shard of it). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

#define EP "episode:5e3c0000-0000-4000-8000-000000000001"
#define FI "file:9a010000-0000-4000-8000-000000000002"

static void decode_ok(const char *text, struct shard *sh)
{
	shard_init(sh);
	cr_assert_eq(shard_decode(text, strlen(text), sh), 0, "%s", text);
}

static void decode_bad(const char *text)
{
	struct shard sh;

	shard_init(&sh);
	cr_assert_eq(shard_decode(text, strlen(text), &sh), -1, "accepted \"%s\"", text);
	cr_assert_eq(sh.n, 0);
	cr_assert_null(sh.v);
}

Test(shard, add_encode_decode_round_trip)
{
	struct shard sh, back;
	size_t len;
	char *text;

	shard_init(&sh);
	cr_assert_eq(shard_add(&sh, EP), 1);
	cr_assert_eq(shard_add(&sh, FI), 1);
	cr_assert_eq(shard_add(&sh, EP), 0, "added twice");
	text = shard_encode(&sh, &len);
	cr_assert_str_eq(text, EP "\n" FI "\n");
	cr_assert_eq(len, strlen(text));
	cr_assert_eq(sh.bytes, len);
	decode_ok(text, &back);
	cr_assert_eq(back.n, 2);
	cr_assert_str_eq(back.v[0], EP);
	cr_assert_str_eq(back.v[1], FI);
	cr_assert_eq(back.bytes, len);
	free(text);
	shard_free(&sh);
	shard_free(&back);
}

Test(shard, empty_value_is_an_empty_shard)
{
	struct shard sh;
	size_t len = 99;
	char *text;

	decode_ok("", &sh);
	cr_assert_eq(sh.n, 0);
	text = shard_encode(&sh, &len);
	cr_assert_str_eq(text, "");
	cr_assert_eq(len, 0);
	free(text);
}

Test(shard, remove_takes_one_entry_and_keeps_the_order)
{
	struct shard sh;
	size_t len;
	char *text;

	decode_ok("episode:a\nepisode:b\njob:c\n", &sh);
	cr_assert_eq(shard_remove(&sh, "episode:b"), 1);
	cr_assert_eq(shard_remove(&sh, "episode:b"), 0);
	cr_assert_eq(shard_remove(&sh, "episode:zz"), 0);
	cr_assert(shard_has(&sh, "episode:a"));
	cr_assert_not(shard_has(&sh, "episode:b"));
	text = shard_encode(&sh, &len);
	cr_assert_str_eq(text, "episode:a\njob:c\n");
	cr_assert_eq(sh.bytes, len);
	free(text);
	cr_assert_eq(shard_remove(&sh, "episode:a"), 1);
	cr_assert_eq(shard_remove(&sh, "job:c"), 1);
	cr_assert_eq(sh.n, 0);
	cr_assert_eq(sh.bytes, 0);
	shard_free(&sh);
}

Test(shard, damaged_values_are_refused_whole)
{
	decode_bad("episode:a");                 /* no final newline */
	decode_bad("episode:a\n\n");             /* empty entry */
	decode_bad("episode:a\nepisode:a\n");    /* twice */
	decode_bad("Episode:a\n");
	decode_bad("episode\n");
	decode_bad(":a\n");
	decode_bad("episode:\n");
	decode_bad("episode:a b\n");
	decode_bad("episode:a\tb\n");
	decode_bad("[\"episode:a\"]");
}

Test(shard, malformed_entries_are_not_added)
{
	struct shard sh;
	char longid[80];

	shard_init(&sh);
	memset(longid, 'x', sizeof longid);
	memcpy(longid, "job:", 4);
	longid[4 + 65] = '\0';                  /* an id of 65 */
	cr_assert_eq(shard_add(&sh, "episode:a b"), -1);
	cr_assert_eq(shard_add(&sh, "nocolon"), -1);
	cr_assert_eq(shard_add(&sh, longid), -1);
	longid[4 + 64] = '\0';                  /* 64 is fine */
	cr_assert_eq(shard_add(&sh, longid), 1);
	cr_assert(shard_entry_ok("a_b:id:with:colons", strlen("a_b:id:with:colons")));
	shard_free(&sh);
}

Test(shard, a_full_shard_refuses_new_entries_but_keeps_its_own)
{
	struct shard sh;
	char e[64];

	shard_init(&sh);
	for (int i = 0; i < SHARD_ENTRIES_MAX; i++) {
		snprintf(e, sizeof e, "episode:%d", i);
		cr_assert_eq(shard_add(&sh, e), 1, "%s", e);
	}
	cr_assert_eq(shard_add(&sh, "episode:one-more"), -2);
	cr_assert_eq(shard_add(&sh, "episode:7"), 0, "a present entry is no addition");
	cr_assert_eq(shard_remove(&sh, "episode:7"), 1);
	cr_assert_eq(shard_add(&sh, "episode:one-more"), 1, "room again after a removal");
	shard_free(&sh);
}

Test(shard, the_value_limit_bounds_long_entries)
{
	struct shard sh;
	char e[SHARD_ENTRY_MAX + 1];
	int added = 0, rc;

	shard_init(&sh);
	memset(e, 'x', SHARD_ENTRY_MAX);
	memcpy(e, "episode:", 8);
	e[SHARD_ENTRY_MAX - 32 + 7] = '\0';     /* "episode:" and an id of 64 */
	do {
		snprintf(e + 8, 9, "%08d", added);
		e[8 + 8] = 'x';
		rc = shard_add(&sh, e);
		added += rc == 1;
	} while (rc == 1 && added < SHARD_ENTRIES_MAX);
	cr_assert_eq(rc, -2, "%d entries of %zu bytes", added, strlen(e));
	cr_assert_leq(sh.bytes, SHARD_VALUE_MAX);
	cr_assert_gt(sh.bytes + strlen(e) + 1, SHARD_VALUE_MAX);
	shard_free(&sh);
}

Test(shard, shard_of_is_stable_and_spreads)
{
	int seen[SHARD_COUNT] = { 0 };
	char e[64];

	/* FNV-1a 32 of "episode:x" is fixed: the index must not move between
	 * builds or processes. */
	cr_assert_eq(shard_of("episode:x"), 0x7b88aec0u % SHARD_COUNT);
	for (int i = 0; i < 1000; i++) {
		snprintf(e, sizeof e, "episode:%d", i);
		cr_assert_lt(shard_of(e), SHARD_COUNT);
		seen[shard_of(e)]++;
	}
	for (int i = 0; i < SHARD_COUNT; i++)
		cr_assert_gt(seen[i], 20, "shard %d got %d of 1000", i, seen[i]);
}
