/* alloc.c - see alloc.h.
 *
 * Initialisation: state 0 -> 1 (one thread loads the config) -> 2.  While
 * it runs, that thread's own nested calls (a log line, getenv in a strange
 * libc) are served by the next allocator directly (`in_init`); other
 * threads wait.  The bootstrap arena covers calls made while dlsym runs.
 * Nothing here holds a lock while calling the next allocator.
 */
#include "alloc.h"
#include "big.h"
#include "block.h"
#include "config.h"
#include "log.h"
#include "next.h"
#include "os.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>


static int init_state;
static __thread int in_init;

void oms_init(void)
{
	if (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) == 2 || in_init)
		return;
	if (!oms_next_resolve())
		return; /* inside dlsym: the bootstrap arena serves */
	int expect = 0;
	if (!__atomic_compare_exchange_n(&init_state, &expect, 1, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2)
			sched_yield();
		return;
	}
	if (oms_next_sanitizer()) {
		/* Stand aside, before any libc call the runtime intercepts;
		 * the constructor says so once the runtime is up. */
		oms_cfg.disable = 1;
		__atomic_store_n(&oms_threshold, SIZE_MAX, __ATOMIC_RELEASE);
		__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
		return;
	}
	int e = errno;
	in_init = 1;
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		oms_page = (size_t)pg;
	oms_log_capture_stderr(); /* before the first line (a bad setting) */
	oms_config_load(&oms_cfg, NULL);
	oms_os_root = oms_cfg.proc_root;
	in_init = 0;
	errno = e;
	__atomic_store_n(&oms_threshold, oms_cfg.disable ? SIZE_MAX : oms_cfg.threshold,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
}

/* 1 when the caller must use the bootstrap arena or bypass the policy. */
static int not_ready(void)
{
	oms_init();
	return __atomic_load_n(&init_state, __ATOMIC_ACQUIRE) != 2;
}

void *oms_malloc_slow(size_t n)
{
	if (not_ready())
		return in_init ? oms_next.malloc(n) : oms_boot_alloc(n, 16);
	if (n < oms_threshold)
		return oms_next.malloc(n);
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
		return in_init ? oms_next.calloc(n, size) : oms_boot_alloc(total, 16);
	if (total < oms_threshold)
		return oms_next.calloc(n, size);
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
	int e = errno;
	oms_big_free(b);
	errno = e;
	return 1;
}

void oms_free_slow(void *p)
{
	if (!p || free_if_ours(p))
		return;
	oms_init();
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
	oms_init();
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
	oms_init();
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
	oms_init();
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
		if (in_init)
			return oms_next.memalign(align, n);
		return oms_boot_alloc(n, align);
	}
	size_t want = n;
	if (kind == OMS_AL_PVALLOC)
		want = (n + oms_page - 1) & ~(oms_page - 1);
	/* Odd alignments get whatever glibc does with them (it rounds or
	 * fails, depending on the entry point and version). */
	if (want >= oms_threshold && pow2(align) && want >= n) {
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
		if (in_init)
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
		oms_init();
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
