/* big.c - large blocks in unlinked files (see big.h).
 *
 * Invariants
 * - A live block is registered (block.h) and on the live list; its mapping
 *   [addr, addr+cap) is MAP_SHARED of its own file, whose size is cap and
 *   whose blocks are all reserved - unless FROZEN (MAP_PRIVATE of its file:
 *   after a fork, or after a MADV_DONTNEED whose range could not stay
 *   reserved) or fd < 0 with no file at all (a fork snapshot in anonymous
 *   memory).  So a write through a shared mapping never needs a disk block
 *   that is not already reserved: no SIGBUS on a full disk.
 * - The capacity of every block in a file is taken from the budget
 *   (budget.h) before the file is made or grown, and given back when the
 *   file or that part of it goes.
 * - Syscalls run outside oms_lock, except in resize (the caller owns the
 *   block; holding the lock keeps fork from seeing a half-moved block),
 *   in MADV_DONTNEED of a block, and in the fork handlers.
 *
 * Fork (why it is done this way): a MAP_SHARED mapping is shared with the
 * child, which would break private-memory semantics.  The child must see
 * the memory as it was at fork and no later write of the parent.  Prepare
 * remaps each block MAP_PRIVATE over the same file: parent and child then
 * share a frozen file copy-on-write, exactly like anonymous memory after
 * fork, with no copy, so fork+exec costs one mmap per block.  Pages written
 * after the fork become anonymous; realloc of a frozen block moves it into
 * a fresh file.  A block whose fd the program closed is snapshotted to
 * anonymous memory.
 * Reflink (FICLONE, XFS and Btrfs) was used here until issue 20: both files
 * then share extents, every later write needs a fresh disk block that
 * nothing has reserved, and a full disk raised SIGBUS in the parent.
 */
#include "big.h"
#include "advise.h"
#include "budget.h"
#include "cache.h"
#include "config.h"
#include "ticker.h"
#include "huge.h"
#include "log.h"
#include "os.h"
#include "stats.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t round_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* Exactly `len` bytes of PROT_NONE address space at an `align` boundary.
 * Reserving first means nobody else can be handed the range while we fill
 * it, and no MAP_FIXED of ours ever lands on someone else's memory. */
static char *reserve_aligned(size_t len, size_t align)
{
	size_t span = len + align - oms_page;
	if (span < len)
		return NULL;
	char *r = oms_os.mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			      -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	char *a = (char *)round_up((size_t)r, align);
	if (a > r)
		oms_os.munmap(r, (size_t)(a - r));
	if (r + span > a + len)
		oms_os.munmap(a + len, (size_t)(r + span - (a + len)));
	return a;
}

/* A block from the cache of freed blocks (cache.h), or NULL. */
static void *from_cache(size_t size, size_t cap, int zero)
{
	struct oms_cache_out out = {.n = 0};
	struct oms_cached c;
	struct oms_block *b = NULL;
	uint64_t now = oms_os.now_ms();
	pthread_mutex_lock(&oms_lock);
	int hit = oms_cache_take(cap, now, &c, &out);
	if (hit && (b = oms_block_new())) {
		b->addr = c.addr;
		b->cap = c.cap;
		b->size = size;
		b->fd = c.fd;
		b->dev = c.dev;
		b->ino = c.ino;
		b->prot = PROT_READ | PROT_WRITE;
		b->flags = c.huge ? OMS_BLK_HUGE : 0;
		if (oms_block_register(b) < 0) {
			oms_block_free(b);
			b = NULL;
		} else {
			__atomic_fetch_add(&oms_stats.blocks, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&oms_stats.bytes, size, __ATOMIC_RELAXED);
		}
	}
	if (hit && !b)
		out.e[out.n++] = c;
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
	if (!b)
		return NULL;
	oms_advise_new(b->addr, b->cap, c.advice);
	if (zero)
		memset(b->addr, 0, size);
	return b->addr;
}

