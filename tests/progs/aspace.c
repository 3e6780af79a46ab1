/* aspace.c - how much address space a program can get: malloc blocks of
 * 64 MiB, untouched, until malloc fails; prints "bits MiB".  On a 32-bit
 * target the shim must leave the program (nearly) all of its 3 GB: no
 * reservations of its own that only 64-bit could afford. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	size_t total = 0, chunk = (size_t)64 << 20;
	if (sizeof(void *) == 8) { /* 128 TiB of address space: nothing to learn */
		printf("64 0\n");
		return 0;
	}
	while (malloc(chunk))
		total += chunk;
	printf("%d %zu\n", (int)(8 * sizeof(void *)), total >> 20);
	return 0;
}
