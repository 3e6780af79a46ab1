/* stop.c - see stop.h.
 *
 * Invariants
 * - `st` is written by the caller before the clone and after the helper
 *   has exited, and by the helper in between; `st.phase` (a futex word) is
 *   the only field both touch while both run: HOLDING -> STOPPED or a
 *   negative errno (helper), STOPPED -> RESUME (caller), RESUME -> DONE.
 * - Every thread in st.tid[0..n) is traced by the helper and stopped;
 *   st.sig[i] is the signal it was about to take, handed back on detach.
 * - The helper exits only after detaching every thread it stopped; should
 *   it die anyway, the kernel detaches them (exit_ptrace).
 */
#include "stop.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { HOLDING = 0, STOPPED = 1, RESUME = 2, DONE = 3 };

/* The EINTR our stop causes.  The kernel restarts most interrupted calls
 * by itself (read, nanosleep, poll, futex: -ERESTART* codes), but a few
 * return a plain EINTR to a thread that was stopped and let go without a
 * signal (signal(7): epoll_wait, sigtimedwait, semop, socket calls with a
 * timeout).  For those the helper does what the kernel does for a restart
 * code: the call's number back into the return register and the program
 * counter back over the syscall instruction (2 bytes on x86, whichever
 * entry was used), so that it runs again on release, with its original
 * arguments - and so its full timeout again, the only trace left: a
 * timeout can run longer by the time the thread was held.  Not when a
 * signal is pending for the thread: then the EINTR is the one the program
 * would have had anyway.  Only where the registers are known: x86-64 and
 * i386; elsewhere no thread is held (stop.h). */
#if defined(__x86_64__) || defined(__i386__)
#include <sys/user.h>
#define OMS_STOP_CAN 1
#ifdef __x86_64__
#define R_NR(r) (r).orig_rax
#define R_RET(r) (r).rax
#define R_PC(r) (r).rip
#else
#define R_NR(r) (r).orig_eax
#define R_RET(r) (r).eax
#define R_PC(r) (r).eip
#endif
static const long plain_eintr[] = {
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
#ifdef SYS_semop
	SYS_semop,
#endif
#ifdef SYS_semtimedop
	SYS_semtimedop,
#endif
#ifdef SYS_accept
	SYS_accept,
#endif
#ifdef SYS_recvfrom
	SYS_recvfrom,
#endif
#ifdef SYS_recvmsg
	SYS_recvmsg,
#endif
#ifdef SYS_sendto
	SYS_sendto,
#endif
#ifdef SYS_sendmsg
	SYS_sendmsg,
#endif
#ifdef SYS_io_getevents
	SYS_io_getevents,
#endif
#ifdef SYS_io_pgetevents
	SYS_io_pgetevents,
#endif
#ifdef SYS_rt_sigtimedwait_time64 /* i386 with a 64-bit time_t */
	SYS_rt_sigtimedwait_time64,
#endif
#ifdef SYS_semtimedop_time64
	SYS_semtimedop_time64,
#endif
#ifdef SYS_recvmmsg_time64
	SYS_recvmmsg_time64,
#endif
#ifdef SYS_io_pgetevents_time64
	SYS_io_pgetevents_time64,
#endif
	SYS_epoll_pwait, SYS_rt_sigtimedwait, SYS_accept4, SYS_recvmmsg, SYS_sendmmsg,
};

/* 1 if the thread's call was failed with EINTR by our stop and can run
 * again as it was. */
static int our_eintr(pid_t t)
{
	struct user_regs_struct r;
	if (syscall(SYS_ptrace, PTRACE_GETREGS, t, NULL, &r) < 0 || (long)R_NR(r) < 0 ||
	    (long)R_RET(r) != -EINTR)
		return 0;
	for (size_t i = 0; i < sizeof plain_eintr / sizeof *plain_eintr; i++)
		if ((long)R_NR(r) == plain_eintr[i])
			return 1;
#ifdef __i386__
	/* glibc's socket calls on i386 may go through socketcall(call, args):
	 * the receiving, sending and accepting ones (linux/net.h numbers). */
	if ((long)R_NR(r) == SYS_socketcall)
		switch (r.ebx) {
		case 5: case 9: case 10: case 11: case 12: case 16: case 17: case 18: case 19: case 20:
			return 1;
		}
#endif
	return 0;
}

/* on: back over the syscall instruction, to run the call again; !on: undo
 * that (the EINTR back).  0 or -1. */
static int restart_call(pid_t t, int on)
{
	struct user_regs_struct r;
	if (syscall(SYS_ptrace, PTRACE_GETREGS, t, NULL, &r) < 0)
		return -1;
	if (on) {
		R_RET(r) = R_NR(r);
		R_PC(r) -= 2;
	} else {
		R_RET(r) = (__typeof__(R_RET(r)))-EINTR;
		R_PC(r) += 2;
	}
	return (int)syscall(SYS_ptrace, PTRACE_SETREGS, t, NULL, &r);
}
#else
#define OMS_STOP_CAN 0
static int our_eintr(pid_t t) { (void)t; return 0; }
static int restart_call(pid_t t, int on) { (void)t; (void)on; return -1; }
#endif
#define STACK (64 << 10)

