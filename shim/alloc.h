/* alloc.h - the slow paths behind the exported malloc family.
 *
 * The exported wrappers (malloc.c) decide in one or two predictable
 * branches whether a call is "small and foreign" - straight to the next
 * allocator - or needs one of these.  `oms_threshold` is 0 until the shim
 * is initialised, so every first call lands here and initialises it.
 * errno: left as found on success; on failure set as glibc would.
 */
#ifndef OMS_ALLOC_H
#define OMS_ALLOC_H

#include <stddef.h>



void *oms_malloc_slow(size_t n);
void *oms_calloc_slow(size_t n, size_t size);
void oms_free_slow(void *p);
void *oms_realloc_slow(void *p, size_t n);
void *oms_memalign_slow(size_t align, size_t n, int kind);
int oms_posix_memalign_slow(void **out, size_t align, size_t n);
size_t oms_usable_slow(void *p);

/* glibc's __libc_malloc family.  New blocks always come from the next
 * __libc_* (a malloc wrapper that forwards to __libc_malloc must not come
 * back to itself); a block of ours passed in is handled here. */
void *oms_libc_malloc(size_t n);
void oms_libc_free(void *p);
void *oms_libc_calloc(size_t n, size_t size);
void *oms_libc_realloc(void *p, size_t n);
void *oms_libc_memalign(size_t align, size_t n, int kind);

enum { OMS_AL_MEMALIGN, OMS_AL_ALIGNED_ALLOC, OMS_AL_VALLOC, OMS_AL_PVALLOC };

#endif
