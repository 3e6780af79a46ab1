/* test_core.c - the bookkeeping and the large-block policy: the block
 * registry (shim/block.c), backing files (shim/store.c), big blocks
 * (shim/big.c) and fallback causes (shim/stats.c).
 *
 * Registry tests use fake granule-aligned addresses and never touch them.
 * Big-block tests use the real filesystem in a temporary directory under
 * /var/tmp (made once per test case, removed afterwards; every test checks
 * it stays empty), and replace entries of the `oms_os` table to inject
 * failures (ENOSPC, EFBIG, EMFILE, EACCES, ENOMEM from mmap, an in-place
 * mremap that fails, a filesystem that "reflinks").  The fork tests call
 * the atfork handlers by hand around fork(), as pthread_atfork would, and
 * sequence parent and child with pipes.  Check runs each test in its own
 * process (forced below), so registry, stats and log-once state start
 * fresh every time. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "big.h"
#include "budget.h"
#include "block.h"
#include "config.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "store.h"
#include "unit_util.h"

#define MiB ((size_t)1 << 20)
#define G OMS_GRANULE

/* ---- helpers ---- */

static char tmpdir[64];

static void dir_create(void)
{
	unit_dir_create(tmpdir, sizeof tmpdir, "core");
}

static void dir_remove(void)
{
	unit_dir_remove(tmpdir);
}

static void setup(void)
{
	unit_cfg_reset(tmpdir);
}

static void teardown(void)
{
	oms_os_reset();
}

static int dir_entries(void)
{
	DIR *d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static struct oms_block *blk(const void *p)
{
	struct oms_block *b = oms_block_find(p);
	ck_assert_msg(b != NULL, "%p not registered", p);
	return b;
}

static unsigned char pat(size_t i, unsigned seed)
{
	return (unsigned char)(i ^ (i >> 12) ^ seed);
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		c[i] = pat(i, seed);
}

static void assert_pattern(const void *p, size_t n, unsigned seed)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != pat(i, seed))
			ck_abort_msg("byte %zu is %d, expected %d", i, c[i], pat(i, seed));
}

static int all_bytes(const void *p, size_t n, int v)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != (unsigned char)v)
			return 0;
	return 1;
}

static int fsize(int fd, off_t *size, blkcnt_t *blocks)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	*size = st.st_size;
	if (blocks)
		*blocks = st.st_blocks;
	return 0;
}

/* The /proc/self/maps line of the mapping that starts at p, or NULL. */
static char maps_buf[1 << 20];
static char *read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	size_t got = 0;
	ssize_t r;
	while (got < sizeof maps_buf - 1 && (r = read(fd, maps_buf + got, sizeof maps_buf - 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	maps_buf[got] = '\0';
	return maps_buf;
}

static const char *maps_line(const void *p, char *line, size_t cap)
{
	char key[32];
	snprintf(key, sizeof key, "%lx-", (unsigned long)(uintptr_t)p);
	for (char *l = read_maps(); *l;) {
		char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (!strncmp(l, key, strlen(key))) {
			snprintf(line, cap, "%.*s", (int)len, l);
			return line;
		}
		if (!nl)
			break;
		l = nl + 1;
	}
	return NULL;
}

/* Whether the page at p is mapped: a /proc/self/maps range holds it.
 * msync() fails with ENOMEM on an unmapped page, but not under qemu-user
 * for a 32-bit guest: qemu keeps the whole guest address space reserved in
 * the host (PROT_NONE), so msync of a page the guest unmapped succeeds.
 * qemu's emulated /proc/self/maps lists the guest's own mappings only.
 * Natively both must agree. */
static int mapped(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	int in_maps = 0;
	for (const char *l = read_maps(); *l;) {
		char *end;
		unsigned long long lo = strtoull(l, &end, 16);
		unsigned long long hi = *end == '-' ? strtoull(end + 1, NULL, 16) : 0;
		if (lo <= a && a < hi) {
			in_maps = 1;
			break;
		}
		if (!(l = strchr(l, '\n')))
			break;
		l++;
	}
	if (!under_qemu()) {
		int by_msync = msync((void *)(a & ~(uintptr_t)4095), 4096, MS_ASYNC) == 0;
		ck_assert_msg(by_msync == in_maps, "%p: /proc/self/maps says %smapped, msync %s", p,
			      in_maps ? "" : "not ", by_msync ? "succeeds" : "fails");
	}
	return in_maps;
}

/* qemu-user 7.2 for a 32-bit guest (linux-user/mmap.c, target_mremap):
 * after shrinking a mapping in place it re-reserves the wrong range,
 * [old + old_size, old + 2 * old_size - new_size) instead of the freed
 * tail, i.e. maps PROT_NONE over whatever follows the old mapping (in
 * resize_shrink: libc, then a SIGSEGV).  Upstream fix: "linux-user: fix
 * mremap unmapping adjacent region" (qemu-devel, October 2025).  1 if the
 * emulator running us does that: in a child, shrink 4 pages to 1 and read
 * the mapping after them. */
static int mremap_shrink_clobbers_next(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 2); /* "qemu: uncaught target signal 11" */
		char *r = mmap(NULL, 8 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED ||
		    mmap(r, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED ||
		    mprotect(r + 4 * pg, pg, PROT_READ) < 0) /* two mappings: [r, r+4), [r+4, r+8) */
			_exit(2);
		if (mremap(r, 4 * pg, pg, 0) != r)
			_exit(3);
		_exit(*(volatile char *)(r + 4 * pg) == 0 ? 0 : 4); /* SIGSEGV if clobbered */
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0),
		      "mremap probe: status %#x", st);
	return WIFSIGNALED(st);
}

/* ---- the debug build's invariant checks fire (make DEBUG=1) ---- */

#ifdef OMS_DEBUG
START_TEST(debug_budget_underflow_aborts)
{
	int null = open("/dev/null", O_WRONLY); /* the one line it writes */
	if (null >= 0)
		dup2(null, 2);
	oms_budget_give(4096); /* nothing was taken */
}
END_TEST

START_TEST(debug_double_unregister_aborts)
{
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0)
		dup2(null, 2);
	pthread_mutex_lock(&oms_lock);
	struct oms_block *b = oms_block_new();
	b->addr = (void *)((uintptr_t)0x100000000000ull);
	oms_block_register(b);
	oms_block_unregister(b);
	oms_block_unregister(b);
}
END_TEST
#endif

