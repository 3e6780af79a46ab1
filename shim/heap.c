/* heap.c - see heap.h.
 *
 * Why no extent hooks ("arena.<i>.extent_hooks"): jemalloc's constructor
 * runs before ours (ld.so initialises the later preload first), so arena
 * 0's first extents and jemalloc's base metadata exist before any hook
 * could go in; the huge arena (index narenas_auto) refuses the mallctl
 * (EFAULT) and is created later with the default hooks; and arenas made by
 * arenas.create would need the program's cooperation.  Redirecting the
 * NORESERVE mappings the default hooks make sees every extent, from the
 * first one (region_map.c starts the shim on its first mmap), needs no
 * knowledge of jemalloc's ABI, and covers mimalloc and tcmalloc as well.
 * What it costs: a purged extent keeps its disk reserved (region_advise.c zeroes it
 * with FALLOC_FL_ZERO_RANGE instead of punching it), because jemalloc
 * writes purged pages again without telling anyone, and a write into a
 * hole on a full disk would be a SIGBUS.
 */
#include "heap.h"
#include "config.h"
#include "log.h"

#include <dlfcn.h>

static int have_jemalloc;

void oms_heap_start(void)
{
	if (!oms_cfg.heap || oms_cfg.disable)
		return;
	if (!oms_cfg.mmap) {
		oms_warn("OOMSHIELD_HEAP=1 needs the mmap redirection, which OOMSHIELD_MMAP=0 turns "
			 "off: the heap stays in ordinary memory");
		return;
	}
	/* Debian's libjemalloc.so.2 exports mallctl unprefixed; the shim
	 * itself does not, so RTLD_DEFAULT finds jemalloc's or nothing. */
	have_jemalloc = dlsym(RTLD_DEFAULT, "mallctl") != NULL;
	if (!have_jemalloc)
		oms_warn("OOMSHIELD_HEAP=1 but no jemalloc in this process (oomshield --heap "
			 "preloads libjemalloc.so.2 after the shim): objects below the "
			 "threshold stay in the C library's heap, unprotected");
	else
		oms_info("heap mode: jemalloc's extents are placed in %s", oms_cfg.dir);
}

int oms_heap_jemalloc(void)
{
	return have_jemalloc;
}

int oms_heap_noreserve_ok(size_t len, uint64_t free_bytes)
{
	if (!oms_cfg.heap)
		return 0;
	return free_bytes == UINT64_MAX || len <= free_bytes / 4;
}
