/* unit_util.h - small helpers shared by the Check unit tests: capture what
 * the shim logs on fd 2, count substrings, count open fds, tell qemu-user
 * from a native run, a scratch directory and a fresh configuration for
 * big-block tests.  Everything is static inline so that a test file may
 * use any subset under -Werror. */
#ifndef OMS_UNIT_UTIL_H
#define OMS_UNIT_UTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "big.h"
#include "config.h"
#include "log.h"
#include "os.h"

/* A scratch directory /var/tmp/oms-unit-NAME-XXXXXX for backing files
 * (not /tmp: it may be tmpfs, which the shim refuses). */
static inline void unit_dir_create(char *dir, size_t cap, const char *name)
{
	snprintf(dir, cap, "/var/tmp/oms-unit-%s-XXXXXX", name);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
}

static inline void unit_dir_remove(const char *dir)
{
	if (rmdir(dir) < 0)
		fprintf(stderr, "%s not removed: %s\n", dir, strerror(errno));
}

/* The real os layer and a configuration with only backing files in dir:
 * threshold 1 MiB, no cache, no DefragTick, large folios unset. */
static inline void unit_cfg_reset(const char *dir)
{
	oms_os_reset();
	memset(&oms_cfg, 0, sizeof oms_cfg);
	snprintf(oms_cfg.dir, sizeof oms_cfg.dir, "%s", dir);
	oms_cfg.dir_ok = 1;
	oms_cfg.threshold = (size_t)1 << 20;
	oms_cfg.huge = -1;
	oms_cfg.log_level = OMS_LOG_WARN;
	oms_log_level = OMS_LOG_WARN;
	oms_page = 4096;
}

/* Redirect fd 2 to an unlinked temporary file until capture_end. */
struct capture {
	int saved, fd;
};

static inline void capture_begin(struct capture *c)
{
	char path[] = "/tmp/oms-unit-log-XXXXXX";
	fflush(stderr);
	c->fd = mkstemp(path);
	ck_assert_int_ge(c->fd, 0);
	unlink(path);
	c->saved = dup(2);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_eq(dup2(c->fd, 2), 2);
	oms_log_capture_stderr(); /* the shim writes only to the fd 2 it knows */
}

/* Restore fd 2 and return what was written, NUL-terminated, in buf. */
static inline const char *capture_end(struct capture *c, char *buf, size_t cap)
{
	ck_assert_int_eq(dup2(c->saved, 2), 2);
	oms_log_capture_stderr();
	close(c->saved);
	size_t got = 0;
	ssize_t r;
	while (got < cap - 1 && (r = pread(c->fd, buf + got, cap - 1 - got, (off_t)got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(c->fd);
	return buf;
}

static inline int count_substr(const char *hay, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);
	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

static inline int count_lines(const char *s)
{
	return count_substr(s, "\n");
}

/* Entries in /proc/self/fd (the directory's own fd is counted every time,
 * so before/after comparisons are exact). */
static inline int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Run under qemu-user: tests/cross/qemu-run.sh sets OMS_UNDER_QEMU=1 in the
 * guest's environment (and clears it for native runs).  A few checks see
 * the emulator rather than the shim there; they test for the emulator's
 * behaviour too, and never skip on a native run. */
static inline int under_qemu(void)
{
	const char *q = getenv("OMS_UNDER_QEMU");
	return q && *q && strcmp(q, "0") != 0;
}

/* Say that (part of) a test case does not run here, and why.  Check has no
 * "skipped" result: the case passes, and this line on stdout is what
 * tests/cross/suite.sh reports (one "skip" per line). */
static inline void skip_case(const char *tcase, const char *why)
{
	printf("skip %s: %s\n", tcase, why);
	fflush(stdout);
}

#endif
