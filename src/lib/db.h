/* db.h - PostgreSQL access: one connection per thread, prepared statements.
 *
 * Statements are declared once (static struct eccr_stmt) and registered at
 * start-up, before threads run; each connection prepares a statement the
 * first time it uses it.  A connection that broke (server restart, network)
 * is re-established on the next use, so the service heals by itself; reads
 * are retried once on a fresh connection, writes never (they may have run).
 */
#ifndef ECCR_DB_H
#define ECCR_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define ECCR_DB_MAX_STMTS 1024

enum eccr_stmt_flags {
	ECCR_STMT_READ = 1 << 0   /* no side effects: safe to retry */
};

struct eccr_stmt {
	const char *sql;
	int nparams;
	unsigned flags;
	int index;                /* assigned by eccr_db_register; 0 = unregistered */
};

enum eccr_db_err {
	ECCR_DB_OK = 0,
	ECCR_DB_UNAVAILABLE,      /* cannot reach the server: 503 */
	ECCR_DB_UNIQUE,           /* unique_violation */
	ECCR_DB_INVALID,          /* a data exception or check violation: bad input that got past validation */
	ECCR_DB_SERIALIZATION,    /* serialization failure or deadlock: retryable */
	ECCR_DB_ERROR             /* anything else: a bug or a broken schema */
};

struct eccr_db;

/* Register a statement; not thread-safe, call before threads start.
 * Returns 0, or -1 when the table is full. */
int eccr_db_register(struct eccr_stmt *st);

/* Open a connection with our defaults, which the operator's conninfo
 * overrides: a 5 s connect timeout, TCP keepalives and a TCP user timeout
 * (a half-open connection fails within about a minute instead of the
 * kernel's quarter of an hour: a blocked LISTEN or query returns), UTF8
 * and UTC.  Never NULL except out of memory; check PQstatus. */
PGconn *eccr_pg_connect(const char *conninfo, const char *appname);

/* A connection handle (not connected yet).  appname shows in pg_stat_activity. */
struct eccr_db *eccr_db_new(const char *conninfo, const char *appname);
void eccr_db_free(struct eccr_db *db);

/* Connect if not connected, and notice a connection the server closed. */
enum eccr_db_err eccr_db_ensure(struct eccr_db *db);

/* Run a registered statement.  On ECCR_DB_OK *res holds the result
 * (PQclear it); otherwise *res is NULL and the error was logged. */
enum eccr_db_err eccr_db_exec(struct eccr_db *db, struct eccr_stmt *st,
    const char *const *params, PGresult **res);

/* Plain commands without parameters (BEGIN, COMMIT, ROLLBACK). */
enum eccr_db_err eccr_db_command(struct eccr_db *db, const char *sql);
enum eccr_db_err eccr_db_begin(struct eccr_db *db);
enum eccr_db_err eccr_db_commit(struct eccr_db *db);
/* Roll back if a transaction is open; never fails the caller. */
void eccr_db_rollback(struct eccr_db *db);

/* Constraint name of the last ECCR_DB_UNIQUE/INVALID error ("" if none). */
const char *eccr_db_last_constraint(const struct eccr_db *db);

/* Counts the connections opened: session state (an advisory lock, a
 * prepared statement) belongs to the generation that created it. */
unsigned eccr_db_generation(const struct eccr_db *db);

/* The raw connection, for LISTEN and tools; may be NULL. */
PGconn *eccr_db_conn(struct eccr_db *db);

#endif
