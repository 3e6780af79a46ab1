/* forkback.h - memory frozen at fork goes back into its files once no
 * child can see it (issue 17; big.c says why fork freezes it).
 *
 * Detection: a canary page.  Who can still see the snapshot is exactly
 * who shares the canary: a private anonymous page of ours, written once
 * and read-only since, so that fork shares it copy-on-write and nobody
 * ever breaks the sharing.  Every process forked from us - through the
 * fork handlers or not (_Fork, syscall(SYS_fork)), and every process
 * forked from those without exec - maps the same physical page until it
 * execs or exits; closing descriptors does not matter.  pagemap's
 * "exclusively mapped" bit (oms_os_page_alone) says when no other process
 * maps it: then this process - the parent, or a child that outlived it -
 * switches back.  The first fork of an epoch (one that freezes memory
 * while nothing is armed) takes a fresh canary unless ours is alone, so
 * that a child forked earlier, which cannot see this memory, does not
 * hold it frozen.  Two designs failed before: a close-on-exec pipe (a
 * daemon child closes it and lives on, and then saw the parent's writes)
 * and a memfd per family with OFD locks (a raw fork shares the parent's
 * description and goes unseen).  The ticker's job tests every 50 ms;
 * without the thread the program's own calls do (wait*, the large paths).
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
 * Held or alone, the canary is tested once more before the switch: no
 * program thread can start a fork then, and one half-way (its handlers
 * hold fb_mu) makes the test fail.  When threads cannot be held (a tracer
 * already has them, Yama, valgrind) the memory stays copy-on-write.
 *
 * Lock: fb_mu guards the canary; a leaf, taken last in
 * the fork prepare handler (after oms_lock).  The switch takes oms_map_lock, then
 * oms_lock, one after the other and only with trylock: a wait() called from
 * a signal handler may interrupt this very thread inside the shim.
 */
#ifndef OMS_FORKBACK_H
#define OMS_FORKBACK_H

/* Nonzero while the slow paths must call oms_forkback_run: a switch is due,
 * or (no thread) the canary is to be tested.  One relaxed load. */
extern int oms_forkback_due;
/* Nonzero from a fork that froze something until the switch has run. */
extern int oms_forkback_armed;

/* The constructor: reserve the anchor page. */
void oms_forkback_init(void);
/* Test the canary if due, and switch if this process is alone with it. */
void oms_forkback_run(void);
/* After a wait-family call returned: poll now, and switch if due. */
void oms_forkback_after_wait(void);

static inline void oms_forkback_check(void)
{
	if (__builtin_expect(__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED), 0))
		oms_forkback_run();
}

/* The ticker's job: test the canary; switch when alone. */
void oms_forkback_job(void);
/* Its fast period: while children are watched, test every this many ms. */
unsigned oms_forkback_wanted_ms(void);
#define OMS_FORKBACK_FAST_MS 50

/* Fork handlers: prepare runs last (all other locks held). */
void oms_forkback_prepare(void);
void oms_forkback_parent(void);
void oms_forkback_child(void);

#endif