/* Give every cached block back; the number given back. */
static int flush_cache(void)
{
	struct oms_cache_out out = {.n = 0};
	pthread_mutex_lock(&oms_lock);
	oms_cache_flush(&out);
	pthread_mutex_unlock(&oms_lock);
	int n = out.n;
	oms_cache_release(&out);
	return n;
}

static void *alloc_new(size_t size, size_t cap, size_t align, enum oms_cause *cause, int *err);

void *oms_big_alloc(size_t size, size_t align, int zero)
{
	oms_ticker_poke();
	if (!oms_cfg.dir_ok) {
		oms_stats_count(OMS_CAUSE_NODIR); /* config.c said why, once */
		return NULL;
	}
	if (size > (size_t)PTRDIFF_MAX - OMS_GRANULE)
		return NULL; /* glibc refuses it too; rounded up, no off_t holds it */
	size_t cap = round_up(size ? size : 1, oms_page);
	if (align <= OMS_GRANULE && oms_cfg.cache) {
		void *p = from_cache(size, cap, zero);
		if (p)
			return p;
	}
	if (align < OMS_GRANULE)
		align = OMS_GRANULE;
	size_t huge = oms_huge_align(cap); /* a PMD when it gets large folios */
	if (align < huge)
		align = huge;
	enum oms_cause cause;
	int err;
	void *p = alloc_new(size, cap, align, &cause, &err);
	/* Cached blocks hold what a new block may lack: OOMSHIELD_MAX bytes,
	 * disk, descriptors, address space (RLIMIT_AS, 32 bits).  Give them
	 * back and try once more; failing, the fallback to the next
	 * allocator finds the address space free too. */
	if (!p && flush_cache())
		p = alloc_new(size, cap, align, &cause, &err);
	if (!p)
		oms_stats_fallback(cause, err, size);
	return p;
}

static void *alloc_new(size_t size, size_t cap, size_t align, enum oms_cause *causep, int *errp)
{
	if (!oms_budget_take(cap)) {
		*causep = OMS_CAUSE_MAX;
		*errp = 0;
		return NULL;
	}
	struct oms_block tmp = {.fd = -1};
	char *addr = NULL;
	enum oms_cause cause;
	int err;
	if (oms_store_create(&tmp, cap) < 0) {
		err = errno;
		cause = oms_cause_of(err);
		goto fail;
	}
	addr = reserve_aligned(cap, align);
	if (!addr || oms_os.mmap(addr, cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
				 tmp.fd, 0) == MAP_FAILED) {
		err = errno;
		cause = OMS_CAUSE_MAP;
		goto fail;
	}
	/* Before the block is listed: a give-up that lists it later undoes
	 * this; one that began before is seen below, under the lock. */
	int advised = oms_huge_align(cap) && oms_huge_advise(addr, cap), late = 0;
	pthread_mutex_lock(&oms_lock);
	struct oms_block *b = oms_block_new();
	if (b) {
		b->addr = addr;
		b->cap = cap;
		b->size = size;
		b->fd = tmp.fd;
		b->dev = tmp.dev;
		b->ino = tmp.ino;
		b->prot = PROT_READ | PROT_WRITE;
		if (oms_block_register(b) < 0) {
			oms_block_free(b);
			b = NULL;
		}
	}
	if (b) {
		__atomic_fetch_add(&oms_stats.blocks, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&oms_stats.bytes, size, __ATOMIC_RELAXED);
		if (advised && oms_huge_align(cap))
			b->flags |= OMS_BLK_HUGE;
		else
			late = advised; /* given up meanwhile */
	}
	pthread_mutex_unlock(&oms_lock);
	if (b) {
		if (late)
			oms_huge_undo(addr, cap);
		oms_advise_new(addr, cap, MADV_NORMAL);
		return addr;
	}
	err = ENOMEM;
	cause = OMS_CAUSE_MAP;
fail:
	if (addr)
		oms_os.munmap(addr, cap);
	if (tmp.fd >= 0)
		oms_os.close(tmp.fd);
	oms_budget_give(cap);
	*causep = cause;
	*errp = err;
	return NULL;
}

