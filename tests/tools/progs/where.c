/* where.c - for the launcher tests: allocate argv[1] MiB (default 4) and
 * print "file" if the block lies in a shared mapping of a deleted file (the
 * shim's backing store), else "anon".  Decided from /proc/self/maps alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 4;
	char *p = malloc(mib << 20);
	if (!p)
		return 1;
	p[0] = 1;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	const char *kind = "anon";
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    (unsigned long)p >= lo && (unsigned long)p < hi) {
			if (perms[3] == 's' && strstr(line, " (deleted)"))
				kind = "file";
			break;
		}
	}
	puts(kind);
	free(p);
	return 0;
}
