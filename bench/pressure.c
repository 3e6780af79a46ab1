/* pressure.c - rows 6a/6b: memory pressure workloads.
 *   pressure seq SIZE_MIB        write every 8-byte word of a SIZE buffer,
 *                                then read it all back and verify
 *   pressure rand SIZE_MIB OPS   a table of 64-byte records filled in order,
 *                                then OPS read-modify-writes of records
 *                                picked at random (a hash table's pattern),
 *                                then every record verified
 * Prints "total_ms phase1_ms phase2_ms" on success; exit 2 on wrong data. */
#include "bench.h"
#include <string.h>

struct rec { uint64_t key, count, sum, pad[5]; };

static uint64_t word(size_t i) { return i * 0x9e3779b97f4a7c15ull ^ 0x5555; }

int main(int argc, char **argv)
{
	if (argc < 3)
		FAIL("usage: pressure seq|rand size_mib [ops]");
	size_t size = arg_size(argc, argv, 2, 256) << 20;
	double t0 = now_ms(), t1, t2;
	if (!strcmp(argv[1], "seq")) {
		uint64_t *w = malloc(size);
		size_t n = size / 8;
		if (!w)
			FAIL("pressure: malloc");
		for (size_t i = 0; i < n; i++)
			w[i] = word(i);
		t1 = now_ms();
		for (size_t i = 0; i < n; i++)
			if (w[i] != word(i))
				FAIL("pressure: word %zu", i);
		t2 = now_ms();
		free(w);
	} else {
		size_t ops = arg_size(argc, argv, 3, 1000000);
		size_t n = size / sizeof(struct rec);
		struct rec *r = malloc(n * sizeof *r);
		if (!r)
			FAIL("pressure: malloc");
		for (size_t i = 0; i < n; i++)
			r[i] = (struct rec){.key = word(i)};
		t1 = now_ms();
		uint64_t seed = 42;
		for (size_t k = 0; k < ops; k++) {
			uint64_t x = mix64(&seed);
			struct rec *e = &r[x % n];
			if (e->key != word((size_t)(x % n)))
				FAIL("pressure: record %zu key", (size_t)(x % n));
			e->count++;
			e->sum += x >> 32;
		}
		uint64_t c = 0;
		for (size_t i = 0; i < n; i++) {
			if (r[i].key != word(i))
				FAIL("pressure: record %zu", i);
			c += r[i].count;
		}
		if (c != ops)
			FAIL("pressure: %llu updates counted, %zu made", (unsigned long long)c, ops);
		t2 = now_ms();
		free(r);
	}
	printf("%.3f %.3f %.3f\n", t2 - t0, t1 - t0, t2 - t1);
	return 0;
}