/* ---- registry (block.c) ---- */

#define FAKE_BASE ((uintptr_t)0x100000000000ull) /* 16 TiB: never mapped here */

static struct oms_block *fake_block(uintptr_t addr)
{
	pthread_mutex_lock(&oms_lock);
	struct oms_block *b = oms_block_new();
	ck_assert_ptr_nonnull(b);
	b->addr = (void *)addr;
	ck_assert_int_eq(oms_block_register(b), 0);
	pthread_mutex_unlock(&oms_lock);
	return b;
}

static void drop_block(struct oms_block *b)
{
	pthread_mutex_lock(&oms_lock);
	oms_block_unregister(b);
	oms_block_free(b);
	pthread_mutex_unlock(&oms_lock);
}

static int live_count(void)
{
	int n = 0;
	for (struct oms_block *b = oms_live; b; b = b->next) {
		ck_assert_ptr_eq(b->next ? b->next->prev : b, b);
		n++;
	}
	return n;
}

START_TEST(registry_find_exact)
{
	struct oms_block *b = fake_block(FAKE_BASE);
	ck_assert_ptr_eq(oms_block_find((void *)FAKE_BASE), b);
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE + 1)));
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE + 4096)));
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE + G)));
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE - G)));
	ck_assert_ptr_eq(oms_live, b);
	ck_assert_ptr_null(b->prev);
	drop_block(b);
	ck_assert_ptr_null(oms_block_find((void *)FAKE_BASE));
	ck_assert_ptr_null(oms_live);
}
END_TEST

START_TEST(registry_unregistered)
{
	ck_assert_ptr_null(oms_block_find(NULL));
	ck_assert_ptr_null(oms_block_find((void *)FAKE_BASE));
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE + 3 * G)));
#if UINTPTR_MAX > 0xffffffffu
	/* Beyond the 48-bit space the radix covers (on 32-bit every address
	 * is inside it). */
	ck_assert_ptr_null(oms_block_find((void *)(UINTPTR_MAX & ~(uintptr_t)(G - 1))));
	struct oms_block b = {.addr = (void *)(UINTPTR_MAX & ~(uintptr_t)(G - 1))};
	pthread_mutex_lock(&oms_lock);
	ck_assert_int_eq(oms_block_register(&b), -1);
	pthread_mutex_unlock(&oms_lock);
	ck_assert_ptr_null(oms_live);
#endif
}
END_TEST

START_TEST(registry_neighbours)
{
	struct oms_block *a = fake_block(FAKE_BASE);
	struct oms_block *b = fake_block(FAKE_BASE + G);
	struct oms_block *c = fake_block(FAKE_BASE + 2 * G);
	ck_assert_int_eq(live_count(), 3);
	drop_block(b); /* middle of the live list */
	ck_assert_ptr_eq(oms_block_find((void *)FAKE_BASE), a);
	ck_assert_ptr_null(oms_block_find((void *)(FAKE_BASE + G)));
	ck_assert_ptr_eq(oms_block_find((void *)(FAKE_BASE + 2 * G)), c);
	ck_assert_int_eq(live_count(), 2);
	drop_block(c); /* head */
	ck_assert_ptr_eq(oms_live, a);
	ck_assert_ptr_null(a->prev);
	ck_assert_ptr_null(a->next);
	drop_block(a);
	ck_assert_ptr_null(oms_live);
}
END_TEST

START_TEST(registry_slot_reused)
{
	pthread_mutex_lock(&oms_lock);
	struct oms_block *a = oms_block_new();
	ck_assert_ptr_nonnull(a);
	a->fd = 42;
	a->size = 99;
	a->flags = OMS_BLK_FROZEN;
	oms_block_free(a);
	struct oms_block *b = oms_block_new();
	pthread_mutex_unlock(&oms_lock);
	ck_assert_ptr_eq(b, a);
	ck_assert_int_eq(b->fd, -1);
	ck_assert_uint_eq(b->size, 0);
	ck_assert_int_eq(b->flags, 0);
	ck_assert_ptr_null(b->addr);
}
END_TEST

START_TEST(registry_many_random_order)
{
	enum { N = 10000 };
	/* Stride of 256 MiB + 64 KiB: ~16 blocks per 4 GiB leaf, ~600 leaves. */
	const uintptr_t stride = ((uintptr_t)256 << 20) + G;
	static struct oms_block *blocks[N];
	static int order[N], gone[N];
	for (int i = 0; i < N; i++) {
		blocks[i] = fake_block(FAKE_BASE + (uintptr_t)i * stride);
		order[i] = i;
	}
	ck_assert_int_eq(live_count(), N);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_eq(oms_block_find((void *)(FAKE_BASE + (uintptr_t)i * stride)), blocks[i]);
	srand(12345);
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int k = 0; k < N; k++) {
		int i = order[k];
		drop_block(blocks[i]);
		gone[i] = 1;
		if (k % 1000 == 999 || k == N - 1)
			for (int m = 0; m < N; m++) {
				void *addr = (void *)(FAKE_BASE + (uintptr_t)m * stride);
				if (gone[m])
					ck_assert_ptr_null(oms_block_find(addr));
				else
					ck_assert_ptr_eq(oms_block_find(addr), blocks[m]);
			}
	}
	ck_assert_ptr_null(oms_live);
}
END_TEST

/* ---- fakes behind the oms_os seam ---- */

static int fail_errno;
static int fallocate_calls, mremap_inplace_calls;

static int fake_fallocate_fail(int fd, int mode, off_t off, off_t len)
{
	(void)fd, (void)mode, (void)off, (void)len;
	fallocate_calls++;
	errno = fail_errno;
	return -1;
}

/* ext4 on ENOSPC: some blocks were allocated and i_size moved past the old
 * end before the failure. */
static int fake_fallocate_partial(int fd, int mode, off_t off, off_t len)
{
	(void)mode;
	fallocate_calls++;
	if (ftruncate(fd, off + len / 2) < 0)
		return -1;
	errno = ENOSPC;
	return -1;
}

static int fake_open_fail(const char *dir)
{
	(void)dir;
	errno = fail_errno;
	return -1;
}

/* Anonymous reservations work; mapping the file fails. */
static void *fake_mmap_file_fails(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fd >= 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return oms_sys_mmap(addr, len, prot, flags, fd, off);
}