static int lock_future; /* MCL_FUTURE seen; read and written under oms_lock */

void oms_big_free(struct oms_block *b)
{
	oms_ticker_poke();
	struct oms_cache_out out = {.n = 0};
	uint64_t now = oms_cfg.cache ? oms_os.now_ms() : 0;
	int kept = 0;
	pthread_mutex_lock(&oms_lock);
	/* Decided under the lock: a fork may freeze the block until then. */
	int cacheable = oms_cfg.cache && b->dev && b->fd >= 0 && !lock_future &&
			!(b->flags & (OMS_BLK_FROZEN | OMS_BLK_NOCACHE | OMS_BLK_OWNTHP));
	/* Large folios given up: never reuse a block that may still hold them. */
	if ((b->flags & (OMS_BLK_HUGE | OMS_BLK_WASHUGE)) && !oms_huge_on())
		cacheable = 0;
	struct oms_block copy = *b;
	oms_block_unregister(b);
	if (cacheable) {
		/* The advice last given to every live mapping (apply() in
		 * advise.c) is the current mode: record it, so that reuse
		 * needs no madvise while the mode stays. */
		struct oms_cached c = {b->addr, b->cap, b->fd, b->dev, b->ino, 0,
				       __atomic_load_n(&oms_advise_mode, __ATOMIC_RELAXED),
				       !!(b->flags & OMS_BLK_HUGE)};
		kept = oms_cache_put(&c, now, &out);
	}
	if (!kept && b->dev) /* still in a file, not a fork snapshot */
		oms_budget_give(b->cap);
	oms_block_free(b);
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
	if (kept)
		return;
	/* Unmapping the last mapping and closing the last fd frees the disk. */
	oms_os.munmap(copy.addr, copy.cap);
	oms_store_close(&copy);
}

static void flag_range(const void *addr, size_t len, int flag)
{
	uintptr_t a = (uintptr_t)addr, z = a + len;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next)
		if ((uintptr_t)b->addr < z && a < (uintptr_t)b->addr + b->cap)
			b->flags |= flag;
	pthread_mutex_unlock(&oms_lock);
}

void oms_big_cache_tick(void)
{
	if (!oms_cfg.cache)
		return;
	struct oms_cache_out out = {.n = 0};
	uint64_t now = oms_os.now_ms();
	pthread_mutex_lock(&oms_lock);
	oms_cache_decay(now, &out);
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
}

void oms_big_note_dump(const void *addr, size_t len, int on)
{
	if (on) {
		flag_range(addr, len, OMS_BLK_DONTDUMP | OMS_BLK_NOCACHE);
		return;
	}
	/* DODUMP over the whole block takes the mark off; over a part, the
	 * rest may still be DONTDUMP: keep it. */
	uintptr_t a = (uintptr_t)addr, z = a + len;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next)
		if (a <= (uintptr_t)b->addr && (uintptr_t)b->addr + b->cap <= z)
			b->flags &= ~OMS_BLK_DONTDUMP;
	pthread_mutex_unlock(&oms_lock);
}

int oms_big_overlaps(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, z = a + len;
	int hit = 0;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b && !hit; b = b->next)
		hit = (uintptr_t)b->addr < z && a < (uintptr_t)b->addr + b->cap;
	pthread_mutex_unlock(&oms_lock);
	return hit;
}

void oms_big_note_own(const void *addr, size_t len)
{
	flag_range(addr, len, OMS_BLK_NOCACHE);
}

void oms_big_note_lockall(int flags)
{
	pthread_mutex_lock(&oms_lock);
	if (flags & MCL_FUTURE)
		lock_future = 1;
	pthread_mutex_unlock(&oms_lock);
	if (flags & MCL_CURRENT)
		flag_range(NULL, SIZE_MAX, OMS_BLK_NOCACHE);
}

void oms_big_note_thp(const void *addr, size_t len)
{
	flag_range(addr, len, OMS_BLK_OWNTHP);
}

static int remap_over(struct oms_block *b, int flags, int fd);

