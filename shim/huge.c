/* huge.c - large folios (one PMD: 2 MiB on x86-64 and arm64) for fresh
 * blocks, when asked for.
 *
 * Why: the first touch of a page of a shared file costs about three times
 * an anonymous page's (page-cache insertion, buffer heads, memcg charge:
 * docs/bench.md 25), and under pressure a 4 KiB page is written back and
 * read back 4 KiB at a time.  A PMD-aligned mapping with MADV_HUGEPAGE gets
 * PMD-sized folios where the filesystem supports large folios (ext4 since
 * Linux 6.16, XFS): its first touch costs less than an anonymous page's,
 * and reclaim writes and reads 2 MiB at a time (docs/bench.md 27).
 *
 * When: OOMSHIELD_HUGEPAGE=1, or unset with the program asking glibc for
 * huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), as glibc would
 * honour it; never where the kernel's THP is "never" or absent.  Not by
 * default, and not for THP "always": a large folio is resident and dirty
 * a whole PMD at a time, so a program touching a big buffer sparsely holds
 * up to 512 times the memory, and random paging costs more than with
 * 4 KiB pages even after giving up (below; docs/bench.md 27).
 *
 * Giving up: with a working set larger than memory, each refault reads a
 * whole folio and each random write dirties one (a probe wrote 15 GB where
 * 4 KiB pages wrote 0.6).  On the first tick that pages randomly - the
 * 2 MiB groups of advise windows that gained pages form many short runs
 * (advise.h, oms_huge_scattered) - large folios end for the process:
 * NOHUGEPAGE on every block we advised (new faults take 4 KiB pages);
 * then, one PMD at a time, msync (a dirty folio cannot be split) and
 * MADV_COLD on one page, which makes the kernel split the folio under it.
 * Freed blocks in the cache are dropped, not reused.  A block the program
 * advised itself (MADV_HUGEPAGE or NOHUGEPAGE, OMS_BLK_OWNTHP) keeps the
 * program's choice throughout, on the whole block even if it advised
 * only part of it.
 *
 * State: `pmd` is written before `state` is published (release; readers
 * acquire); `state` only ever moves OFF -> ON at start-up and ON ->
 * GAVE_UP on the ticker's thread (oms_huge_job), whose own `ranges` is.  A block that
 * got MADV_HUGEPAGE from us carries OMS_BLK_HUGE (big.c sets it under
 * oms_lock, the cache keeps it).  The give-up takes it off, with the
 * MADV_NOHUGEPAGE, under oms_lock, in passes until no block carries it;
 * once `state` has left ON no block gets it again, and none that has or
 * had it (OMS_BLK_WASHUGE) is cached.  A fork child finishes a give-up its
 * parent had begun (oms_huge_fork_child).  The writeback and split run
 * without the lock, re-checking under it, PMD by PMD, that the block is
 * still there: what could reach memory the program mapped meanwhile is at
 * most a hint or the writeback of one PMD.
 */
#include "huge.h"
#include "advise.h"
#include "big.h"
#include "block.h"
#include "cache.h"
#include "config.h"
#include "log.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"
#define BATCH 64 /* blocks listed per pass of the give-up */

enum { OFF, ON, GAVE_UP };
static int state;
static size_t pmd;
static struct oms_range ranges[BATCH];

/* The last glibc.malloc.hugetlb in GLIBC_TUNABLES wins, as in glibc.  2
 * asks for hugetlbfs pages, which are never reclaimed: not what a file
 * gives, so only 1 counts. */
static int glibc_asks(const char *t)
{
	static const char key[] = "glibc.malloc.hugetlb=";
	int on = 0;
	while (t && *t) {
		const char *end = strchr(t, ':');
		size_t n = end ? (size_t)(end - t) : strlen(t);
		if (n > sizeof key - 1 && !memcmp(t, key, sizeof key - 1))
			on = n == sizeof key && t[sizeof key - 1] == '1';
		t = end ? end + 1 : NULL;
	}
	return on;
}

int oms_huge_policy(int knob, const char *thp, const char *tunables)
{
	if (knob == 0 || !thp || strstr(thp, "[never]"))
		return 0;
	return knob == 1 || glibc_asks(tunables);
}

int oms_huge_scattered(unsigned hit, unsigned adjacent)
{
	/* Runs of neighbouring groups: a reader going forward makes one per
	 * stream; random refaults make one each, unless they hit most groups
	 * anyway (then wait for a tick that tells). */
	unsigned runs = hit - adjacent;
	return runs >= 4 && runs * 4 > hit;
}

void oms_huge_start(void)
{
	char thp[128], sz[32];
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (oms_cfg.huge == 0 || (oms_cfg.huge < 0 && !glibc_asks(tunables)))
		return; /* the default: no syscall */
	int e = errno;
	ssize_t n = oms_os.read_file(THP_DIR "enabled", thp, sizeof thp);
	ssize_t m = oms_os.read_file(THP_DIR "hpage_pmd_size", sz, sizeof sz);
	errno = e;
	uint64_t p = 0;
	if (m > 0) {
		sz[strcspn(sz, "\n")] = '\0';
		if (oms_config_parse_uint(sz, (uint64_t)1 << 30, &p) < 0 || p < 2 * oms_page ||
		    (p & (p - 1)))
			p = 0;
	}
	const char *why = n <= 0 ? THP_DIR "enabled is missing"
		: !oms_huge_policy(1, thp, NULL) ? "they are 'never'"
		: !p ? THP_DIR "hpage_pmd_size is missing or not a power of two"
		: p != OMS_HUGE_PMD ? "only 2 MiB PMDs are supported, as the give-up judges 2 MiB groups"
		: NULL;
	if (why) {
		/* Asked through glibc's tunable only, the program was not
		 * run for us: say it quietly, as glibc would say nothing. */
		oms_log(oms_cfg.huge == 1 ? OMS_LOG_WARN : OMS_LOG_INFO,
			"%s: no transparent huge pages here (%s); blocks keep 4 KiB pages",
			oms_cfg.huge == 1 ? "OOMSHIELD_HUGEPAGE=1" : "glibc.malloc.hugetlb=1", why);
		return;
	}
	pmd = (size_t)p;
	__atomic_store_n(&state, ON, __ATOMIC_RELEASE);
	oms_debug("large folios on for blocks of %zu bytes or more", pmd);
}

