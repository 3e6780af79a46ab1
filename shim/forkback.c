/* forkback.c - see forkback.h.
 *
 * Invariants (under fb_mu)
 * - family: -1, or this process's own open file description of the family
 *   memfd (read-locked, counted as one of the shim's fds; fam_dev/fam_ino
 *   name the inode, checked before each use in case the program closed the
 *   fd and the number was reused).  While family >= 0 that description is
 *   also mapped at `self_at`, so that its lock outlives a program that
 *   closes every descriptor.
 * - self_at and spare: our own PROT_NONE pages, never the program's: the
 *   own view, and the page where prepare maps the child's.  The child
 *   swaps them.  NULL if none could be had (then no family: blind).
 * - `blind`: memory is frozen that no family watches (no fd, no memfd, no
 *   /proc, no OFD locks, the fd lost): no switch runs in this process
 *   again, and a child inherits that (it may share the memory with a
 *   process nobody watches).  Frozen memory stays correct, only private.
 * - oms_forkback_armed is 1 while this process holds memory frozen at a
 *   fork (its own, or inherited from its parent) that a switch may give
 *   back; oms_forkback_due is 1 when the slow paths must call
 *   oms_forkback_run: there is no ticker thread to test the family.
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
static int family = -1;
static dev_t fam_dev;
static ino_t fam_ino;
static void *self_at, *spare;
static int pend = -1; /* prepare: the child's description (fd) */
static int blind;
static pid_t owner;
static uint64_t retry_ms; /* next try when one failed */

static void *new_anchor(void)
{
	void *a = oms_sys_mmap(NULL, (size_t)oms_page, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return a == MAP_FAILED ? NULL : a;
}

/* The page back to a plain reservation of ours (drops a view there). */
static int clear_anchor(void *at)
{
	return oms_sys_mmap(at, (size_t)oms_page, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
			    0) == at
		       ? 0
		       : -1;
}

void oms_forkback_init(void)
{
	pthread_mutex_lock(&fb_mu);
	if (!self_at)
		self_at = new_anchor();
	if (!spare)
		spare = new_anchor();
	owner = getpid();
	pthread_mutex_unlock(&fb_mu);
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

/* Under fb_mu: is `family` still our fd of the family memfd? */
static int family_ours(void)
{
	struct stat st;
	return family >= 0 && oms_os.fstat(family, &st) == 0 && st.st_dev == fam_dev &&
	       st.st_ino == fam_ino;
}

/* Under fb_mu: leave the family (we are its last member, or it is lost). */
static void leave_family(int lost)
{
	if (family < 0)
		return;
	if (lost)
		oms_os_fd_forget(); /* the program closed it: not ours to close */
	else
		oms_os.close(family);
	family = -1;
	clear_anchor(self_at); /* if this fails the view stays: never alone - safe */
}

/* Under fb_mu: 1 when no other process holds the family, so no process
 * but this one maps the memory frozen at our forks (or our parent's).
 * Then we leave it (the next fork makes a new one): a fork followed by
 * its wait leaves no descriptor behind. */
static int poll_locked(void)
{
	if (family < 0)
		return 1; /* left when alone, and no fork since */
	if (!family_ours()) {
		leave_family(1);
		go_blind();
		return 0;
	}
	int r = oms_os_family_alone(family);
	if (r < 0)
		go_blind(); /* OFD locks refused: never provable, stay frozen */
	if (r == 1)
		leave_family(0);
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
	 * since (a new member) means not yet. */
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

static void run(int wait)
{
	static uint64_t last_ms;
	int e = errno;
	uint64_t now = oms_os.now_ms();
	if (now < retry_ms || (!wait && now < last_ms + 10) ||
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

void oms_forkback_prepare(void)
{
	pthread_mutex_lock(&fb_mu);
	pend = -1;
	/* Something to watch: memory frozen at a fork, this one (the handlers
	 * before this one have just frozen what they could) or an earlier one
	 * of ours or of our parent's. */
	int any = 0;
	for (struct oms_block *b = oms_live; b && !any; b = b->next)
		any = !!(b->flags & OMS_BLK_FORKED);
	for (size_t i = 0; i < oms_npieces && !any; i++)
		any = !!(oms_pieces[i].flags & OMS_P_FORKED);
	if (!any || blind)
		return;
	if (family >= 0 && !family_ours()) {
		leave_family(1);
		go_blind();
		return;
	}
	if (family < 0 && self_at && spare) {
		int f = oms_os_family_new();
		struct stat st;
		if (f >= 0 && (oms_os.fstat(f, &st) < 0 || oms_os_family_map(f, self_at) < 0)) {
			oms_os.close(f);
			f = -1;
		}
		if (f >= 0) {
			family = f;
			fam_dev = st.st_dev;
			fam_ino = st.st_ino;
		}
	}
	if (family < 0 || (pend = oms_os_family_join(family, spare)) < 0)
		go_blind(); /* this child could never be seen to go */
}

void oms_forkback_parent(void)
{
	int watch = 0;
	if (pend >= 0) {
		/* The child's description is the child's: our fd and view of it
		 * go.  Should the view not go, it stays ours: never alone,
		 * frozen for good - safe. */
		oms_os.close(pend);
		pend = -1;
		if (clear_anchor(spare) == 0) {
			__atomic_store_n(&oms_forkback_armed, 1, __ATOMIC_RELAXED);
			__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
			set_due_for_watch();
			watch = 1;
		}
	}
	pthread_mutex_unlock(&fb_mu); /* nothing logs here: oms_lock is still held */
	if (watch)
		oms_ticker_wake(); /* test every OMS_FORKBACK_FAST_MS from now */
}

void oms_forkback_child(void)
{
	/* Our description is the one prepare made (fd pend, mapped at
	 * spare); the parent's (fd family, mapped at self_at) is not ours to
	 * hold: both its fd and its view go, so that it can end with the
	 * parent.  The memory frozen at this fork is our parent's file too:
	 * we switch it back when we are the family's last member. */
	owner = getpid();
	if (family >= 0) {
		oms_os.close(family);
		family = -1;
	}
	if (self_at)
		clear_anchor(self_at);
	if (pend >= 0) {
		void *t = self_at;
		self_at = spare;
		spare = t;
		family = pend;
		struct stat st;
		if (oms_os.fstat(family, &st) == 0) {
			fam_dev = st.st_dev;
			fam_ino = st.st_ino;
			__atomic_store_n(&oms_forkback_armed, 1, __ATOMIC_RELAXED);
			/* No thread of ours here yet: the slow paths test. */
			__atomic_store_n(&oms_forkback_due, 1, __ATOMIC_RELAXED);
		} else {
			go_blind();
		}
	} else {
		__atomic_store_n(&oms_forkback_armed, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&oms_forkback_due, 0, __ATOMIC_RELAXED);
	}
	pend = -1;
	retry_ms = 0;
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fb_mu = fresh;
}
