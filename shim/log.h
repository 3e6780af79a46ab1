/* log.h - one-line diagnostics to stderr or OOMSHIELD_LOG_FILE.
 *
 * Lines are formatted with vsnprintf into a stack buffer and written with a
 * single write(2), so concurrent lines never interleave and nothing is
 * allocated.  The shim never writes to stdout.  errno is preserved.
 */
#ifndef OMS_LOG_H
#define OMS_LOG_H

enum oms_log_level { OMS_LOG_OFF, OMS_LOG_ERROR, OMS_LOG_WARN, OMS_LOG_INFO, OMS_LOG_DEBUG };

extern int oms_log_level;

/* Open the log file (append); on failure keep stderr and say so. */
void oms_log_open(const char *path);

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
