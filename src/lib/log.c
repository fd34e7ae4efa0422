/* log.c - stderr or syslog, filtered by level.
 *
 * The settings are process globals set by eccr_log_init() before threads
 * start; eccr_log_reconfigure() may change the level and target later (a
 * SIGHUP reload), so both are read and written atomically.  The ident is
 * only ever set before threads start.  Each stderr line is built
 * in a stack buffer and written with one write(2), so lines from several
 * threads never interleave (POSIX makes a write of up to PIPE_BUF bytes to
 * a pipe atomic, and a single write to a file or tty is not split by
 * other writers in practice). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_BYTES 2048
#define IDENT_MAX 64

/* openlog() keeps the ident pointer, so keep our own copy. */
static char log_ident[IDENT_MAX] = "eccr";
static int log_target = ECCR_LOG_STDERR;      /* enum eccr_log_target, atomic */
static int log_level = LOG_INFO;               /* atomic */

#define GET(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)
#define SET(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELAXED)

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void eccr_log_init(const char *ident, enum eccr_log_target target, int level)
{
	snprintf(log_ident, sizeof log_ident, "%s",
	    ident != NULL && ident[0] != '\0' ? ident : "eccr");
	SET(log_target, (int)target);
	SET(log_level, level);
	if (target == ECCR_LOG_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
}

void eccr_log_configure(const char *program, const struct eccr_config *cfg)
{
	const char *ident = cfg->log.ident;

	eccr_log_init(ident != NULL && ident[0] != '\0' ? ident : program,
	    cfg->log.target, cfg->log.level);
}

void eccr_log_reconfigure(enum eccr_log_target target, int level)
{
	int was = GET(log_target);

	/* Open syslog before messages go there; close it after they stop. */
	if (target == ECCR_LOG_SYSLOG && was != ECCR_LOG_SYSLOG)
		openlog(log_ident, LOG_PID, LOG_DAEMON);
	SET(log_level, level);
	SET(log_target, (int)target);
	if (target != ECCR_LOG_SYSLOG && was == ECCR_LOG_SYSLOG)
		closelog();
}

int eccr_log_level_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return -1;
	/* Only the names eccr.conf accepts for log.level. */
	for (i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* "2026-11-25T10:00:00.123Z " into out; returns its length. */
static size_t timestamp(char *out, size_t outlen)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	if (gmtime_r(&now.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	snprintf(out + n, outlen - n, ".%03ldZ ", now.tv_nsec / 1000000L);
	return strlen(out);
}

static void write_stderr(int priority, int saved_errno, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void write_stderr(int priority, int saved_errno, const char *fmt, va_list ap)
{
	char line[LINE_MAX_BYTES];
	size_t n, room = sizeof line - 1;       /* keep one byte for '\n' */
	int k;

	n = timestamp(line, room);
	k = snprintf(line + n, room - n, "%s[%ld] %s: ", log_ident, (long)getpid(),
	    level_names[priority]);
	n += k < 0 ? 0 : (size_t)k;
	if (n < room) {
		errno = saved_errno;    /* for %m */
		k = vsnprintf(line + n, room - n, fmt, ap);
		n += k < 0 ? 0 : (size_t)k;
	}
	if (n >= room) {
		n = room - 1;           /* vsnprintf's NUL was at room - 1 */
		memcpy(line + n - 3, "...", 3);
	}
	/* A message may carry its own newline (libpq's do). */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void eccr_vlog(int priority, const char *fmt, va_list ap)
{
	int saved = errno;      /* callers log, then look at errno */

	priority &= LOG_PRIMASK;
	if (priority > GET(log_level))
		return;
	if (GET(log_target) == ECCR_LOG_SYSLOG)
		vsyslog(priority, fmt, ap);
	else
		write_stderr(priority, saved, fmt, ap);
	errno = saved;
}

void eccr_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	eccr_vlog(priority, fmt, ap);
	va_end(ap);
}