/* The range after the block is taken: growing in place fails. */
static void *fake_mremap_no_inplace(void *old, size_t old_len, size_t new_len, int flags,
				   void *new_addr)
{
	if (flags == 0) {
		mremap_inplace_calls++;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return oms_sys_mremap(old, old_len, new_len, flags, new_addr);
}

/* ---- big blocks: the happy path ---- */

START_TEST(alloc_zeroed_aligned_file_backed)
{
	size_t n = MiB + 1;
	char *p = oms_big_alloc(n, G, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % G, 0);
	ck_assert(all_bytes(p, n, 0));
	fill(p, n, 1);
	assert_pattern(p, n, 1);
	struct oms_block *b = blk(p);
	ck_assert_uint_eq(b->size, n);
	ck_assert_uint_eq(b->cap, MiB + 4096);
	ck_assert_ptr_eq(oms_live, b);

	char line[1024];
	ck_assert_ptr_nonnull(maps_line(p, line, sizeof line));
	ck_assert_msg(strstr(line, " rw-s ") && strstr(line, tmpdir) && strstr(line, "(deleted)"),
		      "maps: %s", line);
	off_t size;
	blkcnt_t blocks;
	ck_assert_int_eq(fsize(b->fd, &size, &blocks), 0);
	ck_assert_int_eq(size, (off_t)b->cap);
	ck_assert_int_ge(blocks * 512, (blkcnt_t)b->cap); /* reserved up front */
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(alloc_fd_cloexec_and_high)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	int fd = blk(p)->fd;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1024)
		ck_assert_int_ge(fd, 512);
}
END_TEST

START_TEST(alloc_stats_live_and_peak)
{
	char *a = oms_big_alloc(MiB, G, 0);
	char *b = oms_big_alloc(2 * MiB, G, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(oms_stats.live, 3 * MiB);
	ck_assert_uint_eq(oms_stats.peak, 3 * MiB);
	ck_assert_uint_eq(oms_stats.blocks, 2);
	ck_assert_uint_eq(oms_stats.bytes, 3 * MiB);
	oms_big_free(blk(a));
	ck_assert_uint_eq(oms_stats.live, 2 * MiB);
	ck_assert_uint_eq(oms_stats.peak, 3 * MiB);
	char *c = oms_big_alloc(MiB / 2, G, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(oms_stats.live, 2 * MiB + MiB / 2);
	ck_assert_uint_eq(oms_stats.peak, 3 * MiB);
}
END_TEST

START_TEST(free_releases_everything)
{
	int fds = count_fds();
	char *p = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, 4 * MiB);
	ck_assert_int_eq(count_fds(), fds + 1);
	oms_big_free(blk(p));
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_uint_eq(oms_stats.peak, 4 * MiB);
	ck_assert_ptr_null(oms_block_find(p));
	ck_assert_ptr_null(oms_live);
	ck_assert_int_eq(count_fds(), fds);
	ck_assert(!mapped(p));
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(alloc_align_2m)
{
	char *p = oms_big_alloc(3 * MiB, 2 * MiB, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % (2 * MiB), 0);
	memset(p, 1, 3 * MiB);
	ck_assert_ptr_eq(blk(p)->addr, p);
	/* A small alignment still gets a granule. */
	char *q = oms_big_alloc(MiB, 16, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq((uintptr_t)q % G, 0);
}
END_TEST

START_TEST(alloc_dir_not_ok)
{
	oms_cfg.dir_ok = 0;
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *p = oms_big_alloc(MiB, G, 0);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_NODIR], 1);
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_str_eq(log, ""); /* config.c already said why */
}
END_TEST

/* ---- resize ---- */

START_TEST(resize_grow_keeps_data)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 2);
	struct oms_block *b = blk(p);
	char *q = oms_big_resize(b, 4 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_eq(blk(q), b);
	assert_pattern(q, MiB, 2);
	ck_assert(all_bytes(q + MiB, 3 * MiB, 0));
	memset(q + MiB, 0x5c, 3 * MiB);
	ck_assert_uint_ge(b->cap, 4 * MiB);
	ck_assert_uint_eq(b->size, 4 * MiB);
	ck_assert_uint_eq(oms_stats.live, b->cap);
	off_t size;
	ck_assert_int_eq(fsize(b->fd, &size, NULL), 0);
	ck_assert_int_eq(size, (off_t)b->cap);
}
END_TEST

START_TEST(resize_grow_moves_when_in_place_fails)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 3);
	struct oms_block *b = blk(p);
	oms_os.mremap = fake_mremap_no_inplace;
	char *q = oms_big_resize(b, 3 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_ge(mremap_inplace_calls, 1);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq((uintptr_t)q % G, 0);
	assert_pattern(q, MiB, 3);
	memset(q + MiB, 7, 2 * MiB);
	ck_assert_ptr_eq(blk(q), b);
	ck_assert_ptr_null(oms_block_find(p));
	ck_assert_ptr_eq(oms_live, b);
	ck_assert_ptr_null(b->next);
	ck_assert(!mapped(p));
	ck_assert_uint_eq(oms_stats.live, b->cap);
	ck_assert_uint_ge(b->cap, 3 * MiB);
	char line[1024];
	ck_assert_ptr_nonnull(maps_line(q, line, sizeof line));
	ck_assert_msg(strstr(line, " rw-s ") && strstr(line, "(deleted)"), "maps: %s", line);
}
END_TEST

START_TEST(resize_shrink)
{
	if (under_qemu() && mremap_shrink_clobbers_next()) {
		skip_case("resize_shrink", "this qemu-user's mremap shrink maps PROT_NONE over the mapping "
					   "after the old range (32-bit guest); not a shim bug, see "
					   "mremap_shrink_clobbers_next in test_core.c");
		return;
	}
	char *p = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, 4 * MiB, 4);
	struct oms_block *b = blk(p);
	char *q = oms_big_resize(b, MiB);
	ck_assert_ptr_eq(q, p);
	assert_pattern(q, MiB, 4);
	ck_assert_uint_eq(b->cap, MiB);
	ck_assert_uint_eq(b->size, MiB);
	ck_assert_uint_eq(oms_stats.live, MiB);
	off_t size;
	ck_assert_int_eq(fsize(b->fd, &size, NULL), 0);
	ck_assert_int_eq(size, (off_t)MiB);
	ck_assert(!mapped(p + MiB));
}
END_TEST

