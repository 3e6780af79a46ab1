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
 *   NORMAL: from getrusage, bytes read from disk (ru_inblock) against pages
 *           the program touched (major faults + minor faults x
 *           fault-around).  A busy tick that used less than a quarter of
 *           what it read, with a major fault for every 32 MiB read or
 *           more, switches every file-backed mapping to RANDOM.
 *   RANDOM: every fault reads exactly the faulted page, so the pages that
 *           became resident since the last tick are the pages the program
 *           touched.  mincore() on a few windows spread over our mappings
 *           shows them: in long runs, the program reads sequentially and
 *           read-around pays (NORMAL); scattered, it stays RANDOM.  This
 *           replaced blind probes of NORMAL, which on random access read
 *           8 MiB per fault for a whole tick (docs/bench.md 21).
 *   The probe: the NORMAL rule cannot see every waste - minor faults
 *           include the program's other memory, and a tiler or a sort's
 *           merge touched "enough" by that count while reading 2.7 MiB
 *           per fault for nothing (docs/bench.md 33).  So a NORMAL that
 *           keeps reading and faulting is tried RANDOM, where the windows
 *           judge; a try they send back to NORMAL doubles the wait for the
 *           next one (2 to 64 busy ticks), one that holds resets it.
 *   Room: read-around allocates its whole window, locked until the read
 *           completes, so reclaim cannot take it back.  In a memory cgroup
 *           not much larger than the window (8 MiB on our disks; a 10 MiB
 *           limit) one fault fills the cgroup and the next is OOM-killed
 *           (docs/bench.md 34).  So read-around is never turned on where
 *           the disk's window times RA_SHARE exceeds the cgroup's limit,
 *           read once when the thread starts (oms_advise_room); a window
 *           that cannot be read (no block queue: overlayfs, btrfs, NFS)
 *           is taken to be RA_GUESS.
 *
 * Runs as a job of the background thread (ticker.c) only, so its state
 * needs no lock; the current mode is published for new mappings
 * (oms_advise_new).  A change of mode is applied under the lock of the
 * table that owns each mapping (apply()).  The sampler copies the ranges
 * and calls mincore after unlocking: that only reads residency, so a range
 * unmapped meanwhile gives ENOMEM (placed again next tick) or, reused by
 * the program, a meaningless sample - never a change to its memory.
 *
 * Locks: none of its own.  Takes oms_lock, then separately oms_map_lock
 * (in oms_region_ranges), never both at once.
 */
#include "advise.h"
#include "big.h"
#include "block.h"
#include "config.h"
#include "huge.h" /* OMS_HUGE_PMD only: no call */
#include "log.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <stdio.h> /* snprintf only */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define FAULT_AROUND_PAGES 16        /* the kernel's default fault_around_bytes */
#define BUSY_BYTES ((uint64_t)8 << 20) /* read per second before we judge */
#define MAX_RANGES 4096
#define NWIN 128         /* sampling windows over all our mappings */
#define WIN_PAGES 128    /* pages per window, at most */
#define SEQ_MIN_NEW 32   /* new resident pages before the pattern is judged */
#define SEQ_RUN 8        /* mean run of new pages that counts as sequential */
#define MISS_BYTES ((uint64_t)32 << 20) /* above any read-around window */
#define SPREAD_GROUP ((uintptr_t)OMS_HUGE_PMD) /* the large folios judged */
#define RA_SHARE 8 /* windows in flight a cgroup must hold with room to spare */
#define NO_LIMIT ((uint64_t)1 << 60) /* cgroup v1 says 2^63 - 4096 for none */
#define RA_GUESS ((uint64_t)4 << 20) /* a window we cannot read: assume a large one */

int oms_advise_mode = MADV_NORMAL; /* RANDOM once the thread runs */

static struct rusage last;
static int ra_room = 1; /* read-around may be turned on (oms_advise_room) */
static int primed, active, was_huge;
static struct oms_advise_probe probe;
static uint64_t last_ms;
static struct oms_range ranges[MAX_RANGES];
static struct {
	uint64_t majflt;
	unsigned hit, adjacent;
	int fresh;
} last_sample;

/* The windows and what was resident in them at the last sample.  `sig`
 * names the mapping list they were placed on; `have_prev` is 0 until one
 * sample of this placement succeeded. */
