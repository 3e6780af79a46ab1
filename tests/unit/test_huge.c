/* test_huge.c - large folios on request (shim/huge.c): the policy (knob,
 * the kernel's THP setting, glibc's tunable), the give-up rule, and the
 * give-up itself on real blocks in a temporary directory, with the madvise
 * and msync entries of `oms_os` recording what the shim asked of the
 * kernel.  The data of a block must survive everything, and a block the
 * program advised itself keeps its advice. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "big.h"
#include "block.h"
#include "cache.h"
#include "config.h"
#include "huge.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "unit_util.h"

#define MiB ((size_t)1 << 20)
#define G OMS_GRANULE
#define PMD (2 * MiB)

static const char *madv = "always [madvise] never\n";

START_TEST(policy_knob_and_kernel)
{
	ck_assert_int_eq(oms_huge_policy(1, madv, NULL), 1);
	ck_assert_int_eq(oms_huge_policy(1, "[always] madvise never\n", NULL), 1);
	ck_assert_int_eq(oms_huge_policy(0, madv, "glibc.malloc.hugetlb=1"), 0);
	/* the kernel says no: nothing to ask for */
	ck_assert_int_eq(oms_huge_policy(1, "always madvise [never]\n", NULL), 0);
	ck_assert_int_eq(oms_huge_policy(1, NULL, NULL), 0);
	/* unset: off, also under THP "always" (huge.c says why) */
	ck_assert_int_eq(oms_huge_policy(-1, madv, NULL), 0);
	ck_assert_int_eq(oms_huge_policy(-1, "[always] madvise never\n", NULL), 0);
}
END_TEST

START_TEST(policy_follows_glibc_tunable)
{
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.hugetlb=1"), 1);
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"), 1);
	/* the last one wins, as in glibc */
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0"), 0);
	/* 2 is hugetlbfs: pinned pages, nothing a file can give */
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.hugetlb=2"), 0);
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.hugetlb=10"), 0);
	ck_assert_int_eq(oms_huge_policy(-1, madv, "glibc.malloc.hugetlb="), 0);
	ck_assert_int_eq(oms_huge_policy(-1, madv, "xglibc.malloc.hugetlb=1"), 0);
	ck_assert_int_eq(oms_huge_policy(-1, madv, ""), 0);
	ck_assert_int_eq(oms_huge_policy(-1, NULL, "glibc.malloc.hugetlb=1"), 0);
}
END_TEST

START_TEST(give_up_rule)
{
	/* random paging: groups filled apart (figures from 6b and 6a) */
	ck_assert_int_eq(oms_huge_scattered(29, 4), 1);
	ck_assert_int_eq(oms_huge_scattered(18, 8), 1);
	ck_assert_int_eq(oms_huge_scattered(10, 5), 1);
	ck_assert_int_eq(oms_huge_scattered(33, 32), 0); /* a reader going forward */
	ck_assert_int_eq(oms_huge_scattered(40, 37), 0); /* three streams */
	ck_assert_int_eq(oms_huge_scattered(100, 96), 0); /* four long streams */
	ck_assert_int_eq(oms_huge_scattered(44, 38), 0); /* most groups hit: cannot tell */
	ck_assert_int_eq(oms_huge_scattered(3, 0), 0);   /* too few to tell */
	ck_assert_int_eq(oms_huge_scattered(0, 0), 0);
}
END_TEST

/* ---- the shim's calls, on real blocks ---- */

static char tmpdir[64];
static const char *fake_thp = "always [madvise] never\n";
static const char *fake_pmd = "2097152\n";
static int n_huge, n_nohuge, n_cold, n_msync;
static size_t msync_bytes;

static ssize_t fake_read(const char *path, char *buf, size_t cap)
{
	const char *text = strstr(path, "hpage_pmd_size") ? fake_pmd : fake_thp;
	if (!text) {
		errno = ENOENT;
		return -1;
	}
	snprintf(buf, cap, "%s", text);
	return (ssize_t)strlen(buf);
}

