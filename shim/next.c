/* next.c - see next.h.
 *
 * Resolution state: 0 = not started, 1 = a thread is inside dlsym, 2 = done.
 * Only the thread that moved 0->1 may use the bootstrap arena (it is the
 * one dlsym re-enters); any other thread spins until the state is 2.  The
 * arena is a bump allocator guarded by an atomic offset: no lock, and it
 * never calls the allocator it is bootstrapping.
 */
#include "next.h"
#include "names.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <string.h>

struct oms_next oms_next;

char oms_boot_arena[OMS_BOOT_SIZE] __attribute__((aligned(4096)));
static size_t boot_used;
static int state;
static __thread int resolving;

void *oms_boot_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > OMS_BOOT_SIZE || align > 4096) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = (size + 15) & ~(size_t)15;
	size_t old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED), start;
	do {
		/* 16 bytes of header hold the size, for realloc and usable_size. */
		start = (old + 16 + align - 1) & ~(align - 1);
		if (start + need > OMS_BOOT_SIZE) {
			errno = ENOMEM;
			return NULL;
		}
	} while (!__atomic_compare_exchange_n(&boot_used, &old, start + need, 0,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	((size_t *)(oms_boot_arena + start))[-1] = need;
	return oms_boot_arena + start; /* static storage: already zero */
}

size_t oms_boot_usable(const void *p)
{
	return ((const size_t *)p)[-1];
}

static void *sym(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

void *oms_next_lazy(void **slot, const char *name)
{
	void *f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!f) {
		f = sym(name);
		__atomic_store_n(slot, f, __ATOMIC_RELEASE);
	}
	return f;
}

int oms_next_resolve(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);
	if (s == 2)
		return 1;
	if (resolving)
		return 0;
	int expect = 0;
	if (__atomic_compare_exchange_n(&state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		int e = errno;
		resolving = 1;
		struct oms_next n;
		n.malloc = (void *(*)(size_t))sym("malloc");
		n.free = (void (*)(void *))sym("free");
		n.calloc = (void *(*)(size_t, size_t))sym("calloc");
		n.realloc = (void *(*)(void *, size_t))sym("realloc");
		n.memalign = (void *(*)(size_t, size_t))sym("memalign");
		n.posix_memalign = (int (*)(void **, size_t, size_t))sym("posix_memalign");
		n.aligned_alloc = (void *(*)(size_t, size_t))sym("aligned_alloc");
		n.usable = (size_t (*)(void *))sym("malloc_usable_size");
		/* Without them (not glibc), nobody calls ours but by mistake. */
		n.libc_malloc = (void *(*)(size_t))sym("__libc_malloc");
		n.libc_free = (void (*)(void *))sym("__libc_free");
		n.libc_calloc = (void *(*)(size_t, size_t))sym("__libc_calloc");
		n.libc_realloc = (void *(*)(void *, size_t))sym("__libc_realloc");
		n.libc_memalign = (void *(*)(size_t, size_t))sym("__libc_memalign");
		n.libc_valloc = (void *(*)(size_t))sym("__libc_valloc");
		n.libc_pvalloc = (void *(*)(size_t))sym("__libc_pvalloc");
		oms_next = n;
		resolving = 0;
		errno = e;
		__atomic_store_n(&state, 2, __ATOMIC_RELEASE);
		return 1;
	}
	while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) != 2)
		sched_yield();
	return 1;
}

const char *oms_next_sanitizer(void)
{
	for (const struct link_map *m = _r_debug.r_map; m; m = m->l_next) {
		/* The base name by hand too: no libc call (names.h says why). */
		const char *base = m->l_name ? m->l_name : "";
		for (const char *c = base; *c; c++)
			if (*c == '/')
				base = c + 1;
		if (oms_is_sanitizer(base))
			return base;
	}
	return NULL;
}

struct oms_aside oms_aside;

void oms_next_aside(void)
{
	struct oms_aside a;
	a.mmap = (void *(*)(void *, size_t, int, int, int, long))sym("mmap");
	a.mmap64 = (void *(*)(void *, size_t, int, int, int, int64_t))sym("mmap64");
	a.munmap = (int (*)(void *, size_t))sym("munmap");
	a.mremap = (void *(*)(void *, size_t, size_t, int, ...))sym("mremap");
	a.madvise = (int (*)(void *, size_t, int))sym("madvise");
	a.mprotect = (int (*)(void *, size_t, int))sym("mprotect");
	a.mlock2 = (int (*)(const void *, size_t, unsigned))sym("mlock2");
	a.mlockall = (int (*)(int))sym("mlockall");
	oms_aside = a;
}
