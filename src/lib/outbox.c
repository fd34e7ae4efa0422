/* outbox.c - see outbox.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_json.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "util.h"

#define EVENT_COLUMNS \
	"e.id, e.type, eccr_ts(e.created_at), e.actor_id, coalesce(e.actor_name, ''), " \
	"e.resource_type, e.resource_id, e.episode_id::text, e.data::text"
enum { C_ID, C_TYPE, C_AT, C_ACTOR, C_ACTOR_NAME, C_RTYPE, C_RID, C_EPISODE, C_DATA, C_NEXT };

/* The events named, and those they caused (notification_created, written
 * by a trigger in the same transaction), so those are as prompt. */
static struct eccr_stmt st_lock_ids = {
	.sql = "SELECT " EVENT_COLUMNS " FROM events e"
	       " WHERE (e.id = ANY($1::bigint[]) OR e.caused_by = ANY($1::bigint[]))"
	       "   AND e.delivered_at IS NULL"
	       " ORDER BY e.id FOR UPDATE SKIP LOCKED",
	.nparams = 1,
};

static struct eccr_stmt st_lock_stale = {
	.sql = "SELECT " EVENT_COLUMNS " FROM events e"
	       " WHERE e.delivered_at IS NULL"
	       "   AND e.created_at < now() - make_interval(secs => $1::int / 1000.0)"
	       " ORDER BY e.id LIMIT $2::int FOR UPDATE SKIP LOCKED",
	.nparams = 2,
};

static struct eccr_stmt st_mark = {
	.sql = "UPDATE events SET delivered_at = now() WHERE id = ANY($1::bigint[])",
	.nparams = 1,
};

/* A sink that did not take an event the first time. */
static struct eccr_stmt st_record = {
	.sql = "INSERT INTO event_deliveries (event_id, sink, status, attempts,"
	       " next_attempt_at, last_error)"
	       " VALUES ($1::bigint, $2, $3, 1,"
	       "  CASE WHEN $3 = 'retry' THEN now() + make_interval(secs => $4::bigint / 1000.0) END, $5)"
	       " ON CONFLICT (event_id, sink) DO NOTHING",
	.nparams = 5,
};

static struct eccr_stmt st_lock_due = {
	.sql = "SELECT " EVENT_COLUMNS ", d.sink, d.attempts FROM event_deliveries d"
	       " JOIN events e ON e.id = d.event_id"
	       " WHERE d.status = 'retry' AND d.next_attempt_at <= now()"
	       " ORDER BY d.next_attempt_at LIMIT $1::int FOR UPDATE OF d SKIP LOCKED",
	.nparams = 1,
};

static struct eccr_stmt st_update = {
	.sql = "UPDATE event_deliveries SET status = $3, attempts = $4::int,"
	       " next_attempt_at = CASE WHEN $3 = 'retry'"
	       "   THEN now() + make_interval(secs => $5::bigint / 1000.0) END,"
	       " last_error = $6, updated_at = now()"
	       " WHERE event_id = $1::bigint AND sink = $2",
	.nparams = 6,
};

int eccr_outbox_register(void)
{
	struct eccr_stmt *all[] = { &st_lock_ids, &st_lock_stale, &st_mark, &st_record,
		&st_lock_due, &st_update };
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->index == 0 && eccr_db_register(all[i]) != 0)
			return -1;
	return 0;
}