int oms_huge_on(void)
{
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ON;
}

size_t oms_huge_align(size_t cap)
{
	return oms_huge_on() && cap >= pmd ? pmd : 0;
}

int oms_huge_advise(void *addr, size_t len)
{
	if (!oms_huge_align(len) || ((uintptr_t)addr & (pmd - 1)))
		return 0;
	int e = errno; /* a refused hint must not show in the program's errno */
	int ok = oms_os.madvise(addr, len, MADV_HUGEPAGE) == 0;
	errno = e;
	return ok;
}

void oms_huge_undo(void *addr, size_t len)
{
	int e = errno;
	oms_os.madvise(addr, len, MADV_NOHUGEPAGE);
	errno = e;
}

/* Up to BATCH blocks still marked OMS_BLK_HUGE: unmarked and given
 * MADV_NOHUGEPAGE here, under oms_lock (block.h allows this one syscall),
 * so that none is freed, moved or advised by the program in between; those
 * of a PMD or more are listed for the split. */
static size_t collect(size_t *listed)
{
	size_t n = 0, seen = 0;
	for (struct oms_block *b = oms_live; b && seen < BATCH; b = b->next) {
		if (!(b->flags & OMS_BLK_HUGE))
			continue;
		b->flags = (b->flags & ~OMS_BLK_HUGE) | OMS_BLK_WASHUGE;
		seen++;
		if (b->flags & OMS_BLK_OWNTHP)
			continue; /* the program's own advice stands */
		int e = errno;
		oms_os.madvise(b->addr, b->cap, MADV_NOHUGEPAGE);
		errno = e;
		if (b->cap >= pmd)
			ranges[n++] = (struct oms_range){b->addr, b->cap};
	}
	*listed = n;
	return seen;
}

/* The block listed as r still starts there and spans `end` bytes. */
static int still_there(const struct oms_range *r, size_t end)
{
	pthread_mutex_lock(&oms_lock);
	struct oms_block *b = oms_block_find(r->addr);
	int ok = b && b->cap >= end && b->dev && !(b->flags & OMS_BLK_OWNTHP);
	pthread_mutex_unlock(&oms_lock);
	return ok;
}

static void give_up(unsigned hit, unsigned adjacent)
{
	struct oms_cache_out out = {.n = 0};
	uint64_t t0 = oms_os.now_ms(), bytes = 0;
	size_t blocks = 0, seen;
	/* From here no block is made, grown or cached with large folios
	 * (big.c); the cached ones go. */
	__atomic_store_n(&state, GAVE_UP, __ATOMIC_RELEASE);
	pthread_mutex_lock(&oms_lock);
	oms_cache_flush(&out);
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
	do {
		size_t n;
		pthread_mutex_lock(&oms_lock);
		seen = collect(&n);
		pthread_mutex_unlock(&oms_lock);
		blocks += seen;
		/* One PMD at a time, so that the program has little time to
		 * dirty a folio again between its writeback and its split. */
		for (size_t i = 0; i < n; i++) {
			for (size_t off = 0; off + pmd <= ranges[i].len; off += pmd) {
				if (!still_there(&ranges[i], off + pmd))
					break;
				char *at = (char *)ranges[i].addr + off;
				oms_os.msync(at, pmd, MS_SYNC);
				oms_os.madvise(at, oms_page, MADV_COLD);
			}
			bytes += ranges[i].len;
		}
	} while (seen == BATCH);
	oms_debug("random paging (%u runs in %u groups): 4 KiB pages from now on "
		  "(%zu blocks, %llu MiB, %llu ms)", hit - adjacent, hit, blocks,
		  (unsigned long long)(bytes >> 20), (unsigned long long)(oms_os.now_ms() - t0));
}

void oms_huge_job(void)
{
	uint64_t majflt;
	unsigned hit, adjacent;
	if (oms_advise_take_sample(&majflt, &hit, &adjacent))
		oms_huge_tick(majflt, hit, adjacent);
}

int oms_huge_tick(uint64_t majflt, unsigned hit, unsigned adjacent)
{
	if (!oms_huge_watch())
		return 0;
	if (majflt && oms_huge_scattered(hit, adjacent))
		give_up(hit, adjacent);
	return 1;
}

void oms_huge_fork_child(void)
{
	/* A give-up the parent had begun is not the child's to finish (it
	 * has no thread yet): what it had not reached, do now.  oms_lock is
	 * held by the fork handlers. */
	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != GAVE_UP)
		return;
	for (struct oms_block *b = oms_live; b; b = b->next)
		if ((b->flags & OMS_BLK_HUGE) && !(b->flags & OMS_BLK_OWNTHP)) {
			b->flags = (b->flags & ~OMS_BLK_HUGE) | OMS_BLK_WASHUGE;
			int e = errno;
			oms_os.madvise(b->addr, b->cap, MADV_NOHUGEPAGE);
			errno = e;
		}
}

int oms_huge_watch(void)
{
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ON &&
	       __atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED) >= pmd;
}

void oms_huge_reset(void)
{
	__atomic_store_n(&state, OFF, __ATOMIC_RELAXED);
	pmd = 0;
}
