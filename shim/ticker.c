/* ticker.c - the background thread: see ticker.h for what it promises
 * and for its locks.
 *
 * Invariants:
 * - `jobs` is written only before the thread starts (init.c, tests) and
 *   read only by the thread afterwards; a job's `due` and `early` are the
 *   thread's own.
 * - `thr`, `thr_pid` and `joinable` are written by the program thread that
 *   spawns or joins the thread, under pause_mu (or in the constructor, or
 *   in the fork child before any other thread exists); `thr_tid` by the
 *   thread itself.  Readers use atomics.
 * - Nothing here allocates or uses stdio; the thread maps nothing (its
 *   stack comes from pthread_create on the program's thread).
 */
#include "ticker.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/kcmp.h>

#define STACK_SIZE ((size_t)64 << 10)

struct job {
	const char *name;
	unsigned period_ms;
	unsigned (*fast)(void);
	void (*fn)(void);
	struct timespec due;   /* next run on its own period */
	struct timespec early; /* next run asked for by fast(), or tv_sec -1 */
};

static struct job jobs[OMS_TICKER_MAX_JOBS];
static int njobs;

static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pause_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv;
static int stop;
static int replan; /* under sleep_mu: a job's fast period may have changed */
static int started; /* the thread was started in this process */
static pthread_t thr;
static pid_t thr_pid, thr_tid;
static int joinable;
/* Fork child: the thread is started by the first large allocation, large
 * free or munmap made at least one period after the fork (oms_ticker_poke),
 * not in the fork handler.  A child on its way to exec must stay
 * single-threaded: unshare(CLONE_NEWUSER) fails in a multi-threaded
 * process. */
static int deferred;
static uint64_t deferred_since;

static const char *errname(int e)
{
	switch (e) {
	case EAGAIN: return "resource temporarily unavailable";
	case EINVAL: return "invalid argument";
	case EPERM: return "operation not permitted";
	default: return "error";
	}
}

int oms_ticker_add(const char *name, unsigned period_ms, unsigned (*fast)(void),
		   void (*fn)(void))
{
	if (njobs >= OMS_TICKER_MAX_JOBS || !fn)
		return -1;
	jobs[njobs++] = (struct job){name, period_ms ? period_ms : 1, fast, fn, {0, 0}, {-1, 0}};
	return 0;
}

/* The shortest period: how long a fork child waits before its own thread. */
static unsigned min_period(void)
{
	unsigned p = 0;
	for (int i = 0; i < njobs; i++)
		if (!p || jobs[i].period_ms < p)
			p = jobs[i].period_ms;
	return p;
}

/* The program's last thread is gone when the group leader is a zombie
 * and only it and we are counted.  glibc exits the process when its last
 * thread returns, so returning is how we stop keeping it alive.  This
 * reads our own /proc/self, which OOMSHIELD_PROC_ROOT does not redirect.
 * Generating /proc/self/stat costs ~50 us cold, a third of a tick, so
 * each tick first asks the kernel whether the leader still has its mm:
 * kcmp(KCMP_VM) of the leader and us, one cheap syscall (docs/bench.md 20
 * and 23).  The stat is read only once the leader has gone, whatever way
 * it went (pthread_exit, thrd_exit, cancellation, a raw exit).  Where
 * kcmp is missing (CONFIG_KCMP off) or filtered (seccomp), readlink of
 * /proc/self/cwd stands in: it fails with ENOENT once the leader has gone
 * (qemu-user fakes exe, not cwd), and the stat is read every 8th tick
 * anyway, as an LSM may refuse the link.  qemu-user also fakes
 * /proc/self/stat (state "0") and aborts if it is opened after the leader
 * has gone: there the thread just returns then, and the process lives as
 * long as the program's threads, without its jobs.  So does a process
 * whose /proc/self/stat cannot be read. */
static struct {
	pid_t pid, tid;
	int no_kcmp;
	int fake_stat;
	unsigned ticks;
} me;