int64_t eccr_backoff_ms(int attempt, int base_ms, int max_ms, uint32_t random)
{
	int64_t d = base_ms;
	int i;

	for (i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 2 + (d - d / 2 > 0 ? (int64_t)(random % (uint64_t)(d - d / 2 + 1)) : 0);
}

/* The fields of ev from a row; its json is built by envelopes(). */
static void row_event(PGresult *res, int row, int attempt, struct eccr_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->struct_size = sizeof *ev;
	ev->id = strtoll(PQgetvalue(res, row, C_ID), NULL, 10);
	ev->id_text = PQgetvalue(res, row, C_ID);
	ev->type = PQgetvalue(res, row, C_TYPE);
	ev->occurred_at = PQgetvalue(res, row, C_AT);
	ev->actor_id = PQgetvalue(res, row, C_ACTOR);
	ev->actor_name = PQgetvalue(res, row, C_ACTOR_NAME);
	ev->resource_type = PQgetvalue(res, row, C_RTYPE);
	ev->resource_id = PQgetvalue(res, row, C_RID);
	ev->episode_id = PQgetisnull(res, row, C_EPISODE) ? NULL : PQgetvalue(res, row, C_EPISODE);
	ev->data_json = PQgetvalue(res, row, C_DATA);
	ev->attempt = attempt;
}

/* The envelopes of evs[0..n), one after the other in b, each event's json
 * pointing at its own: false when out of memory. */
static bool envelopes(struct eccr_event *evs, size_t n, struct eccr_buf *b)
{
	size_t i, at;

	for (i = 0; i < n; i++) {
		at = b->len;
		eccr_event_json(b, &evs[i]);
		evs[i].json_len = b->len - at;
		eccr_buf_addc(b, '\0');          /* each envelope a C string */
	}
	if (b->oom)
		return false;
	for (at = 0, i = 0; i < n; i++) {
		evs[i].json = b->p + at;
		at += evs[i].json_len + 1;
	}
	return true;
}

/* The SDK promises that emit() of one instance is never called
 * concurrently.  eccr-worker emits from two threads (its dispatcher and its
 * outbox rounds), so every emit in the process goes through this lock; in
 * eccr-fcgi only the dispatcher emits and it is never contended. */
static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;

/* The sink's answer; *hint_ms the least delay it asked for with
 * host->retry_after (-1: none). */
static int emit_one(struct eccr_plugin_instance *pi, const struct eccr_event *ev,
    int64_t *hint_ms)
{
	int rc;

	pthread_mutex_lock(&emit_lock);
	pi->retry_hint_ms = -1;
	rc = pi->desc.emit(pi->state, ev);
	*hint_ms = pi->retry_hint_ms;
	pi->retry_hint_ms = -1;
	pthread_mutex_unlock(&emit_lock);

	if (rc != ECCR_EMIT_OK && rc != ECCR_EMIT_RETRY && rc != ECCR_EMIT_FAIL) {
		eccr_err("[plugin:%s] emit returned %d for event %s: treated as FAIL",
		    pi->name, rc, ev->id_text);
		rc = ECCR_EMIT_FAIL;
	}
	eccr_metrics_delivery(pi->name, rc);
	return rc;
}

void eccr_outbox_emit_transient(const struct eccr_plugins *ps, const struct eccr_event *ev)
{
	int64_t hint;
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i]->desc.kind == ECCR_PLUGIN_SINK && eccr_plugin_wants(ps->v[i], ev->type))
			(void)emit_one(ps->v[i], ev, &hint);
}

/* The delay before attempt + 1: the backoff, or the sink's hint if longer. */
static int64_t retry_delay_ms(const struct eccr_config *cfg, int attempt, int64_t hint_ms)
{
	int64_t d = eccr_backoff_ms(attempt, ECCR_TUNABLE(cfg->outbox.retry_base_ms),
	    ECCR_TUNABLE(cfg->outbox.retry_max_ms), eccr_random32());

	return hint_ms > d ? hint_ms : d;
}

static const char *outcome_name(int rc)
{
	return rc == ECCR_EMIT_RETRY ? "RETRY" : "FAIL";
}

/* events[0..n) to one sink: emit_batch when it has one, else emit() one
 * at a time; results[i] and hints_ms[i] (-1: none) for each. */
