/* cache.h - freed file-backed blocks kept mapped for reuse.
 *
 * Why: a fresh block costs a file, a fallocate, three mappings and a page
 * fault per page; a program that mallocs and frees 1 MiB in a loop would
 * pay that every time (glibc pays nothing: it reuses its heap).  A freed
 * block of at most OOMSHIELD_CACHE bytes is kept, file and pages intact,
 * and handed to the next allocation of about its size.  The cache never
 * adds OOM risk: its pages are file pages the kernel can reclaim.  It is
 * bounded in bytes and slots, entries older than OMS_CACHE_DECAY_MS are
 * released, and it is emptied in a fork child (the mappings are shared
 * with the parent).
 *
 * All functions: caller holds oms_lock.  They never make a syscall; what
 * must be unmapped and closed is returned in `out` for the caller to
 * release after unlocking (oms_cache_release).
 */
#ifndef OMS_CACHE_H
#define OMS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OMS_CACHE_SLOTS 16
#define OMS_CACHE_DECAY_MS 2000

struct oms_cached {
	void *addr;
	size_t cap;
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t since_ms;
	int advice;     /* madvise read-around mode the mapping carries */
	int huge;       /* it carries huge.c's MADV_HUGEPAGE (OMS_BLK_HUGE) */
};

struct oms_cache_out {
	struct oms_cached e[OMS_CACHE_SLOTS + 1];
	int n;
};

/* Keep c (a block just unregistered); 0 if it does not fit the bounds. */
int oms_cache_put(const struct oms_cached *c, uint64_t now, struct oms_cache_out *out);

/* A cached block whose capacity fits `cap` (no more than 1/4 larger);
 * 1 and *c filled, or 0. */
int oms_cache_take(size_t cap, uint64_t now, struct oms_cached *c, struct oms_cache_out *out);

/* Everything out: for OOMSHIELD_MAX pressure and the fork child. */
void oms_cache_flush(struct oms_cache_out *out);

/* Entries unused for OMS_CACHE_DECAY_MS out (also done by put and take). */
void oms_cache_decay(uint64_t now, struct oms_cache_out *out);

/* Unmap and close what the functions above handed out.  No lock held;
 * takes oms_lock briefly to return the bytes to the accounting. */
void oms_cache_release(struct oms_cache_out *out);

#endif
