/* region_advise.c - madvise and mprotect on redirected memory (region.h).
 *
 * What anonymous memory gives must hold on our shared file mappings too:
 * DONTNEED/FREE read back zero (the file range is zeroed with its disk
 * kept), DONTFORK/WIPEONFORK/DONTDUMP are kept in the table because a
 * remap makes a new mapping that would not carry them, MADV_REMOVE is
 * refused, and PROT_EXEC on a noexec mount moves the range to anonymous
 * memory.  Locks: see pieces.h. */
#include "region.h"
#include "advise.h"
#include "arena.h"
#include "big.h"
#include "budget.h"
#include "config.h"
#include "os.h"
#include "resv.h"
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

/* Call the kernel's madvise on the parts of [a, b) that are not ours. */
static int advise_gaps(uintptr_t a, uintptr_t b, int advice)
{
	int r = 0;
	for (size_t i = oms_pieces_find(a); a < b; i++) {
		uintptr_t next = (i < oms_npieces && oms_pieces[i].start < b) ? oms_pieces[i].start : b;
		if (next > a && oms_sys_madvise((void *)a, next - a, advice) < 0)
			r = -1;
		if (i >= oms_npieces || oms_pieces[i].start >= b)
			break;
		a = oms_pieces[i].end;
	}
	return r;
}

/* Advice the table keeps (fork, dump): set (on) or clear `flag` on our
 * pieces inside [a, b) and give the advice to the rest, the way the kernel
 * walks the range (mm/madvise.c): mapping by mapping in address order; a
 * hole is skipped and reported (ENOMEM) after the whole range was
 * advised; any other error stops the walk there.  `kernel_too`: the
 * kernel gets the advice on our pieces as well (it takes DONTFORK and
 * DONTDUMP on a shared mapping; WIPEONFORK and KEEPONFORK it refuses
 * there, so only the OMS_P_ANON pieces - anonymous memory - get those). */
static int advise_flag(uintptr_t a, uintptr_t b, int advice, int flag, int on, int kernel_too)
{
	size_t lo, hi;
	int hole = 0, stop = 0;
	uintptr_t x = a;
	oms_pieces_span(a, b, &lo, &hi);
	for (size_t i = lo;; i++) {
		uintptr_t next = i < hi ? oms_pieces[i].start : b;
		if (next > x && oms_sys_madvise((void *)x, next - x, advice) < 0) {
			if (errno != ENOMEM) {
				stop = errno;
				break;
			}
			hole = 1;
		}
		if (i == hi)
			break;
		struct oms_piece *p = &oms_pieces[i];
		if ((kernel_too || !p->ar) && oms_sys_madvise((void *)p->start, p->end - p->start, advice) < 0 &&
		    errno != ENOMEM) {
			stop = errno;
			break;
		}
		p->flags = on ? (p->flags | flag) : (p->flags & ~flag);
		x = p->end;
	}
	oms_pieces_coalesce(lo, hi);
	if (stop || hole) {
		errno = stop ? stop : ENOMEM;
		return -1;
	}
	return 0;
}

/* 1 if [a, b) overlaps a large block or a redirected piece. */
static int owns(uintptr_t a, uintptr_t b)
{
	if (oms_live && oms_big_overlaps((void *)a, b - a))
		return 1;
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&oms_map_lock);
	size_t i = oms_pieces_find(a);
	int hit = i < oms_npieces && oms_pieces[i].start < b;
	oms_map_unlock();
	return hit;
}

/* The smallest reservation watched, and the smallest part of one made
 * file-backed: the threshold, or V8's heap page (256 KiB) if that is less.
 * A runtime's heap grows by such pages (node reserves 508 KiB, trims it to
 * 256 KiB aligned, commits it), and the pages together are its heap; the
 * 4-32 KiB permission flips of JIT code stay anonymous. */
#define RESV_PAGE ((size_t)256 << 10)
size_t oms_region_resv_min(void)
{
	return oms_threshold < RESV_PAGE ? oms_threshold : RESV_PAGE;
}