static void emit_many(struct eccr_plugin_instance *pi, const struct eccr_event *const *evs,
    size_t n, int *results, int64_t *hints_ms)
{
	size_t i;

	if (pi->desc.emit_batch == NULL) {
		for (i = 0; i < n; i++)
			results[i] = emit_one(pi, evs[i], &hints_ms[i]);
		return;
	}
	pthread_mutex_lock(&emit_lock);
	for (i = 0; i < n; i++)
		results[i] = -1;        /* left unset: a bug in the plugin, FAIL below */
	pi->retry_hint_ms = -1;
	pi->desc.emit_batch(pi->state, evs, n, results);
	for (i = 0; i < n; i++)
		hints_ms[i] = pi->retry_hint_ms;
	pi->retry_hint_ms = -1;
	pthread_mutex_unlock(&emit_lock);
	for (i = 0; i < n; i++) {
		if (results[i] != ECCR_EMIT_OK && results[i] != ECCR_EMIT_RETRY &&
		    results[i] != ECCR_EMIT_FAIL) {
			eccr_err("[plugin:%s] emit_batch gave %d for event %s: treated as FAIL",
			    pi->name, results[i], evs[i]->id_text);
			results[i] = ECCR_EMIT_FAIL;
		}
		eccr_metrics_delivery(pi->name, results[i]);
	}
}

/* A sink did not take an event the first time: a delivery row to retry
 * it, or a dead one. */
static enum eccr_db_err record_first(struct eccr_db *db, const struct eccr_config *cfg,
    const struct eccr_plugin_instance *pi, const struct eccr_event *ev, int rc, int64_t hint,
    struct eccr_outbox_stats *st)
{
	bool dead = rc == ECCR_EMIT_FAIL || ECCR_TUNABLE(cfg->outbox.max_attempts) <= 1;
	char delay[24], err[64];
	const char *p[5] = { ev->id_text, pi->name, dead ? "dead" : "retry", delay, err };
	PGresult *res;
	enum eccr_db_err e;

	rc == ECCR_EMIT_RETRY ? st->retry++ : st->failed++;
	if (dead)
		st->dead++;
	snprintf(delay, sizeof delay, "%lld", (long long)retry_delay_ms(cfg, 1, hint));
	snprintf(err, sizeof err, "sink answered %s", outcome_name(rc));
	if ((e = eccr_db_exec(db, &st_record, p, &res)) != ECCR_DB_OK)
		return e;
	PQclear(res);
	eccr_log(dead ? LOG_WARNING : LOG_INFO, "event %s to %s: %s%s", ev->id_text,
	    pi->name, outcome_name(rc), dead ? ", dead" : ", will retry");
	return ECCR_DB_OK;
}

/* The first delivery of n events, sink by sink: each sink gets the events
 * it wants, in id order, in one call where it can take them together.
 * Scratch arrays of n come from one allocation per batch. */
static enum eccr_db_err first_delivery(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, const struct eccr_event *evs, size_t n,
    struct eccr_outbox_stats *st)
{
	const struct eccr_event **want;
	int64_t *hints;
	int *results;
	void *scratch;
	enum eccr_db_err e = ECCR_DB_OK;
	size_t i, k, m;

	scratch = malloc(n * (sizeof *want + sizeof *hints + sizeof *results));
	if (scratch == NULL)
		return ECCR_DB_ERROR;
	want = scratch;
	hints = (int64_t *)(want + n);
	results = (int *)(hints + n);
	for (k = 0; k < ps->n && e == ECCR_DB_OK; k++) {
		struct eccr_plugin_instance *pi = ps->v[k];

		if (pi->desc.kind != ECCR_PLUGIN_SINK)
			continue;
		for (m = 0, i = 0; i < n; i++)
			if (eccr_plugin_wants(pi, evs[i].type))
				want[m++] = &evs[i];
		if (m == 0)
			continue;
		emit_many(pi, want, m, results, hints);
		for (i = 0; i < m && e == ECCR_DB_OK; i++) {
			if (results[i] == ECCR_EMIT_OK)
				st->ok++;
			else
				e = record_first(db, cfg, pi, want[i], results[i], hints[i], st);
		}
	}
	free(scratch);
	return e;
}

