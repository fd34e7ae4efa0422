/* Integration tests: every migration applies and reverts cleanly
 * (eccrctl migrate up, down all the way, up again) on a database of its
 * own in the harness's PostgreSQL, leaving nothing of ECCR behind when
 * all are reverted. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client.h"

/* Run cmd, its output into out; returns its exit status. */
static int run(const char *cmd, char *out, size_t outlen)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

/* One statement on the scratch database (or the harness's, db NULL);
 * the first column of its first row as a long, or -1. */
static long sql_on(const char *db, const char *sql)
{
	char conninfo[512];
	PGconn *c;
	PGresult *res;
	long v = -1;

	snprintf(conninfo, sizeof conninfo, "%s%s%s", getenv("ECCR_TEST_CONNINFO"),
	    db ? " dbname=" : "", db ? db : "");
	c = PQconnectdb(conninfo);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	res = PQexec(c, sql);
	cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK,
	    "%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
		v = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return v;
}

static int migrate(const char *conf, const char *args, char *out, size_t outlen)
{
	char cmd[2048];

	snprintf(cmd, sizeof cmd, "%s -c %s migrate %s --dir %s/db/migrations 2>&1",
	    getenv("ECCR_TEST_ECCRCTL"), conf, args, getenv("ECCR_SRCDIR"));
	return run(cmd, out, outlen);
}

/* What ECCR leaves in a database: tables (but the migrations' own
 * ledger), functions, types and sequences in public. */
static long eccr_objects(const char *db)
{
	return sql_on(db, "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
	    "  AND tablename <> 'schema_migrations')"
	    " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
	    "    WHERE n.nspname = 'public')"
	    " + (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	    "    WHERE n.nspname = 'public' AND c.relkind = 'S')");
}

Test(migrations, up_down_all_and_up_again, .timeout = 120)
{
	char db[64], sql[160], conf[512], out[16384];
	long n, applied;
	FILE *f;

	snprintf(db, sizeof db, "eccr_mig_%s", uniq());   /* uniq(): [a-z0-9] only */
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
	sql_on(NULL, sql);
	snprintf(conf, sizeof conf, "%s/%s.conf", getenv("ECCR_TEST_STACK_DIR"), db);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "[database]\nconninfo = %s dbname=%s\n", getenv("ECCR_TEST_CONNINFO"), db);
	fclose(f);

	cr_assert_eq(migrate(conf, "up", out, sizeof out), 0, "%s", out);
	applied = sql_on(db, "SELECT count(*) FROM schema_migrations");
	cr_assert_geq(applied, 6, "%s", out);
	cr_assert_gt(eccr_objects(db), 0);
	n = sql_on(db, "SELECT count(*) FROM pg_proc WHERE proname = 'eccr_idempotency_claim'");
	cr_assert_eq(n, 1);

	snprintf(sql, sizeof sql, "down --steps %ld", applied);
	cr_assert_eq(migrate(conf, sql, out, sizeof out), 0, "%s", out);
	cr_assert_eq(sql_on(db, "SELECT count(*) FROM schema_migrations"), 0, "%s", out);
	cr_assert_eq(eccr_objects(db), 0, "a down migration left objects behind: %s", out);

	cr_assert_eq(migrate(conf, "up", out, sizeof out), 0, "%s", out);
	cr_assert_eq(sql_on(db, "SELECT count(*) FROM schema_migrations"), applied);
	cr_assert_eq(migrate(conf, "status", out, sizeof out), 0, "%s", out);

	snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
	sql_on(NULL, sql);
}
