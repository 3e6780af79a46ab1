/* pieces.c - see pieces.h. */
#include "pieces.h"
#include "budget.h"
#include "debug.h"
#include "os.h"
#include "store.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

pthread_mutex_t oms_map_lock = PTHREAD_MUTEX_INITIALIZER;
struct oms_piece *oms_pieces;
size_t oms_npieces;
static size_t cap_pieces;
int oms_map_pieces;

/* Index of the first piece whose end is above addr. */
size_t oms_pieces_find(uintptr_t addr)
{
	size_t lo = 0, hi = oms_npieces;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (oms_pieces[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int oms_pieces_insert(struct oms_piece p)
{
	if (oms_npieces == cap_pieces && oms_os_grow_array((void **)&oms_pieces, &cap_pieces, sizeof p) < 0)
		return -1;
	size_t i = oms_pieces_find(p.start);
	/* sorted and non-overlapping: the new piece fits between its neighbours */
	OMS_ASSERT(p.start < p.end);
	OMS_ASSERT(i == oms_npieces || p.end <= oms_pieces[i].start);
	OMS_ASSERT(i == 0 || oms_pieces[i - 1].end <= p.start);
	OMS_ASSERT(!(p.flags & OMS_P_ANON) || ((p.flags & OMS_P_FROZEN) && !p.ar));
	memmove(&oms_pieces[i + 1], &oms_pieces[i], (oms_npieces - i) * sizeof p);
	oms_pieces[i] = p;
	oms_npieces++;
	__atomic_store_n(&oms_map_pieces, (int)oms_npieces, __ATOMIC_RELEASE);
	return 0;
}

void oms_pieces_delete(size_t i)
{
	memmove(&oms_pieces[i], &oms_pieces[i + 1], (oms_npieces - i - 1) * sizeof *oms_pieces);
	oms_npieces--;
	__atomic_store_n(&oms_map_pieces, (int)oms_npieces, __ATOMIC_RELEASE);
}

/* Make x a piece boundary if it falls inside one. */
int oms_pieces_split(uintptr_t x)
{
	size_t i = oms_pieces_find(x);
	if (i == oms_npieces || oms_pieces[i].start >= x)
		return 0;
	struct oms_piece tail = oms_pieces[i];
	tail.start = x;
	tail.off += x - oms_pieces[i].start;
	oms_pieces[i].end = x;
	if (tail.ar)
		tail.ar->refs++;
	return oms_pieces_insert(tail);
}

/* Pieces inside [a, b) after splitting at both ends: [*lo, *hi). */
void oms_pieces_span(uintptr_t a, uintptr_t b, size_t *lo, size_t *hi)
{
	oms_pieces_split(a);
	oms_pieces_split(b);
	*lo = oms_pieces_find(a);
	*hi = *lo;
	while (*hi < oms_npieces && oms_pieces[*hi].start < b)
		(*hi)++;
}

/* Merge pieces [lo, hi] with their right neighbours where they have become
 * one mapping again (same file, contiguous offsets, same protection and
 * flags): keeps the table as small as the kernel's own VMA list. */
void oms_pieces_coalesce(size_t lo, size_t hi)
{
	if (lo > 0)
		lo--;
	for (size_t i = lo; i < hi && i + 1 < oms_npieces;) {
		struct oms_piece *p = &oms_pieces[i], *q = &oms_pieces[i + 1];
		if (p->end == q->start && p->ar == q->ar && p->off + (p->end - p->start) == q->off &&
		    p->prot == q->prot && p->flags == q->flags && !p->snap && !q->snap) {
			p->end = q->end;
			oms_arena_unref(q->ar);
			oms_pieces_delete(i + 1);
			hi--;
		} else
			i++;
	}
}

/* Drop the bookkeeping for [a, b), whose mappings are already gone.
 * `punch`: give the disk back through the fd (the mapping is gone). */
void oms_pieces_forget(uintptr_t a, uintptr_t b, int punch)
{
	size_t lo, hi;
	oms_pieces_span(a, b, &lo, &hi);
	while (hi > lo) {
		struct oms_piece *p = &oms_pieces[--hi];
		size_t len = p->end - p->start;
		if (!(p->flags & OMS_P_FROZEN)) {
			if (!punch || oms_arena_punch(p->ar, p->off, len) == 0)
				oms_arena_free(p->ar, p->off, len);
			oms_budget_give(len);
		}
		oms_arena_unref(p->ar);
		oms_pieces_delete(hi);
	}
}

/* After a remap of p: MADV_DONTDUMP again (a new mapping does not carry
 * it, and the program marked that memory to stay out of core dumps). */
void oms_pieces_redump(const struct oms_piece *p)
{
	if (p->flags & OMS_P_DONTDUMP)
		oms_sys_madvise((void *)p->start, p->end - p->start, MADV_DONTDUMP);
}

/* Zero [p->start, p->end) the way anonymous memory would read after
 * MADV_DONTNEED: zero the file range with its disk kept (shared), or a
 * fresh anonymous mapping (frozen: the file belongs to a relative too; or
 * the range could not stay reserved), which stays in the table as a OMS_P_ANON
 * piece. */
void oms_pieces_zero(size_t i)
{
	struct oms_piece *p = &oms_pieces[i];
	size_t len = p->end - p->start;
	if (!(p->flags & OMS_P_FROZEN) && oms_arena_zero(p->ar, p->off, len) == 0)
		return;
	if (oms_sys_mmap((void *)p->start, len, p->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) == MAP_FAILED)
		return;
	oms_pieces_keep_advice(p, (void *)p->start, len);
	if (!(p->flags & OMS_P_FROZEN)) {
		/* No longer mapped by anyone: its disk goes back (an arena
		 * lives as long as the process in heap mode). */
		if (oms_arena_punch(p->ar, p->off, len) == 0)
			oms_arena_free(p->ar, p->off, len);
		oms_budget_give(len);
	}
	oms_arena_unref(p->ar);
	p->ar = NULL;
	p->off = 0;
	p->flags |= OMS_P_FROZEN | OMS_P_ANON;
}

/* A piece that became anonymous memory at addr keeps the fork advice the
 * program gave (the kernel's own mremap keeps the VMA flags). */
void oms_pieces_keep_advice(const struct oms_piece *p, void *addr, size_t len)
{
	if (p->flags & OMS_P_DONTFORK)
		oms_sys_madvise(addr, len, MADV_DONTFORK);
	if (p->flags & OMS_P_WIPE)
		oms_sys_madvise(addr, len, MADV_WIPEONFORK);
	if (p->flags & OMS_P_DONTDUMP)
		oms_sys_madvise(addr, len, MADV_DONTDUMP);
}

/* Read [x, y) of piece q into dst.  An unreadable piece (PROT_NONE,
 * PROT_WRITE only) is read without making the program's mapping readable
 * when it is shared: mremap with old size 0 makes a second mapping of the
 * same file pages (the kernel allows it for shared mappings only), which
 * is ours alone to make readable.  A private piece (frozen by a fork,
 * OMS_P_ANON) has its newest bytes in private pages no other mapping can
 * reach: it is made readable for the memcpy and given its protection back.
 * That is visible only to a program thread that reads this range while
 * another thread of it remaps, forks or grows it - a race inside the
 * program, whose outcome the kernel does not fix either (the call it races
 * with moves or replaces that memory) - and a write still faults. */
static int read_part(const struct oms_piece *q, uintptr_t x, uintptr_t y, char *dst)
{
	size_t len = y - x;
	if (q->prot & PROT_READ) {
		memcpy(dst, (void *)x, len);
		return 0;
	}
	if (q->ar && !(q->flags & OMS_P_FROZEN)) {
		char *v = oms_sys_mremap((void *)x, 0, len, MREMAP_MAYMOVE, NULL);
		if (v != MAP_FAILED) {
			int ok = oms_sys_mprotect(v, len, PROT_READ) == 0;
			if (ok)
				memcpy(dst, v, len);
			oms_sys_munmap(v, len);
			if (ok)
				return 0;
		}
	}
	if (oms_sys_mprotect((void *)x, len, PROT_READ) < 0)
		return -1;
	memcpy(dst, (void *)x, len);
	oms_sys_mprotect((void *)x, len, q->prot);
	return 0;
}

/* Read [s, e), all of it in the table, into dst, whatever its
 * protection.  0, or -1 (nothing changed for the program). */
int oms_pieces_read(uintptr_t s, uintptr_t e, void *dst)
{
	for (size_t i = oms_pieces_find(s); s < e; i++) {
		if (i == oms_npieces || oms_pieces[i].start > s)
			return -1;
		uintptr_t y = oms_pieces[i].end < e ? oms_pieces[i].end : e;
		if (read_part(&oms_pieces[i], s, y, dst) < 0)
			return -1;
		dst = (char *)dst + (y - s);
		s = y;
	}
	return 0;
}

/* Copy [s, e), all of it in the table, to offset o of arena a.  A shared
 * piece's file is authoritative: copied in the kernel.  Other bytes (a
 * frozen piece's private pages, OMS_P_ANON memory, a file whose fd the
 * program closed) are copied through memory. */
int oms_pieces_copy(uintptr_t s, uintptr_t e, struct oms_arena *a, uint64_t o)
{
	char *dst = NULL;
	uintptr_t base = s;
	int r = 0;
	for (size_t i = oms_pieces_find(s); s < e && r == 0; i++) {
		if (i == oms_npieces || oms_pieces[i].start > s) {
			r = -1;
			break;
		}
		struct oms_piece *q = &oms_pieces[i];
		uintptr_t y = q->end < e ? q->end : e;
		if (!(q->flags & OMS_P_FROZEN) && oms_arena_fd_ok(q->ar)) {
			loff_t in = (loff_t)(q->off + (s - q->start)), out = (loff_t)(o + (s - base));
			size_t done = 0;
			while (done < y - s) {
				ssize_t n = copy_file_range(q->ar->fd, &in, a->fd, &out, y - s - done, 0);
				if (n <= 0)
					break;
				done += (size_t)n;
			}
			if (done == y - s) {
				s = y;
				continue;
			}
		}
		if (!dst) {
			dst = oms_sys_mmap(NULL, e - base, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, (off_t)o);
			if (dst == MAP_FAILED)
				return -1;
		}
		r = read_part(q, s, y, dst + (s - base));
		s = y;
	}
	if (dst)
		oms_sys_munmap(dst, e - base);
	return r;
}

/* Give the piece a fresh extent in the current arena with room to grow,
 * and swap the mapping in place. */
int oms_pieces_relocate(struct oms_piece *p, uint64_t room)
{
	size_t len = p->end - p->start;
	/* A frozen piece's bytes were given back to the accounting at the
	 * fork; in a file of ours again, they count against OOMSHIELD_MAX. */
	int acct = !!(p->flags & OMS_P_FROZEN);
	if (acct && !oms_budget_take(len)) {
		errno = ENOMEM;
		return -1;
	}
	struct oms_arena *a = oms_arena_current();
	if (!a) {
		if (acct)
			oms_budget_give(len);
		return -1;
	}
	uint64_t o = oms_arena_alloc(a, room);
	if (oms_store_reserve(a->fd, o, len) < 0 || oms_pieces_copy(p->start, p->end, a, o) < 0)
		goto fail;
	if (oms_os_remap_over((void *)p->start, len, p->prot, MAP_SHARED, a->fd, (off_t)o) < 0)
		goto fail;
	/* A new mapping has fresh VMA flags: the program's MADV_DONTFORK must
	 * be given again, or a child would share this file with us. */
	if (p->flags & OMS_P_DONTFORK)
		oms_sys_madvise((void *)p->start, len, MADV_DONTFORK);
	oms_pieces_redump(p);
	if (p->flags & OMS_P_FROZEN) {
		p->flags &= ~(OMS_P_FROZEN | OMS_P_ANON); /* the relative keeps the old file */
	} else {
		oms_arena_punch(p->ar, p->off, len);
		oms_arena_free(p->ar, p->off, len);
	}
	oms_arena_unref(p->ar);
	a->refs++;
	/* Keep only what the piece uses; the rest goes back for the caller's
	 * arena_take to claim. */
	if (room > len)
		oms_arena_free(a, o + len, room - len);
	p->ar = a;
	p->off = o;
	return 0;
fail:
	oms_arena_punch(a, o, room);
	oms_arena_free(a, o, room);
	if (acct)
		oms_budget_give(len);
	return -1;
}

#ifdef OMS_DEBUG
/* The table's invariants (pieces.h), all of them: O(pieces + arenas), so
 * only in the debug build, once per mmap-family call. */
void oms_pieces_check(void)
{
	oms_arena_debug_begin();
	for (size_t i = 0; i < oms_npieces; i++) {
		const struct oms_piece *p = &oms_pieces[i];
		OMS_ASSERT(p->start < p->end);
		OMS_ASSERT(!(p->start & (oms_page - 1)) && !(p->end & (oms_page - 1)));
		OMS_ASSERT(i == 0 || oms_pieces[i - 1].end <= p->start);
		OMS_ASSERT(!(p->flags & OMS_P_ANON) || ((p->flags & OMS_P_FROZEN) && !p->ar));
		OMS_ASSERT((p->flags & OMS_P_ANON) || p->ar);
		OMS_ASSERT(!p->snap);
		if (p->ar)
			p->ar->seen++;
	}
	OMS_ASSERT(__atomic_load_n(&oms_map_pieces, __ATOMIC_RELAXED) == (int)oms_npieces);
	oms_arena_debug_end();
}
#endif

void *oms_pieces_place(struct oms_arena *ar, void *at, size_t rl, int prot, int flags,
		       enum oms_cause *cause, int *err)
{
	uint64_t o = oms_arena_alloc(ar, rl);
	void *p = MAP_FAILED;
	*cause = OMS_CAUSE_MAP;
	if (oms_store_reserve(ar->fd, o, rl) < 0) {
		*err = errno;
		*cause = oms_cause_of(*err);
	} else if ((p = oms_sys_mmap(at, rl, prot, flags, ar->fd, (off_t)o)) == MAP_FAILED) {
		*err = errno;
	} else if (oms_pieces_insert((struct oms_piece){(uintptr_t)p, (uintptr_t)p + rl, o, ar, prot,
							0, NULL}) < 0) {
		*err = ENOMEM;
		/* As it was: an untouched PROT_NONE reservation, or nothing. */
		if (flags & MAP_FIXED)
			oms_sys_mmap(p, rl, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		else
			oms_sys_munmap(p, rl);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED) {
		oms_arena_punch(ar, o, rl); /* fallocate may have reserved part of it */
		oms_arena_free(ar, o, rl);
		return MAP_FAILED;
	}
	ar->refs++;
	return p;
}
