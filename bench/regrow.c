/* regrow.c - row 4: realloc growth from 1 MiB to MAX in 64 KiB steps,
 * touching every new page; verifies every page at the end.  Prints ms.
 * usage: regrow max_mib */
#include "bench.h"
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t max = arg_size(argc, argv, 1, 1024) << 20;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), step = 64 << 10;
	double t0 = now_ms();
	size_t n = 1 << 20;
	unsigned char *p = malloc(n);
	if (!p)
		FAIL("regrow: malloc");
	for (size_t o = 0; o < n; o += pg)
		p[o] = (unsigned char)(o / pg);
	while (n < max) {
		unsigned char *q = realloc(p, n + step);
		if (!q)
			FAIL("regrow: realloc to %zu failed", n + step);
		p = q;
		for (size_t o = n; o < n + step; o += pg)
			p[o] = (unsigned char)(o / pg);
		n += step;
	}
	for (size_t o = 0; o < n; o += pg)
		if (p[o] != (unsigned char)(o / pg))
			FAIL("regrow: page %zu reads %u", o / pg, p[o]);
	free(p);
	printf("%.3f\n", now_ms() - t0);
	return 0;
}
