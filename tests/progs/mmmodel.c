/* mmmodel.c - randomized model check of the mmap family.
 *
 *   mmmodel SEED NOPS        random run: a seeded PRNG picks NOPS operations
 *   mmmodel replay FILE      run the operations of a transcript (or of a
 *                            hand-cut part of one) again, to reduce a failure
 *
 * All memory under test lives in one window of NP pages that the program
 * places far below the kernel's mmap base, so that nothing else is ever
 * placed in its holes: MAP_FIXED overlays and MREMAP_FIXED moves stay in
 * memory the program owns.  A model keeps every page of the window: mapped
 * or not, protection, expected content (a tag, zero, or "the old tag or
 * zero" after MADV_FREE), fork advice, and what is needed to know where the
 * kernel's VMA boundaries certainly are (segment, offset, VM_ACCOUNT).
 * Each operation's result and errno are predicted from the model and
 * compared; after each one, /proc/self/maps (mapped, r, w per page) and the
 * content of every readable page are checked.  fork checks the child's view
 * (DONTFORK pages gone, WIPEONFORK pages zero, the parent's later writes
 * invisible) and that the child's writes stay invisible to the parent.
 *
 * Only operations whose outcome the kernel fixes are made.  The kernel may
 * or may not merge two adjacent mappings of different origin; a resize or
 * a move whose result depends on that is never generated (and is skipped in
 * a replay).  Kernel rules kept (mm/mremap.c): a shrink unmaps the tail
 * across any number of VMAs and holes; growing or moving needs the kept
 * part inside one VMA (EFAULT); growth in place needs the range to end at
 * its VMA's end and free space after it; Linux 6.17 and later move several
 * VMAs with one MREMAP_FIXED of unchanged size (probed at start).
 *
 * Transcript (stdout): one line per operation, addresses as page numbers
 * in the window, so that a plain run and a run under the shim can be
 * diffed.  A mismatch prints the seed, the operation index and the
 * operation, and exits 1.  Program errors (cannot place the window) exit 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#define MADV_KEEPONFORK 19
#endif

enum { NP = 4096 }; /* pages in the window */
static size_t PG;
static char *W;

/* attr bits: the VMA flags that decide merging (and fork) */
enum { A_DF = 1, A_WF = 2, A_DD = 4, A_ACCT = 8 };
enum { K_ZERO, K_TAG, K_MAYBE };
enum { PR_NONE = 0, PR_R = 1, PR_RW = 3 };

struct pg {
	uint8_t mapped, prot, kind, attr;
	uint32_t tag, seg, off;
};
static struct pg M[NP], T[NP], F[NP];
static uint32_t next_seg = 1;

static unsigned long long seed;
static int opi, replaying, have_multi, have_dontunmap;
/* MM_AVOID=shrink,multi,hint,holes,split,close,wipe,none: do not generate operations of a kind whose
 * failure is already known, to look for other ones (both runs of a diff
 * need the same setting). */
static int avoid_shrink, avoid_multi, avoid_hint, avoid_holes, avoid_split, avoid_close, avoid_wipe, avoid_none;
static long n_forks, n_skipped;
static char opline[160];

/* ---- PRNG (splitmix64) ---- */
static uint64_t rs;
static uint64_t rnd64(void)
{
	uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}
static int rnd(int n) { return n > 0 ? (int)(rnd64() % (uint64_t)n) : 0; }

/* ---- operations ---- */
enum { O_MMAP, O_FIXED, O_NOREPL, O_MUNMAP, O_MREMAP, O_MADV, O_MPROT, O_WRITE, O_FORK, O_CLOSE, O_N };
static const char *oname[O_N] = {"mmap", "fixed", "norepl", "munmap", "mremap",
				 "madv", "mprot", "write", "fork", "closefds"};
/* f: mmap/munmap 1 = length not a page multiple, 2 = unaligned address;
 * madv: advice index | 16 unaligned | 32 odd length; mprot: prot | 16
 * unaligned; mremap: MREMAP_* bits | 8 unaligned | 16 odd lengths. */
struct op {
	int k, a, n, b, m, f;
};
static const int advs[] = {MADV_DONTNEED, MADV_FREE, MADV_DONTFORK, MADV_DOFORK,
			   MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_DONTDUMP, MADV_DODUMP};

static uint32_t tag_of(int op, int p) { return ((uint32_t)(op + 1) << 13) | (uint32_t)p; }

static const char *ename(int e)
{
	switch (e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EEXIST: return "EEXIST";
	case EAGAIN: return "EAGAIN";
	case EPERM: return "EPERM";
	case EBADF: return "EBADF";
	default: {
		static char b[16];
		snprintf(b, sizeof b, "errno%d", e);
		return b;
	}
	}
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#include <stdarg.h>
static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printf("MISMATCH seed=%llu op=%d: %s: %s\n", seed, opi, opline, msg);
	fflush(stdout);
	fprintf(stderr, "MISMATCH seed=%llu op=%d: %s: %s\n", seed, opi, opline, msg);
	exit(1);
}

/* ---- model helpers ---- */

/* Pages p and p+1: 1 = certainly one VMA, 0 = certainly not, -1 = the
 * kernel may or may not have merged them. */
