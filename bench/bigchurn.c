/* bigchurn.c - row 3: large-block churn.  REPS times: malloc(SIZE), write
 * one byte in every page, check a few, free.  Prints elapsed ms.
 * usage: bigchurn size_kib reps */
#include "bench.h"
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t size = arg_size(argc, argv, 1, 1024) << 10;
	size_t reps = arg_size(argc, argv, 2, 100);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	double t0 = now_ms();
	for (size_t r = 0; r < reps; r++) {
		unsigned char *p = malloc(size);
		if (!p)
			FAIL("bigchurn: malloc(%zu) failed", size);
		unsigned char v = (unsigned char)(r * 7 + 1);
		for (size_t o = 0; o < size; o += pg)
			p[o] = (unsigned char)(v + o / pg);
		for (size_t o = 0; o < size; o += 16 * pg)
			if (p[o] != (unsigned char)(v + o / pg))
				FAIL("bigchurn: page %zu reads %u", o / pg, p[o]);
		free(p);
	}
	printf("%.3f\n", now_ms() - t0);
	return 0;
}
