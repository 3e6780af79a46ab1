/* defrag.c - the DefragTick thread: see defrag.h for the policy and the
 * settings, docs/defrag.md for the reasoning.
 *
 * Invariants:
 * - One thread owns `D` (state, watched zones, read buffer).  Other threads
 *   touch only the statistics (relaxed atomics) and, from the fork
 *   handlers, `D.lock_fd` under `fork_mu`.
 * - `fork_mu` is held around every moment the thread has a file open that
 *   a fork child must not inherit (a /proc read, the lock file while it is
 *   being taken).  It is never held across a write to compact_memory or
 *   drop_caches (those block for seconds, and fork must not wait on them),
 *   nor across a log line (a full stderr pipe would stall fork).
 * - Nothing here calls malloc or stdio: buffers are on the stack or mapped
 *   with oms_os.mmap (a raw syscall); text is made with snprintf, which
 *   allocates nothing for %d/%s/%u formats.  Every /proc, /sys and /run path
 *   goes through oms_os.read_file/write_file or oms_os_path, so
 *   OOMSHIELD_PROC_ROOT redirects all of them.
 * - The system-wide single actor: an OFD lock on a small file holding the
 *   monotonic time of the last action.  Whoever holds the lock and finds
 *   the stamp older than the gap acts; everyone else counts it as done.
 *   OFD locks belong to the open file description, not the process, so a
 *   fork child sharing our fd would share the lock: the child closes it.
 */
#include "defrag.h"
#include "advise.h"
#include "big.h"
#include "config.h"
#include "frag.h"
#include "log.h"
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/kcmp.h>

#define MAX_WATCH 64
#define BUF_MIN ((size_t)64 << 10)
#define BUF_MAX ((size_t)16 << 20) /* zoneinfo of a very large NUMA box */
#define STACK_SIZE ((size_t)64 << 10)
#define LOCK_NAME "oomshield-defrag.lock"

static const char P_BUDDY[] = "/proc/buddyinfo";
static const char P_ZONEINFO[] = "/proc/zoneinfo";
static const char P_DBG_EXTFRAG[] = "/sys/kernel/debug/extfrag/extfrag_index";
static const char P_DBG_UNUSABLE[] = "/sys/kernel/debug/extfrag/unusable_index";
static const char P_COMPACT[] = "/proc/sys/vm/compact_memory";
static const char P_DROP[] = "/proc/sys/vm/drop_caches";

static struct {
	struct oms_defrag_state st;
	struct oms_frag_watch watch[MAX_WATCH];
	int nwatch;
	int picked;      /* zones chosen (even if none matched) */
	int no_debugfs;  /* the debugfs index failed once: buddyinfo from now on */
	int no_node_file;/* nodeN/compact missing: compact_memory from now on */
	int no_drop;     /* drop_caches cannot be written */
	int no_root;     /* not uid 0 on the real /proc: never acts */
	char *buf;       /* oms_os.mmap'd, grows to fit the largest file */
	size_t cap;
	int lock_fd;     /* held across an action; guarded by fork_mu */
	char lock_path[OMS_PATH_MAX + 64];
	/* oms_log_once flags, cleared by reset so tests see each line */
	int l_read, l_zone, l_src, l_perm, l_nocompact, l_drop, l_lock, l_secure, l_fail, l_noroot;
} D = {.lock_fd = -1};

static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static int started;      /* the thread was started in this process */
/* Stopping the thread (oms_defrag_pause): it sleeps on sleep_cv (monotonic
 * clock) under sleep_mu, which also guards `stop`.  `thr`, `thr_pid` and
 * `joinable` are written by the program thread that spawns or joins it,
 * under pause_mu (or in the constructor); `thr_tid` by the thread itself.
 * pause_mu is a leaf too, held across a set*id call; the fork child
 * rebuilds it. */
