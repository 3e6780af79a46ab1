/* log.c - see log.h.
 *
 * The log fd is either 2 (the program's stderr, which we may write to) or a
 * file we opened.  A program may close or dup2 over either; before every
 * write we check that the fd still names the file it named at start-up
 * (fd 2) or that we opened, and fall back to stderr, or to silence, so we
 * never write into the program's files.  No lock: the fd/inode pairs are
 * written once at start-up.
 */
#include "log.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int oms_log_level = OMS_LOG_WARN;

static int log_fd = 2;
static dev_t log_dev;
static ino_t log_ino;
static int err_known;      /* fd 2 was open at start-up ... */
static dev_t err_dev;      /* ... and named this file */
static ino_t err_ino;

static const char *const level_name[] = {"off", "error", "warn", "info", "debug"};

void oms_log_open(const char *path)
{
	if (!path || !*path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		oms_log(OMS_LOG_WARN, "OOMSHIELD_LOG_FILE=%s: cannot open (%s); logging to stderr",
			path, strerrordesc_np(e));
		return;
	}
	fd = oms_os_fd_high(fd);
	log_dev = st.st_dev;
	log_ino = st.st_ino;
	log_fd = fd;
}

void oms_log_capture_stderr(void)
{
	struct stat st;
	int e = errno;
	err_known = fstat(2, &st) == 0;
	err_dev = st.st_dev;
	err_ino = st.st_ino;
	errno = e;
}

static int stderr_fd(void)
{
	struct stat st;
	if (err_known && fstat(2, &st) == 0 && st.st_dev == err_dev && st.st_ino == err_ino)
		return 2;
	return -1; /* closed, or now another file of the program's: stay silent */
}

static int current_fd(void)
{
	if (log_fd == 2)
		return stderr_fd();
	struct stat st;
	if (fstat(log_fd, &st) == 0 && st.st_dev == log_dev && st.st_ino == log_ino)
		return log_fd;
	return stderr_fd(); /* our file's fd was closed or reused by the program */
}

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	char buf[512];
	int e = errno;
	int n = snprintf(buf, sizeof buf, "oomshield[%d]: %s: ", (int)getpid(), tag);
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof buf - 2)
		len = sizeof buf - 2;
	buf[len++] = '\n';
	int fd = current_fd();
	ssize_t w;
	do
		w = fd < 0 ? 0 : write(fd, buf, len);
	while (w < 0 && errno == EINTR);
	errno = e;
}

void oms_log(int level, const char *fmt, ...)
{
	if (level > oms_log_level || level <= OMS_LOG_OFF)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level_name[level], fmt, ap);
	va_end(ap);
}

void oms_log_tagged(const char *tag, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(tag, fmt, ap);
	va_end(ap);
}

void oms_log_once(int *flag, int level, const char *fmt, ...)
{
	if (__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED))
		return;
	if (level > oms_log_level || level <= OMS_LOG_OFF)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level_name[level], fmt, ap);
	va_end(ap);
}
