/* core.c - the malloc-family semantics a protected program relies on.
 * Usage: core TEST...   (TEST: entry realloc calloc zero align errno fork
 *        forkthreads threads growth fds usable madvise guard cfree libc, or all)
 * With EXPECT_SHIM=1 it also asserts that blocks >= 64 KiB are file-backed
 * (run it with OOMSHIELD_THRESHOLD=64K).  Exit 0 when every check holds. */
#include "oms_test.h"

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#define BIG ((size_t)(256 << 10))
#define SMALL ((size_t)1000)

static int expect_shim;
/* volatile: keep the compiler from rejecting the absurd sizes we test */
static volatile size_t huge = SIZE_MAX - 4096, half = SIZE_MAX / 2, root_max = (size_t)1 << (sizeof(size_t) * 4);

static void backed(const void *p, int want)
{
	if (expect_shim)
		CHECK(file_backed(p) == want);
}

static void t_entry(void)
{
	/* Every entry point, below and above the threshold. */
	size_t sizes[] = {SMALL, BIG};
	for (int i = 0; i < 2; i++) {
		size_t n = sizes[i];
		int big = n >= BIG;
		void *p[9] = {0};
		p[0] = malloc(n);
		p[1] = calloc(1, n);
		p[2] = realloc(NULL, n);
		p[3] = reallocarray(NULL, n / 8, 8);
		CHECK(posix_memalign(&p[4], 4096, n) == 0);
		p[5] = aligned_alloc(4096, n);
		p[6] = memalign(65536, n);
		p[7] = valloc(n);
		p[8] = pvalloc(n);
		for (int k = 0; k < 9; k++) {
			CHECK(p[k] != NULL);
			if (!p[k])
				continue;
			CHECK(malloc_usable_size(p[k]) >= n);
			fill(p[k], n, (unsigned)k);
			backed(p[k], big);
		}
		for (int k = 0; k < 9; k++)
			if (p[k]) {
				CHECK(verify(p[k], n, (unsigned)k));
				free(p[k]);
			}
	}
	free(NULL);
	CHECK(malloc_usable_size(NULL) == 0);
}

static void t_realloc(void)
{
	/* small -> large across the threshold */
	char *p = malloc(SMALL);
	fill(p, SMALL, 1);
	p = realloc(p, BIG);
	CHECK(p && verify(p, SMALL, 1));
	backed(p, 1);
	/* large -> larger, many times (in place or moved) */
	fill(p, BIG, 2);
	size_t n = BIG;
	for (int i = 0; i < 20; i++) {
		size_t m = n + n / 3 + 4096 * (size_t)i;
		p = realloc(p, m);
		CHECK(p && verify(p, n, 2 + (unsigned)i));
		fill(p, m, 3 + (unsigned)i);
		n = m;
		backed(p, 1);
	}
	/* large -> smaller, still large */
	p = realloc(p, BIG);
	CHECK(p && verify(p, BIG, 22));
	backed(p, 1);
	/* large -> small across the threshold */
	fill(p, BIG, 5);
	p = realloc(p, SMALL);
	CHECK(p && verify(p, SMALL - 1, 5));
	backed(p, 0);
	free(p);
	/* realloc(big, 0) frees and returns NULL, like glibc */
	p = malloc(BIG);
	CHECK(realloc(p, 0) == NULL);
	/* reallocarray keeps data too */
	p = malloc(BIG);
	fill(p, BIG, 9);
	p = reallocarray(p, 2, BIG);
	CHECK(p && verify(p, BIG, 9));
	free(p);
}

static void t_calloc(void)
{
	/* Reused space must read as zero. */
	for (int round = 0; round < 8; round++) {
		size_t n = BIG * (1 + (size_t)(round % 3));
		unsigned char *p = malloc(n);
		memset(p, 0xAA, n);
		free(p);
		unsigned char *q = calloc(n / 16, 16);
		CHECK(q && all_zero(q, n));
		memset(q, 0x55, n);
		free(q);
	}
	errno = 0;
	CHECK(calloc(half, 4) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(root_max, root_max) == NULL &&
	      errno == ENOMEM);
}

static void t_zero(void)
{
	void *a = malloc(0), *b = malloc(0);
	CHECK(a && b && a != b);
	free(a);
	free(b);
}

