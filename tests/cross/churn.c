/* churn.c - the 32-bit headline program: over its life it allocates,
 * fills, verifies and frees TOTAL MiB of heap in blocks of MIN..MAX MiB,
 * keeping up to LIVE MiB allocated at once.  Every 4th block is grown to its
 * size with realloc from half of it.  Each block is verified twice: right
 * after it is filled, and again just before it is freed, after later blocks
 * have pushed it out of memory.  A plain legacy program: malloc and free.
 * Usage: churn TOTAL_MIB [LIVE_MIB MIN_MIB MAX_MIB]   (2048 1024 64 256)
 * Exit: 0 "ok ...", 2 usage, 3 allocation failed, 4 wrong data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP 256                   /* one 32-bit word per STEP bytes */
#define MAXB 64

static uint32_t word(uint32_t id, size_t off)
{
	uint32_t x = id * 0x9e3779b1u ^ (uint32_t)(off / STEP) * 0x85ebca6bu;
	return x ^ (x >> 15);
}

static void fill(unsigned char *p, size_t from, size_t n, uint32_t id)
{
	for (size_t o = from; o < n; o += STEP) {
		uint32_t w = word(id, o);
		memcpy(p + o, &w, sizeof w);
	}
}

static int verify(const unsigned char *p, size_t n, uint32_t id)
{
	for (size_t o = 0; o < n; o += STEP) {
		uint32_t w;
		memcpy(&w, p + o, sizeof w);
		if (w != word(id, o)) {
			fprintf(stderr, "churn: block %u wrong at offset %zu\n", id, o);
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 5)
		return 2;
	unsigned long long total = strtoull(argv[1], 0, 10) << 20;
	size_t live_max = (size_t)(argc > 2 ? atol(argv[2]) : 1024) << 20;
	size_t lo = (size_t)(argc > 2 ? atol(argv[3]) : 64) << 20;
	size_t hi = (size_t)(argc > 2 ? atol(argv[4]) : 256) << 20;
	if (!total || lo == 0 || hi < lo || live_max < hi)
		return 2;
	unsigned char *blk[MAXB];
	size_t len[MAXB];
	uint32_t ids[MAXB];
	int nb = 0;                    /* live blocks, oldest first */
	size_t live = 0, peak = 0;
	unsigned long long done = 0;
	uint32_t id = 0, seed = 12345;
	while (done < total) {
		seed = seed * 1103515245u + 12345u;
		size_t n = lo + (size_t)((seed >> 8) % ((hi - lo) / 4096 + 1)) * 4096;
		while (nb && (live + n > live_max || nb == MAXB)) {
			if (!verify(blk[0], len[0], ids[0]))
				return 4;
			free(blk[0]);
			live -= len[0];
			memmove(blk, blk + 1, (size_t)(nb - 1) * sizeof *blk);
			memmove(len, len + 1, (size_t)(nb - 1) * sizeof *len);
			memmove(ids, ids + 1, (size_t)(nb - 1) * sizeof *ids);
			nb--;
		}
		unsigned char *p;
		if (id % 4 == 3) {     /* grow it: realloc keeps the first half */
			p = malloc(n / 2);
			if (!p)
				goto nomem;
			fill(p, 0, n / 2, id);
			unsigned char *q = realloc(p, n);
			if (!q)
				goto nomem;
			p = q;
			fill(p, (n / 2 + STEP - 1) / STEP * STEP, n, id);
		} else {
			if (!(p = malloc(n)))
				goto nomem;
			fill(p, 0, n, id);
		}
		if (!verify(p, n, id))
			return 4;
		blk[nb] = p;
		len[nb] = n;
		ids[nb++] = id++;
		live += n;
		done += n;
		if (live > peak)
			peak = live;
		continue;
nomem:
		fprintf(stderr, "churn: cannot allocate %zu MiB with %zu MiB live\n", n >> 20, live >> 20);
		return 3;
	}
	for (int i = 0; i < nb; i++) {
		if (!verify(blk[i], len[i], ids[i]))
			return 4;
		free(blk[i]);
	}
	printf("ok churn %llu MiB in %u blocks, peak %zu MiB live, %zu-bit\n",
	       done >> 20, id, peak >> 20, sizeof(void *) * 8);
	return 0;
}