static struct {
	uintptr_t addr[NWIN];
	size_t pages[NWIN];
	unsigned char prev[NWIN][WIN_PAGES / 8];
	int n, have_prev;
	uint64_t sig;
	unsigned hit, adjacent; /* last sample: 2 MiB groups of windows that
	                           gained pages, and those that follow such a
	                           group (oms_advise_spread) */
} W;

/* Set by the entry layer (init.c): read-around sits below the policies
 * that own the redirected regions and the large folios, and reaches them
 * only through these (no call up the layers). */
static size_t no_ranges(struct oms_range *out, size_t cap, int advice)
{
	(void)out, (void)cap, (void)advice;
	return 0;
}
static int no_watch(void)
{
	return 0;
}
static size_t (*region_ranges)(struct oms_range *, size_t, int) = no_ranges;
static int (*huge_watch)(void) = no_watch;

void oms_advise_hook(size_t (*ranges)(struct oms_range *out, size_t cap, int advice),
		     int (*watch)(void))
{
	region_ranges = ranges ? ranges : no_ranges;
	huge_watch = watch ? watch : no_watch;
}

static size_t collect(void)
{
	size_t n = 0;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b && n < MAX_RANGES; b = b->next)
		ranges[n++] = (struct oms_range){b->addr, b->cap};
	pthread_mutex_unlock(&oms_lock);
	return n + region_ranges(ranges + n, MAX_RANGES - n, -1);
}

/* The advice goes to each mapping while the table that owns it is locked:
 * a mapping listed there is still ours and still mapped (big.c unlists a
 * block under oms_lock before unmapping it or handing it to the cache;
 * region_map.c unmaps under oms_map_lock), so memory the program has unmapped
 * and mapped again for itself can never get our hint.  The cost is one
 * madvise per mapping under each lock, once per change of mode (rare: a
 * few per run), a VMA flag update each. */
static void apply(int mode)
{
	size_t n = 0;
	__atomic_store_n(&oms_advise_mode, mode, __ATOMIC_RELAXED);
	W.have_prev = 0; /* read-around changes what becomes resident */
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next, n++)
		oms_sys_madvise(b->addr, b->cap, mode);
	pthread_mutex_unlock(&oms_lock);
	n += region_ranges(ranges, MAX_RANGES, mode);
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
	int mode = __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED);
	/* Waste: most of what was read was not touched, and the program
	 * still faults: every fault started a read-around of its own.  The
	 * second test keeps a sequential reader NORMAL whose large folios
	 * are mapped 2 MiB at a time, which makes `touched` far too low. */
	if (mode == MADV_NORMAL)
		return busy && touched * 4 < s.read_bytes && s.read_bytes < s.majflt * MISS_BYTES
			       ? MADV_RANDOM
			       : MADV_NORMAL;
	if (s.new_pages >= SEQ_MIN_NEW && s.new_pages >= SEQ_RUN * s.new_runs)
		return MADV_NORMAL;
	return MADV_RANDOM;
}

int oms_advise_probe_step(struct oms_advise_probe *p, int mode, int want, int faulting)
{
	unsigned gap = p->gap ? p->gap : OMS_ADVISE_PROBE_MIN;
	if (p->ticks) { /* a try under way */
		if (mode == MADV_RANDOM && want == MADV_NORMAL) {
			p->gap = gap * 2 < OMS_ADVISE_PROBE_MAX ? gap * 2 : OMS_ADVISE_PROBE_MAX;
			p->ticks = 0;
		} else if (faulting && ++p->ticks > OMS_ADVISE_PROBE_TICKS) {
			/* Only busy ticks count: a pause proves nothing. */
			p->gap = 0; /* it held: random access */
			p->ticks = 0;
		}
		p->run = 0;
		return want;
	}
	if (mode != MADV_NORMAL || want != MADV_NORMAL || !faulting) {
		p->run = 0;
		return want;
	}
	if (++p->run < gap)
		return want;
	p->run = 0;
	p->ticks = 1;
	return MADV_RANDOM;
}

/* A cheap name for the list of ranges: the windows stay while it holds. */
static uint64_t signature(const struct oms_range *r, size_t n)
{
	uint64_t h = n;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uintptr_t)r[i].addr ^ ((uint64_t)r[i].len << 17)) * 0x100000001b3ull;
	return h;
}

