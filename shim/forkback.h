/* forkback.h - memory frozen at fork goes back into its files once no
 * child can see it (issue 17; big.c says why fork freezes it).
 *
 * Detection: a sentinel the children hold in their address space.  A
 * fork that leaves something frozen maps, in the prepare handler, a fresh
 * writable open of one memfd (PROT_NONE, one page) over our anchor page;
 * the parent handler puts the anchor back, the child keeps the view.  That
 * open lives as long as some process still has an address space forked
 * from this one's snapshot: it goes when the child execs or exits (or the
 * last of its forked descendants does), and not when a daemon closes every
 * descriptor, which a close-on-exec pipe end would not survive.  The
 * parent's read-only open of the memfd can take a read lease exactly when
 * no writable open is left (oms_os_sentinel_free): then a switch is due.
 * The ticker's job tests that; without the thread the program's own calls
 * do (wait*, the large paths).  The anchor is reserved at start, before
 * the program could have made a hole there that it might later map over.
 *
 * The switch.  The kernel has no atomic "copy these private pages into the
 * file and map it shared", so no program thread may run during it: big.c
 * and region_back.c write each private page into the file and map the file
 * shared again, with every signal of the switching thread blocked, while
 *  - a single-threaded program is inside its own call into the shim (the
 *    wait family right after the real call returns, the large-allocation
 *    paths, mmap/munmap/mremap): its only thread is the one switching;
 *  - otherwise every other program thread is held still by stop.c (ptrace
 *    from a helper: invisible to the program, see stop.h) - from our
 *    ticker thread as soon as its test sees the children gone, or from a
 *    program thread's call above when there is no ticker.
 * Held or alone, the sentinel is tested once more before the switch: no
 * program thread can start a fork then, and one half-way (its handlers
 * hold fb_mu) makes the test fail.  When threads cannot be held (a tracer
 * already has them, Yama, valgrind) the memory stays copy-on-write.
 *
 * Lock: fb_mu guards the sentinel and the anchor; a leaf, taken last in
 * the fork prepare handler (after oms_lock).  The switch takes oms_map_lock, then
 * oms_lock, one after the other and only with trylock: a wait() called from
 * a signal handler may interrupt this very thread inside the shim.
 */
#ifndef OMS_FORKBACK_H
#define OMS_FORKBACK_H

/* Nonzero while the slow paths must call oms_forkback_run: a switch is due,
 * or (no thread) the sentinel is to be tested.  One relaxed load. */
extern int oms_forkback_due;
/* Nonzero from a fork that froze something until the switch has run. */
extern int oms_forkback_armed;

/* The constructor: reserve the anchor page. */
void oms_forkback_init(void);
/* Test the sentinel if due, and switch if no child is left. */
void oms_forkback_run(void);
/* After a wait-family call returned: poll now, and switch if due. */
void oms_forkback_after_wait(void);

static inline void oms_forkback_check(void)
{
	if (__builtin_expect(__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED), 0))
		oms_forkback_run();
}

/* The ticker's job: test the sentinel; sets the due flag. */
void oms_forkback_job(void);
/* Its fast period: while children are watched, test every this many ms. */
unsigned oms_forkback_wanted_ms(void);
#define OMS_FORKBACK_FAST_MS 50

/* Fork handlers: prepare runs last (all other locks held). */
void oms_forkback_prepare(void);
void oms_forkback_parent(void);
void oms_forkback_child(void);

#endif
