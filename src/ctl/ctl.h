/* ctl.h - eccrctl's sub-commands.  main.c parses the global options
 * (-c FILE), loads the configuration and dispatches; each sub-command gets
 * the arguments after its own name (argv[0] is the sub-command name) and
 * returns the process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef ECCR_CTL_H
#define ECCR_CTL_H

#include <libpq-fe.h>

#include "config.h"

/* A connection to database.conninfo for a sub-command, or NULL after
 * printing "eccrctl WHO: cannot connect ..." to stderr. */
PGconn *ctl_connect(const struct eccr_config *cfg, const char *who);

/* eccrctl migrate up|down|status [--dir DIR] [--steps N] */
int ctl_migrate(int argc, char **argv, const struct eccr_config *cfg);

/* eccrctl token --sub SUB [--role R] [--name N] [--email E] [--ttl S] */
int ctl_token(int argc, char **argv, const struct eccr_config *cfg);

/* eccrctl deliveries [--status S] [--limit N] | deliveries replay ID|--dead [--sink S] */
int ctl_deliveries(int argc, char **argv, const struct eccr_config *cfg);

/* eccrctl plugin check FILE */
int ctl_plugin(int argc, char **argv, const struct eccr_config *cfg);

#endif
