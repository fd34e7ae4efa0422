/* db.c - see db.h. */
#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The registry is written before threads start and only read after. */
static struct eccr_stmt *registry[ECCR_DB_MAX_STMTS + 1];
static int nregistered;

struct eccr_db {
	PGconn *conn;
	char *conninfo;
	char *appname;
	bool in_txn;
	bool down_logged;         /* log an outage once, not once per request */
	unsigned generation;      /* connections opened so far */
	char constraint[64];
	uint8_t prepared[(ECCR_DB_MAX_STMTS + 1 + 7) / 8];
};

int eccr_db_register(struct eccr_stmt *st)
{
	if (st->index != 0)
		return 0;
	if (nregistered >= ECCR_DB_MAX_STMTS)
		return -1;
	st->index = ++nregistered;
	registry[st->index] = st;
	return 0;
}

struct eccr_db *eccr_db_new(const char *conninfo, const char *appname)
{
	struct eccr_db *db = calloc(1, sizeof *db);

	if (db == NULL)
		return NULL;
	db->conninfo = strdup(conninfo ? conninfo : "");
	db->appname = strdup(appname ? appname : "eccr");
	if (db->conninfo == NULL || db->appname == NULL) {
		eccr_db_free(db);
		return NULL;
	}
	return db;
}

static void db_disconnect(struct eccr_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->in_txn = false;
	memset(db->prepared, 0, sizeof db->prepared);
}

void eccr_db_free(struct eccr_db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db->conninfo);
	free(db->appname);
	free(db);
}

PGconn *eccr_db_conn(struct eccr_db *db)
{
	return db->conn;
}

unsigned eccr_db_generation(const struct eccr_db *db)
{
	return db->generation;
}

const char *eccr_db_last_constraint(const struct eccr_db *db)
{
	return db->constraint;
}

PGconn *eccr_pg_connect(const char *conninfo, const char *appname)
{
	/* Our defaults come first; the operator's conninfo (expanded from
	 * "dbname") comes after and so overrides them.  Keepalives and the
	 * user timeout matter only over TCP; libpq ignores them on sockets. */
	const char *keys[] = { "connect_timeout", "keepalives", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    "application_name", "client_encoding", "options", "dbname", NULL };
	const char *vals[] = { "5", "1", "30", "10", "3", "60000",
	    appname, "UTF8", "-c TimeZone=UTC", conninfo, NULL };

	return PQconnectdbParams(keys, vals, 1);
}

static enum eccr_db_err db_connect(struct eccr_db *db)
{
	db_disconnect(db);
	db->conn = eccr_pg_connect(db->conninfo, db->appname);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		if (!db->down_logged)
			eccr_err("database: cannot connect: %s",
			    db->conn ? PQerrorMessage(db->conn) : "out of memory");
		db->down_logged = true;
		db_disconnect(db);
		return ECCR_DB_UNAVAILABLE;
	}
	db->generation++;
	if (db->down_logged)
		eccr_notice("database: connected again");
	db->down_logged = false;
	return ECCR_DB_OK;
}

enum eccr_db_err eccr_db_ensure(struct eccr_db *db)
{
	if (db->conn != NULL && !db->in_txn) {
		/* A server that shut down sent us a FATAL and closed the socket;
		 * reading it now (non-blocking) turns that into CONNECTION_BAD
		 * instead of a failed request.  Twice: the first read takes the
		 * FATAL message and leaves the status OK, only the next one
		 * meets the end of the stream (libpq 15, seen: without it every
		 * thread failed its first write after a PostgreSQL restart).
		 * On a live connection the second is one recv() that would block. */
		if (PQconsumeInput(db->conn))
			PQconsumeInput(db->conn);
		if (PQstatus(db->conn) != CONNECTION_OK)
			db_disconnect(db);
	}
	if (db->conn != NULL)
		return ECCR_DB_OK;
	return db_connect(db);
}