/* Deliver the locked rows of res (the sink calls in the caller's turn)
 * and mark them dispatched. */
static enum eccr_db_err deliver_locked(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, PGresult *locked, const struct eccr_outbox_turn *turn,
    struct eccr_outbox_stats *st)
{
	struct eccr_buf ids = { 0 }, env = { 0 };
	struct eccr_event *evs;
	const char *p[1];
	PGresult *res;
	enum eccr_db_err e = ECCR_DB_ERROR;
	int i, n = PQntuples(locked);

	if (n == 0)
		return ECCR_DB_OK;
	if ((evs = calloc((size_t)n, sizeof *evs)) == NULL)
		return ECCR_DB_ERROR;
	eccr_buf_addc(&ids, '{');
	for (i = 0; i < n; i++) {
		row_event(locked, i, 1, &evs[i]);
		eccr_buf_printf(&ids, "%s%s", i ? "," : "", evs[i].id_text);
	}
	eccr_buf_addc(&ids, '}');
	if (!envelopes(evs, (size_t)n, &env))
		goto out;
	if (turn)
		turn->wait(turn->arg);
	e = first_delivery(db, ps, cfg, evs, (size_t)n, st);
	if (turn)
		turn->done(turn->arg);
	st->events += (size_t)n;
	if (e == ECCR_DB_OK) {
		p[0] = ids.p;
		if (ids.oom)
			e = ECCR_DB_ERROR;
		else if ((e = eccr_db_exec(db, &st_mark, p, &res)) == ECCR_DB_OK)
			PQclear(res);
	}
out:
	eccr_buf_free(&env);
	eccr_buf_free(&ids);
	free(evs);
	return e;
}

/* One transaction: lock, deliver, mark. */
static enum eccr_db_err run_pass(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, struct eccr_stmt *lock, const char *const *params,
    const struct eccr_outbox_turn *turn, struct eccr_outbox_stats *st)
{
	PGresult *locked;
	enum eccr_db_err e;

	if ((e = eccr_db_begin(db)) != ECCR_DB_OK)
		return e;
	if ((e = eccr_db_exec(db, lock, params, &locked)) != ECCR_DB_OK) {
		eccr_db_rollback(db);
		return e;
	}
	e = deliver_locked(db, ps, cfg, locked, turn, st);
	PQclear(locked);
	if (e != ECCR_DB_OK) {
		eccr_db_rollback(db);
		return e;
	}
	return eccr_db_commit(db);
}

enum eccr_db_err eccr_outbox_deliver_ids(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, const int64_t *ids, size_t n,
    const struct eccr_outbox_turn *turn, struct eccr_outbox_stats *st)
{
	struct eccr_buf arr = { 0 };
	const char *p[1];
	enum eccr_db_err e;
	size_t i;

	memset(st, 0, sizeof *st);
	if (n == 0)
		return ECCR_DB_OK;
	eccr_buf_addc(&arr, '{');
	for (i = 0; i < n; i++)
		eccr_buf_printf(&arr, "%s%lld", i ? "," : "", (long long)ids[i]);
	eccr_buf_addc(&arr, '}');
	p[0] = arr.p;
	e = arr.oom ? ECCR_DB_ERROR : run_pass(db, ps, cfg, &st_lock_ids, p, turn, st);
	eccr_buf_free(&arr);
	return e;
}

enum eccr_db_err eccr_outbox_sweep(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, int limit, struct eccr_outbox_stats *st)
{
	char grace[16], lim[16];
	const char *p[2] = { grace, lim };

