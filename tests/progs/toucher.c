/* toucher.c - a plain "legacy" program: allocate SIZE MiB with malloc or
 * with anonymous mmap, write every page twice, verify, print a checksum.
 * Usage: toucher malloc|mmap SIZE_MIB */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	size_t n = (size_t)atol(argv[2]) << 20;
	unsigned char *p;
	if (!strcmp(argv[1], "mmap")) {
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return 3;
	} else if (!(p = malloc(n)))
		return 3;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i += 4096)
			p[i] = (unsigned char)(i / 4096 * 7 + (size_t)pass);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i += 4096) {
		if (p[i] != (unsigned char)(i / 4096 * 7 + 1)) {
			fprintf(stderr, "toucher: wrong data at %zu\n", i);
			return 4;
		}
		sum += p[i];
	}
	printf("ok %zu MiB sum %llu\n", n >> 20, (unsigned long long)sum);
	return 0;
}