/* NWIN windows at even steps through the ranges laid end to end. */
static void place(const struct oms_range *r, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += r[i].len / oms_page;
	W.n = 0;
	W.have_prev = 0;
	if (!total)
		return;
	uint64_t step = total / NWIN ? total / NWIN : 1;
	uint64_t len = step < WIN_PAGES ? step : WIN_PAGES;
	size_t i = 0;
	uint64_t base = 0; /* pages before range i */
	/* Centred in their steps; a small total is tiled from its start. */
	for (uint64_t at = (step - len) / 2; at < total && W.n < NWIN; at += step) {
		while (base + r[i].len / oms_page <= at)
			base += r[i++].len / oms_page;
		uint64_t left = r[i].len / oms_page - (at - base);
		W.addr[W.n] = (uintptr_t)r[i].addr + (at - base) * oms_page;
		W.pages[W.n] = len < left ? len : left;
		W.n++;
	}
}

/* One group of windows done: count it if it gained pages, and whether the
 * group before it did too. */
static void spread_add(int hit, int *prev_hit)
{
	W.hit += (unsigned)hit;
	W.adjacent += (unsigned)(hit && *prev_hit);
	*prev_hit = hit;
}

void oms_advise_sample_pages(const struct oms_range *r, size_t n, uint64_t *new_pages,
			     uint64_t *new_runs)
{
	*new_pages = *new_runs = 0;
	uint64_t sig = signature(r, n);
	if (sig != W.sig || !W.n) {
		W.sig = sig;
		place(r, n);
	}
	int ok = W.n > 0;
	int counted = 0; /* the current stretch of resident pages is counted */
	/* Windows in the same 2 MiB group count as one: windows closer than
	 * that would each see the same large folio.  Groups are neighbours
	 * when they follow each other in window order. */
	uintptr_t group = UINTPTR_MAX;
	int group_hit = 0, prev_hit = 0;
	W.hit = W.adjacent = 0;
	for (int w = 0; w < W.n; w++) {
		uint64_t before = *new_pages;
		unsigned char vec[WIN_PAGES];
		if (mincore((void *)W.addr[w], W.pages[w] * oms_page, vec) < 0) {
			ok = 0; /* unmapped meanwhile: place again next time */
			W.sig = 0;
			*new_pages = *new_runs = 0;
			break;
		}
		/* A stretch goes on into the next window only if it adjoins. */
		if (w && W.addr[w] != W.addr[w - 1] + W.pages[w - 1] * oms_page)
			counted = 0;
		for (size_t p = 0; p < W.pages[w]; p++) {
			int cur = vec[p] & 1;
			unsigned char *bits = &W.prev[w][p / 8], bit = (unsigned char)(1u << (p % 8));
			int is_new = W.have_prev && cur && !(*bits & bit);
			if (!cur)
				counted = 0;
			if (is_new) {
				++*new_pages;
				if (!counted)
					++*new_runs;
				counted = 1;
			}
			*bits = cur ? (unsigned char)(*bits | bit) : (unsigned char)(*bits & ~bit);
		}
		if (W.addr[w] / SPREAD_GROUP != group) {
			spread_add(group_hit, &prev_hit);
			group = W.addr[w] / SPREAD_GROUP;
			group_hit = 0;
		}
		group_hit |= *new_pages > before;
	}
	spread_add(group_hit, &prev_hit);
	if (!ok)
		W.hit = W.adjacent = 0;
	W.have_prev = ok;
}

void oms_advise_spread(unsigned *hit, unsigned *adjacent)
{
	*hit = W.hit;
	*adjacent = W.adjacent;
}

unsigned oms_advise_wanted_ms(void)
{
	/* Large folios must be given up within a tick of random paging
	 * starting (huge.c): their owner ticks fast as long as it has some,
	 * idle or not (a getrusage a tick when idle), so that the sample
	 * before the paging exists. */
	return active || huge_watch() ? OMS_ADVISE_FAST_MS : 0;
}

