/* region_remap.c - mremap of redirected memory (region.h).
 *
 * The kernel's rules for anonymous memory are the model: a shrink in place
 * only unmaps the tail, across any number of mappings; a move of several
 * mappings at once is done by newer kernels; a resize must find one
 * mapping.  Pieces that anonymous memory would have kept as one mapping
 * are merged into one extent first.  A growth the file cannot take
 * (OOMSHIELD_MAX, a full disk) moves the region to anonymous memory, as
 * MREMAP_MAYMOVE allows.  Locks: see pieces.h. */
#include "region.h"
#include "arena.h"
#include "big.h"
#include "budget.h"
#include "config.h"
#include "os.h"
#include "pieces.h"
#include "resv.h"
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

/* The file cannot take the growth (OOMSHIELD_MAX, a full disk): the kernel
 * would have grown anonymous memory, so the piece becomes anonymous memory
 * at a new place, as MREMAP_MAYMOVE allows.  One copy; the file part is
 * released.  Under oms_map_lock; the caller counts the fallback after
 * unlocking (a log line must not be written under the lock). */
static void *grow_anon(size_t i, size_t nl)
{
	struct oms_piece *p = &oms_pieces[i];
	size_t ol = p->end - p->start;
	char *dst = oms_sys_mmap(NULL, nl, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return MAP_FAILED;
	if (oms_pieces_read(p->start, p->end, dst) < 0) { /* whatever its protection */
		oms_sys_munmap(dst, nl);
		errno = ENOMEM;
		return MAP_FAILED;
	}
	if (p->prot != (PROT_READ | PROT_WRITE))
		oms_sys_mprotect(dst, nl, p->prot);
	oms_pieces_keep_advice(p, dst, nl);
	uintptr_t a = p->start;
	oms_sys_munmap((void *)a, ol);
	oms_pieces_forget(a, a + ol, 1);
	return dst;
}

/* [a, b) is whole in the table as pieces that anonymous memory would have
 * kept as one mapping: contiguous, one protection, the same fork and dump
 * advice (shared, frozen by a fork, or OMS_P_ANON parts a MADV_DONTNEED made).
 * The kernel cannot resize across mappings of different files or offsets,
 * so copy it into one fresh extent (room bytes) and make that its only
 * piece: 0 and [*lo, *hi) the new piece.  If no extent can be had
 * (OOMSHIELD_MAX, disk, descriptors, an unreadable protection), one
 * anonymous copy, out of the table: 1, and the kernel does the rest.  -1
 * with nothing changed if it is not such a region (the kernel would say
 * EFAULT for it too).  The copy goes through memory: a write another
 * thread makes into the region during the call can be lost, as it could
 * be in a program that resizes memory while another thread writes it. */
static int merge_pieces(uintptr_t a, uintptr_t b, uint64_t room, size_t *lo, size_t *hi)
{
	const int same = ~(OMS_P_ANON | OMS_P_FROZEN);
	size_t i = oms_pieces_find(a), j = i;
	if (i == oms_npieces || oms_pieces[i].start != a)
		return -1;
	for (; j < oms_npieces && oms_pieces[j].start < b; j++) {
		const struct oms_piece *p = &oms_pieces[j], *q = &oms_pieces[i];
		if (p->prot != q->prot || p->snap || (p->flags & same) != (q->flags & same) ||
		    (j > i && oms_pieces[j - 1].end != p->start))
			return -1;
	}
	if (oms_pieces[j - 1].end != b)
		return -1;
	struct oms_piece whole = oms_pieces[i];
	whole.end = b;
	whole.ar = NULL;
	/* OMS_P_FROZEN: relocate copies it from memory and takes its budget; the
	 * old pieces give theirs back in forget. */
	whole.flags = (whole.flags & same) | OMS_P_FROZEN;
	if (oms_pieces_relocate(&whole, room) < 0) {
		if (oms_os_copy_to_anon((void *)a, b - a, whole.prot) < 0)
			return -1;
		oms_pieces_keep_advice(&whole, (void *)a, b - a);
		oms_pieces_forget(a, b, 1); /* their file parts are unmapped now */
		return 1;
	}
	oms_pieces_forget(a, b, 1);
	oms_pieces_insert(whole); /* cannot fail: forget freed at least two slots */
	oms_pieces_span(a, b, lo, hi);
	return 0;
}

/* Unmapped parts of a source range, in order (find_holes). */
struct holes {
	uintptr_t x[64], y[64];
	size_t n;
};

/* Append the unmapped parts of [x, y), where no piece of ours is, to h,
 * by bisection: msync(MS_ASYNC) - which only checks the range - says
 * whether all of it is mapped, a MAP_FIXED_NOREPLACE probe whether none of
 * it is.  Too many parts: the rest are taken as mapped (their targets'
 * pieces are forgotten: never an extent two mappings use). */
static void find_holes(uintptr_t x, uintptr_t y, struct holes *h)
{
	if (x >= y || h->n == 64)
		return;
	int e = errno;
	if (oms_os.msync((void *)x, y - x, MS_ASYNC) == 0 || errno != ENOMEM) {
		errno = e;
		return; /* all mapped */
	}
	int none = y - x == oms_page;
	if (!none) {
		void *q = oms_sys_mmap((void *)x, y - x, PROT_NONE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (q != MAP_FAILED)
			oms_sys_munmap(q, y - x);
		none = q == (void *)x;
	}
	errno = e;
	if (none) {
		if (h->n && h->y[h->n - 1] == x)
			h->y[h->n - 1] = y;
		else {
			h->x[h->n] = x;
			h->y[h->n++] = y;
		}
		return;
	}
	uintptr_t m = x + (y - x) / oms_page / 2 * oms_page;
	find_holes(x, m, h);
	find_holes(m, y, h);
}

/* Before a move of [a, a+len) to t: the holes of the source, where the
 * target keeps what it has, found only where the target has pieces of
 * ours (elsewhere it does not matter to the table). */
static void source_holes(uintptr_t a, uintptr_t len, uintptr_t t, struct holes *h)
{
	h->n = 0;
	uintptr_t x = a, b = a + len;
	for (size_t i = oms_pieces_find(a);; i++) {
		uintptr_t next = i < oms_npieces && oms_pieces[i].start < b ? oms_pieces[i].start : b;
		if (next > x) {
			size_t j = oms_pieces_find(x - a + t);
			if (j < oms_npieces && oms_pieces[j].start < next - a + t)
				find_holes(x, next, h);
		}
		if (next == b)
			break;
		x = oms_pieces[i].end < b ? oms_pieces[i].end : b;
	}
}

/* The kernel moved every mapping in [a, a+len) to [t, t+len) at once
 * (Linux 6.17 and later move several mappings in one MREMAP_FIXED call):
 * so do the pieces.  Each moved mapping replaced its part of the target;
 * the target's parts across the source's holes (h) kept what they had.
 * The ranges do not overlap (the kernel refuses that). */
static void forget_target(uintptr_t a, uintptr_t len, uintptr_t t, const struct holes *h)
{
	uintptr_t x = a;
	for (size_t i = 0; i <= h->n; i++) {
		uintptr_t y = i < h->n ? h->x[i] : a + len;
		if (y > x)
			oms_pieces_forget(x - a + t, y - a + t, 1);
		if (i < h->n)
			x = h->y[i];
	}
}

static void shift_pieces(uintptr_t a, uintptr_t len, uintptr_t t, const struct holes *h)
{
	size_t lo, hi;
	forget_target(a, len, t, h);
	oms_pieces_span(a, a + len, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		oms_pieces[i].start = oms_pieces[i].start - a + t;
		oms_pieces[i].end = oms_pieces[i].end - a + t;
	}
	/* Keep the table sorted: the moved run may now sit between pieces
	 * the target kept; an insertion sort does it in one pass over what
	 * lies between the two places. */
	for (size_t i = 1; i < oms_npieces; i++)
		for (size_t j = i; j > 0 && oms_pieces[j - 1].start > oms_pieces[j].start; j--) {
			struct oms_piece tmp = oms_pieces[j];
			oms_pieces[j] = oms_pieces[j - 1];
			oms_pieces[j - 1] = tmp;
		}
}

void *oms_region_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	if (__atomic_load_n(&oms_resv_count, __ATOMIC_ACQUIRE)) {
		/* A reservation moved, grown or overwritten is not watched any
		 * more (resv.h): forgetting is always safe. */
		uintptr_t s = (uintptr_t)old & ~(uintptr_t)(oms_page - 1);
		pthread_mutex_lock(&oms_map_lock);
		oms_resv_forget(s, (uintptr_t)old + oms_page_up(old_len > new_len ? old_len : new_len));
		if (flags & MREMAP_FIXED)
			oms_resv_forget((uintptr_t)new_addr, (uintptr_t)new_addr + oms_page_up(new_len));
		oms_map_unlock();
	}
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return oms_sys_mremap(old, old_len, new_len, flags, new_addr);
	uintptr_t a = (uintptr_t)old, ol = oms_page_up(old_len), nl = oms_page_up(new_len);
	enum oms_cause fb_cause = OMS_CAUSE_OTHER;
	int fb = 0, fb_err = 0; /* a fallback to anonymous memory, counted after unlocking */
	int e0 = errno;
	/* Requests the kernel refuses whatever the mapping (unaligned, zero
	 * or overflowing length, bad flags) go to it untouched: the table
	 * must not be split at an address the kernel never accepts. */
	int known = MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP;
	if ((a & (oms_page - 1)) || !nl || nl < new_len || (flags & ~known) ||
	    ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE)) ||
	    ((flags & MREMAP_DONTUNMAP) && ol != nl) ||
	    ((flags & MREMAP_FIXED) && ((uintptr_t)new_addr & (oms_page - 1))))
		return oms_sys_mremap(old, old_len, new_len, flags, new_addr);
	pthread_mutex_lock(&oms_map_lock);
	size_t i = oms_pieces_find(a);
	int ours = i < oms_npieces && oms_pieces[i].start < a + (ol ? ol : 1);
	if (ours && !ol) {
		/* old_size 0 duplicates a shared mapping (an old_size that
		 * rounds up past the top wraps to 0 in the kernel too); on the
		 * private memory the program asked for, the kernel says EINVAL. */
		oms_map_unlock();
		errno = EINVAL;
		return MAP_FAILED;
	}
	if (!ours || nl < new_len) {
		/* A move of unchanged size may be of several mappings (Linux
		 * 6.17+): the target keeps its parts across the source's holes. */
		struct holes h = {.n = 0};
		int multi = (flags & MREMAP_FIXED) && !(flags & MREMAP_DONTUNMAP) && ol == nl && nl >= new_len;
		if (multi)
			source_holes(a, ol, (uintptr_t)new_addr, &h);
		void *r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
		if (r != MAP_FAILED && multi)
			forget_target(a, ol, (uintptr_t)r, &h);
		else if (r != MAP_FAILED && (flags & MREMAP_FIXED))
			oms_pieces_forget((uintptr_t)r, (uintptr_t)r + nl, 1); /* target replaced */
		oms_map_unlock();
		return r;
	}
	void *r = MAP_FAILED;
	size_t lo, hi;
	if (nl <= ol && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) {
		/* No growth, no move: the kernel only unmaps the tail, across
		 * any number of mappings (mm/mremap.c), and so do we. */
		r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
		if (r != MAP_FAILED && nl < ol)
			oms_pieces_forget(a + nl, a + ol, 1);
		goto out;
	}
	oms_pieces_span(a, a + ol, &lo, &hi);
	if (hi - lo != 1 || oms_pieces[lo].start != a || oms_pieces[lo].end != a + ol) {
		if (nl == ol && (flags & MREMAP_FIXED) && !(flags & MREMAP_DONTUNMAP)) {
			/* A move of several mappings: newer kernels do it in
			 * one call, with no copy. */
			struct holes h;
			source_holes(a, ol, (uintptr_t)new_addr, &h);
			r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
			if (r != MAP_FAILED) {
				shift_pieces(a, ol, (uintptr_t)r, &h);
				goto out;
			}
			if (errno != EFAULT)
				goto out;
		}
		int m = merge_pieces(a, a + ol, nl > ol ? nl : ol, &lo, &hi);
		if (m < 0) {
			/* Several mappings anonymous memory would have kept
			 * apart too (other protections or advice), or a hole:
			 * the kernel refuses to resize across them. */
			errno = EFAULT;
			goto out;
		}
		if (m > 0) { /* plain anonymous memory now: the kernel's */
			r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
			if (r != MAP_FAILED)
				oms_pieces_forget((uintptr_t)r, (uintptr_t)r + nl, 1);
			goto out;
		}
	}
	struct oms_piece *p = &oms_pieces[lo];
	if (!p->ar) {
		/* OMS_P_ANON: plain anonymous memory; the kernel resizes it, and
		 * what it leaves behind (DONTUNMAP) is anonymous too. */
		r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
		if (r != MAP_FAILED) {
			struct oms_piece moved = *p;
			oms_pieces_delete(lo);
			oms_pieces_forget((uintptr_t)r, (uintptr_t)r + nl, 1);
			moved.start = (uintptr_t)r;
			moved.end = (uintptr_t)r + nl;
			oms_pieces_insert(moved);
		}
		goto out;
	}
	if (nl > ol) {
		uint64_t delta = nl - ol;
		int ok = !(p->flags & OMS_P_FROZEN) && oms_arena_is_current(p->ar) && oms_arena_fd_ok(p->ar) &&
			 oms_arena_take(p->ar, p->off + ol, delta) == 0;
		if (!ok) {
			if (oms_pieces_relocate(p, nl) < 0 || oms_arena_take(p->ar, p->off + ol, delta) < 0) {
				if (flags == MREMAP_MAYMOVE) {
					fb = 1;
					fb_cause = oms_cause_of(errno);
					fb_err = errno;
					r = grow_anon(lo, nl);
				} else
					errno = ENOMEM;
				goto out;
			}
		}
		int max = !oms_budget_take(delta);
		if (max || oms_store_reserve(p->ar->fd, p->off + ol, delta) < 0) {
			int e = max ? 0 : errno;
			oms_arena_punch(p->ar, p->off + ol, delta);
			oms_arena_free(p->ar, p->off + ol, delta);
			if (!max)
				oms_budget_give(delta);
			if (flags == MREMAP_MAYMOVE) {
				fb = 1;
				fb_cause = max ? OMS_CAUSE_MAX : oms_cause_of(e);
				fb_err = e;
				r = grow_anon(lo, nl);
			} else
				errno = ENOMEM;
			goto out;
		}
	}
	r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
	p = &oms_pieces[lo];
	if (r == MAP_FAILED) {
		if (nl > ol) {
			oms_arena_punch(p->ar, p->off + ol, nl - ol);
			oms_arena_free(p->ar, p->off + ol, nl - ol);
			oms_budget_give(nl - ol);
		}
		goto out;
	}
	struct oms_piece moved = *p;
	if (nl < ol && !(p->flags & OMS_P_FROZEN)) {
		oms_arena_punch(p->ar, p->off + nl, ol - nl);
		oms_arena_free(p->ar, p->off + nl, ol - nl);
		oms_budget_give(ol - nl);
	}
	oms_pieces_delete(lo);
	oms_pieces_forget((uintptr_t)r, (uintptr_t)r + nl, 1); /* MREMAP_FIXED replaced these */
	moved.start = (uintptr_t)r;
	moved.end = (uintptr_t)r + nl;
	oms_pieces_insert(moved); /* cannot fail: a slot was just freed */
	/* Grown in place up to the next piece's extent, or moved next to a
	 * piece that continues it: one piece again, as the kernel merges
	 * its VMAs (a later resize of both must not need a copy). */
	size_t k = oms_pieces_find(moved.start);
	oms_pieces_coalesce(k, k + 1);
	if (flags & MREMAP_DONTUNMAP) {
		/* The kernel leaves the old range mapped to the same file
		 * extent; private memory would be left empty.  Fresh anonymous
		 * memory there (or, failing that, none) so that it never
		 * aliases the moved data. */
		int e = errno;
		if (oms_sys_mmap(old, ol, moved.prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			oms_sys_munmap(old, ol);
		oms_pieces_keep_advice(&moved, old, ol);
		errno = e;
	}
out:
	oms_map_unlock();
	if (fb && r != MAP_FAILED)
		oms_stats_fallback(fb_cause, fb_err, nl);
	if (r != MAP_FAILED)
		errno = e0; /* a success leaves errno as it was */
	return r;
}
