/* main.c - eccrctl: the administration tool.
 *
 *   eccrctl [-c FILE] COMMAND [ARGS...]
 *
 * Global options come before the command; each command parses its own.  The
 * configuration is read once here so every command sees the same file and
 * the same errors as the servers do. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

struct ctl_command {
	const char *name;
	int (*run)(int argc, char **argv, const struct eccr_config *cfg);
	const char *summary;
	bool config_optional;  /* runs on the defaults when no file exists */
};

static const struct ctl_command commands[] = {
	{ "migrate", ctl_migrate, "migrate up|down|status [--dir DIR] [--steps N]", false },
	{ "token", ctl_token, "token --sub SUB [--role R] [--name N] [--email E] [--ttl S]", false },
	{ "deliveries", ctl_deliveries, "deliveries [--status retry|dead|delivered] [--limit N]\n"
	  "  deliveries replay EVENT_ID|--dead [--sink NAME]", false },
	{ "plugin", ctl_plugin, "plugin check FILE", true },
};

PGconn *ctl_connect(const struct eccr_config *cfg, const char *who)
{
	const char *keys[] = { "dbname", "application_name", "client_encoding", NULL };
	const char *vals[] = { cfg->database.conninfo, "eccrctl", "UTF8", NULL };
	PGconn *db = PQconnectdbParams(keys, vals, 1);

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "eccrctl %s: cannot connect to PostgreSQL: %s", who,
		    db ? PQerrorMessage(db) : "out of memory\n");
		PQfinish(db);
		return NULL;
	}
	return db;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: eccrctl [-c FILE] COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].summary);
	fprintf(f, "\nThe configuration is -c FILE, else $ECCR_CONFIG, else %s.\n",
	    eccr_config_path(NULL));
}

static const struct ctl_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct ctl_command *cmd;
	struct eccr_config cfg;
	char err[ECCR_CONFIG_ERRLEN];
	const char *cfgpath = NULL;
	int c, rc;

	/* "+": stop at the first non-option, the command's own flags follow. */
	while ((c = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("eccrctl %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if ((cmd = find_command(argv[optind])) == NULL) {
		fprintf(stderr, "eccrctl: unknown command \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (eccr_config_defaults(&cfg) != 0) {
		fprintf(stderr, "eccrctl: out of memory\n");
		return 1;
	}
	if (!(cmd->config_optional && cfgpath == NULL &&
	    access(eccr_config_path(NULL), F_OK) != 0) &&
	    eccr_config_load(&cfg, eccr_config_path(cfgpath), err, sizeof err) != 0) {
		fprintf(stderr, "eccrctl: %s\n", err);
		eccr_config_free(&cfg);
		return 1;
	}
	/* Interactive tool: messages go to the terminal whatever log.target
	 * says, so an operator sees what a command did. */
	eccr_log_init("eccrctl", ECCR_LOG_STDERR, cfg.log.level);
	rc = cmd->run(argc - optind, argv + optind, &cfg);
	eccr_config_free(&cfg);
	return rc;
}
