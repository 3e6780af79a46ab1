/* holder.c - a program for the status tests: allocates and dirties
 * N MiB (argv[1], default 8) in one block and M MiB (argv[2], default 0)
 * in 1000-byte objects, writes "ready" to stdout, then blocks reading
 * stdin until EOF, so the test decides when it exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 8;
	char *p = malloc(mib << 20);
	if (!p)
		return 1;
	memset(p, 0x5a, mib << 20);
	size_t small = argc > 2 ? strtoul(argv[2], NULL, 10) << 20 : 0;
	for (size_t i = 0; i < small / 1000; i++) {
		char *o = malloc(1000); /* kept: the heap the test looks at */
		if (!o)
			return 1;
		memset(o, 0x33, 1000);
	}
	/* Read it back so the compiler cannot drop the stores. */
	unsigned sum = 0;
	for (size_t i = 0; i < mib << 20; i += 4096)
		sum += (unsigned char)p[i];
	printf("ready %u\n", sum);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	free(p);
	return 0;
}