START_TEST(resize_shrink_keeps_slack)
{
	char *p = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	struct oms_block *b = blk(p);
	ck_assert_ptr_eq(oms_big_resize(b, 3 * MiB), p);
	ck_assert_uint_eq(b->cap, 4 * MiB);
	ck_assert_uint_eq(b->size, 3 * MiB);
	ck_assert_uint_eq(oms_stats.live, 4 * MiB);
}
END_TEST

START_TEST(resize_no_space_leaves_block)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 5);
	struct oms_block *b = blk(p);
	int fds = count_fds();
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = ENOSPC;
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *q = oms_big_resize(b, 8 * MiB);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(q);
	ck_assert_int_ge(fallocate_calls, 1);
	ck_assert_ptr_eq(blk(p), b);
	ck_assert_uint_eq(b->cap, MiB);
	ck_assert_uint_eq(b->size, MiB);
	assert_pattern(p, MiB, 5);
	ck_assert_uint_eq(oms_stats.live, MiB);
	ck_assert_int_eq(count_fds(), fds);
	ck_assert_int_eq(live_count(), 1);
	off_t size;
	ck_assert_int_eq(fsize(b->fd, &size, NULL), 0);
	ck_assert_int_eq(size, (off_t)MiB);
	ck_assert_int_eq(count_substr(log, "(nospc: "), 1);
}
END_TEST

/* When the disk fills up half-way through growing, the part that was
 * reserved must be given back: the file stays cap bytes long. */
START_TEST(resize_partial_grow_given_back)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	struct oms_block *b = blk(p);
	oms_os.fallocate = fake_fallocate_partial;
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *q = oms_big_resize(b, 8 * MiB);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(q);
	ck_assert_uint_eq(b->cap, MiB);
	off_t size;
	ck_assert_int_eq(fsize(b->fd, &size, NULL), 0);
	ck_assert_msg(size == (off_t)b->cap, "file is %lld bytes after a failed grow, block is %zu",
		      (long long)size, b->cap);
}
END_TEST

START_TEST(resize_past_rlimit_fsize)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 6);
	struct oms_block *b = blk(p);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = 2 * MiB;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *q = oms_big_resize(b, 4 * MiB); /* no SIGXFSZ: refused up front */
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(q);
	assert_pattern(p, MiB, 6);
	ck_assert_uint_eq(b->cap, MiB);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_FBIG], 1);
}
END_TEST

/* ---- failures fall back ---- */

static const char *const cause_tag[OMS_CAUSE_COUNT] = {
	"(nospc: ", "(fbig: ", "(max: ", "(mfile: ", "(nodir: ", "(map: ", "(other: ",
};

/* Two allocations fail with `cause`: NULL, counted twice, logged once,
 * nothing left behind. */
static void expect_fallback(enum oms_cause cause)
{
	int fds = count_fds();
	size_t maps = (size_t)count_lines(read_maps());
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *a = oms_big_alloc(MiB, G, 0);
	void *b = oms_big_alloc(3 * MiB, 2 * MiB, 0);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(a);
	ck_assert_ptr_null(b);
	for (int c = 0; c < OMS_CAUSE_COUNT; c++)
		ck_assert_msg(oms_stats.fallback[c] == (c == (int)cause ? 2u : 0u),
			      "fallback[%d] = %llu", c, (unsigned long long)oms_stats.fallback[c]);
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_uint_eq(oms_stats.blocks, 0);
	ck_assert_ptr_null(oms_live);
	ck_assert_int_eq(count_fds(), fds);
	ck_assert_uint_eq((size_t)count_lines(read_maps()), maps);
	ck_assert_int_eq(dir_entries(), 0);
	ck_assert_msg(count_lines(log) == 1 && count_substr(log, cause_tag[cause]) == 1,
		      "log: %s", log);
}

START_TEST(fail_fallocate_enospc)
{
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = ENOSPC;
	expect_fallback(OMS_CAUSE_NOSPC);
	ck_assert_int_eq(fallocate_calls, 2);
}
END_TEST

static uint64_t fake_disk_free_small(int fd)
{
	(void)fd;
	return 512 << 10;
}

/* A block the disk cannot hold is refused before fallocate takes the
 * disk's last blocks, even for a moment. */
START_TEST(fail_disk_free)
{
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = EIO; /* would show as cause "other" */
	oms_os.disk_free = fake_disk_free_small;
	expect_fallback(OMS_CAUSE_NOSPC);
	ck_assert_int_eq(fallocate_calls, 0);
}
END_TEST

