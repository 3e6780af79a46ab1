/* oomshield-status - what liboomshield.so holds in a running process.
 *
 *   oomshield-status PID
 *
 * Reads only /proc (and statvfs of the backing directory); the process is
 * never signalled, traced or asked anything.  How shim memory is
 * recognised, from what the kernel shows alone:
 *   - the process maps a file named liboomshield.so (else: not protected);
 *   - a backing region is a shared ('s') mapping of an unlinked file whose
 *     name is an O_TMPFILE "#<inode>" or a fallback ".oomshield.XXXXXX",
 *     shown as "<dir>/<name> (deleted)", in the process's OOMSHIELD_DIR
 *     (from /proc/PID/environ, default /var/tmp) or, if that cannot be read,
 *     in any directory (the same directory: compared by device and inode,
 *     so a symlinked or non-canonical OOMSHIELD_DIR matches the kernel's
 *     canonical path);
 *   - the DefragTick thread is the task whose comm is "oomshield-dfrag"
 *     (shim/defrag.h; a thread name holds 15 characters at most).
 * A process with the library but no region may have the shim switched off
 * (OOMSHIELD_DISABLE, OOMSHIELD_ONLY, a directory in RAM): that is reported
 * as inactive, judged as shim/config.c does, from /proc/PID/environ.
 * Exit: 0 shown, 1 no such process / not protected or inactive / not
 * readable, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../shim/names.h"

#ifndef OMS_VERSION
#define OMS_VERSION "unknown"
#endif

static const char *prog = "oomshield-status";

/* Copy a string, truncated to cap - 1 bytes (no format-truncation noise). */
static void scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

struct file_id {
	unsigned long long dev_major, dev_minor, ino;
};

/* Where the process's RAM and swap go that the shim does not hold: the
 * anonymous pages (resident: "Anonymous:", out: "Swap:") of each kind of
 * mapping.  Page cache of ordinary files is left out: the kernel can drop
 * it, it is no OOM risk. */
enum { UN_HEAP, UN_ANON, UN_STACK, UN_DATA, UN_FORK, UN_KINDS };
static const char *const un_name[UN_KINDS] = {
	"brk heap", "anonymous mappings", "stacks", "program and library data",
	"copied at a fork"};

struct totals {
	int regions, files;
	uint64_t size_kb, rss_kb, dirty_kb;
	uint64_t un_kb[UN_KINDS]; /* not protected, in RAM or swap */
	uint64_t reserved_kb;     /* PROT_NONE address space: costs nothing yet */
	int jemalloc;
	struct file_id ids[4096];
	char dir[4096];           /* directory of the first region seen */
	char lib[4096];
};

static void human(uint64_t bytes, char *out, size_t cap)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%" PRIu64 " B", bytes);
	else
		snprintf(out, cap, "%.1f %s", v, unit[u]);
}

/* Variable `name` from /proc/PID/environ: 1 found, 0 absent, -1 unreadable. */
static int env_get(const char *pid, const char *name, char *out, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%s/environ", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char key[64];
	snprintf(key, sizeof key, "%s=", name);
	size_t klen = strlen(key);
	char buf[8192];
	size_t n = 0;
	int c, found = 0, clipped = 0;
	while ((c = getc(f)) != EOF) {
		if (c != 0) {
			if (n + 1 < sizeof buf)
				buf[n++] = (char)c;
			else
				clipped = 1;
			continue;
		}
		buf[n] = 0;
		if (!clipped && !strncmp(buf, key, klen)) {
			/* A value longer than our buffer is treated as unknown. */
			found = snprintf(out, cap, "%s", buf + klen) < (int)cap;
		}
		n = 0;
		clipped = 0;
	}
	int err = ferror(f);
	fclose(f);
	return err ? -1 : found;
}

/* A backing file name: "#<digits>" (O_TMPFILE) or ".oomshield.*". */
static int backing_name(const char *base)
{
	if (base[0] == '#' && base[1]) {
		for (const char *p = base + 1; *p; p++)
			if (*p < '0' || *p > '9')
				return 0;
		return 1;
	}
	return strncmp(base, ".oomshield.", 11) == 0;
}

/* The backing directory to match regions against.  The kernel shows the
 * canonical path, OOMSHIELD_DIR may be any path to it (a symlink, "//",
 * a trailing "/"): the same directory is the same device and inode. */
struct dir_id {
	const char *name;     /* as configured; NULL: any directory */
	int have_id;          /* stat worked: compare dev/ino, not names */
	dev_t dev;
	ino_t ino;
	char last[4096];      /* memo of the last mapping directory seen */
	int last_match;
};

