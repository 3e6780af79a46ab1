/* forkx.c - row 5x: fork + exec, then the switch back (issue 17).
 * malloc(SIZE), write every page, then time fork + exec("/bin/true") +
 * waitpid (under the shim on ext4 the fork freezes the block copy-on-write
 * and the waitpid wrapper maps it shared of its file again), then time the
 * parent rewriting every page (into the file again, not anonymous copies).
 * Prints "forkexec_ms rewrite_ms".
 * usage: forkx size_mib */
#include "bench.h"
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size = arg_size(argc, argv, 1, 256) << 20;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = malloc(size);
	if (!p)
		FAIL("forkx: malloc");
	for (size_t o = 0; o < size; o += pg)
		p[o] = (unsigned char)(o / pg);
	fflush(stdout);
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0)
		FAIL("forkx: fork");
	if (pid == 0) {
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("forkx: /bin/true failed (status %d)", st);
	double t1 = now_ms();
	for (size_t o = 0; o < size; o += pg)
		if (p[o] != (unsigned char)(o / pg))
			FAIL("forkx: page %zu before the rewrite", o / pg);
	double t2 = now_ms();
	for (size_t o = 0; o < size; o += pg)
		p[o] = (unsigned char)(o / pg + 1);
	double t3 = now_ms();
	for (size_t o = 0; o < size; o += pg)
		if (p[o] != (unsigned char)(o / pg + 1))
			FAIL("forkx: page %zu", o / pg);
	free(p);
	printf("%.3f %.3f\n", t1 - t0, t3 - t2);
	return 0;
}