static int rec_madvise(void *addr, size_t len, int advice)
{
	if (advice == MADV_HUGEPAGE)
		n_huge++;
	if (advice == MADV_NOHUGEPAGE)
		n_nohuge++;
	if (advice == MADV_COLD)
		n_cold++;
	return oms_sys_madvise(addr, len, advice);
}

static void (*on_msync)(void); /* the program, acting during a give-up */

static int rec_msync(void *addr, size_t len, int flags)
{
	n_msync++;
	msync_bytes += len;
	if (on_msync) {
		void (*f)(void) = on_msync;
		on_msync = NULL;
		f();
	}
	return msync(addr, len, flags);
}

static void dir_create(void)
{
	unit_dir_create(tmpdir, sizeof tmpdir, "huge");
}

static void dir_remove(void)
{
	unit_dir_remove(tmpdir);
}

static void setup(void)
{
	unit_cfg_reset(tmpdir);
	oms_cfg.cache = 64 * MiB;
	oms_cfg.huge = 1;
	oms_os.read_file = fake_read;
	oms_os.madvise = rec_madvise;
	oms_os.msync = rec_msync;
	fake_thp = "always [madvise] never\n";
	fake_pmd = "2097152\n";
	n_huge = n_nohuge = n_cold = n_msync = 0;
	on_msync = NULL;
	msync_bytes = 0;
	oms_huge_reset();
}

static void teardown(void)
{
	oms_os_reset();
}

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		p[i] = (char)(seed + i / 512);
}

static void check_fill(const char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 512)
		ck_assert_int_eq(p[i], (char)(seed + i / 512));
}

/* n fresh blocks of one PMD each, oldest first. */
static void pmd_blocks(char **p, int n)
{
	for (int i = 0; i < n; i++) {
		p[i] = oms_big_alloc(PMD, G, 0);
		ck_assert_ptr_nonnull(p[i]);
	}
}

START_TEST(fresh_blocks_pmd_aligned_with_hugepage)
{
	oms_huge_start();
	ck_assert_uint_eq(oms_huge_align(PMD), PMD);
	ck_assert_uint_eq(oms_huge_align(PMD - 4096), 0);
	char *p = oms_big_alloc(6 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % PMD, 0);
	ck_assert_int_eq(n_huge, 1);
	fill(p, 6 * MiB, 1);
	check_fill(p, 6 * MiB, 1);
	/* below a PMD: 64 KiB granules and 4 KiB pages, as ever */
	char *q = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(n_huge, 1);
	ck_assert_int_eq(oms_huge_watch(), 1);
	oms_big_free(oms_block_find(q));
	oms_big_free(oms_block_find(p));
}
END_TEST

static void *mremap_no_inplace(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	if (!(flags & MREMAP_MAYMOVE) && new_len > old_len) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return oms_sys_mremap(old, old_len, new_len, flags, new_addr);
}

START_TEST(growth_past_a_pmd_moves_to_a_pmd_boundary)
{
	oms_huge_start();
	char *p = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 2);
	ck_assert_int_eq(n_huge, 0);
	oms_os.mremap = mremap_no_inplace;
	char *q = oms_big_resize(oms_block_find(p), 5 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_ne(q, p);
	ck_assert_uint_eq((uintptr_t)q % PMD, 0);
	ck_assert_int_eq(n_huge, 1);
	check_fill(q, MiB, 2);
	fill(q, 5 * MiB, 5);
	check_fill(q, 5 * MiB, 5);
	oms_big_free(oms_block_find(q));
}
END_TEST

