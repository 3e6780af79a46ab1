/* ticker.h - the shim's one background thread, knowing no job by name.
 *
 * Jobs register a period and a function (init.c does, at start-up, before
 * the thread starts); the thread runs each job when its period has passed,
 * in registration order.  A job may also ask, through `fast`, for a
 * shorter period for now (read-around does while the program faults):
 * the thread then wakes for it early and runs it alone.
 *
 * The thread ("oomshield-dfrag", kept for the tools and scripts that look
 * for it) blocks every signal, maps nothing after start-up, never keeps a
 * process alive whose main() has ended with pthread_exit, stays out of a
 * fork child until the child goes on allocating (oms_ticker_poke), steps
 * aside for set*id calls (oms_ticker_pause/resume, xid.c) and is stopped
 * and joined at exit (oms_ticker_stop).  OOMSHIELD_THREAD=0 means that
 * init.c never starts it: no job runs then.
 *
 * LOCKS (ticker.c).  None is held while a job runs.
 *   pause_mu  guards starting and joining the thread (`thr`, `thr_pid`,
 *             `joinable` writes).  Held across a program's set*id call.
 *             Taken under it: sleep_mu (to tell the thread to stop); the
 *             thread is joined while it is held.  Never taken by the
 *             thread itself, so the join cannot deadlock.
 *   sleep_mu  guards `stop` and the thread's sleep (sleep_cv).  A leaf.
 *   fork_mu   held while the thread has /proc/self/stat open (a fork
 *             child must not inherit the fd); taken by the fork handler.
 *             A leaf.
 * In the fork handlers ticker's fork_mu comes first (init.c), then the
 * jobs' own fork locks (defrag.c's), then oms_map_lock, then oms_lock.
 */
#ifndef OMS_TICKER_H
#define OMS_TICKER_H

/* The thread's comm.  The kernel keeps 15 characters; a longer name makes
 * pthread_setname_np fail with ERANGE. */
#define OMS_TICKER_THREAD_NAME "oomshield-dfrag"
#define OMS_TICKER_MAX_JOBS 8

/* Register a job: `fn` runs on the thread every `period_ms` (at least 1);
 * `fast`, if not NULL, is asked before each sleep and may return a
 * shorter period wanted now (0: none).  Only before oms_ticker_start (or
 * after oms_ticker_reset).  0, or -1 if the table is full. */
int oms_ticker_add(const char *name, unsigned period_ms, unsigned (*fast)(void),
		   void (*fn)(void));

/* Start the thread (idempotent; nothing without jobs).  From the
 * constructor, on the program's thread. */
void oms_ticker_start(void);
int oms_ticker_started(void); /* the thread was started in this process */

void oms_ticker_atfork_prepare(void);
void oms_ticker_atfork_parent(void);
void oms_ticker_atfork_child(void); /* after malloc's locks are usable */

/* Start the thread a fork child deferred, once the shortest period has
 * passed.  Called, with no lock held, at the top of the large-allocation
 * and large-free paths and of munmap - never from mprotect or madvise,
 * which runtimes call from signal handlers (pthread_create is not safe
 * there). */
void oms_ticker_poke(void);

/* Around the program's set*id calls (xid.c).  glibc makes every thread
 * repeat such a call and aborts the process if one thread's fails; ours
 * would fail where its credentials differ from the caller's (capabilities
 * are per thread).  So the thread is stopped and joined first and started
 * again after - unless its capabilities are the caller's.  pause returns
 * -1 (not ours to touch: no thread, or a vfork child), 0 (nothing stopped)
 * or 1 (stopped); pass that to resume.  From pause to resume, other set*id
 * calls and a deferred start wait (pause_mu). */
int oms_ticker_pause(void);
void oms_ticker_resume(int paused);

/* At exit: stop the thread and reap it (waits 200 ms at most: a job under
 * way may block for seconds). */
void oms_ticker_stop(void);

/* The thread's tid (0 before it has started), for the fork switch-back's
 * "no program thread but the caller" test (forkback.c). */
#include <sys/types.h>
pid_t oms_ticker_tid(void);

/* Make the thread ask every job's `fast` again now (a job's wish changed
 * while it slept: a fork left something to watch).  Takes sleep_mu. */
void oms_ticker_wake(void);

/* Tests: forget the jobs and the started flag (no thread may run). */
void oms_ticker_reset(void);

#endif
