/* log.c - see log.h.
 *
 * The log fd is either 2 (the program's stderr, which we may write to) or a
 * file we opened.  A program may close or dup2 over either; before every
 * write we check that the fd still names the file it named at start-up
 * (fd 2) or that we opened, and fall back to stderr, or to silence, so we
 * never write into the program's files.  No lock: the stderr fd/inode pair
 * is written once at start-up, the log file's once, before log_state
 * turns DONE (release; readers acquire).
 */
#include "log.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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

/* OOMSHIELD_LOG_FILE: NONE (stderr), PENDING (open at the first line),
 * OPENING (one thread is opening it), DONE (log_fd is final). */
enum { NONE, PENDING, OPENING, DONE };
static int log_state;
static char log_path[512];

static const char *const level_name[] = {"off", "error", "warn", "info", "debug"};

void oms_log_open(const char *path)
{
	size_t n = path ? strlen(path) : 0;
	if (!n || n >= sizeof log_path)
		return;
	memcpy(log_path, path, n + 1);
	__atomic_store_n(&log_state, PENDING, __ATOMIC_RELEASE);
}

/* The first line: open the file now.  One thread opens; another that
 * logs meanwhile waits a little for it, then uses stderr (a fork child
 * of an opener in mid-open would wait for ever otherwise). */
static void open_pending(void)
{
	int s = PENDING;
	if (!__atomic_compare_exchange_n(&log_state, &s, OPENING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 1000 && __atomic_load_n(&log_state, __ATOMIC_ACQUIRE) == OPENING; i++)
			sched_yield();
		return;
	}
	int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		__atomic_store_n(&log_state, DONE, __ATOMIC_RELEASE);
		char clean[OMS_LOG_VALUE_MAX];
		oms_log(OMS_LOG_WARN, "OOMSHIELD_LOG_FILE=%s: cannot open (%s); logging to stderr",
			oms_log_clean(clean, sizeof clean, log_path), strerrordesc_np(e));
		return;
	}
	fd = oms_os_fd_high(fd);
	log_dev = st.st_dev;
	log_ino = st.st_ino;
	log_fd = fd;
	__atomic_store_n(&log_state, DONE, __ATOMIC_RELEASE);
}

/* The escaped form of one byte into e[4]; its length. */
static size_t escape(unsigned char ch, char *e)
{
	static const char hex[] = "0123456789abcdef";
	if (ch < 0x20 || ch == 0x7f) {
		e[0] = '\\';
		e[1] = 'x';
		e[2] = hex[ch >> 4];
		e[3] = hex[ch & 15];
		return 4;
	}
	e[0] = (char)ch;
	e[1] = '\\';
	return ch == '\\' ? 2 : 1;
}

void oms_log_open_now(void)
{
	if (__atomic_load_n(&log_state, __ATOMIC_ACQUIRE) == PENDING)
		open_pending();
}

const char *oms_log_clean(char *buf, size_t cap, const char *s)
{
	char e[4];
	size_t n = 0, all = 0;
	if (!cap)
		return buf;
	for (const char *p = s; p && *p; p++)
		all += escape((unsigned char)*p, e);
	/* Cut: keep room for "..." and the NUL. */
	size_t room = all < cap ? cap - 1 : cap > 4 ? cap - 4 : 0;
	for (; s && *s; s++) {
		size_t k = escape((unsigned char)*s, e);
		if (n + k > room)
			break;
		memcpy(buf + n, e, k);
		n += k;
	}
	if (all >= cap && cap > 4) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
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
	if (__atomic_load_n(&log_state, __ATOMIC_ACQUIRE) == PENDING)
		open_pending();
	if (__atomic_load_n(&log_state, __ATOMIC_ACQUIRE) != DONE || log_fd == 2)
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