START_TEST(growth_past_a_pmd_lands_on_a_pmd_boundary)
{
	/* Room to grow in place, off a PMD boundary: an 8 MiB block is freed
	 * right after a 1 MiB one (the cache off, so its range is free).  The
	 * grown block must still land on a boundary, or none of its pages
	 * could be mapped 2 MiB at a time. */
	oms_huge_start();
	oms_cfg.cache = 0;
	char *big = NULL, *p = NULL;
	for (int i = 0; i < 8 && !p; i++) { /* a 1 MiB block off a boundary */
		big = oms_big_alloc(8 * MiB, G, 0);
		p = oms_big_alloc(MiB, G, 0);
		ck_assert_ptr_nonnull(big);
		ck_assert_ptr_nonnull(p);
		if ((uintptr_t)p % PMD == 0)
			p = NULL; /* both stay: the next pair lands elsewhere */
	}
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 8);
	oms_big_free(oms_block_find(big));
	int huge_before = n_huge;
	char *q = oms_big_resize(oms_block_find(p), 3 * MiB);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq((uintptr_t)q % PMD, 0);
	check_fill(q, MiB, 8);
	ck_assert_int_eq(n_huge, huge_before + 1);
	oms_big_free(oms_block_find(q));
}
END_TEST

START_TEST(a_block_shrunk_below_a_pmd_is_given_up_too)
{
	oms_huge_start();
	char *p = oms_big_alloc(8 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	fill(p, MiB, 9);
	char *q = oms_big_resize(oms_block_find(p), MiB); /* keeps its VMA flags */
	ck_assert_ptr_nonnull(q);
	char *other = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(other);
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_nohuge, 2);
	check_fill(q, MiB, 9);
	oms_big_free(oms_block_find(other));
	oms_big_free(oms_block_find(q));
}
END_TEST

static char *victim;

static void free_victim(void)
{
	oms_big_free(oms_block_find(victim));
}