int oms_big_zero_range(const void *addr, size_t len, int kadvice)
{
	uintptr_t a = (uintptr_t)addr, z = a + len;
	int hit = 0, e0 = errno;
	/* Syscalls under oms_lock, as in realloc: the program names its own
	 * block, and the lock keeps the fd from being closed and reused by
	 * another thread's free meanwhile. */
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next) {
		uintptr_t s = (uintptr_t)b->addr, e = s + b->cap;
		if (s < a)
			s = a;
		if (e > z)
			e = z;
		if (s >= e)
			continue;
		/* The kernel says whether the range may be dropped at all
		 * (EINVAL for locked memory: the data must stay). */
		if (oms_os.madvise((void *)s, e - s, kadvice) < 0 && errno == EINVAL)
			continue;
		hit = 1;
		if (!(b->flags & OMS_BLK_FROZEN) &&
		    oms_store_zero(b, s - (uintptr_t)b->addr, e - s) == 0)
			continue;
		/* Frozen by a fork (the file is a relative's too), fd lost, or
		 * the range could not stay reserved (a full disk, a filesystem
		 * without ZERO_RANGE): fresh anonymous pages are the only zero
		 * we may give.  A block still shared is frozen first - a
		 * private view of its own file, which sees every write made so
		 * far, so no copy and no write lost - so that it never mixes
		 * shared file pages and anonymous ones: fork, realloc and the
		 * cache all know a frozen block. */
		if (!(b->flags & OMS_BLK_FROZEN) && oms_store_fd_ok(b) &&
		    remap_over(b, MAP_PRIVATE, b->fd) == 0)
			b->flags |= OMS_BLK_FROZEN;
		if (oms_os.mmap((void *)s, e - s, b->prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				0) != MAP_FAILED)
			b->flags |= OMS_BLK_HOLES;
	}
	pthread_mutex_unlock(&oms_lock);
	errno = e0;
	return hit;
}

int oms_big_demote(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, z = a + len;
	int n = 0;
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next) {
		uintptr_t s = (uintptr_t)b->addr;
		/* Only a block the call covers whole: copying more than the
		 * program named would throw away other threads' writes to the
		 * rest made during the copy.  A block the program has
		 * mprotect'ed before may hold guard pages we cannot see: it is
		 * left alone too. */
		if (!b->dev || (b->flags & OMS_BLK_NOCACHE) || s < a || s + b->cap > z)
			continue;
		if (oms_os_copy_to_anon(b->addr, b->cap, b->prot) < 0)
			continue;
		/* From here the block is what a fork snapshot leaves: anonymous
		 * (dev 0), never cached, freed with a plain munmap. */
		oms_store_close(b);
		b->flags = (b->flags & ~OMS_BLK_FROZEN) | OMS_BLK_NOCACHE;
		if (b->dev)
			oms_budget_give(b->cap);
		b->dev = 0;
		b->ino = 0;
		n++;
	}
	pthread_mutex_unlock(&oms_lock);
	return n;
}

/* Move the mapping to a fresh granule-aligned range of new_cap bytes (PMD-
 * aligned where it gets large folios); the kernel moves page tables,
 * nothing is copied. */
