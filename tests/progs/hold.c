/* hold.c - allocate SIZE MiB in BLOCKS blocks, touch them, say "ready" on
 * stdout, then wait until stdin closes.  For tests that inspect or kill a
 * protected process while it holds memory.  Usage: hold SIZE_MIB [BLOCKS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 8;
	int blocks = argc > 2 ? atoi(argv[2]) : 1;
	for (int b = 0; b < blocks; b++) {
		char *p = malloc((mib << 20) / (size_t)blocks);
		if (!p)
			return 3;
		memset(p, 0x5a, (mib << 20) / (size_t)blocks);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