static pthread_mutex_t sleep_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pause_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cv;
static int stop;
static pthread_t thr;
static pid_t thr_pid, thr_tid;
static int joinable;
/* Fork child: the thread is started by the first large allocation, large
 * free or munmap made at least one interval after the fork
 * (oms_defrag_poke), not in the fork handler.  A child on its way to exec must stay single-threaded:
 * unshare(CLONE_NEWUSER) fails in a multi-threaded process. */
static int deferred;
static uint64_t deferred_since;

/* ------------------------------------------------------------------ */
/* The seed's state machine: pure, clock passed in. */

void oms_defrag_state_init(struct oms_defrag_state *s)
{
	memset(s, 0, sizeof *s);
	s->min_level = -1;
}

static void bump(unsigned *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

unsigned oms_defrag_step(struct oms_defrag_state *s, uint64_t now, int level,
			 int fragmented, uint64_t nodes)
{
	bump(&s->ticks);
	if (s->min_level < 0 || level < s->min_level)
		__atomic_store_n(&s->min_level, level, __ATOMIC_RELAXED);
	if (fragmented) {
		s->pending = 1;
		s->nodes |= nodes;
		s->fragged++;
		bump(&s->frag_ticks);
	} else {
		s->fragged = 0;
	}
	/* The seed compacts at its first chance (its last time starts at 0);
	 * with a monotonic clock "never" has to be said explicitly. */
	if (s->inert || !s->pending ||
	    (s->acted && now - s->last_ms < oms_cfg.defrag_min_gap_ms))
		return 0;
	unsigned act = OMS_DEFRAG_COMPACT;
	if (oms_cfg.drop_caches_after && s->fragged >= oms_cfg.drop_caches_after)
		act |= OMS_DEFRAG_DROP;
	return act;
}

void oms_defrag_done(struct oms_defrag_state *s, unsigned done, uint64_t now)
{
	int count = !(done & OMS_DEFRAG_NOCOUNT);
	if (done & OMS_DEFRAG_DROP) {
		s->fragged = 0;
		if (count)
			bump(&s->drops);
	}
	if (done & OMS_DEFRAG_COMPACT) {
		s->pending = 0;
		s->nodes = 0;
		if (count)
			bump(&s->compactions);
	}
	s->acted = 1;
	s->last_ms = now;
}

/* ------------------------------------------------------------------ */
/* Reading. */

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "permission denied";
	case EPERM: return "operation not permitted";
	case EROFS: return "read-only file system";
	case ENOENT: return "no such file";
	case EBUSY: return "busy";
	case EINVAL: return "invalid argument";
	case EIO: return "I/O error";
	default: return "error";
	}
}

static int perm_error(int e)
{
	return e == EACCES || e == EPERM || e == EROFS;
}

static int grow(size_t cap)
{
	void *p = oms_os.mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (D.buf)
		oms_os.munmap(D.buf, D.cap);
	D.buf = p;
	D.cap = cap;
	return 0;
}

/* Whole file into D.buf, growing the buffer while the file fills it.
 * -1 with errno on failure.  All under fork_mu: a fork child must never
 * see D.buf half-replaced, nor inherit the open file. */
static ssize_t read_all(const char *path)
{
	ssize_t n = -1;
	int e = ENOMEM;
	pthread_mutex_lock(&fork_mu);
	if (D.buf || grow(BUF_MIN) == 0) {
		for (;;) {
			n = oms_os.read_file(path, D.buf, D.cap);
			e = errno;
			/* If the buffer cannot grow, a truncated read still
			 * covers the first zones. */
			if (n < 0 || (size_t)n < D.cap - 1 || D.cap >= BUF_MAX || grow(D.cap * 2) < 0)
				break;
		}
	}
	pthread_mutex_unlock(&fork_mu);
	errno = e;
	return n;
}

