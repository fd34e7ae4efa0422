/* migrate.c - eccrctl migrate up|down|status.
 *
 * Migrations are files NNNN_name.up.sql / NNNN_name.down.sql in one
 * directory.  Each runs in its own transaction together with its row in
 * schema_migrations, so a failed migration leaves no trace, and the whole
 * run holds a session advisory lock so two hosts never migrate at once. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ctl.h"
#include "util.h"

#ifndef ECCR_MIGRATIONS_DIR
#define ECCR_MIGRATIONS_DIR "/usr/local/share/eccr/migrations"
#endif

#define MIGRATION_MAX 1000
#define MIGRATION_FILE_MAX (16 * 1024 * 1024)
/* "ECCR" as an integer: the key of the advisory lock every eccrctl takes. */
#define MIGRATION_LOCK_KEY "1162036050"

struct migration {
	int version;
	char name[128];
	bool has_up, has_down;
	bool applied;
	char applied_at[40];
};

struct migrations {
	const char *dir;
	struct migration m[MIGRATION_MAX];
	size_t n;
};

/* "0001_init.up.sql" -> version 1, name "init", up.  Anything else is not
 * a migration and is ignored (README files, editor backups). */
static bool parse_name(const char *f, int *version, char *name, size_t namelen, bool *up)
{
	size_t len = strlen(f), i, stem;
	int v = 0;

	for (i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)f[i]))
			return false;
		v = v * 10 + (f[i] - '0');
	}
	if (f[4] != '_' || v == 0)
		return false;
	if (len > 12 && strcmp(f + len - 7, ".up.sql") == 0) {
		*up = true;
		stem = len - 7;
	} else if (len > 14 && strcmp(f + len - 9, ".down.sql") == 0) {
		*up = false;
		stem = len - 9;
	} else {
		return false;
	}
	if (stem - 5 == 0 || stem - 5 >= namelen)
		return false;
	for (i = 5; i < stem; i++)
		if (!islower((unsigned char)f[i]) && !isdigit((unsigned char)f[i]) && f[i] != '_')
			return false;
	memcpy(name, f + 5, stem - 5);
	name[stem - 5] = '\0';
	*version = v;
	return true;
}

static struct migration *find_or_add(struct migrations *ms, int version, const char *name)
{
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (ms->m[i].version == version)
			return &ms->m[i];
	if (ms->n == MIGRATION_MAX)
		return NULL;
	memset(&ms->m[ms->n], 0, sizeof ms->m[0]);
	ms->m[ms->n].version = version;
	snprintf(ms->m[ms->n].name, sizeof ms->m[0].name, "%s", name);
	return &ms->m[ms->n++];
}

static int cmp_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static int scan_dir(struct migrations *ms)
{
	struct dirent *de;
	struct migration *m;
	char name[128];
	DIR *d;
	bool up;
	int v;

	if ((d = opendir(ms->dir)) == NULL) {
		fprintf(stderr, "eccrctl migrate: %s: %s\n", ms->dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!parse_name(de->d_name, &v, name, sizeof name, &up))
			continue;
		if ((m = find_or_add(ms, v, name)) == NULL) {
			fprintf(stderr, "eccrctl migrate: too many migrations in %s\n", ms->dir);
			closedir(d);
			return -1;
		}
		if (strcmp(m->name, name) != 0) {
			fprintf(stderr, "eccrctl migrate: version %04d has two names: %s and %s\n",
			    v, m->name, name);
			closedir(d);
			return -1;
		}
		if (up)
			m->has_up = true;
		else
			m->has_down = true;
	}
	closedir(d);
	qsort(ms->m, ms->n, sizeof ms->m[0], cmp_version);
	return 0;
}

static bool run_ok(PGconn *db, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	fprintf(stderr, "eccrctl migrate: %s: %s", what, PQerrorMessage(db));
	return false;
}

static bool exec_simple(PGconn *db, const char *sql, const char *what)
{
	PGresult *res = PQexec(db, sql);
	bool ok = run_ok(db, res, what);

	PQclear(res);
	return ok;
}

