/* forkback.c - see forkback.h.
 *
 * Invariants (under fb_mu)
 * - canary: NULL, or a private anonymous page of ours, written once when
 *   made and read-only since, so that no process ever breaks its sharing:
 *   every process forked from us since it was made maps the same physical
 *   page until it execs or exits, and pagemap's exclusive bit says when
 *   none is left.  A new one is made by the first fork of an epoch (one
 *   that freezes memory while nothing was armed) unless ours is alone, so
 *   that children forked before the epoch (which cannot see its frozen
 *   memory) do not hold it back.
 * - `blind`: memory is frozen and no canary tells who can see it (no page,
 *   no pagemap): no switch runs in this process again.  Frozen memory stays
 *   correct, only private.
 * - oms_forkback_armed is 1 while this process holds memory frozen at a
 *   fork (its own, or inherited from its parent) that a switch may give
 *   back; oms_forkback_due is 1 when the slow paths must call
 *   oms_forkback_run: there is no ticker thread to test the canary.
 * - owner: the pid these belong to; a vfork child (same memory, other pid,
 *   no fork handlers) never switches.
 */
#include "forkback.h"
#include "big.h"
#include "block.h"
#include "log.h"
#include "os.h"
#include "pieces.h"
#include "region.h"
#include "stats.h"
#include "stop.h"
#include "ticker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int oms_forkback_due;
int oms_forkback_armed;

static pthread_mutex_t fb_mu = PTHREAD_MUTEX_INITIALIZER;
static void *canary;
static int blind;
static pid_t owner;
static uint64_t retry_ms; /* next try when one failed */
/* do_switch: one at a time; refused: holding threads is refused for good
 * (ptrace, valgrind, qemu) - errno.  A fork child starts afresh. */
static int switching, refused;

/* Locked, the canary is never swapped out: pagemap's exclusive bit counts
 * only processes that map the page now, and a swapped-out canary faulted
 * back in by one of them would read "alone" there while the others still
 * hold it in swap.  A locked page stays resident for every process that
 * maps it; each locks it again (a lock is not inherited).  Without the
 * lock (RLIMIT_MEMLOCK 0) the canary works as long as there is no swap. */
static void lock_canary(void *c)
{
	syscall(SYS_mlock, c, (size_t)oms_page);
}

/* A fresh canary: its content unique to us (so that KSM, if the program
 * turned it on, never merges it with another page), then read-only. */
static void *new_canary(void)
{
	void *c = oms_sys_mmap(NULL, (size_t)oms_page, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	uint64_t *w = c;
	w[0] = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)c;
	w[1] = oms_os.now_ms();
	if (oms_os.mprotect(c, (size_t)oms_page, PROT_READ) < 0) {
		oms_sys_munmap(c, (size_t)oms_page);
		return NULL;
	}
	lock_canary(c);
	return c;
}

void oms_forkback_init(void)
{
	pthread_mutex_lock(&fb_mu);
	if (!canary)
		canary = new_canary();
	owner = getpid();
	pthread_mutex_unlock(&fb_mu);
	/* The thread polls the canary through it (os.c, "Kept files"); kept
	 * from the start, so that a fork adds no fd the program could count. */
	oms_os_keep("/proc/self/pagemap", O_RDONLY);
}

/* The slow paths test only when no thread of ours does. */
static void set_due_for_watch(void)
{
	if (!oms_ticker_tid())
		__atomic_store_n(&oms_forkback_due, 1, __ATOMIC_RELAXED);
}

static void go_blind(void)
{
	blind = 1;
	__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
}

/* Under fb_mu: 1 when no other process maps the canary, so none can see
 * the memory frozen at our forks (or our parent's). */
static int poll_locked(void)
{
	int r = canary ? oms_os_page_alone(canary) : -1;
	if (r < 0)
		go_blind(); /* no pagemap: never provable, stay frozen */
	return r == 1;
}

static void do_switch(int ticker);

/* Poll; 1 when a switch is due. */
static int poll_now(int *busy)
{
	*busy = 0;
	if (pthread_mutex_trylock(&fb_mu)) {
		*busy = 1;
		return 0;
	}
	int e = errno;
	int done = !blind && __atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED) && poll_locked();
	errno = e;
	pthread_mutex_unlock(&fb_mu);
	return done;
}

void oms_forkback_job(void)
{
	if (!__atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED))
		return;
	int busy;
	if (oms_os.now_ms() >= retry_ms && poll_now(&busy))
		do_switch(1);
}

unsigned oms_forkback_wanted_ms(void)
{
	return __atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED) &&
			       !__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED)
		       ? OMS_FORKBACK_FAST_MS
		       : 0;
}

/* Run the switch.  Every other program thread is held still first
 * (stop.h) unless there is none; `ticker`: the caller is our thread.  Only
 * one switch at a time (`switching`). */
