/* forkheld.c - after a large block is freed, neither the process nor a
 * fork child keeps its backing file mapped: free() lets go of it, and a
 * child that empties the block cache frees the cached files at once.
 * Usage: forkheld DIR SIZE_MIB [cached]; prints "ok" or what is still
 * held.  With "cached" the parent keeps the block in its cache by design,
 * and only the child is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Mappings of unlinked files in DIR: our backing files. */
static int held(const char *dir)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strstr(line, dir) && strstr(line, "(deleted)"))
			n++;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	int cached = argc == 4 && !strcmp(argv[3], "cached");
	const char *dir = argv[1];
	size_t n = (size_t)atol(argv[2]) << 20;
	char *p = malloc(n);
	if (!p)
		return 3;
	memset(p, 7, n);
	if (held(dir) != 1) {
		printf("not redirected: %d mappings in %s\n", held(dir), dir);
		return 4;
	}
	free(p); /* cached (OOMSHIELD_CACHE), or its file freed */
	pid_t pid = fork();
	if (pid < 0)
		return 3;
	if (pid == 0) /* the fork handler has run: nothing of ours may be left */
		_exit(held(dir) ? 1 : 0);
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 3;
	if (WEXITSTATUS(st)) {
		printf("the fork child still maps a freed block's file\n");
		return 1;
	}
	/* The parent has let go too (polled: a slower free is no fault). */
	for (int i = 0; i < 500 && !cached && held(dir); i++) {
		struct timespec d = {0, 10 * 1000000L};
		nanosleep(&d, NULL);
	}
	if (!cached && held(dir)) {
		printf("the process still maps a freed block's file after 5 s\n");
		return 1;
	}
	printf("ok\n");
	return 0;
}
