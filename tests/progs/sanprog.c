/* sanprog.c - a threaded program that allocates large and small blocks and
 * prints a digest; tests/integration/sanitizer.sh builds it with
 * -fsanitize=thread / leak / address (it is built plainly by make too).
 * Then a thread maps, writes and unmaps a range that the main thread maps
 * again and writes: TSan must see both unmap and map (through its own
 * interceptors), or it reports a race that is not there. */
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg)
{
	size_t n = (size_t)(4 << 20);
	unsigned char *p = malloc(n);
	if (!p)
		return NULL;
	memset(p, (int)(size_t)arg, n);
	unsigned long sum = 0;
	for (size_t i = 0; i < n; i += 4096)
		sum += p[i];
	free(p);
	return (void *)sum;
}

static char *gone;
static int unmapped;

/* Relaxed atomics only: TSan derives no ordering from them, so only its
 * own record of the munmap keeps the second thread's write from looking
 * like a race with the first. */
static void *map_unmap(void *arg)
{
	char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		memset(p, 1, 65536);
		__atomic_store_n(&gone, p, __ATOMIC_RELAXED);
		munmap(p, 65536);
	}
	__atomic_store_n(&unmapped, 1, __ATOMIC_RELAXED);
	return arg;
}

static void remap(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, map_unmap, NULL))
		return;
	while (!__atomic_load_n(&unmapped, __ATOMIC_RELAXED))
		sched_yield();
	char *want = __atomic_load_n(&gone, __ATOMIC_RELAXED);
	char *q = want ? mmap(want, 65536, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) : MAP_FAILED;
	if (q != MAP_FAILED) {
		memset(q, 2, 65536);
		munmap(q, 65536);
	}
	pthread_join(t, NULL);
}

int main(void)
{
	pthread_t t[2];
	for (size_t i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, work, (void *)(i + 1)))
			return 1;
	void *r[2];
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], &r[i]);
	char *s = malloc(100);
	if (!s)
		return 1;
	snprintf(s, 100, "%lu %lu", (unsigned long)r[0], (unsigned long)r[1]);
	puts(s);
	free(s);
	remap();
	return 0;
}