int oms_region_commit(void *addr, size_t len, int prot, int fixed)
{
	uintptr_t a = (uintptr_t)addr, b = a + oms_page_up(len);
	size_t rl = b - a;
	if ((a & (oms_page - 1)) || rl < oms_region_resv_min() || b < a || !(prot & PROT_WRITE) ||
	    oms_cfg.disable)
		return -1;
	int e = errno, err = 0;
	enum oms_cause cause = OMS_CAUSE_MAP;
	pthread_mutex_lock(&oms_map_lock);
	/* Still a reservation: recorded; one private anonymous PROT_NONE
	 * mapping (a stale entry - a DONTFORK range in a fork child, a raw
	 * munmap - may now be someone else's mapping); and no page of it
	 * ever present (a raw mprotect could have made it writable). */
	unsigned adv = 0;
	int ok = oms_resv_holds(a, b, &adv);
	/* MAP_FIXED replaces whatever is there by fresh memory, as we do:
	 * nothing to check, and the new mapping carries no old advice. */
	if (fixed)
		adv = 0;
	else if (ok && (oms_os_anon_none(addr, rl) != 1 || oms_os_untouched(addr, rl) != 1)) {
		oms_resv_forget(a, b);
		ok = 0;
	}
	if (!ok) {
		oms_map_unlock();
		errno = e;
		return -1;
	}
	if (!oms_budget_take(rl)) {
		oms_map_unlock();
		oms_stats_fallback(OMS_CAUSE_MAX, 0, rl);
		errno = e;
		return -1;
	}
	struct oms_arena *ar = oms_arena_current();
	if (!ar) {
		err = errno;
		cause = oms_cause_of(err);
		goto fallback;
	}
	/* Over the PROT_NONE range in one step: no thread can have touched
	 * it (it faults), and nothing is in it to keep. */
	if (oms_pieces_place(ar, addr, rl, prot, MAP_SHARED | MAP_FIXED, &cause, &err) == MAP_FAILED)
		goto fallback;
	oms_advise_new(addr, rl, MADV_NORMAL);
	oms_resv_forget(a, b);
	/* The advice the reservation had, now on the piece; no fork can come
	 * between (its handlers take oms_map_lock). */
	if (adv & OMS_RESV_DONTFORK)
		advise_flag(a, b, MADV_DONTFORK, OMS_P_DONTFORK, 1, 1);
	if (adv & OMS_RESV_WIPE)
		advise_flag(a, b, MADV_WIPEONFORK, OMS_P_WIPE, 1, 0);
	if (adv & OMS_RESV_DONTDUMP)
		advise_flag(a, b, MADV_DONTDUMP, OMS_P_DONTDUMP, 1, 1);
	__atomic_fetch_add(&oms_stats.blocks, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&oms_stats.bytes, rl, __ATOMIC_RELAXED);
	oms_map_unlock();
	errno = e;
	return 0;
fallback:
	oms_map_unlock();
	oms_budget_give(rl);
	oms_stats_fallback(cause, err, rl);
	errno = e;
	return -1;
}

void oms_region_note_lock(const void *addr, size_t len, int all)
{
	if (!all && !__atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE))
		return;
	int e = errno;
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(oms_page - 1);
	pthread_mutex_lock(&oms_map_lock);
	if (all == 2)
		oms_resv_stop();
	else if (all)
		oms_resv_reset();
	else
		oms_resv_forget(a, (uintptr_t)addr + oms_page_up(len));
	oms_map_unlock();
	errno = e;
}

static void resv_advise(uintptr_t a, uintptr_t b, int advice)
{
	int e = errno;
	pthread_mutex_lock(&oms_map_lock);
	switch (advice) {
	case MADV_DONTFORK:
	case MADV_DOFORK:
		oms_resv_advise(a, b, OMS_RESV_DONTFORK, advice == MADV_DONTFORK);
		break;
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		oms_resv_advise(a, b, OMS_RESV_WIPE, advice == MADV_WIPEONFORK);
		break;
	case MADV_DONTDUMP:
	case MADV_DODUMP:
		oms_resv_advise(a, b, OMS_RESV_DONTDUMP, advice == MADV_DONTDUMP);
		break;
	default:
		oms_resv_forget(a, b);
	}
	oms_map_unlock();
	errno = e;
}

