/* oms_test.h - tiny helpers shared by the integration test programs.
 * Test programs are ordinary programs: they run unmodified under the shim
 * and check what a program can observe (data, errno, /proc/self/maps). */
#ifndef OMS_TEST_H
#define OMS_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
	failures++; } } while (0)

/* The /proc/self/maps line containing p: 1 if it is a shared mapping of a
 * deleted file (a shim block), 0 if not, -1 if p is not mapped. */
static inline int file_backed(const void *p)
{
	static char buf[1 << 20];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	while (fd >= 0 && (r = read(fd, buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += r;
	if (fd >= 0)
		close(fd);
	buf[n] = 0;
	for (char *line = buf; line && *line;) {
		char *end = strchr(line, '\n');
		if (end)
			*end = 0;
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    (uintptr_t)p >= lo && (uintptr_t)p < hi)
			return perms[3] == 's' && strstr(line, "(deleted)") != NULL;
		line = end ? end + 1 : NULL;
	}
	return -1;
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