static void do_switch(int ticker)
{
	static int warned;
	/* A handler on a small alternate stack (a SIGCHLD handler calling
	 * waitpid) has no room for the copy: our thread or the next call. */
	stack_t ss;
	if (!ticker && sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK))
		return;
	if (__atomic_exchange_n(&switching, 1, __ATOMIC_ACQUIRE))
		return;
	pid_t me = (pid_t)syscall(SYS_gettid), tt = oms_ticker_tid();
	int held = 0;
	/* The others are held before this thread blocks its signals: while
	 * the leader blocks one the program ignores, the kernel queues it
	 * instead of dropping it, and it would wake a thread not yet held in
	 * its epoll_wait with EINTR. */
	if (oms_os_only_threads(me, tt) != 1) {
		if (refused || oms_stop_others(ticker ? 0 : tt) < 0) {
			int e = refused ? refused : errno;
			/* Refused for good (ptrace, valgrind, qemu): from now on
			 * only a lone thread switches; a busy thread: retry. */
			if (e != EBUSY && e != EAGAIN && e != ENOMEM)
				refused = e;
			retry_ms = oms_os.now_ms() + 1000;
			__atomic_store_n(&switching, 0, __ATOMIC_RELEASE);
			oms_log_once(&warned, OMS_LOG_INFO,
				     "fork: cannot hold the other threads still (%s): memory frozen "
				     "at a fork stays copy-on-write for now",
				     e == EPERM    ? "ptrace refused: traced already, Yama or seccomp"
				     : e == ENOSYS ? "under valgrind"
						   : strerror(e));
			return;
		}
		held = 1;
	}
	/* No handler of ours may write the memory half-way through. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Again, now that no program thread runs: a fork begun since the
	 * test (its handlers hold fb_mu until its child exists) or finished
	 * since (a new child shares the canary) means not yet. */
	int busy, fr = 0, fb = 0, nr = -1, nb = -1;
	if (poll_now(&busy)) {
		nr = oms_region_fork_back(&fr);
		nb = nr < 0 ? -1 : oms_big_fork_back(&fb);
	}
	/* Signals the program ignores were queued while we blocked them or
	 * held the leader: dropped here, as the kernel would have, and our
	 * mask back, before a thread that runs again could take one as an
	 * EINTR. */
	oms_os_drain_ignored(me == getpid() ? &old : NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (held)
		oms_stop_resume();
	__atomic_store_n(&switching, 0, __ATOMIC_RELEASE);
	if (nr < 0 || nb < 0)
		return; /* not alone after all, or a lock is held: later */
	__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&oms_stats.forks_back, (uint64_t)(nr + nb), __ATOMIC_RELAXED);
	if (fr + fb)
		oms_debug("fork: %d mapping(s) stay frozen (fd lost, holes, no budget or "
			  "a failed copy): unprotected where rewritten", fr + fb);
}

static void run(int wait)
{
	static uint64_t last_ms;
	int e = errno;
	uint64_t now = oms_os.now_ms();
	/* Not retry_ms: that paces our thread's tries to hold the others;
	 * a lone thread here switches without holding anyone. */
	if ((!wait && now < last_ms + 10) ||
	    getpid() != __atomic_load_n(&owner, __ATOMIC_RELAXED)) {
		errno = e;
		return; /* a vfork child: the parent's memory is not ours to switch */
	}
	last_ms = now;
	int busy;
	if (poll_now(&busy))
		do_switch(0);
	else if (!busy && !oms_forkback_armed)
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	errno = e;
}


void oms_forkback_run(void)
{
	run(0);
}

void oms_forkback_after_wait(void)
{
	if (__atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED))
		run(1);
}

static int frozen_any(void)
{
	for (struct oms_block *b = oms_live; b; b = b->next)
		if (b->flags & OMS_BLK_FORKED)
			return 1;
	for (size_t i = 0; i < oms_npieces; i++)
		if (oms_pieces[i].flags & OMS_P_FORKED)
			return 1;
	return 0;
}

static int pend; /* prepare: this fork leaves memory frozen */

void oms_forkback_prepare(void)
{
	pthread_mutex_lock(&fb_mu);
	/* Memory frozen at a fork, this one (the handlers before this one
	 * have just frozen what they could) or an earlier one of ours or of
	 * our parent's. */
	pend = !blind && frozen_any();
	if (!pend || __atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED))
		return;
	/* A new epoch: a canary that only the children from now on share. */
	if (canary && oms_os_page_alone(canary) != 1) {
		oms_sys_munmap(canary, (size_t)oms_page);
		canary = NULL;
	}
	if (!canary)
		canary = new_canary();
	if (!canary)
		go_blind(); /* this child could never be seen to go */
}

void oms_forkback_parent(void)
{
	int watch = pend && !blind;
	if (watch) {
		__atomic_store_n(&oms_forkback_armed, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
		set_due_for_watch();
	}
	pthread_mutex_unlock(&fb_mu); /* nothing logs here: oms_lock is still held */
	if (watch)
		oms_ticker_wake(); /* test every OMS_FORKBACK_FAST_MS from now */
}

void oms_forkback_child(void)
{
	/* The memory frozen at this fork is our parent's file too: we switch
	 * it back once no other process shares the canary (the parent and
	 * every other child of the epoch have gone). */
	owner = getpid();
	if (canary)
		lock_canary(canary);
	int arm = pend && !blind;
	if (arm) /* our own, not the parent's, before any thread of ours */
		oms_os_keep("/proc/self/pagemap", O_RDONLY);
	__atomic_store_n(&oms_forkback_armed, arm, __ATOMIC_RELAXED);
	/* No thread of ours here yet: the slow paths test. */
	__atomic_store_n(&oms_forkback_due, arm, __ATOMIC_RELAXED);
	pend = 0;
	retry_ms = 0;
	switching = 0; /* a fork made while a switch was under way */
	refused = 0;
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fb_mu = fresh;
}
