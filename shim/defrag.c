/* defrag.c - the DefragTick job of the background thread (ticker.c): see
 * defrag.h for the policy and the settings, docs/defrag.md for the
 * reasoning.
 *
 * Invariants:
 * - The ticker's thread owns `D` (state, watched zones, read buffer);
 *   init and the fork child reset it while no thread of ours runs.  Other
 *   threads touch only the statistics (relaxed atomics, both sides) and,
 *   from the fork handlers, `D.lock_fd` under `fork_mu`.
 * - Locks: `fork_mu` only, a leaf (nothing is taken under it).
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
#include "config.h"
#include "frag.h"
#include "log.h"
#include "os.h"
#include "ticker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>


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
static int on; /* oms_defrag_init ran: the ticker runs our checks */

/* ------------------------------------------------------------------ */
/* The seed's state machine: pure, clock passed in. */

void oms_defrag_state_init(struct oms_defrag_state *s)
{
	memset(s, 0, sizeof *s);
	s->min_level = -1;
}

/* One writer (the ticker's thread), readers anywhere: a relaxed
 * load-and-store is enough, and never tears (32 bits). */
static void bump(unsigned *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

unsigned oms_defrag_step(struct oms_defrag_state *s, uint64_t now, int level,
			 int fragmented, uint64_t nodes)
{
	bump(&s->ticks);
	int min = __atomic_load_n(&s->min_level, __ATOMIC_RELAXED);
	if (min < 0 || level < min)
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
	char clean[OMS_LOG_VALUE_MAX];
	if (!D.nwatch)
		oms_log_once(&D.l_zone, OMS_LOG_WARN,
			     "defrag: OOMSHIELD_ZONE=%s: no such zone with memory on any node; idle",
			     oms_log_clean(clean, sizeof clean, want));
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
	out->ticks = __atomic_load_n(&D.st.ticks, __ATOMIC_RELAXED);
	out->frag_ticks = __atomic_load_n(&D.st.frag_ticks, __ATOMIC_RELAXED);
	out->compactions = __atomic_load_n(&D.st.compactions, __ATOMIC_RELAXED);
	out->drops = __atomic_load_n(&D.st.drops, __ATOMIC_RELAXED);
	out->min_level = __atomic_load_n(&D.st.min_level, __ATOMIC_RELAXED);
}

const char *oms_defrag_lock_path(void)
{
	return D.lock_path;
}

/* ------------------------------------------------------------------ */
/* Entry points: the ticker (ticker.c) runs oms_defrag_tick; init.c
 * registers it and calls these. */

void oms_defrag_init(void)
{
	oms_defrag_reset();
	/* Map the read buffer here, on the program's thread at start-up, not
	 * at the first tick: a mapping made by the ticker's thread a second
	 * later can land in a hole the program has just unmapped and means to
	 * reuse (mremap in place, MAP_FIXED_NOREPLACE).  It grows later only
	 * on a machine whose zoneinfo exceeds BUF_MIN. */
	if (!D.buf)
		grow(BUF_MIN);
	/* The files each tick reads, opened here for the same reason (os.c,
	 * "Kept files"); a missing one costs nothing. */
	oms_os_keep(oms_cfg.metric == OMS_METRIC_UNUSABLE ? P_DBG_UNUSABLE : P_DBG_EXTFRAG, O_RDONLY);
	oms_os_keep(P_BUDDY, O_RDONLY);
	oms_os_keep(P_ZONEINFO, O_RDONLY);
	__atomic_store_n(&on, 1, __ATOMIC_RELEASE);
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
	/* Rebuilt, not unlocked: its owner may be a thread the child lacks. */
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	fork_mu = fresh;
	if (D.lock_fd >= 0)
		close(D.lock_fd); /* our copy would keep the parent's OFD lock */
	D.lock_fd = -1;
	/* The child's own ticks, once its thread starts, count from zero. */
	if (__atomic_load_n(&on, __ATOMIC_ACQUIRE))
		oms_defrag_reset();
}

int oms_defrag_stats(char *buf, size_t cap)
{
	if (!cap)
		return 0;
	buf[0] = '\0';
	if (!__atomic_load_n(&on, __ATOMIC_ACQUIRE) || !oms_ticker_started())
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
