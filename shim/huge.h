/* huge.h - large folios for fresh blocks, when asked for (see huge.c). */
#ifndef OMS_HUGE_H
#define OMS_HUGE_H

#include <stddef.h>
#include <stdint.h>

/* The only PMD size supported: advise.c's sampler judges 2 MiB groups. */
#define OMS_HUGE_PMD ((size_t)2 << 20)

/* The policy (pure; unit-testable).  knob: OOMSHIELD_HUGEPAGE: 0, 1, or -1
 * when unset (then glibc's tunable decides).  thp: the text of /sys/kernel/mm/transparent_hugepage/enabled, or
 * NULL when the kernel has none.  tunables: GLIBC_TUNABLES, or NULL.
 * 1 if fresh blocks of a PMD or more should get MADV_HUGEPAGE. */
int oms_huge_policy(int knob, const char *thp, const char *tunables);

/* Random paging (pure): the `hit` 2 MiB groups whose sampling windows
 * gained resident pages in a tick that read from disk, `adjacent` of them
 * next to the previous one, form at least 4 runs, and more than a quarter
 * as many runs as groups.  Under large folios a reader going forward fills
 * one run of neighbouring groups per stream; random refaults scatter. */
int oms_huge_scattered(unsigned hit, unsigned adjacent);

/* Resolve the policy; at start-up, once the background thread (whose
 * job gives large folios up) runs.  Reads sysfs only when asked for large
 * folios. */
void oms_huge_start(void);

/* Alignment for a fresh block of `cap` bytes: the PMD size when it should
 * get large folios, else 0.  No syscall. */
size_t oms_huge_align(size_t cap);

/* Large folios are on (not given up). */
int oms_huge_on(void);

/* Give [addr, addr+len) MADV_HUGEPAGE if large folios are on, addr is
 * PMD-aligned and len at least one PMD.  1 if it did: the caller marks
 * the block OMS_BLK_HUGE under oms_lock.  errno is kept. */
int oms_huge_advise(void *addr, size_t len);

/* Take it back (MADV_NOHUGEPAGE) from a fresh block listed after a
 * give-up had begun.  errno is kept. */
void oms_huge_undo(void *addr, size_t len);

/* The give-up job of the background thread (ticker.h), registered right
 * after read-around's: takes the sample read-around's tick left
 * (oms_advise_take_sample) and passes it to oms_huge_tick. */
void oms_huge_job(void);

/* The tick's major faults and the spread of its sample if the tick was
 * judged (advise.h; else 0 0).  Gives large folios up for good on random
 * paging.  1 if they were on during the tick: its runs of new pages mean
 * nothing. */
int oms_huge_tick(uint64_t majflt, unsigned hit, unsigned adjacent);

/* Fork child, oms_lock held: finish a give-up the parent had begun. */
void oms_huge_fork_child(void);

/* Large folios are on and the program has a PMD's worth of blocks in files
 * (any size: cheap to tell, and only ever a reason to tick faster). */
int oms_huge_watch(void);

void oms_huge_reset(void); /* tests */

#endif
