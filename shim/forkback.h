/* forkback.h - memory frozen at fork goes back into its files once no
 * child can see it (issue 17; big.c says why fork freezes it).
 *
 * Detection.  Each fork that leaves something frozen makes a close-on-exec
 * pipe in the prepare handler.  The parent keeps only the read end, the
 * child only the write end, which closes when the child execs or exits
 * (also as a zombie).  A grandchild forked without exec inherits it and
 * delays the switch (conservative).  When every read end has reached EOF,
 * a switch is due (`oms_forkback_due`).  The ticker's job polls the read
 * ends; without the thread the program's own calls do.
 *
 * The switch.  The kernel has no atomic "copy these private pages into the
 * file and map it shared", so it runs only where no program thread can
 * write meanwhile: on the program's thread, inside its next call into the
 * shim (the large-allocation slow paths, munmap/mmap/mremap, and right
 * after wait/waitpid/wait3/wait4/waitid return), only when the process has
 * no thread but the caller and ours (/proc/self/task), with every signal
 * blocked.  Then big.c and region_back.c write each private page into the
 * file and map the file shared again.  A multi-threaded program never
 * switches back: there is no way to stop its other threads without
 * changing what they see (EINTR from nanosleep, poll, read...).
 *
 * Lock: fb_mu guards the list of read ends; a leaf, taken last in the fork
 * prepare handler (after oms_lock).  The switch takes oms_map_lock, then
 * oms_lock, one after the other and only with trylock: a wait() called from
 * a signal handler may interrupt this very thread inside the shim.
 */
#ifndef OMS_FORKBACK_H
#define OMS_FORKBACK_H

/* Nonzero while the slow paths must call oms_forkback_run: a switch is due,
 * or (no thread) read ends are to be polled.  One relaxed load. */
extern int oms_forkback_due;
/* Nonzero while read ends are watched or a switch is due. */
extern int oms_forkback_armed;

void oms_forkback_run(void);
/* After a wait-family call returned: poll now, and switch if due. */
void oms_forkback_after_wait(void);

static inline void oms_forkback_check(void)
{
	if (__builtin_expect(__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED), 0))
		oms_forkback_run();
}

/* The ticker's job: poll the read ends; sets the due flag. */
void oms_forkback_job(void);
/* Its fast period: while read ends are watched, poll every this many ms. */
unsigned oms_forkback_wanted_ms(void);
#define OMS_FORKBACK_FAST_MS 50

/* Fork handlers: prepare runs last (all other locks held). */
void oms_forkback_prepare(void);
void oms_forkback_parent(void);
void oms_forkback_child(void);

#endif