static void t_align(void)
{
	size_t aligns[] = {16, 4096, 65536, 1 << 20, 2 << 20};
	for (int i = 0; i < 5; i++) {
		size_t al = aligns[i];
		void *p = NULL;
		CHECK(posix_memalign(&p, al, BIG) == 0 && ((uintptr_t)p % al) == 0);
		fill(p, BIG, 7);
		CHECK(verify(p, BIG, 7));
		free(p);
		p = aligned_alloc(al, BIG * 2);
		CHECK(p && ((uintptr_t)p % al) == 0);
		free(p);
		p = memalign(al, BIG + 1);
		CHECK(p && ((uintptr_t)p % al) == 0);
		free(p);
	}
	/* bad alignments: EINVAL returned, errno and *out untouched */
	size_t bad[] = {0, 3, 24, sizeof(void *) / 2};
	for (int i = 0; i < 4; i++) {
		void *p = (void *)1;
		errno = 1234;
		CHECK(posix_memalign(&p, bad[i], SMALL) == EINVAL);
		CHECK(posix_memalign(&p, bad[i], BIG) == EINVAL);
		CHECK(p == (void *)1 && errno == 1234);
	}
}

static void t_errno(void)
{
	errno = 4321;
	void *p = malloc(BIG), *q = malloc(SMALL);
	p = realloc(p, BIG * 3);
	q = realloc(q, BIG);
	void *r = calloc(1, BIG);
	free(p);
	free(q);
	free(r);
	CHECK(errno == 4321);
	errno = 0;
	CHECK(malloc(huge) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(reallocarray(NULL, half, 3) == NULL && errno == ENOMEM);
	errno = 0;
	p = malloc(BIG);
	fill(p, BIG, 8);
	void *volatile keep = p;
	CHECK(realloc(p, huge) == NULL && errno == ENOMEM);
	CHECK(verify(keep, BIG, 8)); /* a failed realloc leaves the block alone */
	free(keep);
}

static void t_fork(void)
{
	size_t n = 4 << 20;
	char *p = malloc(n);
	fill(p, n, 11);
	char *small = malloc(SMALL);
	fill(small, SMALL, 12);
	int pipefd[2], back[2];
	CHECK(pipe(pipefd) == 0 && pipe(back) == 0);
	int fds = count_fds();
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		/* child: sees the data as at fork, writes its own */
		int ok = verify(p, n, 11) && verify(small, SMALL, 12);
		fill(p, n, 21);
		if (read(pipefd[0], &c, 1) != 1) /* parent has written its own data */
			_exit(3);
		ok = ok && verify(p, n, 21);
		/* the child keeps allocating and frees what it inherited */
		char *q = malloc(n);
		fill(q, n, 23);
		ok = ok && verify(q, n, 23);
		q = realloc(q, 2 * n);
		ok = ok && verify(q, n, 23);
		free(q);
		p = realloc(p, 2 * n);
		ok = ok && p && verify(p, n, 21);
		free(p);
		free(small);
		if (write(back[1], "x", 1) != 1)
			_exit(4);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0);
	fill(p, n, 31);
	CHECK(write(pipefd[1], "x", 1) == 1);
	char c;
	CHECK(read(back[0], &c, 1) == 1); /* child has written and finished */
	CHECK(verify(p, n, 31));
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(count_fds() == fds);
	/* the parent's block is still fully usable */
	p = realloc(p, 3 * n);
	CHECK(p && verify(p, n, 31));
	free(p);
	free(small);
	close(pipefd[0]);
	close(pipefd[1]);
	close(back[0]);
	close(back[1]);
}

static volatile int stop_churn;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *slot[16] = {0};
	size_t len[16] = {0};
	while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
		int i = (int)(rand_r(&seed) % 16);
		if (slot[i]) {
			if (!verify(slot[i], len[i], (unsigned)i)) {
				fprintf(stderr, "churn: data lost\n");
				abort();
			}
			free(slot[i]);
		}
		len[i] = (rand_r(&seed) % 4) ? 16 + (size_t)(rand_r(&seed) % 2000) : BIG + (size_t)rand_r(&seed) % BIG;
		slot[i] = malloc(len[i]);
		fill(slot[i], len[i], (unsigned)i);
	}
	for (int i = 0; i < 16; i++)
		free(slot[i]);
	return NULL;
}

static void t_forkthreads(void)
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < 100; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			void *a = malloc(BIG), *b = malloc(SMALL);
			fill(a, BIG, 1);
			int ok = verify(a, BIG, 1);
			free(a);
			free(b);
			_exit(ok ? 0 : 1);
		}
		int st;
		CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	for (int round = 0; round < 300; round++) {
		size_t n = (round % 3 == 0) ? BIG + (size_t)rand_r(&seed) % (4 * BIG) : 1 + (size_t)(rand_r(&seed) % 4000);
		char *p = (round & 1) ? calloc(1, n) : malloc(n);
		if (!p)
			return (void *)1;
		if ((round & 1) && !all_zero(p, n))
			return (void *)2;
		fill(p, n, seed);
		p = realloc(p, n * 2);
		if (!p || !verify(p, n, seed))
			return (void *)3;
		free(p);
	}
	return NULL;
}

