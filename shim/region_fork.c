/* region_fork.c - private-memory semantics of redirected memory across
 * fork (region.h; big.c says why it is done this way).  Prepare remaps
 * every shared piece MAP_PRIVATE over its own file range: parent and child
 * then share it copy-on-write, as anonymous memory after fork, and the
 * arena is retired (the child holds the same file).  DONTFORK pieces leave
 * the child's table, WIPEONFORK pieces read zero in the child.  Prepare
 * takes oms_map_lock; the parent and child handlers release it. */
#include "region.h"
#include "arena.h"
#include "big.h"
#include "budget.h"
#include "config.h"
#include "os.h"
#include "pieces.h"
#include "stats.h"
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24 /* Linux 5.18 */
#endif

void oms_region_fork_prepare(void)
{
	pthread_mutex_lock(&oms_map_lock);
	if (!oms_npieces)
		return;
	for (size_t i = 0; i < oms_npieces; i++) {
		struct oms_piece *p = &oms_pieces[i];
		if (p->flags & (OMS_P_FROZEN | OMS_P_DONTFORK))
			continue;
		size_t len = p->end - p->start;
		if (oms_arena_fd_ok(p->ar) &&
		    oms_os_remap_over((void *)p->start, len, p->prot, MAP_PRIVATE, p->ar->fd,
				   (off_t)p->off) == 0) {
			oms_pieces_redump(p);
			p->flags |= OMS_P_FROZEN | OMS_P_FORKED;
			oms_budget_give(len);
			p->ar->retired = 1;
			continue;
		}
		/* No fd to remap from: snapshot through memory, whatever the
		 * protection (oms_pieces_read), and with it: the child gets
		 * the snapshot as it is.  A WIPEONFORK piece reads zero in the
		 * child: its snapshot is left empty. */
		p->snap = oms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
		if (p->snap == MAP_FAILED) {
			p->snap = NULL;
			continue;
		}
		if ((!(p->flags & OMS_P_WIPE) && oms_pieces_read(p->start, p->end, p->snap) < 0) ||
		    (p->prot != (PROT_READ | PROT_WRITE) && oms_sys_mprotect(p->snap, len, p->prot) < 0)) {
			oms_sys_munmap(p->snap, len);
			p->snap = NULL;
		}
	}
	if (oms_arena_retired_current())
		__atomic_fetch_add(&oms_stats.forks_cow, 1, __ATOMIC_RELAXED);
}

static void after_fork(int child)
{
	for (size_t i = oms_npieces; i-- > 0;) {
		struct oms_piece *p = &oms_pieces[i];
		size_t len = p->end - p->start;
		if (child && (p->flags & OMS_P_DONTFORK)) {
			oms_arena_unref(p->ar); /* the child never had it */
			oms_pieces_delete(i);
			continue;
		}
		if (p->snap) {
			if (child)
				oms_sys_mremap(p->snap, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					       (void *)p->start);
			else
				oms_sys_munmap(p->snap, len);
			p->snap = NULL;
			if (child) { /* now plain anonymous memory, with the advice */
				oms_pieces_keep_advice(p, (void *)p->start, len);
				oms_budget_give(len);
				oms_arena_unref(p->ar);
				oms_pieces_delete(i);
				continue;
			}
		}
		if (child && (p->flags & OMS_P_WIPE))
			oms_pieces_zero(i); /* and it stays WIPEONFORK, as the kernel's does */
	}
}

void oms_region_fork_parent(void)
{
	if (oms_npieces)
		after_fork(0);
	oms_map_unlock();
}

void oms_region_fork_child(void)
{
	/* The child holds the parent's arena file through the same open file
	 * description, with its own copy of the free-extent list: both would
	 * hand out the same offsets.  The child never allocates from it (its
	 * inherited pieces are frozen or gone). */
	oms_arena_fork_child();
	if (oms_npieces)
		after_fork(1);
	oms_map_unlock();
}
