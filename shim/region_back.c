/* region_back.c - the fork switch-back of redirected mmap pieces
 * (forkback.c decides when; region.h).
 *
 * A piece frozen at a fork (OMS_P_FORKED) is a MAP_PRIVATE view of its
 * range of a retired arena.  Once no other process can see that file,
 * its private (copy-on-write) pages are written into the range and the
 * piece becomes MAP_SHARED of it again, its bytes back in the budget.  The
 * range was reserved when the piece was shared and nothing punches a frozen
 * piece's range (pieces.c), so the no-SIGBUS rule holds.  The arena stays
 * retired: no new extents from it, only its pieces are shared again.
 * OMS_P_ANON pieces stay anonymous.  Under oms_map_lock (try-locked: the
 * caller may be a signal handler of the thread that holds it).
 */
#include "region.h"
#include "arena.h"
#include "budget.h"
#include "os.h"
#include "pieces.h"

#include <pthread.h>
#include <sys/mman.h>

static int unfreeze(struct oms_piece *p)
{
	size_t len = p->end - p->start;
	if (!oms_arena_fd_ok(p->ar) || !oms_budget_take(len))
		return -1;
	int closed = !(p->prot & PROT_READ); /* opened for the copy; the remap resets it */
	if (closed)
		oms_sys_mprotect((void *)p->start, len, p->prot | PROT_READ);
	if (oms_os_flush_private((void *)p->start, len, p->ar->fd, (off_t)p->off) < 0 ||
	    oms_os_remap_over((void *)p->start, len, p->prot, MAP_SHARED, p->ar->fd,
			      (off_t)p->off) < 0) {
		if (closed)
			oms_sys_mprotect((void *)p->start, len, p->prot);
		oms_budget_give(len);
		return -1;
	}
	/* A new mapping: the program's fork and dump advice are given again. */
	oms_pieces_keep_advice(p, (void *)p->start, len);
	p->flags &= ~(OMS_P_FROZEN | OMS_P_FORKED);
	return 0;
}

int oms_region_fork_back(int *failed)
{
	*failed = 0;
	if (pthread_mutex_trylock(&oms_map_lock))
		return -1;
	int n = 0;
	for (size_t i = 0; i < oms_npieces; i++) {
		struct oms_piece *p = &oms_pieces[i];
		if (!(p->flags & OMS_P_FORKED))
			continue;
		if (!(p->flags & OMS_P_ANON) && p->ar && unfreeze(p) == 0) {
			n++;
			continue;
		}
		if (!(p->flags & OMS_P_ANON))
			(*failed)++;
		p->flags &= ~OMS_P_FORKED;
	}
	if (n && oms_npieces)
		oms_pieces_coalesce(0, oms_npieces - 1);
	pthread_mutex_unlock(&oms_map_lock);
	return n;
}
