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
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
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

static int fd_high(int fd, unsigned long lim)
{
	int floor = lim >= 2 * OMS_FD_FLOOR ? OMS_FD_FLOOR : (int)(lim / 2);
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

static int real_fallocate(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len);
}

static int real_ficlone(int dst, int src)
{
	return ioctl(dst, FICLONE, src);
}

static uint64_t real_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int oms_os_path(char *buf, size_t cap, const char *path)
{
	int n = snprintf(buf, cap, "%s%s", oms_cfg.proc_root, path);
	return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* The DefragTick thread reads one /proc file every tick.  Opening and
 * closing it each time cost ~35 us of a ~100 us tick on the bench VM
 * (docs/bench.md 23), so the file read last stays open if it is on procfs,
 * sysfs or debugfs (whose files are never replaced), if OOMSHIELD_PROC_ROOT
 * is not set (the tests' fake files are replaced, and are opened afresh),
 * and if it could move to the shim's fd range.  The program may close that fd
 * (closefrom) and reuse the number: before each read fstat must show the
 * same file, and a number that is no longer ours is forgotten, never read
 * or closed.  Callers serialise (defrag.c's fork_mu); a fork child lets go
 * of its copy with oms_os_kept_drop. */
static struct {
	int fd;
	dev_t dev;
	ino_t ino;
	char path[64]; /* unprefixed: kept only without OOMSHIELD_PROC_ROOT */
} kept = {.fd = -1};

static int still_kept(void)
{
	struct stat st;
	if (kept.fd < 0)
		return 0;
	if (fstat(kept.fd, &st) == 0 && st.st_dev == kept.dev && st.st_ino == kept.ino)
		return 1;
	kept.fd = -1; /* closed or reused by the program: not ours to close */
	return 0;
}

void oms_os_kept_drop(void)
{
	int e = errno;
	if (still_kept())
		close(kept.fd);
	kept.fd = -1;
	errno = e;
}

int oms_os_kept_fd(void)
{
	return kept.fd;
}

static int pseudo_fs(int fd)
{
	struct statfs sf;
	return fstatfs(fd, &sf) == 0 && (sf.f_type == PROC_SUPER_MAGIC ||
					  sf.f_type == SYSFS_MAGIC || sf.f_type == DEBUGFS_MAGIC);
}

/* From offset 0 into buf (NUL-terminated), at most cap - 1 bytes. */
static ssize_t read_from_start(int fd, char *buf, size_t cap, int seq)
{
	size_t got = 0;
	while (got < cap - 1) {
		ssize_t r = pread(fd, buf + got, cap - 1 - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && got == 0)
			return -1;
		if (r <= 0)
			break;
		got += (size_t)r;
		/* seq_file fills a page-sized buffer with whole records, and
		 * no file we read has records of 1 KiB: a first read this short
		 * reached the end, and a second would only say so. */
		if (seq && got == (size_t)r && got < 1024)
			break;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static ssize_t real_read_file(const char *path, char *buf, size_t cap)
{
	char full[OMS_PATH_MAX * 2];
	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	/* Kept only for the real /proc: the key is the unprefixed path, so
	 * that a tick builds no string. */
	if (kept.fd >= 0 && (oms_cfg.proc_root[0] || strcmp(kept.path, path)))
		oms_os_kept_drop();
	if (still_kept()) {
		ssize_t n = read_from_start(kept.fd, buf, cap, 1);
		if (n >= 0)
			return n;
		oms_os_kept_drop();
	}
	if (oms_os_path(full, sizeof full, path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int seq = pseudo_fs(fd);
	ssize_t n = read_from_start(fd, buf, cap, seq);
	int e = errno;
	struct stat st;
	if (n >= 0 && seq && !oms_cfg.proc_root[0] && strlen(path) < sizeof kept.path &&
	    (fd = oms_os_fd_high(fd)) >= OMS_FD_FLOOR && fstat(fd, &st) == 0) {
		kept.fd = fd;
		kept.dev = st.st_dev;
		kept.ino = st.st_ino;
		strcpy(kept.path, path);
	} else {
		close(fd);
	}
	errno = e;
	return n;
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

static const struct oms_os oms_os_real = {
	.open_tmpfile = real_open_tmpfile,
	.fallocate = real_fallocate,
	.ftruncate = ftruncate,
	.close = real_close,
	.fstat = fstat,
	.ficlone = real_ficlone,
	.mmap = oms_sys_mmap,
	.munmap = oms_sys_munmap,
	.mremap = oms_sys_mremap,
	.madvise = oms_sys_madvise,
	.mprotect = oms_sys_mprotect,
	.now_ms = real_now_ms,
	.read_file = real_read_file,
	.write_file = real_write_file,
};

struct oms_os oms_os = oms_os_real;

void oms_os_reset(void)
{
	oms_os = oms_os_real;
}
