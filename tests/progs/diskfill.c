/* diskfill.c - the program of the full-disk matrix
 * (tests/integration/full_disk_matrix.sh).
 *
 * Each scenario takes large memory, goes through a path that may give disk
 * back or share extents (MADV_DONTNEED/FREE, the freed-block cache, partial
 * munmap then regrowth, fork, realloc/mremap growth, ...), fills the disk
 * of DIR itself at the critical moment, then writes every page of the
 * memory it holds and checks the data.  Plainly every write succeeds.
 * Under the shim with OOMSHIELD_DIR=DIR it must too: a write fault into
 * file space the shim did not keep reserved is a SIGBUS.
 *
 * Usage: diskfill DIR FILL SCENARIO  (diskfill -l lists the scenarios)
 *   FILL file    a file DIR/diskfill.PID written until ENOSPC (as root
 *                this takes ext4's root reserve too); removed at exit
 *   FILL malloc  1 MiB blocks, touched and kept, one for each MiB free
 *                on the disk and 8 more: under the shim they fill it until
 *                it cannot place another (the issue 20 reproducer)
 * stdout: one line per check, the same plainly and under the shim.
 * stderr: "note:" lines - "backed" when the first block is in a shared
 *   file mapping (the script's proof that the shim took it), and each step
 *   before it runs, so that a SIGBUS can be placed.
 * Exit: 0 every check passed, 1 one failed, 2 usage, 3 setup failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

#define MiB ((size_t)1 << 20)

static const char *dir, *scen;
static int fill_by_malloc;
static char fill_path[4096];
static int failures;
static size_t page;

static void note(const char *what)
{
	fprintf(stderr, "note: %s: %s\n", scen, what);
}

static void check(const char *what, int ok)
{
	printf("%s: %s: %s\n", scen, what, ok ? "ok" : "FAILED");
	if (!ok)
		failures++;
}

static void die(const char *what)
{
	fprintf(stderr, "diskfill: %s: %s: %s\n", scen, what, strerror(errno));
	exit(3);
}

/* The byte at offset i of a buffer written with seed: every 512th byte is
 * written, so every page is. */
static unsigned char val(unsigned seed, size_t i)
{
	return (unsigned char)(seed * 37 + i / 512 * 7 + 1);
}

static void put(char *base, size_t from, size_t to, unsigned seed)
{
	for (size_t i = (from + 511) & ~(size_t)511; i < to; i += 512)
		base[i] = (char)val(seed, i);
}

static int holds(const char *base, size_t from, size_t to, unsigned seed)
{
	for (size_t i = (from + 511) & ~(size_t)511; i < to; i += 512)
		if ((unsigned char)base[i] != val(seed, i))
			return 0;
	return 1;
}

static int zero(const char *base, size_t from, size_t to)
{
	for (size_t i = from; i < to; i += 256)
		if (base[i])
			return 0;
	return 1;
}

/* Write every page with seed and read it back: the step a SIGBUS kills. */
static void rewrite(const char *what, char *base, size_t len, unsigned seed)
{
	char msg[128];
	snprintf(msg, sizeof msg, "writing %s", what);
	note(msg);
	put(base, 0, len, seed);
	snprintf(msg, sizeof msg, "%s written and read back", what);
	check(msg, holds(base, 0, len, seed));
}

/* 1 if p lies in a shared mapping of a deleted file: a block of the shim. */
static int backed(const void *p)
{
	char line[4096];
	int r = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo &&
		    (uintptr_t)p < hi)
			r = perms[3] == 's' && strstr(line, "(deleted)") != NULL;
	}
	fclose(f);
	return r;
}

static void note_backed(const void *p)
{
	note(backed(p) ? "backed" : "not backed");
}

/* The first page boundary inside a malloc block (glibc's own large blocks
 * start 16 bytes into a page; the shim's on a 64 KiB boundary). */
