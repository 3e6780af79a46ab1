/* mmap.c - the exported mmap family: thin wrappers over the region_*.c policies.
 *
 * Symbols are bound with asm labels because with _FILE_OFFSET_BITS=64 the
 * libc headers rename mmap to mmap64 on 32-bit targets; we must export
 * both, each with the ABI its callers use (32-bit long offset for mmap).
 * mlock, mlock2 and mlockall are only watched (never cache a locked block).
 * mmap, munmap and mremap first run a fork switch-back that is due
 * (forkback.h); madvise and mprotect do not (runtimes call them from
 * signal handlers).
 * posix_madvise needs no wrapper: glibc turns POSIX_MADV_DONTNEED into a
 * no-op and the other advice values mean the same on our mappings.
 */
#include "big.h"
#include "block.h"
#include "forkback.h"
#include "next.h"
#include "os.h"
#include "region.h"

#include <stdint.h>
#include <sys/types.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT void *oms_x_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
	__asm__("mmap");
EXPORT void *oms_x_mmap64(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
	__asm__("mmap64");
EXPORT int oms_x_munmap(void *addr, size_t len) __asm__("munmap");
EXPORT void *oms_x_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
	__asm__("mremap");
EXPORT int oms_x_madvise(void *addr, size_t len, int advice) __asm__("madvise");
EXPORT int oms_x_mprotect(void *addr, size_t len, int prot) __asm__("mprotect");
EXPORT int oms_x_mlock(const void *addr, size_t len) __asm__("mlock");
EXPORT int oms_x_mlock2(const void *addr, size_t len, unsigned flags) __asm__("mlock2");
EXPORT int oms_x_mlockall(int flags) __asm__("mlockall");

#include <stdarg.h>
#include <sys/mman.h>

/* oms_aside (next.h) is set when the shim stands aside for a sanitizer
 * runtime: the calls then go to its interceptors (TSan must see every
 * mapping change), not to the kernel. */

void *oms_x_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	if (oms_aside.mmap)
		return oms_aside.mmap(addr, len, prot, flags, fd, off);
	oms_forkback_check();
	return oms_region_mmap(addr, len, prot, flags, fd, (off_t)off);
}

void *oms_x_mmap64(void *addr, size_t len, int prot, int flags, int fd, int64_t off)
{
	if (oms_aside.mmap64)
		return oms_aside.mmap64(addr, len, prot, flags, fd, off);
	oms_forkback_check();
	return oms_region_mmap(addr, len, prot, flags, fd, (off_t)off);
}

int oms_x_munmap(void *addr, size_t len)
{
	if (oms_aside.munmap)
		return oms_aside.munmap(addr, len);
	oms_forkback_check();
	return oms_region_munmap(addr, len);
}

void *oms_x_mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	void *new_addr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_addr = va_arg(ap, void *);
		va_end(ap);
	}
	if (oms_aside.mremap)
		return oms_aside.mremap(old, old_len, new_len, flags, new_addr);
	oms_forkback_check();
	return oms_region_mremap(old, old_len, new_len, flags, new_addr);
}

int oms_x_madvise(void *addr, size_t len, int advice)
{
	if (oms_aside.madvise)
		return oms_aside.madvise(addr, len, advice);
	return oms_region_madvise(addr, len, advice);
}

int oms_x_mprotect(void *addr, size_t len, int prot)
{
	if (oms_aside.mprotect)
		return oms_aside.mprotect(addr, len, prot);
	return oms_region_mprotect(addr, len, prot);
}

/* Locking is only watched: a locked block must not be cached (free would
 * keep it locked for the next malloc, against RLIMIT_MEMLOCK). */
int oms_x_mlock(const void *addr, size_t len)
{
	return oms_x_mlock2(addr, len, 0);
}

int oms_x_mlock2(const void *addr, size_t len, unsigned flags)
{
	if (oms_aside.mlock2)
		return oms_aside.mlock2(addr, len, flags);
	int r = oms_sys_mlock2(addr, len, flags);
	if (oms_live) /* also on failure: the kernel may have locked a part */
		oms_big_note_own(addr, len);
	oms_region_note_lock(addr, len, 0);
	return r;
}

int oms_x_mlockall(int flags)
{
	if (oms_aside.mlockall)
		return oms_aside.mlockall(flags);
	int r = oms_sys_mlockall(flags);
	if (r == 0) {
		oms_big_note_lockall(flags);
		oms_region_note_lock(NULL, 0, (flags & MCL_FUTURE) ? 2 : 1);
	}
	return r;
}
