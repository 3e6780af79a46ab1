/* os.h - the one thin layer between the shim's policy and the kernel.
 *
 * Every syscall the policy code needs, and every /proc or /sys file it reads
 * or writes, goes through the table `oms_os`.  Unit tests replace entries to
 * inject failures (ENOSPC, EMFILE, a missing /proc file) without touching
 * the real system.  Memory-mapping calls use raw syscalls, never the libc
 * symbols, because the shim itself interposes mmap/munmap/mremap/madvise.
 *
 * Invariants: no function here allocates through malloc, uses stdio, or
 * takes a lock.  Each returns -1 (or MAP_FAILED) with errno set on failure.
 */
#ifndef OMS_OS_H
#define OMS_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/stat.h>

struct oms_os {
	int (*open_tmpfile)(const char *dir);          /* O_TMPFILE, else mkstemp+unlink */
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	uint64_t (*disk_free)(int fd);                 /* bytes free to non-root; UINT64_MAX if unknown */
	uint64_t (*disk_size)(int fd);                 /* the filesystem's size in bytes; 0 if unknown */
	uint64_t (*data_limit)(void);                  /* RLIMIT_DATA in bytes; UINT64_MAX if none */
	int (*ftruncate)(int fd, off_t len);
	int (*close)(int fd);                          /* only fds from open_tmpfile */
	int (*fstat)(int fd, struct stat *st);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
	int (*madvise)(void *addr, size_t len, int advice);
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*msync)(void *addr, size_t len, int flags);
	uint64_t (*now_ms)(void);                      /* CLOCK_MONOTONIC */
	/* Whole small files under OOMSHIELD_PROC_ROOT: `path` is the real
	 * absolute path ("/proc/buddyinfo"); the prefix is added inside. */
	ssize_t (*read_file)(const char *path, char *buf, size_t cap);
	int (*write_file)(const char *path, const char *text);
};

extern struct oms_os oms_os;

/* The machine's page size: set once at start-up (alloc.c), before any
 * other thread exists; read-only afterwards. */
extern size_t oms_page;

/* OOMSHIELD_PROC_ROOT: the prefix of every /proc and /sys path (tests use
 * fake trees); "" for the real ones.  Set once at start-up (alloc.c). */
extern const char *oms_os_root;

/* Restore the real implementations (tests call this between cases). */
void oms_os_reset(void);

/* Prefix `path` with OOMSHIELD_PROC_ROOT into buf; -1 if it does not fit. */
int oms_os_path(char *buf, size_t cap, const char *path);
/* The device numbers of the filesystem holding `dir`; -1 with errno. */
int oms_os_dir_dev(const char *dir, unsigned *maj, unsigned *min);

/* Move fd to a number >= the shim's fd floor, close-on-exec; returns the
 * new fd (the old one is closed), or the old fd if it cannot move. */
int oms_os_fd_high(int fd);

/* One of the shim's fds was closed or taken over by the program: it no
 * longer counts against the shim's share of the fd table (os.c). */
void oms_os_fd_forget(void);

/* Grow the process's fd table past the floor now, while the process is
 * still single-threaded: growing it later, once the DefragTick thread (or
 * any thread) shares the table, waits for an RCU grace period in the
 * kernel - 10 to 15 ms measured for the first file-backed block. */
void oms_os_fd_prepare(void);

static inline uintptr_t oms_page_up(uintptr_t n)
{
	return (n + oms_page - 1) & ~(uintptr_t)(oms_page - 1);
}

/* Keep `path` open for the shim's thread (os.c, "Kept files"): call it on
 * a program thread - at start-up, before the thread starts, or in a fork
 * child - for each file the thread reads again and again; read_file and
 * oms_os_open_kept use the kept fd from then on.  /proc/self paths are the
 * process's own and never under OOMSHIELD_PROC_ROOT; a fork child keeps
 * them again to read itself.  0, or -1 (the file is then opened per read). */
int oms_os_keep(const char *path, int flags);
/* An fd to read `path` (as oms_os_keep names it) by: the kept one (*own
 * 0), or a fresh one the caller closes (*own 1); -1 if neither. */
int oms_os_open_kept(const char *path, int flags, int *own);

/* Grow a raw array of elem-sized items (doubling, from 256): raw mmap and
 * mremap, never malloc, since we may be inside it.  0 or -1. */
int oms_os_grow_array(void **arr, size_t *cap, size_t elem);

/* Replace [addr, addr+len) by an anonymous private copy of its bytes with
 * protection prot (one memcpy; mremap swaps the pages in).  0 or -1. */
int oms_os_copy_to_anon(void *addr, size_t len, int prot);

/* Replace [addr, addr+len) by a mapping of fd at off, with no moment at
 * which the range is unmapped (map elsewhere, then move over).  0 or -1. */
int oms_os_remap_over(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* The fork switch-back (forkback.c).
 * 1 if every thread of the process is a or b (0: another one; -1: cannot
 * tell). */
int oms_os_only_threads(pid_t a, pid_t b);
/* The fork canary (forkback.h): 1 if the page at addr is present and
 * mapped by this process alone (/proc/self/pagemap's exclusive bit), 0 if
 * another process maps it too or it is not present, -1 if pagemap cannot
 * be read. */
int oms_os_page_alone(const void *addr);
/* Take the pending signals this process ignores (SIG_IGN, or a default
 * action of ignoring them and no handler) off the queue, as the kernel
 * would have dropped them: while a thread blocks them or is traced, the
 * kernel queues them instead, and they would wake another thread of the
 * program in its epoll_wait with EINTR.  Not those the program's leader
 * blocks (leader_mask: its mask when the caller is the leader, else NULL:
 * read from /proc): it may be waiting for them (signalfd), and the kernel
 * would have queued them anyway.  The caller must block them.  The number
 * taken, or -1. */
#include <signal.h>
int oms_os_drain_ignored(const sigset_t *leader_mask);
/* 1 if [addr, addr+len) lies in one mapping that is private anonymous
 * with no access (PROT_NONE), from /proc/self/maps; 0 if not, -1 if it
 * cannot be read.  On a program thread only (it opens a file). */
int oms_os_anon_none(const void *addr, size_t len);
/* 1 if no page of [addr, addr+len) is present or swapped
 * (/proc/self/pagemap): a private anonymous range in that state was never
 * written and holds zero (resv.h).  Unmapped pages read as absent too: the
 * caller knows the range is mapped (oms_os_anon_none).  0 if not, -1 if it
 * cannot be told. */
int oms_os_untouched(const void *addr, size_t len);
/* Write every private (copy-on-write, anonymous or swapped) page of the
 * MAP_PRIVATE file view [addr, addr+len) into fd at off + its offset in
 * the range, read from /proc/self/pagemap; pages still the file's are not
 * touched.  The range must be readable.  0 or -1. */
int oms_os_flush_private(const void *addr, size_t len, int fd, off_t off);

/* Raw syscall mappings that bypass the interposed symbols. */
void *oms_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int oms_sys_munmap(void *addr, size_t len);
void *oms_sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
int oms_sys_madvise(void *addr, size_t len, int advice);
int oms_sys_mprotect(void *addr, size_t len, int prot);
int oms_sys_mlock2(const void *addr, size_t len, unsigned flags);
int oms_sys_mlockall(int flags);

#endif
