/* alloc.c - see alloc.h.
 *
 * Each slow path first makes sure the shim has started (start.c).  While
 * the start runs, that thread's own nested calls (a log line, getenv in a
 * strange libc) are served by the next allocator directly
 * (oms_starting); other threads wait.  The bootstrap arena covers calls
 * made while dlsym runs.
 * Nothing here holds a lock while calling the next allocator.
 * Each large path first runs a fork switch-back that is due
 * (forkback.h: one relaxed load when none is), before it touches a block:
 * a realloc of a block that goes back then resizes in place.
 */
#include "alloc.h"
#include "big.h"
#include "block.h"
#include "config.h"
#include "forkback.h"
#include "log.h"
#include "next.h"
#include "os.h"
#include "start.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

/* 1 when the caller must use the bootstrap arena or bypass the policy. */
static int not_ready(void)
{
	oms_start();
	return !oms_start_done();
}

void *oms_malloc_slow(size_t n)
{
	if (not_ready())
		return oms_starting() ? oms_next.malloc(n) : oms_boot_alloc(n, 16);
	if (n < oms_threshold)
		return oms_next.malloc(n);
	oms_forkback_check();
	int e = errno;
	void *p = oms_big_alloc(n, OMS_GRANULE, 0);
	if (p) {
		errno = e;
		return p;
	}
	errno = e;
	return oms_next.malloc(n);
}

void *oms_calloc_slow(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (not_ready())
		return oms_starting() ? oms_next.calloc(n, size) : oms_boot_alloc(total, 16);
	if (total < oms_threshold)
		return oms_next.calloc(n, size);
	oms_forkback_check();
	int e = errno;
	void *p = oms_big_alloc(total, OMS_GRANULE, 1);
	errno = e;
	return p ? p : oms_next.calloc(n, size);
}

/* 1 when p is ours (a block, or the bootstrap arena's) and now freed. */
static int free_if_ours(void *p)
{
	if (oms_boot_owns(p))
		return 1;
	struct oms_block *b = oms_granule_aligned(p) ? oms_block_find(p) : NULL;
	if (!b)
		return 0;
	oms_forkback_check();
	int e = errno;
	oms_big_free(b);
	errno = e;
	return 1;
}

void oms_free_slow(void *p)
{
	if (!p || free_if_ours(p))
		return;
	oms_start();
	oms_next.free(p);
}

size_t oms_usable_slow(void *p)
{
	if (!p)
		return 0;
	if (oms_boot_owns(p))
		return oms_boot_usable(p);
	struct oms_block *b = oms_granule_aligned(p) ? oms_block_find(p) : NULL;
	if (b)
		return b->cap;
	oms_start();
	return oms_next.usable ? oms_next.usable(p) : 0;
}

/* Copy the first min(old, n) bytes of p into fresh (may be NULL). */
static void *copy_into(void *fresh, const void *p, size_t old, size_t n)
{
	if (fresh)
		memcpy(fresh, p, old < n ? old : n);
	return fresh;
}

static void *resize_ours(struct oms_block *b, size_t n)
{
	if (n == 0) { /* glibc frees and returns NULL */
		oms_big_free(b);
		return NULL;
	}
	if (n >= oms_threshold) {
		void *q = oms_big_resize(b, n);
		if (q)
			return q;
	}
	/* Below the threshold, or no file could take it: the next allocator.
	 * If it cannot either, a block that only shrinks stays where it is,
	 * which is still a valid realloc. */
	void *q = copy_into(oms_next.malloc(n), b->addr, b->cap, n);
	if (q) {
		oms_big_free(b);
		return q;
	}
	return n <= b->cap ? b->addr : NULL;
}

/* errno as glibc leaves it: untouched on success, ENOMEM on failure. */
static void *realloc_ours(struct oms_block *b, size_t n)
{
	oms_start();
	oms_forkback_check();
	int e = errno;
	void *q = resize_ours(b, n);
	errno = (q || n == 0) ? e : ENOMEM;
	return q;
}