static int load_applied(PGconn *db, struct migrations *ms)
{
	PGresult *res;
	struct migration *m;
	int i;

	res = PQexec(db, "SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC',"
	    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM schema_migrations ORDER BY version");
	if (!run_ok(db, res, "reading schema_migrations")) {
		PQclear(res);
		return -1;
	}
	for (i = 0; i < PQntuples(res); i++) {
		m = find_or_add(ms, atoi(PQgetvalue(res, i, 0)), PQgetvalue(res, i, 1));
		if (m == NULL)
			break;
		m->applied = true;
		snprintf(m->applied_at, sizeof m->applied_at, "%s", PQgetvalue(res, i, 2));
	}
	PQclear(res);
	qsort(ms->m, ms->n, sizeof ms->m[0], cmp_version);
	return 0;
}

/* One migration step: the file and its bookkeeping row, in one transaction. */
static int apply_one(PGconn *db, const struct migrations *ms, const struct migration *m, bool up)
{
	char path[4096], ver[16];
	const char *params[2] = { ver, m->name };
	char *sql = NULL;
	size_t len;
	PGresult *res;
	int e;

	snprintf(path, sizeof path, "%s/%04d_%s.%s.sql", ms->dir, m->version, m->name,
	    up ? "up" : "down");
	snprintf(ver, sizeof ver, "%d", m->version);
	if ((e = eccr_read_file(path, MIGRATION_FILE_MAX, &sql, &len)) != 0) {
		fprintf(stderr, "eccrctl migrate: %s: %s\n", path, strerror(e));
		return -1;
	}
	if (!exec_simple(db, "BEGIN", "BEGIN"))
		goto fail;
	if (!exec_simple(db, sql, path))
		goto rollback;
	res = up ?
	    PQexecParams(db, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
		2, NULL, params, NULL, NULL, 0) :
	    PQexecParams(db, "DELETE FROM schema_migrations WHERE version = $1::int",
		1, NULL, params, NULL, NULL, 0);
	if (!run_ok(db, res, "recording the migration")) {
		PQclear(res);
		goto rollback;
	}
	PQclear(res);
	if (!exec_simple(db, "COMMIT", "COMMIT"))
		goto fail;
	printf("%s %04d_%s\n", up ? "applied" : "reverted", m->version, m->name);
	free(sql);
	return 0;
rollback:
	exec_simple(db, "ROLLBACK", "ROLLBACK");
fail:
	free(sql);
	return -1;
}

static int migrate_up(PGconn *db, struct migrations *ms, long steps)
{
	size_t i;
	long done = 0;

	for (i = 0; i < ms->n && (steps <= 0 || done < steps); i++) {
		if (ms->m[i].applied)
			continue;
		if (!ms->m[i].has_up) {
			fprintf(stderr, "eccrctl migrate: %04d_%s has no .up.sql file\n",
			    ms->m[i].version, ms->m[i].name);
			return -1;
		}
		if (apply_one(db, ms, &ms->m[i], true) != 0)
			return -1;
		done++;
	}
	if (done == 0)
		printf("up to date\n");
	return 0;
}

static int migrate_down(PGconn *db, struct migrations *ms, long steps)
{
	size_t i;
	long done = 0;

	for (i = ms->n; i-- > 0 && done < steps;) {
		if (!ms->m[i].applied)
			continue;
		if (!ms->m[i].has_down) {
			fprintf(stderr, "eccrctl migrate: %04d_%s has no .down.sql file\n",
			    ms->m[i].version, ms->m[i].name);
			return -1;
		}
		if (apply_one(db, ms, &ms->m[i], false) != 0)
			return -1;
		done++;
	}
	if (done == 0)
		printf("nothing to revert\n");
	return 0;
}

static void migrate_status(const struct migrations *ms)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		const struct migration *m = &ms->m[i];
		const char *state = m->applied ? "applied" : "pending";

		if (m->applied && !m->has_up)
			state = "applied (file missing)";
		printf("%04d_%-30s %-22s %s\n", m->version, m->name, state, m->applied_at);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: eccrctl migrate up|down|status [--dir DIR] [--steps N]\n"
	    "  --dir DIR   migrations directory (default $ECCR_MIGRATIONS_DIR or %s)\n"
	    "  --steps N   apply (up, default all) or revert (down, default 1) N migrations\n",
	    ECCR_MIGRATIONS_DIR);
	return 2;
}

static int migrate_locked(PGconn *db, struct migrations *ms, const char *action, long steps)
{
	if (!exec_simple(db, "SET client_min_messages = warning", "setup") ||
	    !exec_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
		" version integer PRIMARY KEY, name text NOT NULL,"
		" applied_at timestamptz NOT NULL DEFAULT now())", "creating schema_migrations") ||
	    load_applied(db, ms) != 0)
		return 1;
	if (strcmp(action, "status") == 0) {
		migrate_status(ms);
		return 0;
	}
	if (strcmp(action, "up") == 0)
		return migrate_up(db, ms, steps) == 0 ? 0 : 1;
	return migrate_down(db, ms, steps > 0 ? steps : 1) == 0 ? 0 : 1;
}

int ctl_migrate(int argc, char **argv, const struct eccr_config *cfg)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "steps", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct migrations ms;  /* large: keep it off the stack */
	const char *action;
	int64_t steps = 0;
	PGconn *db;
	int c, rc;

	memset(&ms, 0, sizeof ms);
	ms.dir = getenv("ECCR_MIGRATIONS_DIR") ? getenv("ECCR_MIGRATIONS_DIR") : ECCR_MIGRATIONS_DIR;
	optind = 0;  /* 0, not 1: glibc then re-reads the option string (main used "+") */
	while ((c = getopt_long(argc, argv, "d:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': ms.dir = optarg; break;
		case 'n':
			if (!eccr_parse_i64(optarg, 1, 100000, &steps)) {
				fprintf(stderr, "eccrctl migrate: --steps must be a positive integer\n");
				return 2;
			}
			break;
		case 'h': usage(); return 0;
		default: return usage();
		}
	}
	if (optind + 1 != argc)
		return usage();
	action = argv[optind];
	if (strcmp(action, "up") != 0 && strcmp(action, "down") != 0 &&
	    strcmp(action, "status") != 0)
		return usage();
	if (scan_dir(&ms) != 0)
		return 1;
	if ((db = ctl_connect(cfg, "migrate")) == NULL)
		return 1;
	if (!exec_simple(db, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", "taking the migration lock")) {
		PQfinish(db);
		return 1;
	}
	rc = migrate_locked(db, &ms, action, steps);
	/* Closing the session releases the advisory lock too; unlock
	 * explicitly anyway so a pooled connection would not keep it. */
	exec_simple(db, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", "releasing the migration lock");
	PQfinish(db);
	return rc;
}