/* Choose the watched zone of every node (once; again after a fork). */
static void pick_zones(void)
{
	const char *want = oms_cfg.zone[0] ? oms_cfg.zone : "auto";
	if (read_all(P_ZONEINFO) >= 0) {
		D.nwatch = oms_frag_pick_zoneinfo(D.buf, want, D.watch, MAX_WATCH);
	} else if (read_all(P_BUDDY) >= 0) {
		/* Without zoneinfo, free pages stand in for managed pages: the
		 * big zone is almost always the one with the most free. */
		D.nwatch = oms_frag_pick_buddy(D.buf, want, D.watch, MAX_WATCH);
	} else {
		/* info, not warn: a sandbox without /proc is no fault of the
		 * user's, and every protected program would print it. */
		oms_log_once(&D.l_read, OMS_LOG_INFO,
			     "defrag: cannot read %s%s (%s); idle until it can",
			     oms_cfg.proc_root, P_BUDDY, errname(errno));
		return;
	}
	D.picked = 1;
	if (!D.nwatch)
		oms_log_once(&D.l_zone, OMS_LOG_WARN,
			     "defrag: OOMSHIELD_ZONE=%s: no such zone with memory on any node; idle",
			     want);
	for (int i = 0; i < D.nwatch; i++)
		oms_debug("defrag: watching node %d zone %s (%llu pages)", D.watch[i].node,
			  D.watch[i].name, (unsigned long long)D.watch[i].pages);
}

static int watched(const struct oms_frag_zone *z)
{
	for (int i = 0; i < D.nwatch; i++)
		if (D.watch[i].node == z->node && !strcmp(D.watch[i].name, z->name))
			return 1;
	return 0;
}

/* The worst watched zone of this tick, and which nodes are fragmented. */
struct reading {
	int seen;           /* watched zones found */
	int level, node;    /* the worst one */
	char zone[OMS_FRAG_ZONE_NAME];
	int fragmented;
	uint64_t nodes;
};

static void scan(const char *text, int is_index, struct reading *r)
{
	const char *pos = text, *line;
	size_t len;
	struct oms_frag_zone z;
	while ((line = oms_frag_next_line(&pos, &len))) {
		int bad = is_index ? oms_frag_parse_index(line, len, &z)
				   : oms_frag_parse_buddy(line, len, &z);
		if (bad || !watched(&z))
			continue;
		if (!is_index)
			oms_frag_compute(&z, oms_cfg.metric);
		int level = oms_frag_level(z.milli, z.norders, oms_cfg.frag_index_milli);
		r->seen++;
		/* A zone whose every order is safe is healthy whatever the
		 * configured level: a kernel may print fewer orders than it. */
		if (level < oms_cfg.safe_level && level < z.norders) {
			r->fragmented = 1;
			r->nodes |= z.node < 63 ? (uint64_t)1 << z.node : OMS_DEFRAG_NODE_ALL;
		}
		if (r->seen == 1 || level < r->level) {
			r->level = level;
			r->node = z.node;
			memcpy(r->zone, z.name, sizeof r->zone);
		}
	}
}

/* Read the index from debugfs when it is there, else compute it from
 * buddyinfo exactly as the kernel would.  0 if a watched zone was seen. */