static int same_dir(struct dir_id *w, const char *d)
{
	if (!w->name)
		return 1;
	if (!strcmp(d, w->last))
		return w->last_match;
	int match;
	struct stat st;
	if (w->have_id) {
		match = stat(d, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino;
	} else {
		/* The directory is gone or hidden from us: names are all we have. */
		size_t n = strlen(w->name);
		while (n > 1 && w->name[n - 1] == '/')
			n--;
		match = strlen(d) == n && !strncmp(d, w->name, n);
	}
	scopy(w->last, sizeof w->last, d);
	w->last_match = match;
	return match;
}

/* Is this maps/smaps header one of our regions? */
static int is_backing(const char *perms, const char *path, struct dir_id *dir, char *dirout,
		      size_t dircap)
{
	static const char deleted[] = " (deleted)";
	size_t len = strlen(path), dl = sizeof deleted - 1;
	if (perms[3] != 's' || path[0] != '/' || len <= dl || strcmp(path + len - dl, deleted))
		return 0;
	char name[4096];
	snprintf(name, sizeof name, "%.*s", (int)(len - dl), path);
	char *slash = strrchr(name, '/');
	if (!slash || !backing_name(slash + 1))
		return 0;
	*slash = 0;
	const char *d = *name ? name : "/";
	if (!same_dir(dir, d))
		return 0;
	scopy(dirout, dircap, d);
	return 1;
}

static int scan_smaps(const char *pid, struct dir_id *dir, struct totals *t)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%s/smaps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	int in = 0;   /* the current region is ours */
	int kind = UN_ANON; /* where its anonymous pages count when not ours */
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		unsigned long long lo, hi, off, maj, min, ino;
		char perms[8];
		int pos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %llx:%llx %llu %n", &lo, &hi, perms, &off, &maj,
			   &min, &ino, &pos) >= 7 && pos > 0) {
			const char *p = line + pos;
			size_t pl = strlen(p);
			/* " (deleted)": the library was reinstalled or rebuilt
			 * while the process ran; it is still the shim in it. */
			size_t ll = pl;
			if (ll > 10 && !strcmp(p + ll - 10, " (deleted)"))
				ll -= 10;
			if (ll >= 16 && !strncmp(p + ll - 16, "/liboomshield.so", 16) && !t->lib[0])
				scopy(t->lib, sizeof t->lib, p);
			if (strstr(p, "/libjemalloc.so"))
				t->jemalloc = 1;
			char d[4096];
			in = is_backing(perms, p, dir, d, sizeof d);
			/* A private view of one of our files: frozen at a fork
			 * (shim/region_fork.c); its copied pages are anonymous. */
			char shared[8];
			scopy(shared, sizeof shared, perms);
			shared[3] = 's';
			kind = !in && perms[3] == 'p' && is_backing(shared, p, dir, d, sizeof d) ? UN_FORK
			     : !strcmp(p, "[heap]") ? UN_HEAP
			     : !strncmp(p, "[stack", 6) ? UN_STACK
			     : p[0] == '/' ? UN_DATA : UN_ANON;
			if (!strcmp(perms, "---p") && !p[0])
				t->reserved_kb += (hi - lo) >> 10;
			if (!in)
				continue;
			if (!t->dir[0])
				scopy(t->dir, sizeof t->dir, d);
			t->regions++;
			int seen = 0;
			for (int i = 0; i < t->files && !seen; i++)
				seen = t->ids[i].ino == ino && t->ids[i].dev_major == maj &&
				       t->ids[i].dev_minor == min;
			if (!seen && t->files < (int)(sizeof t->ids / sizeof t->ids[0]))
				t->ids[t->files++] = (struct file_id){maj, min, ino};
			continue;
		}
		unsigned long long kb;
		/* Our shared views have no anonymous pages; their swap
		 * (a tmpfs backing directory) is the file's, not the program's. */
		if (!in && (sscanf(line, "Anonymous: %llu kB", &kb) == 1 ||
			    sscanf(line, "Swap: %llu kB", &kb) == 1))
			t->un_kb[kind] += kb;
		if (!in)
			continue;
		if (sscanf(line, "Size: %llu kB", &kb) == 1)
			t->size_kb += kb;
		else if (sscanf(line, "Rss: %llu kB", &kb) == 1)
			t->rss_kb += kb;
		else if (sscanf(line, "Shared_Dirty: %llu kB", &kb) == 1 ||
			 sscanf(line, "Private_Dirty: %llu kB", &kb) == 1)
			t->dirty_kb += kb;
	}
	free(line);
	fclose(f);
	return 0;
}