static char *move_mapping(struct oms_block *b, size_t new_cap)
{
	size_t huge = oms_huge_align(new_cap);
	char *dst = reserve_aligned(new_cap, huge > OMS_GRANULE ? huge : OMS_GRANULE);
	if (!dst)
		return NULL;
	char *p = oms_os.mremap(b->addr, b->cap, new_cap, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (p == MAP_FAILED) {
		oms_os.munmap(dst, new_cap);
		return NULL;
	}
	return p;
}

/* Grow or shrink b's own file and mapping; caller holds oms_lock. */
static void *resize_locked(struct oms_block *b, size_t size)
{
	size_t cap = b->cap;
	if (size <= cap) {
		size_t want = round_up(size, oms_page);
		/* Keep slack unless more than half would be wasted. */
		if (want >= cap / 2 || (b->flags & OMS_BLK_FROZEN) || b->fd < 0) {
			b->size = size;
			return b->addr;
		}
		if (oms_os.mremap(b->addr, cap, want, 0, NULL) == MAP_FAILED)
			return b->addr; /* cannot shrink: keeping it is still correct */
		oms_store_shrink(b, want);
		b->cap = want;
		b->size = size;
		oms_budget_give(cap - want);
		return b->addr;
	}
	if ((b->flags & OMS_BLK_FROZEN) || !oms_store_fd_ok(b))
		return NULL;
	/* Grow geometrically so that a buffer grown in small steps costs
	 * O(log n) file extensions and moves, not O(n). */
	size_t new_cap = round_up(size, oms_page);
	size_t geo = cap + cap / 8;
	if (geo > new_cap && geo > cap)
		new_cap = round_up(geo, oms_page);
	if (new_cap < size)
		return NULL;
	size_t extra = new_cap - cap;
	if (!oms_budget_take(extra))
		return NULL;
	if (oms_store_grow(b, cap, new_cap) < 0) {
		/* A fallocate that ran out part-way has already moved EOF: give
		 * back what it got, so the file stays exactly cap bytes. */
		int e = errno;
		oms_store_shrink(b, cap);
		oms_budget_give(extra);
		errno = e;
		return NULL;
	}
	/* With large folios on, a block growing past a PMD moves to a PMD
	 * boundary rather than grow where it is: off one, none of its pages
	 * could be mapped 2 MiB at a time. */
	size_t huge = b->flags & OMS_BLK_OWNTHP ? 0 : oms_huge_align(new_cap);
	char *p = huge && ((uintptr_t)b->addr & (huge - 1))
			  ? MAP_FAILED
			  : oms_os.mremap(b->addr, cap, new_cap, 0, NULL);
	if (p == MAP_FAILED) {
		p = move_mapping(b, new_cap);
		if (!p) {
			oms_store_shrink(b, cap);
			oms_budget_give(extra);
			return NULL;
		}
		oms_block_unregister(b);
		b->addr = p;
		if (oms_block_register(b) < 0) {
			/* Cannot happen: the leaf for any address we were given
			 * exists or is made from fresh pages. Keep going unlisted. */
		}
	}
	b->cap = new_cap;
	b->size = size;
	/* A block that grew past a PMD, or moved to a PMD boundary: its new
	 * pages may come in large folios (those it has keep their size).
	 * Under oms_lock, so that a give-up, which lists blocks under it,
	 * comes wholly before or after. */
	if (huge && oms_huge_advise(b->addr, new_cap))
		b->flags |= OMS_BLK_HUGE;
	return b->addr;
}

void *oms_big_resize(struct oms_block *b, size_t size)
{
	pthread_mutex_lock(&oms_lock);
	void *p = resize_locked(b, size);
	pthread_mutex_unlock(&oms_lock);
	if (p)
		return p;
	/* Move into a new file; the old block is untouched until the copy is
	 * complete. */
	void *n = oms_big_alloc(size, OMS_GRANULE, 0);
	if (!n)
		return NULL;
	memcpy(n, b->addr, b->cap < size ? b->cap : size);
	oms_big_free(b);
	return n;
}

/* A block the program has mprotect'ed (OMS_BLK_NOCACHE) may hold ranges of
 * other protections - guard pages, a frozen table - that a remap at fork
 * would reset to b->prot.  They are read back from the kernel's own view,
 * /proc/self/maps (the process's, not a system file: not under
 * OOMSHIELD_PROC_ROOT), and given again after the remap. */
#define MAX_PROTS 64
struct prots {
	int n; /* -1: unknown (unreadable, or more ranges than fit) */
	struct { uintptr_t a, z; int prot; } r[MAX_PROTS];
};

static int parse_prot(const char *perm)
{
	return (perm[0] == 'r' ? PROT_READ : 0) | (perm[1] == 'w' ? PROT_WRITE : 0) |
	       (perm[2] == 'x' ? PROT_EXEC : 0);
}

static void read_prots(const struct oms_block *b, struct prots *out)
{
	uintptr_t a = (uintptr_t)b->addr, z = a + b->cap;
	char buf[4096];
	size_t have = 0;
	int done = 0;
	out->n = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		out->n = -1;
		return;
	}
	while (!done) {
		ssize_t r = read(fd, buf + have, sizeof buf - have - 1);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		char *line = buf, *nl;
		while (!done && (nl = strchr(line, '\n'))) {
			*nl = '\0';
			char *e;
			uintptr_t lo = (uintptr_t)strtoull(line, &e, 16), hi;
			if (*e == '-' && (hi = (uintptr_t)strtoull(e + 1, &e, 16), *e == ' ') &&
			    hi > a && lo < z) {
				if (out->n == MAX_PROTS) {
					out->n = -1;
					done = 1;
					break;
				}
				out->r[out->n].a = lo > a ? lo : a;
				out->r[out->n].z = hi < z ? hi : z;
				out->r[out->n++].prot = parse_prot(e + 1);
			} else if (*e == '-' && lo >= z) {
				done = 1; /* the file is sorted by address */
			}
			line = nl + 1;
		}
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have >= sizeof buf - 1) /* a line longer than the buffer: a path */
			have = 0;
	}
	close(fd);
}

