/* region.h - redirected anonymous mmap() regions.
 *
 * A redirected mapping is a piece of an "arena": one unlinked file per
 * process (per fork generation) in OOMSHIELD_DIR, at a file offset handed
 * out by a small extent allocator, mapped MAP_SHARED.  One fd serves all
 * regions, so thousands of mappings cost one descriptor; a region split by
 * a partial munmap/mprotect is simply two pieces at two offsets.  The
 * policies are split by call as in Linux's mm/: region_map.c (mmap,
 * munmap), region_advise.c (madvise, mprotect), region_remap.c (mremap),
 * region_fork.c (fork); the table is pieces.c, the allocator arena.c.
 *
 * Lock: oms_map_lock (pieces.h) guards the piece table and the arenas.  It is taken
 * only by the mmap-family wrappers and the fork handlers, never by the
 * malloc family; syscalls run under it (they are the operation itself).
 * Order: oms_map_lock before oms_lock (block.h has the whole order).
 */
#ifndef OMS_REGION_H
#define OMS_REGION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

extern int oms_map_pieces; /* live piece count; 0 = nothing to look up */

/* The wrappers' policy.  Each returns what the syscall would. */
void *oms_region_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int oms_region_munmap(void *addr, size_t len);
void *oms_region_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
int oms_region_madvise(void *addr, size_t len, int advice);
int oms_region_mprotect(void *addr, size_t len, int prot);
/* The smallest reservation watched, and the smallest part of one made
 * file-backed (region_map.c). */
size_t oms_region_resv_min(void);
/* Part of a watched reservation (resv.h) made writable - by mprotect
 * (fixed 0), or by a private anonymous mmap with MAP_FIXED over it (1, the
 * JVM's way): the range becomes a piece of our arena, mapped with prot,
 * disk reserved first.  0 done; -1 not ours to do or not possible (then
 * the kernel's call must run: the range stays anonymous). */
int oms_region_commit(void *addr, size_t len, int prot, int fixed);

/* mlock/mlock2 of [addr, addr+len) (all 0), or mlockall (all 1; 2 with
 * MCL_FUTURE): locked address space is no reservation to commit (resv.h);
 * after MCL_FUTURE none is noted any more (munlockall is not watched). */
void oms_region_note_lock(const void *addr, size_t len, int all);

/* 1 if this private anonymous request should live in a file. */
int oms_region_wanted(size_t len, int prot, int flags);

struct oms_range;
/* Copy up to cap piece ranges into out; returns how many.  advice >= 0:
 * also madvise each piece with it, under oms_map_lock (advise.c). */
size_t oms_region_ranges(struct oms_range *out, size_t cap, int advice);

void oms_region_fork_prepare(void);
void oms_region_fork_parent(void);
void oms_region_fork_child(void);

/* The fork switch-back (region_back.c; forkback.c calls it on the
 * program's only thread, every signal blocked): pieces frozen by this
 * process's forks become shared again.  How many went back; -1 if
 * oms_map_lock is held; *failed: how many stay frozen for good. */
int oms_region_fork_back(int *failed);

#endif
