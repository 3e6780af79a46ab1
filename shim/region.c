/* region.c - redirected anonymous mappings (see region.h).
 *
 * Invariants (all under oms_map_lock):
 * - `pieces[0..npieces)` is sorted by start and non-overlapping; each piece
 *   [start, end) is MAP_SHARED of arena `ar` at file offset `off`, with
 *   protection `prot` - unless P_FROZEN (after a fork without reflink: a
 *   MAP_PRIVATE view of a file shared with a relative, on which no file
 *   operation may ever be done again).
 * - Free extents of an arena are holes: a range is punched before its
 *   extent is returned to the allocator, so reused offsets read as zero.
 * - The current arena is never retired; a retired arena (after a
 *   copy-on-write fork) hands out no more extents.
 * Anonymous-memory semantics kept: fresh pages read zero; MADV_DONTNEED and
 * MADV_FREE read back zero (hole punch, not the kernel's "re-read the
 * file"); munmap releases the disk; fork gives private copies; MADV_
 * WIPEONFORK (which the kernel refuses on shared mappings) is emulated.
 */
#include "region.h"
#include "advise.h"
#include "alloc.h"
#include "big.h"
#include "block.h"
#include "config.h"
#include "defrag.h"
#include "heap.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* P_ANON: plain anonymous memory that replaced a frozen piece's part on
 * MADV_DONTNEED (always with P_FROZEN; ar NULL).  Kept in the table so that
 * the region stays whole in it: mremap can then move all of it. */
/* P_NORES: mapped MAP_NORESERVE (heap mode: an allocator's extent).  Its
 * purged pages keep their disk (zero_fd): the allocator writes them again
 * without a call we could see. */
enum { P_FROZEN = 1, P_DONTFORK = 2, P_WIPE = 4, P_DONTDUMP = 8, P_ANON = 16, P_NORES = 32 };

struct ext { uint64_t off, len; };

struct arena {
	int fd, refs, retired;
	dev_t dev;
	ino_t ino;
	uint64_t top;          /* offsets >= top are unused holes */
	struct ext *ext;       /* free extents below top, sorted, coalesced */
	size_t next, cap_ext;
};

struct piece {
	uintptr_t start, end;
	uint64_t off;
	struct arena *ar;
	int prot, flags;
	void *snap;            /* fork: anonymous copy when the fd is lost */
};

/* Each fork without reflink retires the current arena while frozen pieces
 * still use it, so a program that keeps its memory and forks often needs
 * one arena per fork; the descriptor budget (os.c) bounds them too. */
#define MAX_ARENAS 256
static struct arena arenas[MAX_ARENAS];
static struct arena *cur;
static int cur_clone = -1; /* fork: reflink of cur for the child, or -1 */
static struct piece *pieces;
static size_t npieces, cap_pieces;
static pthread_mutex_t oms_map_lock = PTHREAD_MUTEX_INITIALIZER;
int oms_map_pieces;

static uintptr_t page_up(uintptr_t n)
{
	return (n + oms_page - 1) & ~(uintptr_t)(oms_page - 1);
}

