/* log.h - one logging family for every ECCR program and plugin host.
 * Messages go to stderr (with a timestamp and level) or syslog, as
 * configured; anything below the configured level is dropped cheaply. */
#ifndef ECCR_LOG_H
#define ECCR_LOG_H

#include <stdarg.h>
#include <syslog.h>

#include "config.h"

/* Called once at start-up, before threads start.  ident names the program
 * (copied, at most 63 bytes).  Until then: stderr, LOG_INFO, "eccr". */
void eccr_log_init(const char *ident, enum eccr_log_target target, int level);

/* eccr_log_init from [log]: the ident is log.ident, or program when unset. */
void eccr_log_configure(const char *program, const struct eccr_config *cfg);

/* Change the level and target while threads run (SIGHUP); the ident stays. */
void eccr_log_reconfigure(enum eccr_log_target target, int level);

void eccr_log(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void eccr_vlog(int priority, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define eccr_debug(...)  eccr_log(LOG_DEBUG, __VA_ARGS__)
#define eccr_info(...)   eccr_log(LOG_INFO, __VA_ARGS__)
#define eccr_notice(...) eccr_log(LOG_NOTICE, __VA_ARGS__)
#define eccr_warn(...)   eccr_log(LOG_WARNING, __VA_ARGS__)
#define eccr_err(...)    eccr_log(LOG_ERR, __VA_ARGS__)

/* "debug" -> LOG_DEBUG ...; -1 if unknown. */
int eccr_log_level_from_name(const char *name);

#endif