static int same_vma(const struct pg *m, int p)
{
	const struct pg *x = &m[p], *y = &m[p + 1];
	if (!x->mapped || !y->mapped || x->prot != y->prot || x->attr != y->attr)
		return 0;
	if (x->seg == y->seg && y->off == x->off + 1)
		return 1;
	return -1;
}

/* [a, a+k): 1 = certainly inside one VMA, 0 = certainly not, -1 unknown */
static int single(int a, int k)
{
	int unsure = 0;
	if (a < 0 || k < 1 || a + k > NP || !M[a].mapped)
		return 0;
	for (int i = a; i < a + k - 1; i++) {
		int s = same_vma(M, i);
		if (s == 0)
			return 0;
		if (s < 0)
			unsure = 1;
	}
	return unsure ? -1 : 1;
}

/* The run of pages certainly in the same VMA as p. */
static void run_of(int p, int *s, int *e)
{
	int i = p, j = p;
	while (i > 0 && same_vma(M, i - 1) == 1)
		i--;
	while (j + 1 < NP && same_vma(M, j) == 1)
		j++;
	*s = i;
	*e = j + 1;
}

static int all_holes(int a, int n)
{
	for (int i = a; i < a + n; i++)
		if (i < 0 || i >= NP || M[i].mapped)
			return 0;
	return 1;
}

static int any_hole(int a, int n)
{
	for (int i = a; i < a + n; i++)
		if (!M[i].mapped)
			return 1;
	return 0;
}

static void unmap_pages(int a, int n)
{
	for (int i = a; i < a + n && i < NP; i++)
		if (i >= 0)
			memset(&M[i], 0, sizeof M[i]);
}

static void new_pages(int a, int n)
{
	uint32_t s = next_seg++;
	for (int i = 0; i < n; i++)
		M[a + i] = (struct pg){1, PR_RW, K_ZERO, A_ACCT, 0, s, (uint32_t)i};
}

/* A new mapping's first write gives its VMA an anon_vma: without one,
 * pieces of it split and faulted separately could never merge again, and
 * the model could not know its VMA boundaries.  Writing 0 keeps it zero. */
static void prefault(int a)
{
	*(volatile uint32_t *)(W + (size_t)a * PG) = 0;
}

/* Pages moved by mremap: keep content, protection and flags; new segment
 * numbers (one per source segment), so that the model never assumes a
 * merge with what is next to the new place. */
static void take(int a, int n, struct pg *out)
{
	uint32_t from[64], to[64];
	int nmap = 0;
	for (int i = 0; i < n; i++) {
		out[i] = M[a + i];
		if (!out[i].mapped)
			continue;
		int j = 0;
		while (j < nmap && from[j] != out[i].seg)
			j++;
		if (j == nmap) {
			if (nmap == 64) { /* too many: each page its own */
				out[i].seg = next_seg++;
				continue;
			}
			from[nmap] = out[i].seg;
			to[nmap++] = next_seg++;
		}
		out[i].seg = to[j];
	}
}

/* ---- the real state: /proc/self/maps and page contents ---- */
static sigjmp_buf fault_jb;
static volatile sig_atomic_t fault_armed;
static volatile int fault_page;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jb, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static uint8_t kbits[NP];
static char mapsbuf[1 << 20];