static char *aligned(char *p)
{
	return (char *)(((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1));
}

static char *map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static char *take(size_t len)
{
	char *p = malloc(len);
	if (!p)
		die("malloc");
	return p;
}

/* Fill the disk now.  A file: fallocate in halving chunks, then 4 KiB
 * writes until ENOSPC, then fsync (delayed allocation settled). */
static void fill_disk(void)
{
	note("filling the disk");
	if (fill_by_malloc) {
		struct statvfs s;
		if (statvfs(dir, &s) < 0)
			die("statvfs");
		size_t n = (size_t)((uint64_t)s.f_bavail * s.f_frsize / MiB) + 8;
		for (size_t i = 0; i < n; i++)
			memset(take(MiB), (int)(i | 1), MiB); /* kept to the end */
		printf("%s: disk filled by malloc\n", scen);
		return;
	}
	snprintf(fill_path, sizeof fill_path, "%s/diskfill.%d", dir, (int)getpid());
	int fd = open(fill_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("open the fill file");
	off_t off = 0;
	for (off_t chunk = 64 * (off_t)MiB; chunk >= 4096; chunk /= 2)
		while (fallocate(fd, 0, off, chunk) == 0)
			off += chunk;
	static char buf[4096];
	memset(buf, 0x5a, sizeof buf);
	int e = 0;
	for (;;) {
		ssize_t w = pwrite(fd, buf, sizeof buf, off);
		if (w <= 0) {
			e = w < 0 ? errno : ENOSPC;
			break;
		}
		off += w;
	}
	if (fsync(fd) < 0 && !e)
		e = errno;
	close(fd);
	printf("%s: disk filled by a file: %s\n", scen, e == ENOSPC ? "ENOSPC" : strerror(e));
}

static void cleanup(void)
{
	if (fill_path[0])
		unlink(fill_path);
}

/* ---- 1-3: MADV_DONTNEED / MADV_FREE, then the disk fills ---- */

static void advise_then_fill(char *p, size_t len, int advice, const char *name, int partial)
{
	put(p, 0, len, 1);
	note_backed(p);
	char *a = aligned(p);
	size_t span = partial ? 4 * MiB : (size_t)(p + len - a) & ~(page - 1);
	if (partial)
		a += 4 * MiB;
	int r = madvise(a, span, advice);
	char msg[128];
	snprintf(msg, sizeof msg, "madvise(%s) succeeds", name);
	check(msg, r == 0);
	/* MADV_FREE pages may read old data or zero: only DONTNEED is checked. */
	if (r == 0 && advice != MADV_FREE)
		check("the advised range reads zero", zero(a, 0, span));
	if (partial)
		check("the rest keeps its data",
		      holds(p, 0, (size_t)(a - p), 1) && holds(p, (size_t)(a - p) + span, len, 1));
	fill_disk();
	rewrite("the whole block", p, len, 2);
}

static void s_dontneed(void)
{
	advise_then_fill(take(16 * MiB), 16 * MiB, MADV_DONTNEED, "DONTNEED", 0);
}

static void s_free(void)
{
	advise_then_fill(take(16 * MiB), 16 * MiB, MADV_FREE, "FREE", 0);
}

static void s_dontneed_locked(void)
{
	advise_then_fill(take(16 * MiB), 16 * MiB, MADV_DONTNEED_LOCKED, "DONTNEED_LOCKED", 0);
}

static void s_dontneed_part(void)
{
	advise_then_fill(take(16 * MiB), 16 * MiB, MADV_DONTNEED, "DONTNEED", 1);
}

static void s_mmap_dontneed(void)
{
	advise_then_fill(map(16 * MiB), 16 * MiB, MADV_DONTNEED, "DONTNEED", 0);
}

static void s_mmap_free(void)
{
	advise_then_fill(map(16 * MiB), 16 * MiB, MADV_FREE, "FREE", 0);
}

static void s_mmap_dontneed_part(void)
{
	advise_then_fill(map(16 * MiB), 16 * MiB, MADV_DONTNEED, "DONTNEED", 1);
}

/* MADV_REMOVE is refused on private memory (EINVAL); the shim lets it
 * punch its file (a documented difference: the data goes).  Only what
 * follows is checked here: the write after the disk filled. */
static void remove_then_fill(char *p, size_t len)
{
	put(p, 0, len, 1);
	note_backed(p);
	char *a = aligned(p);
	size_t span = (size_t)(p + len - a) & ~(page - 1);
	errno = 0;
	int r = madvise(a, span, MADV_REMOVE);
	note(r ? "madvise(REMOVE) refused" : "madvise(REMOVE) done");
	fill_disk();
	rewrite("the whole block", p, len, 2);
}

static void s_remove(void)
{
	remove_then_fill(take(16 * MiB), 16 * MiB);
}

static void s_mmap_remove(void)
{
	remove_then_fill(map(16 * MiB), 16 * MiB);
}

/* ---- 4: the freed-block cache hands back a punched block ---- */

static void s_cache(void)
{
	size_t n = 16 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	madvise(aligned(p), 8 * MiB, MADV_DONTNEED);
	free(p);
	char *q = take(n);
	note_backed(q);
	fill_disk(); /* before any write: a write would fill the holes */
	rewrite("the whole new block", q, n, 2);
}

/* calloc of a cached block clears it: writes into its holes. */
static void s_cache_calloc(void)
{
	size_t n = 16 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	madvise(aligned(p), 8 * MiB, MADV_DONTNEED);
	free(p);
	fill_disk();
	note("calloc");
	char *q = calloc(1, n);
	if (!q)
		die("calloc");
	check("calloc reads zero", zero(q, 0, n));
	rewrite("the calloc block", q, n, 2);
}

/* ---- 5: partial munmap, then mremap grows the region again ---- */

static void s_munmap_tail_regrow(void)
{
	size_t n = 16 * MiB, h = n / 2;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	munmap(p + h, h);
	char *q = mremap(p, h, n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the kept half holds its data, the new one reads zero",
	      holds(q, 0, h, 1) && zero(q, h, n));
	fill_disk();
	rewrite("the whole region", q, n, 2);
}

/* The same, with the disk full before the region grows back. */
static void s_munmap_fill_regrow(void)
{
	size_t n = 16 * MiB, h = n / 2;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	munmap(p + h, h);
	fill_disk();
	char *q = mremap(p, h, n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the kept half holds its data, the new one reads zero",
	      holds(q, 0, h, 1) && zero(q, h, n));
	rewrite("the whole region", q, n, 2);
}

static void s_munmap_head_regrow(void)
{
	size_t n = 16 * MiB, h = n / 2;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	munmap(p, h);
	char *q = mremap(p + h, h, n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the kept half holds its data, the new one reads zero",
	      holds(q - h, h, n, 1) && zero(q, h, n));
	fill_disk();
	rewrite("the whole region", q, n, 2);
}

/* The middle goes; the head grows back over it (in place: the address
 * range after it is free again). */
static void s_munmap_middle_regrow(void)
{
	size_t n = 16 * MiB, q4 = n / 4;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	munmap(p + q4, q4);
	char *q = mremap(p, q4, 2 * q4, MREMAP_MAYMOVE);
	check("mremap grows the head", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the head keeps its data, the new part reads zero, the tail its data",
	      holds(q, 0, q4, 1) && zero(q, q4, 2 * q4) && holds(p, 2 * q4, n, 1));
	fill_disk();
	rewrite("the grown head", q, 2 * q4, 2);
	rewrite("the tail", p + 2 * q4, n - 2 * q4, 3);
}

static void s_mremap_shrink_grow(void)
{
	size_t n = 16 * MiB, h = n / 2;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	check("mremap shrinks the region", mremap(p, n, h, 0) == p);
	char *q = mremap(p, h, n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the kept half holds its data, the new one reads zero",
	      holds(q, 0, h, 1) && zero(q, h, n));
	fill_disk();
	rewrite("the whole region", q, n, 2);
}

/* The region grows where a neighbour blocks growth in place: the shim
 * copies it to another extent of its arena (copy_file_range, which XFS
 * may turn into shared extents), then the disk fills. */
static void s_mremap_copy(void)
{
	size_t n = 16 * MiB;
	char *a = map(n), *b = map(n);
	put(a, 0, n, 1);
	put(b, 0, n, 4);
	note_backed(a);
	char *q = mremap(a, n, 2 * n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the region keeps its data, the new part reads zero",
	      holds(q, 0, n, 1) && zero(q, n, 2 * n));
	fill_disk();
	rewrite("the moved region", q, 2 * n, 2);
	rewrite("its neighbour", b, n, 5);
}

/* ---- 6: fork; the disk fills in the parent ---- */

static void report_child(int st)
{
	char msg[128];
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		snprintf(msg, sizeof msg, "ok");
	else if (WIFEXITED(st))
		snprintf(msg, sizeof msg, "FAILED: exit %d", WEXITSTATUS(st));
	else if (WTERMSIG(st) == SIGBUS)
		snprintf(msg, sizeof msg, "FAILED: killed by SIGBUS");
	else
		snprintf(msg, sizeof msg, "FAILED: killed by signal %d", WTERMSIG(st));
	printf("%s: the child: %s\n", scen, msg);
	if (strcmp(msg, "ok"))
		failures++;
}

/* Fork with p[0, len) written with seed 1.  The child waits for a byte on
 * the pipe (EOF: the parent died, it leaves too), checks it still sees
 * `child_sees` (1, or 0 for zero), writes seed 3 everywhere, checks. */
static pid_t fork_waiting(char *p, size_t len, int child_sees, int *go)
{
	int fds[2];
	if (pipe(fds) < 0)
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(fds[1]);
		char c;
		if (read(fds[0], &c, 1) != 1)
			_exit(4);
		if (!(child_sees ? holds(p, 0, len, 1) : zero(p, 0, len)))
			_exit(5);
		fprintf(stderr, "note: %s: the child writes\n", scen);
		put(p, 0, len, 3);
		_exit(holds(p, 0, len, 3) ? 0 : 6);
	}
	close(fds[0]);
	*go = fds[1];
	return pid;
}

static void child_runs(pid_t pid, int go)
{
	int st;
	if (write(go, "g", 1) != 1)
		die("write to the child");
	close(go);
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	report_child(st);
}

static void fork_then_fill(char *p, size_t len, int child_first)
{
	put(p, 0, len, 1);
	note_backed(p);
	int go;
	pid_t pid = fork_waiting(p, len, 1, &go);
	fill_disk();
	if (child_first)
		child_runs(pid, go);
	check("the parent's block kept its data", holds(p, 0, len, 1));
	rewrite("the parent's block", p, len, 2);
	if (!child_first)
		child_runs(pid, go);
	check("the child's writes stayed in the child", holds(p, 0, len, 2));
}

static void s_fork_malloc(void)
{
	fork_then_fill(take(64 * MiB), 64 * MiB, 0);
}

static void s_fork_mmap(void)
{
	fork_then_fill(map(64 * MiB), 64 * MiB, 0);
}

static void s_fork_malloc_child(void)
{
	fork_then_fill(take(16 * MiB), 16 * MiB, 1);
}

static void s_fork_mmap_child(void)
{
	fork_then_fill(map(16 * MiB), 16 * MiB, 1);
}

/* After the fork the parent drops its pages and writes again. */
static void s_fork_dontneed(void)
{
	size_t n = 16 * MiB;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	int go;
	pid_t pid = fork_waiting(p, n, 1, &go);
	check("madvise(DONTNEED) succeeds", madvise(p, n, MADV_DONTNEED) == 0);
	check("the advised range reads zero", zero(p, 0, n));
	fill_disk();
	rewrite("the parent's region", p, n, 2);
	child_runs(pid, go);
}

/* MADV_WIPEONFORK: the child's copy reads zero, then the child writes. */
static void s_wipeonfork(void)
{
	size_t n = 16 * MiB;
	char *p = map(n);
	check("madvise(WIPEONFORK) succeeds", madvise(p, n, MADV_WIPEONFORK) == 0);
	put(p, 0, n, 1);
	note_backed(p);
	int go;
	pid_t pid = fork_waiting(p, n, 0, &go);
	fill_disk();
	child_runs(pid, go);
	check("the parent's region kept its data", holds(p, 0, n, 1));
	rewrite("the parent's region", p, n, 2);
}

/* realloc in the parent while a child shares the block. */
static void s_fork_realloc(void)
{
	size_t n = 16 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	int go;
	pid_t pid = fork_waiting(p, n, 1, &go);
	fill_disk();
	char *q = realloc(p, 3 * n);
	check("realloc grows the block", q != NULL);
	if (!q)
		die("realloc");
	check("the block kept its data", holds(q, 0, n, 1));
	rewrite("the grown block", q, 3 * n, 2);
	child_runs(pid, go);
}

/* ---- 7: growth on a full disk ---- */

static void s_realloc_grow(void)
{
	size_t n = 16 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	fill_disk();
	char *q = realloc(p, 3 * n);
	check("realloc grows the block", q != NULL);
	if (!q)
		return;
	check("the block kept its data", holds(q, 0, n, 1));
	rewrite("the grown block", q, 3 * n, 2);
}

static void s_mremap_grow(void)
{
	size_t n = 16 * MiB;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	fill_disk();
	char *q = mremap(p, n, 3 * n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the region kept its data, the new part reads zero",
	      holds(q, 0, n, 1) && zero(q, n, 3 * n));
	rewrite("the grown region", q, 3 * n, 2);
}

/* A DONTNEED hole in the first half, then growth on a full disk. */
static void s_realloc_punched(void)
{
	size_t n = 16 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	size_t hole = (page - ((uintptr_t)p & (page - 1))) & (page - 1), hole_end = hole + 8 * MiB;
	madvise(p + hole, 8 * MiB, MADV_DONTNEED);
	fill_disk();
	char *q = realloc(p, 3 * n);
	check("realloc grows the block", q != NULL);
	if (!q)
		return;
	check("the block kept its data, the hole reads zero",
	      zero(q, hole, hole_end) && holds(q, hole_end, n, 1));
	rewrite("the grown block", q, 3 * n, 2);
}

static void s_mremap_punched(void)
{
	size_t n = 16 * MiB;
	char *p = map(n);
	put(p, 0, n, 1);
	note_backed(p);
	madvise(p, 8 * MiB, MADV_DONTNEED);
	fill_disk();
	char *q = mremap(p, n, 3 * n, MREMAP_MAYMOVE);
	check("mremap grows the region", q != MAP_FAILED);
	if (q == MAP_FAILED)
		return;
	check("the region kept its data, the hole reads zero",
	      zero(q, 0, 8 * MiB) && holds(q, 8 * MiB, n, 1) && zero(q, n, 3 * n));
	rewrite("the grown region", q, 3 * n, 2);
}

/* Shrink (the shim truncates its file), fill, grow back. */
static void s_realloc_shrink_grow(void)
{
	size_t n = 32 * MiB;
	char *p = take(n);
	put(p, 0, n, 1);
	note_backed(p);
	char *q = realloc(p, 4 * MiB);
	check("realloc shrinks the block", q != NULL);
	if (!q)
		return;
	fill_disk();
	char *r = realloc(q, n);
	check("realloc grows the block", r != NULL);
	if (!r)
		return;
	check("the block kept its data", holds(r, 0, 4 * MiB, 1));
	rewrite("the grown block", r, n, 2);
}

static const struct {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{"dontneed", s_dontneed},
	{"free", s_free},
	{"dontneed-locked", s_dontneed_locked},
	{"dontneed-part", s_dontneed_part},
	{"mmap-dontneed", s_mmap_dontneed},
	{"mmap-free", s_mmap_free},
	{"mmap-dontneed-part", s_mmap_dontneed_part},
	{"remove", s_remove},
	{"mmap-remove", s_mmap_remove},
	{"cache", s_cache},
	{"cache-calloc", s_cache_calloc},
	{"munmap-tail-regrow", s_munmap_tail_regrow},
	{"munmap-fill-regrow", s_munmap_fill_regrow},
	{"munmap-head-regrow", s_munmap_head_regrow},
	{"munmap-middle-regrow", s_munmap_middle_regrow},
	{"mremap-shrink-grow", s_mremap_shrink_grow},
	{"mremap-copy", s_mremap_copy},
	{"fork-malloc", s_fork_malloc},
	{"fork-mmap", s_fork_mmap},
	{"fork-malloc-child", s_fork_malloc_child},
	{"fork-mmap-child", s_fork_mmap_child},
	{"fork-dontneed", s_fork_dontneed},
	{"wipeonfork", s_wipeonfork},
	{"fork-realloc", s_fork_realloc},
	{"realloc-grow", s_realloc_grow},
	{"mremap-grow", s_mremap_grow},
	{"realloc-punched", s_realloc_punched},
	{"mremap-punched", s_mremap_punched},
	{"realloc-shrink-grow", s_realloc_shrink_grow},
};

int main(int argc, char **argv)
{
	size_t ns = sizeof scenarios / sizeof scenarios[0];
	if (argc == 2 && !strcmp(argv[1], "-l")) {
		for (size_t i = 0; i < ns; i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	if (argc != 4 || (strcmp(argv[2], "file") && strcmp(argv[2], "malloc"))) {
		fprintf(stderr, "usage: diskfill DIR file|malloc SCENARIO (-l lists them)\n");
		return 2;
	}
	dir = argv[1];
	fill_by_malloc = !strcmp(argv[2], "malloc");
	scen = argv[3];
	page = (size_t)sysconf(_SC_PAGESIZE);
	/* Line by line, so that what came before a SIGBUS is kept. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(cleanup);
	for (size_t i = 0; i < ns; i++)
		if (!strcmp(scen, scenarios[i].name)) {
			scenarios[i].fn();
			printf("%s: %s\n", scen, failures ? "FAILED" : "ok");
			return failures ? 1 : 0;
		}
	fprintf(stderr, "diskfill: unknown scenario %s\n", scen);
	return 2;
}