void oms_advise_tick(void)
{
	struct rusage ru;
	if (!__atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED)) {
		primed = active = 0; /* nothing of ours to advise: no syscall */
		return;
	}
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
	 * the program faulting or reading.  An idle program holding a large
	 * buffer is left alone between the job's own ticks (unless it
	 * has large folios: oms_advise_wanted_ms). */
	active = s.read_bytes || s.majflt;
	/* In RANDOM mode the windows are sampled every tick that had faults
	 * (a fill of fresh memory too), so that the first tick of a
	 * sequential read-back is judged at once.  They are judged only while
	 * the program reads from disk: a fill is contiguous too, and must
	 * stay RANDOM (it would read back what it has just written). */
	int judged = s.read_bytes >= BUSY_BYTES * s.ms / 1000 / 4;
	W.hit = W.adjacent = 0;
	int huge = huge_watch();
	if (was_huge && !huge)
		W.have_prev = 0; /* what became resident under large folios says nothing */
	was_huge = huge;
	if (huge || __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED) == MADV_RANDOM) {
		if (!s.majflt) {
			/* Idle: no syscalls; start again later.  Under large
			 * folios the last look stays, so that the first tick of
			 * paging after a pause is judged at once. */
			if (!huge)
				W.have_prev = 0;
		} else
			oms_advise_sample_pages(ranges, collect(), &s.new_pages, &s.new_runs);
		if (!judged)
			s.new_pages = s.new_runs = 0; /* kept current, not judged */
	}
	/* While large folios are on, every refault fills a whole window, so
	 * runs of new pages say nothing: read-around stays as it is until
	 * huge.c has given them up, and that tick's sample is not judged
	 * either.  The windows are sampled meanwhile in any mode, for huge.c. */
	unsigned hit, adjacent;
	oms_advise_spread(&hit, &adjacent);
	last_sample.majflt = s.majflt;
	last_sample.hit = judged ? hit : 0;
	last_sample.adjacent = judged ? adjacent : 0;
	last_sample.fresh = 1; /* for huge.c's job, which runs next */
	if (huge)
		return;
	int mode = __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED);
	int faulting = s.majflt && s.read_bytes >= BUSY_BYTES * s.ms / 1000;
	int want = oms_advise_probe_step(&probe, mode, oms_advise_step(s), faulting);
	want = oms_advise_allowed(want);
	if (want != mode)
		oms_debug("read-around: tick of %llu ms: %llu major, %llu minor faults, %llu MiB read; "
			  "windows: %llu new pages in %llu runs%s", (unsigned long long)s.ms,
			  (unsigned long long)s.majflt, (unsigned long long)s.minflt,
			  (unsigned long long)(s.read_bytes >> 20), (unsigned long long)s.new_pages,
			  (unsigned long long)s.new_runs,
			  mode == MADV_NORMAL && probe.ticks == 1 ? ": tried off" : "");
	if (want != __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED))
		apply(want);
}

int oms_advise_take_sample(uint64_t *majflt, unsigned *hit, unsigned *adjacent)
{
	if (!last_sample.fresh)
		return 0;
	last_sample.fresh = 0;
	*majflt = last_sample.majflt;
	*hit = last_sample.hit;
	*adjacent = last_sample.adjacent;
	return 1;
}

void oms_advise_start(void)
{
	__atomic_store_n(&oms_advise_mode, MADV_RANDOM, __ATOMIC_RELAXED);
}

void oms_advise_reset(void)
{
	/* The mode stays: it describes the mappings, which a fork child keeps.
	 * The counters restart: a child's rusage starts from zero. */
	primed = active = was_huge = 0; /* ra_room stays: same cgroup, same disk */
	memset(&probe, 0, sizeof probe);
	last_sample.fresh = 0;
	W.n = 0;
	W.have_prev = 0;
	W.sig = 0;
}

/* The value of "KEY N" in a text of such lines, or 0. */
static uint64_t field(const char *text, const char *key)
{
	size_t k = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (!strncmp(l, key, k) && l[k] == ' ')
			return strtoull(l + k + 1, NULL, 10);
	return 0;
}

/* The limit of a cgroup v2 directory `dir` and of every one above it: the
 * lowest that is set, or 0.  `dir` is "/sys/fs/cgroup/PATH", cut in place. */
static uint64_t limit_v2(char *dir, size_t root_len)
{
	uint64_t low = 0;
	for (;;) {
		char path[OMS_PATH_MAX + 16], buf[64];
		snprintf(path, sizeof path, "%s/memory.max", dir);
		if (oms_os.read_file(path, buf, sizeof buf) > 0 && buf[0] >= '0' && buf[0] <= '9') {
			uint64_t v = strtoull(buf, NULL, 10);
			if (v && (!low || v < low))
				low = v;
		}
		char *cut = strrchr(dir, '/');
		if (!cut || (size_t)(cut - dir) < root_len)
			return low;
		*cut = '\0';
	}
}