int oms_region_madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr, b = a + oms_page_up(len);
	if ((a & (oms_page - 1)) || b < a) {
		errno = EINVAL; /* as the kernel says, before we act on anything */
		return -1;
	}
	if (advice == MADV_REMOVE && owns(a, b)) {
		/* The kernel refuses it on private anonymous memory, which is
		 * what the program has; on our shared file it would punch the
		 * range and give its disk back. */
		errno = EINVAL;
		return -1;
	}
	if ((advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE) && oms_live)
		oms_big_note_thp(addr, b - a);
	/* Advice that sets a flag on the mapping is lost when a commit maps
	 * a new file over the range: the fork and dump flags are kept with
	 * the reservation and given to the piece; any other (MERGEABLE,
	 * HUGEPAGE, ...) makes the range no reservation of ours. */
	if (advice != MADV_DONTNEED && advice != MADV_FREE && advice != MADV_NORMAL &&
	    advice != MADV_RANDOM && advice != MADV_SEQUENTIAL && advice != MADV_WILLNEED &&
	    __atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE))
		resv_advise(a, b, advice);
	if ((advice == MADV_DONTFORK || advice == MADV_WIPEONFORK || advice == MADV_MERGEABLE) &&
	    oms_live)
		oms_big_note_own(addr, b - a);
	if ((advice == MADV_DONTDUMP || advice == MADV_DODUMP) && oms_live)
		oms_big_note_dump(addr, b - a, advice == MADV_DONTDUMP);
	/* What the kernel is asked before we zero: DONTNEED_LOCKED also drops
	 * locked pages, the others refuse them. */
	int kadvice = advice == MADV_DONTNEED_LOCKED ? advice : MADV_DONTNEED;
	if ((advice == MADV_DONTNEED || advice == MADV_FREE || advice == MADV_DONTNEED_LOCKED) &&
	    oms_live && oms_big_zero_range(addr, b - a, kadvice) && advice == MADV_FREE)
		advice = MADV_DONTNEED; /* the kernel refuses FREE on shared files;
					   DONTNEED is a valid FREE (reads zero) */
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return oms_sys_madvise(addr, len, advice);
	size_t lo, hi, lo0, i;
	int r = 0, err = 0, e0 = errno;
	pthread_mutex_lock(&oms_map_lock);
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_DONTNEED_LOCKED:
		/* An error on the gaps (ENOMEM for an unmapped hole) is
		 * reported, but like the kernel we still act on the rest. */
		r = advise_gaps(a, b, advice);
		err = r < 0 ? errno : 0;
		/* Punch each shared piece's part in place; only what cannot be
		 * punched (frozen by a fork, fd lost) is split and replaced. */
		lo0 = oms_pieces_find(a);
		for (i = lo0; i < oms_npieces && oms_pieces[i].start < b;) {
			struct oms_piece *p = &oms_pieces[i];
			uintptr_t x = p->start > a ? p->start : a, y = p->end < b ? p->end : b;
			/* The kernel refuses locked memory (EINVAL): keep it. */
			if (oms_sys_madvise((void *)x, y - x, kadvice) < 0 && errno == EINVAL) {
				err = EINVAL;
				break;
			}
			if (!(p->flags & OMS_P_FROZEN) && oms_arena_zero(p->ar, p->off + (x - p->start), y - x) == 0) {
				i++;
				continue;
			}
			if (!p->ar) { /* OMS_P_ANON: the kernel's DONTNEED zeroed it */
				i++;
				continue;
			}
			oms_pieces_span(x, y, &lo, &hi); /* now oms_pieces[lo] is exactly [x, y) */
			oms_pieces_zero(lo);
			i = lo + 1;
		}
		oms_pieces_coalesce(lo0, i);
		r = err ? -1 : 0;
		break;
	/* Kept in the table: a remap (fork, relocation) makes a new mapping,
	 * which would not carry them. */
	case MADV_DONTFORK:
	case MADV_DOFORK:
		r = advise_flag(a, b, advice, OMS_P_DONTFORK, advice == MADV_DONTFORK, 1);
		break;
	case MADV_DONTDUMP:
	case MADV_DODUMP:
		r = advise_flag(a, b, advice, OMS_P_DONTDUMP, advice == MADV_DONTDUMP, 1);
		break;
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		/* The kernel allows these on private anonymous memory only;
		 * for ours the fork handler does the wiping. */
		r = advise_flag(a, b, advice, OMS_P_WIPE, advice == MADV_WIPEONFORK, 0);
		break;
	default:
		r = oms_sys_madvise(addr, len, advice);
	}
	if (r < 0 && err)
		errno = err;
	else if (r == 0)
		errno = e0; /* a success leaves errno as it was */
	oms_map_unlock();
	return r;
}