static void read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	if (fd < 0)
		die("cannot open /proc/self/maps");
	while ((r = read(fd, mapsbuf + n, sizeof mapsbuf - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	mapsbuf[n] = 0;
	memset(kbits, 0, sizeof kbits);
	uintptr_t w0 = (uintptr_t)W, w1 = w0 + NP * PG;
	for (char *l = mapsbuf; *l;) {
		char *end = strchr(l, '\n');
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(l, "%lx-%lx %7s", &lo, &hi, perms) == 3 && hi > w0 && lo < w1) {
			uintptr_t a = lo < w0 ? w0 : lo, b = hi > w1 ? w1 : hi;
			uint8_t bits = (uint8_t)(1 | (perms[0] == 'r' ? 2 : 0) | (perms[1] == 'w' ? 4 : 0));
			for (uintptr_t p = a; p < b; p += PG)
				kbits[(p - w0) / PG] = bits;
		}
		if (!end)
			break;
		l = end + 1;
	}
}

static const char *kind_s(const struct pg *e)
{
	static char b[48];
	if (!e->mapped)
		return "unmapped";
	snprintf(b, sizeof b, "%s%s prot=%d", e->kind == K_ZERO ? "zero" : e->kind == K_TAG ? "tag" : "tag-or-zero",
		 "", e->prot);
	return b;
}

/* Compare the window with model m; who names the process in messages. */
static void verify(const struct pg *m, const char *who)
{
	read_maps();
	for (int i = 0; i < NP; i++) {
		uint8_t want = m[i].mapped ? (uint8_t)(1 | (m[i].prot & 1 ? 2 : 0) | (m[i].prot & 2 ? 4 : 0)) : 0;
		if (kbits[i] != want)
			die("%s: page %d: maps says %s%s%s, model says %s", who, i,
			    kbits[i] ? "mapped" : "unmapped", kbits[i] & 2 ? " r" : "", kbits[i] & 4 ? " w" : "",
			    kind_s(&m[i]));
	}
	int sig = sigsetjmp(fault_jb, 1);
	if (sig)
		die("%s: page %d: signal %d on reading it (model: %s)", who, fault_page, sig, kind_s(&m[fault_page]));
	fault_armed = 1;
	for (int i = 0; i < NP; i++) {
		const struct pg *e = &m[i];
		if (!e->mapped || !(e->prot & 1))
			continue;
		fault_page = i;
		const volatile uint32_t *p = (const uint32_t *)(W + (size_t)i * PG);
		uint32_t w0 = p[0], w1 = p[PG / 4 - 1];
		int is_zero = w0 == 0 && w1 == 0, is_tag = w0 == e->tag && w1 == ~e->tag;
		int ok = e->kind == K_ZERO ? is_zero : e->kind == K_TAG ? is_tag : (is_zero || is_tag);
		if (!ok) {
			fault_armed = 0;
			die("%s: page %d: reads %08x..%08x, model says %s %08x", who, i, w0, w1, kind_s(e), e->tag);
		}
	}
	fault_armed = 0;
}

/* Write tags to the pages in [a, a+n) that m says are writable (the tag
 * of page i is tag_of(op, i) ^ x).  One fault guard for the batch. */
static __attribute__((noinline)) int write_loop(struct pg *m, int a, int n, uint32_t x)
{
	int w = 0;
	for (int i = a; i < a + n; i++)
		if (m[i].mapped && m[i].prot == PR_RW) {
			uint32_t t = tag_of(opi, i) ^ x;
			uint32_t *p = (uint32_t *)(W + (size_t)i * PG);
			fault_page = i;
			m[i].kind = K_TAG;
			m[i].tag = t;
			p[0] = t;
			p[PG / 4 - 1] = ~t;
			w++;
		}
	return w;
}

static int write_pages(struct pg *m, int a, int n, uint32_t x)
{
	int sig = sigsetjmp(fault_jb, 1);
	if (sig)
		die("page %d: signal %d on writing it", fault_page, sig);
	fault_armed = 1;
	int w = write_loop(m, a, n, x);
	fault_armed = 0;
	return w;
}

/* ---- prediction ---- */
enum { E_ERR, E_OK, E_AT, E_OUT, E_SKIP };
struct expect {
	int how, err, at;
};
static struct expect ex_err(int e) { return (struct expect){E_ERR, e, 0}; }
static struct expect ex_at(int p) { return (struct expect){E_AT, 0, p}; }
static const struct expect ex_ok = {E_OK, 0, 0}, ex_out = {E_OUT, 0, 0}, ex_skip = {E_SKIP, 0, 0};

static int inwin(int a, int n) { return a >= 0 && n >= 0 && a + n <= NP; }

static struct expect predict_mremap(const struct op *o)
{
	int a = o->a, ol = o->n, nl = o->m, b = o->b, fl = o->f & 7;
	if (o->f & 8)
		return ex_err(EINVAL);
	if (nl == 0)
		return ex_err(EINVAL);
	if ((fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(fl & MREMAP_MAYMOVE))
		return ex_err(EINVAL);
	if ((fl & MREMAP_DONTUNMAP) && !have_dontunmap)
		return ex_skip;
	if ((fl & MREMAP_DONTUNMAP) && ol != nl)
		return ex_err(EINVAL);
	if (!inwin(a, ol) || !inwin(a, 1) || ((fl & MREMAP_FIXED) && !inwin(b, nl)))
		return ex_skip;
	int overlap = (fl & MREMAP_FIXED) && a + ol > b && b + nl > a;
	if (overlap) /* before 6.17 checked after the lookup, from 6.17 before */
		return M[a].mapped ? ex_err(EINVAL) : ex_skip;
	if (!M[a].mapped)
		return ex_err(EFAULT);
	if (ol == 0) /* duplicating a private mapping; before 6.17 FIXED unmapped the target first */
		return (fl & MREMAP_FIXED) ? ex_skip : ex_err(EINVAL);
	if ((fl & MREMAP_DONTUNMAP) && single(a, ol) != 1)
		return ex_skip; /* from 6.17 several VMAs, each its own leftover */
	int move_only = (fl & MREMAP_FIXED) && ol == nl;
	if (move_only && !(fl & MREMAP_DONTUNMAP) && have_multi)
		return ex_at(b);
	int keep = ol < nl ? ol : nl;
	if ((fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) || nl > ol) {
		int s = single(a, keep);
		if (s < 0)
			return ex_skip;
		if (s == 0) /* before 6.17 FIXED unmapped the target first */
			return (fl & MREMAP_FIXED) && !have_multi ? ex_skip : ex_err(EFAULT);
	}
	if (fl & MREMAP_DONTUNMAP) {
		/* the kernel clears VM_ACCOUNT on the whole source VMA: only
		 * when it is exactly [a, a+ol) does the model know which */
		if ((a > 0 && same_vma(M, a - 1) != 0) || (a + ol < NP && same_vma(M, a + ol - 1) != 0))
			return ex_skip;
		return (fl & MREMAP_FIXED) ? ex_at(b) : ex_out;
	}
	if (fl & MREMAP_FIXED)
		return ex_at(b);
	if (nl <= ol)
		return ex_at(a);
	/* growth: in place if the VMA ends at a+ol (a hole follows) and the
	 * space is free, else a move or ENOMEM */
	int room = 1;
	for (int i = a + ol; i < a + nl; i++) {
		if (i >= NP)
			return ex_skip; /* what lies past the window is not ours */
		if (M[i].mapped) {
			room = 0;
			break;
		}
	}
	if (room)
		return ex_at(a);
	return (fl & MREMAP_MAYMOVE) ? ex_out : ex_err(ENOMEM);
}

static struct expect predict(const struct op *o)
{
	switch (o->k) {
	case O_MMAP:
		if (o->n < 1 || !inwin(o->a, o->n) || !all_holes(o->a, o->n))
			return ex_skip;
		return ex_at(o->a);
	case O_FIXED:
		if (o->n < 1 || !inwin(o->a, o->n))
			return ex_skip;
		return ex_at(o->a);
	case O_NOREPL:
		if (o->n < 1 || !inwin(o->a, o->n))
			return ex_skip;
		return all_holes(o->a, o->n) ? ex_at(o->a) : ex_err(EEXIST);
	case O_MUNMAP:
		if (!inwin(o->a, o->n))
			return ex_skip;
		if ((o->f & 2) || o->n == 0)
			return ex_err(EINVAL);
		return ex_ok;
	case O_MADV:
		if (!inwin(o->a, o->n) || (o->f & 15) >= 8)
			return ex_skip;
		if (o->f & 16)
			return ex_err(EINVAL);
		if (o->n == 0)
			return ex_ok;
		return any_hole(o->a, o->n) ? ex_err(ENOMEM) : ex_ok;
	case O_MPROT:
		if (!inwin(o->a, o->n))
			return ex_skip;
		if (o->f & 16)
			return ex_err(EINVAL);
		if (o->n == 0)
			return ex_ok;
		return any_hole(o->a, o->n) ? ex_err(ENOMEM) : ex_ok;
	case O_MREMAP:
		return predict_mremap(o);
	case O_WRITE:
	case O_FORK:
		return inwin(o->a, o->n) ? ex_ok : ex_skip;
	case O_CLOSE:
		return ex_ok;
	}
	return ex_skip;
}

/* ---- doing it ---- */
static size_t blen(int n, int odd) { return n && odd ? (size_t)n * PG - PG / 2 : (size_t)n * PG; }
static char *at(int p) { return W + (size_t)p * PG; }

static int out_slot(int n)
{
	int start = (int)(((unsigned)opi * 7919u) % NP);
	for (int k = 0; k < NP; k++) {
		int p = (start + k) % NP;
		if (p + n <= NP && all_holes(p, n))
			return p;
	}
	return (int)(((unsigned)opi * 7919u) % (unsigned)(NP - n + 1));
}

/* A mapping the kernel moved out of the window (MAYMOVE, DONTUNMAP): the
 * model holds it in T[0..n); it goes back to a free place in the window
 * with MREMAP_FIXED (itself checked). */
static int bring_back(char *r, int n)
{
	int d = out_slot(n);
	if ((uintptr_t)r + (size_t)n * PG > (uintptr_t)W && (uintptr_t)r < (uintptr_t)W + NP * PG)
		die("moved inside the window to page %ld, expected outside", (long)((r - W) / (long)PG));
	void *q = mremap(r, (size_t)n * PG, (size_t)n * PG, MREMAP_MAYMOVE | MREMAP_FIXED, at(d));
	if (q != at(d))
		die("moving it back to page %d: %s", d, q == MAP_FAILED ? ename(errno) : "elsewhere");
	unmap_pages(d, n);
	memcpy(&M[d], T, (size_t)n * sizeof *T);
	return d;
}

static void apply_mremap(const struct op *o, char *r, char *res, size_t rcap)
{
	int a = o->a, ol = o->n, nl = o->m, b = o->b, fl = o->f & 7;
	int keep = ol < nl ? ol : nl;
	if ((fl & MREMAP_FIXED) && ol == nl && !(fl & MREMAP_DONTUNMAP) && have_multi) {
		/* one or more VMAs, each to the same offset from b; holes in
		 * the source leave the target as it was */
		take(a, ol, T);
		for (int i = 0; i < ol; i++)
			if (T[i].mapped) {
				M[a + i] = (struct pg){0};
			}
		for (int i = 0; i < ol; i++)
			if (T[i].mapped)
				M[b + i] = T[i];
		snprintf(res, rcap, "at %d", b);
		return;
	}
	if (!(fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && nl <= ol) {
		unmap_pages(a + nl, ol - nl);
		snprintf(res, rcap, "same");
		return;
	}
	/* growth in place, or a move: the kept part and its grown tail */
	struct pg last = M[a + keep - 1];
	if (fl & MREMAP_FIXED)
		unmap_pages(b, nl);
	if (nl < ol)
		unmap_pages(a + nl, ol - nl);
	if (r == at(a) && !(fl & MREMAP_FIXED)) { /* in place */
		for (int i = ol; i < nl; i++) {
			M[a + i] = last;
			M[a + i].kind = K_ZERO;
			M[a + i].tag = 0;
			M[a + i].off = last.off + (uint32_t)(i - ol + 1);
		}
		snprintf(res, rcap, "same");
		return;
	}
	take(a, keep, T);
	uint32_t tailseg = T[keep - 1].seg;
	for (int i = keep; i < nl; i++) {
		T[i] = last;
		T[i].seg = tailseg;
		T[i].kind = K_ZERO;
		T[i].tag = 0;
		T[i].off = T[keep - 1].off + (uint32_t)(i - keep + 1);
	}
	unmap_pages(a, keep);
	if (fl & MREMAP_DONTUNMAP) {
		/* the old range stays mapped, empty, without VM_ACCOUNT */
		uint32_t s = next_seg++;
		for (int i = 0; i < ol; i++) {
			M[a + i] = last;
			M[a + i].attr &= (uint8_t)~A_ACCT;
			M[a + i].kind = K_ZERO;
			M[a + i].tag = 0;
			M[a + i].seg = s;
			M[a + i].off = (uint32_t)i;
		}
		if (last.prot == PR_RW)
			prefault(a);
	}
	if (fl & MREMAP_FIXED) {
		memcpy(&M[b], T, (size_t)nl * sizeof *T);
		snprintf(res, rcap, "at %d", b);
	} else {
		int d = bring_back(r, nl);
		snprintf(res, rcap, "moved>%d", d);
	}
}

static void do_fork(const struct op *o, char *res, size_t rcap)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		die("pipe: %s", ename(errno));
	memcpy(F, M, sizeof F);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", ename(errno));
	if (pid == 0) {
		char c;
		close(pfd[1]);
		if (read(pfd[0], &c, 1) != 1)
			_exit(3);
		for (int i = 0; i < NP; i++) {
			if (F[i].mapped && (F[i].attr & A_DF))
				memset(&F[i], 0, sizeof F[i]);
			else if (F[i].mapped && (F[i].attr & A_WF)) {
				F[i].kind = K_ZERO;
				F[i].tag = 0;
			}
		}
		verify(F, "child");
		/* a page in eight (COW copies are slow), and the parent's range */
		for (int i = opi & 7; i < NP; i += 8)
			write_pages(F, i, 1, 0x80000001u);
		write_pages(F, o->a, o->n, 0x80000001u);
		verify(F, "child after its writes");
		_exit(0);
	}
	close(pfd[0]);
	/* the parent writes after the fork: the child must not see it */
	int w = write_pages(M, o->a, o->n, 0);
	if (write(pfd[1], "x", 1) != 1)
		die("pipe write: %s", ename(errno));
	close(pfd[1]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid: %s", ename(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("child failed (%s %d)", WIFEXITED(st) ? "exit" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	n_forks++;
	snprintf(res, rcap, "child ok, parent wrote %d", w);
}

/* madvise or mprotect on the model: madvise acts on every mapped part of
 * the range, mprotect up to the first hole. */
static void apply_range(const struct op *o)
{
	int adv = o->f & 15, pr = o->f & 3;
	for (int i = o->a; i < o->a + o->n; i++) {
		struct pg *p = &M[i];
		if (!p->mapped) {
			if (o->k == O_MPROT)
				break;
			continue;
		}
		if (o->k == O_MPROT) {
			/* becoming writable charges the mapping: VM_ACCOUNT, kept for good */
			if (pr == PR_RW && p->prot != PR_RW && !(p->attr & A_ACCT))
				p->attr |= A_ACCT;
			p->prot = (uint8_t)pr;
			continue;
		}
		switch (advs[adv]) {
		case MADV_DONTNEED: p->kind = K_ZERO; p->tag = 0; break;
		case MADV_FREE: if (p->kind == K_TAG) p->kind = K_MAYBE; break;
		case MADV_DONTFORK: p->attr |= A_DF; break;
		case MADV_DOFORK: p->attr &= (uint8_t)~A_DF; break;
		case MADV_WIPEONFORK: p->attr |= A_WF; break;
		case MADV_KEEPONFORK: p->attr &= (uint8_t)~A_WF; break;
		case MADV_DONTDUMP: p->attr |= A_DD; break;
		case MADV_DODUMP: p->attr &= (uint8_t)~A_DD; break;
		}
	}
}

/* Run one operation: predict, do, compare, update the model, verify.
 * Returns 0 if it was skipped as uncertain. */
static int run_op(const struct op *o)
{
	snprintf(opline, sizeof opline, "%5d %-8s %5d %5d %5d %5d %3d", opi, oname[o->k], o->a, o->n, o->b, o->m,
		 o->f);
	struct expect e = predict(o);
	if (e.how == E_SKIP)
		return 0;
	char res[96] = "";
	char *r = NULL;
	int rc = 0, err = 0;
	errno = 0;
	switch (o->k) {
	case O_MMAP:
		r = mmap(at(o->a), blen(o->n, o->f & 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case O_FIXED:
		r = mmap(at(o->a), blen(o->n, o->f & 1), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		break;
	case O_NOREPL:
		r = mmap(at(o->a), blen(o->n, o->f & 1), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		break;
	case O_MUNMAP:
		rc = munmap(at(o->a) + (o->f & 2 ? 1 : 0), blen(o->n, o->f & 1));
		break;
	case O_MADV:
		rc = madvise(at(o->a) + (o->f & 16 ? 1 : 0), blen(o->n, o->f & 32), advs[o->f & 15]);
		break;
	case O_MPROT:
		rc = mprotect(at(o->a) + (o->f & 16 ? 1 : 0), (size_t)o->n * PG,
			      (o->f & 3) == PR_RW ? PROT_READ | PROT_WRITE : (o->f & 3) == PR_R ? PROT_READ : PROT_NONE);
		break;
	case O_MREMAP:
		r = mremap(at(o->a) + (o->f & 8 ? 1 : 0), blen(o->n, o->f & 16), blen(o->m, o->f & 16), o->f & 7,
			   o->f & MREMAP_FIXED ? at(o->b) : NULL);
		break;
	case O_CLOSE:
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		break;
	default:
		break;
	}
	err = errno;
	int failed = (o->k == O_MMAP || o->k == O_FIXED || o->k == O_NOREPL || o->k == O_MREMAP)
			     ? r == MAP_FAILED
			     : rc < 0;
	if (e.how == E_ERR) {
		if (!failed)
			die("succeeded, expected %s", ename(e.err));
		if (err != e.err)
			die("failed with %s, expected %s", ename(err), ename(e.err));
		snprintf(res, sizeof res, "err %s", ename(err));
	} else if (o->k != O_WRITE && o->k != O_FORK && o->k != O_CLOSE) {
		if (failed)
			die("failed with %s, expected success", ename(err));
		if (e.how == E_AT && r && r != at(e.at))
			die("returned %s, expected page %d",
			    (uintptr_t)r - (uintptr_t)W < (uintptr_t)NP * PG ? "another page of the window" : "an address outside the window",
			    e.at);
		if (e.how == E_OUT && r == at(o->a))
			die("stayed in place, expected a move");
	}
	/* update the model */
	if (e.how != E_ERR) {
		switch (o->k) {
		case O_MMAP:
		case O_FIXED:
		case O_NOREPL:
			new_pages(o->a, o->n);
			prefault(o->a);
			snprintf(res, sizeof res, "at %d", o->a);
			break;
		case O_MUNMAP:
			unmap_pages(o->a, o->n);
			snprintf(res, sizeof res, "ok");
			break;
		case O_MADV:
		case O_MPROT:
			apply_range(o);
			snprintf(res, sizeof res, "ok");
			break;
		case O_MREMAP:
			apply_mremap(o, r, res, sizeof res);
			break;
		case O_WRITE:
			snprintf(res, sizeof res, "wrote %d", write_pages(M, o->a, o->n, 0));
			break;
		case O_FORK:
			do_fork(o, res, sizeof res);
			break;
		case O_CLOSE:
			snprintf(res, sizeof res, "ok");
			break;
		}
	} else if ((o->k == O_MPROT || o->k == O_MADV) && e.err == ENOMEM) {
		apply_range(o); /* a hole: the kernel still acted on the mapped parts */
	}
	printf("%s -> %s\n", opline, res);
	verify(M, "parent");
	return 1;
}

/* ---- generation ---- */
static int mapped_pages(void)
{
	int n = 0;
	for (int i = 0; i < NP; i++)
		n += M[i].mapped;
	return n;
}

static int rand_mapped(void)
{
	int start = rnd(NP);
	for (int k = 0; k < NP; k++) {
		int p = (start + k) % NP;
		if (M[p].mapped)
			return p;
	}
	return -1;
}

static int region_size(void)
{
	int r = rnd(100);
	if (r < 10)
		return 1 + rnd(15);      /* under the 64 KiB threshold */
	if (r < 60)
		return 16 + rnd(112);    /* 64 KiB .. 512 KiB */
	if (r < 90)
		return 128 + rnd(384);   /* .. 2 MiB */
	return 512 + rnd(513);           /* .. 4 MiB */
}

/* A hole of at least n pages: 0 and its start in *a (a random place in it,
 * often touching the mapping before it or after it). */
static int find_hole(int n, int *a)
{
	int cand[64], nc = 0;
	for (int i = 0; i < NP && nc < 64;) {
		if (M[i].mapped) {
			i++;
			continue;
		}
		int j = i;
		while (j < NP && !M[j].mapped)
			j++;
		if (j - i >= n)
			cand[nc++] = i;
		i = j;
	}
	if (!nc)
		return -1;
	int s = cand[rnd(nc)], e = s;
	while (e < NP && !M[e].mapped)
		e++;
	int r = rnd(4);
	*a = r == 0 ? s : r == 1 ? e - n : s + rnd(e - s - n + 1);
	return 0;
}

static void clamp(struct op *o)
{
	if (o->a < 0)
		o->a = 0;
	if (o->a >= NP)
		o->a = NP - 1;
	if (o->a + o->n > NP)
		o->n = NP - o->a;
}

static void gen_mremap(struct op *o)
{
	int p = rand_mapped(), s, e;
	o->k = O_MREMAP;
	if (p < 0) {
		o->a = rnd(NP);
		o->n = o->m = 1;
		return; /* EFAULT */
	}
	run_of(p, &s, &e);
	o->a = rnd(3) ? s : s + rnd(e - s);
	int r = rnd(100), span = e - o->a;
	if (r < 25) { /* shrink, often across split pieces and holes */
		o->n = rnd(2) ? span : 1 + rnd(span);
		if (rnd(2))
			o->n += rnd(64);
		if (o->n < 2)
			o->n = 2;
		o->m = 1 + rnd(o->n - 1);
		o->f = rnd(2) ? MREMAP_MAYMOVE : 0;
	} else if (r < 45) { /* grow at the end of the VMA */
		int h = 0;
		while (e + h < NP && !M[e + h].mapped && h < 512)
			h++;
		o->n = span;
		o->m = span + 1 + (h && rnd(4) ? rnd(h) : rnd(64));
		o->f = rnd(3) ? MREMAP_MAYMOVE : 0;
	} else if (r < 60) { /* grow from inside: always a move */
		o->n = 1 + rnd(span);
		o->m = o->n + 1 + rnd(256);
		o->f = MREMAP_MAYMOVE;
	} else if (r < 82) { /* MREMAP_FIXED */
		o->n = 1 + rnd(span);
		int q = rnd(10);
		o->m = q < 4 ? o->n : q < 7 ? 1 + rnd(o->n) : o->n + 1 + rnd(128);
		if (have_multi && rnd(4) == 0) { /* a move of several VMAs */
			o->n = span + 1 + rnd(128);
			o->m = o->n;
		}
		o->f = MREMAP_MAYMOVE | MREMAP_FIXED;
		for (int t = 0; t < 8; t++) {
			o->b = rnd(NP - o->m + 1);
			if (o->a + o->n <= o->b || o->b + o->m <= o->a)
				break;
		}
		if (o->n == o->m && rnd(5) == 0 && have_dontunmap)
			o->f |= MREMAP_DONTUNMAP;
	} else if (r < 88) { /* MREMAP_DONTUNMAP of a whole VMA */
		o->a = s;
		o->n = o->m = e - s;
		o->f = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
		if (M[s].prot != PR_RW)
			o->f = 0;
	} else if (r < 91) {
		o->n = o->m = 1 + rnd(span);
		o->f = rnd(2) ? MREMAP_MAYMOVE : 0;
	} else { /* requests the kernel refuses */
		o->n = 1 + rnd(span);
		o->m = o->n + rnd(4);
		switch (rnd(6)) {
		case 0: o->f = 8; break;
		case 1: o->m = 0; break;
		case 2: o->f = MREMAP_FIXED; o->b = rnd(NP - o->m); break;
		case 3: o->f = MREMAP_MAYMOVE | MREMAP_DONTUNMAP; o->m = o->n + 1; break;
		case 4: o->n = 0; o->f = MREMAP_MAYMOVE; break;
		case 5: o->a = rnd(NP); o->f = MREMAP_MAYMOVE; if (M[o->a].mapped) o->f |= 8; break;
		}
	}
	if (rnd(8) == 0)
		o->f |= 16;
	if (o->a + o->n > NP)
		o->n = NP - o->a;
}

static void gen(struct op *o)
{
	memset(o, 0, sizeof *o);
	int mp = mapped_pages(), r = rnd(1000);
	if (mp < NP / 8 || (r < 110 && mp < NP * 4 / 10)) {
		o->k = O_MMAP;
		o->n = region_size();
		if (avoid_hint && o->n >= 512) /* file mappings get THP placement */
			o->n = 1 + rnd(511);
		o->f = rnd(4) == 0;
		if (find_hole(o->n, &o->a) == 0)
			return;
		r = 250; /* no room: unmap something */
	}
	if (mp > NP / 2 && r < 500)
		r = 250;
	int p = rand_mapped(), s = 0, e = 1;
	if (p >= 0)
		run_of(p, &s, &e);
	else
		p = rnd(NP);
	if (r < 170) {
		o->k = O_FIXED;
		o->n = rnd(4) ? 1 + rnd(32) : 1 + rnd(256);
		o->a = p - rnd(o->n);
	} else if (r < 190) {
		o->k = O_NOREPL;
		o->n = 1 + rnd(64);
		o->a = rnd(2) ? p - rnd(o->n) : rnd(NP);
	} else if (r < 300) {
		o->k = O_MUNMAP;
		if (rnd(3) == 0) {
			o->a = s;
			o->n = e - s;
		} else {
			o->a = s + rnd(e - s);
			o->n = 1 + rnd(e - o->a + 16);
		}
		o->f = rnd(5) == 0;
		if (rnd(40) == 0)
			o->f |= 2;
		if (rnd(60) == 0)
			o->n = 0;
	} else if (r < 540) {
		gen_mremap(o);
		return;
	} else if (r < 700) {
		o->k = O_MADV;
		o->a = rnd(3) ? s + rnd(e - s) : p - rnd(64);
		o->n = rnd(3) ? 1 + rnd(e - o->a) : 1 + rnd(128);
		o->f = rnd(8);
		if (rnd(40) == 0)
			o->f |= 16;
		if (rnd(8) == 0)
			o->f |= 32;
	} else if (r < 800) {
		o->k = O_MPROT;
		o->a = rnd(4) ? s + rnd(e - s) : p - rnd(64);
		o->n = 1 + rnd(rnd(3) ? e - o->a : 128);
		int q = rnd(10);
		o->f = q < 3 ? PR_NONE : q < 6 ? PR_R : PR_RW;
		if (rnd(40) == 0)
			o->f |= 16;
	} else if (r < 975) {
		o->k = O_WRITE;
		o->a = rnd(2) ? s : s + rnd(e - s);
		o->n = rnd(2) ? e - o->a : 1 + rnd(e - o->a);
	} else if (r < 997) {
		o->k = O_FORK;
		o->a = s;
		o->n = e - s;
	} else {
		o->k = O_CLOSE;
	}
	clamp(o);
}

static int avoided(const struct op *o)
{
	if ((avoid_close && o->k == O_CLOSE) || (avoid_none && o->k == O_MPROT && (o->f & 3) == PR_NONE) ||
	    (avoid_wipe && o->k == O_MADV && (advs[o->f & 7] == MADV_WIPEONFORK || advs[o->f & 7] == MADV_KEEPONFORK)))
		return 1;
	if (avoid_holes && (o->k == O_MADV || o->k == O_MPROT) && inwin(o->a, o->n) && any_hole(o->a, o->n))
		return 1;
	/* a resize or move of part of a mapping: the shim's table stays split */
	if (avoid_split && o->k == O_MREMAP && !(o->f & 8) && o->n && inwin(o->a, o->n) && M[o->a].mapped) {
		int s, e;
		run_of(o->a, &s, &e);
		if (s != o->a || (e != o->a + o->n && o->m >= o->n))
			return 1;
	}
	if (o->k != O_MREMAP || (o->f & 8) || o->m == 0 || o->n == 0 || single(o->a, o->n) == 1)
		return 0;
	int fl = o->f & 7;
	if (avoid_shrink && o->m < o->n && !(fl & MREMAP_FIXED))
		return 1;
	if (avoid_multi && (fl & MREMAP_FIXED) && o->n == o->m)
		return 1;
	return 0;
}

/* ---- kernel features ---- */
static void probe(void)
{
	/* Linux 6.17+: MREMAP_FIXED of unchanged size moves several VMAs.
	 * Small mappings: the shim leaves them to the kernel. */
	char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || q == MAP_FAILED) {
		fprintf(stderr, "mmmodel: probe mmap failed\n");
		exit(2);
	}
	mprotect(p + PG, PG, PROT_READ);
	have_multi = mremap(p, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, q) == q;
	munmap(p, 4 * PG);
	munmap(q, 2 * PG);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	q = mremap(p, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	have_dontunmap = q != MAP_FAILED;
	munmap(p, PG);
	if (have_dontunmap)
		munmap(q, PG);
}

static void place_window(void)
{
	/* Far below the mmap base and away from the heap: the kernel's own
	 * placement never reaches the window's holes. */
	uintptr_t hint = sizeof(void *) == 8 ? (uintptr_t)0x200000000000ULL : (uintptr_t)0x10000000UL;
	size_t len = NP * PG;
	char *w = mmap((void *)hint, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (w == MAP_FAILED) {
		fprintf(stderr, "mmmodel: cannot reserve the window: %s\n", strerror(errno));
		exit(2);
	}
	munmap(w, len);
	W = w;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	PG = (size_t)sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (argc == 3 && !strcmp(argv[1], "replay")) {
		replaying = 1;
	} else if (argc != 3) {
		fprintf(stderr, "usage: mmmodel SEED NOPS | mmmodel replay TRANSCRIPT\n");
		return 2;
	}
	probe();
	place_window();
	if (replaying) {
		/* read it all first: closefds would close the file */
		FILE *f = fopen(argv[2], "r");
		static struct op ops[1 << 16];
		static int idxs[1 << 16];
		int nops = 0, nrep = 0;
		char line[512], name[32];
		if (!f) {
			perror(argv[2]);
			return 2;
		}
		while (nops < (1 << 16) && fgets(line, sizeof line, f)) {
			struct op *o = &ops[nops];
			if (sscanf(line, "%d %31s %d %d %d %d %d", &idxs[nops], name, &o->a, &o->n, &o->b, &o->m,
				   &o->f) != 7)
				continue;
			for (o->k = 0; o->k < O_N && strcmp(oname[o->k], name); o->k++)
				;
			if (o->k < O_N)
				nops++;
		}
		fclose(f);
		printf("replay %s multi=%d dontunmap=%d\n", argv[2], have_multi, have_dontunmap);
		for (int i = 0; i < nops; i++) {
			opi = idxs[i]; /* the same tags as the run it came from */
			if (!run_op(&ops[i])) {
				printf("%s -> skipped (uncertain)\n", opline);
				n_skipped++;
			}
			nrep++;
		}
		printf("done replay ops=%d mapped=%d forks=%ld skipped=%ld\n", nrep, mapped_pages(), n_forks,
		       n_skipped);
		return 0;
	}
	const char *av = getenv("MM_AVOID");
	if (av) {
		avoid_shrink = strstr(av, "shrink") != NULL;
		avoid_multi = strstr(av, "multi") != NULL;
		avoid_hint = strstr(av, "hint") != NULL;
		avoid_holes = strstr(av, "holes") != NULL;
		avoid_split = strstr(av, "split") != NULL;
		avoid_close = strstr(av, "close") != NULL;
		avoid_wipe = strstr(av, "wipe") != NULL;
		avoid_none = strstr(av, "none") != NULL;
	}
	seed = strtoull(argv[1], NULL, 0);
	int nops = atoi(argv[2]);
	rs = seed * 0x2545f4914f6cdd1dULL + 1;
	printf("seed %llu ops %d multi=%d dontunmap=%d\n", seed, nops, have_multi, have_dontunmap);
	for (opi = 0; opi < nops; opi++) {
		struct op o;
		int tries = 0;
		do {
			gen(&o);
			snprintf(opline, sizeof opline, "%5d %-8s %5d %5d %5d %5d %3d", opi, oname[o.k], o.a, o.n,
				 o.b, o.m, o.f);
		} while ((predict(&o).how == E_SKIP || avoided(&o)) && ++tries < 50);
		if (tries == 50) {
			n_skipped++;
			continue;
		}
		run_op(&o);
	}
	verify(M, "final");
	printf("done seed=%llu ops=%d mapped=%d forks=%ld skipped=%ld\n", seed, nops, mapped_pages(), n_forks,
	       n_skipped);
	return 0;
}
