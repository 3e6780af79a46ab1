/* reap.c - the last unmap of a large freed block, on the DefragTick thread.
 *
 * Why: dropping the last reference to a backing file frees the file: the
 * kernel drops its page cache (waiting for pages under writeback), frees its
 * disk blocks and, on a filesystem mounted with `discard`, waits for the disk
 * to discard them.  For a 1 GiB block that took 0.26 s without memory
 * pressure and 0.4-1.9 s under it, inside the program's free()
 * (docs/bench.md 18); glibc's free of the same block, an munmap, 0.1 s.
 *
 * How: free() closes the fd and unmaps all of the block but its first page -
 * the work glibc's munmap does too.  That page still holds the file.  It is
 * marked MADV_DONTFORK, so no fork child inherits it, and handed here; the
 * thread unmaps it, and the kernel frees the file as the thread returns from
 * munmap.  An address is handed over, not an fd: the program could close an
 * fd number of ours and reuse it meanwhile, but nobody else unmaps a page
 * of a block it has freed.
 *
 * Invariants: a slot holds a page address or 0 and changes only by atomic
 * exchange, so each page is unmapped once, by whoever took it.  No lock, so
 * nothing to take around fork.  `open_` is set only while the thread runs;
 * it is cleared, then the slots drained, before the thread returns.
 * `busy` counts the thread's unmaps in progress: oms_reap_drain waits for
 * them, since a full disk needs exactly those blocks back.
 */
#include "reap.h"
#include "big.h"
#include "os.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* SYS_futex takes the kernel's old timespec, which is glibc's as long as
 * nobody builds with _TIME_BITS=64. */
_Static_assert(sizeof(struct timespec) == 2 * sizeof(long), "timespec ABI for SYS_futex");

#define NSLOT 8

static uintptr_t slot[NSLOT];
static unsigned seq;  /* bumped on every hand-over: the thread's futex */
static unsigned busy; /* unmaps in progress on the thread */
static int open_;

static long futex(unsigned *w, int op, unsigned v, const struct timespec *t)
{
	return syscall(SYS_futex, w, op, v, t, NULL, FUTEX_BITSET_MATCH_ANY);
}

static int hand(void *page)
{
	if (!__atomic_load_n(&open_, __ATOMIC_ACQUIRE))
		return 0;
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

void oms_reap_unmap(void *addr, size_t len)
{
	int e = errno;
	char *p = addr;
	if (len >= OMS_REAP_MIN && __atomic_load_n(&open_, __ATOMIC_ACQUIRE) &&
	    oms_os.madvise(p, oms_page, MADV_DONTFORK) == 0 &&
	    oms_os.munmap(p + oms_page, len - oms_page) == 0) {
		if (!hand(p))
			oms_os.munmap(p, oms_page);
	} else {
		oms_os.munmap(p, len);
	}
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

void oms_reap_sleep_until(const struct timespec *t)
{
	for (;;) {
		unsigned s = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
		reap_on_thread();
		/* Absolute CLOCK_MONOTONIC (BITSET's default clock); returns
		 * at once if a hand-over came since `s` was read. */
		if (futex(&seq, FUTEX_WAIT_BITSET_PRIVATE, s, t) < 0 && errno == ETIMEDOUT)
			break;
	}
	reap_on_thread();
}

void oms_reap_open(int on)
{
	__atomic_store_n(&open_, on, __ATOMIC_RELEASE);
	if (!on)
		reap_on_thread();
}

void oms_reap_fork_child(void)
{
	/* The pages were MADV_DONTFORK: the child never had them. */
	__atomic_store_n(&open_, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < NSLOT; i++)
		slot[i] = 0;
	busy = 0;
}
