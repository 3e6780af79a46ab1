/* os.c - real implementations behind the `oms_os` seam (see os.h).
 *
 * Nothing here allocates or locks.  The mapping calls go straight to the
 * kernel with syscall(2): the exported mmap family is ours, and calling it
 * from inside the shim would recurse into the redirect policy.
 */
#include "os.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Shim fds live at or above this number, away from the small fds that
 * programs assume (select() sets, dup2 targets, "fd 3 is the config"); with
 * a soft RLIMIT_NOFILE of 1024 or less (Debian's default) the floor is half
 * the limit.  At most a quarter of the limit is ours (`shim_fds`): past
 * that, new blocks fall back to plain memory (cause "mfile") rather than
 * crowd the program out of its own descriptor table. */
#define OMS_FD_FLOOR 512
static int shim_fds;

static unsigned long nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > (rlim_t)INT_MAX)
		return (unsigned long)INT_MAX;
	return (unsigned long)rl.rlim_cur;
}

void *oms_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
#ifdef SYS_mmap2
	if (off & 4095) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap2, addr, len, prot, flags, fd, (long)(off >> 12));
#else
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
#endif
}

int oms_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

void *oms_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

int oms_sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

int oms_sys_mprotect(void *addr, size_t len, int prot)
{
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

int oms_sys_mlock2(const void *addr, size_t len, unsigned flags)
{
#ifdef SYS_mlock2
	long r = syscall(SYS_mlock2, addr, len, flags);
	if (r == 0 || errno != ENOSYS)
		return (int)r;
	if (flags) { /* as glibc says without mlock2 */
		errno = EINVAL;
		return -1;
	}
#endif
	return (int)syscall(SYS_mlock, addr, len); /* what glibc's mlock2 falls back to */
}

int oms_sys_mlockall(int flags)
{
	return (int)syscall(SYS_mlockall, flags);
}

static int fd_floor(unsigned long lim)
{
	return lim >= 2 * OMS_FD_FLOOR ? OMS_FD_FLOOR : (int)(lim / 2);
}

static int fd_high(int fd, unsigned long lim)
{
	int floor = fd_floor(lim);
	if (fd < 0 || fd >= floor)
		return fd;
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

int oms_os_fd_high(int fd)
{
	return fd_high(fd, nofile_limit());
}

void oms_os_fd_forget(void)
{
	__atomic_fetch_sub(&shim_fds, 1, __ATOMIC_RELAXED);
}

static int real_close(int fd)
{
	oms_os_fd_forget();
	return close(fd);
}

void oms_os_fd_prepare(void)
{
	int e = errno;
	int fd = open("/", O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		int hi = oms_os_fd_high(fd);
		if (hi >= 0)
			close(hi);
	}
	errno = e;
}

static int open_tmpfile(const char *dir, unsigned long lim)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd_high(fd, lim);
	/* Filesystems without O_TMPFILE say so in several ways; anything else
	 * (EACCES, ENOENT, EMFILE, ENOSPC) is a real failure. */
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != ENOTDIR && errno != EINVAL)
		return -1;
	char path[OMS_PATH_MAX + 32];
	int n = snprintf(path, sizeof path, "%s/.oomshield.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path); /* unnamed from here on: nothing left behind, even on SIGKILL */
	return fd_high(fd, lim);
}

static int real_open_tmpfile(const char *dir)
{
	unsigned long lim = nofile_limit(); /* one getrlimit per file */
	if ((unsigned long)__atomic_load_n(&shim_fds, __ATOMIC_RELAXED) >= lim / 4) {
		errno = EMFILE;
		return -1;
	}
	int fd = open_tmpfile(dir, lim);
	if (fd >= 0)
		__atomic_fetch_add(&shim_fds, 1, __ATOMIC_RELAXED);
	return fd;
}

static uint64_t real_disk_free(int fd)
{
	struct statvfs v;
	if (fstatvfs(fd, &v) < 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

static uint64_t real_disk_size(int fd)
{
	struct statvfs v;
	if (fstatvfs(fd, &v) < 0)
		return 0;
	return (uint64_t)v.f_blocks * v.f_frsize;
}

static uint64_t real_data_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_DATA, &r) < 0 || r.rlim_cur == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)r.rlim_cur;
}

static int real_fallocate(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

static uint64_t real_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int oms_os_dir_dev(const char *dir, unsigned *maj, unsigned *min)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -1;
	*maj = major(st.st_dev);
	*min = minor(st.st_dev);
	return 0;
}