static int measure(struct reading *r)
{
	memset(r, 0, sizeof *r);
	if (!D.no_debugfs) {
		const char *p = oms_cfg.metric == OMS_METRIC_UNUSABLE ? P_DBG_UNUSABLE : P_DBG_EXTFRAG;
		if (read_all(p) >= 0)
			scan(D.buf, 1, r);
		if (!r->seen) {
			D.no_debugfs = 1;
			oms_log_once(&D.l_src, OMS_LOG_INFO,
				     "defrag: %s%s not readable; computing the index from %s",
				     oms_cfg.proc_root, p, P_BUDDY);
		}
	}
	if (!r->seen) {
		if (read_all(P_BUDDY) < 0) {
			oms_log_once(&D.l_read, OMS_LOG_INFO, "defrag: cannot read %s%s (%s); idle",
				     oms_cfg.proc_root, P_BUDDY, errname(errno));
			return -1;
		}
		scan(D.buf, 0, r);
	}
	if (!r->seen) {
		oms_log_once(&D.l_read, OMS_LOG_WARN,
			     "defrag: %s%s has no readable line for the watched zones; idle",
			     oms_cfg.proc_root, P_BUDDY);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The system-wide single actor. */

static int open_lock_at(const char *path)
{
	/* O_NOFOLLOW and the checks below: the fallback directory may be
	 * world-writable, and we are root when we get here. */
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return oms_os_fd_high(fd);
}

static int open_lock(void)
{
	char path[sizeof D.lock_path];
	if (oms_os_path(path, sizeof path, "/run/" LOCK_NAME) == 0) {
		int fd = open_lock_at(path);
		if (fd >= 0) {
			memcpy(D.lock_path, path, sizeof path);
			return fd;
		}
	}
	/* Fallback for root without a writable /run: OOMSHIELD_DIR.  Never
	 * for anyone else: the named file would stay in the user's folder. */
	int n = geteuid() == 0 ? snprintf(path, sizeof path, "%s/." LOCK_NAME, oms_cfg.dir) : -1;
	if (n > 0 && (size_t)n < sizeof path) {
		int fd = open_lock_at(path);
		if (fd >= 0) {
			memcpy(D.lock_path, path, sizeof path);
			return fd;
		}
	}
	D.lock_path[0] = '\0';
	return -1;
}

/* 1: we act now (the lock, if any, stays held in D.lock_fd until
 * unclaim()); 0: another process acts or acted within the gap. */
static int claim(uint64_t now)
{
	pthread_mutex_lock(&fork_mu);
	int fd = open_lock();
	if (fd < 0) {
		pthread_mutex_unlock(&fork_mu);
		oms_log_once(&D.l_lock, OMS_LOG_INFO,
			     "defrag: no lock file in %s/run or %s; acting without coordination",
			     oms_cfg.proc_root, oms_cfg.dir);
		return 1;
	}
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		int busy = errno == EAGAIN || errno == EACCES;
		close(fd);
		pthread_mutex_unlock(&fork_mu);
		return !busy;
	}
	/* The clock again, under the lock: `now` was read at the start of
	 * the tick, and a process that acted meanwhile left a stamp later
	 * than that, which must not pass for one from an earlier boot. */
	uint64_t t = oms_os.now_ms();
	if (t > now)
		now = t;
	char b[32];
	ssize_t n = pread(fd, b, sizeof b - 1, 0);
	uint64_t stamp = 0;
	int have = 0;
	for (ssize_t i = 0; i < n && b[i] >= '0' && b[i] <= '9'; i++, have = 1)
		stamp = stamp * 10 + (uint64_t)(b[i] - '0');
	/* A stamp from the future is from an earlier boot (the file may sit
	 * in a persistent directory): ignore it. */
	if (have && stamp <= now && now - stamp < oms_cfg.defrag_min_gap_ms) {
		close(fd);
		pthread_mutex_unlock(&fork_mu);
		return 0;
	}
	int len = snprintf(b, sizeof b, "%020llu\n", (unsigned long long)now);
	if (pwrite(fd, b, (size_t)len, 0) != len) {
		/* Others will not see our stamp; the lock still serialises. */
	}
	D.lock_fd = fd;
	pthread_mutex_unlock(&fork_mu);
	return 1;
}

static void unclaim(void)
{
	pthread_mutex_lock(&fork_mu);
	if (D.lock_fd >= 0)
		close(D.lock_fd);
	D.lock_fd = -1;
	pthread_mutex_unlock(&fork_mu);
}

/* ------------------------------------------------------------------ */
/* Acting. */

/* A permanent refusal: say so once and never write again. */
static void refuse(const char *path, int e)
{
	D.st.inert = 1;
	oms_log_once(&D.l_perm, OMS_LOG_WARN,
		     "defrag: cannot write %s%s (%s): compaction needs uid 0; monitoring only",
		     oms_cfg.proc_root, path, errname(e));
}

/* 0 if the kernel was asked to compact every node in `nodes`. */
static int compact(uint64_t nodes)
{
	char path[64];
	if (!D.no_node_file && nodes && !(nodes & OMS_DEFRAG_NODE_ALL)) {
		int ok = 1;
		for (int n = 0; n < 63 && ok; n++) {
			if (!(nodes & ((uint64_t)1 << n)))
				continue;
			snprintf(path, sizeof path, "/sys/devices/system/node/node%d/compact", n);
			if (oms_os.write_file(path, "1") == 0)
				continue;
			if (errno != ENOENT) {
				if (perm_error(errno))
					refuse(path, errno);
				return -1;
			}
			/* No per-node files (a kernel without NUMA): the
			 * global file compacts every node. */
			D.no_node_file = 1;
			ok = 0;
		}
		if (ok)
			return 0;
	}
	if (oms_os.write_file(P_COMPACT, "1") == 0)
		return 0;
	if (perm_error(errno)) {
		refuse(P_COMPACT, errno);
	} else if (errno == ENOENT) {
		D.st.inert = 1;
		oms_log_once(&D.l_nocompact, OMS_LOG_WARN,
			     "defrag: %s%s missing (kernel without CONFIG_COMPACTION); monitoring only",
			     oms_cfg.proc_root, P_COMPACT);
	}
	return -1;
}

static unsigned act(unsigned want, uint64_t now, const struct reading *r)
{
	unsigned done = 0;
	int e;
	if (oms_cfg.defrag_dry_run) {
		oms_warn("defrag: dry run: node %d zone %s safety level %d < %d, fragmented %u ticks; "
			 "would %s%s", r->node, r->zone, r->level, oms_cfg.safe_level,
			 D.st.fragged, want & OMS_DEFRAG_DROP ? "drop caches (3) and " : "",
			 "compact (1)");
		oms_defrag_done(&D.st, want | OMS_DEFRAG_NOCOUNT, now);
		return want;
	}
	if (!claim(now)) {
		oms_debug("defrag: another process compacted within %u ms; leaving it at that",
			  oms_cfg.defrag_min_gap_ms);
		oms_defrag_done(&D.st, OMS_DEFRAG_COMPACT | OMS_DEFRAG_NOCOUNT, now);
		return 0;
	}
	if ((want & OMS_DEFRAG_DROP) && !D.no_drop) {
		oms_warn("defrag: persistent fragmentation (%u ticks): dropping the page cache",
			 D.st.fragged);
		if (oms_os.write_file(P_DROP, "3") == 0) {
			done |= OMS_DEFRAG_DROP;
		} else {
			e = errno;
			if (perm_error(e) || e == ENOENT)
				D.no_drop = 1;
			oms_log_once(&D.l_drop, OMS_LOG_WARN, "defrag: cannot write %s%s (%s)",
				     oms_cfg.proc_root, P_DROP, errname(e));
		}
	}
	oms_warn("defrag: memory fragmented (node %d zone %s safety level %d < %d, %u ticks); compacting",
		 r->node, r->zone, r->level, oms_cfg.safe_level, D.st.fragged);
	if (compact(D.st.nodes) == 0) {
		done |= OMS_DEFRAG_COMPACT;
	} else if (!D.st.inert) {
		oms_log_once(&D.l_fail, OMS_LOG_WARN,
			     "defrag: compaction request failed (%s); retrying after %u ms",
			     errname(errno), oms_cfg.defrag_min_gap_ms);
	}
	unclaim();
	oms_defrag_done(&D.st, done, now);
	return done & (OMS_DEFRAG_COMPACT | OMS_DEFRAG_DROP);
}

/* The kernel lets only uid 0 write compact_memory (it checks the uid,
 * not a capability): without it, say so once and never try - in
 * particular never create a lock file for an action that cannot be.
 * Asked at the first tick and before each action (a daemon may drop
 * root later), not every tick: a syscall there is ~10 us of a ~100 us
 * budget.  A fake OOMSHIELD_PROC_ROOT is the tests' and may be writable. */
static int no_root(void)
{
	if (!oms_cfg.proc_root[0] && !D.st.inert && geteuid() != 0) {
		D.st.inert = D.no_root = 1;
		oms_log_once(&D.l_noroot, OMS_LOG_INFO,
			     "defrag: not running as root: monitoring only (compaction needs uid 0)");
	}
	return D.no_root;
}

unsigned oms_defrag_tick(void)
{
	struct reading r;
	if (oms_cfg.secure && !D.st.inert) {
		D.st.inert = 1;
		oms_log_once(&D.l_secure, OMS_LOG_INFO,
			     "defrag: secure-execution process: monitoring only, no /proc writes");
	}
	if (!D.picked) {
		no_root();
		pick_zones();
	}
	if (!D.nwatch || measure(&r) < 0)
		return 0;
	uint64_t now = oms_os.now_ms();
	unsigned want = oms_defrag_step(&D.st, now, r.level, r.fragmented, r.nodes);
	if (want && no_root())
		want = 0;
	oms_debug("defrag: tick: node %d zone %s safety level %d%s", r.node, r.zone, r.level,
		  r.fragmented ? " (fragmented)" : "");
	if (r.fragmented && D.no_root) /* worth a warning once it matters */
		oms_log_once(&D.l_perm, OMS_LOG_WARN,
			     "defrag: memory fragmented (node %d zone %s safety level %d < %d); "
			     "compaction needs uid 0; monitoring only",
			     r.node, r.zone, r.level, oms_cfg.safe_level);
	return want ? act(want, now, &r) : 0;
}

void oms_defrag_reset(void)
{
	char *buf = D.buf;
	size_t cap = D.cap;
	int fd = D.lock_fd;
	memset(&D, 0, sizeof D);
	D.buf = buf; /* a mapping we own either way: keep it */
	D.cap = cap;
	D.lock_fd = fd;
	oms_defrag_state_init(&D.st);
}

void oms_defrag_snapshot(struct oms_defrag_state *out)
{
	*out = D.st;
}

const char *oms_defrag_lock_path(void)
{
	return D.lock_path;
}

/* ------------------------------------------------------------------ */
/* The thread. */

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
 * long as the program's threads, without DefragTick.  So does a process
 * whose /proc/self/stat cannot be read. */
static struct {
	pid_t pid, tid;
	int no_kcmp;
	int fake_stat;
	unsigned ticks;
} me;

static ssize_t read_stat(char *b, size_t cap)
{
	pthread_mutex_lock(&fork_mu);
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, b, cap - 1);
	if (fd >= 0)
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
	while (!stop && r == 0) /* 0: woken early; ETIMEDOUT (or an error): go */
		r = pthread_cond_timedwait(&sleep_cv, &sleep_mu, t);
	r = stop;
	pthread_mutex_unlock(&sleep_mu);
	return r;
}

