/* block.h - a file-backed block and the registry that finds it by address.
 *
 * LOCK ORDER for the whole shim (take in this order, release in reverse):
 *   1. ticker.c fork_mu  (the thread's /proc/self/stat read; a leaf)
 *   2. defrag.c fork_mu  (DefragTick's read buffer and lock file; a leaf)
 *   3. oms_map_lock      (pieces.c: the table of redirected mmap pieces,
 *                         the arenas (arena.c) and the reservations
 *                         (resv.c); the mmap-family syscalls run under it)
 *   4. oms_lock          (block.c: registry writes, descriptor slab, live
 *                         list of large blocks, the freed-block cache)
 *   5. forkback.c fb_mu  (the fork canary and epoch state; a leaf, taken last
 *                         by the fork prepare handler; the switch back
 *                         takes 3 and 4 only with trylock, never under it)
 *   The byte budget (budget.c) and the counters (stats.h) take no lock:
 *   atomics, usable under any of these.
 *   The two fork_mu are held together only by the fork handlers; the
 *   mmap paths take oms_lock under oms_map_lock.  No job of the ticker
 *   holds two at once (advise.c takes oms_lock, then oms_map_lock, one
 *   after the other).  Apart from the order:
 *   ticker.c's pause_mu is held across a program's set*id call; sleep_mu
 *   (a leaf: the thread's sleep and stop flag) is taken under it, and the
 *   thread is joined under it, which never takes it.  ticker.h has the
 *   details.
 * The small-allocation path takes no lock at all.  No syscall is made under
 * oms_lock except in the fork handlers (the process is quiescing anyway),
 * in the fork switch-back (forkback.c: no program thread but the caller,
 * every signal blocked), in realloc and in MADV_DONTNEED/MADV_FREE of a file-backed block (the
 * caller owns that block; only other large operations wait), in advise.c's
 * change of read-around mode (a MADV_RANDOM/NORMAL per block, a few times a
 * run, so that no block is unmapped and reused in between), and in huge.c's
 * give-up, once per process, a MADV_NOHUGEPAGE per block (a flag change, so
 * that no block can be freed, moved or re-advised in between).  Nothing under oms_lock calls
 * the next allocator or logs.
 *
 * Registry invariant: every block's mapping starts on an OMS_GRANULE
 * boundary and that address is the pointer handed to the program, so
 * "is p ours?" is: p is granule-aligned and registry[p >> 16] is set.
 * Entries are published with release stores after the mapping exists and
 * cleared before it is unmapped; readers take no lock.
 */
#ifndef OMS_BLOCK_H
#define OMS_BLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum oms_block_flags {
	OMS_BLK_FROZEN = 1, /* file shared copy-on-write with a fork relative:
	                       never write, grow, shrink or punch it */
	OMS_BLK_NOCACHE = 2, /* mprotect'ed by the program: do not reuse */
	OMS_BLK_OWNTHP = 4,  /* the program gave it MADV_(NO)HUGEPAGE itself:
	                        huge.c leaves its flags alone; not reused */
	OMS_BLK_HUGE = 8,    /* huge.c gave it MADV_HUGEPAGE and has not taken
	                        it back */
	OMS_BLK_WASHUGE = 16, /* huge.c took it back: its large folios may not
	                         be split yet, so it is not cached */
	OMS_BLK_DONTDUMP = 32, /* the program gave MADV_DONTDUMP somewhere in
	                          it: the fork remap gives it to the whole block
	                          again (more left out of a core dump, never
	                          less) */
	OMS_BLK_FORKED = 64,  /* frozen at a fork (of this process or, inherited,
	                         of its parent): forkback.c makes it shared
	                         again once no other process can see it */
	OMS_BLK_HOLES = 128,  /* anonymous memory was mapped over part of it
	                         (MADV_DONTNEED while frozen): its file is not
	                         its contents there, so it never goes back */
};

struct oms_block {
	void *addr;             /* mapping start == user pointer */
	size_t cap;             /* bytes mapped == file size (page multiple) */
	size_t size;            /* bytes the program asked for */
	int fd;                 /* -1 once lost (program closed it) */
	int flags;
	dev_t dev;              /* identity of fd's file, to detect dup2 over it */
	ino_t ino;
	void *snap;             /* fork: anonymous snapshot when fd is lost */
	int prot;               /* mmap regions: current protection */
	struct oms_block *prev, *next; /* live list, for fork */
};

extern pthread_mutex_t oms_lock;
extern struct oms_block *oms_live; /* head of the live list */

/* Lock-free: the block whose user pointer is exactly p, or NULL. */
struct oms_block *oms_block_find(const void *p);

/* All below: caller holds oms_lock. */
struct oms_block *oms_block_new(void);          /* zeroed, NULL if no memory */
void oms_block_free(struct oms_block *b);
int oms_block_register(struct oms_block *b);    /* 0, or -1 (no memory) */
void oms_block_unregister(struct oms_block *b);

static inline int oms_granule_aligned(const void *p)
{
	return ((uintptr_t)p & (OMS_GRANULE - 1)) == 0;
}

#endif
