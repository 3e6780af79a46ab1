/* heapobj.c - small objects under the whole-heap mode (issue 16).
 * Usage: heapobj MODE ARGS...   (prints one result line on stdout; with
 * EXPECT_HEAP=1 it also exits 3 unless its small objects are file-backed)
 *   list N        N small nodes of 16..200 bytes: a linked list, checksum
 *   purge MB      MB of objects freed, purged (mallctl), calloc'd again:
 *                 must read zero (jemalloc trusts purged pages to)
 *   fork MB       a child rewrites and frees the parent's objects: the
 *                 parent's stay as they were, and the child's are its own
 *   churn T R     R rounds of T threads, each building and checking a list
 *                 that the main thread frees (arenas, tcaches come and go)
 *   refill MB FILE  MB of objects, freed and purged; FILE then fills the
 *                 disk; MB again must be writable (no SIGBUS)
 *   sparse GB     a writable MAP_NORESERVE mapping of GB GiB, a few pages
 *                 touched: prints whether it is file-backed (a sparse
 *                 reservation that large must not be)
 */
#include <sys/mman.h>
#pragma GCC diagnostic ignored "-Wunused-function" /* oms_test.h helpers */
#include "oms_test.h"

#include <dlfcn.h>
#include <pthread.h>

struct node {
	struct node *next;
	unsigned len;
	unsigned char data[];
};

static struct node *build(unsigned long n, unsigned seed, unsigned long long *sum)
{
	struct node *head = NULL;
	for (unsigned long i = 0; i < n; i++) {
		unsigned len = 16 + (seed + (unsigned)i * 37) % 185;
		struct node *x = malloc(sizeof *x + len);
		if (!x)
			exit(4);
		x->len = len;
		for (unsigned j = 0; j < len; j++)
			x->data[j] = (unsigned char)(seed + i + j);
		x->next = head;
		head = x;
		*sum += len;
	}
	return head;
}

static unsigned long long check(const struct node *x, unsigned seed, unsigned long n)
{
	unsigned long long bad = 0;
	for (unsigned long i = n; x; x = x->next) {
		i--;
		for (unsigned j = 0; j < x->len; j++)
			bad += x->data[j] != (unsigned char)(seed + i + j);
	}
	return bad;
}

static void drop(struct node *x)
{
	while (x) {
		struct node *n = x->next;
		free(x);
		x = n;
	}
}

static void purge(void)
{
	/* "arena.<MALLCTL_ARENAS_ALL>.purge": every arena's dirty pages go
	 * through madvise now, not after the decay time. */
	int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
		(int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
	if (mallctl && mallctl("arena.4096.purge", NULL, NULL, NULL, 0) != 0)
		exit(5);
}

static int expect_heap(void)
{
	if (!getenv("EXPECT_HEAP"))
		return 0;
	void *p = malloc(48);
	int r = file_backed(p);
	free(p);
	if (r != 1) {
		fprintf(stderr, "heapobj: a small object is not file-backed\n");
		return 1;
	}
	return 0;
}

struct job {
	unsigned seed;
	unsigned long n;
	struct node *list;
	unsigned long long sum, bad;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	j->list = build(j->n, j->seed, &j->sum);
	j->bad = check(j->list, j->seed, j->n);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "sparse")) {
		size_t len = (size_t)strtoul(argv[2], NULL, 0) << 30;
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return 4;
		for (size_t i = 0; i < len; i += len / 8)
			p[i] = 1;
		printf("sparse %s file-backed %d\n", argv[2], file_backed(p));
		return 0;
	}
	if (expect_heap())
		return 3;
	unsigned long long sum = 0;
	unsigned long a = strtoul(argv[2], NULL, 0);
	if (!strcmp(argv[1], "list")) {
		struct node *l = build(a, 7, &sum);
		unsigned long long bad = check(l, 7, a);
		unsigned long long h = 0;
		for (struct node *x = l; x; x = x->next)
			h = h * 1099511628211ull + x->data[x->len / 2];
		drop(l);
		printf("list %lu sum %llu hash %llu bad %llu\n", a, sum, h, bad);
		return bad != 0;
	}
	unsigned long n = (a << 20) / 128; /* objects of about 128 bytes */
	if (!strcmp(argv[1], "purge")) {
		drop(build(n, 3, &sum));
		purge();
		unsigned long long nonzero = 0;
		void **v = malloc(n * sizeof *v);
		for (unsigned long i = 0; i < n; i++) {
			unsigned char *c = calloc(1, 112);
			if (!c)
				return 4;
			for (int j = 0; j < 112; j++)
				nonzero += c[j] != 0;
			memset(c, 0x5a, 112);
			v[i] = c;
		}
		for (unsigned long i = 0; i < n; i++)
			free(v[i]);
		free(v);
		purge();
		printf("purge %lu MiB nonzero %llu\n", a, nonzero);
		return nonzero != 0;
	}
	if (!strcmp(argv[1], "fork")) {
		struct node *l = build(n, 11, &sum);
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			return 6;
		if (pid == 0) {
			for (struct node *x = l; x; x = x->next)
				memset(x->data, 0xee, x->len);
			drop(l);
			purge();
			unsigned long long s2 = 0;
			struct node *m = build(n, 13, &s2);
			_exit(check(m, 13, n) != 0);
		}
		int st;
		waitpid(pid, &st, 0);
		unsigned long long bad = check(l, 11, n);
		drop(l);
		printf("fork %lu MiB child %d bad %llu\n", a, WIFEXITED(st) ? WEXITSTATUS(st) : 99,
		       bad);
		return bad || !WIFEXITED(st) || WEXITSTATUS(st);
	}
	if (!strcmp(argv[1], "churn") && argc == 4) {
		unsigned long rounds = strtoul(argv[3], NULL, 0);
		unsigned long long bad = 0;
		struct job j[64];
		if (a > 64)
			return 2;
		for (unsigned long r = 0; r < rounds; r++) {
			pthread_t t[64];
			for (unsigned long i = 0; i < a; i++) {
				j[i] = (struct job){(unsigned)(r * 64 + i), 20000, NULL, 0, 0};
				if (pthread_create(&t[i], NULL, worker, &j[i]))
					return 6;
			}
			for (unsigned long i = 0; i < a; i++) {
				pthread_join(t[i], NULL);
				bad += j[i].bad + check(j[i].list, j[i].seed, j[i].n);
				sum += j[i].sum;
				drop(j[i].list);
			}
		}
		printf("churn %lu x %lu sum %llu bad %llu\n", a, rounds, sum, bad);
		return bad != 0;
	}
	if (!strcmp(argv[1], "refill") && argc == 4) {
		drop(build(n, 5, &sum));
		purge();
		/* Fill the disk (the file stays open: its blocks stay taken). */
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		static char buf[1 << 16];
		memset(buf, 1, sizeof buf);
		while (fd >= 0 && write(fd, buf, sizeof buf) > 0)
			;
		unlink(argv[3]);
		struct node *l = build(n, 9, &sum);
		unsigned long long bad = check(l, 9, n);
		drop(l);
		if (fd >= 0)
			close(fd);
		printf("refill %lu MiB bad %llu\n", a, bad);
		return bad != 0;
	}
	return 2;
}
