/* forkback.h - memory frozen at fork goes back into its files once no
 * child can see it (issue 17; big.c says why fork freezes it).
 *
 * Detection: a family that every process seeing the snapshot belongs to.
 * A fork that leaves something frozen (now or from an earlier fork, ours
 * or our parent's) makes sure this process is in a family - one memfd -
 * and, in the prepare handler, opens a new open file description of it
 * for the child, takes a read lock (F_OFD_SETLK) on it and maps it
 * PROT_NONE at our spare page; the parent handler drops its fd and its
 * view of it, the child handler drops the parent's.  So each member holds
 * its own description, locked, and a view of it in its address space: the
 * lock goes when that address space does (exec, exit - also of the last
 * process it forked without exec), and not when a daemon closes every
 * descriptor, which a close-on-exec pipe would not survive (the first
 * design: its live child saw the parent's later writes).  A member is
 * alone when its read lock can be made a write lock: then no other
 * process maps the memory frozen at those forks, and this one - parent
 * or surviving child - switches it back, and leaves the family.  No
 * signal, no lease: a lease break would send SIGIO to the program.  The
 * ticker's job tests that; without the thread the program's own calls do
 * (wait*, the large paths).  Both pages are reserved at start, before the
 * program could have made a hole there that it might later map over.
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
 * Held or alone, the family is tested once more before the switch: no
 * program thread can start a fork then, and one half-way (its handlers
 * hold fb_mu) makes the test fail.  When threads cannot be held (a tracer
 * already has them, Yama, valgrind) the memory stays copy-on-write.
 *
 * Lock: fb_mu guards the family and its two pages; a leaf, taken last in
 * the fork prepare handler (after oms_lock).  The switch takes oms_map_lock, then
 * oms_lock, one after the other and only with trylock: a wait() called from
 * a signal handler may interrupt this very thread inside the shim.
 */
#ifndef OMS_FORKBACK_H
#define OMS_FORKBACK_H

/* Nonzero while the slow paths must call oms_forkback_run: a switch is due,
 * or (no thread) the family is to be tested.  One relaxed load. */
extern int oms_forkback_due;
/* Nonzero from a fork that froze something until the switch has run. */
extern int oms_forkback_armed;

/* The constructor: reserve the anchor page. */
void oms_forkback_init(void);
/* Test the family if due, and switch if this process is alone in it. */
void oms_forkback_run(void);
/* After a wait-family call returned: poll now, and switch if due. */
void oms_forkback_after_wait(void);

static inline void oms_forkback_check(void)
{
	if (__builtin_expect(__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED), 0))
		oms_forkback_run();
}

/* The ticker's job: test the family; switch when alone. */
void oms_forkback_job(void);
/* Its fast period: while children are watched, test every this many ms. */
unsigned oms_forkback_wanted_ms(void);
#define OMS_FORKBACK_FAST_MS 50

/* Fork handlers: prepare runs last (all other locks held). */
void oms_forkback_prepare(void);
void oms_forkback_parent(void);
void oms_forkback_child(void);

#endif
