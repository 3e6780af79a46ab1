/* stats.h - counters for the OOMSHIELD_STATS exit line, and the fallback
 * causes that are each logged once.
 *
 * Every counter is read and written with relaxed atomics, wherever it is,
 * under whichever lock: 64-bit atomics never tear, also on i386 and armv7.
 * Only the large-block path touches them; the small path never does.
 * live and peak are written by budget.c alone.
 */
#ifndef OMS_STATS_H
#define OMS_STATS_H

#include <stdint.h>

enum oms_cause {
	OMS_CAUSE_NOSPC,   /* ENOSPC/EDQUOT: the backing filesystem is full */
	OMS_CAUSE_FBIG,    /* EFBIG: RLIMIT_FSIZE or the filesystem's file size limit */
	OMS_CAUSE_MAX,     /* OOMSHIELD_MAX reached */
	OMS_CAUSE_MFILE,   /* EMFILE/ENFILE: no file descriptor */
	OMS_CAUSE_NODIR,   /* no usable OOMSHIELD_DIR */
	OMS_CAUSE_MAP,     /* mmap/mremap refused (address space, map count) */
	OMS_CAUSE_OTHER,
	OMS_CAUSE_COUNT
};

struct oms_stats {
	uint64_t blocks;        /* blocks placed in files */
	uint64_t bytes;         /* bytes placed in files, summed over life */
	uint64_t live;          /* bytes in files now (mapping capacity) */
	uint64_t peak;
	uint64_t fallback[OMS_CAUSE_COUNT];
	uint64_t forks_cow;      /* forks that froze our memory copy-on-write */
	uint64_t forks_back;     /* blocks and pieces made shared again (forkback.c) */
	uint64_t cache_hits;     /* large allocations served by a freed block */
};

extern struct oms_stats oms_stats;

/* Map an errno from file creation/reservation to a cause. */
enum oms_cause oms_cause_of(int err);

/* Count a fallback whose cause was already reported (a bad OOMSHIELD_DIR). */
void oms_stats_count(enum oms_cause c);

/* Count and log (once per cause) a large allocation that stays in memory. */
void oms_stats_fallback(enum oms_cause c, int err, uint64_t size);

/* The exit summary line, if OOMSHIELD_STATS is set; `more` (may be "")
 * is appended: the entry layer adds the counters of modules above this
 * one (DefragTick's). */
void oms_stats_print(const char *more);

#endif