START_TEST(a_block_freed_during_the_give_up_is_not_reused)
{
	/* More blocks than one pass lists; the oldest, listed last, is freed
	 * while the first pass writes back.  It still carries MADV_HUGEPAGE,
	 * so it must not go to the cache for the next allocation. */
	oms_huge_start();
	enum { N = 70 };
	char *p[N];
	pmd_blocks(p, N);
	victim = p[0];
	on_msync = free_victim;
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_ptr_null(on_msync);
	ck_assert_int_eq(n_nohuge, N - 1);
	uint64_t hits = oms_stats.cache_hits;
	int huge_before = n_huge;
	char *q = oms_big_alloc(PMD, G, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(oms_stats.cache_hits, hits);
	ck_assert_int_eq(n_huge, huge_before);
	oms_big_free(oms_block_find(q));
	for (int i = 1; i < N; i++)
		oms_big_free(oms_block_find(p[i]));
}
END_TEST

START_TEST(kernel_without_thp_keeps_4k_pages_and_says_so)
{
	fake_thp = "always madvise [never]\n";
	struct capture c;
	char log[512];
	capture_begin(&c);
	oms_huge_start();
	capture_end(&c, log, sizeof log);
	ck_assert_msg(strstr(log, "OOMSHIELD_HUGEPAGE=1") && strstr(log, "never"), "log: %s", log);
	ck_assert_uint_eq(oms_huge_align(64 * MiB), 0);
	char *p = oms_big_alloc(6 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(n_huge, 0);
	oms_big_free(oms_block_find(p));
	/* and a PMD size that is no power of two, or not 2 MiB */
	const char *sizes[] = {"3000000\n", "4194304\n", "536870912\n"};
	for (int i = 0; i < 3; i++) {
		oms_huge_reset();
		fake_thp = "always [madvise] never\n";
		fake_pmd = sizes[i];
		capture_begin(&c);
		oms_huge_start();
		capture_end(&c, log, sizeof log);
		ck_assert_uint_eq(oms_huge_align(1024 * MiB), 0);
		ck_assert_msg(strstr(log, "OOMSHIELD_HUGEPAGE=1"), "log: %s", log);
	}
}
END_TEST

START_TEST(off_by_default_without_a_syscall)
{
	oms_cfg.huge = -1;
	unsetenv("GLIBC_TUNABLES");
	oms_os.read_file = NULL; /* would crash if called */
	oms_huge_start();
	ck_assert_uint_eq(oms_huge_align(64 * MiB), 0);
	ck_assert_int_eq(oms_huge_watch(), 0);
	setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
	oms_os.read_file = fake_read;
	oms_huge_start();
	ck_assert_uint_eq(oms_huge_align(64 * MiB), PMD);
	unsetenv("GLIBC_TUNABLES");
}
END_TEST

START_TEST(random_paging_gives_up_once_and_keeps_data)
{
	oms_huge_start();
	char *a = oms_big_alloc(8 * MiB, G, 0);
	char *b = oms_big_alloc(4 * MiB, G, 0);
	char *small = oms_big_alloc(MiB, G, 0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(small);
	fill(a, 8 * MiB, 3);
	fill(b, 4 * MiB, 4);
	/* a freed large block waits in the cache */
	char *c = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(c);
	oms_big_free(oms_block_find(c));
	/* sequential paging, and ticks without faults: nothing happens */
	/* 1: the ticks ran under large folios (advise.c must not judge them) */
	ck_assert_int_eq(oms_huge_tick(2, 33, 32), 1);
	ck_assert_int_eq(oms_huge_tick(0, 0, 0), 1);
	ck_assert_int_eq(oms_huge_tick(0, 29, 4), 1); /* scattered, but no fault */
	ck_assert_int_eq(n_nohuge + n_cold + n_msync, 0);
	ck_assert_uint_eq(oms_huge_align(64 * MiB), PMD);
	/* random paging */
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_nohuge, 2); /* a and b, not the 1 MiB block */
	ck_assert_int_eq(n_cold, 6);   /* one per PMD */
	ck_assert_int_eq(n_msync, 6);
	ck_assert_uint_eq(msync_bytes, 12 * MiB);
	check_fill(a, 8 * MiB, 3);
	check_fill(b, 4 * MiB, 4);
	/* for good: no large folios for new blocks, and no second give-up */
	ck_assert_uint_eq(oms_huge_align(64 * MiB), 0);
	ck_assert_int_eq(oms_huge_watch(), 0);
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 0);
	ck_assert_int_eq(n_nohuge, 2);
	int huge_before = n_huge;
	uint64_t hits = oms_stats.cache_hits;
	char *d = oms_big_alloc(4 * MiB, G, 0); /* not the cached block: dropped */
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(oms_stats.cache_hits, hits);
	ck_assert_int_eq(n_huge, huge_before);
	oms_big_free(oms_block_find(d));
	oms_big_free(oms_block_find(small));
	oms_big_free(oms_block_find(b));
	oms_big_free(oms_block_find(a));
}
END_TEST

START_TEST(give_up_works_through_many_blocks)
{
	/* More blocks than one pass lists (huge.c BATCH, 64): all of them
	 * get NOHUGEPAGE. */
	oms_huge_start();
	oms_cfg.cache = 0;
	enum { N = 70 };
	char *p[N];
	pmd_blocks(p, N);
	for (int i = 0; i < N; i++)
		p[i][0] = (char)i;
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_nohuge, N);
	ck_assert_int_eq(n_cold, N);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(p[i][0], (char)i);
		oms_big_free(oms_block_find(p[i]));
	}
}
END_TEST

