/* budget.h - every limit on the bytes the shim keeps in files.
 *
 * One owner for one number: oms_stats.live, the bytes of file-backed memory
 * the shim holds now (block capacities, redirected mmap pieces, cached freed
 * blocks), and oms_stats.peak.  Nothing else writes them.  Before a file is
 * made or grown, the caller takes the bytes here; the take fails when it
 * would pass
 *   - OOMSHIELD_MAX (oms_cfg.max), or
 *   - RLIMIT_DATA: the kernel counts only private memory against it, so a
 *     program run under that limit must not get more through our shared
 *     mappings (asked each time: setrlimit may change it).
 * Callers fall back to ordinary memory on a failed take, which the kernel
 * then limits as before.
 *
 * No lock: a compare-and-swap loop, so the budget may be taken from under
 * any of the shim's locks.  64-bit atomics (cmpxchg8b on i386, ldrexd on
 * armv7) never tear.  oms_budget_take makes one getrlimit syscall.
 */
#ifndef OMS_BUDGET_H
#define OMS_BUDGET_H

#include <stdint.h>

/* 1: `bytes` more are ours to place in files; 0: a limit says no. */
int oms_budget_take(uint64_t bytes);

/* Bytes that left the files (unmapped, punched for good, moved to
 * anonymous memory). */
void oms_budget_give(uint64_t bytes);

/* Bytes in files now. */
uint64_t oms_budget_live(void);

#endif
