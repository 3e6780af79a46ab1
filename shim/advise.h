/* advise.h - adaptive read-around for file-backed memory (see advise.c).
 * A job of the background thread (ticker.h, registered by init.c); without
 * that thread (OOMSHIELD_THREAD=0) the kernel's default read-around stays
 * in force (docs/bench.md 29 measured the choice). */
#ifndef OMS_ADVISE_H
#define OMS_ADVISE_H

#include <stddef.h>
#include <stdint.h>

struct oms_range {
	void *addr;
	size_t len;
};

/* One tick's counters, as deltas. */
struct oms_advise_sample {
	uint64_t majflt, minflt, read_bytes;
	uint64_t ms; /* the tick's length; 0 means 1000 */
	/* RANDOM mode: pages of the sampled windows that became resident
	 * since the last tick, and in how many runs of adjacent pages. */
	uint64_t new_pages, new_runs;
};

extern int oms_advise_mode; /* MADV_NORMAL or MADV_RANDOM, for all mappings */

/* The policy: the advice wanted after this sample (pure; unit-testable). */
int oms_advise_step(struct oms_advise_sample s);

/* The probe (advise.c): NORMAL's counters cannot tell every random reader
 * from a sequential one, RANDOM's windows can.  So a NORMAL that keeps
 * reading and faulting is tried RANDOM now and then; a try that the windows
 * send back to NORMAL waits twice as long for the next one.  `faulting`:
 * the tick read from disk, busily, and had major faults.  Returns the
 * advice wanted after `want` (oms_advise_step's) in mode `mode`. */
#define OMS_ADVISE_PROBE_MIN 2  /* busy NORMAL ticks before a try */
#define OMS_ADVISE_PROBE_MAX 64 /* at most, after tries that failed */
#define OMS_ADVISE_PROBE_TICKS 3 /* a try RANDOM still after this many ticks holds */
struct oms_advise_probe {
	unsigned run;   /* busy NORMAL ticks in a row */
	unsigned gap;   /* ... needed before the next try (0: the minimum) */
	unsigned ticks; /* ticks of the try under way, 0: none */
};
int oms_advise_probe_step(struct oms_advise_probe *p, int mode, int want, int faulting);

/* mincore() on up to 128 windows spread evenly over the ranges (tiling
 * them when small); counts the pages that became resident since the last
 * call on the same ranges (none on the first), and the stretches of
 * resident pages that hold them.  It also notes, for huge.c, in how many
 * 2 MiB groups windows gained pages, and how many of those groups follow
 * the previous such group: a reader going forward fills neighbouring
 * groups, random refaults land apart.  The ticker's thread (or a test)
 * only. */
void oms_advise_sample_pages(const struct oms_range *r, size_t n, uint64_t *new_pages,
			     uint64_t *new_runs);

/* The last sample's 2 MiB groups whose windows gained pages, and those of
 * them that follow the previous such group (0 0 after a failed or skipped
 * sample). */
void oms_advise_spread(unsigned *hit, unsigned *adjacent);

/* Sample getrusage and re-advise every mapping if the mode changes.  It
 * leaves the tick's sample for huge.c's job (oms_advise_take_sample) and,
 * while large folios are watched, changes nothing itself. */
void oms_advise_tick(void);

/* The last tick's major faults and spread (judged: else 0 0), once per
 * tick: 1 the first time after a tick that got that far, then 0. */
int oms_advise_take_sample(uint64_t *majflt, unsigned *hit, unsigned *adjacent);

/* How soon the thread should tick again for this policy: OMS_ADVISE_FAST_MS
 * while the program has file-backed memory and faults or reads, or has
 * large folios; 0 otherwise (then the job's own period decides). */
#define OMS_ADVISE_FAST_MS 200
unsigned oms_advise_wanted_ms(void);

/* Give a mapping the current advice; `had` is the advice it carries now
 * (MADV_NORMAL when fresh, the recorded one when reused from the cache), so
 * that the common case costs no syscall. */
void oms_advise_new(void *addr, size_t len, int had);

/* Room for read-around (on the program's thread, before the background
 * thread starts: it reads /proc and /sys): the disk maj:min's read-ahead
 * window against the memory cgroup's limit.  The two readers return 0 for
 * "unknown" or "none"; an unknown window is taken to be 4 MiB.  1 if
 * read-around may be turned on; oms_advise_allowed then passes `want`
 * through, else it gives MADV_RANDOM. */
int oms_advise_room(unsigned maj, unsigned min);
int oms_advise_allowed(int want);
uint64_t oms_advise_cgroup_limit(void);
uint64_t oms_advise_window(unsigned maj, unsigned min);

/* The other mappings to advise, and "large folios are on" (region_map.c's
 * oms_region_ranges, huge.c's oms_huge_watch): given by init.c, since
 * those modules sit above this one.  `ranges` copies up to cap ranges
 * into out and, when advice >= 0, gives each that madvise under its
 * table's lock. */
struct oms_range;
void oms_advise_hook(size_t (*ranges)(struct oms_range *out, size_t cap, int advice),
		     int (*watch)(void));

void oms_advise_reset(void);     /* tests, and the fork child */

/* The controller thread is running: new mappings may start RANDOM. */
void oms_advise_start(void);

#endif
