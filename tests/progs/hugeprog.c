/* hugeprog.c - a program with large buffers, for huge.sh.  It reports what
 * it can see of its own memory: whether a buffer starts on a 2 MiB
 * boundary, and the kernel's flags for its mapping (VmFlags "hg" after
 * MADV_HUGEPAGE, "nh" after MADV_NOHUGEPAGE) and FilePmdMapped.
 *   hugeprog flags MIB      calloc (zero?), touch every page, check, report
 *   hugeprog grow MIB       realloc 1 MiB -> MIB in 1 MiB steps, data kept
 *   hugeprog own MIB        malloc, MADV_NOHUGEPAGE of its own, realloc
 *                           to twice the size, report (the advice stands)
 *   hugeprog rand MIB SECS  records filled in order, then random updates
 *                           until the mapping shows "nh" (or SECS pass),
 *                           20000 more, then every record checked
 * Prints "aligned=A hg=H nh=N pmd_kb=K" (rand: also "ops=N"); exit 1 on
 * wrong data. */
#include "oms_test.h"
#include <sys/mman.h>
#include <time.h>

struct flags {
	int hg, nh;
	long pmd_kb;
};

static struct flags flags_of(const void *p)
{
	struct flags f = {0, 0, -1};
	FILE *s = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	while (s && fgets(line, sizeof line, s)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(line, "FilePmdMapped:", 14))
			f.pmd_kb = atol(line + 14);
		if (!strncmp(line, "VmFlags:", 8)) {
			f.hg = strstr(line, " hg") != NULL;
			f.nh = strstr(line, " nh") != NULL;
		}
	}
	if (s)
		fclose(s);
	return f;
}

static void report(const void *p, const char *extra)
{
	struct flags f = flags_of(p);
	printf("aligned=%d hg=%d nh=%d pmd_kb=%ld%s\n", ((uintptr_t)p & ((2u << 20) - 1)) == 0, f.hg,
	       f.nh, f.pmd_kb, extra);
}

static uint64_t word(size_t i)
{
	return i * 0x9e3779b97f4a7c15ull ^ 0x5555;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	size_t mib = (size_t)atol(argv[2]), n = mib << 20;
	if (!strcmp(argv[1], "flags")) {
		char *p = calloc(1, n);
		CHECK(p != NULL);
		if (!p)
			return 1;
		CHECK(all_zero(p, n));
		fill(p, n, 7);
		report(p, "");
		CHECK(verify(p, n, 7));
		free(p);
	} else if (!strcmp(argv[1], "grow")) {
		char *p = malloc(1 << 20);
		CHECK(p != NULL);
		fill(p, 1 << 20, 9);
		for (size_t m = 2; p && m <= mib; m++) {
			char *q = realloc(p, m << 20);
			CHECK(q != NULL);
			if (!q)
				break;
			p = q;
			CHECK(verify(p, 1 << 20, 9));
			memset(p + ((m - 1) << 20), (int)m, 1 << 20);
		}
		for (size_t m = 2; p && m <= mib; m++)
			CHECK((unsigned char)p[((m - 1) << 20) + 4095] == (unsigned char)m);
		report(p, "");
		free(p);
	} else if (!strcmp(argv[1], "own")) {
		char *p = malloc(n);
		CHECK(p != NULL);
		if (!p)
			return 1;
		CHECK(madvise(p, n, MADV_NOHUGEPAGE) == 0);
		fill(p, n, 11);
		char *q = realloc(p, 2 * n);
		CHECK(q != NULL);
		if (!q)
			return 1;
		CHECK(verify(q, n, 11));
		report(q, "");
		free(q);
	} else if (!strcmp(argv[1], "rand") && argc > 3) {
		size_t recs = n / 64;
		uint64_t *r = malloc(n), seed = 42, ops = 0, extra = 0;
		CHECK(r != NULL);
		if (!r)
			return 1;
		for (size_t i = 0; i < recs; i++) {
			r[i * 8] = word(i);
			r[i * 8 + 1] = 0;
		}
		double end = now_s() + atof(argv[3]);
		int seen = 0;
		while (now_s() < end && (!seen || extra < 20000)) {
			for (int k = 0; k < 2000; k++, ops++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				size_t i = (size_t)(seed >> 33) % recs;
				if (r[i * 8] != word(i)) {
					fprintf(stderr, "record %zu wrong\n", i);
					return 1;
				}
				r[i * 8 + 1]++;
			}
			if (seen)
				extra += 2000;
			else
				seen = flags_of(r).nh;
		}
		uint64_t sum = 0;
		for (size_t i = 0; i < recs; i++) {
			CHECK(r[i * 8] == word(i));
			sum += r[i * 8 + 1];
		}
		CHECK(sum == ops);
		char tail[64];
		snprintf(tail, sizeof tail, " ops=%llu", (unsigned long long)ops);
		report(r, tail);
		free(r);
	} else
		return 2;
	return failures ? 1 : 0;
}