static uint64_t fake_disk_free_100m(int fd)
{
	(void)fd;
	return 100ull << 20;
}
static uint64_t fake_disk_size_1g(int fd)
{
	(void)fd;
	return 1ull << 30;
}
static int fake_fallocate_ok(int fd, int mode, off_t off, off_t len)
{
	(void)fd, (void)mode, (void)off, (void)len;
	fallocate_calls++;
	return 0;
}
static int fake_fallocate_counted_no_zero_range(int fd, int mode, off_t off, off_t len)
{
	(void)fd, (void)off, (void)len;
	fallocate_calls++;
	if (mode & FALLOC_FL_ZERO_RANGE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 0;
}

/* OOMSHIELD_DISK_KEEP: a reservation leaves that much free to others
 * (default 1 % of the filesystem, at most 256 MiB); a percentage given is
 * not capped, a size is taken as it is. */
START_TEST(disk_keep_floor)
{
	oms_os.disk_free = fake_disk_free_100m; /* on a 1 GiB filesystem */
	oms_os.disk_size = fake_disk_size_1g;
	oms_os.fallocate = fake_fallocate_ok;
	oms_cfg.keep_pct = OMS_KEEP_PCT, oms_cfg.keep = OMS_KEEP_CAP; /* the defaults */
	ck_assert_uint_eq(oms_store_keep(1ull << 30), (1ull << 30) / 100);
	ck_assert_uint_eq(oms_store_keep(1ull << 40), 256ull << 20); /* capped */
	ck_assert_uint_eq(oms_store_keep(0), 0); /* size unknown */
	ck_assert_int_eq(oms_store_reserve(3, 0, 89ull << 20), 0);
	errno = 0;
	ck_assert_int_eq(oms_store_reserve(3, 0, 90ull << 20), -1); /* 10.24 MiB kept */
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(fallocate_calls, 1);
	oms_cfg.keep_pct = 50, oms_cfg.keep = UINT64_MAX;
	ck_assert_uint_eq(oms_store_keep(1ull << 40), (1ull << 40) / 100 * 50);
	ck_assert_int_eq(oms_store_reserve(3, 0, 1ull << 20), -1); /* 512 MiB kept */
	oms_cfg.keep_pct = -1, oms_cfg.keep = 0;
	ck_assert_int_eq(oms_store_reserve(3, 0, 100ull << 20), 0); /* all of it */
	ck_assert_int_eq(oms_store_reserve(3, 0, (100ull << 20) + 1), -1);
	oms_cfg.keep = 90ull << 20;
	ck_assert_uint_eq(oms_store_keep(1ull << 40), 90ull << 20);
	ck_assert_int_eq(oms_store_reserve(3, 0, 10ull << 20), 0);
	ck_assert_int_eq(oms_store_reserve(3, 0, 11ull << 20), -1);
	ck_assert_int_eq(fallocate_calls, 3);
	/* A range that was ours a moment ago, punched and reserved again
	 * where ZERO_RANGE is missing, only has to fit: refused, it would
	 * have to become anonymous memory. */
	oms_os.fallocate = fake_fallocate_counted_no_zero_range;
	oms_cfg.keep_pct = 50, oms_cfg.keep = UINT64_MAX; /* 512 MiB kept of 100 free */
	ck_assert_int_eq(oms_store_zero_fd(3, 0, 1ull << 20), 0);
	ck_assert_int_eq(oms_store_reserve(3, 0, 1ull << 20), -1);
	ck_assert_int_eq(fallocate_calls, 6); /* zero range, punch, reserve */
}
END_TEST

static uint64_t fake_data_limit_small(void)
{
	return 512 << 10;
}

/* The kernel counts only private memory against RLIMIT_DATA: a process
 * under that limit must not get past it through our shared mappings. */
START_TEST(fail_data_limit)
{
	oms_os.data_limit = fake_data_limit_small;
	expect_fallback(OMS_CAUSE_MAX);
	ck_assert_int_eq(fallocate_calls, 0);
}
END_TEST

/* Growth in place counts against RLIMIT_DATA like a new block (it once
 * checked OOMSHIELD_MAX only: 260 MiB under a 64 MiB limit). */
static uint64_t fake_data_limit_3mib(void)
{
	return 3 * MiB;
}

START_TEST(data_limit_resize)
{
	oms_os.data_limit = fake_data_limit_3mib;
	char *p = oms_big_alloc(2 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	memset(p, 'd', 2 * MiB);
	ck_assert_ptr_null(oms_big_resize(blk(p), 8 * MiB)); /* in place, or moved: over */
	ck_assert_ptr_nonnull(blk(p)); /* untouched */
	ck_assert_uint_eq(blk(p)->cap, 2 * MiB);
	ck_assert_uint_eq(oms_stats.live, 2 * MiB);
	ck_assert_int_eq(p[2 * MiB - 1], 'd');
	p = oms_big_resize(blk(p), 3 * MiB); /* within: fine */
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[2 * MiB - 1], 'd');
	ck_assert_uint_eq(oms_stats.live, 3 * MiB);
	oms_big_free(blk(p));
	ck_assert_uint_eq(oms_stats.live, 0);
}
END_TEST

START_TEST(fail_fallocate_edquot)
{
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = EDQUOT;
	expect_fallback(OMS_CAUSE_NOSPC);
}
END_TEST

START_TEST(fail_fallocate_efbig)
{
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = EFBIG;
	expect_fallback(OMS_CAUSE_FBIG);
}
END_TEST

START_TEST(fail_rlimit_fsize)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = MiB / 2;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	expect_fallback(OMS_CAUSE_FBIG); /* and no SIGXFSZ */
}
END_TEST

START_TEST(fail_open_emfile)
{
	oms_os.open_tmpfile = fake_open_fail;
	fail_errno = EMFILE;
	expect_fallback(OMS_CAUSE_MFILE);
}
END_TEST

START_TEST(fail_open_eacces)
{
	oms_os.open_tmpfile = fake_open_fail;
	fail_errno = EACCES;
	expect_fallback(OMS_CAUSE_NODIR);
}
END_TEST

START_TEST(fail_mmap_enomem)
{
	oms_os.mmap = fake_mmap_file_fails;
	expect_fallback(OMS_CAUSE_MAP);
}
END_TEST

START_TEST(fail_causes_logged_separately)
{
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	oms_os.fallocate = fake_fallocate_fail;
	fail_errno = ENOSPC;
	ck_assert_ptr_null(oms_big_alloc(MiB, G, 0));
	oms_os_reset();
	oms_os.open_tmpfile = fake_open_fail;
	fail_errno = EMFILE;
	ck_assert_ptr_null(oms_big_alloc(MiB, G, 0));
	ck_assert_ptr_null(oms_big_alloc(MiB, G, 0));
	oms_os_reset();
	void *p = oms_big_alloc(MiB, G, 0); /* works again */
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(count_lines(log), 2);
	ck_assert_int_eq(count_substr(log, "(nospc: "), 1);
	ck_assert_int_eq(count_substr(log, "(mfile: "), 1);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_NOSPC], 1);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_MFILE], 2);
	ck_assert_uint_eq(oms_stats.live, MiB);
}
END_TEST

START_TEST(max_reached_falls_back)
{
	oms_cfg.max = MiB + MiB / 2;
	char *a = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(a);
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	char *b = oms_big_alloc(MiB, G, 0);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(b);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_MAX], 1);
	ck_assert_uint_eq(oms_stats.live, MiB);
	ck_assert_int_eq(count_substr(log, "OOMSHIELD_MAX reached"), 1);
	/* Under the limit again once the first is freed. */
	oms_big_free(blk(a));
	b = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(oms_stats.live, MiB);
}
END_TEST

START_TEST(max_blocks_growth)
{
	oms_cfg.max = 2 * MiB;
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 7);
	struct oms_block *b = blk(p);
	struct capture cap;
	char log[4096];
	capture_begin(&cap);
	void *q = oms_big_resize(b, 3 * MiB);
	capture_end(&cap, log, sizeof log);
	ck_assert_ptr_null(q);
	ck_assert_uint_eq(b->cap, MiB);
	assert_pattern(p, MiB, 7);
	ck_assert_uint_eq(oms_stats.live, MiB);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_MAX], 1);
}
END_TEST

