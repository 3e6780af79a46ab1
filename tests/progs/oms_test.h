/* oms_test.h - tiny helpers shared by the integration test programs.
 * Test programs are ordinary programs: they run unmodified under the shim
 * and check what a program can observe (data, errno, /proc/self/maps). */
#ifndef OMS_TEST_H
#define OMS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
	failures++; } } while (0)

/* 1 if writing (write != 0) or reading *p kills a child with SIGSEGV or
 * SIGBUS: tested in a child, so that the fault is harmless. */
static inline int faults(volatile char *p, int write)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

/* Copy the /proc/self/maps line whose range holds p into line; 0 if p is
 * not mapped. */
static inline int maps_line(const void *p, char *line, size_t cap)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	while (fd >= 0 && (r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += r;
	if (fd >= 0)
		close(fd);
	buf[n] = 0;
	for (char *l = buf; l && *l;) {
		char *end = strchr(l, '\n');
		if (end)
			*end = 0;
		unsigned long lo, hi;
		if (sscanf(l, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
			size_t len = strlen(l) < cap - 1 ? strlen(l) : cap - 1;
			memcpy(line, l, len);
			line[len] = 0;
			return 1;
		}
		l = end ? end + 1 : NULL;
	}
	return 0;
}

/* 1 if p is in a shared mapping of a deleted file (a shim block), 0 if
 * not, -1 if p is not mapped. */
static inline int file_backed(const void *p)
{
	char line[1024], perms[8];
	unsigned long lo, hi;
	if (!maps_line(p, line, sizeof line))
		return -1;
	return sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[3] == 's' &&
	       strstr(line, "(deleted)") != NULL;
}

struct named_test {
	const char *name;
	void (*fn)(void);
};

/* Run the tests named on the command line ("all" runs every one); prints
 * one ok/FAIL line per test on stderr; exit status for main. */
static inline int run_named(const struct named_test *t, size_t n, int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		int found = 0;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(argv[a], "all") || !strcmp(argv[a], t[i].name)) {
				int before = failures;
				t[i].fn();
				fprintf(stderr, "%s %s\n", failures == before ? "ok  " : "FAIL", t[i].name);
				found = 1;
			}
		if (!found) {
			fprintf(stderr, "unknown test %s\n", argv[a]);
			return 2;
		}
	}
	return failures ? 1 : 0;
}

/* Open descriptors, so a test can see that a fork closed none of ours. */
static inline int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i += 512)
		c[i] = (unsigned char)(seed + i / 512);
}

static int verify(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i += 512)
		if (c[i] != (unsigned char)(seed + i / 512))
			return 0;
	return 1;
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i += 64)
		if (c[i])
			return 0;
	return n == 0 || c[n - 1] == 0;
}

#endif
