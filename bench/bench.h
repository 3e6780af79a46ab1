/* bench.h - tiny helpers shared by the benchmark programs. */
#ifndef OMS_BENCH_H
#define OMS_BENCH_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* splitmix64: a fast, well-mixed generator; the same seed gives the same
 * sequence with and without the shim. */
static inline uint64_t mix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline size_t arg_size(int argc, char **argv, int i, size_t dflt)
{
	return argc > i ? (size_t)strtoull(argv[i], NULL, 0) : dflt;
}

#define FAIL(...) do { fprintf(stderr, "WRONG DATA: " __VA_ARGS__); fputc('\n', stderr); exit(2); } while (0)
#endif
