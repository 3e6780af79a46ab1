/* procread.c - experiment for row 7: what one DefragTick tick's reads cost.
 * Compares open+read+close of /proc/self/stat and /proc/buddyinfo (what the
 * thread does each tick) with pread on descriptors kept open.
 * Prints "open_us pread_us" per tick (both files).  usage: procread [n] */
#include "bench.h"
#include <fcntl.h>
#include <unistd.h>

static char buf[65536];

static void once(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		FAIL("procread: open %s", path);
	while (read(fd, buf, sizeof buf) > 0)
		;
	close(fd);
}

int main(int argc, char **argv)
{
	size_t n = arg_size(argc, argv, 1, 20000);
	double t0 = now_ms();
	for (size_t i = 0; i < n; i++) {
		once("/proc/self/stat");
		once("/proc/buddyinfo");
	}
	double t1 = now_ms();
	int a = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	int b = open("/proc/buddyinfo", O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; i < n; i++) {
		if (pread(a, buf, sizeof buf, 0) <= 0 || pread(b, buf, sizeof buf, 0) <= 0)
			FAIL("procread: pread");
	}
	double t2 = now_ms();
	int c = open("/proc/buddyinfo", O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; i < n; i++)
		if (pread(c, buf, sizeof buf, 0) <= 0)
			FAIL("procread: pread");
	double t3 = now_ms();
	printf("%.2f %.2f %.2f\n", (t1 - t0) * 1e3 / n, (t2 - t1) * 1e3 / n, (t3 - t2) * 1e3 / n);
	return 0;
}