int oms_os_path(char *buf, size_t cap, const char *path)
{
	int n = snprintf(buf, cap, "%s%s", oms_os_root, path);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* Kept files.  open() hands out the lowest free fd.  On a program thread
 * that is invisible - the shim closes it before returning - but on the
 * shim's own thread it is not: for a moment a single-threaded program has
 * a descriptor it never opened, its close(0); open() gets another number
 * and a count of its fds is off by one (maps_semantics' fork case under
 * valgrind, while the thread polled the fork canary).  So each file the
 * thread reads again and again is opened once on a program thread, moved
 * above the fd floor, and read with pread at offset 0 from then on: a
 * seq_file regenerates at offset 0, and a test's fake file is re-read.
 *
 * Invariants: a slot is claimed once (nkept) and its path never changes;
 * its fields change only inside a seqlock write (gen odd; 0 before the
 * first), and a reader uses them only if gen was even, not 0, and the
 * same before and after.
 * pid is 0 for a system file, else the process whose /proc/self it is: a
 * fork child keeps its parent's fd, which reads the parent, until
 * oms_os_keep reopens it onto the same number.  A reader also checks that
 * the fd still is the file (dev, ino): a daemon that closed every fd may
 * have reused the number.  A file not kept is opened and closed per read,
 * as before - on the thread only for rare or one-off reads. */
#define KEEP_MAX 8
static struct kept {
	char path[OMS_PATH_MAX * 2]; /* with OOMSHIELD_PROC_ROOT, or /proc/self */
	unsigned gen;
	int fd;
	pid_t pid;
	dev_t dev;
	ino_t ino;
} kept[KEEP_MAX];
static unsigned nkept;

static int kept_path(char *buf, size_t cap, const char *path)
{
	if (!strncmp(path, "/proc/self/", 11)) { /* the process's own view */
		size_t n = strlen(path);
		if (n >= cap)
			return -1;
		memcpy(buf, path, n + 1);
		return 0;
	}
	return oms_os_path(buf, cap, path);
}

/* The kept fd for the full path `full`, checked to be the file still, or
 * -1 (then open it yourself). */
static int kept_fd(const char *full)
{
	unsigned n = __atomic_load_n(&nkept, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < KEEP_MAX; i++) {
		struct kept *k = &kept[i];
		unsigned g = __atomic_load_n(&k->gen, __ATOMIC_ACQUIRE);
		if (!g || (g & 1) || strcmp(k->path, full)) /* 0: claimed, not yet filled */
			continue;
		int fd = k->fd;
		pid_t pid = k->pid;
		dev_t dev = k->dev;
		ino_t ino = k->ino;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&k->gen, __ATOMIC_RELAXED) != g || fd < 0 ||
		    (pid && pid != getpid()))
			return -1;
		struct stat st;
		return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino ? fd : -1;
	}
	return -1;
}

int oms_os_keep(const char *path, int flags)
{
	char full[sizeof kept[0].path];
	if (kept_path(full, sizeof full, path) < 0)
		return -1;
	if (kept_fd(full) >= 0)
		return 0;
	int e = errno;
	struct kept *k = NULL;
	unsigned n = __atomic_load_n(&nkept, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n && i < KEEP_MAX && !k; i++)
		if (!strcmp(kept[i].path, full))
			k = &kept[i];
	if (!k) { /* a new slot: its gen stays odd until it is filled */
		do
			if (n >= KEEP_MAX)
				return -1;
		while (!__atomic_compare_exchange_n(&nkept, &n, n + 1, 0, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE));
		k = &kept[n];
		__atomic_store_n(&k->gen, 1, __ATOMIC_RELAXED);
		k->fd = -1;
		memcpy(k->path, full, strlen(full) + 1);
	} else {
		unsigned g = __atomic_load_n(&k->gen, __ATOMIC_ACQUIRE);
		if ((g & 1) || !__atomic_compare_exchange_n(&k->gen, &g, g + 1, 0, __ATOMIC_ACQ_REL,
							    __ATOMIC_ACQUIRE))
			return -1; /* another thread is at it */
	}
	int r = -1;
	int fd = open(full, flags | O_CLOEXEC);
	unsigned long lim = nofile_limit();
	if (fd >= 0 && (fd = fd_high(fd, lim)) >= 0 && fd < fd_floor(lim)) {
		close(fd); /* it could not move up: not kept below the floor */
		fd = -1;
	}
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0) {
		/* Onto the old number while it still is ours (a fork child's
		 * copy of its parent's file): a reader that holds the number
		 * gets one file or the other.  A number the program has taken
		 * over is left alone. */
		struct stat old;
		if (k->fd >= 0 && fstat(k->fd, &old) == 0 && old.st_dev == k->dev &&
		    old.st_ino == k->ino) {
			if (dup3(fd, k->fd, O_CLOEXEC) >= 0) {
				close(fd);
				fd = k->fd;
			} else {
				close(k->fd); /* ours still: not left open */
			}
		}
		k->fd = fd;
		k->pid = strncmp(full, "/proc/self/", 11) ? 0 : getpid();
		k->dev = st.st_dev;
		k->ino = st.st_ino;
		r = 0;
	} else if (fd >= 0) {
		close(fd);
	}
	__atomic_fetch_add(&k->gen, 1, __ATOMIC_RELEASE);
	errno = e;
	return r;
}