static void t_threads(void)
{
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i * 77 + 1));
	for (int i = 0; i < 8; i++) {
		void *r;
		pthread_join(th[i], &r);
		CHECK(r == NULL);
	}
}

static void t_growth(void)
{
	/* 1 MiB -> 256 MiB in 64 KiB steps, touching the new part. */
	size_t n = 1 << 20;
	char *p = malloc(n);
	memset(p, 1, n);
	while (n < (256u << 20)) {
		size_t m = n + 65536;
		p = realloc(p, m);
		if (!p)
			break;
		memset(p + n, (int)((m >> 16) & 0xff), 65536);
		n = m;
	}
	CHECK(p != NULL);
	if (!p)
		return;
	CHECK(p[0] == 1 && p[(1 << 20) - 1] == 1);
	for (size_t off = 1 << 20; off < n; off += 65536)
		CHECK((unsigned char)p[off] == (unsigned char)(((off + 65536) >> 16) & 0xff));
	backed(p, 1);
	free(p);
}

static void t_fds(void)
{
	/* A daemon closes every fd it did not open; the shim must cope. */
	char *p = malloc(BIG);
	fill(p, BIG, 41);
	char *q = malloc(BIG);
	fill(q, BIG, 42);
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
	p = realloc(p, 8 * BIG);
	CHECK(p && verify(p, BIG, 41));
	free(p);
	/* Program files now sit on the shim's old fd numbers: the shim must
	 * never write to them or close them. */
	char path[] = "/tmp/oms-victim.XXXXXX";
	int v = mkstemp(path);
	CHECK(v >= 0 && write(v, "keep", 4) == 4);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != v)
			dup2(v, fd);
	q = realloc(q, 4 * BIG);
	CHECK(q && verify(q, BIG, 42));
	free(q);
	char *r = malloc(BIG); /* new blocks still work */
	fill(r, BIG, 43);
	CHECK(verify(r, BIG, 43));
	free(r);
	struct stat;
	off_t size = lseek(v, 0, SEEK_END);
	CHECK(size == 4);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	unlink(path);
}

static void t_usable(void)
{
	for (size_t n = BIG - 3; n < BIG + 70000; n += 9999) {
		char *p = malloc(n);
		size_t u = malloc_usable_size(p);
		CHECK(u >= n);
		memset(p, 1, u); /* the whole usable size is writable */
		free(p);
	}
}

/* Programs give pages of their own large buffers back with madvise: the
 * pages must read zero afterwards, as on anonymous memory, and stay usable;
 * a misaligned address is EINVAL with nothing done. */
static void t_madvise(void)
{
	size_t n = 4 * BIG, pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p = aligned_alloc(pg, n);
	CHECK(p != NULL);
	if (!p)
		return;
	backed(p, 1);
	memset(p, 0x5a, n);
	errno = 0;
	CHECK(madvise(p + pg + 1, pg, MADV_DONTNEED) == -1 && errno == EINVAL);
	CHECK(p[pg + 1] == 0x5a);
	CHECK(madvise(p + pg, BIG, MADV_DONTNEED) == 0);
	int zero = 1;
	for (size_t i = pg; i < pg + BIG; i++)
		zero &= p[i] == 0;
	CHECK(zero && p[pg - 1] == 0x5a && p[pg + BIG] == 0x5a);
	/* MADV_FREE may keep old bytes on anonymous memory; it must succeed,
	 * and read either the old bytes or zero, never anything else. */
	CHECK(madvise(p + 2 * BIG, BIG, MADV_FREE) == 0);
	int sane = 1;
	for (size_t i = 2 * BIG; i < 3 * BIG; i++)
		sane &= p[i] == 0 || p[i] == 0x5a;
	CHECK(sane && p[3 * BIG] == 0x5a);
	memset(p, 7, n);
	CHECK(p[pg + 5] == 7 && p[2 * BIG + 5] == 7);
	free(p);
}

/* Protections the program set inside a large block (a guard page, a
 * read-only part) hold in the parent and the child after a fork. */