static enum eccr_db_err db_classify(struct eccr_db *db, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

	snprintf(db->constraint, sizeof db->constraint, "%s", cons ? cons : "");
	if (PQstatus(db->conn) != CONNECTION_OK || state == NULL)
		return ECCR_DB_UNAVAILABLE;
	if (strcmp(state, "23505") == 0)
		return ECCR_DB_UNIQUE;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return ECCR_DB_SERIALIZATION;
	/* 57: operator intervention (shutdown), 53: out of resources,
	 * 08: connection exceptions. */
	if (strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
	    strncmp(state, "08", 2) == 0)
		return ECCR_DB_UNAVAILABLE;
	if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)
		return ECCR_DB_INVALID;
	return ECCR_DB_ERROR;
}

static enum eccr_db_err db_fail(struct eccr_db *db, PGresult *res, const char *what)
{
	enum eccr_db_err e = db_classify(db, res);

	if (e == ECCR_DB_UNAVAILABLE) {
		if (!db->down_logged)
			eccr_err("database: %s: %s", what, PQerrorMessage(db->conn));
		db->down_logged = true;
		db_disconnect(db);
	} else if (e == ECCR_DB_ERROR || e == ECCR_DB_INVALID) {
		eccr_err("database: %s: %s", what,
		    res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	}
	PQclear(res);
	return e;
}

static enum eccr_db_err db_prepare(struct eccr_db *db, const struct eccr_stmt *st,
    const char *name)
{
	PGresult *res;

	if (db->prepared[st->index / 8] & (1u << (st->index % 8)))
		return ECCR_DB_OK;
	res = PQprepare(db->conn, name, st->sql, st->nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return db_fail(db, res, "prepare");
	PQclear(res);
	db->prepared[st->index / 8] |= (uint8_t)(1u << (st->index % 8));
	return ECCR_DB_OK;
}

static enum eccr_db_err db_exec_once(struct eccr_db *db, struct eccr_stmt *st,
    const char *const *params, PGresult **res)
{
	char name[16];
	enum eccr_db_err e;
	PGresult *r;
	ExecStatusType s;

	if ((e = eccr_db_ensure(db)) != ECCR_DB_OK)
		return e;
	snprintf(name, sizeof name, "s%d", st->index);
	if ((e = db_prepare(db, st, name)) != ECCR_DB_OK)
		return e;
	r = PQexecPrepared(db->conn, name, st->nparams, params, NULL, NULL, 0);
	s = PQresultStatus(r);
	if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK)
		return db_fail(db, r, "query");
	*res = r;
	return ECCR_DB_OK;
}

enum eccr_db_err eccr_db_exec(struct eccr_db *db, struct eccr_stmt *st,
    const char *const *params, PGresult **res)
{
	bool had_conn = db->conn != NULL;
	enum eccr_db_err e;

	*res = NULL;
	if (st->index == 0) {
		eccr_err("database: statement used before registration: %.60s", st->sql);
		return ECCR_DB_ERROR;
	}
	e = db_exec_once(db, st, params, res);
	/* A read on a connection that had silently died is retried once on a
	 * fresh one; outside a transaction only, where nothing else is lost. */
	if (e == ECCR_DB_UNAVAILABLE && had_conn && !db->in_txn &&
	    (st->flags & ECCR_STMT_READ))
		e = db_exec_once(db, st, params, res);
	return e;
}

enum eccr_db_err eccr_db_command(struct eccr_db *db, const char *sql)
{
	PGresult *r;
	enum eccr_db_err e;

	if ((e = eccr_db_ensure(db)) != ECCR_DB_OK)
		return e;
	r = PQexec(db->conn, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return db_fail(db, r, sql);
	PQclear(r);
	return ECCR_DB_OK;
}

enum eccr_db_err eccr_db_begin(struct eccr_db *db)
{
	enum eccr_db_err e = eccr_db_command(db, "BEGIN");

	db->in_txn = e == ECCR_DB_OK;
	return e;
}

enum eccr_db_err eccr_db_commit(struct eccr_db *db)
{
	enum eccr_db_err e = eccr_db_command(db, "COMMIT");

	db->in_txn = false;
	return e;
}

void eccr_db_rollback(struct eccr_db *db)
{
	PGresult *r;

	if (db->conn == NULL || !db->in_txn)
		return;
	db->in_txn = false;
	r = PQexec(db->conn, "ROLLBACK");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		db_disconnect(db);  /* unknown state: start over */
	PQclear(r);
}