static struct {
	pid_t tgid, caller, keep;
	int n;
	pid_t tid[OMS_STOP_MAX];
	int sig[OMS_STOP_MAX];
	unsigned char eintr[OMS_STOP_MAX]; /* our stop made its call fail EINTR */
	int phase;
	pid_t alive; /* the helper's tid; the kernel zeroes it (and wakes
			futex waiters) when the helper exits: CLONE_CHILD_CLEARTID */
	pid_t helper;
	void *stack;
} st;

static void set_phase(int v)
{
	__atomic_store_n(&st.phase, v, __ATOMIC_RELEASE);
	syscall(SYS_futex, &st.phase, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int wait_phase_not(int v)
{
	int p;
	while ((p = __atomic_load_n(&st.phase, __ATOMIC_ACQUIRE)) == v)
		syscall(SYS_futex, &st.phase, FUTEX_WAIT, v, NULL, NULL, 0);
	return p;
}

/* The caller's wait: also ends when the helper has died (a seccomp filter
 * that kills on ptrace, say) - then -ESRCH. */
static int wait_helper(int v)
{
	int p;
	while ((p = __atomic_load_n(&st.phase, __ATOMIC_ACQUIRE)) == v) {
		if (!__atomic_load_n(&st.alive, __ATOMIC_ACQUIRE))
			return -ESRCH;
		struct timespec t = {0, 10 * 1000000L};
		syscall(SYS_futex, &st.phase, FUTEX_WAIT, v, &t, NULL, 0);
	}
	return p;
}

static void nap_ms(long ms)
{
	struct timespec t = {0, ms * 1000000L};
	syscall(SYS_nanosleep, &t, NULL);
}

/* A zombie (a leader that called pthread_exit) never stops; it cannot
 * write either.  1 if tid is one, from /proc/PID/task/TID/stat. */
static int zombie(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)st.tgid, (int)tid);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1; /* gone */
	long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 1;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* the name may hold anything */
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* Stop one thread; 0 (stopped, or it has gone) or -errno. */
static int hold(pid_t t)
{
	if (syscall(SYS_ptrace, PTRACE_SEIZE, t, NULL, NULL) < 0)
		return errno == ESRCH ? 0 : -errno;
	if (syscall(SYS_ptrace, PTRACE_INTERRUPT, t, NULL, NULL) < 0 && errno != ESRCH)
		return -errno; /* still seized: the helper's exit lets it go */
	for (int waited = 0;; waited++) {
		int s;
		long r = syscall(SYS_wait4, t, &s, __WALL | WNOHANG, NULL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno == ECHILD ? 0 : -errno;
		if (r == 0) {
			if (waited >= OMS_STOP_WAIT_MS)
				return -EBUSY; /* in the kernel for long; exit detaches */
			nap_ms(1);
			continue;
		}
		if (!WIFSTOPPED(s))
			return 0; /* it exited meanwhile */
		st.tid[st.n] = t;
		/* Our interrupt (or a group stop), or a signal on its way in. */
		int ours = (s >> 16) == PTRACE_EVENT_STOP;
		st.sig[st.n] = ours ? 0 : WSTOPSIG(s);
		/* Stopped by us, or by a signal the tracing made it see: its
		 * call may have failed with EINTR (release decides). */
		st.eintr[st.n++] = (unsigned char)our_eintr(t);
		return 0;
	}
}

static int held(pid_t t)
{
	for (int i = 0; i < st.n; i++)
		if (st.tid[i] == t)
			return 1;
	return 0;
}

/* One pass over /proc/PID/task: 1 if it stopped a thread, 0 if none was
 * left to stop, -errno.  The leader only with `leader`: see helper(). */
static int pass(int leader)
{
	char path[40], buf[2048] __attribute__((aligned(8)));
	snprintf(path, sizeof path, "/proc/%d/task", (int)st.tgid);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int more = 0, r = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n <= 0) {
			if (n < 0)
				r = -errno;
			break;
		}
		for (long i = 0; i < n && r == 0;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type;
				 char name[]; } *d = (void *)(buf + i);
			i += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9')
				continue;
			pid_t t = (pid_t)strtol(d->name, NULL, 10);
			if (t == st.caller || t == st.keep || held(t) || (t == st.tgid && !leader) ||
			    zombie(t))
				continue;
			if (st.n == OMS_STOP_MAX)
				r = -E2BIG;
			else if ((r = hold(t)) == 0)
				more = 1;
		}
		if (r)
			break;
	}
	syscall(SYS_close, fd);
	return r ? r : more;
}

/* Signals whose default action is to ignore them: a thread that is not
 * traced never sees them unless it has a handler.  A traced one does - the
 * kernel queues them for the tracer - and its call fails with EINTR. */