static void t_guard(void)
{
	size_t n = 4 * BIG, pg = (size_t)sysconf(_SC_PAGESIZE);
	char *p = malloc(n);
	CHECK(p != NULL);
	if (!p)
		return;
	backed(p, 1);
	memset(p, 0x33, n);
	char *guard = (char *)(((uintptr_t)p + BIG + pg - 1) & ~(uintptr_t)(pg - 1));
	char *ro = guard + BIG;
	CHECK(mprotect(guard, pg, PROT_NONE) == 0);
	CHECK(mprotect(ro, BIG, PROT_READ) == 0);
	CHECK(faults(guard, 0) && faults(ro, 1) && !faults(ro, 0));
	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = faults(guard, 0) && faults(ro, 1) && ro[5] == 0x33 && p[0] == 0x33;
		p[0] = 0x44; /* private to the child */
		_exit(ok ? 0 : 1);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(faults(guard, 0) && faults(ro, 1) && ro[5] == 0x33 && p[0] == 0x33);
	close(ready[0]);
	close(ready[1]);
	CHECK(mprotect(guard, (size_t)(ro + BIG - guard), PROT_READ | PROT_WRITE) == 0);
	free(p);
}

/* A program linked before glibc 2.26 calls cfree, which libc.so.6 keeps as
 * a compat symbol only: on a block of the shim's it must free, not abort. */
#if defined(__x86_64__)
#define CFREE_VERSION "GLIBC_2.2.5"
#elif defined(__i386__)
#define CFREE_VERSION "GLIBC_2.0"
#elif defined(__arm__)
#define CFREE_VERSION "GLIBC_2.4"
#elif defined(__aarch64__)
#define CFREE_VERSION "GLIBC_2.17"
#endif
#ifdef CFREE_VERSION
void old_cfree(void *);
__asm__(".symver old_cfree, cfree@" CFREE_VERSION);
#endif

static void t_cfree(void)
{
#ifdef CFREE_VERSION
	for (int i = 0; i < 3; i++) {
		char *big = malloc(BIG), *small = malloc(SMALL);
		CHECK(big && small);
		if (!big || !small)
			return;
		backed(big, 1);
		memset(big, i, BIG);
		old_cfree(big);
		old_cfree(small);
	}
#endif
}

/* glibc's other names for its allocator, called directly by old hook code
 * with pointers from malloc, and the other way round.  Their own blocks are
 * glibc's (tests/progs/hookwrap.c says why). */
void *__libc_malloc(size_t);
void __libc_free(void *);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);

static void t_libc(void)
{
	/* Mixing the names is only valid while malloc is glibc's: with
	 * jemalloc preloaded (which has no __libc_*) it aborts without us too. */
	if (dlsym(RTLD_DEFAULT, "mallctl"))
		return;
	size_t sizes[] = {SMALL, BIG};
	for (int i = 0; i < 2; i++) {
		size_t n = sizes[i];
		char *p = malloc(n);
		CHECK(p != NULL);
		if (!p)
			return;
		backed(p, n >= BIG);
		memset(p, 7, n);
		__libc_free(p);
		p = malloc(n);
		CHECK(p != NULL);
		if (!p)
			return;
		memset(p, 9, n);
		p = __libc_realloc(p, 2 * n);
		CHECK(p && p[n - 1] == 9);
		free(p);
		p = __libc_malloc(n);
		CHECK(p != NULL);
		if (p)
			memset(p, 3, n);
		p = realloc(p, 3 * n);
		CHECK(p && p[n - 1] == 3);
		free(p);
		unsigned char *z = __libc_calloc(1, n);
		CHECK(z && z[0] == 0 && z[n - 1] == 0);
		free(z);
		p = __libc_memalign(4096, n);
		CHECK(p && ((uintptr_t)p & 4095) == 0);
		__libc_free(p);
	}
}

int main(int argc, char **argv)
{
	static const struct named_test tests[] = {
		{"entry", t_entry}, {"realloc", t_realloc}, {"calloc", t_calloc},
		{"zero", t_zero}, {"align", t_align}, {"errno", t_errno},
		{"fork", t_fork}, {"forkthreads", t_forkthreads}, {"threads", t_threads},
		{"growth", t_growth}, {"usable", t_usable}, {"fds", t_fds},
		{"madvise", t_madvise}, {"guard", t_guard}, {"cfree", t_cfree},
		{"libc", t_libc},
	};
	expect_shim = getenv("EXPECT_SHIM") && atoi(getenv("EXPECT_SHIM"));
	return run_named(tests, sizeof tests / sizeof tests[0], argc, argv);
}
