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
 * 4 KiB pages even after giving up (below; 6b measured 7-20 % slower).
 *
 * Giving up: with a working set larger than memory, each refault reads a
 * whole folio and each random write dirties one (a probe wrote 15 GB where
 * 4 KiB pages wrote 0.6).  On the first tick that pages randomly (the
 * advise windows fill apart, advise.h), or once the program has paged
 * back more than all of its large-folio memory, large folios end for the
 * process: NOHUGEPAGE on every block of a PMD or more (new faults take
 * 4 KiB pages); then, one PMD at a time, msync (a dirty folio cannot be
 * split) and MADV_COLD on one page, which makes the kernel split the folio
 * under it.  Freed blocks in the cache are dropped, not reused.
 *
 * State: `state` is set at start-up, before any thread of ours, and only
 * ever moves ON -> GAVE_UP, on the DefragTick thread, whose own are
 * `paged` and `ranges`.  Syscalls run on ranges copied under oms_lock,
 * after unlocking: a block freed in between gets a harmless hint.
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
#define MAX_HUGE_RANGES 1024

enum { OFF, ON, GAVE_UP };
static int state;
static size_t pmd;
static uint64_t paged;
static struct oms_range ranges[MAX_HUGE_RANGES];


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

int oms_huge_thrashing(uint64_t paged_bytes, uint64_t huge_bytes)
{
	return huge_bytes && paged_bytes > huge_bytes;
}

int oms_huge_scattered(unsigned hit, unsigned adjacent)
{
	return hit >= 4 && adjacent * 2 < hit;
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
		if (oms_config_parse_uint(sz, (uint64_t)1 << 30, &p) < 0)
			p = 0;
	}
	int on = oms_huge_policy(oms_cfg.huge, n > 0 ? thp : NULL, tunables);
	if (on && (p < 2 * oms_page || (p & (p - 1)) || p > SIZE_MAX / 4))
		on = 0;
	if (!on) {
		oms_warn("%s: this kernel offers no transparent huge pages (%s); blocks keep 4 KiB pages",
			 oms_cfg.huge == 1 ? "OOMSHIELD_HUGEPAGE=1" : "glibc.malloc.hugetlb=1",
			 n > 0 ? "they are 'never'" : THP_DIR " missing");
		return;
	}
	pmd = (size_t)p;
	state = ON;
	oms_debug("large folios on for blocks of %zu bytes or more", pmd);
}

size_t oms_huge_align(size_t cap)
{
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) == ON && cap >= pmd ? pmd : 0;
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

/* Blocks of a PMD or more, and their total; under oms_lock. */
static size_t collect(uint64_t *total)
{
	size_t n = 0;
	*total = 0;
	for (struct oms_block *b = oms_live; b; b = b->next)
		if (b->cap >= pmd && b->dev) {
			*total += b->cap;
			if (n < MAX_HUGE_RANGES)
				ranges[n++] = (struct oms_range){b->addr, b->cap};
		}
	return n;
}

static void give_up(unsigned hit, unsigned adjacent)
{
	struct oms_cache_out out = {.n = 0};
	uint64_t total;
	uint64_t t0 = oms_os.now_ms();
	__atomic_store_n(&state, GAVE_UP, __ATOMIC_RELEASE);
	pthread_mutex_lock(&oms_lock);
	size_t n = collect(&total);
	oms_cache_flush(&out);
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
	for (size_t i = 0; i < n; i++)
		oms_os.madvise(ranges[i].addr, ranges[i].len, MADV_NOHUGEPAGE);
	/* One PMD at a time, so that the program has little time to dirty a
	 * folio again between its writeback and its split. */
	for (size_t i = 0; i < n; i++)
		for (size_t off = 0; off + pmd <= ranges[i].len; off += pmd) {
			char *at = (char *)ranges[i].addr + off;
			oms_os.msync(at, pmd, MS_SYNC);
			oms_os.madvise(at, oms_page, MADV_COLD);
		}
	oms_debug("%s (paged back %llu MiB of %llu MiB; %u of %u windows apart): 4 KiB pages "
		  "from now on (%zu blocks, %llu ms)",
		  oms_huge_scattered(hit, adjacent) ? "random paging" : "thrashing",
		  (unsigned long long)(paged >> 20), (unsigned long long)(total >> 20),
		  hit - adjacent, hit, n, (unsigned long long)(oms_os.now_ms() - t0));
}

int oms_huge_tick(uint64_t majflt, uint64_t read_bytes, unsigned hit, unsigned adjacent)
{
	if (!oms_huge_watch())
		return 0;
	if (!majflt)
		return 1;
	/* Reads without major faults are the program's own file I/O; a
	 * refault of ours reads at most two folios (the 2nd is read-ahead). */
	uint64_t most = majflt * pmd * 2;
	paged += read_bytes < most ? read_bytes : most;
	uint64_t total;
	pthread_mutex_lock(&oms_lock);
	collect(&total);
	pthread_mutex_unlock(&oms_lock);
	if (oms_huge_scattered(hit, adjacent) || oms_huge_thrashing(paged, total))
		give_up(hit, adjacent);
	return 1;
}

int oms_huge_watch(void)
{
	return __atomic_load_n(&state, __ATOMIC_RELAXED) == ON &&
	       __atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED) >= pmd;
}

void oms_huge_reset(void)
{
	state = OFF;
	pmd = 0;
	paged = 0;
}
