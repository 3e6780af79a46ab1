/* log.h - one-line diagnostics to stderr or OOMSHIELD_LOG_FILE.
 *
 * Lines are formatted with vsnprintf into a stack buffer and written with a
 * single write(2), so concurrent lines never interleave and nothing is
 * allocated.  The shim never writes to stdout.  errno is preserved.
 */
#ifndef OMS_LOG_H
#define OMS_LOG_H

#include <stddef.h>

enum oms_log_level { OMS_LOG_OFF, OMS_LOG_ERROR, OMS_LOG_WARN, OMS_LOG_INFO, OMS_LOG_DEBUG };

extern int oms_log_level;

/* Log to this file (append) from now on.  It is opened - and created -
 * only when the first line is written, so a run that logs nothing leaves
 * no file; if it cannot be opened then, stderr is used and that is said
 * once.  config.c refuses a relative path before it gets here. */
void oms_log_open(const char *path);

/* Open a pending log file now (xid.c, before the program changes its
 * credentials: a daemon that starts as root and drops privileges must
 * keep the log file it was given, as it did when the file was opened at
 * start-up).  No-op otherwise. */
void oms_log_open_now(void);

/* A value from the environment made safe for one log line: control bytes
 * (newline, escape, ...) written as \xNN, a backslash as \\, and cut to
 * fit `cap` (at most OMS_LOG_VALUE_MAX is useful), ending in "..." if
 * cut.  Returns buf. */
#define OMS_LOG_VALUE_MAX 80
const char *oms_log_clean(char *buf, size_t cap, const char *s);

/* Note which file fd 2 is now, at start-up: the shim writes to stderr only
 * while fd 2 still is that file.  A program that closes its stderr and
 * then opens a data file or a socket (which gets fd 2) must never find our
 * lines in it. */
void oms_log_capture_stderr(void);

void oms_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Always written, whatever the level: for output the user asked for
 * (the OOMSHIELD_STATS line). */
void oms_log_tagged(const char *tag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Log at most once per `flag` for the life of the process (atomic). */
void oms_log_once(int *flag, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define oms_warn(...)  oms_log(OMS_LOG_WARN, __VA_ARGS__)
#define oms_info(...)  oms_log(OMS_LOG_INFO, __VA_ARGS__)
#define oms_debug(...) oms_log(OMS_LOG_DEBUG, __VA_ARGS__)
#define oms_error(...) oms_log(OMS_LOG_ERROR, __VA_ARGS__)

#endif
