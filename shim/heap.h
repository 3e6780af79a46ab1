/* heap.h - whole-heap mode (OOMSHIELD_HEAP=1, oomshield --heap).
 *
 * The program's small objects are served by jemalloc, preloaded after the
 * shim.  jemalloc on Linux maps its extents with mmap(PROT_READ|PROT_WRITE,
 * MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE) and purges them with madvise, both
 * through the shim's interposed calls, so in this mode region_map.c redirects
 * writable MAP_NORESERVE private mappings as it does plain ones: the heap
 * then lives in the arena file with no jemalloc-specific hook at all (and
 * so does the heap of an allocator a program links itself).  This module
 * holds the policy of that mode; it keeps no state of its own but a flag
 * written once in the constructor, so it takes no lock.
 */
#ifndef OMS_HEAP_H
#define OMS_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* The constructor's check: with OOMSHIELD_HEAP=1 and no jemalloc in the
 * process, one warning line (glibc's heap stays where it is). */
void oms_heap_start(void);

/* A writable MAP_NORESERVE private anonymous mapping of len bytes: should
 * it become file-backed (disk reserved for all of it)?  Only in heap mode,
 * and only if it takes at most a quarter of the space new reservations may
 * take on the backing filesystem (`free_bytes`, oms_store_room): a larger
 * one is a sparse reservation (a hash table or a shadow map sized for the
 * worst case) and stays what it is. */
int oms_heap_noreserve_ok(size_t len, uint64_t free_bytes);

/* 1 once the heap is known to be jemalloc's (mallctl found). */
int oms_heap_jemalloc(void);

#endif
