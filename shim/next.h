/* next.h - the allocator below us, found with dlsym(RTLD_NEXT, ...).
 *
 * That is glibc's malloc, or another allocator preloaded after us
 * (LD_PRELOAD="liboomshield.so libjemalloc.so.2").  dlsym itself may
 * allocate, so while the lookup runs, the resolving thread is served from a
 * small static bootstrap arena; bootstrap blocks are never freed.
 */
#ifndef OMS_NEXT_H
#define OMS_NEXT_H

#include <stddef.h>
#include <stdint.h>

struct oms_next {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	size_t (*usable)(void *);
	/* glibc's other names for the same allocator (alloc.c oms_libc_*). */
	void *(*libc_malloc)(size_t);
	void (*libc_free)(void *);
	void *(*libc_calloc)(size_t, size_t);
	void *(*libc_realloc)(void *, size_t);
	void *(*libc_memalign)(size_t, size_t);
	void *(*libc_valloc)(size_t);
	void *(*libc_pvalloc)(size_t);
};

extern struct oms_next oms_next;

/* Resolve the table once; returns 1 when `oms_next` is complete, 0 when the
 * caller is the resolving thread re-entering (use the bootstrap arena). */
int oms_next_resolve(void);

/* The file name of a sanitizer runtime (ASan, TSan, LSan, HWASan, MSan,
 * MemProf) among the loaded objects, or NULL.  Such a runtime owns malloc
 * and intercepts the libc calls the shim makes (fstat, write, open); made
 * while it initialises, they jump to a null pointer.  So with one loaded the
 * shim stands aside.  Reads the link map only: no lock, no libc call, safe
 * from inside dlsym. */
const char *oms_next_sanitizer(void);

/* The next mmap family, used instead of ours while the shim stands aside
 * (all NULL otherwise; mmap.c reads it, init.c fills it once). */
struct oms_aside {
	void *(*mmap)(void *, size_t, int, int, int, long);
	void *(*mmap64)(void *, size_t, int, int, int, int64_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*madvise)(void *, size_t, int);
	int (*mprotect)(void *, size_t, int);
	int (*mlock2)(const void *, size_t, unsigned);
	int (*mlockall)(int);
};
extern struct oms_aside oms_aside;
void oms_next_aside(void);

/* The next definition of `name`, looked up at first use and kept in
 * *slot (the wrappers that are not on the allocation path: wait.c,
 * xid.c).  NULL if there is none. */
void *oms_next_lazy(void **slot, const char *name);

/* Bootstrap arena: 16-byte aligned (or `align`) blocks, never reused. */
void *oms_boot_alloc(size_t size, size_t align);
extern char oms_boot_arena[];
#define OMS_BOOT_SIZE (64 * 1024)
static inline int oms_boot_owns(const void *p)
{
	return (uintptr_t)p - (uintptr_t)oms_boot_arena < OMS_BOOT_SIZE;
}
size_t oms_boot_usable(const void *p);

#endif