/* Our pieces inside [a, b) become anonymous memory (see oms_big_demote). */
static int demote_pieces(uintptr_t a, uintptr_t b)
{
	size_t lo, hi;
	int n = 0;
	pthread_mutex_lock(&oms_map_lock);
	oms_pieces_span(a, b, &lo, &hi);
	for (size_t i = hi; i-- > lo;) {
		struct oms_piece *p = &oms_pieces[i];
		if (oms_os_copy_to_anon((void *)p->start, p->end - p->start, p->prot) == 0) {
			oms_pieces_keep_advice(p, (void *)p->start, p->end - p->start);
			oms_pieces_forget(p->start, p->end, 1); /* its file part is unmapped now */
			n++;
		}
	}
	oms_map_unlock();
	return n;
}

int oms_region_mprotect(void *addr, size_t len, int prot)
{
	/* A reservation made writable: file-backed from the start (resv.h). */
	int resv = (prot & PROT_WRITE) && __atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE);
	if (resv && oms_region_commit(addr, len, prot, 0) == 0)
		return 0;
	/* With pieces, the call is made under the lock: if it stops at a
	 * hole, the walk below must see the same mappings the kernel saw.
	 * With reservations too: a range made writable here leaves the table
	 * before another thread could take it for untouched. */
	int have = __atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE) != 0 || resv;
	if (have)
		pthread_mutex_lock(&oms_map_lock);
	int r = oms_sys_mprotect(addr, len, prot);
	if (r < 0 && errno == EACCES && (prot & PROT_EXEC)) {
		/* OOMSHIELD_DIR is mounted noexec: code (a JIT's) cannot live in
		 * our files.  Anonymous memory could take PROT_EXEC, so the
		 * range becomes anonymous memory and the call is retried. */
		if (have)
			pthread_mutex_unlock(&oms_map_lock);
		uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(oms_page - 1);
		uintptr_t b = (uintptr_t)addr + oms_page_up(len);
		int n = oms_live ? oms_big_demote(addr, len) : 0;
		if (have)
			n += demote_pieces(a, b);
		if (have)
			pthread_mutex_lock(&oms_map_lock);
		errno = EACCES;
		if (n)
			r = oms_sys_mprotect(addr, len, prot);
	}
	int e = errno;
	if (resv && (r == 0 || e == ENOMEM)) /* ENOMEM: a part before a hole changed */
		oms_resv_forget((uintptr_t)addr, (uintptr_t)addr + oms_page_up(len));
	if (have && (r == 0 || e == ENOMEM)) {
		uintptr_t a = (uintptr_t)addr, b = a + oms_page_up(len), x = a;
		size_t lo, hi;
		oms_pieces_span(a, b, &lo, &hi);
		for (size_t i = lo; i < hi; i++) {
			/* A hole stopped the kernel (ENOMEM): it changed the
			 * mappings before the hole and none after.  The parts
			 * that are not ours are done again in order - nothing
			 * changes up to the hole - and the first that fails
			 * holds it: our pieces after it keep their protection. */
			if (r < 0 && oms_pieces[i].start > x &&
			    oms_sys_mprotect((void *)x, oms_pieces[i].start - x, prot) < 0)
				break;
			oms_pieces[i].prot = prot;
			x = oms_pieces[i].end;
		}
		oms_pieces_coalesce(lo, hi);
	}
	if (have)
		oms_map_unlock();
	if (r == 0 && oms_live)
		oms_big_note_own(addr, len);
	errno = e;
	return r;
}