START_TEST(cause_of_errno)
{
	ck_assert_int_eq(oms_cause_of(ENOSPC), OMS_CAUSE_NOSPC);
	ck_assert_int_eq(oms_cause_of(EDQUOT), OMS_CAUSE_NOSPC);
	ck_assert_int_eq(oms_cause_of(EFBIG), OMS_CAUSE_FBIG);
	ck_assert_int_eq(oms_cause_of(EMFILE), OMS_CAUSE_MFILE);
	ck_assert_int_eq(oms_cause_of(ENFILE), OMS_CAUSE_MFILE);
	ck_assert_int_eq(oms_cause_of(EACCES), OMS_CAUSE_NODIR);
	ck_assert_int_eq(oms_cause_of(ENOENT), OMS_CAUSE_NODIR);
	ck_assert_int_eq(oms_cause_of(EROFS), OMS_CAUSE_NODIR);
	ck_assert_int_eq(oms_cause_of(ENOMEM), OMS_CAUSE_MAP);
	ck_assert_int_eq(oms_cause_of(EIO), OMS_CAUSE_OTHER);
}
END_TEST

/* ---- store ---- */

static int other_file(ino_t *ino)
{
	char path[128];
	snprintf(path, sizeof path, "%s/other-XXXXXX", tmpdir);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	*ino = st.st_ino;
	return fd;
}

static int store_block(struct oms_block *b, uint64_t size)
{
	memset(b, 0, sizeof *b);
	b->fd = -1;
	int fd = oms_store_create(b, size);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(b->fd, fd);
	return fd;
}

START_TEST(store_create_reserves)
{
	struct oms_block b;
	int fd = store_block(&b, MiB);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)MiB);
	ck_assert_int_ge(st.st_blocks * 512, (blkcnt_t)MiB);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_uint_eq(b.ino, st.st_ino);
	ck_assert_uint_eq(b.dev, st.st_dev);
	ck_assert_int_eq(oms_store_fd_ok(&b), 1);
	ck_assert_int_eq(dir_entries(), 0);
	oms_store_close(&b);
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}
END_TEST