/* The memory cgroup's limit from cgroup v1's memory.stat at `path` (the
 * process's cgroup below the mount), or 0. */
static uint64_t limit_v1(const char *path, size_t n)
{
	char file[OMS_PATH_MAX + 32], st[4096];
	int w = snprintf(file, sizeof file, "/sys/fs/cgroup/memory%.*s/memory.stat", (int)n, path);
	if (w < 0 || (size_t)w >= sizeof file || oms_os.read_file(file, st, sizeof st) <= 0) {
		/* In a container the mount shows its own cgroup, whatever
		 * the path says. */
		if (oms_os.read_file("/sys/fs/cgroup/memory/memory.stat", st, sizeof st) <= 0)
			return 0;
	}
	uint64_t v = field(st, "hierarchical_memory_limit");
	return v < NO_LIMIT ? v : 0;
}

uint64_t oms_advise_cgroup_limit(void)
{
	char cg[8192];
	ssize_t got = oms_os.read_file("/proc/self/cgroup", cg, sizeof cg);
	if (got <= 0)
		return 0;
	if ((size_t)got == sizeof cg - 1) { /* cut off: the last line may be a piece */
		char *nl = strrchr(cg, '\n');
		if (!nl)
			return 0;
		nl[1] = '\0';
	}
	const char *v2 = NULL;
	size_t v2_len = 0;
	for (char *l = cg; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char *c = strchr(l, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		if (!p)
			continue;
		size_t n = strcspn(p + 1, "\n");
		if (p == c + 1) { /* "0::/path": the unified hierarchy, if v1 has no memory */
			v2 = p + 1;
			v2_len = n;
			continue;
		}
		/* v1: "ID:a,memory,b:/path"; memory.stat says the lowest
		 * limit of it and its ancestors. */
		int mem = 0;
		for (const char *t = c + 1; t < p; t += strcspn(t, ",:") + 1)
			mem |= !strncmp(t, "memory", 6) && (t[6] == ',' || t[6] == ':');
		if (mem)
			return limit_v1(p + 1, n);
	}
	if (!v2)
		return 0;
	char dir[OMS_PATH_MAX];
	int w = snprintf(dir, sizeof dir, "/sys/fs/cgroup%.*s", (int)v2_len, v2);
	if (w < 0 || (size_t)w >= sizeof dir)
		return 0;
	while (w > 1 && dir[w - 1] == '/')
		dir[--w] = '\0';
	uint64_t v = limit_v2(dir, strlen("/sys/fs/cgroup"));
	return v < NO_LIMIT ? v : 0;
}

uint64_t oms_advise_window(unsigned maj, unsigned min)
{
	/* A partition has no queue of its own: its disk's is one up. */
	static const char *const fmt[] = {"/sys/dev/block/%u:%u/queue/read_ahead_kb",
					  "/sys/dev/block/%u:%u/../queue/read_ahead_kb"};
	for (int i = 0; i < 2; i++) {
		char path[96], buf[32];
		snprintf(path, sizeof path, fmt[i], maj, min);
		if (oms_os.read_file(path, buf, sizeof buf) > 0 && buf[0] >= '0' && buf[0] <= '9')
			return strtoull(buf, NULL, 10) << 10;
	}
	return 0;
}

int oms_advise_room(unsigned maj, unsigned min)
{
	int e = errno; /* before main: the failed opens must not show */
	uint64_t win = oms_advise_window(maj, min), lim = oms_advise_cgroup_limit();
	if (!win)
		win = RA_GUESS; /* overlayfs, btrfs, NFS: no block queue to ask */
	ra_room = !lim || win * RA_SHARE <= lim;
	if (!ra_room)
		oms_log(OMS_LOG_INFO, "read-around stays off: the disk reads %llu KiB around a fault and this "
				      "memory cgroup's limit is %llu MiB", (unsigned long long)(win >> 10),
			(unsigned long long)(lim >> 20));
	errno = e;
	return ra_room;
}

int oms_advise_allowed(int want)
{
	return ra_room ? want : MADV_RANDOM;
}
