/* churn.c - row 1: small-allocation churn.  Two threads each run OPS random
 * malloc/calloc/realloc/free calls of 8..1024 bytes over a table of slots,
 * checking contents as they go.  Prints "wall_ms cpu_ms" of the threaded
 * part (cpu: user + system time of the process, which other tenants of a
 * shared machine disturb less than wall time).
 * usage: churn [ops_per_thread=2000000] [threads=2] */
#include "bench.h"
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>

#define SLOTS 4096
static size_t ops;

struct slot { unsigned char *p; size_t n; unsigned char tag; };

static void fill(struct slot *s)
{
	s->p[0] = s->tag;
	s->p[s->n - 1] = s->tag;
	s->p[s->n / 2] = s->tag;
}

static void check(const struct slot *s)
{
	if (s->p[0] != s->tag || s->p[s->n - 1] != s->tag || s->p[s->n / 2] != s->tag)
		FAIL("churn: block %p of %zu bytes lost its contents", (void *)s->p, s->n);
}

static void *worker(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg;
	static __thread struct slot tab[SLOTS];
	for (size_t i = 0; i < ops; i++) {
		uint64_t r = mix64(&seed);
		struct slot *s = &tab[r % SLOTS];
		size_t n = 8 + (r >> 20) % 1017;
		unsigned op = (unsigned)(r >> 40) % 4;
		if (!s->p) {
			s->tag = (unsigned char)(r >> 56) | 1;
			s->n = n;
			if (op & 1) {
				s->p = calloc(1, n);
				if (s->p && (s->p[0] || s->p[n - 1]))
					FAIL("churn: calloc not zeroed");
			} else
				s->p = malloc(n);
			if (!s->p)
				FAIL("churn: out of memory");
			fill(s);
		} else if (op < 2) {
			check(s);
			free(s->p);
			s->p = NULL;
		} else {
			check(s);
			size_t keep = s->n < n ? s->n : n;
			unsigned char *q = realloc(s->p, n);
			if (!q)
				FAIL("churn: realloc failed");
			if (q[0] != s->tag || q[keep - 1] != (keep == s->n ? s->tag : q[keep - 1]))
				FAIL("churn: realloc lost the contents");
			s->p = q;
			s->n = n;
			fill(s);
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (tab[i].p) {
			check(&tab[i]);
			free(tab[i].p);
			tab[i].p = NULL;
		}
	return NULL;
}

int main(int argc, char **argv)
{
	ops = arg_size(argc, argv, 1, 2000000);
	int nt = (int)arg_size(argc, argv, 2, 2);
	pthread_t t[64];
	if (nt < 1 || nt > 64)
		nt = 2;
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now_ms();
	for (int i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(0x1234 + i)))
			FAIL("churn: pthread_create");
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	double wall = now_ms() - t0;
	getrusage(RUSAGE_SELF, &r1);
	double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e3 +
		     (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e3;
	printf("%.3f %.3f\n", wall, cpu);
	return 0;
}