/* Grow a raw array (never through malloc: we may be inside it). */
static int grow_array(void **arr, size_t *cap, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 256;
	void *m = *arr ? oms_sys_mremap(*arr, *cap * elem, ncap * elem, MREMAP_MAYMOVE, NULL)
		       : oms_sys_mmap(NULL, ncap * elem, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	*arr = m;
	*cap = ncap;
	return 0;
}

/* ---- arenas: one unlinked file, extents handed out first-fit ---- */

static int arena_fd_ok(struct arena *a)
{
	struct stat st;
	if (!a || a->fd < 0)
		return 0;
	if (oms_os.fstat(a->fd, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		return 1;
	a->fd = -1; /* the program closed it or reused the number */
	oms_os_fd_forget();
	return 0;
}

static struct arena *arena_current(void)
{
	if (cur && !cur->retired && arena_fd_ok(cur))
		return cur;
	if (cur && cur->refs == 0 && cur->fd < 0)
		cur->top = 0;
	struct arena *a = NULL;
	for (int i = 0; i < MAX_ARENAS && !a; i++)
		if (arenas[i].refs == 0 && &arenas[i] != cur && arenas[i].fd <= 0)
			a = &arenas[i];
	if (!a) {
		errno = EMFILE;
		return NULL;
	}
	struct stat st;
	int fd = oms_os.open_tmpfile(oms_cfg.dir);
	if (fd < 0)
		return NULL;
	if (oms_os.fstat(fd, &st) < 0) {
		oms_os.close(fd);
		return NULL;
	}
	struct ext *keep = a->ext;
	size_t keep_cap = a->cap_ext;
	memset(a, 0, sizeof *a);
	a->ext = keep;
	a->cap_ext = keep_cap;
	a->fd = fd;
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	cur = a;
	return a;
}

static void arena_unref(struct arena *a)
{
	if (a && --a->refs == 0 && (a != cur || a->retired) && a->fd >= 0) {
		if (arena_fd_ok(a))
			oms_os.close(a->fd);
		a->fd = 0; /* free slot (0 is never one of ours: fds sit high) */
		if (a == cur)
			cur = NULL;
	}
}

static uint64_t arena_alloc(struct arena *a, uint64_t len)
{
	for (size_t i = 0; i < a->next; i++)
		if (a->ext[i].len >= len) {
			uint64_t off = a->ext[i].off;
			a->ext[i].off += len;
			a->ext[i].len -= len;
			if (!a->ext[i].len) {
				memmove(&a->ext[i], &a->ext[i + 1], (a->next - i - 1) * sizeof *a->ext);
				a->next--;
			}
			return off;
		}
	uint64_t off = a->top;
	a->top += len;
	return off;
}

/* Claim exactly [off, off+len) if it is free (to grow a mapping in place). */
static int arena_take(struct arena *a, uint64_t off, uint64_t len)
{
	if (off == a->top) {
		a->top += len;
		return 0;
	}
	for (size_t i = 0; i < a->next; i++) {
		struct ext *e = &a->ext[i];
		if (e->off <= off && off + len <= e->off + e->len) {
			if (e->off + e->len == off + len && e->off == off) {
				memmove(e, e + 1, (a->next - i - 1) * sizeof *e);
				a->next--;
			} else if (e->off == off) {
				e->off += len;
				e->len -= len;
			} else if (off + len == e->off + e->len) {
				e->len -= len;
			} else {
				if (a->next == a->cap_ext &&
				    grow_array((void **)&a->ext, &a->cap_ext, sizeof *a->ext) < 0)
					return -1;
				e = &a->ext[i];
				memmove(e + 2, e + 1, (a->next - i - 1) * sizeof *e);
				a->next++;
				e[1].off = off + len;
				e[1].len = e->off + e->len - (off + len);
				e->len = off - e->off;
			}
			return 0;
		}
	}
	return -1;
}

/* Return a punched range to the allocator. */
static void arena_free(struct arena *a, uint64_t off, uint64_t len)
{
	if (a->retired)
		return;
	size_t i = 0;
	while (i < a->next && a->ext[i].off < off)
		i++;
	if (i > 0 && a->ext[i - 1].off + a->ext[i - 1].len == off) {
		a->ext[i - 1].len += len;
		i--;
	} else {
		if (a->next == a->cap_ext &&
		    grow_array((void **)&a->ext, &a->cap_ext, sizeof *a->ext) < 0)
			return; /* offset space leaks; the disk is already freed */
		memmove(&a->ext[i + 1], &a->ext[i], (a->next - i) * sizeof *a->ext);
		a->ext[i] = (struct ext){off, len};
		a->next++;
	}
	if (i + 1 < a->next && a->ext[i].off + a->ext[i].len == a->ext[i + 1].off) {
		a->ext[i].len += a->ext[i + 1].len;
		memmove(&a->ext[i + 1], &a->ext[i + 2], (a->next - i - 2) * sizeof *a->ext);
		a->next--;
	}
	if (a->ext[a->next - 1].off + a->ext[a->next - 1].len == a->top) {
		a->top = a->ext[a->next - 1].off;
		a->next--;
	}
}

static int punch_fd(struct arena *a, uint64_t off, uint64_t len)
{
	if (!arena_fd_ok(a))
		return -1;
	return oms_os.fallocate(a->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
				(off_t)len);
}

/* Make [off, off+len) of p's file read zero.  A P_NORES piece keeps the
 * disk reserved (FALLOC_FL_ZERO_RANGE, or a punch and a new reservation):
 * the next write needs no block, so a full disk can never SIGBUS it.  -1:
 * the range could not be kept reserved (the caller makes it anonymous). */
static int zero_fd(struct piece *p, uint64_t off, uint64_t len)
{
	if (!(p->flags & P_NORES))
		return punch_fd(p->ar, off, len);
	if (!arena_fd_ok(p->ar))
		return -1;
	int e = errno;
	if (oms_os.fallocate(p->ar->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			     (off_t)len) == 0)
		return 0;
	if (punch_fd(p->ar, off, len) < 0 || oms_store_reserve(p->ar->fd, off, len) < 0) {
		errno = e;
		return -1;
	}
	return 0;
}

/* ---- the piece table ---- */

/* Index of the first piece whose end is above addr. */
static size_t first_after(uintptr_t addr)
{
	size_t lo = 0, hi = npieces;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pieces[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert_piece(struct piece p)
{
	if (npieces == cap_pieces && grow_array((void **)&pieces, &cap_pieces, sizeof p) < 0)
		return -1;
	size_t i = first_after(p.start);
	memmove(&pieces[i + 1], &pieces[i], (npieces - i) * sizeof p);
	pieces[i] = p;
	npieces++;
	__atomic_store_n(&oms_map_pieces, (int)npieces, __ATOMIC_RELEASE);
	return 0;
}

static void delete_piece(size_t i)
{
	memmove(&pieces[i], &pieces[i + 1], (npieces - i - 1) * sizeof *pieces);
	npieces--;
	__atomic_store_n(&oms_map_pieces, (int)npieces, __ATOMIC_RELEASE);
}

/* Make x a piece boundary if it falls inside one. */
static int split_at(uintptr_t x)
{
	size_t i = first_after(x);
	if (i == npieces || pieces[i].start >= x)
		return 0;
	struct piece tail = pieces[i];
	tail.start = x;
	tail.off += x - pieces[i].start;
	pieces[i].end = x;
	if (tail.ar)
		tail.ar->refs++;
	return insert_piece(tail);
}

/* Pieces inside [a, b) after splitting at both ends: [*lo, *hi). */
static void span(uintptr_t a, uintptr_t b, size_t *lo, size_t *hi)
{
	split_at(a);
	split_at(b);
	*lo = first_after(a);
	*hi = *lo;
	while (*hi < npieces && pieces[*hi].start < b)
		(*hi)++;
}

/* Merge pieces [lo, hi] with their right neighbours where they have become
 * one mapping again (same file, contiguous offsets, same protection and
 * flags): keeps the table as small as the kernel's own VMA list. */
static void coalesce(size_t lo, size_t hi)
{
	if (lo > 0)
		lo--;
	for (size_t i = lo; i < hi && i + 1 < npieces;) {
		struct piece *p = &pieces[i], *q = &pieces[i + 1];
		if (p->end == q->start && p->ar == q->ar && p->off + (p->end - p->start) == q->off &&
		    p->prot == q->prot && p->flags == q->flags && !p->snap && !q->snap) {
			p->end = q->end;
			arena_unref(q->ar);
			delete_piece(i + 1);
			hi--;
		} else
			i++;
	}
}

/* Drop the bookkeeping for [a, b), whose mappings are already gone.
 * `punch`: give the disk back through the fd (the mapping is gone). */
static void forget(uintptr_t a, uintptr_t b, int punch)
{
	size_t lo, hi;
	span(a, b, &lo, &hi);
	while (hi > lo) {
		struct piece *p = &pieces[--hi];
		size_t len = p->end - p->start;
		if (!(p->flags & P_FROZEN)) {
			if (!punch || punch_fd(p->ar, p->off, len) == 0)
				arena_free(p->ar, p->off, len);
			oms_big_unaccount(len);
		}
		arena_unref(p->ar);
		delete_piece(hi);
	}
}

static void keep_fork_advice(const struct piece *p, void *addr, size_t len);

/* After a remap of p: MADV_DONTDUMP again (a new mapping does not carry
 * it, and the program marked that memory to stay out of core dumps). */
static void redump(const struct piece *p)
{
	if (p->flags & P_DONTDUMP)
		oms_sys_madvise((void *)p->start, p->end - p->start, MADV_DONTDUMP);
}

/* Zero [p->start, p->end) the way anonymous memory would read after
 * MADV_DONTNEED: punch the file (shared), or a fresh anonymous mapping
 * (frozen: the file belongs to a relative too), which stays in the table
 * as a P_ANON piece. */
static void zero_piece(size_t i)
{
	struct piece *p = &pieces[i];
	size_t len = p->end - p->start;
	if (!(p->flags & (P_FROZEN | P_NORES))) {
		if (punch_fd(p->ar, p->off, len) == 0 ||
		    oms_sys_madvise((void *)p->start, len, MADV_REMOVE) == 0)
			return;
	}
	if (oms_sys_mmap((void *)p->start, len, p->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			 -1, 0) == MAP_FAILED)
		return;
	keep_fork_advice(p, (void *)p->start, len);
	if (!(p->flags & P_FROZEN)) {
		oms_big_unaccount(len); /* the old extent stays allocated: file gone soon */
		punch_fd(p->ar, p->off, len); /* P_NORES: its disk, too */
	}
	arena_unref(p->ar);
	p->ar = NULL;
	p->off = 0;
	p->flags |= P_FROZEN | P_ANON;
}

/* ---- the wrappers' policy ---- */

int oms_region_wanted(size_t len, int prot, int flags)
{
	/* MAP_NORESERVE: a reservation, except in heap mode (heap.h). */
	return (flags & MAP_ANONYMOUS) && (flags & MAP_TYPE) == MAP_PRIVATE &&
	       !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB | MAP_STACK |
			  MAP_GROWSDOWN)) &&
	       (!(flags & MAP_NORESERVE) || oms_cfg.heap) &&
	       (prot & PROT_WRITE) && len >= oms_threshold && oms_cfg.mmap && oms_cfg.dir_ok &&
	       !oms_cfg.disable;
}

void *oms_region_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	/* An allocator preloaded after us (heap mode) maps its first extents
	 * from its constructor, which runs before ours. */
	if (!__atomic_load_n(&oms_threshold, __ATOMIC_ACQUIRE) && (flags & MAP_ANONYMOUS))
		oms_init();
	/* An unaligned offset is refused by the kernel even for anonymous
	 * memory: let it say so. */
	if (!oms_region_wanted(len, prot, flags) || (off & (off_t)(oms_page - 1))) {
		void *p = oms_sys_mmap(addr, len, prot, flags, fd, off);
		if (p != MAP_FAILED && (flags & MAP_FIXED) &&
		    __atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE)) {
			/* The kernel replaced whatever was there, ours included. */
			pthread_mutex_lock(&oms_map_lock);
			forget((uintptr_t)p, (uintptr_t)p + page_up(len), 1);
			pthread_mutex_unlock(&oms_map_lock);
		}
		return p;
	}
	int e = errno;
	oms_defrag_poke();
	size_t rl = page_up(len);
	if (rl < len || !oms_big_account(rl)) {
		oms_stats_fallback(OMS_CAUSE_MAX, 0, len);
		errno = e;
		return oms_sys_mmap(addr, len, prot, flags, fd, off);
	}
	pthread_mutex_lock(&oms_map_lock);
	enum oms_cause cause = OMS_CAUSE_MAP;
	int err = ENOMEM;
	struct arena *a = arena_current();
	if (!a) {
		err = errno;
		cause = oms_cause_of(err);
		goto fallback;
	}
	if ((flags & MAP_NORESERVE) && !oms_heap_noreserve_ok(rl, oms_os.disk_free(a->fd))) {
		/* Too sparse to reserve: a reservation, not a fallback. */
		pthread_mutex_unlock(&oms_map_lock);
		oms_big_unaccount(rl);
		errno = e;
		return oms_sys_mmap(addr, len, prot, flags, fd, off);
	}
	uint64_t o = arena_alloc(a, rl);
	if (oms_store_reserve(a->fd, o, rl) < 0) {
		err = errno;
		cause = oms_cause_of(err);
		punch_fd(a, o, rl); /* fallocate may have reserved part of it */
		arena_free(a, o, rl);
		goto fallback;
	}
	int f = (flags & ~(MAP_TYPE | MAP_ANONYMOUS)) | MAP_SHARED;
	void *p = oms_sys_mmap(addr, rl, prot, f, a->fd, (off_t)o);
	if (p == MAP_FAILED) {
		err = errno;
		punch_fd(a, o, rl);
		arena_free(a, o, rl);
		goto fallback;
	}
	struct piece pc = {(uintptr_t)p, (uintptr_t)p + rl, o, a, prot,
			   (flags & MAP_NORESERVE) ? P_NORES : 0, NULL};
	if (insert_piece(pc) < 0) {
		oms_sys_munmap(p, rl);
		punch_fd(a, o, rl);
		arena_free(a, o, rl);
		goto fallback;
	}
	a->refs++;
	oms_advise_new(p, rl, MADV_NORMAL);
	__atomic_fetch_add(&oms_stats.blocks, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&oms_stats.bytes, len, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&oms_map_lock);
	errno = e;
	return p;
fallback:
	pthread_mutex_unlock(&oms_map_lock);
	oms_big_unaccount(rl);
	oms_stats_fallback(cause, err, len);
	errno = e;
	return oms_sys_mmap(addr, len, prot, flags, fd, off);
}

int oms_region_munmap(void *addr, size_t len)
{
	oms_defrag_poke();
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return oms_sys_munmap(addr, len);
	pthread_mutex_lock(&oms_map_lock);
	int r = oms_sys_munmap(addr, len);
	if (r == 0)
		forget((uintptr_t)addr, (uintptr_t)addr + page_up(len), 1);
	pthread_mutex_unlock(&oms_map_lock);
	return r;
}

/* Call the kernel's madvise on the parts of [a, b) that are not ours. */
static int advise_gaps(uintptr_t a, uintptr_t b, int advice)
{
	int r = 0;
	for (size_t i = first_after(a); a < b; i++) {
		uintptr_t next = (i < npieces && pieces[i].start < b) ? pieces[i].start : b;
		if (next > a && oms_sys_madvise((void *)a, next - a, advice) < 0)
			r = -1;
		if (i >= npieces || pieces[i].start >= b)
			break;
		a = pieces[i].end;
	}
	return r;
}

/* The kernel's own advice for the P_ANON pieces inside [a, b): they are
 * anonymous memory, whose VMA flags the kernel keeps itself. */
static void advise_anon(uintptr_t a, uintptr_t b, int advice)
{
	size_t lo, hi;
	span(a, b, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (!pieces[i].ar)
			oms_sys_madvise((void *)pieces[i].start, pieces[i].end - pieces[i].start, advice);
}

/* Set (on) or clear `flag` on our pieces inside [a, b). */
static void mark(uintptr_t a, uintptr_t b, int flag, int on)
{
	size_t lo, hi;
	span(a, b, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		pieces[i].flags = on ? (pieces[i].flags | flag) : (pieces[i].flags & ~flag);
	coalesce(lo, hi);
}

int oms_region_madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr, b = a + page_up(len);
	if ((a & (oms_page - 1)) || b < a) {
		errno = EINVAL; /* as the kernel says, before we act on anything */
		return -1;
	}
	if ((advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE) && oms_live)
		oms_big_note_thp(addr, b - a);
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
	size_t lo, hi;
	int r = 0;
	pthread_mutex_lock(&oms_map_lock);
	switch (advice) {
	case MADV_DONTNEED:
	case MADV_FREE:
	case MADV_DONTNEED_LOCKED:
		/* An error on the gaps (ENOMEM for an unmapped hole) is
		 * reported, but like the kernel we still act on the rest. */
		r = advise_gaps(a, b, advice);
		/* Punch each shared piece's part in place; only what cannot be
		 * punched (frozen by a fork, fd lost) is split and replaced. */
		for (size_t i = first_after(a); i < npieces && pieces[i].start < b;) {
			struct piece *p = &pieces[i];
			uintptr_t x = p->start > a ? p->start : a, y = p->end < b ? p->end : b;
			/* The kernel refuses locked memory (EINVAL): keep it. */
			int e = errno;
			if (oms_sys_madvise((void *)x, y - x, kadvice) < 0) {
				if (errno == EINVAL) {
					r = -1;
					break;
				}
				errno = e;
			}
			if (!(p->flags & P_FROZEN) && zero_fd(p, p->off + (x - p->start), y - x) == 0) {
				i++;
				continue;
			}
			if (!p->ar) { /* P_ANON: the kernel's DONTNEED zeroed it */
				i++;
				continue;
			}
			span(x, y, &lo, &hi); /* now pieces[lo] is exactly [x, y) */
			zero_piece(lo);
			i = lo + 1;
		}
		break;
	/* Kept in the table: a remap (fork, relocation) makes a new mapping,
	 * which would not carry them. */
	case MADV_DONTFORK:
	case MADV_DOFORK:
		if ((r = oms_sys_madvise(addr, len, advice)) == 0)
			mark(a, b, P_DONTFORK, advice == MADV_DONTFORK);
		break;
	case MADV_DONTDUMP:
	case MADV_DODUMP:
		if ((r = oms_sys_madvise(addr, len, advice)) == 0)
			mark(a, b, P_DONTDUMP, advice == MADV_DONTDUMP);
		break;
	case MADV_WIPEONFORK:
	case MADV_KEEPONFORK:
		/* The kernel allows these on private anonymous memory only;
		 * for ours the fork handler does the wiping. */
		if ((r = advise_gaps(a, b, advice)) == 0) {
			mark(a, b, P_WIPE, advice == MADV_WIPEONFORK);
			advise_anon(a, b, advice);
		}
		break;
	default:
		r = oms_sys_madvise(addr, len, advice);
	}
	pthread_mutex_unlock(&oms_map_lock);
	return r;
}

/* A piece that became anonymous memory at addr keeps the fork advice the
 * program gave (the kernel's own mremap keeps the VMA flags). */
static void keep_fork_advice(const struct piece *p, void *addr, size_t len)
{
	if (p->flags & P_DONTFORK)
		oms_sys_madvise(addr, len, MADV_DONTFORK);
	if (p->flags & P_WIPE)
		oms_sys_madvise(addr, len, MADV_WIPEONFORK);
	if (p->flags & P_DONTDUMP)
		oms_sys_madvise(addr, len, MADV_DONTDUMP);
}

/* Our pieces inside [a, b) become anonymous memory (see oms_big_demote). */
static int demote_pieces(uintptr_t a, uintptr_t b)
{
	size_t lo, hi;
	int n = 0;
	pthread_mutex_lock(&oms_map_lock);
	span(a, b, &lo, &hi);
	for (size_t i = hi; i-- > lo;) {
		struct piece *p = &pieces[i];
		if (oms_copy_to_anon((void *)p->start, p->end - p->start, p->prot) == 0) {
			keep_fork_advice(p, (void *)p->start, p->end - p->start);
			forget(p->start, p->end, 1); /* its file part is unmapped now */
			n++;
		}
	}
	pthread_mutex_unlock(&oms_map_lock);
	return n;
}

int oms_region_mprotect(void *addr, size_t len, int prot)
{
	int r = oms_sys_mprotect(addr, len, prot);
	if (r < 0 && errno == EACCES && (prot & PROT_EXEC)) {
		/* OOMSHIELD_DIR is mounted noexec: code (a JIT's) cannot live in
		 * our files.  Anonymous memory could take PROT_EXEC, so the
		 * range becomes anonymous memory and the call is retried. */
		uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(oms_page - 1);
		uintptr_t b = (uintptr_t)addr + page_up(len);
		int n = oms_live ? oms_big_demote(addr, len) : 0;
		if (__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
			n += demote_pieces(a, b);
		if (n) {
			errno = EACCES;
			r = oms_sys_mprotect(addr, len, prot);
		}
	}
	if (r == 0 && oms_live)
		oms_big_note_own(addr, len);
	if (r < 0 || !__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return r;
	size_t lo, hi;
	pthread_mutex_lock(&oms_map_lock);
	span((uintptr_t)addr, (uintptr_t)addr + page_up(len), &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		pieces[i].prot = prot;
	coalesce(lo, hi);
	pthread_mutex_unlock(&oms_map_lock);
	return r;
}

/* Copy a piece's bytes to offset o of arena a.  A shared piece's file is
 * authoritative: copy in the kernel.  A frozen piece's newest bytes are
 * private pages: copy through memory. */
static int copy_piece(struct piece *p, struct arena *a, uint64_t o)
{
	size_t len = p->end - p->start;
	if (!(p->flags & P_FROZEN) && arena_fd_ok(p->ar)) {
		loff_t in = (loff_t)p->off, out = (loff_t)o;
		for (size_t done = 0; done < len;) {
			ssize_t n = copy_file_range(p->ar->fd, &in, a->fd, &out, len - done, 0);
			if (n <= 0)
				goto by_memory;
			done += (size_t)n;
		}
		return 0;
	}
by_memory:
	if (!(p->prot & PROT_READ))
		return -1;
	char *dst = oms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, (off_t)o);
	if (dst == MAP_FAILED)
		return -1;
	memcpy(dst, (void *)p->start, len);
	oms_sys_munmap(dst, len);
	return 0;
}

/* Give the piece a fresh extent in the current arena with room to grow,
 * and swap the mapping in place. */
static int relocate(struct piece *p, uint64_t room)
{
	size_t len = p->end - p->start;
	/* A frozen piece's bytes were given back to the accounting at the
	 * fork; in a file of ours again, they count against OOMSHIELD_MAX. */
	int acct = !!(p->flags & P_FROZEN);
	if (acct && !oms_big_account(len)) {
		errno = ENOMEM;
		return -1;
	}
	struct arena *a = arena_current();
	if (!a) {
		if (acct)
			oms_big_unaccount(len);
		return -1;
	}
	uint64_t o = arena_alloc(a, room);
	if (oms_store_reserve(a->fd, o, len) < 0 || copy_piece(p, a, o) < 0)
		goto fail;
	if (oms_remap_over((void *)p->start, len, p->prot, MAP_SHARED, a->fd, (off_t)o) < 0)
		goto fail;
	/* A new mapping has fresh VMA flags: the program's MADV_DONTFORK must
	 * be given again, or a child would share this file with us. */
	if (p->flags & P_DONTFORK)
		oms_sys_madvise((void *)p->start, len, MADV_DONTFORK);
	redump(p);
	if (p->flags & P_FROZEN) {
		p->flags &= ~(P_FROZEN | P_ANON); /* the relative keeps the old file */
	} else {
		punch_fd(p->ar, p->off, len);
		arena_free(p->ar, p->off, len);
	}
	arena_unref(p->ar);
	a->refs++;
	/* Keep only what the piece uses; the rest goes back for the caller's
	 * arena_take to claim. */
	if (room > len)
		arena_free(a, o + len, room - len);
	p->ar = a;
	p->off = o;
	return 0;
fail:
	punch_fd(a, o, room);
	arena_free(a, o, room);
	if (acct)
		oms_big_unaccount(len);
	return -1;
}

/* The file cannot take the growth (OOMSHIELD_MAX, a full disk): the kernel
 * would have grown anonymous memory, so the piece becomes anonymous memory
 * at a new place, as MREMAP_MAYMOVE allows.  One copy; the file part is
 * released.  Under oms_map_lock; the caller counts the fallback after
 * unlocking (a log line must not be written under the lock). */
static void *grow_anon(size_t i, size_t nl)
{
	struct piece *p = &pieces[i];
	size_t ol = p->end - p->start;
	if (!(p->prot & PROT_READ)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	char *dst = oms_sys_mmap(NULL, nl, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return MAP_FAILED;
	memcpy(dst, (void *)p->start, ol);
	if (p->prot != (PROT_READ | PROT_WRITE))
		oms_sys_mprotect(dst, nl, p->prot);
	keep_fork_advice(p, dst, nl);
	uintptr_t a = p->start;
	oms_sys_munmap((void *)a, ol);
	forget(a, a + ol, 1);
	return dst;
}

/* [a, b) is whole in the table as frozen pieces (a fork's private views,
 * P_ANON parts a MADV_DONTNEED made), with one protection and the same
 * advice: one region to the program, several mappings to the kernel.
 * Copy it into one fresh extent (room bytes) and make that its only piece,
 * so that mremap can move or grow it: 0 and [*lo, *hi) the new piece.
 * If no extent can be had (OOMSHIELD_MAX, disk, descriptors, an unreadable
 * protection), one anonymous copy, out of the table: 1, and the kernel
 * does the rest.  -1 with nothing changed if it is not such a region. */
static int merge_frozen(uintptr_t a, uintptr_t b, uint64_t room, size_t *lo, size_t *hi)
{
	size_t i = first_after(a), j = i;
	if (i == npieces || pieces[i].start != a)
		return -1;
	for (; j < npieces && pieces[j].start < b; j++) {
		const struct piece *p = &pieces[j], *q = &pieces[i];
		if (!(p->flags & P_FROZEN) || p->prot != q->prot || p->snap ||
		    (p->flags & ~P_ANON) != (q->flags & ~P_ANON) ||
		    (j > i && pieces[j - 1].end != p->start))
			return -1;
	}
	if (pieces[j - 1].end != b)
		return -1;
	struct piece whole = pieces[i];
	whole.end = b;
	whole.ar = NULL;
	whole.flags = (whole.flags & ~P_ANON) | P_FROZEN; /* copied from memory */
	if (relocate(&whole, room) < 0) {
		if (oms_copy_to_anon((void *)a, b - a, whole.prot) < 0)
			return -1;
		keep_fork_advice(&whole, (void *)a, b - a);
		forget(a, b, 0);
		return 1;
	}
	forget(a, b, 0); /* the frozen pieces: bookkeeping only, all remapped */
	insert_piece(whole); /* cannot fail: forget freed at least two slots */
	span(a, b, lo, hi);
	return 0;
}

void *oms_region_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	if (!__atomic_load_n(&oms_map_pieces, __ATOMIC_ACQUIRE))
		return oms_sys_mremap(old, old_len, new_len, flags, new_addr);
	uintptr_t a = (uintptr_t)old, ol = page_up(old_len), nl = page_up(new_len);
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
	size_t i = first_after(a);
	int ours = i < npieces && pieces[i].start < a + (ol ? ol : 1);
	if (ours && !ol) {
		/* old_size 0 duplicates a shared mapping (an old_size that
		 * rounds up past the top wraps to 0 in the kernel too); on the
		 * private memory the program asked for, the kernel says EINVAL. */
		pthread_mutex_unlock(&oms_map_lock);
		errno = EINVAL;
		return MAP_FAILED;
	}
	if (!ours || nl < new_len) {
		void *r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
		if (r != MAP_FAILED && (flags & MREMAP_FIXED))
			forget((uintptr_t)r, (uintptr_t)r + nl, 1); /* target replaced */
		pthread_mutex_unlock(&oms_map_lock);
		return r;
	}
	void *r = MAP_FAILED;
	size_t lo, hi;
	span(a, a + ol, &lo, &hi);
	if (hi - lo != 1 || pieces[lo].start != a || pieces[lo].end != a + ol) {
		int m = merge_frozen(a, a + ol, nl > ol ? nl : ol, &lo, &hi);
		if (m < 0) {
			/* Spans several of our pieces (or a hole): the kernel
			 * cannot resize across mappings of different files or
			 * offsets, and neither could it here for merged
			 * anonymous memory we never saw. */
			errno = EFAULT;
			goto out;
		}
		if (m > 0) { /* plain anonymous memory now: the kernel's */
			r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
			if (r != MAP_FAILED)
				forget((uintptr_t)r, (uintptr_t)r + nl, 1);
			goto out;
		}
	}
	struct piece *p = &pieces[lo];
	if (!p->ar) {
		/* P_ANON: plain anonymous memory; the kernel resizes it, and
		 * what it leaves behind (DONTUNMAP) is anonymous too. */
		r = oms_sys_mremap(old, old_len, new_len, flags, new_addr);
		if (r != MAP_FAILED) {
			struct piece moved = *p;
			delete_piece(lo);
			forget((uintptr_t)r, (uintptr_t)r + nl, 1);
			moved.start = (uintptr_t)r;
			moved.end = (uintptr_t)r + nl;
			insert_piece(moved);
		}
		goto out;
	}
	if (nl > ol) {
		uint64_t delta = nl - ol;
		int ok = !(p->flags & P_FROZEN) && p->ar == cur && arena_fd_ok(p->ar) &&
			 arena_take(p->ar, p->off + ol, delta) == 0;
		if (!ok) {
			if (relocate(p, nl) < 0 || arena_take(p->ar, p->off + ol, delta) < 0) {
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
		int max = !oms_big_account(delta);
		if (max || oms_store_reserve(p->ar->fd, p->off + ol, delta) < 0) {
			int e = max ? 0 : errno;
			punch_fd(p->ar, p->off + ol, delta);
			arena_free(p->ar, p->off + ol, delta);
			if (!max)
				oms_big_unaccount(delta);
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
	p = &pieces[lo];
	if (r == MAP_FAILED) {
		if (nl > ol) {
			punch_fd(p->ar, p->off + ol, nl - ol);
			arena_free(p->ar, p->off + ol, nl - ol);
			oms_big_unaccount(nl - ol);
		}
		goto out;
	}
	struct piece moved = *p;
	if (nl < ol && !(p->flags & P_FROZEN)) {
		punch_fd(p->ar, p->off + nl, ol - nl);
		arena_free(p->ar, p->off + nl, ol - nl);
		oms_big_unaccount(ol - nl);
	}
	delete_piece(lo);
	forget((uintptr_t)r, (uintptr_t)r + nl, 1); /* MREMAP_FIXED replaced these */
	moved.start = (uintptr_t)r;
	moved.end = (uintptr_t)r + nl;
	insert_piece(moved);
	if (flags & MREMAP_DONTUNMAP) {
		/* The kernel leaves the old range mapped to the same file
		 * extent; private memory would be left empty.  Fresh anonymous
		 * memory there (or, failing that, none) so that it never
		 * aliases the moved data. */
		int e = errno;
		if (oms_sys_mmap(old, ol, moved.prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			oms_sys_munmap(old, ol);
		keep_fork_advice(&moved, old, ol);
		errno = e;
	}
out:
	pthread_mutex_unlock(&oms_map_lock);
	if (fb && r != MAP_FAILED)
		oms_stats_fallback(fb_cause, fb_err, nl);
	if (r != MAP_FAILED)
		errno = e0; /* a success leaves errno as it was */
	return r;
}

size_t oms_region_ranges(struct oms_range *out, size_t cap)
{
	size_t n = 0;
	pthread_mutex_lock(&oms_map_lock);
	for (size_t i = 0; i < npieces && n < cap; i++)
		out[n++] = (struct oms_range){(void *)pieces[i].start, pieces[i].end - pieces[i].start};
	pthread_mutex_unlock(&oms_map_lock);
	return n;
}

/* ---- fork: private copies for the child (see big.c for the why) ---- */

void oms_region_fork_prepare(void)
{
	pthread_mutex_lock(&oms_map_lock);
	if (!npieces)
		return;
	if (cur && !oms_no_reflink && arena_fd_ok(cur) && cur->refs) {
		int fd = oms_os.open_tmpfile(oms_cfg.dir);
		if (fd >= 0 && oms_os.ficlone(fd, cur->fd) == 0) {
			cur_clone = fd;
			oms_stats.forks_reflink++;
		} else {
			if (fd >= 0)
				oms_os.close(fd);
			oms_no_reflink = 1;
		}
	}
	for (size_t i = 0; i < npieces; i++) {
		struct piece *p = &pieces[i];
		if ((p->flags & (P_FROZEN | P_DONTFORK)) || (p->ar == cur && cur_clone >= 0))
			continue;
		size_t len = p->end - p->start;
		if (arena_fd_ok(p->ar) &&
		    oms_remap_over((void *)p->start, len, p->prot, MAP_PRIVATE, p->ar->fd,
				   (off_t)p->off) == 0) {
			redump(p);
			p->flags |= P_FROZEN;
			oms_big_unaccount(len);
			p->ar->retired = 1;
			continue;
		}
		/* No fd to remap from: snapshot through memory. */
		p->snap = oms_sys_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
		if (p->snap == MAP_FAILED)
			p->snap = NULL;
		else if (p->prot & PROT_READ)
			memcpy(p->snap, (void *)p->start, len);
	}
	if (cur && cur->retired)
		oms_stats.forks_cow++;
}

static void after_fork(int child)
{
	int parent_fd = -1;
	if (child && cur_clone >= 0) {
		/* The child's pieces of cur live in the clone from here on.  Swap
		 * before the loop, so that a wipe below punches the child's copy
		 * and never the parent's file. */
		struct stat st;
		parent_fd = arena_fd_ok(cur) ? cur->fd : -1;
		oms_os.fstat(cur_clone, &st);
		cur->fd = cur_clone;
		cur->dev = st.st_dev;
		cur->ino = st.st_ino;
	}
	for (size_t i = npieces; i-- > 0;) {
		struct piece *p = &pieces[i];
		size_t len = p->end - p->start;
		if (child && (p->flags & P_DONTFORK)) {
			arena_unref(p->ar); /* the child never had it */
			delete_piece(i);
			continue;
		}
		if (child && p->ar == cur && cur_clone >= 0 &&
		    oms_remap_over((void *)p->start, len, p->prot, MAP_SHARED, cur_clone,
				   (off_t)p->off) == 0)
			redump(p);
		if (p->snap) {
			if (child)
				oms_sys_mremap(p->snap, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					       (void *)p->start);
			else
				oms_sys_munmap(p->snap, len);
			p->snap = NULL;
			if (child) { /* now plain anonymous memory */
				redump(p);
				oms_big_unaccount(len);
				arena_unref(p->ar);
				delete_piece(i);
				continue;
			}
		}
		if (child && (p->flags & P_WIPE))
			zero_piece(i); /* and it stays WIPEONFORK, as the kernel's does */
	}
	if (cur_clone >= 0) {
		if (child && parent_fd >= 0)
			oms_os.close(parent_fd);
		else if (!child)
			oms_os.close(cur_clone);
		cur_clone = -1;
	}
}

void oms_region_fork_parent(void)
{
	if (npieces)
		after_fork(0);
	pthread_mutex_unlock(&oms_map_lock);
}

void oms_region_fork_child(void)
{
	/* Without a reflinked copy the child holds the parent's arena file
	 * through the same open file description, with its own copy of the
	 * free-extent list: both would hand out the same offsets.  The child
	 * never allocates from it (its inherited pieces are frozen or gone). */
	if (cur && cur_clone < 0)
		cur->retired = 1;
	if (npieces)
		after_fork(1);
	for (int i = 0; i < MAX_ARENAS; i++) {
		struct arena *a = &arenas[i];
		if (a->refs == 0 && a->fd > 0) { /* nothing of the child's in it */
			if (arena_fd_ok(a))
				oms_os.close(a->fd);
			a->fd = 0;
		}
	}
	if (cur && cur->fd <= 0)
		cur = NULL;
	pthread_mutex_unlock(&oms_map_lock);
}