	memset(st, 0, sizeof *st);
	snprintf(grace, sizeof grace, "%d", ECCR_TUNABLE(cfg->outbox.grace_ms));
	snprintf(lim, sizeof lim, "%d", limit);
	return run_pass(db, ps, cfg, &st_lock_stale, p, NULL, st);
}

static struct eccr_plugin_instance *find_sink(const struct eccr_plugins *ps, const char *name)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i]->desc.kind == ECCR_PLUGIN_SINK && strcmp(ps->v[i]->name, name) == 0)
			return ps->v[i];
	return NULL;
}

/* One due delivery: emit and record the outcome. */
static enum eccr_db_err retry_one(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, PGresult *due, int row, struct eccr_outbox_stats *st)
{
	const char *sink = PQgetvalue(due, row, C_NEXT);
	int attempt = atoi(PQgetvalue(due, row, C_NEXT + 1)) + 1, rc;
	struct eccr_plugin_instance *pi = find_sink(ps, sink);
	struct eccr_buf env = { 0 };
	char attempts[16], delay[24], err[96];
	const char *p[6];
	struct eccr_event ev;
	PGresult *res;
	int64_t hint;
	enum eccr_db_err e;
	const char *status;

	if (pi == NULL)
		return ECCR_DB_OK;  /* not loaded here; another process may have it */
	row_event(due, row, attempt, &ev);
	if (!envelopes(&ev, 1, &env)) {
		eccr_buf_free(&env);
		return ECCR_DB_ERROR;
	}
	rc = emit_one(pi, &ev, &hint);
	eccr_buf_free(&env);
	if (rc == ECCR_EMIT_OK) {
		status = "delivered";
		st->ok++;
	} else {
		status = rc == ECCR_EMIT_FAIL || attempt >= ECCR_TUNABLE(cfg->outbox.max_attempts) ? "dead" : "retry";
		rc == ECCR_EMIT_RETRY ? st->retry++ : st->failed++;
		if (strcmp(status, "dead") == 0)
			st->dead++;
		eccr_log(*status == 'd' ? LOG_WARNING : LOG_INFO, "event %s to %s, attempt %d: %s%s",
		    ev.id_text, sink, attempt, outcome_name(rc), *status == 'd' ? ", dead" : "");
	}
	snprintf(attempts, sizeof attempts, "%d", attempt);
	snprintf(delay, sizeof delay, "%lld", (long long)retry_delay_ms(cfg, attempt, hint));
	snprintf(err, sizeof err, "sink answered %s on attempt %d",
	    rc == ECCR_EMIT_OK ? "OK" : outcome_name(rc), attempt);
	p[0] = ev.id_text;
	p[1] = sink;
	p[2] = status;
	p[3] = attempts;
	p[4] = delay;
	p[5] = rc == ECCR_EMIT_OK ? NULL : err;
	if ((e = eccr_db_exec(db, &st_update, p, &res)) == ECCR_DB_OK)
		PQclear(res);
	st->events++;
	return e;
}

enum eccr_db_err eccr_outbox_retry_due(struct eccr_db *db, const struct eccr_plugins *ps,
    const struct eccr_config *cfg, int limit, struct eccr_outbox_stats *st)
{
	char lim[16];
	const char *p[1] = { lim };
	PGresult *due;
	enum eccr_db_err e;
	int i;

	memset(st, 0, sizeof *st);
	snprintf(lim, sizeof lim, "%d", limit);
	if ((e = eccr_db_begin(db)) != ECCR_DB_OK)
		return e;
	if ((e = eccr_db_exec(db, &st_lock_due, p, &due)) != ECCR_DB_OK) {
		eccr_db_rollback(db);
		return e;
	}
	for (i = 0; i < PQntuples(due) && e == ECCR_DB_OK; i++)
		e = retry_one(db, ps, cfg, due, i, st);
	PQclear(due);
	if (e != ECCR_DB_OK) {
		eccr_db_rollback(db);
		return e;
	}
	return eccr_db_commit(db);
}
