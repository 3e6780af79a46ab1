/* forkback.c - see forkback.h.
 *
 * Invariants
 * - rd[0..nrd) are read ends of pipes whose write ends only children (and
 *   their forked descendants) hold; each is counted as one of the shim's
 *   fds (os.c).  Under fb_mu.
 * - `blind`: a fork left memory frozen without a pipe (no fd could be
 *   had): that memory can never be proven free of children, so no switch
 *   runs in this process again (it stays as before issue 17: frozen).
 * - oms_forkback_armed is 1 from the fork that froze something until the
 *   switch has run; oms_forkback_due is 1 when the slow paths must call
 *   oms_forkback_run: a switch is due, or there is no ticker thread and the
 *   read ends are to be polled there.
 * - owner: the pid whose fork made the pipes; a vfork child (same memory,
 *   other pid, no fork handlers) never switches.
 */
#include "forkback.h"
#include "big.h"
#include "block.h"
#include "log.h"
#include "os.h"
#include "pieces.h"
#include "region.h"
#include "stats.h"
#include "ticker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RD 256

int oms_forkback_due;
int oms_forkback_armed;

static pthread_mutex_t fb_mu = PTHREAD_MUTEX_INITIALIZER;
static int rd[MAX_RD], nrd;
static int blind;
static pid_t owner;
static int pend_w = -1, pend_r = -1; /* prepare's pipe, for the two handlers */
static uint64_t retry_ms;              /* next thread test when one failed */

/* The slow paths poll only when no thread of ours does. */
static void set_due_for_watch(void)
{
	if (!oms_ticker_tid())
		__atomic_store_n(&oms_forkback_due, 1, __ATOMIC_RELAXED);
}

/* Under fb_mu: close the read ends that reached EOF; 1 when none is left. */
static int poll_locked(void)
{
	if (nrd == 0)
		return 1;
	struct pollfd p[MAX_RD];
	for (int i = 0; i < nrd; i++)
		p[i] = (struct pollfd){.fd = rd[i], .events = POLLIN};
	if (poll(p, (nfds_t)nrd, 0) < 0)
		return 0;
	int k = 0;
	for (int i = 0; i < nrd; i++) {
		char c;
		/* POLLHUP: no writer left.  POLLIN without data is EOF too; a
		 * child writes nothing, so data means "still open". */
		if ((p[i].revents & (POLLHUP | POLLERR | POLLNVAL)) ||
		    ((p[i].revents & POLLIN) && read(rd[i], &c, 1) == 0)) {
			if (!(p[i].revents & POLLNVAL))
				oms_os.close(rd[i]);
			else
				oms_os_fd_forget(); /* the program closed it */
			continue;
		}
		rd[k++] = rd[i];
	}
	nrd = k;
	return nrd == 0;
}

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
	if (poll_now(&busy))
		__atomic_store_n(&oms_forkback_due, 1, __ATOMIC_RELAXED);
}

unsigned oms_forkback_wanted_ms(void)
{
	return __atomic_load_n(&oms_forkback_armed, __ATOMIC_RELAXED) &&
			       !__atomic_load_n(&oms_forkback_due, __ATOMIC_RELAXED)
		       ? OMS_FORKBACK_FAST_MS
		       : 0;
}

static void do_switch(void)
{
	static int warned_threads;
	uint64_t now = oms_os.now_ms();
	pid_t me = (pid_t)syscall(SYS_gettid);
	int alone = oms_os_only_threads(me, oms_ticker_tid());
	if (alone != 1) {
		/* Other program threads: the switch could lose their writes.
		 * Stay frozen; a test now and then in case they end. */
		retry_ms = now + 1000;
		oms_log_once(&warned_threads, OMS_LOG_DEBUG,
			     "fork: memory frozen at fork stays private (%s)",
			     alone ? "cannot list threads" : "the program has other threads");
		return;
	}
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int fr = 0, fb = 0;
	int nr = oms_region_fork_back(&fr);
	int nb = nr < 0 ? -1 : oms_big_fork_back(&fb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (nr < 0 || nb < 0)
		return; /* this thread holds a lock (a signal handler): later */
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
		do_switch();
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
	pend_r = pend_w = -1;
	/* Something to watch: anything frozen here by a fork, now or before
	 * (the handlers before this one have just frozen what they could). */
	int any = 0;
	for (struct oms_block *b = oms_live; b && !any; b = b->next)
		any = !!(b->flags & OMS_BLK_FORKED);
	for (size_t i = 0; i < oms_npieces && !any; i++)
		any = !!(oms_pieces[i].flags & OMS_P_FORKED);
	if (!any || blind)
		return;
	int fds[2];
	if (nrd == MAX_RD || oms_os_pipe_high(fds) < 0) {
		blind = 1; /* this child could never be seen to go */
		return;
	}
	pend_r = fds[0];
	pend_w = fds[1];
}

void oms_forkback_parent(void)
{
	if (pend_w >= 0) {
		oms_os.close(pend_w);
		rd[nrd++] = pend_r;
		owner = getpid();
		__atomic_store_n(&oms_forkback_armed, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
		set_due_for_watch();
	}
	if (blind) {
		__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	}
	int watch = pend_r >= 0;
	pend_r = pend_w = -1;
	pthread_mutex_unlock(&fb_mu); /* nothing logs here: oms_lock is still held */
	if (watch)
		oms_ticker_wake(); /* poll every OMS_FORKBACK_FAST_MS from now */
}

void oms_forkback_child(void)
{
	/* The child holds only the write end: the read ends are the parent's
	 * business.  Its own frozen memory is its parent's file too, so it
	 * never switches (big.c and region_fork.c cleared the marks). */
	for (int i = 0; i < nrd; i++)
		oms_os.close(rd[i]);
	if (pend_r >= 0)
		oms_os.close(pend_r);
	nrd = 0;
	pend_r = pend_w = -1;
	blind = 0;
	retry_ms = 0;
	__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fb_mu = fresh;
}