/* Tid of the DefragTick thread, 0 if none. */
static long defrag_tid(const char *pid)
{
	char path[300];
	snprintf(path, sizeof path, "/proc/%s/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	long tid = 0;
	while (!tid && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char comm[64] = "";
		if (snprintf(path, sizeof path, "/proc/%s/task/%s/comm", pid, e->d_name) >=
		    (int)sizeof path)
			continue;
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof comm, f) && !strcmp(comm, "oomshield-dfrag\n"))
			tid = strtol(e->d_name, NULL, 10);
		fclose(f);
	}
	closedir(d);
	return tid;
}

/* Why the shim in PID, with no region, is switched off (the reasons of
 * shim/config.c), into `why`; 0 if it seems active. */
static int inactive_reason(const char *pid, const char *dir, char *why, size_t cap)
{
	char v[4096];
	if (env_get(pid, "OOMSHIELD_DISABLE", v, sizeof v) > 0 && oms_switch_value(v) == 1) {
		snprintf(why, cap, "OOMSHIELD_DISABLE=%s", v);
		return 1;
	}
	if (env_get(pid, "OOMSHIELD_ONLY", v, sizeof v) > 0 && *v) {
		/* The shim matches the executed path or argv[0]; /proc shows the
		 * executable and the argv[0] it still has. */
		char path[64], exe[4096] = "", argv0[4096] = "";
		snprintf(path, sizeof path, "/proc/%s/exe", pid);
		ssize_t n = readlink(path, exe, sizeof exe - 1);
		exe[n > 0 ? n : 0] = 0;
		snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
		FILE *f = fopen(path, "re");
		if (f) {
			size_t m = fread(argv0, 1, sizeof argv0 - 1, f);
			argv0[m] = 0;
			fclose(f);
		}
		const char *name = oms_base_name(exe[0] ? exe : argv0);
		if (*name && !oms_list_has(v, oms_base_name(exe)) &&
		    !oms_list_has(v, oms_base_name(argv0))) {
			snprintf(why, cap, "OOMSHIELD_ONLY=%s does not name %s", v, name);
			return 1;
		}
	}
	struct statfs sf;
	if (statfs(dir, &sf) == 0) {
		if ((unsigned long)sf.f_type == TMPFS_MAGIC || (unsigned long)sf.f_type == RAMFS_MAGIC) {
			snprintf(why, cap, "backing directory %s is on %s, which is RAM", dir,
				 (unsigned long)sf.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
			return 1;
		}
	} else if (errno == ENOENT || errno == ENOTDIR) {
		snprintf(why, cap, "backing directory %s does not exist", dir);
		return 1;
	}
	return 0;
}

/* How much of what the process holds in RAM and swap is in our files, what
 * the rest is, and what would cover the largest part. */
static void coverage(const struct totals *t)
{
	uint64_t un = 0;
	for (int k = 0; k < UN_KINDS; k++)
		un += t->un_kb[k];
	uint64_t ours = t->rss_kb; /* our shared views: file pages only */
	char h1[32], h2[32], part[UN_KINDS][64];
	human((ours + un) * 1024, h1, sizeof h1);
	human(ours * 1024, h2, sizeof h2);
	unsigned pct = ours + un ? (unsigned)(ours * 100 / (ours + un)) : 100;
	printf("  coverage            %u%% of the %s it holds in RAM and swap is protected (%s)\n",
	       pct, h1, h2);
	int big = -1, n = 0;
	printf("  not protected      ");
	for (int k = 0; k < UN_KINDS; k++) {
		if (!t->un_kb[k])
			continue;
		human(t->un_kb[k] * 1024, part[k], sizeof part[k]);
		printf("%s %s %s", n++ ? "," : "", un_name[k], part[k]);
		if (big < 0 || t->un_kb[k] > t->un_kb[big])
			big = k;
	}
	printf("%s\n", n ? "" : " nothing");
	if (t->reserved_kb >= 1024) { /* not a thread stack's guard page */
		human(t->reserved_kb * 1024, h1, sizeof h1);
		printf("  reserved, unused    %s of address space (PROT_NONE: no RAM, no disk)\n", h1);
	}
	/* A hint only when the rest is worth one: a quarter of the total. */
	if (big < 0 || un * 4 < ours + un)
		return;
	const char *hint = NULL;
	if ((big == UN_HEAP || big == UN_ANON) && !t->jemalloc)
		hint = "small objects from malloc stay in RAM: run with --heap to put the whole heap in files";
	else if (big == UN_HEAP || big == UN_ANON)
		hint = "allocations below the threshold, or memory the program maps itself: a lower --threshold covers more";
	else if (big == UN_FORK)
		hint = "pages copied at a fork stay in RAM until the process that shares them exits or execs";
	if (hint)
		printf("  hint                %s\n", hint);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s PID\n"
		"Show what liboomshield.so holds in the running process PID: the file-backed\n"
		"regions and bytes mapped, how much is resident and dirty, the backing\n"
		"directory and its free space, whether the DefragTick thread runs, and the\n"
		"coverage: how much of what the process holds in RAM and swap is in the\n"
		"backing files, and what the rest is.\n"
		"Reads /proc only; the process is not disturbed.\n"
		"\n"
		"  -h, --help     display this help and exit\n"
		"      --version  output version information and exit\n"
		"\n"
		"Exit status: 0 shown, 1 no such process, not protected, or the library\n"
		"loaded but inactive (OOMSHIELD_DISABLE, OOMSHIELD_ONLY, a directory in RAM),\n"
		"2 usage error.\n"
		"Full documentation: man oomshield\n", prog);
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("oomshield-status (oomshield) %s\n", OMS_VERSION);
		return 0;
	}
	int a = argc == 3 && !strcmp(argv[1], "--") ? 2 : 1;
	if (argc != a + 1) {
		fprintf(stderr, "%s: want exactly one PID\nTry '%s --help' for more information.\n",
			prog, prog);
		return 2;
	}
	const char *pid = argv[a];
	char *end;
	errno = 0;
	long v = strtol(pid, &end, 10);
	if (!*pid || *end || v <= 0 || errno) {
		fprintf(stderr, "%s: '%s' is not a process id\n", prog, pid);
		return 2;
	}

	char path[64], comm[64] = "?";
	snprintf(path, sizeof path, "/proc/%ld/comm", v);
	FILE *cf = fopen(path, "re");
	if (!cf) {
		fprintf(stderr, "%s: no process with PID %ld\n", prog, v);
		return 1;
	}
	if (fgets(comm, sizeof comm, cf))
		comm[strcspn(comm, "\n")] = 0;
	fclose(cf);

	char pidstr[32], envdir[4096];
	snprintf(pidstr, sizeof pidstr, "%ld", v);
	int er = env_get(pidstr, "OOMSHIELD_DIR", envdir, sizeof envdir);
	/* The shim ignores a relative OOMSHIELD_DIR, as it does an absent one. */
	if (er == 0 || (er > 0 && envdir[0] != '/'))
		snprintf(envdir, sizeof envdir, "/var/tmp");

	static struct dir_id want;
	struct stat dst;
	if (er >= 0) {
		want.name = envdir;
		if (stat(envdir, &dst) == 0) {
			want.have_id = 1;
			want.dev = dst.st_dev;
			want.ino = dst.st_ino;
		}
	}
	static struct totals t;
	if (scan_smaps(pidstr, &want, &t) < 0) {
		fprintf(stderr, "%s: PID %ld (%s): cannot read /proc/%ld/smaps: %s\n", prog, v, comm,
			v, strerror(errno));
		return 1;
	}
	if (!t.lib[0]) {
		fprintf(stderr, "%s: PID %ld (%s) is not protected: liboomshield.so is not loaded\n",
			prog, v, comm);
		return 1;
	}
	char why[8400];
	if (!t.regions && er >= 0 && inactive_reason(pidstr, envdir, why, sizeof why)) {
		fprintf(stderr, "%s: PID %ld (%s): liboomshield.so loaded but inactive: %s\n", prog, v,
			comm, why);
		return 1;
	}

	const char *dir = t.dir[0] ? t.dir : er >= 0 ? envdir : NULL;
	char h1[32], h2[32], h3[32], h4[32];
	human(t.size_kb * 1024, h1, sizeof h1);
	human(t.rss_kb * 1024, h2, sizeof h2);
	human(t.dirty_kb * 1024, h3, sizeof h3);
	printf("PID %ld (%s): protected by %s\n", v, comm, t.lib);
	if (dir) {
		struct statvfs sv;
		if (statvfs(dir, &sv) == 0) {
			human((uint64_t)sv.f_bavail * sv.f_frsize, h4, sizeof h4);
			printf("  backing directory   %s (%s free)\n", dir, h4);
		} else {
			printf("  backing directory   %s (%s)\n", dir, strerror(errno));
		}
	} else {
		printf("  backing directory   unknown (environment not readable)\n");
	}
	printf("  file-backed regions %d in %d files\n", t.regions, t.files);
	printf("  mapped              %s (%" PRIu64 " bytes)\n", h1, t.size_kb * 1024);
	printf("  resident in RAM     %s\n", h2);
	printf("  dirty               %s\n", h3);
	coverage(&t);
	long tid = defrag_tid(pidstr);
	if (tid)
		printf("  DefragTick thread   running (TID %ld)\n", tid);
	else
		printf("  DefragTick thread   not running\n");
	return 0;
}