static ssize_t read_stat(char *b, size_t cap)
{
	int own;
	pthread_mutex_lock(&fork_mu);
	int fd = oms_os_open_kept("/proc/self/stat", O_RDONLY, &own);
	ssize_t n = fd < 0 ? -1 : pread(fd, b, cap - 1, 0);
	if (fd >= 0 && own)
		close(fd);
	pthread_mutex_unlock(&fork_mu);
	if (n >= 0)
		b[n] = '\0';
	return n;
}

/* The state letter after "(comm) "; comm may hold spaces and parens. */
static char *stat_state(char *b)
{
	char *p = strrchr(b, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/* 0: the leader still has our mm; else gone, or no kcmp (-1). */
static long leader_left(void)
{
#ifdef SYS_kcmp
	return syscall(SYS_kcmp, me.pid, me.tid, KCMP_VM, 0, 0);
#else
	return -1;
#endif
}

static void alone_init(void)
{
	char b[512];
	me.pid = getpid();
	me.tid = (pid_t)syscall(SYS_gettid);
	me.no_kcmp = leader_left() != 0;
	char *st = read_stat(b, sizeof b) > 0 ? stat_state(b) : NULL;
	me.fake_stat = st && !(*st >= 'A' && *st <= 'Z');
	me.ticks = 0;
}

static int alone(void)
{
	char b[512];
	int gone = me.no_kcmp ? readlink("/proc/self/cwd", b, sizeof b) < 0 && errno == ENOENT
			      : leader_left() != 0;
	if (me.fake_stat)
		return gone;
	if (!gone && (!me.no_kcmp || ++me.ticks % 8))
		return 0;
	char *p = read_stat(b, sizeof b) > 0 ? stat_state(b) : NULL;
	if (!p) /* cannot count threads: a gone leader is reason enough */
		return gone;
	if (*p != 'Z')
		return 0;
	/* Fields after ")": state is field 3, num_threads field 20. */
	int field = 3;
	for (; *p && field < 20; p++)
		if (*p == ' ')
			field++;
	long threads = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		threads = threads * 10 + (*p - '0');
	return threads > 0 && threads <= 2;
}

static void add_ms(struct timespec *t, unsigned ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* 1 if asked to stop. */
static int sleep_until(const struct timespec *t)
{
	int r = 0;
	pthread_mutex_lock(&sleep_mu);
	while (!stop && !replan && r == 0) /* 0: woken early; ETIMEDOUT (or an error): go */
		r = pthread_cond_timedwait(&sleep_cv, &sleep_mu, t);
	replan = 0;
	r = stop;
	pthread_mutex_unlock(&sleep_mu);
	return r;
}

static void *ticker_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), OMS_TICKER_THREAD_NAME);
	alone_init();
	__atomic_store_n(&thr_tid, me.tid, __ATOMIC_RELEASE);
	struct timespec now, next;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < njobs; i++) {
		jobs[i].due = now;
		add_ms(&jobs[i].due, jobs[i].period_ms);
		jobs[i].early.tv_sec = -1;
	}
	for (;;) {
		/* The next wake: the earliest due job, or sooner if a job asks
		 * for quicker ticks for now (read-around while the program
		 * pages); such an early run leaves the job's own period as is. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		next = jobs[0].due;
		for (int i = 0; i < njobs; i++) {
			struct job *j = &jobs[i];
			unsigned step = j->fast ? j->fast() : 0;
			j->early.tv_sec = -1;
			if (step && step < j->period_ms) {
				j->early = now;
				add_ms(&j->early, step);
				if (!before(&j->early, &j->due))
					j->early.tv_sec = -1;
			}
			if (before(&j->due, &next))
				next = j->due;
			if (j->early.tv_sec >= 0 && before(&j->early, &next))
				next = j->early;
		}
		if (sleep_until(&next) || alone())
			return NULL;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* In registration order: a job that may block for seconds
		 * (a compaction) is registered last. */
		for (int i = 0; i < njobs; i++) {
			struct job *j = &jobs[i];
			if (!before(&now, &j->due)) {
				j->fn();
				/* Count again from now after a late or slow run,
				 * rather than ticking in a burst to catch up. */
				add_ms(&j->due, j->period_ms);
				struct timespec t;
				clock_gettime(CLOCK_MONOTONIC, &t);
				if (before(&j->due, &t)) {
					j->due = t;
					add_ms(&j->due, j->period_ms);
				}
			} else if (j->early.tv_sec >= 0 && !before(&now, &j->early)) {
				j->fn();
			}
		}
	}
}

