/* forkback.c - see forkback.h.
 *
 * Invariants (under fb_mu)
 * - sentinel: -1, or our read-only open of the memfd whose writable opens
 *   the children hold (one per fork that froze something); counted as one
 *   of the shim's fds.  Kept from one fork to the next.
 * - anchor: our own PROT_NONE page, never the program's: prepare maps the
 *   sentinel over it, parent maps the anchor back; the child keeps the
 *   sentinel there and takes a new anchor.  0 if none could be had.
 * - `blind`: a fork left memory frozen that no sentinel watches (no fd, no
 *   memfd, no /proc, no leases): no switch runs in this process again (it
 *   stays as before issue 17: frozen, private, correct).
 * - oms_forkback_armed is 1 from the fork that froze something until the
 *   switch has run; oms_forkback_due is 1 when the slow paths must call
 *   oms_forkback_run: a switch is due, or there is no ticker thread and the
 *   sentinel is to be tested there.
 * - owner: the pid whose fork armed us; a vfork child (same memory, other
 *   pid, no fork handlers) never switches.
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
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int oms_forkback_due;
int oms_forkback_armed;

static pthread_mutex_t fb_mu = PTHREAD_MUTEX_INITIALIZER;
static int sentinel = -1;
static void *anchor;
static int pend; /* prepare mapped the sentinel over the anchor */
static int blind;
static pid_t owner;
static uint64_t retry_ms; /* next thread test when one failed */

static void *new_anchor(void)
{
	void *a = oms_sys_mmap(NULL, (size_t)oms_page, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return a == MAP_FAILED ? NULL : a;
}

void oms_forkback_init(void)
{
	pthread_mutex_lock(&fb_mu);
	if (!anchor)
		anchor = new_anchor();
	pthread_mutex_unlock(&fb_mu);
}

/* The slow paths test only when no thread of ours does. */
static void set_due_for_watch(void)
{
	if (!oms_ticker_tid())
		__atomic_store_n(&oms_forkback_due, 1, __ATOMIC_RELAXED);
}

/* Under fb_mu: 1 when no child holds the sentinel any more.  Then the
 * memfd is closed (the next fork that freezes makes a new one), so that a
 * fork followed by its wait leaves no descriptor behind. */
static int poll_locked(void)
{
	if (sentinel < 0)
		return 1;
	int r = oms_os_sentinel_free(sentinel);
	if (r < 0) {
		blind = 1; /* leases refused: never provable, stay frozen */
		__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	}
	if (r == 1) {
		oms_os.close(sentinel);
		sentinel = -1;
	}
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
	static int warned, switching, refused;
	if (__atomic_exchange_n(&switching, 1, __ATOMIC_ACQUIRE))
		return;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t me = (pid_t)syscall(SYS_gettid), tt = oms_ticker_tid();
	int held = 0;
	if (oms_os_only_threads(me, tt) != 1) {
		if (refused || oms_stop_others(ticker ? 0 : tt) < 0) {
			int e = refused ? refused : errno;
			/* Refused for good (ptrace, valgrind, qemu): from now on
			 * only a lone thread switches; a busy thread: retry. */
			if (e != EBUSY && e != EAGAIN && e != ENOMEM)
				refused = e;
			retry_ms = oms_os.now_ms() + 1000;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
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
	/* Again, now that no program thread runs: a fork begun since the
	 * test (its handlers hold fb_mu until its child exists) or finished
	 * since (a new sentinel) means not yet. */
	int busy, fr = 0, fb = 0;
	if (!poll_now(&busy)) {
		if (held)
			oms_stop_resume();
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		__atomic_store_n(&switching, 0, __ATOMIC_RELEASE);
		return;
	}
	int nr = oms_region_fork_back(&fr);
	int nb = nr < 0 ? -1 : oms_big_fork_back(&fb);
	if (held)
		oms_stop_resume();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	__atomic_store_n(&switching, 0, __ATOMIC_RELEASE);
	if (nr < 0 || nb < 0)
		return; /* a lock is held (a held thread, or a signal handler): later */
	__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	__atomic_fetch_add(&oms_stats.forks_back, (uint64_t)(nr + nb), __ATOMIC_RELAXED);
	if (fr + fb)
		oms_debug("fork: %d mapping(s) stay frozen (fd lost, holes, no budget or "
			  "a failed copy): unprotected where rewritten", fr + fb);
}

void oms_forkback_run(void)
{
	int e = errno;
	if (oms_os.now_ms() < retry_ms ||
	    getpid() != __atomic_load_n(&owner, __ATOMIC_RELAXED)) {
		errno = e;
		return; /* a vfork child: the parent's memory is not ours to switch */
	}
	int busy;
	if (poll_now(&busy))
		do_switch(0);
	else if (!busy && !oms_forkback_armed)
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	errno = e;
}

void oms_forkback_after_wait(void)
{
	if (__atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED))
		oms_forkback_run();
}

void oms_forkback_prepare(void)
{
	pthread_mutex_lock(&fb_mu);
	pend = 0;
	/* Something to watch: anything frozen here by a fork, now or before
	 * (the handlers before this one have just frozen what they could). */
	int any = 0;
	for (struct oms_block *b = oms_live; b && !any; b = b->next)
		any = !!(b->flags & OMS_BLK_FORKED);
	for (size_t i = 0; i < oms_npieces && !any; i++)
		any = !!(oms_pieces[i].flags & OMS_P_FORKED);
	if (!any || blind)
		return;
	if (sentinel < 0)
		sentinel = oms_os_sentinel_open();
	if (sentinel < 0 || !anchor || oms_os_sentinel_map(sentinel, anchor) < 0) {
		blind = 1; /* this child could never be seen to go */
		return;
	}
	pend = 1;
}

void oms_forkback_parent(void)
{
	int watch = 0;
	if (pend) {
		/* Our view of the sentinel goes; the child's stays.  Should the
		 * anchor not come back, the view stays ours: never free, frozen
		 * for good - safe. */
		if (oms_sys_mmap(anchor, (size_t)oms_page, PROT_NONE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
				 0) == anchor) {
			owner = getpid();
			__atomic_store_n(&oms_forkback_armed, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
			set_due_for_watch();
			watch = 1;
		}
		pend = 0;
	}
	if (blind) {
		__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&fb_mu); /* nothing logs here: oms_lock is still held */
	if (watch)
		oms_ticker_wake(); /* test every OMS_FORKBACK_FAST_MS from now */
}

void oms_forkback_child(void)
{
	/* The sentinel view at the anchor is what says "this child lives":
	 * it stays; our anchor is a new page.  The child's own frozen memory
	 * is its parent's file too, so it never switches (big.c and
	 * region_fork.c cleared the marks); a fork of its own gets a
	 * sentinel of its own. */
	if (pend)
		anchor = new_anchor();
	if (sentinel >= 0)
		oms_os.close(sentinel);
	sentinel = -1;
	pend = 0;
	blind = 0;
	retry_ms = 0;
	__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fb_mu = fresh;
}