static void *defrag_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), OMS_DEFRAG_THREAD_NAME);
	alone_init();
	__atomic_store_n(&thr_tid, me.tid, __ATOMIC_RELEASE);
	struct timespec next, due, now;
	clock_gettime(CLOCK_MONOTONIC, &next);
	due = next;
	add_ms(&due, oms_cfg.defrag_interval_ms);
	for (;;) {
		/* The read-around policy may ask for quicker ticks while the
		 * program pages; the DefragTick checks keep their own interval. */
		unsigned step = oms_advise_wanted_ms();
		next = due;
		if (step && step < oms_cfg.defrag_interval_ms) {
			clock_gettime(CLOCK_MONOTONIC, &next);
			add_ms(&next, step);
			if (before(&due, &next))
				next = due;
		}
		if (sleep_until(&next) || alone())
			return NULL;
		oms_advise_tick(); /* first: a compaction below may block for seconds */
		oms_big_cache_tick();
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (before(&now, &due))
			continue;
		oms_defrag_tick();
		/* A compaction can block for seconds: start counting again
		 * from now rather than ticking in a burst to catch up. */
		add_ms(&due, oms_cfg.defrag_interval_ms);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (before(&due, &now)) {
			due = now;
			add_ms(&due, oms_cfg.defrag_interval_ms);
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
	/* The thread inherits a full mask: it never takes a signal meant for
	 * the program (signalfd, sigwait).  The caller's mask is restored. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* A program with a large static TLS needs more than 64 KiB, and
	 * pthread_create then fails with EINVAL: try larger before giving up. */
	for (int i = 0; i < 3 && e == EINVAL; i++) {
		if (pthread_attr_init(&a))
			break;
		/* Joinable, for oms_defrag_pause; a thread that ends by itself
		 * (main() gone) ends with the process. */
		if (sizes[i])
			pthread_attr_setstacksize(&a, sizes[i]);
		e = pthread_create(&t, &a, defrag_main, NULL);
		pthread_attr_destroy(&a);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		oms_warn("defrag: cannot start the thread (%s); no defragmentation", errname(e));
		return -1;
	}
	/* Named here too, so that it carries its name from the moment
	 * pthread_create returns (the program may look right away). */
	pthread_setname_np(t, OMS_DEFRAG_THREAD_NAME);
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

void oms_defrag_start(void)
{
	if (!oms_cfg.defrag || __atomic_exchange_n(&started, 1, __ATOMIC_ACQ_REL))
		return;
	oms_defrag_reset();
	init_sleep_cv();
	/* Map the read buffer here, on the program's thread at start-up, not
	 * at the first tick: a mapping made by our thread a second later can
	 * land in a hole the program has just unmapped and means to reuse
	 * (mremap in place, MAP_FIXED_NOREPLACE).  It grows later only on a
	 * machine whose zoneinfo exceeds BUF_MIN. */
	if (!D.buf)
		grow(BUF_MIN);
	if (spawn() < 0)
		__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
}

int oms_defrag_started(void)
{
	return __atomic_load_n(&started, __ATOMIC_ACQUIRE);
}

void oms_defrag_atfork_prepare(void)
{
	pthread_mutex_lock(&fork_mu);
}

void oms_defrag_atfork_parent(void)
{
	pthread_mutex_unlock(&fork_mu);
}

void oms_defrag_atfork_child(void)
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
	if (D.lock_fd >= 0)
		close(D.lock_fd); /* our copy would keep the parent's OFD lock */
	D.lock_fd = -1;
	if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
		return;
	/* A child that goes on without exec gets its own thread - later, from
	 * oms_defrag_poke; meanwhile the parent's thread serves the machine. */
	oms_defrag_reset();
	deferred_since = oms_os.now_ms();
	__atomic_store_n(&deferred, 1, __ATOMIC_RELEASE);
}

void oms_defrag_poke(void)
{
	if (!__atomic_load_n(&deferred, __ATOMIC_ACQUIRE) ||
	    oms_os.now_ms() - deferred_since < oms_cfg.defrag_interval_ms ||
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

int oms_defrag_pause(void)
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

void oms_defrag_resume(int paused)
{
	if (paused < 0)
		return;
	int e = errno;
	if (paused && spawn() < 0)
		__atomic_store_n(&started, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pause_mu);
	errno = e;
}

void oms_defrag_stop(void)
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

int oms_defrag_stats(char *buf, size_t cap)
{
	if (!cap)
		return 0;
	buf[0] = '\0';
	if (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
		return 0;
	int n = snprintf(buf, cap, " ticks=%u fragmented=%u compactions=%u drops=%u min_level=%d",
			 __atomic_load_n(&D.st.ticks, __ATOMIC_RELAXED),
			 __atomic_load_n(&D.st.frag_ticks, __ATOMIC_RELAXED),
			 __atomic_load_n(&D.st.compactions, __ATOMIC_RELAXED),
			 __atomic_load_n(&D.st.drops, __ATOMIC_RELAXED),
			 __atomic_load_n(&D.st.min_level, __ATOMIC_RELAXED));
	if (n < 0)
		return 0;
	return (size_t)n >= cap ? (int)cap - 1 : n;
}