static int spawn(void)
{
	sigset_t all, old;
	pthread_attr_t a;
	pthread_t t;
	size_t sizes[3] = {STACK_SIZE, (size_t)256 << 10, 0};
	int e = EINVAL;
	long min = sysconf(_SC_THREAD_STACK_MIN);
	if (min > 0 && (size_t)min > sizes[0])
		sizes[0] = (size_t)min;
	__atomic_store_n(&thr_tid, 0, __ATOMIC_RELEASE); /* until the new one says */
	oms_os_keep("/proc/self/stat", O_RDONLY); /* os.c, "Kept files" */
	/* The thread inherits a full mask: it never takes a signal meant for
	 * the program (signalfd, sigwait).  The caller's mask is restored. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* A program with a large static TLS needs more than 64 KiB, and
	 * pthread_create then fails with EINVAL: try larger before giving up. */
	for (int i = 0; i < 3 && e == EINVAL; i++) {
		if (pthread_attr_init(&a))
			break;
		/* Joinable, for oms_ticker_pause; a thread that ends by itself
		 * (main() gone) ends with the process. */
		if (sizes[i])
			pthread_attr_setstacksize(&a, sizes[i]);
		e = pthread_create(&t, &a, ticker_main, NULL);
		pthread_attr_destroy(&a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		oms_warn("cannot start the background thread (%s); no DefragTick, read-around stays as the kernel does it", errname(e));
		return -1;
	}
	/* Named here too, so that it carries its name from the moment
	 * pthread_create returns (the program may look right away). */
	pthread_setname_np(t, OMS_TICKER_THREAD_NAME);
	thr = t;
	__atomic_store_n(&thr_pid, getpid(), __ATOMIC_RELEASE);
	__atomic_store_n(&joinable, 1, __ATOMIC_RELEASE);
	return 0;
}

/* sleep_cv waits on the ticks' clock (in the fork child: rebuilt). */
static void init_sleep_cv(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sleep_cv, &ca);
	pthread_condattr_destroy(&ca);
}

void oms_ticker_start(void)
{
	if (!njobs || __atomic_exchange_n(&started, 1, __ATOMIC_ACQ_REL))
		return;
	init_sleep_cv();
	if (spawn() < 0)
		__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
}

int oms_ticker_started(void)
{
	return __atomic_load_n(&started, __ATOMIC_ACQUIRE);
}

void oms_ticker_atfork_prepare(void)
{
	pthread_mutex_lock(&fork_mu);
}

void oms_ticker_atfork_parent(void)
{
	pthread_mutex_unlock(&fork_mu);
}

void oms_ticker_atfork_child(void)
{
	/* Only this thread survives; the parent's thread held nothing that
	 * fork_mu does not cover.  Re-initialise rather than unlock: a
	 * mutex owned by a thread that no longer exists is safest rebuilt. */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fork_mu = fresh;
	sleep_mu = fresh;
	pause_mu = fresh;
	init_sleep_cv();
	stop = 0;
	joinable = 0; /* no thread of ours in the child */
	if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
		return;
	/* A child that goes on without exec gets its own thread - later, from
	 * oms_ticker_poke; meanwhile the parent's thread serves the machine. */
	deferred_since = oms_os.now_ms();
	__atomic_store_n(&deferred, 1, __ATOMIC_RELEASE);
}