#define DFL_IGNORED ((1ULL << (SIGCHLD - 1)) | (1ULL << (SIGURG - 1)) | \
		     (1ULL << (SIGWINCH - 1)) | (1ULL << (SIGCONT - 1)))

/* The signals that would have interrupted the thread's call without us:
 * not ignored, not blocked, handled or with a default action that acts.
 * Reads /proc/PID/task/TID/status; pending: those of them pending for it
 * or for the process.  -1 if it cannot be read (then: as if one were). */
static int masks(pid_t tid, unsigned long long *relevant, unsigned long long *pending)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)st.tgid, (int)tid);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	static const char *const k[5] = {"\nSigPnd:", "\nShdPnd:", "\nSigBlk:", "\nSigIgn:",
					 "\nSigCgt:"};
	unsigned long long v[5];
	for (int i = 0; i < 5; i++) {
		const char *p = strstr(buf, k[i]);
		if (!p)
			return -1;
		v[i] = strtoull(p + strlen(k[i]), NULL, 16);
	}
	*relevant = ~v[3] & (v[4] | ~DFL_IGNORED);
	*pending = (v[0] | v[1]) & ~v[2] & *relevant;
	return 0;
}

/* May the call thread i was stopped in run again?  Not if a signal that
 * would have interrupted it anyway is on its way. */
static int may_restart(int i)
{
	unsigned long long rel, pnd;
	if (masks(st.tid[i], &rel, &pnd) < 0 || pnd)
		return 0;
	int sig = st.sig[i];
	return !(sig > 0 && sig <= 64 && (rel & (1ULL << (sig - 1))));
}

static void let_go(int i)
{
	/* Checked again once restarted: a signal that came in between gets
	 * its EINTR back (a few microseconds remain, up to the detach, in
	 * which one would find the call restarted). */
	if (st.eintr[i] && may_restart(i) && restart_call(st.tid[i], 1) == 0 && !may_restart(i))
		restart_call(st.tid[i], 0);
	syscall(SYS_ptrace, PTRACE_DETACH, st.tid[i], NULL, (void *)(long)st.sig[i]);
}

static void release(void)
{
	for (int i = 0; i < st.n; i++) /* the leader first (see helper()) */
		if (st.tid[i] == st.tgid)
			let_go(i);
	for (int i = 0; i < st.n; i++)
		if (st.tid[i] != st.tgid)
			let_go(i);
	st.n = 0;
}

static int helper(void *arg)
{
	(void)arg;
	int r;
	/* Killed with the program (its threads then go with it): a helper
	 * outliving it would keep its memory and files. */
	syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (syscall(SYS_getppid) != st.tgid)
		return 0;
	/* Threads not yet stopped may start new ones: until a pass finds none.
	 * The leader last, and let go first: while it is traced, a signal sent
	 * to the process that it would drop (SIGCHLD, SIGWINCH left at their
	 * default) is queued instead, and would wake another thread of the
	 * process in its call with EINTR - one not yet or no longer held. */
	while ((r = pass(0)) == 1)
		;
	while (r == 0 && (r = pass(1)) == 1)
		;
	if (r < 0) {
		release();
		set_phase(r);
		return 0;
	}
	set_phase(STOPPED);
	wait_phase_not(STOPPED);
	release();
	set_phase(DONE);
	return 0;
}

static void reap(void)
{
	int s;
	while (syscall(SYS_wait4, st.helper, &s, __WCLONE, NULL) < 0 && errno == EINTR)
		;
	oms_sys_munmap(st.stack, STACK);
	st.stack = NULL;
}

/* Valgrind runs the program on its own CPU and aborts it at a clone() that
 * is neither a thread nor a fork; its preload library says it is there. */
static int under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload");
}

int oms_stop_others(pid_t keep)
{
	if (!OMS_STOP_CAN || under_valgrind()) {
		errno = ENOSYS;
		return -1;
	}
	int e = errno;
	st.tgid = getpid();
	st.caller = (pid_t)syscall(SYS_gettid);
	st.keep = keep;
	st.n = 0;
	st.phase = HOLDING;
	st.stack = oms_sys_mmap(NULL, STACK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (st.stack == MAP_FAILED) {
		st.stack = NULL;
		return -1;
	}
	/* No exit signal: no SIGCHLD, and wait() without __WALL never sees it. */
	st.alive = 1;
	st.helper = clone(helper, (char *)st.stack + STACK,
			  CLONE_VM | CLONE_UNTRACED | CLONE_CHILD_CLEARTID, NULL, NULL, NULL,
			  &st.alive);
	if (st.helper < 0) {
		int ce = errno;
		oms_sys_munmap(st.stack, STACK);
		st.stack = NULL;
		errno = ce;
		return -1;
	}
	int p = wait_helper(HOLDING);
	if (p < 0) {
		reap();
		errno = -p;
		return -1;
	}
	errno = e;
	return 0;
}

void oms_stop_resume(void)
{
	int e = errno;
	set_phase(RESUME);
	reap();
	errno = e;
}
