/* advise.c - read-around that adapts to the access pattern observed.
 *
 * Why: a fault on a file mapping reads `read_ahead_kb` around the faulting
 * page (do_sync_mmap_readahead).  Under memory pressure with random access
 * that is pure waste - on a disk with 8 MiB read-ahead a 384 MiB working set
 * read 69 GB in two minutes - and each read evicts the pages needed next.
 * MADV_RANDOM turns read-around off, which fixes random access but makes a
 * sequential read fault page by page (36x slower measured).  Swap avoids
 * both by adapting per VMA; we adapt per process:
 *
 *   New mappings start RANDOM: fresh memory holds nothing worth reading
 *   around, and a first-touch write fault would read back pages that were
 *   just written and evicted (halves a sequential fill under pressure).
 *   Each tick, from getrusage: bytes read from disk (ru_inblock) against
 *   pages the program touched (major faults + minor faults x fault-around).
 *   NORMAL: when a busy tick used less than a quarter of what was read,
 *           switch every file-backed mapping to MADV_RANDOM.
 *   RANDOM: while the program keeps faulting, probe NORMAL for one tick
 *           after `backoff` ticks; a wasteful probe doubles the backoff
 *           (up to 32), a useful one keeps NORMAL.
 *
 * Runs on the DefragTick thread only, so its state needs no lock; the
 * current mode is published for new mappings (oms_advise_new).  Mapping
 * lists are copied under their locks and advised after unlocking: a range
 * freed in between gets a harmless hint or ENOMEM.
 */
#include "advise.h"
#include "big.h"
#include "block.h"
#include "config.h"
#include "log.h"
#include "os.h"
#include "region.h"
#include "stats.h"

#include <sys/mman.h>
#include <sys/resource.h>

#define FAULT_AROUND_PAGES 16        /* the kernel's default fault_around_bytes */
#define BUSY_BYTES ((uint64_t)8 << 20) /* read per second before we judge */
#define MAX_BACKOFF 32
#define MAX_RANGES 4096

int oms_advise_mode = MADV_NORMAL; /* RANDOM once the thread runs */

static struct rusage last;
static int primed, probing, backoff = 2, wait, active;
static uint64_t last_ms;
static struct oms_range ranges[MAX_RANGES];

static void apply(int mode)
{
	size_t n = 0;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b && n < MAX_RANGES; b = b->next)
		ranges[n++] = (struct oms_range){b->addr, b->cap};
	pthread_mutex_unlock(&oms_lock);
	n += oms_region_ranges(ranges + n, MAX_RANGES - n);
	__atomic_store_n(&oms_advise_mode, mode, __ATOMIC_RELAXED);
	for (size_t i = 0; i < n; i++)
		oms_sys_madvise(ranges[i].addr, ranges[i].len, mode);
	oms_debug("read-around %s for %zu mappings", mode == MADV_RANDOM ? "off" : "on", n);
}

void oms_advise_new(void *addr, size_t len, int had)
{
	int mode = __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED);
	if (mode != had)
		oms_sys_madvise(addr, len, mode);
}

int oms_advise_step(struct oms_advise_sample s)
{
	uint64_t touched = (s.majflt + s.minflt * FAULT_AROUND_PAGES) * (uint64_t)oms_page;
	uint64_t busy_bytes = BUSY_BYTES * (s.ms ? s.ms : 1000) / 1000;
	int busy = s.read_bytes >= busy_bytes;
	int wasteful = busy && touched * 4 < s.read_bytes;
	int mode = __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED);
	if (mode == MADV_NORMAL) {
		if (probing) {
			probing = 0;
			if (!wasteful) {
				backoff = 2;
				return MADV_NORMAL;
			}
			backoff = backoff * 2 > MAX_BACKOFF ? MAX_BACKOFF : backoff * 2;
		} else if (!wasteful)
			return MADV_NORMAL;
		wait = backoff;
		return MADV_RANDOM;
	}
	/* RANDOM: reads are exactly the faulted pages, so whether read-around
	 * would pay can only be learnt by trying it. */
	if (s.majflt * 4 * (uint64_t)oms_page >= busy_bytes / 2 && --wait <= 0) {
		probing = 1;
		return MADV_NORMAL;
	}
	return MADV_RANDOM;
}

unsigned oms_advise_wanted_ms(void)
{
	return active ? OMS_ADVISE_FAST_MS : 0;
}

void oms_advise_tick(void)
{
	struct rusage ru;
	uint64_t now = oms_os.now_ms();
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	struct oms_advise_sample s = {
		.majflt = (uint64_t)(ru.ru_majflt - last.ru_majflt),
		.minflt = (uint64_t)(ru.ru_minflt - last.ru_minflt),
		.read_bytes = (uint64_t)(ru.ru_inblock - last.ru_inblock) * 512,
		.ms = now > last_ms ? now - last_ms : 1,
	};
	last = ru;
	last_ms = now;
	if (!primed) {
		primed = 1;
		return;
	}
	/* Tick fast only while there is something to adapt: our memory, and
	 * the disk being read (or read-around already off). */
	active = __atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED) &&
		 (s.read_bytes || __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED) != MADV_NORMAL);
	if (!__atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED))
		return; /* nothing of ours to advise */
	int want = oms_advise_step(s);
	if (want != __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED))
		apply(want);
}

void oms_advise_start(void)
{
	__atomic_store_n(&oms_advise_mode, MADV_RANDOM, __ATOMIC_RELAXED);
}

void oms_advise_reset(void)
{
	/* The mode stays: it describes the mappings, which a fork child keeps.
	 * The counters restart: a child's rusage starts from zero. */
	primed = probing = active = 0;
	backoff = 2;
	wait = 0;
}
