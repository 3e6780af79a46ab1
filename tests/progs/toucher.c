/* toucher.c - a plain "legacy" program: allocate SIZE MiB with malloc or
 * with anonymous mmap, write every page twice, verify, print a checksum.
 * Usage: toucher malloc|mmap SIZE_MIB[,SIZE_MIB...] [ROUNDS]
 * With ROUNDS or a list of sizes, the block is freed (free/munmap) and a
 * block of the next size (the last one repeats) allocated each round: the
 * next round needs the disk the last one gave back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4)
		return 2;
	char *next = argv[2];
	size_t n = 0;
	int rounds = argc == 4 ? atoi(argv[3]) : 1;
	unsigned char *p;
	uint64_t sum = 0;
again:
	sum = 0;
	if (*next) {
		n = (size_t)strtol(next, &next, 10) << 20;
		if (*next == ',') {
			next++;
			if (rounds < 2)
				rounds = 2; /* one more size to go */
		}
	}
	if (!strcmp(argv[1], "mmap")) {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 3;
	} else if (!(p = malloc(n)))
		return 3;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (unsigned char)(i / 4096 * 7 + (size_t)pass);
	for (size_t i = 0; i < n; i += 4096) {
		if (p[i] != (unsigned char)(i / 4096 * 7 + 1)) {
			fprintf(stderr, "toucher: wrong data at %zu\n", i);
			return 4;
		}
		sum += p[i];
	}
	if (--rounds > 0) {
		if (!strcmp(argv[1], "mmap"))
			munmap(p, n);
		else
			free(p);
		goto again;
	}
	printf("ok %zu MiB sum %llu\n", n >> 20, (unsigned long long)sum);
	return 0;
}