/* Give back the protections a remap reset to `now`. */
static void apply_prots(const struct prots *p, int now)
{
	for (int i = 0; i < p->n; i++)
		if (p->r[i].prot != now)
			oms_os.mprotect((void *)p->r[i].a, p->r[i].z - p->r[i].a, p->r[i].prot);
}

static int remap_over(struct oms_block *b, int flags, int fd)
{
	struct prots p = {.n = 0};
	if (b->flags & OMS_BLK_NOCACHE)
		read_prots(b, &p);
	if (oms_os_remap_over(b->addr, b->cap, b->prot, flags, fd, 0) < 0)
		return -1;
	apply_prots(&p, b->prot);
	if (b->flags & OMS_BLK_DONTDUMP) /* a new mapping: flags are not carried */
		oms_os.madvise(b->addr, b->cap, MADV_DONTDUMP);
	return 0;
}

/* An anonymous copy of b, for a child when b's fd is lost.  Ranges the
 * program made unreadable are opened for the copy and closed again. */
static void *snapshot(struct oms_block *b)
{
	char *s = oms_os.mmap(NULL, b->cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	struct prots p = {.n = 0};
	if (b->flags & OMS_BLK_NOCACHE)
		read_prots(b, &p);
	/* Layout unknown (more ranges than fit): protections are left as they
	 * are - changing them while the program's other threads run could
	 * fault those threads - and the copy is made as before. */
	for (int i = 0; i < p.n; i++)
		if (!(p.r[i].prot & PROT_READ))
			oms_os.mprotect((void *)p.r[i].a, p.r[i].z - p.r[i].a, PROT_READ);
	memcpy(s, b->addr, b->cap);
	apply_prots(&p, -1);
	return s;
}

void oms_big_fork_prepare(void)
{
	pthread_mutex_lock(&oms_lock);
	for (struct oms_block *b = oms_live; b; b = b->next) {
		if ((b->flags & OMS_BLK_FROZEN) || !b->dev)
			continue; /* already copy-on-write, or anonymous (dev 0) */
		if (oms_store_fd_ok(b) && remap_over(b, MAP_PRIVATE, b->fd) == 0) {
			b->flags |= OMS_BLK_FROZEN | OMS_BLK_FORKED;
			__atomic_fetch_add(&oms_stats.forks_cow, 1, __ATOMIC_RELAXED);
			continue;
		}
		b->snap = snapshot(b);
	}
}

void oms_big_fork_parent(void)
{
	for (struct oms_block *b = oms_live; b; b = b->next) {
		if (b->snap)
			oms_os.munmap(b->snap, b->cap);
		b->snap = NULL;
	}
	pthread_mutex_unlock(&oms_lock);
}

void oms_big_fork_child(void)
{
	static int warned;
	/* Cached blocks are still shared with the parent: not ours to reuse. */
	struct oms_cache_out out = {.n = 0};
	oms_cache_flush(&out);
	for (struct oms_block *b = oms_live; b; b = b->next) {
		/* A frozen block's file is the parent's too: it goes back
		 * (forkback.c) only when no other process shares the canary. */
		if (b->snap) {
			struct prots p = {.n = 0};
			if (b->flags & OMS_BLK_NOCACHE)
				read_prots(b, &p);
			if (oms_os.mremap(b->snap, b->cap, b->cap, MREMAP_MAYMOVE | MREMAP_FIXED,
					  b->addr) == MAP_FAILED) {
				oms_log_once(&warned, OMS_LOG_ERROR,
					     "fork: cannot give the child a private copy of %p", b->addr);
				oms_os.munmap(b->snap, b->cap);
			} else {
				/* The copy is read-write; the program's protections
				 * come back, or b->prot when they are unknown. */
				if (p.n >= 0)
					apply_prots(&p, PROT_READ | PROT_WRITE);
				else if (b->prot != (PROT_READ | PROT_WRITE))
					oms_os.mprotect(b->addr, b->cap, b->prot);
				oms_store_close(b);
				oms_budget_give(b->cap);
				b->dev = 0;
				b->ino = 0;
			}
			b->snap = NULL;
		}
	}
	pthread_mutex_unlock(&oms_lock);
	oms_cache_release(&out);
}

/* One frozen block shared again, every write kept; 0 or -1 (unchanged). */
static int unfreeze(struct oms_block *b)
{
	if (!oms_store_fd_ok(b))
		return -1;
	/* Ranges the program made unreadable are opened for the copy; the
	 * remap resets every range to b->prot, and apply_prots gives the
	 * program's back.  No other program thread runs (forkback.c), so
	 * no one sees the change. */
	struct prots p = {.n = 0};
	if (b->flags & OMS_BLK_NOCACHE) {
		read_prots(b, &p);
		if (p.n < 0)
			return -1;
	} else if (!(b->prot & PROT_READ)) {
		return -1;
	}
	for (int i = 0; i < p.n; i++)
		if (!(p.r[i].prot & PROT_READ))
			oms_os.mprotect((void *)p.r[i].a, p.r[i].z - p.r[i].a, p.r[i].prot | PROT_READ);
	if (oms_os_flush_private(b->addr, b->cap, b->fd, 0) < 0 ||
	    oms_os_remap_over(b->addr, b->cap, b->prot, MAP_SHARED, b->fd, 0) < 0) {
		apply_prots(&p, -1); /* still the frozen view: as it was */
		return -1;
	}
	apply_prots(&p, b->prot);
	if (b->flags & OMS_BLK_DONTDUMP)
		oms_os.madvise(b->addr, b->cap, MADV_DONTDUMP);
	if (b->flags & OMS_BLK_HUGE)
		oms_huge_advise(b->addr, b->cap);
	oms_advise_new(b->addr, b->cap, MADV_NORMAL); /* a fresh mapping's */
	b->flags &= ~(OMS_BLK_FROZEN | OMS_BLK_FORKED);
	return 0;
}

int oms_big_fork_back(int *failed)
{
	*failed = 0;
	if (pthread_mutex_trylock(&oms_lock))
		return -1; /* this thread is inside the shim (a signal handler's wait) */
	int n = 0;
	for (struct oms_block *b = oms_live; b; b = b->next) {
		if ((b->flags & (OMS_BLK_FROZEN | OMS_BLK_FORKED)) != (OMS_BLK_FROZEN | OMS_BLK_FORKED))
			continue;
		/* A block with anonymous holes (MADV_DONTNEED while frozen) or
		 * whose fd the program took: frozen for good, as before. */
		if (!(b->flags & OMS_BLK_HOLES) && b->dev && unfreeze(b) == 0) {
			n++;
			continue;
		}
		b->flags &= ~OMS_BLK_FORKED;
		(*failed)++;
	}
	pthread_mutex_unlock(&oms_lock);
	return n;
}
