/* big.h - the policy for allocations at or above the threshold.
 *
 * A large block is an unlinked file mapped MAP_SHARED at a granule-aligned
 * address.  Every function here either succeeds or leaves the program's
 * data exactly as it was and returns NULL, so the caller can fall back to
 * the next allocator.  errno is the caller's business (see malloc.c).
 */
#ifndef OMS_BIG_H
#define OMS_BIG_H

#include <stddef.h>

#include "block.h"

extern size_t oms_page;

/* A fresh zero-filled block of at least `size` bytes aligned to `align`
 * (a power of two); NULL if it cannot be placed (cause counted, logged). */
void *oms_big_alloc(size_t size, size_t align);

void oms_big_free(struct oms_block *b);

/* Resize in place or move; NULL if neither works (b unchanged). */
void *oms_big_resize(struct oms_block *b, size_t size);

/* Fork: keep private-memory semantics for every live block. */
void oms_big_fork_prepare(void);
void oms_big_fork_parent(void);
void oms_big_fork_child(void);

#endif
