/* fragment.c - fragment physical memory for real (manual test, not CI).
 *
 * Maps MiB of anonymous memory in 4 KiB pages (no transparent huge pages),
 * touches every page, then unmaps every other page: the kernel gets back
 * order-0 pages whose buddies are still in use, so free memory is plenty
 * but contiguous free blocks become scarce.  Holds the remaining half
 * until killed (freeing it would let the buddies merge again).
 *   fragment MiB      prints "ready" on stdout once fragmented */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	size_t len = mib << 20, pg = 4096;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < len; off += pg)
		p[off] = 1;
	for (size_t off = 0; off < len; off += 2 * pg)
		munmap(p + off, pg);
	printf("ready %zu MiB mapped, %zu MiB freed in 4 KiB holes\n", mib, mib / 2);
	fflush(stdout);
	pause();
	return 0;
}
