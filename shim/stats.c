/* stats.c - see stats.h. */
#include "stats.h"
#include "config.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oms_stats oms_stats;

static const char *const cause_name[OMS_CAUSE_COUNT] = {
	"nospc", "fbig", "max", "mfile", "nodir", "map", "other",
};

static int cause_logged[OMS_CAUSE_COUNT];

enum oms_cause oms_cause_of(int err)
{
	switch (err) {
	case ENOSPC: case EDQUOT: return OMS_CAUSE_NOSPC;
	case EFBIG: return OMS_CAUSE_FBIG;
	case EMFILE: case ENFILE: return OMS_CAUSE_MFILE;
	case ENOENT: case ENOTDIR: case EACCES: case EPERM: case EROFS: return OMS_CAUSE_NODIR;
	case ENOMEM: return OMS_CAUSE_MAP;
	default: return OMS_CAUSE_OTHER;
	}
}

void oms_stats_count(enum oms_cause c)
{
	__atomic_fetch_add(&oms_stats.fallback[c], 1, __ATOMIC_RELAXED);
}

void oms_stats_fallback(enum oms_cause c, int err, uint64_t size)
{
	/* ENOSPC also comes from store.c's OOMSHIELD_DISK_KEEP check: a disk
	 * with space left must not read "No space left on device". */
	const char *why = c == OMS_CAUSE_MAX ? "OOMSHIELD_MAX reached, or RLIMIT_DATA"
			  : err == ENOSPC    ? "the disk is full, or the block would leave less "
					       "free than OOMSHIELD_DISK_KEEP"
					     : strerrordesc_np(err);
	__atomic_fetch_add(&oms_stats.fallback[c], 1, __ATOMIC_RELAXED);
	oms_log_once(&cause_logged[c], OMS_LOG_WARN,
		     "cannot place %llu bytes in %s (%s: %s); using ordinary memory, "
		     "this is logged once per cause",
		     (unsigned long long)size, oms_cfg.dir, cause_name[c], why);
}

/* kB of one "Key:  N kB" line of a smaps file, or 0. */
static unsigned long long smaps_kb(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

void oms_stats_print(const char *more)
{
	if (!oms_cfg.stats)
		return;
	/* What is not ours: the process's anonymous pages, in RAM and in
	 * swap (heap, stacks, small allocations, pages a fork copied).  Our
	 * files' pages are shared file pages and count in neither. */
	char ro[2048], un[64] = "unknown";
	if (oms_os.read_file("/proc/self/smaps_rollup", ro, sizeof ro) > 0)
		snprintf(un, sizeof un, "anon=%lluK,swap=%lluK", smaps_kb(ro, "\nAnonymous:"),
			 smaps_kb(ro, "\nSwap:"));
	char fb[256];
	size_t n = 0;
	for (int i = 0; i < OMS_CAUSE_COUNT; i++) {
		int m = snprintf(fb + n, sizeof fb - n, "%s%s=%llu", i ? "," : "", cause_name[i],
				 (unsigned long long)__atomic_load_n(&oms_stats.fallback[i],
								     __ATOMIC_RELAXED));
		if (m < 0 || (size_t)m >= sizeof fb - n)
			break;
		n += (size_t)m;
	}
	oms_log_tagged("stats",
		"blocks=%llu bytes=%llu live=%llu peak=%llu fallbacks=%s "
		"forks_cow=%llu forks_back=%llu cache_hits=%llu unprotected=%s%s",
		(unsigned long long)__atomic_load_n(&oms_stats.blocks, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&oms_stats.bytes, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&oms_stats.peak, __ATOMIC_RELAXED), fb,
		(unsigned long long)__atomic_load_n(&oms_stats.forks_cow, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&oms_stats.forks_back, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&oms_stats.cache_hits, __ATOMIC_RELAXED),
		un, more);
}
