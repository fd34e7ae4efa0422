/* log.c - stderr or syslog, filtered by level.
 *
 * The settings are process globals written once by eccr_log_init() before
 * any thread starts and only read afterwards.  Each stderr line is built
 * in a stack buffer and written with one write(2), so lines from several
 * threads never interleave. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *log_ident = "eccr";
static enum eccr_log_target log_target = ECCR_LOG_STDERR;
static int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void eccr_log_init(const char *ident, enum eccr_log_target target, int level)
{
	log_ident = ident;
	log_target = target;
	log_level = level;
	if (target == ECCR_LOG_SYSLOG)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

int eccr_log_level_from_name(const char *name)
{
	int i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void eccr_vlog(int priority, const char *fmt, va_list ap)
{
	char line[2048], ts[25];
	struct timespec now;
	size_t n;
	int k;

	if (priority > log_level)
		return;
	if (log_target == ECCR_LOG_SYSLOG) {
		vsyslog(priority, fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	eccr_rfc3339_ms(&now, ts);
	k = snprintf(line, sizeof line, "%s %s[%ld] %s: ", ts, log_ident, (long)getpid(),
	    level_names[priority & LOG_PRIMASK]);
	n = k < 0 ? 0 : (size_t)k;
	if (n < sizeof line) {
		k = vsnprintf(line + n, sizeof line - n, fmt, ap);
		n += k < 0 ? 0 : (size_t)k;
	}
	if (n >= sizeof line - 1) {
		n = sizeof line - 1;
		memcpy(line + n - 4, "...", 3);
	}
	/* Strip a trailing newline the message may carry (libpq's do). */
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\0'))
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void eccr_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	eccr_vlog(priority, fmt, ap);
	va_end(ap);
}
