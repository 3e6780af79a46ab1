/* defrag.h - DefragTick (issue 4): a job of the background thread
 * (ticker.h).
 *
 * Once per OOMSHIELD_DEFRAG_INTERVAL_MS the job reads the fragmentation
 * of one zone per NUMA node, and when it stays bad, asks the kernel to
 * compact (and after many bad ticks, to drop the page cache first), so
 * that high-order allocations do not end in the OOM killer.  The policy is
 * the seed's DefragTick, kept exactly; see docs/defrag.md.
 *
 * The settings, all in oms_cfg (config.h), read once before the thread
 * starts and never written afterwards:
 *   defrag              OOMSHIELD_DEFRAG (1): 0 = no DefragTick job (the
 *                       thread still runs read-around and cache decay;
 *                       OOMSHIELD_THREAD=0 is "no thread").
 *   defrag_dry_run      OOMSHIELD_DEFRAG_DRY_RUN (0): log, never write.
 *   defrag_interval_ms  OOMSHIELD_DEFRAG_INTERVAL_MS (1000): one tick.
 *   frag_index_milli    OOMSHIELD_FRAG_INDEX (0.500): an order is safe
 *                       while its index is below this.
 *   safe_level          OOMSHIELD_SAFE_LEVEL (9): fewer safe leading
 *                       orders than this = fragmented.
 *   defrag_min_gap_ms   OOMSHIELD_DEFRAG_MIN_GAP_MS (5000): at most one
 *                       compaction per gap, per process and system-wide.
 *   drop_caches_after   OOMSHIELD_DROP_CACHES_AFTER (20): fragmented ticks
 *                       in a row before drop_caches; 0 = never.
 *   zone                OOMSHIELD_ZONE ("auto"): zone watched on each node.
 *   metric              OOMSHIELD_DEFRAG_METRIC (extfrag | unusable).
 *   proc_root           OOMSHIELD_PROC_ROOT: prefix of every /proc, /sys
 *                       and /run path, for tests.
 *   secure              AT_SECURE: monitor only, never write /proc.
 */
#ifndef OMS_DEFRAG_H
#define OMS_DEFRAG_H

#include <stddef.h>
#include <stdint.h>

/* Nodes are tracked in a 64-bit mask; a node >= 63 sets the top bit, which
 * means "compact everything" through /proc/sys/vm/compact_memory. */
#define OMS_DEFRAG_NODE_ALL ((uint64_t)1 << 63)

/* Actions the state machine asks for, and done() reports back. */
enum {
	OMS_DEFRAG_COMPACT = 1,
	OMS_DEFRAG_DROP = 2,
	OMS_DEFRAG_NOCOUNT = 4, /* done(): a dry run or another process acted */
};

/* The seed's DefragTick state, plus statistics.  Owned by the ticker's
 * thread.  The statistics (ticks, frag_ticks, compactions, drops,
 * min_level) are read and written only with relaxed atomics, everywhere,
 * hence `unsigned`/`int` (a 64-bit atomic is not lock-free everywhere on
 * i386); the other fields are the thread's alone. */
struct oms_defrag_state {
	int pending;        /* a compaction is owed */
	int acted;          /* last_ms is meaningful */
	int inert;          /* writes impossible (no root, secure): count only */
	unsigned fragged;   /* fragmented ticks in a row */
	uint64_t last_ms;   /* last compaction attempt, monotonic */
	uint64_t nodes;     /* nodes found fragmented since the last compaction */
	unsigned ticks, frag_ticks, compactions, drops;
	int min_level;      /* lowest safety level seen, -1 = none yet */
};

void oms_defrag_state_init(struct oms_defrag_state *s);

/* One check's result -> the actions due now (a mask of COMPACT / DROP).
 * Pure: policy from oms_cfg, time from the caller. */
unsigned oms_defrag_step(struct oms_defrag_state *s, uint64_t now, int level,
			 int fragmented, uint64_t nodes);

/* Report what step()'s caller achieved at `now`: DROP resets the count,
 * COMPACT clears the pending compaction; an attempt that achieved neither
 * still waits a full gap before the next one, so no failure can loop. */
void oms_defrag_done(struct oms_defrag_state *s, unsigned done, uint64_t now);

/* One tick of the thread, against oms_os and oms_cfg: read, decide, act.
 * Returns the actions performed (COMPACT/DROP; dry-run counts as done). */
unsigned oms_defrag_tick(void);

/* Forget all state (zones, sources, flags, statistics); tests call this
 * between cases, the fork child before it restarts the thread. */
void oms_defrag_reset(void);

/* A copy of the thread's state, for tests and statistics: the counters
 * are read atomically, the rest is meaningful only while no tick runs. */
void oms_defrag_snapshot(struct oms_defrag_state *out);

/* Path of the system-wide lock file chosen by the last action, "" if none. */
const char *oms_defrag_lock_path(void);

/* Entry points for init.c.  init() (program thread, start-up, before
 * the ticker starts) maps the read buffer and turns the statistics on; the
 * ticker then runs oms_defrag_tick every OOMSHIELD_DEFRAG_INTERVAL_MS.
 * fork_mu (defrag.c) is a leaf, held around every moment the ticker's
 * thread has a file open here; the fork handlers take it. */
void oms_defrag_init(void);
void oms_defrag_atfork_prepare(void);
void oms_defrag_atfork_parent(void);
void oms_defrag_atfork_child(void);
int oms_defrag_stats(char *buf, size_t cap);

#endif
