/* arena.h - the extent allocator over backing files.
 *
 * An arena is one unlinked file per process (per fork generation) in
 * OOMSHIELD_DIR.  Redirected mappings are pieces of it at offsets this
 * allocator hands out first-fit, so thousands of mappings cost one
 * descriptor.
 *
 * Invariants:
 * - Free extents below `top` are sorted, coalesced and punched (holes), so
 *   a reused offset reads zero; the caller reserves (fallocate) a range
 *   before it maps it.
 * - The current arena is never retired.  A retired arena (a fork froze its
 *   pieces: parent and child share the file) hands out nothing again, and
 *   its free list is no longer kept.
 * - `refs` counts the pieces that use an arena; an unreferenced arena that
 *   is not current is closed and its slot reused.
 * Lock: none of its own.  Every function is called under oms_map_lock
 * (pieces.h); nothing here logs or calls the next allocator.
 */
#ifndef OMS_ARENA_H
#define OMS_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct oms_ext { uint64_t off, len; };

struct oms_arena {
	int fd, refs, retired;
	dev_t dev;
	ino_t ino;
	uint64_t top;          /* offsets >= top are unused holes */
	struct oms_ext *ext;   /* free extents below top, sorted, coalesced */
	size_t next, cap_ext;
	int seen;              /* debug: pieces counted by oms_pieces_check */
};

/* The arena new extents come from (opened on first use); NULL with errno
 * when no file can be had (EMFILE when every slot is taken). */
struct oms_arena *oms_arena_current(void);

/* 1 if a is the current arena. */
int oms_arena_is_current(const struct oms_arena *a);

/* The arena's fd still names its file (the program may have closed it or
 * dup2'ed over it); marks it lost if not. */
int oms_arena_fd_ok(struct oms_arena *a);

/* A piece stopped using a. */
void oms_arena_unref(struct oms_arena *a);

/* An extent of len bytes (first fit, else at top). */
uint64_t oms_arena_alloc(struct oms_arena *a, uint64_t len);

/* Claim exactly [off, off+len) if it is free (to grow a mapping in place);
 * 0 or -1. */
int oms_arena_take(struct oms_arena *a, uint64_t off, uint64_t len);

/* Return a punched range to the allocator. */
void oms_arena_free(struct oms_arena *a, uint64_t off, uint64_t len);

/* Punch [off, off+len): disk released (the range is unmapped or about to
 * be freed). */
int oms_arena_punch(struct oms_arena *a, uint64_t off, uint64_t len);

/* Zero [off, off+len) with its disk kept reserved (store.h). */
int oms_arena_zero(struct oms_arena *a, uint64_t off, uint64_t len);

/* Fork: the current arena was retired (its pieces froze) - count it.  */
int oms_arena_retired_current(void);

/* Fork child: the parent's current arena is shared through the same open
 * file description with a copy of its free list: retire it; close every
 * arena no piece of the child uses. */
void oms_arena_fork_child(void);

/* Debug build (oms_pieces_check): zero every arena's `seen`; then check
 * that each one's refs equals the pieces the caller counted in `seen`. */
void oms_arena_debug_begin(void);
void oms_arena_debug_end(void);

#endif
