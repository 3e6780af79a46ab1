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

/* A fresh zero-filled block of at least `size` bytes aligned to `align`
 * (a power of two); NULL if it cannot be placed (cause counted, logged).
 * `zero`: the caller needs zeros (a reused cached block is cleared). */
void *oms_big_alloc(size_t size, size_t align, int zero);

void oms_big_free(struct oms_block *b);

/* Resize in place or move; NULL if neither works (b unchanged). */
void *oms_big_resize(struct oms_block *b, size_t size);

/* The program changed a block's protection, locking or mapping flags
 * (MADV_DONTDUMP, DONTFORK, WIPEONFORK, MERGEABLE): a freed block would
 * carry them to the next malloc, so it is never cached. */
void oms_big_note_own(const void *addr, size_t len);

/* 1 if [addr, addr+len) overlaps a live block. */
int oms_big_overlaps(const void *addr, size_t len);

/* mlockall: MCL_CURRENT locks every live block (never cached); after
 * MCL_FUTURE every new mapping is locked, so nothing is cached again. */
void oms_big_note_lockall(int flags);

/* From the DefragTick thread, each tick: cached blocks unused for
 * OMS_CACHE_DECAY_MS are given back even while the program makes no
 * large call. */
void oms_big_cache_tick(void);

/* MADV_DONTDUMP (on = 1) or MADV_DODUMP over [addr, addr+len). */
void oms_big_note_dump(const void *addr, size_t len, int on);

/* The program gave MADV_HUGEPAGE or MADV_NOHUGEPAGE inside a block: its
 * choice stands (huge.c), and the block is never cached. */
void oms_big_note_thp(const void *addr, size_t len);

/* MADV_DONTNEED/MADV_FREE/MADV_DONTNEED_LOCKED over [addr, addr+len): the
 * parts inside our blocks must read back zero, as anonymous memory would
 * (on a shared file mapping the kernel would re-read the old data), so they
 * are punched out of the file.  `kadvice` is what the kernel is asked first
 * (DONTNEED refuses locked pages, DONTNEED_LOCKED does not).  Returns 1 if
 * the range touched a block. */
int oms_big_zero_range(const void *addr, size_t len, int kadvice);

/* Blocks overlapping [addr, addr+len) become plain anonymous memory, data
 * kept: for an mprotect the backing file refuses (PROT_EXEC on a noexec
 * mount).  Returns how many blocks changed. */
int oms_big_demote(const void *addr, size_t len);

/* Fork: keep private-memory semantics for every live block. */
void oms_big_fork_prepare(void);
void oms_big_fork_parent(void);
void oms_big_fork_child(void);

/* The fork switch-back (forkback.c), on the program's only thread with
 * every signal blocked: each block frozen by this process's forks becomes
 * MAP_SHARED of its file again, its private pages written into the file
 * first.  Returns how many went back (-1: oms_lock is held, by this
 * thread: try later); *failed counts those that stay frozen for good. */
int oms_big_fork_back(int *failed);

#endif
