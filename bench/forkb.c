/* forkb.c - row 5: fork with a large block.  malloc(SIZE), write every page,
 * then time fork + child writes one page and exits + waitpid.  Afterwards
 * time the parent rewriting every page.  Under the shim the fork freezes the
 * block copy-on-write and the waitpid wrapper gives it back its file once
 * the child has gone (issue 17), so fork_ms includes that switch and the
 * rewrite goes to the file.  Prints "fork_ms rewrite_ms".
 * usage: forkb size_mib */
#include "bench.h"
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size = arg_size(argc, argv, 1, 1024) << 20;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = malloc(size);
	if (!p)
		FAIL("forkb: malloc");
	for (size_t o = 0; o < size; o += pg)
		p[o] = (unsigned char)(o / pg);
	fflush(stdout);
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0)
		FAIL("forkb: fork");
	if (pid == 0) {
		p[pg * 3] = 0xee;
		_exit(p[pg * 5] == 5 ? 0 : 3);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("forkb: child failed (status %d)", st);
	double t1 = now_ms();
	if (p[pg * 3] != 3)
		FAIL("forkb: the child's write showed in the parent");
	for (size_t o = 0; o < size; o += pg)
		p[o] = (unsigned char)(o / pg + 1);
	double t2 = now_ms();
	for (size_t o = 0; o < size; o += pg)
		if (p[o] != (unsigned char)(o / pg + 1))
			FAIL("forkb: page %zu", o / pg);
	free(p);
	printf("%.3f %.3f\n", t1 - t0, t2 - t1);
	return 0;
}
