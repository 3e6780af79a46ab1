/* region_map.c - mmap and munmap of redirected anonymous memory (region.h):
 * which requests live in a file, placing them in an arena extent with the
 * disk reserved first, and releasing that disk on munmap.  Locks: see
 * pieces.h. */
#include "region.h"
#include "arena.h"
#include "big.h"
#include "budget.h"
#include "config.h"
#include "os.h"
#include "pieces.h"
#include "resv.h"
#include "start.h"
#include "stats.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include "advise.h"
#include "alloc.h"
#include "heap.h"
#include "ticker.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifdef MAP_32BIT
#define OMS_MAP_32BIT MAP_32BIT
#else
#define OMS_MAP_32BIT 0 /* x86-64 only */
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24 /* Linux 5.18 */
#endif

int oms_region_wanted(size_t len, int prot, int flags)
{
	/* MAP_NORESERVE: a reservation, except in heap mode (heap.h). */
	return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB | MAP_STACK |
			  MAP_GROWSDOWN)) &&
	       (!(flags & MAP_NORESERVE) || oms_cfg.heap) &&
	       (prot & PROT_WRITE) && len >= oms_threshold && oms_cfg.mmap && oms_cfg.dir_ok &&
	       !oms_cfg.disable;
}

/* A reservation to watch (resv.h): never accessible, private anonymous,
 * not a stack. */
static int reservation(size_t len, int prot, int flags)
{
	return prot == PROT_NONE && (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & (MAP_HUGETLB | MAP_STACK | MAP_GROWSDOWN)) && len >= oms_region_resv_min() &&
	       oms_cfg.mmap && oms_cfg.dir_ok && !oms_cfg.disable;
}

void *oms_region_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	/* An allocator preloaded after us (heap mode) maps its first extents
	 * from its constructor, which runs before ours. */
	if (!__atomic_load_n(&oms_threshold, __ATOMIC_ACQUIRE) && (flags & MAP_ANONYMOUS))
		oms_start();
	/* An unaligned offset, or a length that rounds past the top of the
	 * address space, is refused by the kernel even for anonymous memory:
	 * let it say so (no fallback to count or log). */
	if (!oms_region_wanted(len, prot, flags) || (off & (off_t)(oms_page - 1)) ||
	    oms_page_up(len) < len) {
		/* Fresh memory placed inside a reservation (the JVM commits its
		 * heap so): a piece of ours instead (region_advise.c). */
		if ((flags & MAP_FIXED) && (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
		    (prot & PROT_WRITE) && !(prot & PROT_EXEC) &&
		    !(flags & (MAP_HUGETLB | MAP_STACK | MAP_GROWSDOWN)) && oms_cfg.mmap &&
		    oms_cfg.dir_ok && __atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE) &&
		    oms_region_commit(addr, len, prot, 1) == 0)
			return addr;
		void *p = oms_sys_mmap(addr, len, prot, flags, fd, off);
		if (p == MAP_FAILED)
			return p;
		int resv = reservation(len, prot, flags);
		int fixed = (flags & MAP_FIXED) && (__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE) ||
						    __atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE));
		if (resv || fixed) {
			uintptr_t s = (uintptr_t)p, e = s + oms_page_up(len);
			int err = errno;
			pthread_mutex_lock(&oms_map_lock);
			/* The kernel replaced whatever was there, ours included. */
			if (fixed)
				oms_pieces_forget(s, e, 1);
			if (resv)
				oms_resv_note(s, e);
			else if (fixed)
				oms_resv_forget(s, e);
			oms_map_unlock();
			errno = err;
		}
		return p;
	}
	int e = errno;
	oms_ticker_poke();
	size_t rl = oms_page_up(len);
	if (!oms_budget_take(rl)) {
		oms_stats_fallback(OMS_CAUSE_MAX, 0, len);
		errno = e;
		return oms_sys_mmap(addr, len, prot, flags, fd, off);
	}
	pthread_mutex_lock(&oms_map_lock);
	enum oms_cause cause = OMS_CAUSE_MAP;
	int err = ENOMEM;
	struct oms_arena *a = oms_arena_current();
	if (!a) {
		err = errno;
		cause = oms_cause_of(err);
		goto fallback;
	}
	if ((flags & MAP_NORESERVE) && !oms_heap_noreserve_ok(rl, oms_store_room(a->fd))) {
		/* Too sparse to reserve: a reservation, not a fallback. */
		pthread_mutex_unlock(&oms_map_lock);
		oms_budget_give(rl);
		errno = e;
		return oms_sys_mmap(addr, len, prot, flags, fd, off);
	}
	int f = (flags & ~(MAP_TYPE | MAP_ANONYMOUS)) | MAP_SHARED;
	void *at = NULL;
	if (addr) {
		/* A hint: the program gets the address anonymous memory would
		 * get.  The kernel places a file mapping by other rules (it pads
		 * the search by 2 MiB for huge-page alignment, so an exact-fit
		 * hint is passed over): an anonymous reservation finds the
		 * anonymous address, and the file is mapped over it. */
		at = oms_sys_mmap(addr, rl, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & OMS_MAP_32BIT), -1, 0);
		if (at == MAP_FAILED) {
			err = errno;
			goto fallback;
		}
		f |= MAP_FIXED;
	}
	void *p = oms_pieces_place(a, at, rl, prot, f, &cause, &err);
	if (p == MAP_FAILED) {
		if (at)
			oms_sys_munmap(at, rl);
		goto fallback;
	}
	oms_advise_new(p, rl, MADV_NORMAL);
	__atomic_fetch_add(&oms_stats.blocks, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&oms_stats.bytes, len, __ATOMIC_RELAXED);
	oms_map_unlock();
	errno = e;
	return p;
fallback:
	oms_map_unlock();
	oms_budget_give(rl);
	oms_stats_fallback(cause, err, len);
	errno = e;
	return oms_sys_mmap(addr, len, prot, flags, fd, off);
}

int oms_region_munmap(void *addr, size_t len)
{
	oms_ticker_poke();
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE))
		return oms_sys_munmap(addr, len);
	pthread_mutex_lock(&oms_map_lock);
	int r = oms_sys_munmap(addr, len);
	if (r == 0) {
		oms_pieces_forget((uintptr_t)addr, (uintptr_t)addr + oms_page_up(len), 1);
		oms_resv_forget((uintptr_t)addr, (uintptr_t)addr + oms_page_up(len));
	}
	oms_map_unlock();
	return r;
}

size_t oms_region_ranges(struct oms_range *out, size_t cap, int advice)
{
	size_t n = 0;
	pthread_mutex_lock(&oms_map_lock);
	for (size_t i = 0; i < oms_npieces && n < cap; i++) {
		out[n++] = (struct oms_range){(void *)oms_pieces[i].start,
					      oms_pieces[i].end - oms_pieces[i].start};
		if (advice >= 0) /* advise.c: under the lock, so never a reused range */
			oms_sys_madvise(out[n - 1].addr, out[n - 1].len, advice);
	}
	oms_map_unlock();
	return n;
}
