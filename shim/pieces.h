/* pieces.h - the table of redirected mapping pieces, and the operations on
 * one piece that the mmap-family policies (region_*.c) share.
 *
 * A redirected mapping is one or more pieces; a piece [start, end) is
 * MAP_SHARED of arena `ar` at file offset `off`, with protection `prot`.
 * Invariants (all under oms_map_lock):
 * - oms_pieces[0..oms_npieces) is sorted by start and non-overlapping.
 * - A shared piece's bytes are all reserved on disk and taken from the
 *   budget (budget.h): a write never needs a disk block the disk may not
 *   have (SIGBUS).
 * - OMS_P_FROZEN: a MAP_PRIVATE view of a file shared with a fork relative;
 *   no file operation may ever be done on it again, and its bytes are no
 *   longer in the budget.  OMS_P_ANON (always with FROZEN, ar NULL): plain
 *   anonymous memory that replaced a piece's part on MADV_DONTNEED when the
 *   file could not give zero with the disk kept.  Kept in the table so that
 *   the region stays whole in it: mremap can then move all of it.
 * - oms_map_pieces mirrors oms_npieces for lock-free "anything to look
 *   up?" tests by the wrappers.
 *
 * Lock: oms_map_lock guards the table and the arenas (arena.h).  It is
 * taken only by the mmap-family wrappers, the read-around job and the fork
 * handlers, never by the malloc family; the mmap-family syscalls run
 * under it (they are the operation itself).  Order: oms_map_lock before
 * oms_lock (block.h has the whole order).  Nothing under it logs.
 */
#ifndef OMS_PIECES_H
#define OMS_PIECES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "stats.h" /* enum oms_cause */

enum {
	OMS_P_FROZEN = 1,
	OMS_P_DONTFORK = 2,  /* the program's MADV_DONTFORK: the child has no such piece */
	OMS_P_WIPE = 4,      /* MADV_WIPEONFORK, emulated (the kernel refuses it on shared) */
	OMS_P_DONTDUMP = 8,  /* MADV_DONTDUMP: given again after every remap */
	OMS_P_ANON = 16,
	OMS_P_FORKED = 32,   /* frozen at a fork (ours or, inherited, our parent's):
	                        region_back.c shares it again once no other
	                        process can see it */
};

struct oms_piece {
	uintptr_t start, end;
	uint64_t off;
	struct oms_arena *ar;
	int prot, flags;
	void *snap;            /* fork: anonymous copy when the fd is lost */
};

extern pthread_mutex_t oms_map_lock;
extern struct oms_piece *oms_pieces;
extern size_t oms_npieces;
extern int oms_map_pieces;

/* Index of the first piece whose end is above addr. */
size_t oms_pieces_find(uintptr_t addr);
int oms_pieces_insert(struct oms_piece p);   /* 0, or -1 (no memory) */
void oms_pieces_delete(size_t i);
/* Make x a piece boundary if it falls inside one; 0 or -1. */
int oms_pieces_split(uintptr_t x);
/* Pieces inside [a, b) after splitting at both ends: [*lo, *hi). */
void oms_pieces_span(uintptr_t a, uintptr_t b, size_t *lo, size_t *hi);
/* Merge [lo, hi] with right neighbours that have become one mapping. */
void oms_pieces_coalesce(size_t lo, size_t hi);
/* Drop the bookkeeping for [a, b), whose mappings are already gone;
 * `punch`: give the disk back. */
void oms_pieces_forget(uintptr_t a, uintptr_t b, int punch);
/* MADV_DONTDUMP again after a remap. */
void oms_pieces_redump(const struct oms_piece *p);
/* Piece i reads zero, as anonymous memory after MADV_DONTNEED. */
void oms_pieces_zero(size_t i);
/* Anonymous memory that replaced p keeps p's fork and dump advice. */
void oms_pieces_keep_advice(const struct oms_piece *p, void *addr, size_t len);
/* Read [s, e), all of it in the table, into dst whatever its protection;
 * 0 or -1. */
int oms_pieces_read(uintptr_t s, uintptr_t e, void *dst);
/* Copy [s, e), all of it in the table, to offset o of arena a; 0 or -1. */
int oms_pieces_copy(uintptr_t s, uintptr_t e, struct oms_arena *a, uint64_t o);
/* A new piece of rl bytes: an extent of arena ar with its disk reserved,
 * mapped with prot and flags (MAP_SHARED, and MAP_FIXED over a PROT_NONE
 * reservation at `at`; or at NULL, anywhere) and recorded.  The address,
 * or MAP_FAILED with *cause and *err, and nothing left behind (a range at
 * `at` is PROT_NONE again).  The caller gives it its read-around advice. */
void *oms_pieces_place(struct oms_arena *ar, void *at, size_t rl, int prot, int flags,
		       enum oms_cause *cause, int *err);
/* Give p a fresh extent (room bytes) in the current arena, swapped in
 * place; 0 or -1 (p unchanged). */
int oms_pieces_relocate(struct oms_piece *p, uint64_t room);
/* Debug build: abort if an invariant above does not hold.  Called by
 * oms_map_unlock, so after every mmap-family call that took the lock. */
#ifdef OMS_DEBUG
void oms_pieces_check(void);
#else
#define oms_pieces_check() ((void)0)
#endif
static inline void oms_map_unlock(void)
{
	oms_pieces_check();
	pthread_mutex_unlock(&oms_map_lock);
}

#endif