int oms_os_open_kept(const char *path, int flags, int *own)
{
	char full[sizeof kept[0].path];
	*own = 0;
	if (kept_path(full, sizeof full, path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = kept_fd(full);
	if (fd >= 0)
		return fd;
	*own = 1;
	return open(full, flags | O_CLOEXEC);
}

/* Every /proc, /sys and debugfs file we read is a seq_file: it fills a
 * page-sized buffer with whole records, and none of ours has records of
 * 1 KiB, so a first read shorter than that is the whole file.  Stopping
 * there saves the DefragTick thread a read that would only say "end of
 * file", once a second (docs/bench.md 23).  The tests' fake files are
 * regular files, where a short read at offset 0 is the end too. */
static ssize_t real_read_file(const char *path, char *buf, size_t cap)
{
	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	int own;
	int fd = oms_os_open_kept(path, O_RDONLY, &own);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got < cap - 1) {
		ssize_t r = pread(fd, buf + got, cap - 1 - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == (size_t)r && got < 1024)
			break;
	}
	int e = errno;
	if (own)
		close(fd);
	errno = e;
	buf[got] = '\0';
	return (ssize_t)got;
}

static int real_write_file(const char *path, const char *text)
{
	char full[OMS_PATH_MAX * 2];
	if (oms_os_path(full, sizeof full, path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* No O_CREAT: a missing control file means "not supported here". */
	int fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w;
	do
		w = write(fd, text, len);
	while (w < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	errno = e;
	return w == (ssize_t)len ? 0 : -1;
}

const char *oms_os_root = "";
size_t oms_page = 4096;

static const struct oms_os oms_os_real = {
	.open_tmpfile = real_open_tmpfile,
	.fallocate = real_fallocate,
	.disk_free = real_disk_free,
	.disk_size = real_disk_size,
	.data_limit = real_data_limit,
	.ftruncate = ftruncate,
	.close = real_close,
	.fstat = fstat,
	.mmap = oms_sys_mmap,
	.munmap = oms_sys_munmap,
	.mremap = oms_sys_mremap,
	.madvise = oms_sys_madvise,
	.mprotect = oms_sys_mprotect,
	.msync = msync,
	.now_ms = real_now_ms,
	.read_file = real_read_file,
	.write_file = real_write_file,
};

struct oms_os oms_os = oms_os_real;

void oms_os_reset(void)
{
	oms_os = oms_os_real;
}

/* Grow a raw array (never through malloc: we may be inside it). */
int oms_os_grow_array(void **arr, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *m = *arr ? oms_sys_mremap(*arr, *cap * elem, ncap * elem, MREMAP_MAYMOVE, NULL)
		       : oms_sys_mmap(NULL, ncap * elem, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	*arr = m;
	*cap = ncap;
	return 0;
}

int oms_os_copy_to_anon(void *addr, size_t len, int prot)
{
	char *tmp = oms_os.mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp == MAP_FAILED)
		return -1;
	/* The source is our own file mapping: making it readable for the copy
	 * changes nothing the program can see, it is replaced next. */
	if (!(prot & PROT_READ))
		oms_os.mprotect(addr, len, PROT_READ);
	memcpy(tmp, addr, len);
	if (prot != (PROT_READ | PROT_WRITE))
		oms_os.mprotect(tmp, len, prot);
	if (oms_os.mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
		int e = errno;
		oms_os.munmap(tmp, len);
		if (!(prot & PROT_READ))
			oms_os.mprotect(addr, len, prot); /* as the program left it */
		errno = e;
		return -1;
	}
	return 0;
}

/* Replace [addr, addr+cap) with a mapping of `fd` (or anonymous memory when
 * fd < 0 and `src` is given) without a window in which the range is
 * unmapped: map elsewhere, then move over. */
int oms_os_remap_over(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	char *p = oms_os.mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return -1;
	if (oms_os.mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
		oms_os.munmap(p, len);
		return -1;
	}
	return 0;
}

/* The fork switch-back (forkback.c).  /proc/self is the process's own
 * view, not a system file: not under OOMSHIELD_PROC_ROOT, like
 * /proc/self/maps in big.c. */
int oms_os_only_threads(pid_t a, pid_t b)
{
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[2048] __attribute__((aligned(8)));
	int ok = 1;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
		if (n < 0)
			ok = -1;
		if (n <= 0)
			break;
		for (long i = 0; i < n;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type;
				 char name[]; } *d = (void *)(buf + i);
			i += d->reclen;
			if (d->name[0] < '0' || d->name[0] > '9')
				continue; /* "." and ".." */
			pid_t t = (pid_t)strtol(d->name, NULL, 10);
			if (t != a && t != b)
				ok = 0;
		}
	}
	close(fd);
	return ok;
}

/* Bits of a /proc/self/pagemap entry (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_FILE (1ULL << 61)
#define PM_EXCLUSIVE (1ULL << 56)

/* A signal mask from a /proc status file's hex field (64 signals). */
static int status_mask(const char *path, const char *key, unsigned long long *out)
{
	char buf[2048];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *p = strstr(buf, key);
	if (!p)
		return -1;
	*out = strtoull(p + strlen(key), NULL, 16);
	return 0;
}

int oms_os_drain_ignored(const sigset_t *leader_mask)
{
	unsigned long long ign, cgt, blk = 0;
	if (status_mask("/proc/self/status", "\nSigIgn:", &ign) < 0 ||
	    status_mask("/proc/self/status", "\nSigCgt:", &cgt) < 0)
		return -1;
	if (!leader_mask) {
		char path[48];
		snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)getpid());
		if (status_mask(path, "\nSigBlk:", &blk) < 0)
			return -1;
	}
	unsigned long long dfl = (1ULL << (SIGCHLD - 1)) | (1ULL << (SIGURG - 1)) |
				 (1ULL << (SIGWINCH - 1)) | (1ULL << (SIGCONT - 1));
	unsigned long long drop = ign | (dfl & ~cgt);
	sigset_t set;
	sigemptyset(&set);
	for (int sig = 1; sig <= 64 && sig < NSIG; sig++) {
		int blocked = leader_mask ? sigismember(leader_mask, sig) == 1
					  : !!(blk & (1ULL << (sig - 1)));
		/* One the program blocks it may be waiting for (signalfd,
		 * sigwaitinfo): the kernel would have kept it too. */
		if ((drop & (1ULL << (sig - 1))) && !blocked)
			sigaddset(&set, sig);
	}
	struct timespec zero = {0, 0};
	int k = 0;
	while (k < 64 && sigtimedwait(&set, NULL, &zero) > 0)
		k++;
	return k;
}