void *oms_realloc_slow(void *p, size_t n)
{
	if (!p)
		return oms_malloc_slow(n);
	if (oms_boot_owns(p))
		return copy_into(oms_malloc_slow(n), p, oms_boot_usable(p), n);
	struct oms_block *b = oms_granule_aligned(p) ? oms_block_find(p) : NULL;
	if (b)
		return realloc_ours(b, n);
	oms_start();
	int e = errno;
	if (n >= oms_threshold && oms_next.usable) {
		size_t old = oms_next.usable(p);
		void *q = copy_into(oms_big_alloc(n, OMS_GRANULE, 0), p, old, n);
		errno = e;
		if (q) {
			oms_next.free(p);
			return q;
		}
	}
	return oms_next.realloc(p, n);
}

static int pow2(size_t a)
{
	return a && !(a & (a - 1));
}

void *oms_memalign_slow(size_t align, size_t n, int kind)
{
	if (kind == OMS_AL_VALLOC || kind == OMS_AL_PVALLOC)
		align = oms_page;
	if (not_ready()) {
		if (oms_starting())
			return oms_next.memalign(align, n);
		return oms_boot_alloc(n, align);
	}
	size_t want = n;
	if (kind == OMS_AL_PVALLOC)
		want = (n + oms_page - 1) & ~(oms_page - 1);
	/* Odd alignments get whatever glibc does with them (it rounds or
	 * fails, depending on the entry point and version). */
	if (want >= oms_threshold && pow2(align) && want >= n) {
		oms_forkback_check();
		int e = errno;
		void *p = oms_big_alloc(want, align, 0);
		errno = e;
		if (p)
			return p;
	}
	switch (kind) {
	case OMS_AL_ALIGNED_ALLOC: return oms_next.aligned_alloc(align, n);
	/* valloc/pvalloc through memalign: an allocator preloaded after us
	 * (jemalloc) may not define pvalloc, and glibc's would then hand out
	 * a block that the other allocator's free cannot take. */
	case OMS_AL_VALLOC: return oms_next.memalign(oms_page, n);
	case OMS_AL_PVALLOC:
		if (want < n) {
			errno = ENOMEM;
			return NULL;
		}
		return oms_next.memalign(oms_page, want ? want : oms_page);
	default: return oms_next.memalign(align, n);
	}
}

int oms_posix_memalign_slow(void **out, size_t align, size_t n)
{
	if (not_ready()) {
		if (oms_starting())
			return oms_next.posix_memalign(out, align, n);
		if (!pow2(align) || align % sizeof(void *))
			return EINVAL;
		void *p = oms_boot_alloc(n, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	if (n >= oms_threshold && pow2(align) && align % sizeof(void *) == 0) {
		int e = errno;
		void *p = oms_big_alloc(n, align, 0);
		errno = e;
		if (p) {
			*out = p;
			return 0;
		}
	}
	return oms_next.posix_memalign(out, align, n);
}

/* ---- glibc's __libc_* names ------------------------------------------ */

/* 1 once the next __libc_* functions are known (0 for the resolving thread
 * inside dlsym, which the bootstrap arena serves). */
static int libc_ready(void)
{
	if (!oms_next.libc_free)
		oms_start();
	return oms_next.libc_free != NULL;
}

void *oms_libc_malloc(size_t n)
{
	return libc_ready() ? oms_next.libc_malloc(n) : oms_boot_alloc(n, 16);
}

void *oms_libc_calloc(size_t n, size_t size)
{
	size_t total;
	if (libc_ready())
		return oms_next.libc_calloc(n, size);
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return oms_boot_alloc(total, 16); /* static storage: already zero */
}

void *oms_libc_memalign(size_t align, size_t n, int kind)
{
	if (!libc_ready())
		return oms_boot_alloc(n, kind == OMS_AL_MEMALIGN ? align : 4096);
	if (kind == OMS_AL_VALLOC)
		return oms_next.libc_valloc(n);
	if (kind == OMS_AL_PVALLOC)
		return oms_next.libc_pvalloc(n);
	return oms_next.libc_memalign(align, n);
}

void oms_libc_free(void *p)
{
	if (!p || free_if_ours(p))
		return;
	if (libc_ready())
		oms_next.libc_free(p);
}

void *oms_libc_realloc(void *p, size_t n)
{
	if (!p)
		return oms_libc_malloc(n);
	if (oms_boot_owns(p))
		return copy_into(oms_libc_malloc(n), p, oms_boot_usable(p), n);
	struct oms_block *b = oms_granule_aligned(p) ? oms_block_find(p) : NULL;
	if (b)
		return realloc_ours(b, n);
	return libc_ready() ? oms_next.libc_realloc(p, n) : NULL;
}
