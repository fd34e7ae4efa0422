/* deliveries.c - eccrctl deliveries: inspect the sinks' delivery book and
 * replay dead deliveries (the worker then delivers them again). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ctl.h"
#include "util.h"

static int usage(void)
{
	fprintf(stderr, "usage: eccrctl deliveries [--status retry|dead|delivered] [--sink NAME] [--limit N]\n"
	    "       eccrctl deliveries replay EVENT_ID [--sink NAME]\n"
	    "       eccrctl deliveries replay --dead [--sink NAME]\n");
	return 2;
}

static int list(PGconn *db, const char *status, const char *sink, const char *limit)
{
	const char *p[3] = { status, limit, sink };
	PGresult *res = PQexecParams(db,
	    "SELECT d.event_id, e.type, d.sink, d.status, d.attempts,"
	    " coalesce(to_char(d.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-'),"
	    " coalesce(d.last_error, '')"
	    " FROM event_deliveries d JOIN events e ON e.id = d.event_id"
	    " WHERE ($1::text IS NULL OR d.status = $1) AND ($3::text IS NULL OR d.sink = $3)"
	    " ORDER BY d.event_id DESC, d.sink LIMIT $2::int", 3, NULL, p, NULL, NULL, 0);
	int i;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "eccrctl deliveries: %s", PQerrorMessage(db));
		PQclear(res);
		return 1;
	}
	printf("%-10s %-24s %-16s %-9s %8s %-20s %s\n", "EVENT", "TYPE", "SINK", "STATUS",
	    "ATTEMPTS", "NEXT", "LAST ERROR");
	for (i = 0; i < PQntuples(res); i++)
		printf("%-10s %-24s %-16s %-9s %8s %-20s %s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		    PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
	PQclear(res);
	return 0;
}

/* Dead deliveries go back to "retry", due now, with a fresh attempt count. */
static int replay(PGconn *db, const char *event_id, const char *sink)
{
	const char *p[2] = { event_id, sink };
	PGresult *res = PQexecParams(db,
	    "UPDATE event_deliveries SET status = 'retry', attempts = 0,"
	    " next_attempt_at = now(), updated_at = now()"
	    " WHERE status = 'dead' AND ($1::bigint IS NULL OR event_id = $1::bigint)"
	    " AND ($2::text IS NULL OR sink = $2)", 2, NULL, p, NULL, NULL, 0);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "eccrctl deliveries replay: %s", PQerrorMessage(db));
		rc = 1;
	} else if (atoi(PQcmdTuples(res)) == 0 && event_id != NULL) {
		fprintf(stderr, "eccrctl deliveries replay: event %s has no dead delivery%s%s\n",
		    event_id, sink ? " to " : "", sink ? sink : "");
		rc = 1;
	} else {
		printf("%s dead deliveries queued for replay\n", PQcmdTuples(res));
	}
	PQclear(res);
	return rc;
}

int ctl_deliveries(int argc, char **argv, const struct eccr_config *cfg)
{
	static const struct option opts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "sink", required_argument, NULL, 'k' },
		{ "dead", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *status = NULL, *sink = NULL, *limit = "100", *event_id = NULL;
	bool dead = false, is_replay = false;
	int64_t n;
	PGconn *db;
	int c, rc;

	optind = 0;  /* see migrate.c */
	while ((c = getopt_long(argc, argv, "s:l:k:dh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "retry") && strcmp(optarg, "dead") && strcmp(optarg, "delivered"))
				return usage();
			status = optarg;
			break;
		case 'l':
			if (!eccr_parse_i64(optarg, 1, 100000, &n))
				return usage();
			limit = optarg;
			break;
		case 'k': sink = optarg; break;
		case 'd': dead = true; break;
		case 'h': usage(); return 0;
		default: return usage();
		}
	}
	if (optind < argc && strcmp(argv[optind], "replay") == 0) {
		is_replay = true;
		optind++;
		if (optind < argc)
			event_id = argv[optind++];
		if (optind != argc || (event_id == NULL) == !dead ||
		    (event_id && !eccr_parse_i64(event_id, 1, INT64_MAX, &n)))
			return usage();
	} else if (optind != argc || dead) {
		return usage();
	}
	if ((db = ctl_connect(cfg, "deliveries")) == NULL)
		return 1;
	rc = is_replay ? replay(db, event_id, sink) : list(db, status, sink, limit);
	PQfinish(db);
	return rc;
}