START_TEST(program_advice_stands)
{
	oms_huge_start();
	/* The program turns large folios off for its own block */
	char *p = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(n_huge, 1);
	ck_assert_int_eq(madvise(p, 4 * MiB, MADV_NOHUGEPAGE), 0);
	oms_big_note_thp(p, 4 * MiB); /* what the madvise wrapper does */
	fill(p, 4 * MiB, 6);
	char *q = oms_big_resize(oms_block_find(p), 8 * MiB);
	ck_assert_ptr_nonnull(q);
	check_fill(q, 4 * MiB, 6);
	ck_assert_int_eq(n_huge, 1); /* realloc did not undo the program's choice */
	/* ...and the give-up leaves it alone too */
	char *r = oms_big_alloc(4 * MiB, G, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_nohuge, 1); /* r only */
	/* and it is not reused for another allocation */
	uint64_t hits = oms_stats.cache_hits;
	oms_big_free(oms_block_find(q));
	char *t = oms_big_alloc(8 * MiB, G, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(oms_stats.cache_hits, hits);
	oms_big_free(oms_block_find(t));
	oms_big_free(oms_block_find(r));
}
END_TEST

START_TEST(a_block_freed_between_its_mark_and_its_split_is_not_reused)
{
	/* The give-up has taken the block's mark off (under the lock) but not
	 * yet written it back and split it when the program frees it: its
	 * folios may still be 2 MiB, so it must not go to the cache. */
	oms_huge_start();
	char *p[4];
	pmd_blocks(p, 4);
	victim = p[2]; /* listed second: newest first */
	on_msync = free_victim;
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_msync, 3); /* the freed block was skipped */
	uint64_t hits = oms_stats.cache_hits;
	char *q = oms_big_alloc(PMD, G, 0);
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(oms_stats.cache_hits, hits);
	oms_big_free(oms_block_find(q));
	oms_big_free(oms_block_find(p[0]));
	oms_big_free(oms_block_find(p[1]));
	oms_big_free(oms_block_find(p[3]));
}
END_TEST

START_TEST(a_fork_during_the_give_up_finishes_it_in_the_child)
{
	/* A fork while the first pass writes back: the child's handler (run
	 * here by hand, as the fork test in test_core does) takes back what
	 * the parent's give-up had not reached yet. */
	oms_huge_start();
	enum { N = 70 };
	char *p[N];
	pmd_blocks(p, N);
	on_msync = oms_huge_fork_child;
	ck_assert_int_eq(oms_huge_tick(40, 29, 4), 1);
	ck_assert_int_eq(n_nohuge, N); /* 64 by the pass, 6 by the child's handler */
	ck_assert_int_eq(n_msync, 64); /* nothing left marked for a second pass */
	for (int i = 0; i < N; i++)
		oms_big_free(oms_block_find(p[i]));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("huge");
	TCase *pol = tcase_create("policy");
	tcase_add_test(pol, policy_knob_and_kernel);
	tcase_add_test(pol, policy_follows_glibc_tunable);
	tcase_add_test(pol, give_up_rule);
	suite_add_tcase(s, pol);

	TCase *blk = tcase_create("blocks");
	tcase_add_unchecked_fixture(blk, dir_create, dir_remove);
	tcase_add_checked_fixture(blk, setup, teardown);
	tcase_set_timeout(blk, 30);
	tcase_add_test(blk, fresh_blocks_pmd_aligned_with_hugepage);
	tcase_add_test(blk, growth_past_a_pmd_moves_to_a_pmd_boundary);
	tcase_add_test(blk, growth_past_a_pmd_lands_on_a_pmd_boundary);
	tcase_add_test(blk, a_block_shrunk_below_a_pmd_is_given_up_too);
	tcase_add_test(blk, a_block_freed_during_the_give_up_is_not_reused);
	tcase_add_test(blk, a_block_freed_between_its_mark_and_its_split_is_not_reused);
	tcase_add_test(blk, a_fork_during_the_give_up_finishes_it_in_the_child);
	tcase_add_test(blk, kernel_without_thp_keeps_4k_pages_and_says_so);
	tcase_add_test(blk, off_by_default_without_a_syscall);
	tcase_add_test(blk, random_paging_gives_up_once_and_keeps_data);
	tcase_add_test(blk, give_up_works_through_many_blocks);
	tcase_add_test(blk, program_advice_stands);
	suite_add_tcase(s, blk);

	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
