/* huge.h - large folios for fresh blocks, when asked for (see huge.c). */
#ifndef OMS_HUGE_H
#define OMS_HUGE_H

#include <stddef.h>
#include <stdint.h>

/* The policy (pure; unit-testable).  knob: OOMSHIELD_HUGEPAGE, -1 auto, 0
 * or 1.  thp: the text of /sys/kernel/mm/transparent_hugepage/enabled, or
 * NULL when the kernel has none.  tunables: GLIBC_TUNABLES, or NULL.
 * 1 if fresh blocks of a PMD or more should get MADV_HUGEPAGE. */
int oms_huge_policy(int knob, const char *thp, const char *tunables);

/* When to give large folios up (pure).  paged: bytes the program has paged
 * in from disk while it had large-folio blocks; huge_bytes: their total
 * size now.  1 once the program has read back more than all of it: that is
 * a working set that does not fit, where every refault would read, and
 * every eviction write, a whole large folio. */
int oms_huge_thrashing(uint64_t paged, uint64_t huge_bytes);

/* Random paging (pure): of `hit` sampling windows that gained resident
 * pages in a tick that read from disk, fewer than half follow another
 * such window.  Under large folios a sequential reader fills runs of
 * neighbouring windows; random refaults scatter. */
int oms_huge_scattered(unsigned hit, unsigned adjacent);

/* Resolve the policy; at start-up, before any thread of ours, and only
 * with the DefragTick thread (which gives large folios up).  Reads sysfs
 * only when asked for large folios. */
void oms_huge_start(void);

/* Alignment for a fresh block of `cap` bytes: the PMD size when it should
 * get large folios, else 0.  No syscall. */
size_t oms_huge_align(size_t cap);

/* Give [addr, addr+len) MADV_HUGEPAGE if large folios are on, addr is
 * PMD-aligned and len at least one PMD.  1 if it did. */
int oms_huge_advise(void *addr, size_t len);

/* From the advise tick (DefragTick thread): one tick's major faults, bytes
 * read, and the window spread of a judged tick (advise.h; 0 0 if none).
 * Turns large folios off for good on random paging or thrashing.  1 if
 * large folios were on during the tick: its page runs mean nothing. */
int oms_huge_tick(uint64_t majflt, uint64_t read_bytes, unsigned hit, unsigned adjacent);

/* Large folios are on and the program has a PMD's worth of blocks in files
 * (any size: cheap to tell, and only ever a reason to tick faster). */
int oms_huge_watch(void);

void oms_huge_reset(void); /* tests */

#endif