int oms_os_page_alone(const void *addr)
{
	int own;
	int pm = oms_os_open_kept("/proc/self/pagemap", O_RDONLY, &own);
	if (pm < 0)
		return -1;
	uint64_t e = 0;
	ssize_t n = pread(pm, &e, sizeof e, (off_t)((uintptr_t)addr / oms_page * sizeof e));
	if (own)
		close(pm);
	if (n != (ssize_t)sizeof e)
		return -1;
	return (e & PM_PRESENT) && (e & PM_EXCLUSIVE) ? 1 : 0;
}

/* One /proc/self/maps line: 1 if its mapping holds all of [a, b) and is
 * private anonymous memory with no access: "---p 00000000 00:00 0", no
 * name or an "[anon:...]" one.  -1: not the line for a. */
static int anon_none_line(const char *l, uintptr_t a, uintptr_t b)
{
	char *e;
	uintptr_t lo = (uintptr_t)strtoull(l, &e, 16);
	if (*e != '-')
		return 0;
	uintptr_t hi = (uintptr_t)strtoull(e + 1, &e, 16);
	if (a < lo || a >= hi)
		return -1;
	/* " ---p 00000000 00:00 0" then spaces and the name, if any. */
	if (b > hi || strncmp(e, " ---p ", 6))
		return 0;
	unsigned long long off = strtoull(e + 6, &e, 16);
	unsigned long long maj = *e == ' ' ? strtoull(e + 1, &e, 16) : 1;
	unsigned long long mnr = *e == ':' ? strtoull(e + 1, &e, 16) : 1;
	unsigned long long ino = *e == ' ' ? strtoull(e + 1, &e, 10) : 1;
	while (*e == ' ')
		e++;
	return !off && !maj && !mnr && !ino && (!*e || !strncmp(e, "[anon:", 6));
}

