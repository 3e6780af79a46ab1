/* malloc.c - the exported malloc family: thin wrappers only.
 *
 * Hot path: a small request is one compare against oms_threshold and a
 * tail call to the next allocator.  A pointer is checked for being ours
 * only if it is 64 KiB-aligned (every block of ours is; an allocator's
 * small blocks practically never are) or inside the bootstrap arena.  No
 * lock, no syscall, no TLS on that path.
 */
#include "alloc.h"
#include "block.h"
#include "next.h"

#include <errno.h>
#include <stdlib.h>
#include <malloc.h>

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)

static inline int maybe_ours(const void *p)
{
	return oms_granule_aligned(p) || oms_boot_owns(p);
}

EXPORT void *malloc(size_t n)
{
	if (likely(n < oms_threshold))
		return oms_next.malloc(n);
	return oms_malloc_slow(n);
}

EXPORT void free(void *p)
{
	if (likely(!maybe_ours(p) && oms_next.free))
		oms_next.free(p);
	else
		oms_free_slow(p);
}

/* Programs linked before glibc 2.26 may call cfree (cfree@GLIBC_2.2.5 and
 * the like, still in libc.so.6 as a compat symbol): glibc's would abort on
 * a block of ours. */
EXPORT void cfree(void *p)
{
	free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t total;
	if (likely(!__builtin_mul_overflow(n, size, &total) && total < oms_threshold))
		return oms_next.calloc(n, size);
	return oms_calloc_slow(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	if (likely(!maybe_ours(p) && n < oms_threshold))
		return oms_next.realloc(p, n);
	return oms_realloc_slow(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

EXPORT size_t malloc_usable_size(void *p)
{
	if (likely(!maybe_ours(p) && oms_next.usable))
		return oms_next.usable(p);
	return oms_usable_slow(p);
}

EXPORT void *memalign(size_t align, size_t n)
{
	if (likely(n < oms_threshold))
		return oms_next.memalign(align, n);
	return oms_memalign_slow(align, n, OMS_AL_MEMALIGN);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (likely(n < oms_threshold))
		return oms_next.aligned_alloc(align, n);
	return oms_memalign_slow(align, n, OMS_AL_ALIGNED_ALLOC);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (likely(n < oms_threshold))
		return oms_next.posix_memalign(out, align, n);
	return oms_posix_memalign_slow(out, align, n);
}

EXPORT void *valloc(size_t n)
{
	return oms_memalign_slow(0, n, OMS_AL_VALLOC);
}

EXPORT void *pvalloc(size_t n)
{
	return oms_memalign_slow(0, n, OMS_AL_PVALLOC);
}

/* glibc exports its allocator under these names too (GLIBC_2.0): old
 * malloc-hook code and some libraries call them directly, with pointers
 * from malloc.  As jemalloc and mimalloc do, they are interposed, so that a
 * block of ours never reaches glibc's free (abort). */
EXPORT void *__libc_malloc(size_t n)
{
	return oms_libc_malloc(n);
}

EXPORT void __libc_free(void *p)
{
	oms_libc_free(p);
}

EXPORT void *__libc_calloc(size_t n, size_t size)
{
	return oms_libc_calloc(n, size);
}

EXPORT void *__libc_realloc(void *p, size_t n)
{
	return oms_libc_realloc(p, n);
}

EXPORT void *__libc_memalign(size_t align, size_t n)
{
	return oms_libc_memalign(align, n, OMS_AL_MEMALIGN);
}

EXPORT void *__libc_valloc(size_t n)
{
	return oms_libc_memalign(0, n, OMS_AL_VALLOC);
}

EXPORT void *__libc_pvalloc(size_t n)
{
	return oms_libc_memalign(0, n, OMS_AL_PVALLOC);
}