START_TEST(store_fd_closed_is_lost)
{
	struct oms_block b;
	int fd = store_block(&b, MiB);
	close(fd);
	ck_assert_int_eq(oms_store_fd_ok(&b), 0);
	ck_assert_int_eq(b.fd, -1);
	errno = 0;
	ck_assert_int_eq(oms_store_grow(&b, MiB, 2 * MiB), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(store_fd_dup2_over_is_lost)
{
	struct oms_block b;
	int fd = store_block(&b, MiB);
	ino_t ino;
	int other = other_file(&ino);
	ck_assert_int_eq(dup2(other, fd), fd);
	ck_assert_int_eq(oms_store_fd_ok(&b), 0);
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_eq(oms_store_zero(&b, 0, 4096), -1);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_ino, ino);
	ck_assert_int_eq(st.st_size, 0); /* never written, grown or punched */
}
END_TEST

START_TEST(store_close_spares_foreign_fd)
{
	struct oms_block b;
	int fd = store_block(&b, MiB);
	ino_t ino;
	int other = other_file(&ino);
	ck_assert_int_eq(dup2(other, fd), fd);
	oms_store_close(&b); /* no fd_ok first: close itself must check */
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_ne(fcntl(fd, F_GETFD), -1);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq(st.st_ino, ino);
}
END_TEST

START_TEST(store_grow_shrink_zero)
{
	struct oms_block b;
	int fd = store_block(&b, MiB);
	off_t size;
	blkcnt_t blocks, before;
	ck_assert_int_eq(oms_store_grow(&b, MiB, 3 * MiB), 0);
	ck_assert_int_eq(fsize(fd, &size, &blocks), 0);
	ck_assert_int_eq(size, (off_t)(3 * MiB));
	ck_assert_int_ge(blocks * 512, (blkcnt_t)(3 * MiB));
	before = blocks;
	char one = 'x', got = 0;
	ck_assert_int_eq(pwrite(fd, &one, 1, (off_t)(MiB + 4096)), 1);
	/* Zeroed: reads zero, and its disk stays reserved (no SIGBUS later). */
	ck_assert_int_eq(oms_store_zero(&b, MiB, MiB), 0);
	ck_assert_int_eq(fsize(fd, &size, &blocks), 0);
	ck_assert_int_eq(size, (off_t)(3 * MiB));
	ck_assert_int_eq(blocks, before);
	ck_assert_int_eq(pread(fd, &got, 1, (off_t)(MiB + 4096)), 1);
	ck_assert_int_eq(got, 0);
	ck_assert_int_eq(oms_store_shrink(&b, MiB), 0);
	ck_assert_int_eq(fsize(fd, &size, NULL), 0);
	ck_assert_int_eq(size, (off_t)MiB);
	oms_store_close(&b);
}
END_TEST

/* ---- fork ---- */

/* Fork with the atfork handlers wrapped around by hand.  The child checks
 * that it sees the pre-fork bytes ('P'), writes 'C', lets the parent look,
 * and after the parent wrote 'Q' still sees its own 'C'.  `extra` runs in
 * the child at the end (0 = fine). */
static void fork_isolation(char *p, size_t n, int (*extra)(char *p))
{
	int up[2], down[2];
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	int fds = count_fds();
	memset(p, 'P', n);
	oms_big_fork_prepare();
	pid_t pid = fork();
	if (pid == 0) {
		oms_big_fork_child();
		close(up[0]);
		close(down[1]);
		int rc = 0;
		if (!all_bytes(p, n, 'P'))
			rc = 10; /* did not inherit the data */
		memset(p, 'C', n);
		char c = 'w';
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(11);
		if (!rc && !all_bytes(p, n, 'C'))
			rc = 12; /* saw the parent's write */
		if (!rc && extra)
			rc = extra(p);
		_exit(rc);
	}
	oms_big_fork_parent();
	ck_assert_int_gt(pid, 0);
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(count_fds(), fds - 2); /* nothing of fork prepare left */
	char c;
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	int parent_ok = all_bytes(p, n, 'P');
	memset(p, 'Q', n);
	ck_assert_int_eq(write(down[1], &c, 1), 1);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(up[0]);
	close(down[1]);
	ck_assert_msg(parent_ok, "the parent saw the child's write");
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	ck_assert(all_bytes(p, n, 'Q'));
}

/* ---- the cache of freed blocks (shim/cache.c) ---- */

static uint64_t fake_now;
static uint64_t fake_now_ms(void)
{
	return fake_now;
}

START_TEST(cache_reuses_freed_block)
{
	oms_cfg.cache = 8 * MiB;
	oms_os.now_ms = fake_now_ms;
	fake_now = 1000;
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xab, MiB);
	oms_big_free(oms_block_find(p));
	/* kept: its file and bytes stay accounted, nothing is registered */
	ck_assert_ptr_null(oms_block_find(p));
	ck_assert_uint_eq(oms_stats.live, MiB);
	char *q = oms_big_alloc(MiB - 4096, G, 0);
	ck_assert_ptr_eq(q, p);
	ck_assert_ptr_eq(oms_block_find(q)->addr, q);
	ck_assert_uint_eq((unsigned)(unsigned char)q[100], 0xab); /* malloc may reuse bytes */
	oms_big_free(oms_block_find(q));
	/* calloc's request gets zeros even from a dirty cached block */
	char *z = oms_big_alloc(MiB, G, 1);
	ck_assert_ptr_eq(z, p);
	for (size_t i = 0; i < MiB; i += 4096)
		ck_assert_int_eq(z[i], 0);
	oms_big_free(oms_block_find(z));
	/* a much smaller request does not take a big cached block */
	char *s = oms_big_alloc(MiB / 2, G, 0);
	ck_assert_ptr_ne(s, p);
	oms_big_free(oms_block_find(s));
	/* entries decay: after OMS_CACHE_DECAY_MS everything goes back, at
	 * the DefragTick thread's tick if the program makes no large call */
	int fds = count_fds();
	fake_now += 1000;
	oms_big_cache_tick();
	ck_assert_uint_eq(oms_stats.live, MiB + MiB / 2);
	fake_now += 2000;
	oms_big_cache_tick();
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_int_eq(count_fds(), fds - 2);
	char *t = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_uint_eq(oms_stats.live, 4 * MiB);
	oms_cfg.cache = 0;
	oms_big_free(oms_block_find(t));
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(cache_bounded_and_flushed_for_max)
{
	oms_cfg.cache = 3 * MiB;
	char *a = oms_big_alloc(2 * MiB, G, 0), *b = oms_big_alloc(2 * MiB, G, 0);
	oms_big_free(oms_block_find(a));
	oms_big_free(oms_block_find(b)); /* a is evicted: 4 MiB > 3 MiB */
	ck_assert_uint_eq(oms_stats.live, 2 * MiB);
	char *big = oms_big_alloc(8 * MiB, G, 0); /* larger than the cache */
	oms_big_free(oms_block_find(big));
	ck_assert_uint_eq(oms_stats.live, 2 * MiB);
	/* OOMSHIELD_MAX counts cached bytes, and empties the cache first */
	oms_cfg.max = 5 * MiB;
	char *c = oms_big_alloc(5 * MiB, G, 0);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(oms_stats.fallback[OMS_CAUSE_MAX], 0);
	oms_cfg.cache = 0;
	oms_big_free(oms_block_find(c));
	ck_assert_uint_eq(oms_stats.live, 0);
}
END_TEST

START_TEST(cache_skips_mprotected_block)
{
	oms_cfg.cache = 8 * MiB;
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_int_eq(mprotect(p, 4096, PROT_READ), 0);
	oms_big_note_own(p, 4096);
	oms_big_free(oms_block_find(p));
	ck_assert_uint_eq(oms_stats.live, 0); /* not kept */
}
END_TEST

START_TEST(fork_private_semantics)
{
	char *p = oms_big_alloc(2 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fork_isolation(p, 2 * MiB, NULL);
	ck_assert_uint_eq(oms_stats.forks_cow, 1);
	ck_assert_int_ne(blk(p)->flags & OMS_BLK_FROZEN, 0);
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

/* MADV_DONTNEED on a block whose range cannot stay reserved (the disk
 * filled): the block is frozen, a private view of its file, and the range
 * is fresh anonymous memory.  Reads zero, the rest keeps its data, and
 * no write through a shared mapping can need a block the disk lacks. */
static int fake_fallocate_nozero(int fd, int mode, off_t off, off_t len)
{
	if (mode & (FALLOC_FL_ZERO_RANGE | FALLOC_FL_PUNCH_HOLE)) {
		fallocate_calls++;
		errno = ENOSPC;
		return -1;
	}
	return fallocate(fd, mode, off, len);
}

START_TEST(dontneed_unreservable_freezes)
{
	char *p = oms_big_alloc(2 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	memset(p, 'a', 2 * MiB);
	oms_os.fallocate = fake_fallocate_nozero;
	ck_assert_int_eq(oms_big_zero_range(p + MiB, MiB, MADV_DONTNEED), 1);
	ck_assert_int_ge(fallocate_calls, 1);
	struct oms_block *b = blk(p);
	ck_assert_int_ne(b->flags & OMS_BLK_FROZEN, 0);
	ck_assert_int_eq(p[0], 'a');
	ck_assert_int_eq(p[MiB - 1], 'a');
	for (size_t i = MiB; i < 2 * MiB; i += 4096)
		ck_assert_int_eq(p[i], 0);
	char line[1024];
	ck_assert(maps_line(p, line, sizeof line));
	ck_assert_ptr_nonnull(strstr(line, " rw-p ")); /* no shared part left */
	memset(p, 'b', 2 * MiB);
	oms_big_free(blk(p));
	ck_assert_uint_eq(oms_stats.live, 0);
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

/* A filesystem without FALLOC_FL_ZERO_RANGE: punch, then reserve again. */
static int fake_fallocate_no_zero_range(int fd, int mode, off_t off, off_t len)
{
	if (mode & FALLOC_FL_ZERO_RANGE) {
		errno = EOPNOTSUPP;
		return -1;
	}
	fallocate_calls++;
	return fallocate(fd, mode, off, len);
}

START_TEST(store_zero_without_zero_range)
{
	struct oms_block b;
	int fd = store_block(&b, 2 * MiB);
	off_t size;
	blkcnt_t blocks, before;
	char one = 'x', got = 1;
	ck_assert_int_eq(pwrite(fd, &one, 1, 4096), 1);
	ck_assert_int_eq(fsize(fd, &size, &before), 0);
	oms_os.fallocate = fake_fallocate_no_zero_range;
	ck_assert_int_eq(oms_store_zero(&b, 0, MiB), 0);
	ck_assert_int_eq(fallocate_calls, 2); /* punch, reserve */
	ck_assert_int_eq(fsize(fd, &size, &blocks), 0);
	ck_assert_int_eq(blocks, before);
	ck_assert_int_eq(pread(fd, &got, 1, 4096), 1);
	ck_assert_int_eq(got, 0);
	/* The reservation fails (the disk filled): -1, the caller must not
	 * let the program write there through a shared mapping. */
	oms_os.disk_free = fake_disk_free_small; /* less than 1 MiB */
	ck_assert_int_eq(oms_store_zero(&b, 0, MiB), -1);
	oms_store_close(&b);
}
END_TEST

static int child_snapshot(char *p)
{
	struct oms_block *b = oms_block_find(p);
	if (!b || b->fd != -1 || b->dev != 0)
		return 30;
	if (oms_stats.live != 0) /* the snapshot is not in a file */
		return 31;
	return 0;
}

START_TEST(fork_after_program_closed_fd)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	close(blk(p)->fd);
	fork_isolation(p, MiB, child_snapshot);
	ck_assert_uint_eq(oms_stats.live, MiB);
}
END_TEST

static int child_allocates(char *p)
{
	oms_big_free(oms_block_find(p));
	if (oms_block_find(p) || oms_live)
		return 40;
	char *q = oms_big_alloc(MiB, G, 0);
	if (!q)
		return 41;
	memset(q, 'N', MiB);
	oms_big_free(oms_block_find(q));
	return oms_stats.live == 0 ? 0 : 42;
}

START_TEST(fork_child_frees_and_allocates)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fork_isolation(p, MiB, child_allocates);
	ck_assert_ptr_eq(blk(p)->addr, p);
}
END_TEST

START_TEST(fork_then_grow_moves_to_new_file)
{
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fork_isolation(p, MiB, NULL);
	struct oms_block *b = blk(p);
	char *q = oms_big_resize(b, 4 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert(all_bytes(q, MiB, 'Q'));
	b = blk(q);
	ck_assert_int_eq(b->flags & OMS_BLK_FROZEN, 0);
	char line[1024];
	ck_assert_ptr_nonnull(maps_line(q, line, sizeof line));
	ck_assert_msg(strstr(line, " rw-s "), "maps: %s", line);
	ck_assert_int_eq(live_count(), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");

	TCase *reg = tcase_create("registry");
#ifdef OMS_DEBUG
	tcase_add_test_raise_signal(reg, debug_budget_underflow_aborts, SIGABRT);
	tcase_add_test_raise_signal(reg, debug_double_unregister_aborts, SIGABRT);
#endif
	tcase_add_test(reg, registry_find_exact);
	tcase_add_test(reg, registry_unregistered);
	tcase_add_test(reg, registry_neighbours);
	tcase_add_test(reg, registry_slot_reused);
	tcase_add_test(reg, registry_many_random_order);
	suite_add_tcase(s, reg);

	TCase *big = tcase_create("big");
	tcase_add_unchecked_fixture(big, dir_create, dir_remove);
	tcase_add_checked_fixture(big, setup, teardown);
	tcase_set_timeout(big, 30);
	tcase_add_test(big, alloc_zeroed_aligned_file_backed);
	tcase_add_test(big, alloc_fd_cloexec_and_high);
	tcase_add_test(big, alloc_stats_live_and_peak);
	tcase_add_test(big, free_releases_everything);
	tcase_add_test(big, alloc_align_2m);
	tcase_add_test(big, alloc_dir_not_ok);
	tcase_add_test(big, resize_grow_keeps_data);
	tcase_add_test(big, resize_grow_moves_when_in_place_fails);
	tcase_add_test(big, resize_shrink);
	tcase_add_test(big, resize_shrink_keeps_slack);
	tcase_add_test(big, resize_no_space_leaves_block);
	tcase_add_test(big, resize_partial_grow_given_back);
	tcase_add_test(big, resize_past_rlimit_fsize);
	tcase_add_test(big, cache_reuses_freed_block);
	tcase_add_test(big, cache_bounded_and_flushed_for_max);
	tcase_add_test(big, cache_skips_mprotected_block);
	suite_add_tcase(s, big);

	TCase *fail = tcase_create("fallback");
	tcase_add_unchecked_fixture(fail, dir_create, dir_remove);
	tcase_add_checked_fixture(fail, setup, teardown);
	tcase_add_test(fail, fail_fallocate_enospc);
	tcase_add_test(fail, fail_disk_free);
	tcase_add_test(fail, disk_keep_floor);
	tcase_add_test(fail, fail_data_limit);
	tcase_add_test(fail, data_limit_resize);
	tcase_add_test(fail, fail_fallocate_edquot);
	tcase_add_test(fail, fail_fallocate_efbig);
	tcase_add_test(fail, fail_rlimit_fsize);
	tcase_add_test(fail, fail_open_emfile);
	tcase_add_test(fail, fail_open_eacces);
	tcase_add_test(fail, fail_mmap_enomem);
	tcase_add_test(fail, fail_causes_logged_separately);
	tcase_add_test(fail, max_reached_falls_back);
	tcase_add_test(fail, max_blocks_growth);
	tcase_add_test(fail, cause_of_errno);
	suite_add_tcase(s, fail);

	TCase *st = tcase_create("store");
	tcase_add_unchecked_fixture(st, dir_create, dir_remove);
	tcase_add_checked_fixture(st, setup, teardown);
	tcase_add_test(st, store_create_reserves);
	tcase_add_test(st, store_fd_closed_is_lost);
	tcase_add_test(st, store_fd_dup2_over_is_lost);
	tcase_add_test(st, store_close_spares_foreign_fd);
	tcase_add_test(st, store_grow_shrink_zero);
	tcase_add_test(st, store_zero_without_zero_range);
	suite_add_tcase(s, st);

	TCase *fk = tcase_create("fork");
	tcase_add_unchecked_fixture(fk, dir_create, dir_remove);
	tcase_add_checked_fixture(fk, setup, teardown);
	tcase_set_timeout(fk, 30);
	tcase_add_test(fk, fork_private_semantics);
	tcase_add_test(fk, dontneed_unreservable_freezes);
	tcase_add_test(fk, fork_after_program_closed_fd);
	tcase_add_test(fk, fork_child_frees_and_allocates);
	tcase_add_test(fk, fork_then_grow_moves_to_new_file);
	suite_add_tcase(s, fk);

	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK); /* every test needs a fresh process */
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