int oms_os_anon_none(const void *addr, size_t len)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uintptr_t a = (uintptr_t)addr, b = a + len;
	/* Small: mprotect may come from a signal handler on a small stack.
	 * A longer line (a long path) ends the search: "cannot tell". */
	char buf[2048];
	size_t have = 0;
	int r = 0, done = 0;
	while (!done) {
		ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		char *l = buf, *nl;
		while (!done && (nl = strchr(l, '\n'))) {
			*nl = 0;
			int v = anon_none_line(l, a, b);
			if (v >= 0) {
				r = v;
				done = 1;
			}
			l = nl + 1;
		}
		have -= (size_t)(l - buf);
		memmove(buf, l, have);
		if (have == sizeof buf - 1)
			break; /* a line longer than the buffer: cannot tell */
	}
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int oms_os_untouched(const void *addr, size_t len)
{
	int own;
	int pm = oms_os_open_kept("/proc/self/pagemap", O_RDONLY, &own);
	if (pm < 0)
		return -1;
	uint64_t ent[64];
	size_t npages = len / oms_page;
	int r = 1;
	for (size_t pg = 0; pg < npages && r == 1;) {
		size_t want = npages - pg < 64 ? npages - pg : 64;
		const char *at = (const char *)addr + pg * oms_page;
		off_t o = (off_t)((uintptr_t)at / oms_page * sizeof *ent);
		if (pread(pm, ent, want * sizeof *ent, o) != (ssize_t)(want * sizeof *ent)) {
			r = -1;
			break;
		}
		for (size_t i = 0; i < want; i++)
			if (ent[i] & (PM_PRESENT | PM_SWAP))
				r = 0;
		pg += want;
	}
	int e = errno;
	if (own)
		close(pm);
	errno = e;
	return r;
}

/* A run [s, e) of private pages: its bytes into fd at the same offset. */
static int write_run(const char *base, size_t s, size_t e, int fd, off_t off)
{
	while (s < e) {
		ssize_t n = pwrite(fd, base + s, e - s, off + (off_t)s);
		if (n <= 0)
			return -1;
		s += (size_t)n;
	}
	return 0;
}

int oms_os_flush_private(const void *addr, size_t len, int fd, off_t off)
{
	int own;
	int pm = oms_os_open_kept("/proc/self/pagemap", O_RDONLY, &own);
	if (pm < 0)
		return -1;
	uint64_t ent[64]; /* small: this may run in a signal handler (wait) */
	size_t npages = len / oms_page, run = SIZE_MAX; /* start of the current run */
	int r = 0;
	for (size_t pg = 0; pg < npages && r == 0;) {
		size_t want = npages - pg < 64 ? npages - pg : 64;
		off_t at = (off_t)(((uintptr_t)addr / oms_page + pg) * sizeof *ent);
		ssize_t n = pread(pm, ent, want * sizeof *ent, at);
		if (n < (ssize_t)sizeof *ent) {
			r = -1;
			break;
		}
		size_t got = (size_t)n / sizeof *ent;
		for (size_t i = 0; i < got; i++, pg++) {
			uint64_t v = ent[i];
			/* Present and not a file page: a copy-on-write copy (anonymous);
			 * swapped: one too.  Anything else still is the file's page. */
			int priv = ((v & PM_PRESENT) && !(v & PM_FILE)) || (v & PM_SWAP);
			if (priv && run == SIZE_MAX)
				run = pg;
			else if (!priv && run != SIZE_MAX) {
				if (write_run(addr, run * oms_page, pg * oms_page, fd, off) < 0)
					r = -1;
				run = SIZE_MAX;
			}
		}
	}
	if (r == 0 && run != SIZE_MAX && write_run(addr, run * oms_page, npages * oms_page, fd, off) < 0)
		r = -1;
	if (own)
		close(pm);
	return r;
}
