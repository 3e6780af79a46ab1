/* reap.c - the last unmap of a large freed block, on the DefragTick thread.
 *
 * Why: dropping the last reference to a backing file frees the file: the
 * kernel drops its page cache (waiting for pages under writeback), frees its
 * disk blocks and, on a filesystem mounted with `discard`, waits for the disk
 * to discard them.  For a 1 GiB block that took 0.26 s without memory
 * pressure and 0.4-1.9 s under it, inside the program's free()
 * (docs/bench.md 18); glibc's free of the same block, an munmap, 0.1 s.
 *
 * How: free() moves the block's first page to a fresh spot of its own
 * (MADV_DONTFORK, so no fork child inherits it), unmaps the rest - the work
 * glibc's munmap does too - and closes the fd.  The moved page still holds
 * the file.  The thread unmaps it, and the kernel frees the file as the
 * thread returns from munmap.  The freed range itself is free at once, as
 * after glibc's free.  An address is handed over, not an fd: the program
 * could close an fd number of ours and reuse it meanwhile.
 *
 * Only while it cannot be seen: a hand-over is taken only while the thread
 * waits in oms_reap_sleep_until (not during a tick, which may block in a
 * compaction for seconds), and only when the filesystem has room for four
 * more such blocks, so that the program's own writes never find the disk
 * full because of a file we have not let go of yet.  Our own fallocate
 * drains what is pending before it reports ENOSPC or EDQUOT.
 *
 * Invariants: a slot holds a page address or 0 and changes only by atomic
 * exchange, so each page is unmapped once, by whoever took it.  No lock, so
 * nothing to take around fork.  `open_` is 1 only while the thread is in
 * oms_reap_sleep_until, which drains the slots after clearing it; a page
 * handed over in that instant waits for the next sleep, one tick.  `busy`
 * counts the thread's unmaps in progress: oms_reap_drain waits for them.
 */
#include "reap.h"
#include "big.h"
#include "os.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSLOT 8

static uintptr_t slot[NSLOT];
static unsigned seq;  /* bumped on every hand-over: the thread's futex */
static unsigned busy; /* unmaps in progress on the thread */
static int open_;
static int no_futex;  /* the futex wait was refused (seccomp): never open */

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time.  32-bit: the
 * time64 call when the kernel has it (5.1+), else the old 32-bit one. */
static long futex(unsigned *w, int op, unsigned v, const struct timespec *t)
{
#if UINTPTR_MAX == 0xffffffffu && defined(SYS_futex_time64)
	struct { int64_t s, ns; } t64 = {t ? (int64_t)t->tv_sec : 0, t ? (int64_t)t->tv_nsec : 0};
	long r = syscall(SYS_futex_time64, w, op, v, t ? &t64 : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
	if (r >= 0 || errno != ENOSYS)
		return r;
	struct { long s, ns; } t32 = {t ? (long)t->tv_sec : 0, t ? (long)t->tv_nsec : 0};
	return syscall(SYS_futex, w, op, v, t ? &t32 : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
#else
	return syscall(SYS_futex, w, op, v, t, NULL, FUTEX_BITSET_MATCH_ANY);
#endif
}

static int hand(void *page)
{
	for (int i = 0; i < NSLOT; i++) {
		uintptr_t z = 0;
		if (__atomic_compare_exchange_n(&slot[i], &z, (uintptr_t)page, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			__atomic_add_fetch(&seq, 1, __ATOMIC_RELEASE);
			futex(&seq, FUTEX_WAKE_PRIVATE, 1, NULL);
			return 1;
		}
	}
	return 0; /* all slots taken: the caller frees this one itself */
}

/* The filesystem keeps room for four more blocks of this size. */
static int roomy(int fd, size_t len)
{
	struct statvfs sv;
	return fd >= 0 && fstatvfs(fd, &sv) == 0 &&
	       (uint64_t)sv.f_bavail * sv.f_frsize / 4 >= (uint64_t)len;
}

void oms_reap_unmap(void *addr, size_t len, int fd)
{
	int e = errno;
	char *p = addr;
	if (len >= OMS_REAP_MIN && __atomic_load_n(&open_, __ATOMIC_ACQUIRE) && roomy(fd, len) &&
	    oms_os.madvise(p, oms_page, MADV_DONTFORK) == 0) {
		/* A spot for the first page where the next mmap would go, not
		 * next to what the program has just freed. */
		char *keep = oms_os.mmap(NULL, oms_page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (keep != MAP_FAILED &&
		    oms_os.mremap(p, oms_page, oms_page, MREMAP_MAYMOVE | MREMAP_FIXED, keep) != MAP_FAILED) {
			oms_os.munmap(p + oms_page, len - oms_page);
			if (!hand(keep))
				oms_os.munmap(keep, oms_page);
			errno = e;
			return;
		}
		if (keep != MAP_FAILED)
			oms_os.munmap(keep, oms_page);
	}
	oms_os.munmap(p, len);
	errno = e;
}

/* Take every slot and unmap it; returns how many. */
static int take_all(void)
{
	int n = 0;
	for (int i = 0; i < NSLOT; i++) {
		uintptr_t p = __atomic_exchange_n(&slot[i], 0, __ATOMIC_ACQ_REL);
		if (p) {
			oms_os.munmap((void *)p, oms_page);
			n++;
		}
	}
	return n;
}

static void reap_on_thread(void)
{
	__atomic_add_fetch(&busy, 1, __ATOMIC_ACQ_REL);
	take_all();
	if (__atomic_sub_fetch(&busy, 1, __ATOMIC_ACQ_REL) == 0)
		futex(&busy, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
}

int oms_reap_drain(void)
{
	int e = errno;
	int n = take_all();
	unsigned b;
	while ((b = __atomic_load_n(&busy, __ATOMIC_ACQUIRE)) != 0) {
		n++;
		futex(&busy, FUTEX_WAIT_PRIVATE, b, NULL);
	}
	errno = e;
	return n;
}

void oms_reap_open(int on)
{
	__atomic_store_n(&open_, on, __ATOMIC_RELEASE);
	if (!on)
		reap_on_thread();
}

static int reached(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

void oms_reap_sleep_until(const struct timespec *t)
{
	if (!no_futex) {
		oms_reap_open(1);
		for (;;) {
			unsigned s = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
			reap_on_thread();
			/* Hand-overs may keep coming: the tick is still due. */
			if (reached(t))
				break;
			/* Returns at once if a hand-over came since `s`. */
			if (futex(&seq, FUTEX_WAIT_BITSET_PRIVATE, s, t) < 0 && errno != EAGAIN &&
			    errno != EINTR) {
				if (errno != ETIMEDOUT)
					no_futex = 1; /* frees stay synchronous */
				break;
			}
		}
		oms_reap_open(0);
	}
	while (!reached(t) && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

void oms_reap_fork_child(void)
{
	/* The pages were MADV_DONTFORK: the child never had them. */
	__atomic_store_n(&open_, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < NSLOT; i++)
		slot[i] = 0;
	busy = 0;
}