void oms_ticker_poke(void)
{
	if (!__atomic_load_n(&deferred, __ATOMIC_ACQUIRE) ||
	    oms_os.now_ms() - deferred_since < min_period() ||
	    !__atomic_exchange_n(&deferred, 0, __ATOMIC_ACQ_REL))
		return;
	int e = errno;
	if (pthread_mutex_trylock(&pause_mu)) { /* a set*id call: next time */
		__atomic_store_n(&deferred, 1, __ATOMIC_RELEASE);
		return;
	}
	if (spawn() < 0)
		__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pause_mu);
	errno = e;
}

/* 1 if our thread's capabilities are those of the calling thread: it
 * then fails a set*id call exactly when the caller does. */
static int same_caps(pid_t tid)
{
	struct __user_cap_header_struct h[2] = {{_LINUX_CAPABILITY_VERSION_3, 0},
						{_LINUX_CAPABILITY_VERSION_3, tid}};
	struct __user_cap_data_struct mine[2], its[2];
	return tid > 0 && syscall(SYS_capget, &h[0], mine) == 0 &&
	       syscall(SYS_capget, &h[1], its) == 0 && !memcmp(mine, its, sizeof mine);
}

int oms_ticker_pause(void)
{
	/* A vfork child shares our memory but not our thread: hands off. */
	if (!__atomic_load_n(&joinable, __ATOMIC_ACQUIRE) ||
	    getpid() != __atomic_load_n(&thr_pid, __ATOMIC_ACQUIRE))
		return -1;
	int e = errno;
	pthread_mutex_lock(&pause_mu);
	pid_t tid = __atomic_load_n(&thr_tid, __ATOMIC_ACQUIRE);
	int r = 0;
	/* The common case (root switching euid per request): same
	 * capabilities everywhere, nothing to stop.  Two capget calls. */
	if (__atomic_load_n(&joinable, __ATOMIC_ACQUIRE) && !same_caps(tid)) {
		pthread_mutex_lock(&sleep_mu);
		stop = 1;
		pthread_cond_signal(&sleep_cv);
		pthread_mutex_unlock(&sleep_mu);
		/* After a tick at most (a compaction may take seconds). */
		pthread_join(thr, NULL);
		__atomic_store_n(&joinable, 0, __ATOMIC_RELEASE);
		pthread_mutex_lock(&sleep_mu);
		stop = 0;
		pthread_mutex_unlock(&sleep_mu);
		r = 1;
	}
	errno = e;
	return r;
}

void oms_ticker_resume(int paused)
{
	if (paused < 0)
		return;
	int e = errno;
	if (paused && spawn() < 0)
		__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pause_mu);
	errno = e;
}

void oms_ticker_stop(void)
{
	if (!__atomic_load_n(&joinable, __ATOMIC_ACQUIRE) ||
	    getpid() != __atomic_load_n(&thr_pid, __ATOMIC_ACQUIRE) || pthread_mutex_trylock(&pause_mu))
		return; /* pause_mu stays held: no restart from here on */
	pthread_mutex_lock(&sleep_mu);
	stop = 1;
	pthread_cond_signal(&sleep_cv);
	pthread_mutex_unlock(&sleep_mu);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	add_ms(&t, 200);
	if (pthread_timedjoin_np(thr, NULL, &t) == 0)
		__atomic_store_n(&joinable, 0, __ATOMIC_RELEASE);
}

void oms_ticker_reset(void)
{
	njobs = 0;
	__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&deferred, 0, __ATOMIC_RELEASE);
}

pid_t oms_ticker_tid(void)
{
	return __atomic_load_n(&thr_tid, __ATOMIC_ACQUIRE);
}

void oms_ticker_wake(void)
{
	if (!__atomic_load_n(&joinable, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&sleep_mu);
	replan = 1;
	pthread_cond_signal(&sleep_cv);
	pthread_mutex_unlock(&sleep_mu);
}
